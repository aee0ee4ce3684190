"""What every loader shares: line decoding, rejects, the summary, batching."""

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

log = logging.getLogger(__name__)

T = TypeVar("T")
_MAX_SHOWN_REJECTS = 10
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


@dataclass(frozen=True)
class Reject:
    """A malformed input record: where it is, what is wrong, and its text."""

    source: str
    line: int
    reason: str
    text: str = ""

    def where(self) -> str:
        return f"{self.source}:{self.line}"

    def __str__(self) -> str:
        return f"{self.where()}: {self.reason}"


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
    seconds: float = 0.0
    started: float = field(default_factory=time.perf_counter, repr=False)

    def finish(self) -> IngestSummary:
        self.seconds = round(time.perf_counter() - self.started, 3)
        return self

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data.pop("started")
        return data


class RejectLog:
    """Collects rejects and writes them to a TSV file, created only when there is one."""

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
            self._writer = csv.writer(self._fh, delimiter="\t", lineterminator="\n")
            self._writer.writerow(["source", "line", "reason", "text"])
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


def iter_text_lines(path: Path) -> Iterator[tuple[int, str | None, bytes]]:
    """Yield ``(line_number, text, raw)`` for each line; ``text`` is None when not UTF-8.

    Lines are decoded one by one so that one bad byte rejects one line, not the file.
    """
    try:
        fh = open(path, "rb")  # noqa: SIM115
    except OSError as e:
        raise IngestError(f"cannot read {path}: {e.strerror}") from e
    with fh:
        for number, raw in enumerate(fh, start=1):
            stripped = raw.rstrip(b"\r\n")
            if number == 1 and stripped.startswith(b"\xef\xbb\xbf"):
                stripped = stripped[3:]  # a UTF-8 byte-order mark
            try:
                yield number, stripped.decode("utf-8"), stripped
            except UnicodeDecodeError:
                yield number, None, stripped


def iter_records(path: Path) -> Iterator[tuple[int, str] | Reject]:
    """Non-blank lines as ``(line_number, text)``; a line that is not UTF-8 as a Reject."""
    source = str(path)
    for number, text, raw in iter_text_lines(path):
        if text is None:
            yield bad_encoding(source, number, raw)
        elif text.strip():
            yield number, text


def bad_encoding(source: str, number: int, raw: bytes) -> Reject:
    try:
        raw.decode("utf-8")
        position = -1
    except UnicodeDecodeError as e:
        position = e.start
    return Reject(
        source, number, f"bad encoding: not UTF-8 (byte {position})", raw.decode("utf-8", "replace")
    )


def check_field(value: str, what: str, limit: int) -> str | None:
    """The reason a field is unusable, or None when it is fine."""
    if not value:
        return f"empty {what}"
    if len(value) > limit:
        return f"{what} too long ({len(value)} characters, limit {limit})"
    if _CONTROL.search(value):
        return f"{what} contains a control character"
    return None


def batched(items: Sequence[T], size: int) -> Iterator[Sequence[T]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def default_rejects_path(home: Path, source: Path) -> Path:
    stamp = time.strftime("%Y%m%d-%H%M%S")
    return home / "rejects" / f"{source.stem}-{stamp}.rejects.tsv"
