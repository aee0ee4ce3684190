"""Write-back: a serving artefact's vectors onto the graph, as a new versioned embedding run.

The write never disturbs serving: vectors go to properties named for this run, the vector
index is built after they are all in, and only then is the run marked ready (and, if asked,
made active by moving the serving pointer in one transaction). A write that dies midway leaves
a run in status ``writing`` that nothing serves; writing it again finishes it.

The artefact comes from training in memory (``TrainResult.artifact()``), from fold-in, or from
a run folder (:func:`write_run`, for ``mmkg embeddings write RUN_DIR``). Nodes are found by the
element ids the artefact carries from the export; only an artefact from elsewhere is matched to
the graph by entity id.
"""

from __future__ import annotations

import json
import logging
import math
import time
import uuid
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from mmkg.errors import DataError, StaleKeyError
from mmkg.graph_schema import queries as Q
from mmkg.graph_schema.model import ENTITY
from mmkg.graph_schema.names import RunNames, check_run_id, default_run_id
from mmkg.platform.kge.artifact import ServingArtifact
from mmkg.platform.progress import progress
from mmkg.platform.schema import require_schema
from mmkg.platform.serving.calls import call_write
from mmkg.platform.serving.runs import activate_run, clear_property, get_run
from mmkg.platform.store import Graph
from mmkg.settings import Settings

log = logging.getLogger(__name__)

F32 = npt.NDArray[np.float32]
_LOOKUP_BATCH = 20_000


@dataclass
class WriteSummary:
    run_id: str
    model: str
    dim: int
    entities: int
    relations: int
    missing_entities: int
    vectors: int
    write_seconds: float
    vectors_per_second: float
    index: str | None
    index_seconds: float
    status: str
    activated: bool
    already_written: bool = False

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def chance_mrr(num_entities: int) -> float:
    """The MRR of a ranking at random among ``num_entities`` candidates: H(n) / n."""
    n = max(num_entities, 1)
    harmonic = (
        math.log(n) + 0.5772156649 + 1.0 / (2 * n)
        if n > 20
        else sum(1 / k for k in range(1, n + 1))
    )
    return harmonic / n


def check_servable(artifact: ServingArtifact, force: bool = False) -> None:
    """Refuse vectors that are not finite, and a model whose validation MRR is at chance
    level; ``force`` writes them anyway (with a warning).

    Raises:
        DataError: naming what is wrong, unless ``force``.
    """
    problems = artifact.finite_problems()
    valid = artifact.metrics.get("valid") if isinstance(artifact.metrics, dict) else None
    mrr = valid.get("mrr") if isinstance(valid, dict) else None
    if isinstance(mrr, int | float) and math.isfinite(mrr):
        chance = chance_mrr(artifact.num_entities)
        if mrr <= 2 * chance:
            problems.append(
                f"its validation MRR ({mrr:.4f}) is at chance level (random ranking of "
                f"{artifact.num_entities} entities gives {chance:.4f})"
            )
    if not problems:
        return
    text = "; ".join(problems)
    if force:
        log.warning("writing a run that should not serve (--force): %s", text)
        return
    raise DataError(
        f"this run should not serve predictions: {text}. Train again (a lower learning rate, "
        "more epochs), or pass --force to write it anyway"
    )


class _Writer:
    """Batches of vectors written by a few concurrent transactions.

    Every node is written once per property, so concurrent batches never contend for locks;
    the server's CPU is the limit, and two transactions keep both of its cores busy.
    """

    def __init__(self, graph: Graph, batch: int, threads: int, bar: Any) -> None:
        self.graph = graph
        self.batch = batch
        self.bar = bar
        self.pool = ThreadPoolExecutor(max_workers=threads, thread_name_prefix="mmkg-write")
        self.pending: list[Future[None]] = []
        self.limit = 2 * threads  # bounded: at most this many batches held in memory

    def _one(self, prop: str, keys: list[str], ids: list[str], block: F32) -> None:
        params = {"property": prop, "keys": keys, "ids": ids, "data": block.tobytes(),
                  "dim": block.shape[1]}  # fmt: skip
        call_write(self.graph, Q.WRITE_VECTORS, params)
        self.bar.update(len(keys))

    def rows(self, prop: str, keys: list[str], ids: list[str], rows: F32) -> None:
        for start in range(0, len(keys), self.batch):
            block = np.ascontiguousarray(rows[start : start + self.batch], dtype="<f4")
            if len(self.pending) >= self.limit:
                self.pending.pop(0).result()
            self.pending.append(
                self.pool.submit(
                    self._one,
                    prop,
                    keys[start : start + self.batch],
                    ids[start : start + self.batch],
                    block,
                )
            )

    def finish(self) -> None:
        try:
            for future in self.pending:
                future.result()  # re-raises the first failed batch's error
        finally:
            self.pool.shutdown(wait=True, cancel_futures=True)


