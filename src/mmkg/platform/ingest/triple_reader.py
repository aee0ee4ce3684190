"""Parsing triple files (TSV, CSV, JSON lines) into ``(head, relation, tail)`` or rejects."""

from __future__ import annotations

import csv
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Literal

from mmkg.errors import IngestError
from mmkg.platform.ingest.common import Reject, check_field, iter_records

TripleFormat = Literal["tsv", "csv", "jsonl"]
TripleOrder = Literal["hrt", "htr"]
Triple = tuple[str, str, str]

_HEADER_WORDS = {
    "h", "r", "t", "head", "relation", "tail", "subject", "predicate", "object",
    "source", "target", "type", "rel", "head_id", "tail_id",
}  # fmt: skip
_JSON_KEYS = (
    ("head", "h", "subject", "source"),
    ("relation", "r", "predicate", "rel", "type"),
    ("tail", "t", "object", "target"),
)


def _fields_of_line(text: str, fmt: TripleFormat) -> list[str] | str:
    """The raw fields of one line in (file) order, or the reason they cannot be read."""
    if fmt == "tsv":
        return text.split("\t")
    if fmt == "csv":
        try:
            rows = list(csv.reader([text]))
        except csv.Error as e:
            return f"malformed CSV: {e}"
        return rows[0] if rows else []
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


def read_triples(
    path: Path,
    fmt: TripleFormat = "tsv",
    order: TripleOrder = "hrt",
    max_field_chars: int = 4096,
) -> Iterator[Triple | Reject]:
    """Yield each triple of ``path`` as ``(head, relation, tail)``, or a :class:`Reject`.

    Blank lines are skipped, and so is a first line that names the columns (``head relation
    tail`` and the like). Fields are stripped of surrounding spaces.
    """
    if fmt not in ("tsv", "csv", "jsonl"):
        raise IngestError(f"unknown triple format {fmt!r}; use tsv, csv or jsonl")
    if order not in ("hrt", "htr"):
        raise IngestError(f"unknown triple order {order!r}; use hrt or htr")
    source = str(path)
    first = True
    for record in iter_records(path):
        if isinstance(record, Reject):
            yield record
            continue
        number, text = record
        fields = _fields_of_line(text, fmt)
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
