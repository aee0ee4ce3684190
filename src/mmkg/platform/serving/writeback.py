"""``mmkg embeddings write``: a trained run's vectors onto the graph, as a new versioned run.

The write never disturbs serving: vectors go to properties named for this run, the vector
index is built after they are all in, and only then is the run marked ready (and, if asked,
made active by moving the serving pointer in one transaction). A write that dies midway leaves
a run in status ``writing`` that nothing serves; writing it again finishes it.
"""

from __future__ import annotations

import hashlib
import json
import logging
import time
import uuid
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import torch

from mmkg.errors import DataError
from mmkg.graph_schema import queries as Q
from mmkg.graph_schema.model import ENTITY
from mmkg.platform.kge.models import model_spec
from mmkg.platform.kge.run_dir import load_model, read_config, read_json
from mmkg.platform.progress import progress
from mmkg.platform.schema import apply_schema
from mmkg.platform.serving.naming import RunNames, check_run_id, default_run_id
from mmkg.platform.serving.runs import activate_run, clear_property, get_run
from mmkg.platform.store import Graph
from mmkg.settings import Settings

log = logging.getLogger(__name__)

F32 = npt.NDArray[np.float32]


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


@dataclass
class _Tables:
    """What a run serves: entity rows, prepared relation rows (and inverses), in graph order."""

    model: str
    gamma: float
    reciprocal: bool
    entity_ids: list[str]
    entities: F32
    relation_names: list[str]
    relations: F32
    inverses: F32 | None
    params: dict[str, Any]
    metrics: dict[str, Any]

    @property
    def bilinear(self) -> bool:
        return self.model in ("distmult", "complex")

    def digest(self) -> str:
        h = hashlib.sha256(self.model.encode())
        for part in (self.entities, self.relations, self.inverses):
            if part is not None:
                h.update(np.ascontiguousarray(part).tobytes())
        h.update("\n".join(self.entity_ids + self.relation_names).encode("utf-8"))
        return h.hexdigest()[:20]


def _load_tables(run_dir: Path) -> _Tables:
    if not run_dir.is_dir():
        raise DataError(f"{run_dir} is not a run folder (make one with `mmkg train`)")
    model, entity_ids, relation_names = load_model(run_dir)
    config, _ = read_config(run_dir)
    spec = model_spec(config.model)
    with torch.no_grad():
        # Serving uses the relation as the formula sees it (RotatE: cos/sin of the phase).
        prepared = model.interaction.prepare_relation(model.relations.all()).cpu().numpy()
    prepared = np.ascontiguousarray(prepared, dtype=np.float32)
    n_rel = len(relation_names)
    metrics_file = run_dir / "metrics.json"
    return _Tables(
        model=spec.name,
        gamma=float(config.gamma),
        reciprocal=bool(config.reciprocal),
        entity_ids=entity_ids,
        entities=np.ascontiguousarray(model.entities.to_numpy(), dtype=np.float32),
        relation_names=relation_names,
        relations=prepared[:n_rel],
        inverses=prepared[n_rel : 2 * n_rel] if config.reciprocal else None,
        params=config.model_dump(mode="json"),
        metrics=read_json(metrics_file) if metrics_file.is_file() else {},
    )


def _node_ids(graph: Graph, query: str, key: str, wanted: list[str]) -> list[int | None]:
    rows = graph.read(query)
    found = dict(zip(rows[0][key], rows[0]["nids"], strict=True)) if rows else {}
    return [found.get(w) for w in wanted]


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

    def _one(self, prop: str, nids: list[int], block: F32) -> None:
        params = {"property": prop, "nids": nids, "data": block.tobytes(), "dim": block.shape[1]}
        self.graph.write(Q.WRITE_VECTORS, params)
        self.bar.update(len(nids))

    def rows(self, prop: str, nids: list[int], rows: F32) -> None:
        for start in range(0, len(nids), self.batch):
            block = np.ascontiguousarray(rows[start : start + self.batch], dtype="<f4")
            if len(self.pending) >= self.limit:
                self.pending.pop(0).result()
            self.pending.append(
                self.pool.submit(self._one, prop, nids[start : start + self.batch], block)
            )

    def finish(self) -> None:
        try:
            for future in self.pending:
                future.result()  # re-raises the first failed batch's error
        finally:
            self.pool.shutdown(wait=True, cancel_futures=True)


