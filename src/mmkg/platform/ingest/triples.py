"""Loading triples: entities are merged first, then relationships grouped by native type."""

from __future__ import annotations

import logging
from collections import defaultdict
from pathlib import Path

from mmkg.graph_schema import queries as Q
from mmkg.platform.ingest.common import (
    IngestSummary,
    Reject,
    RejectLog,
    batched,
    default_rejects_path,
    strict_failure,
)
from mmkg.platform.ingest.triple_reader import Triple, TripleFormat, TripleOrder, read_triples
from mmkg.platform.progress import count_lines, progress
from mmkg.platform.relation_types import RelationTypeMap
from mmkg.platform.store import Graph
from mmkg.settings import Settings

log = logging.getLogger(__name__)

# Triples held in memory between writes: bounds memory on huge files (about 0.5 GB).
CHUNK_TRIPLES = 1_000_000


def _check_strict(path: Path, fmt: TripleFormat, order: TripleOrder, limit: int) -> None:
    rejects: list[Reject] = []
    total = 0
    for item in read_triples(path, fmt, order, limit):
        if isinstance(item, Reject):
            total += 1
            if len(rejects) < 10:
                rejects.append(item)
    if total:
        raise strict_failure(rejects, total, str(path))


def ingest_triples(
    graph: Graph,
    path: Path,
    settings: Settings,
    fmt: TripleFormat = "tsv",
    order: TripleOrder = "hrt",
    strict: bool = False,
    rejects_path: Path | None = None,
    show_progress: bool | None = None,
) -> IngestSummary:
    """Load a triple file into the graph; idempotent, and resumable by running it again.

    Every relationship is MERGEd, so a re-run (or a run after a crash) creates only what is
    missing. Malformed lines are skipped and written to a rejects file, or, with ``strict``,
    fail the load before anything is written.

    Raises:
        IngestError: unreadable file, or malformed lines under ``strict``.
    """
    path = Path(path)
    summary = IngestSummary(source=str(path), kind="triples")
    if strict:
        _check_strict(path, fmt, order, settings.max_field_chars)
    rejects = RejectLog(rejects_path or default_rejects_path(settings.home, path))
    types = RelationTypeMap(graph)
    node_ids: dict[str, int] = {}  # entity id -> internal node id, for this load
    chunk: list[Triple] = []
    bar = progress(count_lines(path), f"ingest {path.name}", "lines", show_progress)
    try:
        for item in read_triples(path, fmt, order, settings.max_field_chars):
            if isinstance(item, Reject):
                rejects.add(item)
            else:
                chunk.append(item)
                if len(chunk) >= CHUNK_TRIPLES:
                    _write_chunk(graph, chunk, types, node_ids, summary, settings, bar)
                    chunk = []
        if chunk:
            _write_chunk(graph, chunk, types, node_ids, summary, settings, bar)
    finally:
        rejects.close()
        bar.close()
    summary.rejected = rejects.count
    summary.rejects_file = rejects.written_to
    summary.entities_present = len(node_ids) - summary.entities_created
    summary.relationships_present = summary.records - summary.relationships_created
    summary.relation_types_created = types.created
    if rejects.count:
        log.warning(
            "%d malformed line(s) skipped, first: %s; all in %s",
            rejects.count,
            rejects.first[0],
            rejects.path,
        )
    return summary.finish()


def _write_chunk(
    graph: Graph,
    chunk: list[Triple],
    types: RelationTypeMap,
    node_ids: dict[str, int],
    summary: IngestSummary,
    settings: Settings,
    bar: object,
) -> None:
    batch = settings.ingest_batch_size
    ids = {h for h, _, _ in chunk}
    ids.update(t for _, _, t in chunk)
    new_ids = sorted(ids.difference(node_ids))
    for id_batch in batched(new_ids, batch):
        rows, counters = graph.write_result(Q.MERGE_ENTITIES, {"ids": list(id_batch)})
        node_ids.update(zip(id_batch, rows[0]["nids"], strict=True))
        summary.entities_created += counters.nodes_created

    rel_types = types.types_for({r for _, r, _ in chunk})
    by_type: dict[str, list[list[int]]] = defaultdict(list)
    for h, r, t in chunk:
        by_type[rel_types[r]].append([node_ids[h], node_ids[t]])
    for rel_type in sorted(by_type):
        pairs = by_type[rel_type]
        query = Q.merge_triples(rel_type)
        for part in batched(pairs, batch):
            counters = graph.write(query, {"pairs": list(part)})
            summary.relationships_created += counters.relationships_created
            bar.update(len(part))  # type: ignore[attr-defined]
    summary.records += len(chunk)
