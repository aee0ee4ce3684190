"""Progress bars for long work: quiet when output is not a terminal, or when asked."""

from __future__ import annotations

import sys
from typing import Any

from tqdm import tqdm


def progress(total: int | None, desc: str, unit: str, enabled: bool | None = None) -> tqdm[Any]:
    """A tqdm bar on stderr; ``enabled=None`` shows it only on an interactive terminal."""
    show = sys.stderr.isatty() if enabled is None else enabled
    return tqdm(total=total, desc=desc, unit=unit, disable=not show, unit_scale=True, leave=False)


def count_lines(path: Any) -> int:
    """Number of lines in a file, read in large binary blocks (fast, for progress totals)."""
    n = 0
    with open(path, "rb") as fh:
        while block := fh.read(1 << 20):
            n += block.count(b"\n")
    return n
