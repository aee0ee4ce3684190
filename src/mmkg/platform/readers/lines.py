"""Lines of a text file, decoded one by one, and the record of a line that could not be used."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from mmkg.errors import IngestError

_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
# Bytes looked at to recognise a file that is not UTF-8 text at all.
_SNIFF = 4096


@dataclass(frozen=True)
class Reject:
    """A malformed input record: where it is, what is wrong, and its text.

    ``unit`` names what ``line`` counts: a line of a text file, or an entry of a JSON
    document (whose entries have no line of their own).
    """

    source: str
    line: int
    reason: str
    text: str = ""
    unit: str = "line"

    def where(self) -> str:
        if self.unit == "line":
            return f"{self.source}:{self.line}"
        return f"{self.source} {self.unit} {self.line}"

    def __str__(self) -> str:
        return f"{self.where()}: {self.reason}"


def check_encoding(path: Path) -> None:
    """Refuse, naming what it is, a file that is UTF-16/UTF-32 or binary instead of UTF-8.

    Line-by-line decoding would reject every line of such a file with a vague "bad encoding";
    saying what the file is tells the user how to fix it.
    """
    try:
        with open(path, "rb") as fh:
            head = fh.read(_SNIFF)
    except OSError as e:
        raise IngestError(f"cannot read {path}: {e.strerror}") from e
    boms = (
        (b"\xff\xfe\x00\x00", "UTF-32 (little-endian byte-order mark)"),
        (b"\x00\x00\xfe\xff", "UTF-32 (big-endian byte-order mark)"),
        (b"\xff\xfe", "UTF-16 (little-endian byte-order mark FF FE)"),
        (b"\xfe\xff", "UTF-16 (big-endian byte-order mark FE FF)"),
    )
    for bom, what in boms:
        if head.startswith(bom):
            raise IngestError(
                f"{path} is {what}, not UTF-8; convert it first, e.g. "
                f"`iconv -f {what.split()[0]} -t UTF-8 {path.name} > {path.stem}.utf8{path.suffix}`"
            )
    if not head:
        return
    zeros = head.count(0)
    if not zeros:
        return
    # ASCII text in UTF-16 has a zero in every other byte, on one side.
    lopsided = max(head[0::2].count(0), head[1::2].count(0))
    if lopsided >= 0.4 * (len(head) / 2):
        raise IngestError(
            f"{path} looks like UTF-16 without a byte-order mark (every other byte is zero), "
            "not UTF-8; convert it first with iconv"
        )
    raise IngestError(
        f"{path} is binary data (NUL bytes in its first {len(head)} bytes), not a text file"
    )


def iter_text_lines(path: Path) -> Iterator[tuple[int, str | None, bytes]]:
    """Yield ``(line_number, text, raw)`` for each line; ``text`` is None when not UTF-8.

    Lines are decoded one by one so that one bad byte rejects one line, not the file. A UTF-8
    byte-order mark on the first line is dropped.
    """
    try:
        fh = open(path, "rb")  # noqa: SIM115
    except OSError as e:
        raise IngestError(f"cannot read {path}: {e.strerror}") from e
    with fh:
        for number, raw in enumerate(fh, start=1):
            stripped = raw.rstrip(b"\r\n")
            if number == 1 and stripped.startswith(b"\xef\xbb\xbf"):
                stripped = stripped[3:]
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
