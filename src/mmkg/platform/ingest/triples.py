"""Loading triples: entities are merged first, then relationships grouped by native type."""

from __future__ import annotations

import logging
import os
from collections import defaultdict
from collections.abc import Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mmkg.errors import Neo4jUnavailableError, RetryableError
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
from mmkg.platform.progress import count_lines, progress
from mmkg.platform.readers.lines import Reject
from mmkg.platform.readers.triples import Triple, TripleFormat, TripleOrder, read_triples
from mmkg.platform.relation_types import RelationTypeMap
from mmkg.platform.schema import require_schema
from mmkg.platform.store import Graph
from mmkg.settings import Settings

log = logging.getLogger(__name__)

# Triples held in memory between writes: bounds memory on huge files (about 0.5 GB).
CHUNK_TRIPLES = 1_000_000


def _scan(
    path: Path, fmt: TripleFormat, order: TripleOrder, limit: int
) -> tuple[list[Reject], int, int]:
    """The first rejects, how many lines were rejected, and how many records there are."""
    rejects: list[Reject] = []
    rejected = total = 0
    for item in read_triples(path, fmt, order, limit):
        total += 1
        if isinstance(item, Reject):
            rejected += 1
            if len(rejects) < 10:
                rejects.append(item)
    return rejects, rejected, total


def ingest_triples(
    graph: Graph,
    path: Path,
    settings: Settings,
    fmt: TripleFormat = "tsv",
    order: TripleOrder = "hrt",
    strict: bool = False,
    rejects_path: Path | None = None,
    show_progress: bool | None = None,
    max_rejects: str | RejectThreshold | None = None,
) -> IngestSummary:
    """Load a triple file into the graph; idempotent, and resumable by running it again.

    Every relationship is MERGEd, so a re-run (or a run after a crash) creates only what is
    missing. Malformed lines are skipped and written to a rejects file. With ``strict`` any
    malformed line, and with ``max_rejects`` (``"10"`` or ``"5%"``) more than that many, fail
    the load before anything is written; a file whose every line is malformed always fails.

    Raises:
        IngestError: unreadable, UTF-16 or binary file, or too many malformed lines.
        Neo4jUnavailableError: the server went away mid-load (re-running completes the load).
        SchemaError: the graph's schema is not applied (a server mmkg did not start).
    """
    path = Path(path)
    require_file(path)
    threshold = (
        max_rejects
        if isinstance(max_rejects, RejectThreshold)
        else RejectThreshold.parse(max_rejects)
    )
    summary = IngestSummary(source=str(path), kind="triples")
    if strict or threshold.explicit:
        first, rejected, total = _scan(path, fmt, order, settings.max_field_chars)
        if strict and rejected:
            raise strict_failure(first, rejected, str(path))
        check_threshold(threshold, first, rejected, total, str(path))
    bar = progress(count_lines(path), f"ingest {path.name}", "lines", show_progress)
    items = read_triples(path, fmt, order, settings.max_field_chars)
    return load_triples(graph, items, settings, summary, rejects_path, bar)


def load_triples(
    graph: Graph,
    items: Iterable[Triple | Reject],
    settings: Settings,
    summary: IngestSummary,
    rejects_path: Path | None = None,
    bar: Any = None,
) -> IngestSummary:
    """MERGE triples from any reader (a file's lines, an RDF parser), in chunks of bounded
    memory; rejects go to the rejects file with their position. What ``ingest_triples`` and
    ``ingest_rdf`` share."""
    source = summary.source
    require_schema(graph)
    rejects = RejectLog(rejects_path or default_rejects_path(settings.home, Path(source)))
    types = RelationTypeMap(graph)
    state = _LoadState()
    pool = ThreadPoolExecutor(max_workers=max(2, min(4, os.cpu_count() or 2)))
    chunk: list[Triple] = []
    bar = (
        bar if bar is not None else progress(None, f"ingest {Path(source).name}", "triples", False)
    )
    try:
        for item in items:
            if isinstance(item, Reject):
                rejects.add(item)
            else:
                chunk.append(item)
                if len(chunk) >= CHUNK_TRIPLES:
                    _write_chunk(graph, chunk, types, state, summary, settings, bar, pool)
                    chunk = []
        if chunk:
            _write_chunk(graph, chunk, types, state, summary, settings, bar, pool)
    except Neo4jUnavailableError as e:
        raise Neo4jUnavailableError(
            f"lost Neo4j during the load of {source} after {summary.records} triples were "
            f"written ({e}); the load is idempotent: run the same command again once the server "
            "is back and it completes what is missing"
        ) from e
    finally:
        pool.shutdown(cancel_futures=True)  # queued chunks would each wait out the retries
        rejects.close()
        bar.close()
    summary.rejected = rejects.count
    summary.rejects_file = rejects.written_to
    summary.entities_present = len(state.node_keys) - summary.entities_created
    summary.relationships_present = summary.records - summary.relationships_created
    summary.relation_types_created = types.created
    if rejects.count:
        log.warning(
            "%d malformed record(s) skipped, first: %s; all in %s",
            rejects.count,
            rejects.first[0],
            rejects.path,
        )
    # Every record rejected: nothing was loaded, which must not look like success.
    check_threshold(
        RejectThreshold(), rejects.first, rejects.count, rejects.count + summary.records, source
    )
    return summary.finish()


