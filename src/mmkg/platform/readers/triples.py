"""Parsing triple files (TSV, CSV, JSON lines) into ``(head, relation, tail)`` or rejects."""

from __future__ import annotations

import csv
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Literal

from mmkg.errors import IngestError
from mmkg.platform.readers.lines import (
    Reject,
    bad_encoding,
    check_encoding,
    check_field,
    iter_records,
    iter_text_lines,
)

TripleFormat = Literal["tsv", "csv", "jsonl"]
TripleOrder = Literal["hrt", "htr"]
Triple = tuple[str, str, str]
TRIPLE_FORMATS = ("tsv", "csv", "jsonl")
TRIPLE_ORDERS = ("hrt", "htr")

_HEADER_WORDS = {
    "h", "r", "t", "head", "relation", "tail", "subject", "predicate", "object",
    "source", "target", "type", "rel", "head_id", "tail_id",
}  # fmt: skip
_JSON_KEYS = (
    ("head", "h", "subject", "source"),
    ("relation", "r", "predicate", "rel", "type"),
    ("tail", "t", "object", "target"),
)


def _json_fields(text: str) -> list[str] | str:
    try:
        obj = json.loads(text)
    except json.JSONDecodeError as e:
        return f"malformed JSON: {e.msg} at column {e.colno}"
    if isinstance(obj, list):
        return [str(x) if isinstance(x, str | int) else "" for x in obj]
    if not isinstance(obj, dict):
        return "a JSON line must be an object or an array of three strings"
    fields = []
    for names in _JSON_KEYS:
        value = next((obj[k] for k in names if k in obj), None)
        if value is None:
            return f"JSON object lacks a {names[0]!r} key (or one of {', '.join(names[1:])})"
        fields.append(str(value) if isinstance(value, str | int) else "")
    return fields


def _csv_rows(path: Path) -> Iterator[tuple[int, list[str] | str, str] | Reject]:
    """CSV records with the number of the line each starts on; a quoted field may span lines
    (RFC 4180), so records are read by one csv.reader over the whole file."""
    source = str(path)
    bad: list[Reject] = []
    last = [0]

    def lines() -> Iterator[str]:
        for number, text, raw in iter_text_lines(path):
            last[0] = number
            if text is None:
                bad.append(bad_encoding(source, number, raw))
                continue
            yield text + "\n"

    reader = csv.reader(lines())
    while True:
        start = last[0] + 1
        try:
            row = next(reader)
        except StopIteration:
            break
        except csv.Error as e:
            yield from bad
            bad.clear()
            yield Reject(source, start, f"malformed CSV: {e}", "")
            continue
        yield from bad
        bad.clear()
        if row and any(cell.strip() for cell in row):
            yield start, row, ",".join(row)
    yield from bad


def _raw_rows(path: Path, fmt: TripleFormat) -> Iterator[tuple[int, list[str] | str, str] | Reject]:
    if fmt == "csv":
        yield from _csv_rows(path)
        return
    for record in iter_records(path):
        if isinstance(record, Reject):
            yield record
            continue
        number, text = record
        yield number, (text.split("\t") if fmt == "tsv" else _json_fields(text)), text


def read_triples(
    path: Path,
    fmt: TripleFormat = "tsv",
    order: TripleOrder = "hrt",
    max_field_chars: int = 4096,
) -> Iterator[Triple | Reject]:
    """Yield each triple of ``path`` as ``(head, relation, tail)``, or a :class:`Reject`.

    Blank lines are skipped, and so is a first line that names the columns (``head relation
    tail`` and the like). Fields are stripped of surrounding spaces.

    Raises:
        IngestError: an unknown format or order, or a file that is UTF-16 or binary.
    """
    if fmt not in TRIPLE_FORMATS:
        raise IngestError(f"unknown triple format {fmt!r}; use tsv, csv or jsonl")
    if order not in TRIPLE_ORDERS:
        raise IngestError(f"unknown triple order {order!r}; use hrt or htr")
    check_encoding(path)
    source = str(path)
    first = True
    for record in _raw_rows(path, fmt):
        if isinstance(record, Reject):
            yield record
            continue
        number, fields, text = record
        if isinstance(fields, str):
            yield Reject(source, number, fields, text)
            continue
        fields = [f.strip() for f in fields]
        if first and fmt != "jsonl" and all(f.lower() in _HEADER_WORDS for f in fields):
            first = False
            continue
        first = False
        if len(fields) != 3:
            yield Reject(source, number, f"expected 3 fields, found {len(fields)}", text)
            continue
        if order == "hrt":
            head, rel, tail = fields
        else:
            head, tail, rel = fields
        reason = (
            check_field(head, "head id", max_field_chars)
            or check_field(rel, "relation", max_field_chars)
            or check_field(tail, "tail id", max_field_chars)
        )
        if reason:
            yield Reject(source, number, reason, text)
            continue
        yield head, rel, tail