def _lookup(
    graph: Graph, query: str, param: str, column: str, wanted: list[str]
) -> list[str | None]:
    """Element ids of ``wanted`` (entity ids or relation names), None for those not there."""
    found: dict[str, str] = {}
    for start in range(0, len(wanted), _LOOKUP_BATCH):
        for row in graph.read(query, {param: wanted[start : start + _LOOKUP_BATCH]}):
            found[row[column]] = row["key"]
    return [found.get(n) for n in wanted]


def _resolve_keys(
    graph: Graph, artifact: ServingArtifact, fresh: bool
) -> tuple[list[str | None], list[str | None]]:
    """Element ids of the artefact's entities and relation types: carried from the export,
    or (for an artefact from elsewhere, or ``fresh``) looked up by id."""
    if artifact.entity_keys is not None and not fresh:
        ents: list[str | None] = list(artifact.entity_keys)
    else:
        ents = _lookup(graph, Q.ENTITY_KEYS, "ids", "id", artifact.entity_ids)
    if artifact.relation_keys is not None and not fresh:
        rels: list[str | None] = list(artifact.relation_keys)
    else:
        rels = _lookup(graph, Q.RELATION_KEYS, "names", "name", artifact.relation_names)
    return ents, rels


def _check_missing(
    what: str, wanted: list[str], keys: list[str | None], allow: bool, source: str
) -> None:
    missing = [w for w, k in zip(wanted, keys, strict=True) if k is None]
    if not missing:
        return
    sample = ", ".join(repr(m) for m in missing[:5])
    if allow:
        log.warning(
            "%d %s of %s are not in the graph and get no vector (%s)", len(missing), what,
            source, sample,
        )  # fmt: skip
        return
    raise DataError(
        f"{len(missing)} of {len(wanted)} {what} of {source} are not in the graph "
        f"(e.g. {sample}); load them first, or pass --allow-missing to write the others"
    )


def write_run(
    graph: Graph,
    run_dir: Path,
    settings: Settings,
    *,
    run_id: str | None = None,
    activate: bool = False,
    allow_missing: bool = False,
    index: bool = True,
    force: bool = False,
    show_progress: bool | None = None,
) -> WriteSummary:
    """Write run folder ``run_dir`` (trained elsewhere or earlier) as embedding run ``run_id``."""
    from mmkg.platform.kge.run_dir import load_artifact

    artifact = load_artifact(run_dir)
    return write_artifact(
        graph,
        artifact,
        settings,
        run_id=run_id or default_run_id(run_dir.resolve().name),
        activate=activate,
        allow_missing=allow_missing,
        index=index,
        force=force,
        show_progress=show_progress,
        source=str(run_dir.resolve()),
    )