@dataclass
class _LoadState:
    """What one load remembers across chunks."""

    node_keys: dict[str, str] = field(default_factory=dict)  # entity id -> element id
    fresh: set[str] = field(default_factory=set)  # nodes this load created


def _merge_entities(
    graph: Graph, chunk: list[Triple], state: _LoadState, summary: IngestSummary, batch: int
) -> None:
    ids = {h for h, _, _ in chunk}
    ids.update(t for _, _, t in chunk)
    new_ids = sorted(ids.difference(state.node_keys))
    for id_batch in batched(new_ids, batch):
        rows, counters = graph.write_result(Q.MERGE_ENTITIES, {"ids": list(id_batch)})
        keys, existed = rows[0]["keys"], rows[0]["existed"]
        state.node_keys.update(zip(id_batch, keys, strict=True))
        state.fresh.update(k for k, old in zip(keys, existed, strict=True) if not old)
        summary.entities_created += counters.nodes_created


def _write_chunk(
    graph: Graph,
    chunk: list[Triple],
    types: RelationTypeMap,
    state: _LoadState,
    summary: IngestSummary,
    settings: Settings,
    bar: Any,
    pool: ThreadPoolExecutor,
) -> None:
    """MERGE a chunk's relationships.

    A relationship that touches a node this load created cannot exist yet: those are MERGEd by
    one writer, since parallel writers creating relationships deadlock on shared nodes. The
    rest (between nodes that were already there: a re-load, a resumed load) mostly exist, and
    a MERGE that finds its relationship takes no write lock, so they run on every core.
    """
    batch = settings.ingest_batch_size
    _merge_entities(graph, chunk, state, summary, batch)
    rel_types = types.types_for({r for _, r, _ in chunk})
    keys, fresh = state.node_keys, state.fresh
    new_pairs: dict[str, list[list[str]]] = defaultdict(list)
    old_pairs: dict[str, list[list[str]]] = defaultdict(list)
    for h, r, t in chunk:
        pair = [keys[h], keys[t]]
        (new_pairs if pair[0] in fresh or pair[1] in fresh else old_pairs)[rel_types[r]].append(
            pair
        )

    def merge(job: tuple[str, Sequence[list[str]]]) -> int:
        counters = graph.write(Q.merge_triples(job[0]), {"pairs": list(job[1])})
        bar.update(len(job[1]))
        return int(counters.relationships_created)

    def jobs(pairs: dict[str, list[list[str]]]) -> list[tuple[str, Sequence[list[str]]]]:
        return [(t, part) for t in sorted(pairs) for part in batched(pairs[t], batch)]

    def merge_or_defer(job: tuple[str, Sequence[list[str]]]) -> int | None:
        try:
            return merge(job)
        except Neo4jUnavailableError:
            raise  # the server is gone: no point in trying the batch again here
        except RetryableError:
            return None  # deadlocked past the driver's retries: redone by the single writer

    summary.relationships_created += sum(map(merge, jobs(new_pairs)))
    old_jobs = jobs(old_pairs)
    results = list(pool.map(merge_or_defer, old_jobs))
    for job, created in zip(old_jobs, results, strict=True):
        summary.relationships_created += merge(job) if created is None else created
    summary.records += len(chunk)
