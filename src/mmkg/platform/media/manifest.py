"""Manifests: which media depict or mention which entities, with captions and provenance.

CSV (header ``path,entities,caption,relation,source``; several entities separated by ``;``) or
JSONL (``{"path": ..., "entities": [...], "caption": ..., "relation": ..., "source": ...}``).
Paths are relative to the manifest's folder unless absolute.
"""

from __future__ import annotations

import csv
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mmkg.errors import IngestError
from mmkg.graph_schema.model import DEPICTS, MENTIONS


@dataclass
class ManifestRow:
    entities: list[str] = field(default_factory=list)
    caption: str | None = None
    relation: str | None = None  # DEPICTS or MENTIONS; default by media kind
    source: str | None = None


def _row(raw: dict[str, Any], where: str, base: Path) -> tuple[Path, ManifestRow]:
    path = raw.get("path")
    if not isinstance(path, str) or not path.strip():
        raise IngestError(f"{where}: missing 'path'")
    ents = raw.get("entities") or raw.get("entity") or []
    if isinstance(ents, str):
        ents = [e.strip() for e in ents.split(";") if e.strip()]
    if not isinstance(ents, list) or not all(isinstance(e, str) for e in ents):
        raise IngestError(f"{where}: 'entities' must be a list of ids or a ';'-separated string")
    relation = raw.get("relation") or None
    if relation is not None:
        relation = str(relation).upper()
        if relation not in (DEPICTS, MENTIONS):
            raise IngestError(f"{where}: relation must be DEPICTS or MENTIONS, not {relation!r}")
    p = Path(path.strip())
    resolved = p if p.is_absolute() else base / p
    return resolved.resolve(), ManifestRow(
        entities=ents,
        caption=(str(raw["caption"]) if raw.get("caption") else None),
        relation=relation,
        source=(str(raw["source"]) if raw.get("source") else None),
    )


def read_manifest(path: Path) -> dict[Path, ManifestRow]:
    """Rows by resolved media path. A malformed row fails with file:line before anything runs."""
    if not path.is_file():
        raise IngestError(f"manifest {path} does not exist")
    base = path.resolve().parent
    rows: dict[Path, ManifestRow] = {}
    with path.open(encoding="utf-8", newline="") as fh:
        if path.suffix.lower() in (".jsonl", ".json", ".ndjson"):
            for n, line in enumerate(fh, 1):
                if not line.strip():
                    continue
                try:
                    raw = json.loads(line)
                except json.JSONDecodeError as e:
                    raise IngestError(f"{path}:{n}: not JSON ({e.msg})") from None
                if not isinstance(raw, dict):
                    raise IngestError(f"{path}:{n}: expected an object")
                media, row = _row(raw, f"{path}:{n}", base)
                rows[media] = row
        else:
            reader = csv.DictReader(fh)
            if reader.fieldnames is None or "path" not in reader.fieldnames:
                raise IngestError(f"{path}:1: the CSV header must name a 'path' column")
            for n, raw in enumerate(reader, 2):
                media, row = _row(dict(raw), f"{path}:{n}", base)
                rows[media] = row
    return rows
