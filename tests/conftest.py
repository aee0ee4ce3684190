"""Fixtures shared by both tiers."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = REPO.parent / "shared" / "data"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def shared_dataset(name: str) -> Path:
    """The folder of a benchmark dataset in ../shared/data, or skip the test."""
    folder = SHARED_DATA / name
    if not folder.is_dir():
        pytest.skip(f"dataset {name} not present at {folder} (../shared/data is absent here)")
    return folder