def write_artifact(
    graph: Graph,
    artifact: ServingArtifact,
    settings: Settings,
    *,
    run_id: str,
    activate: bool = False,
    allow_missing: bool = False,
    index: bool = True,
    force: bool = False,
    show_progress: bool | None = None,
    source: str | None = None,
    extra: dict[str, Any] | None = None,
) -> WriteSummary:
    """Write ``artifact``'s vectors onto the graph as embedding run ``run_id``.

    Raises:
        DataError: vectors that should not serve (unless ``force``), entities or relations
            missing from the graph (unless ``allow_missing``), or an id taken by another run.
    """
    run_id = check_run_id(run_id)
    names = RunNames.for_run(run_id)
    digest = artifact.digest()
    require_schema(graph)
    what = source or f"run {run_id}"

    existing = get_run(graph, run_id)
    if existing is not None:
        status = existing.get("status")
        if status in ("ready", "active") and existing.get("digest") == digest:
            if activate and status != "active":
                activate_run(graph, run_id)
            return _summary_of(existing, run_id, activated=activate or status == "active")
        if status in ("ready", "active"):
            raise DataError(
                f"embedding run {run_id!r} already holds other vectors; drop it first "
                f"(mmkg embeddings drop {run_id}) or write this one with another --id"
            )
        if status == "dropping":
            raise DataError(
                f"embedding run {run_id!r} is being dropped; finish with "
                f"`mmkg embeddings drop {run_id}` first"
            )

    check_servable(artifact, force)
    ent_keys, rel_keys = _resolve_keys(graph, artifact, fresh=False)
    _check_missing("entities", artifact.entity_ids, ent_keys, allow_missing, what)
    _check_missing("relations", artifact.relation_names, rel_keys, allow_missing, what)
    if not any(k is not None for k in ent_keys):
        raise DataError(f"none of the {len(ent_keys)} entities of {what} is in the graph")

    token = uuid.uuid4().hex
    caps = artifact.capabilities
    inner = caps.score == "inner_product"
    ann_property = names.augmented if inner else names.entity
    props: dict[str, Any] = {
        "key": names.key,
        "token": token,
        "digest": digest,
        "model": artifact.model,
        "dim": artifact.dim,
        "gamma": artifact.gamma,
        "reciprocal": artifact.reciprocal,
        # How to score, as flags: the plugin reads these and never guesses from the name.
        "score": caps.score,
        "distance": caps.distance,
        "complex": caps.complex,
        "params": json.dumps(artifact.params, sort_keys=True),
        "metrics": json.dumps(artifact.metrics, sort_keys=True, default=str),
        "encoders": json.dumps(artifact.encoders, sort_keys=True),
        "source": source,
        "entity_property": names.entity,
        "ann_property": ann_property if index else None,
        "ann_index": names.index if index else None,
        "relation_property": names.relation,
        "inverse_property": names.inverse if artifact.reciprocal else None,
        "entity_count": sum(k is not None for k in ent_keys),
        "relation_count": sum(k is not None for k in rel_keys),
        "missing_entities": sum(k is None for k in ent_keys),
        # A fused run's projections and fusion: a refresh places new entities with them.
        "fusion_head": artifact.fusion.to_bytes() if artifact.fusion is not None else None,
        **(extra or {}),
    }
    graph.write(Q.BEGIN_RUN, {"id": run_id, "props": props})
    # Left over from an interrupted write of this id: build the index afresh after the data.
    graph.run_autocommit(Q.DROP_INDEX, {"name": names.index})
    if existing is not None and existing.get("digest") != digest:
        for prop in (names.entity, names.augmented):
            clear_property(graph, ENTITY, prop)

    started = time.perf_counter()
    try:
        total, max_norm = _write_vectors(
            graph, artifact, names, settings, ent_keys, rel_keys, show_progress, run_id
        )
    except StaleKeyError:
        # Nodes were deleted and recreated since the export: find them by id and start over.
        log.info("element ids from the export are stale; matching the run's nodes by id")
        ent_keys, rel_keys = _resolve_keys(graph, artifact, fresh=True)
        _check_missing("entities", artifact.entity_ids, ent_keys, allow_missing, what)
        total, max_norm = _write_vectors(
            graph, artifact, names, settings, ent_keys, rel_keys, show_progress, run_id
        )
    write_seconds = time.perf_counter() - started

    index_seconds = 0.0
    if index:
        started = time.perf_counter()
        width = artifact.dim + 1 if inner else artifact.dim
        graph.run_autocommit(
            Q.create_vector_index(ENTITY, ann_property),
            {
                "name": names.index,
                "options": Q.vector_index_options(
                    width,
                    "euclidean",
                    settings.vector_index_m,
                    settings.vector_index_ef_construction,
                    settings.vector_index_quantization,
                ),
            },
        )
        log.info("building vector index %s over %d entities", names.index, props["entity_count"])
        graph.run_autocommit(
            Q.AWAIT_INDEX, {"name": names.index, "timeout": int(settings.vector_index_timeout)}
        )
        index_seconds = time.perf_counter() - started

    finished = graph.write_rows(
        Q.FINISH_RUN,
        {
            "id": run_id,
            "token": token,
            "props": {
                "max_norm": max_norm,
                "write_seconds": round(write_seconds, 3),
                "index_seconds": round(index_seconds, 3),
            },
        },
    )
    if not finished:
        raise DataError(
            f"embedding run {run_id!r} was taken over by another writer while this one wrote it"
        )
    if activate:
        activate_run(graph, run_id)
    return WriteSummary(
        run_id=run_id,
        model=artifact.model,
        dim=artifact.dim,
        entities=int(props["entity_count"]),
        relations=int(props["relation_count"]),
        missing_entities=int(props["missing_entities"]),
        vectors=total,
        write_seconds=round(write_seconds, 3),
        vectors_per_second=round(total / write_seconds, 1) if write_seconds > 0 else 0.0,
        index=names.index if index else None,
        index_seconds=round(index_seconds, 3),
        status="active" if activate else "ready",
        activated=activate,
    )


