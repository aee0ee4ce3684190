"""Fixtures shared by both tiers."""

from __future__ import annotations

import socket
from pathlib import Path
from typing import Any

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


def pytest_terminal_summary(terminalreporter: Any) -> None:
    """Say loudly when tests that need a broker were skipped, and how to run them."""
    skipped = terminalreporter.stats.get("skipped", [])
    brokers = [
        r for r in skipped if "redis-server" in str(r.longrepr) or "rabbitmq" in str(r.longrepr)
    ]
    if brokers:
        terminalreporter.write_sep("!", "BROKER TESTS SKIPPED", red=True, bold=True)
        terminalreporter.write_line(
            f"{len(brokers)} worker test(s) did not run: redis-server and/or rabbitmq-server "
            "are not installed. `sudo make services` installs them (CI does)."
        )


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Every test under tests/integration needs the real server: mark it, so that
    ``-m "not integration"`` selects exactly the tests that run without one."""
    integration = REPO / "tests" / "integration"
    for item in items:
        if integration in Path(str(item.path)).parents:
            item.add_marker(pytest.mark.integration)
