"""Reading a written run back from Neo4j as a serving artefact.

Fold-in and the scheduled refresh start from the base run's own vectors in the graph, so any
worker that reaches the server can refresh, whatever machine trained the run.
"""

from __future__ import annotations

import json
import logging
from typing import Any

import numpy as np

from mmkg.errors import RunCorruptError, RunNotReadyError, UnknownRunError
from mmkg.graph_schema import queries as Q
from mmkg.graph_schema.model import ENTITY, RELATION_TYPE
from mmkg.platform.kge.artifact import F32, FusionHead, ServingArtifact
from mmkg.platform.kge.specs import model_spec
from mmkg.platform.serving.calls import call_read
from mmkg.platform.serving.runs import get_run
from mmkg.platform.store import Graph

log = logging.getLogger(__name__)

_BATCH = 10_000


def _read_table(graph: Graph, prop: str, label: str, dim: int) -> tuple[list[str], list[str], F32]:
    ids: list[str] = []
    keys: list[str] = []
    blocks: list[F32] = []
    for row in call_read(
        graph, Q.READ_VECTORS, {"property": prop, "label": label, "batch": _BATCH}
    ):
        if int(row["dim"]) != dim:
            raise RunCorruptError(f"{prop}: vectors of dimension {row['dim']}, the run says {dim}")
        ids.extend(row["ids"])
        keys.extend(row["keys"])
        blocks.append(np.frombuffer(row["data"], dtype="<f4").reshape(-1, dim))
    table = np.concatenate(blocks) if blocks else np.empty((0, dim), dtype=np.float32)
    return ids, keys, np.ascontiguousarray(table, dtype=np.float32)


def _json(run: dict[str, Any], key: str) -> dict[str, Any]:
    value = run.get(key)
    if isinstance(value, dict):
        return value
    if isinstance(value, str) and value:
        loaded = json.loads(value)
        return loaded if isinstance(loaded, dict) else {}
    return {}


def read_artifact(graph: Graph, run_id: str) -> ServingArtifact:
    """The vectors and settings of written run ``run_id``, as write-back would take them.

    Raises:
        UnknownRunError / RunNotReadyError: no such run, or its write did not finish.
    """
    run = get_run(graph, run_id)
    if run is None:
        raise UnknownRunError(f"unknown embedding run {run_id!r}")
    if run.get("status") not in ("ready", "active"):
        raise RunNotReadyError(
            f"embedding run {run_id!r} is {run.get('status')!r}, not ready: write it again first"
        )
    dim = int(run["dim"])
    entity_ids, entity_keys, entities = _read_table(graph, run["entity_property"], ENTITY, dim)
    rel_names, rel_keys, relations = _read_table(
        graph, run["relation_property"], RELATION_TYPE, dim
    )
    inverses = None
    if run.get("reciprocal"):
        inv_names, _, inv = _read_table(graph, run["inverse_property"], RELATION_TYPE, dim)
        position = {n: i for i, n in enumerate(inv_names)}
        missing = [n for n in rel_names if n not in position]
        if missing:
            raise RunCorruptError(
                f"run {run_id!r}: relations without inverse vectors: {missing[:3]}"
            )
        inverses = inv[[position[n] for n in rel_names]]
    spec = model_spec(str(run["model"]))
    log.info("read run %s back: %d entities, %d relations", run_id, len(entity_ids), len(rel_names))
    return ServingArtifact(
        model=spec.name,
        dim=dim,
        gamma=float(run.get("gamma") or 0.0),
        capabilities=spec.capabilities,
        reciprocal=bool(run.get("reciprocal")),
        entity_ids=entity_ids,
        entities=entities,
        relation_names=rel_names,
        relations=relations,
        inverses=inverses,
        params=_json(run, "params"),
        metrics=_json(run, "metrics"),
        entity_keys=entity_keys,
        relation_keys=rel_keys,
        encoders={k: str(v) for k, v in _json(run, "encoders").items()},
        fusion=_fusion_head(graph, run_id) if run.get("fusion_head") else None,
    )


def _fusion_head(graph: Graph, run_id: str) -> FusionHead:
    rows = graph.read(Q.RUN_FUSION_HEAD, {"id": run_id})
    return FusionHead.from_bytes(bytes(rows[0]["head"]))
