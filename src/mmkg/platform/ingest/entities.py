"""Loading entity names, descriptions and aliases (formats: `mmkg.platform.readers.entities`)."""

from __future__ import annotations

import logging
from pathlib import Path

from mmkg.errors import IngestError, Neo4jUnavailableError
from mmkg.graph_schema import queries as Q
from mmkg.platform.ingest.common import (
    IngestSummary,
    RejectLog,
    RejectThreshold,
    batched,
    check_threshold,
    default_rejects_path,
    require_file,
    strict_failure,
)
from mmkg.platform.progress import progress
from mmkg.platform.readers.entities import (
    ENTITY_FORMATS,
    EntityFormat,
    EntityLimits,
    EntityRow,
    guess_entity_format,
    merge_rows,
    read_entities,
)
from mmkg.platform.readers.lines import Reject
from mmkg.platform.schema import require_schema
from mmkg.platform.store import Graph
from mmkg.settings import Settings

log = logging.getLogger(__name__)


def ingest_entities(
    graph: Graph,
    path: Path,
    settings: Settings,
    fmt: EntityFormat | None = None,
    name_sep: str | None = None,
    strict: bool = False,
    rejects_path: Path | None = None,
    show_progress: bool | None = None,
    max_rejects: str | RejectThreshold | None = None,
) -> IngestSummary:
    """Create or update entities with their names, descriptions and aliases.

    Idempotent, and merged field by field: a non-empty value in the file replaces the stored
    one, an empty or missing one keeps it. An id repeated in the file is merged the same way
    (in file order) and counted in ``repeated_ids``, with a warning.

    Raises:
        IngestError: unreadable file, malformed records under ``strict``, more rejects than
            ``max_rejects``, or a file whose every record is malformed.
    """
    path = Path(path)
    require_file(path)
    fmt = fmt or guess_entity_format(path)
    if fmt not in ENTITY_FORMATS:
        raise IngestError(f"unknown entity format {fmt!r}; use tsv, jsonl or json")
    threshold = (
        max_rejects
        if isinstance(max_rejects, RejectThreshold)
        else RejectThreshold.parse(max_rejects)
    )
    summary = IngestSummary(source=str(path), kind="entities")
    limits = EntityLimits(settings.max_field_chars, settings.max_text_chars)
    rows: list[EntityRow] = []
    rejects = RejectLog(rejects_path or default_rejects_path(settings.home, path))
    held: list[Reject] = []
    try:
        for item in read_entities(path, fmt, limits, name_sep):
            if isinstance(item, Reject):
                held.append(item)
            else:
                rows.append(item)
        total = len(rows) + len(held)
        if strict and held:
            raise strict_failure(held, len(held), str(path))
        # Every record is read before anything is written, so a threshold costs nothing.
        check_threshold(threshold, held, len(held), total, str(path))
        for reject in held:
            rejects.add(reject)
        unique, repeated = merge_rows(rows)
        if repeated:
            sample = ", ".join(f"{k!r} ×{n}" for k, n in list(repeated.items())[:5])
            log.warning(
                "%s: %d id(s) appear more than once (%s); their fields were merged in file "
                "order, a later non-empty value replacing an earlier one",
                path,
                len(repeated),
                sample,
            )
        write_entity_rows(graph, unique, settings, summary, path.name, show_progress)
    except Neo4jUnavailableError as e:
        raise Neo4jUnavailableError(
            f"lost Neo4j during the load of {path} after {summary.records} entities were "
            f"written ({e}); run the same command again once the server is back"
        ) from e
    finally:
        rejects.close()
    summary.records = len(rows)
    summary.repeated_ids = len(repeated)
    summary.entities_present = len(unique) - summary.entities_created
    summary.rejected = rejects.count
    summary.rejects_file = rejects.written_to
    return summary.finish()


def write_entity_rows(
    graph: Graph,
    rows: list[EntityRow],
    settings: Settings,
    summary: IngestSummary,
    label: str,
    show_progress: bool | None = None,
) -> None:
    """Upsert merged entity rows (one per id) in batches; counts what it created."""
    require_schema(graph)
    with progress(len(rows), f"entities {label}", "entities", show_progress) as bar:
        for part in batched(rows, settings.ingest_batch_size):
            counters = graph.write(Q.UPSERT_ENTITY_TEXT, {"rows": list(part)})
            summary.entities_created += counters.nodes_created
            summary.records += len(part)
            bar.update(len(part))