def _write_vectors(
    graph: Graph,
    artifact: ServingArtifact,
    names: RunNames,
    settings: Settings,
    ent_keys: list[str | None],
    rel_keys: list[str | None],
    show_progress: bool | None,
    run_id: str,
) -> tuple[int, float | None]:
    ent_keep = np.array([k is not None for k in ent_keys], dtype=bool)
    rel_keep = np.array([k is not None for k in rel_keys], dtype=bool)
    e_keys = [k for k in ent_keys if k is not None]
    e_ids = [i for i, k in zip(artifact.entity_ids, ent_keys, strict=True) if k is not None]
    r_keys = [k for k in rel_keys if k is not None]
    r_ids = [n for n, k in zip(artifact.relation_names, rel_keys, strict=True) if k is not None]
    inner = artifact.capabilities.score == "inner_product"
    entities = artifact.entities[ent_keep] if not ent_keep.all() else artifact.entities
    batch = settings.embedding_batch_size
    total = len(e_keys) * (2 if inner else 1) + len(r_keys) * (2 if artifact.reciprocal else 1)
    max_norm = None
    with progress(total, f"writing run {run_id}", "vec", show_progress) as bar:
        writer = _Writer(graph, batch, settings.embedding_write_threads, bar)
        try:
            writer.rows(names.entity, e_keys, e_ids, entities)
            if inner:
                # A batch at a time: never a second full copy of the entity table in memory.
                sq_max = float(np.einsum("ij,ij->i", entities, entities, dtype=np.float64).max())
                max_norm = sq_max**0.5
                for start in range(0, len(e_keys), batch):
                    aug = _augment_block(entities[start : start + batch], sq_max)
                    writer.rows(
                        names.augmented, e_keys[start : start + batch],
                        e_ids[start : start + batch], aug,
                    )  # fmt: skip
            if r_keys:
                writer.rows(names.relation, r_keys, r_ids, artifact.relations[rel_keep])
                if artifact.inverses is not None:
                    writer.rows(names.inverse, r_keys, r_ids, artifact.inverses[rel_keep])
        finally:
            writer.finish()
    return total, max_norm


def _augment_block(block: F32, sq_max: float) -> F32:
    """[e, sqrt(M² - |e|²)] per row, M the largest norm: euclidean nearest neighbours of [q, 0]
    among these are the rows of largest inner product with q, as |q - e'|² = |q|² + M² - 2 q·e.
    """
    sq = np.einsum("ij,ij->i", block, block, dtype=np.float64)
    extra = np.sqrt(np.maximum(sq_max - sq, 0.0)).astype(np.float32)[:, None]
    return np.ascontiguousarray(np.hstack([block, extra]))


def _summary_of(run: dict[str, Any], run_id: str, activated: bool) -> WriteSummary:
    return WriteSummary(
        run_id=run_id,
        model=str(run.get("model")),
        dim=int(run.get("dim") or 0),
        entities=int(run.get("entity_count") or 0),
        relations=int(run.get("relation_count") or 0),
        missing_entities=int(run.get("missing_entities") or 0),
        vectors=0,
        write_seconds=0.0,
        vectors_per_second=0.0,
        index=run.get("ann_index"),
        index_seconds=0.0,
        status="active" if activated else str(run.get("status")),
        activated=activated,
        already_written=True,
    )
