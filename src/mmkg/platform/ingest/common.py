"""What every loader shares: the summary, rejects and their threshold, batching."""

from __future__ import annotations

import csv
import logging
import re
import time
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import IO, Any, TypeVar

from mmkg.errors import IngestError
from mmkg.platform.readers.lines import Reject

log = logging.getLogger(__name__)

T = TypeVar("T")
_MAX_SHOWN_REJECTS = 10
_THRESHOLD = re.compile(r"\s*(\d+(?:\.\d+)?)\s*(%?)\s*")


@dataclass
class IngestSummary:
    """What a load did. ``*_present`` counts rows that were already in the graph."""

    source: str
    kind: str
    records: int = 0
    entities_created: int = 0
    entities_present: int = 0
    relationships_created: int = 0
    relationships_present: int = 0
    relation_types_created: int = 0
    rejected: int = 0
    rejects_file: str | None = None
    repeated_ids: int = 0
    seconds: float = 0.0
    started: float = field(default_factory=time.perf_counter, repr=False)

    def finish(self) -> IngestSummary:
        self.seconds = round(time.perf_counter() - self.started, 3)
        return self

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data.pop("started")
        return data


@dataclass(frozen=True)
class RejectThreshold:
    """How many rejected records a load tolerates: a count (``"10"``) or a share (``"5%"``).

    ``None`` (the default) tolerates any number short of all of them: a load in which every
    record was rejected loaded nothing and is an error.
    """

    count: int | None = None
    percent: float | None = None

    @classmethod
    def parse(cls, text: str | None) -> RejectThreshold:
        if text is None or not str(text).strip():
            return cls()
        match = _THRESHOLD.fullmatch(str(text))
        if not match:
            raise IngestError(f"--max-rejects must be a count (10) or a share (5%), not {text!r}")
        value, percent = float(match.group(1)), bool(match.group(2))
        if percent:
            if value > 100:
                raise IngestError(f"--max-rejects {text}: a share cannot exceed 100%")
            return cls(percent=value)
        if value != int(value):
            raise IngestError(f"--max-rejects {text}: a count must be a whole number")
        return cls(count=int(value))

    @property
    def explicit(self) -> bool:
        return self.count is not None or self.percent is not None

    def exceeded(self, rejected: int, total: int) -> bool:
        if total == 0:
            return False
        if self.count is not None:
            return rejected > self.count
        if self.percent is not None:
            return 100.0 * rejected / total > self.percent
        return rejected == total

    def describe(self) -> str:
        if self.count is not None:
            return f"at most {self.count} rejected"
        if self.percent is not None:
            return f"at most {self.percent:g}% rejected"
        return "not every record rejected"


def check_threshold(
    threshold: RejectThreshold, rejects: Sequence[Reject], rejected: int, total: int, source: str
) -> None:
    """Raise when a load's rejects pass its threshold, naming the first ones."""
    if not threshold.exceeded(rejected, total):
        return
    shown = "\n".join(f"  {r}" for r in rejects[:_MAX_SHOWN_REJECTS])
    more = f"\n  … and {rejected - len(rejects[:_MAX_SHOWN_REJECTS])} more" if rejected > 10 else ""
    what = (
        f"all {total} records of {source} were rejected"
        if rejected == total
        else f"{rejected} of {total} records of {source} were rejected"
    )
    raise IngestError(
        f"{what} ({threshold.describe()} allowed); nothing was written:\n{shown}{more}"
    )


class RejectLog:
    """Collects rejects and writes them to a TSV file, created only when there is one.

    Rows end in CRLF, so that a cell holding a bare carriage return (like one holding a tab or
    a newline) is quoted and a reject stays one row for a CSV reader.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self.count = 0
        self.first: list[Reject] = []
        self._fh: IO[str] | None = None
        self._writer: Any = None

    def add(self, reject: Reject) -> None:
        self.count += 1
        if len(self.first) < _MAX_SHOWN_REJECTS:
            self.first.append(reject)
        log.debug("rejected %s", reject)
        if self._fh is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._fh = open(self.path, "w", encoding="utf-8", newline="")  # noqa: SIM115
            self._writer = csv.writer(self._fh, delimiter="\t", lineterminator="\r\n")
            self._writer.writerow(["source", reject.unit, "reason", "text"])
        self._writer.writerow([reject.source, reject.line, reject.reason, reject.text[:2000]])

    def close(self) -> None:
        if self._fh is not None:
            self._fh.close()
            self._fh = None

    @property
    def written_to(self) -> str | None:
        return str(self.path) if self.count else None


def strict_failure(rejects: Sequence[Reject], total: int, source: str) -> IngestError:
    shown = "\n".join(f"  {r}" for r in rejects[:_MAX_SHOWN_REJECTS])
    more = f"\n  … and {total - len(rejects[:_MAX_SHOWN_REJECTS])} more" if total > 10 else ""
    return IngestError(
        f"{total} malformed record(s) in {source}; nothing was written (--strict):\n{shown}{more}"
    )


def require_file(path: Path) -> None:
    """Fail early, before any counting or writing, when the input file is not there."""
    if not path.is_file():
        raise IngestError(f"cannot read {path}: no such file")


def batched(items: Sequence[T], size: int) -> Iterator[Sequence[T]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def default_rejects_path(home: Path, source: Path) -> Path:
    stamp = time.strftime("%Y%m%d-%H%M%S")
    return home / "rejects" / f"{source.stem}-{stamp}.rejects.tsv"
