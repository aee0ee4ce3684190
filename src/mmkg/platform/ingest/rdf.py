"""``mmkg ingest rdf``: an RDF file's relations, entity texts and numeric literals in one load
(the mapping is `mmkg.platform.readers.rdf`'s)."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mmkg.errors import IngestError
from mmkg.platform.ingest.common import IngestSummary, require_file, strict_failure
from mmkg.platform.ingest.entities import write_entity_rows
from mmkg.platform.ingest.literals import write_literals
from mmkg.platform.ingest.triples import load_triples
from mmkg.platform.progress import progress
from mmkg.platform.readers.lines import Reject
from mmkg.platform.readers.rdf import RdfFormat, RdfReader
from mmkg.platform.schema import require_schema
from mmkg.platform.store import Graph
from mmkg.settings import Settings

log = logging.getLogger(__name__)


@dataclass
class RdfSummary:
    triples: IngestSummary
    entity_texts: int = 0
    entities_created_by_texts: int = 0
    literals: int = 0
    literal_attributes: int = 0
    skipped_literals: dict[str, int] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "source": self.triples.source,
            "relations": self.triples.to_dict(),
            "entity_texts": self.entity_texts,
            "entities_created_by_texts": self.entities_created_by_texts,
            "literals": self.literals,
            "literal_attributes": self.literal_attributes,
            "skipped_literals": self.skipped_literals,
        }


def ingest_rdf(
    graph: Graph,
    path: Path,
    settings: Settings,
    fmt: RdfFormat | None = None,
    lang: str = "en",
    strict: bool = False,
    rejects_path: Path | None = None,
    show_progress: bool | None = None,
) -> RdfSummary:
    """Load an N-Triples or Turtle file: relations first (they create the entities), then the
    entities' names, descriptions and aliases, then numeric literals. Idempotent: every
    relation is MERGEd and texts and literals are set, so loading again changes nothing.

    With ``strict`` a malformed statement fails the load before anything is written.

    Raises:
        IngestError: an unreadable file, a Turtle syntax error (with its line), an unknown
            format, a file with no good statement, or any bad statement under ``strict``.
    """
    path = Path(path)
    require_file(path)
    require_schema(graph)
    if strict:
        bad = [
            r for r in RdfReader(path, fmt, lang, settings.max_field_chars) if isinstance(r, Reject)
        ]
        if bad:
            raise strict_failure(bad[:10], len(bad), str(path))
    reader = RdfReader(path, fmt, lang, settings.max_field_chars)
    summary = IngestSummary(source=str(path), kind="rdf")
    bar = progress(None, f"ingest {path.name}", "triples", show_progress)
    load_triples(graph, reader, settings, summary, rejects_path, bar)
    out = RdfSummary(summary, skipped_literals=dict(reader.texts.skipped.most_common()))
    rows = reader.texts.rows()
    if not summary.records and not rows:
        raise IngestError(
            f"{path}: no RDF statement mmkg can load (no relation, entity text or numeric "
            f"literal){'; ' + str(summary.rejected) + ' rejected' if summary.rejected else ''}"
        )
    if rows:
        texts = IngestSummary(source=str(path), kind="entities")
        write_entity_rows(graph, rows, settings, texts, path.name, show_progress)
        out.entity_texts = len(rows)
        out.entities_created_by_texts = texts.entities_created
    if reader.texts.literals:
        out.literals, out.literal_attributes, missing = write_literals(graph, reader.texts.literals)
        if missing:  # every subject was merged above; only a concurrent delete gets here
            log.warning("%d literal subject(s) of %s are not entities", len(missing), path)
    if out.skipped_literals:
        log.info("%s: literals left out by predicate: %s", path, out.skipped_literals)
    return out
