"""Interaction logs: who interacted with which item, how much, and when.

One interaction per line: ``user, item[, weight[, timestamp]]``, comma- or tab-separated (the
first line decides), with or without a header naming the columns. MovieLens' ``u.data``
(``user<TAB>item<TAB>rating<TAB>unix time``, no header) reads as it is. Weights default to 1;
timestamps are Unix seconds or ISO 8601 dates (kept as Unix seconds), and default to the line
number, so "last" still means something for a log without times.
"""

from __future__ import annotations

import csv
import math
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from mmkg.platform.readers.lines import Reject, check_encoding, check_field, iter_records

MAX_FIELD = 1000
_HEADERS = {
    "user": ("user", "user_id", "userid", "uid"),
    "item": ("item", "item_id", "itemid", "movie_id", "movieid", "entity", "iid"),
    "weight": ("weight", "rating", "score", "count"),
    "at": ("timestamp", "time", "at", "date", "ts"),
}


@dataclass(frozen=True)
class Interaction:
    line: int
    user: str
    item: str
    weight: float
    at: float


def _columns(fields: list[str]) -> dict[str, int] | None:
    """Column positions when ``fields`` is a header, else None."""
    names = [f.strip().lower() for f in fields]
    found = {}
    for key, options in _HEADERS.items():
        for i, n in enumerate(names):
            if n in options:
                found[key] = i
                break
    return found if {"user", "item"} <= found.keys() else None


def _get(fields: list[str], columns: dict[str, int], key: str) -> str | None:
    i = columns.get(key)
    return fields[i].strip() if i is not None and i < len(fields) else None


def _timestamp(text: str) -> float | None:
    try:
        value = float(text)
    except ValueError:
        try:
            parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
        except ValueError:
            return None
        if parsed.tzinfo is None:
            parsed = parsed.replace(tzinfo=UTC)
        return parsed.timestamp()
    return value if math.isfinite(value) else None


def read_interactions(path: Path) -> Iterator[Interaction | Reject]:
    """Interactions in file order; a malformed line as a Reject naming file:line."""
    check_encoding(path)
    source = str(path)
    delimiter: str | None = None
    columns: dict[str, int] | None = None
    for item in iter_records(path):
        if isinstance(item, Reject):
            yield item
            continue
        number, text = item
        if text.lstrip().startswith("#"):
            continue
        if delimiter is None:
            delimiter = "\t" if "\t" in text else ","
            fields = next(csv.reader([text], delimiter=delimiter))
            columns = _columns(fields)
            if columns is not None:
                continue  # the header
            columns = {"user": 0, "item": 1, "weight": 2, "at": 3}
        assert columns is not None
        fields = next(csv.reader([text], delimiter=delimiter))

        user, entity = _get(fields, columns, "user") or "", _get(fields, columns, "item") or ""
        reason = check_field(user, "user", MAX_FIELD) or check_field(entity, "item", MAX_FIELD)
        weight_text, at_text = _get(fields, columns, "weight"), _get(fields, columns, "at")
        weight = 1.0
        if reason is None and weight_text:
            try:
                weight = float(weight_text)
            except ValueError:
                reason = f"weight {weight_text!r} is not a number"
            else:
                if not math.isfinite(weight):
                    reason = f"weight {weight_text!r} is not finite"
        at = float(number)
        if reason is None and at_text:
            parsed = _timestamp(at_text)
            if parsed is None:
                reason = f"timestamp {at_text!r} is neither Unix seconds nor an ISO 8601 date"
            else:
                at = parsed
        if reason is not None:
            yield Reject(source, number, reason, text)
            continue
        yield Interaction(number, user, entity, weight, at)
