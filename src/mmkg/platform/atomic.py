"""Atomic file writes: write to a temporary name beside the target, then rename over it.

A reader (or a crash) never sees a half-written file: the target holds either the old content
or the whole new one. Every file mmkg writes for later reading goes through here.
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt


@contextmanager
def atomic_path(path: Path) -> Iterator[Path]:
    """A temporary path to write; renamed to ``path`` when the block succeeds, removed if not.

    >>> with atomic_path(Path("/tmp/mmkg-doctest.txt")) as tmp:
    ...     _ = tmp.write_text("done")
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        yield tmp
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def write_text(path: Path, text: str) -> None:
    with atomic_path(path) as tmp:
        tmp.write_text(text, encoding="utf-8")


def write_bytes(path: Path, data: bytes) -> None:
    with atomic_path(path) as tmp:
        tmp.write_bytes(data)


def write_json(path: Path, data: Any) -> None:
    """Pretty JSON (UTF-8, non-ASCII kept); values JSON cannot hold are written as strings."""
    write_text(path, json.dumps(data, indent=2, ensure_ascii=False, default=str) + "\n")


def save_npy(path: Path, array: npt.NDArray[Any]) -> None:
    with atomic_path(path) as tmp, tmp.open("wb") as fh:
        np.save(fh, array)


def save_npz(path: Path, **arrays: npt.NDArray[Any]) -> None:
    with atomic_path(path) as tmp, tmp.open("wb") as fh:
        np.savez(fh, **arrays)  # type: ignore[arg-type]


def copy_file(source: Path, target: Path) -> None:
    with atomic_path(target) as tmp:
        shutil.copyfile(source, tmp)