def write_run(
    graph: Graph,
    run_dir: Path,
    settings: Settings,
    *,
    run_id: str | None = None,
    activate: bool = False,
    allow_missing: bool = False,
    index: bool = True,
    show_progress: bool | None = None,
) -> WriteSummary:
    """Write run folder ``run_dir``'s embeddings onto the graph as embedding run ``run_id``.

    Raises:
        DataError: when the folder is no finished run, entities or relations of the run are
            missing from the graph (unless ``allow_missing``), or the id is taken by a different
            run.
    """
    run_id = check_run_id(run_id or default_run_id(run_dir.resolve().name))
    tables = _load_tables(run_dir)
    names = RunNames.for_run(run_id)
    digest = tables.digest()
    apply_schema(graph)

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

    entity_nids = _node_ids(graph, Q.ENTITY_NODE_IDS, "ids", tables.entity_ids)
    relation_nids = _node_ids(graph, Q.RELATION_NODE_IDS, "names", tables.relation_names)
    _check_missing("entities", tables.entity_ids, entity_nids, allow_missing, run_dir)
    _check_missing("relations", tables.relation_names, relation_nids, allow_missing, run_dir)
    ent_keep = np.array([n is not None for n in entity_nids], dtype=bool)
    rel_keep = np.array([n is not None for n in relation_nids], dtype=bool)
    ent_nids = [int(n) for n in entity_nids if n is not None]
    rel_nids = [int(n) for n in relation_nids if n is not None]
    if not ent_nids:
        raise DataError(f"none of the {len(entity_nids)} entities of {run_dir} is in the graph")

    token = uuid.uuid4().hex
    dim = int(tables.entities.shape[1])
    ann_property = names.augmented if tables.bilinear else names.entity
    props: dict[str, Any] = {
        "key": names.key,
        "token": token,
        "digest": digest,
        "model": tables.model,
        "dim": dim,
        "gamma": tables.gamma,
        "reciprocal": tables.reciprocal,
        "params": json.dumps(tables.params, sort_keys=True),
        "metrics": json.dumps(tables.metrics, sort_keys=True),
        "source": str(run_dir.resolve()),
        "entity_property": names.entity,
        "ann_property": ann_property if index else None,
        "ann_index": names.index if index else None,
        "relation_property": names.relation,
        "inverse_property": names.inverse if tables.reciprocal else None,
        "entity_count": len(ent_nids),
        "relation_count": len(rel_nids),
        "missing_entities": len(entity_nids) - len(ent_nids),
    }
    graph.write(Q.BEGIN_RUN, {"id": run_id, "props": props})
    # Left over from an interrupted write of this id: build the index afresh after the data.
    graph.run_autocommit(Q.drop_index(names.index))
    if existing is not None and existing.get("digest") != digest:
        for label, prop in ((ENTITY, names.entity), (ENTITY, names.augmented)):
            clear_property(graph, label, prop)

    batch = settings.embedding_batch_size
    entities = tables.entities[ent_keep]
    total = len(ent_nids) * (2 if tables.bilinear else 1) + len(rel_nids) * (
        2 if tables.reciprocal else 1
    )
    started = time.perf_counter()
    max_norm = None
    with progress(total, f"writing run {run_id}", "vec", show_progress) as bar:
        writer = _Writer(graph, batch, settings.embedding_write_threads, bar)
        try:
            writer.rows(names.entity, ent_nids, entities)
            if tables.bilinear:
                # A batch at a time: never a second full copy of the entity table in memory.
                sq_max = float(np.einsum("ij,ij->i", entities, entities, dtype=np.float64).max())
                max_norm = sq_max**0.5
                for start in range(0, len(ent_nids), batch):
                    aug = _augment_block(entities[start : start + batch], sq_max)
                    writer.rows(names.augmented, ent_nids[start : start + batch], aug)
            if rel_nids:
                writer.rows(names.relation, rel_nids, tables.relations[rel_keep])
                if tables.inverses is not None:
                    writer.rows(names.inverse, rel_nids, tables.inverses[rel_keep])
        finally:
            writer.finish()
    write_seconds = time.perf_counter() - started

    index_seconds = 0.0
    if index:
        started = time.perf_counter()
        width = dim + 1 if tables.bilinear else dim
        graph.run_autocommit(
            Q.create_vector_index(
                names.index,
                ann_property,
                width,
                settings.vector_index_m,
                settings.vector_index_ef_construction,
                settings.vector_index_quantization,
            )
        )
        log.info("building vector index %s over %d entities", names.index, len(ent_nids))
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
        model=tables.model,
        dim=dim,
        entities=len(ent_nids),
        relations=len(rel_nids),
        missing_entities=len(entity_nids) - len(ent_nids),
        vectors=total,
        write_seconds=round(write_seconds, 3),
        vectors_per_second=round(total / write_seconds, 1) if write_seconds > 0 else 0.0,
        index=names.index if index else None,
        index_seconds=round(index_seconds, 3),
        status="active" if activate else "ready",
        activated=activate,
    )


def _augment_block(block: F32, sq_max: float) -> F32:
    """[e, sqrt(M² - |e|²)] per row, M the largest norm: euclidean nearest neighbours of [q, 0]
    among these are the rows of largest inner product with q, as |q - e'|² = |q|² + M² - 2 q·e.
    """
    sq = np.einsum("ij,ij->i", block, block, dtype=np.float64)
    extra = np.sqrt(np.maximum(sq_max - sq, 0.0)).astype(np.float32)[:, None]
    return np.ascontiguousarray(np.hstack([block, extra]))


def _check_missing(
    what: str, wanted: list[str], nids: list[int | None], allow: bool, run_dir: Path
) -> None:
    missing = [w for w, n in zip(wanted, nids, strict=True) if n is None]
    if not missing:
        return
    sample = ", ".join(repr(m) for m in missing[:5])
    if allow:
        log.warning(
            "%d %s of %s are not in the graph and get no vector (%s)",
            len(missing),
            what,
            run_dir,
            sample,
        )
        return
    raise DataError(
        f"{len(missing)} of {len(wanted)} {what} of {run_dir} are not in the graph "
        f"(e.g. {sample}); load them first, or pass --allow-missing to write the others"
    )


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
