"""Reading entity names, descriptions and aliases (the text of the graph).

Formats:
    tsv: ``id<TAB>name[<TAB>description[<TAB>aliases]]``, aliases separated by ``|``; an
        optional header line starting with ``id``. With ``name_sep``, the second column is
        split at its first ``name_sep`` into name and description (WN18RR's
        ``lemma, gloss``).
    jsonl: one object a line with ``id`` and any of ``name``/``label``, ``description``,
        ``aliases``/``alternatives`` (a list or a ``|``-separated string).
    json: one object mapping ids to such objects (FB15k-237's ``entity2wikidata.json``);
        its rejects are numbered by entry, since entries have no line of their own.

An id given more than once is merged field by field (:func:`merge_rows`): a later non-empty
value replaces an earlier one, and a later empty or missing field keeps what came before. A
file loaded whole and the same rows loaded as two files give the same entities.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any, Literal

from mmkg.errors import IngestError
from mmkg.platform.readers.lines import Reject, check_encoding, check_field, iter_records

EntityFormat = Literal["tsv", "jsonl", "json"]
ENTITY_FORMATS = ("tsv", "jsonl", "json")
EntityRow = dict[str, Any]
FIELDS = ("name", "description", "aliases")


def guess_entity_format(path: Path) -> EntityFormat:
    suffix = path.suffix.lower()
    if suffix == ".json":
        return "json"
    if suffix in (".jsonl", ".ndjson"):
        return "jsonl"
    return "tsv"


def _aliases(value: Any) -> list[str] | str | None:
    if value is None:
        return None
    if isinstance(value, str):
        items = value.split("|")
    elif isinstance(value, list) and all(isinstance(v, str) for v in value):
        items = value
    else:
        return "aliases must be a list of strings or a '|'-separated string"
    cleaned = [a.strip() for a in items if a.strip()]
    return cleaned or None


class EntityLimits:
    """The longest id/name/alias and description an entity row may have."""

    def __init__(self, max_field_chars: int = 4096, max_text_chars: int = 100_000) -> None:
        self.field = max_field_chars
        self.text = max_text_chars


def _row_from_object(obj: Any, entity_id: Any, limits: EntityLimits) -> EntityRow | str:
    """An entity row from a JSON object, or the reason it is unusable."""
    if not isinstance(obj, dict):
        return "entity record must be a JSON object"
    if not isinstance(entity_id, str):
        return "id must be a string"
    name = obj.get("name", obj.get("label"))
    description = obj.get("description")
    aliases = _aliases(obj.get("aliases", obj.get("alternatives")))
    if isinstance(aliases, str):
        return aliases
    for what, value in (("name", name), ("description", description)):
        if value is not None and not isinstance(value, str):
            return f"{what} must be a string"
    return _checked_row(entity_id.strip(), name, description, aliases, limits)


def _checked_row(
    entity_id: str,
    name: str | None,
    description: str | None,
    aliases: list[str] | None,
    limits: EntityLimits,
) -> EntityRow | str:
    reason = check_field(entity_id, "id", limits.field)
    if reason:
        return reason
    name = name.strip() or None if name else None
    description = description.strip() or None if description else None
    if name and len(name) > limits.field:
        return f"name too long ({len(name)} characters, limit {limits.field})"
    if description and len(description) > limits.text:
        return f"description too long ({len(description)} characters, limit {limits.text})"
    if aliases and any(len(a) > limits.field for a in aliases):
        return f"an alias is longer than {limits.field} characters"
    return {"id": entity_id, "name": name, "description": description, "aliases": aliases}


def _tsv_row(text: str, name_sep: str | None, limits: EntityLimits) -> EntityRow | str:
    fields = text.split("\t")
    if len(fields) > 4:
        return f"expected 2 to 4 fields (id, name, description, aliases), found {len(fields)}"
    if len(fields) < 2:
        return "expected at least 2 fields (id, name), found 1"
    entity_id, name = fields[0].strip(), fields[1]
    description = fields[2] if len(fields) > 2 else None
    if name_sep and description is None and name_sep in name:
        name, description = name.split(name_sep, 1)
    aliases = _aliases(fields[3]) if len(fields) > 3 else None
    if isinstance(aliases, str):
        return aliases
    return _checked_row(entity_id, name, description, aliases, limits)


def read_entities(
    path: Path,
    fmt: EntityFormat,
    limits: EntityLimits | None = None,
    name_sep: str | None = None,
) -> Iterator[EntityRow | Reject]:
    """Yield entity rows (``id``, ``name``, ``description``, ``aliases``) or rejects."""
    limits = limits or EntityLimits()
    source = str(path)
    check_encoding(path)
    if fmt == "json":
        try:
            data = json.loads(path.read_bytes())
        except OSError as e:
            raise IngestError(f"cannot read {path}: {e.strerror}") from e
        except (json.JSONDecodeError, UnicodeDecodeError) as e:
            raise IngestError(f"{path} is not valid JSON: {e}") from e
        if not isinstance(data, dict):
            raise IngestError(f"{path}: expected an object mapping entity ids to records")
        for index, (key, obj) in enumerate(data.items(), start=1):
            item = _row_from_object(obj, key, limits)
            if isinstance(item, str):
                yield Reject(source, index, f"id {key!r}: {item}", "", unit="entry")
            else:
                yield item
        return
    first = True
    for record in iter_records(path):
        if isinstance(record, Reject):
            yield record
            continue
        number, text = record
        if fmt == "jsonl":
            try:
                obj = json.loads(text)
            except json.JSONDecodeError as e:
                yield Reject(source, number, f"malformed JSON: {e.msg}", text)
                continue
            row: EntityRow | str = _row_from_object(
                obj, obj.get("id") if isinstance(obj, dict) else None, limits
            )
        else:
            if first and text.split("\t")[0].strip().lower() == "id":
                first = False
                continue
            row = _tsv_row(text, name_sep, limits)
        first = False
        if isinstance(row, str):
            yield Reject(source, number, row, text)
        else:
            yield row


def merge_rows(rows: Iterable[EntityRow]) -> tuple[list[EntityRow], dict[str, int]]:
    """One row per id, merged field by field in file order; and how often each repeated id
    appeared. A later non-empty field replaces an earlier one; an empty one keeps it."""
    merged: dict[str, EntityRow] = {}
    seen: dict[str, int] = {}
    for row in rows:
        key = row["id"]
        seen[key] = seen.get(key, 0) + 1
        current = merged.get(key)
        if current is None:
            merged[key] = dict(row)
            continue
        for name in FIELDS:
            if row.get(name):
                current[name] = row[name]
    repeated = {k: n for k, n in seen.items() if n > 1}
    return list(merged.values()), repeated
