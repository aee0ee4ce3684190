"""Loading entity names, descriptions and aliases (the text of the graph).

Formats:
    tsv: ``id<TAB>name[<TAB>description[<TAB>aliases]]``, aliases separated by ``|``; an
        optional header line starting with ``id``. With ``name_sep``, the second column is
        split at its first ``name_sep`` into name and description (WN18RR's
        ``lemma, gloss``).
    jsonl: one object a line with ``id`` and any of ``name``/``label``, ``description``,
        ``aliases``/``alternatives`` (a list or a ``|``-separated string).
    json: one object mapping ids to such objects (FB15k-237's ``entity2wikidata.json``).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Literal

from mmkg.errors import IngestError
from mmkg.graph_schema import queries as Q
from mmkg.platform.ingest.common import (
    IngestSummary,
    Reject,
    RejectLog,
    batched,
    check_field,
    default_rejects_path,
    iter_records,
    require_file,
    strict_failure,
)
from mmkg.platform.progress import progress
from mmkg.platform.store import Graph
from mmkg.settings import Settings

log = logging.getLogger(__name__)

EntityFormat = Literal["tsv", "jsonl", "json"]
EntityRow = dict[str, Any]


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


def _row_from_object(obj: Any, entity_id: Any, settings: Settings) -> EntityRow | str:
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
    return _checked_row(entity_id.strip(), name, description, aliases, settings)


def _checked_row(
    entity_id: str,
    name: str | None,
    description: str | None,
    aliases: list[str] | None,
    settings: Settings,
) -> EntityRow | str:
    reason = check_field(entity_id, "id", settings.max_field_chars)
    if reason:
        return reason
    name = name.strip() or None if name else None
    description = description.strip() or None if description else None
    if name and len(name) > settings.max_field_chars:
        return f"name too long ({len(name)} characters, limit {settings.max_field_chars})"
    if description and len(description) > settings.max_text_chars:
        return (
            f"description too long ({len(description)} characters, limit {settings.max_text_chars})"
        )
    if aliases and any(len(a) > settings.max_field_chars for a in aliases):
        return f"an alias is longer than {settings.max_field_chars} characters"
    return {"id": entity_id, "name": name, "description": description, "aliases": aliases}


def _tsv_row(text: str, name_sep: str | None, settings: Settings) -> EntityRow | str | None:
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
    return _checked_row(entity_id, name, description, aliases, settings)  # type: ignore[arg-type]


def read_entities(
    path: Path, fmt: EntityFormat, settings: Settings, name_sep: str | None = None
) -> Iterator[EntityRow | Reject]:
    """Yield entity rows (``id``, ``name``, ``description``, ``aliases``) or rejects."""
    source = str(path)
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
            item = _row_from_object(obj, key, settings)
            yield (
                Reject(source, index, f"entry {key!r}: {item}", "")
                if isinstance(item, str)
                else item
            )
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
            row: EntityRow | str | None = _row_from_object(
                obj, obj.get("id") if isinstance(obj, dict) else None, settings
            )
        else:
            if first and text.split("\t")[0].strip().lower() == "id":
                first = False
                continue
            row = _tsv_row(text, name_sep, settings)
        first = False
        if isinstance(row, str):
            yield Reject(source, number, row, text)
        elif row is not None:
            yield row


def ingest_entities(
    graph: Graph,
    path: Path,
    settings: Settings,
    fmt: EntityFormat | None = None,
    name_sep: str | None = None,
    strict: bool = False,
    rejects_path: Path | None = None,
    show_progress: bool | None = None,
) -> IngestSummary:
    """Create or update entities with their names, descriptions and aliases.

    Idempotent: a value present in the file overwrites the stored one; absent values keep
    what the graph has.

    Raises:
        IngestError: unreadable file, or malformed records under ``strict``.
    """
    path = Path(path)
    require_file(path)
    fmt = fmt or guess_entity_format(path)
    if fmt not in ("tsv", "jsonl", "json"):
        raise IngestError(f"unknown entity format {fmt!r}; use tsv, jsonl or json")
    summary = IngestSummary(source=str(path), kind="entities")
    rows: list[EntityRow] = []
    rejects = RejectLog(rejects_path or default_rejects_path(settings.home, path))
    strict_rejects: list[Reject] = []
    try:
        for item in read_entities(path, fmt, settings, name_sep):
            if isinstance(item, Reject):
                if strict:
                    strict_rejects.append(item)
                else:
                    rejects.add(item)
            else:
                rows.append(item)
        if strict_rejects:
            raise strict_failure(strict_rejects, len(strict_rejects), str(path))
        # Last record wins for an id given twice, as a sequence of updates would do.
        unique = list({row["id"]: row for row in rows}.values())
        with progress(len(unique), f"entities {path.name}", "entities", show_progress) as bar:
            for part in batched(unique, settings.ingest_batch_size):
                counters = graph.write(Q.UPSERT_ENTITY_TEXT, {"rows": list(part)})
                summary.entities_created += counters.nodes_created
                bar.update(len(part))
    finally:
        rejects.close()
    summary.records = len(rows)
    summary.entities_present = len(unique) - summary.entities_created
    summary.rejected = rejects.count
    summary.rejects_file = rejects.written_to
    return summary.finish()
