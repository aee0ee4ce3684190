"""Fold-in: vectors for entities added since a run, without retraining it.

The base run's entity and relation vectors stay frozen; only the new rows are trained, on the
triples that link a new entity to the graph, against negatives that replace its known partner.
The base comes as a serving artefact (read back from Neo4j, so any worker can refresh) and the
result is a new artefact — the base's rows unchanged, the new rows appended — ready to be
written as a new versioned run.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any

import numpy as np
import numpy.typing as npt
import torch
import torch.nn.functional as F

from mmkg.platform.kge.artifact import ServingArtifact
from mmkg.platform.kge.interactions import build_interaction
from mmkg.platform.kge.specs import model_spec
from mmkg.platform.kge.triples import TripleSet

log = logging.getLogger(__name__)

# New entity ids -> their vectors from features, and which of them had any.
Placer = Callable[[list[str]], tuple[npt.NDArray[np.float32], npt.NDArray[np.bool_]]]


def fold_in(
    base: ServingArtifact,
    graph_triples: TripleSet,
    epochs: int = 100,
    lr: float = 0.1,
    negatives: int = 32,
    seed: int = 0,
    place: Placer | None = None,
) -> tuple[ServingArtifact | None, dict[str, Any]]:
    """``base`` plus trained rows for the entities of ``graph_triples`` it lacks.

    ``place`` (for a fused base) gives new entities their vectors from their features —
    ``place(new_ids)`` returns the vectors and which entities had features; those rows start
    there (cold start: an entity with only a description is served from it) and entities
    that also have triples are then refined on them like the others.

    Returns the new artefact (None when there is nothing new) and what was done.
    """
    started = time.perf_counter()
    known = {e: i for i, e in enumerate(base.entity_ids)}
    new_ids = [e for e in graph_triples.entity_ids if e not in known]
    info: dict[str, Any] = {"new_entities": len(new_ids)}
    if not new_ids:
        return None, info
    all_ids = base.entity_ids + new_ids
    index = {e: i for i, e in enumerate(all_ids)}
    n_old = len(base.entity_ids)
    rel_index = {r: i for i, r in enumerate(base.relation_names)}
    ent_map = np.array([index[e] for e in graph_triples.entity_ids], dtype=np.int64)
    rel_map = np.array([rel_index.get(r, -1) for r in graph_triples.relation_names], dtype=np.int64)
    t = graph_triples.triples
    h, r, tt = ent_map[t[:, 0]], rel_map[t[:, 1]], ent_map[t[:, 2]]
    touches_new = (h >= n_old) | (tt >= n_old)
    keep = (r >= 0) & touches_new
    triples = torch.from_numpy(np.stack([h[keep], r[keep], tt[keep]], axis=1))
    info["triples"] = len(triples)
    info["skipped_unknown_relation"] = int(((r < 0) & touches_new).sum())
    anchored = set(triples[:, 0].tolist()) | set(triples[:, 2].tolist())
    info["unanchored_entities"] = sum(1 for i in range(n_old, len(all_ids)) if i not in anchored)

    interaction = build_interaction(model_spec(base.model), base.dim, base.gamma)
    gen = torch.Generator().manual_seed(seed)
    old = torch.from_numpy(base.entities)
    scale = float(old.norm(dim=1).mean()) / max(old.shape[1] ** 0.5, 1.0)
    start = torch.randn(len(new_ids), old.shape[1], generator=gen) * scale
    if place is not None:
        placed, has = place(new_ids)
        start[torch.from_numpy(has)] = torch.from_numpy(placed[has])
        info["placed_from_features"] = int(has.sum())
    new = torch.nn.Parameter(start)
    rel = torch.from_numpy(base.relations)  # already as the formula uses them
    optimizer = torch.optim.Adagrad([new], lr=lr)
    losses: list[float] = []
    if len(triples):
        for _ in range(epochs):
            table = torch.cat([old, new])
            hv, rv, tv = table[triples[:, 0]], rel[triples[:, 1]], table[triples[:, 2]]
            pos = interaction.score(hv, rv, tv)
            # Replace the known side (the new side is what learns): [B, K] corrupted partners.
            corrupt = torch.randint(0, n_old, (len(triples), negatives), generator=gen)
            head_is_new = (triples[:, 0] >= n_old).unsqueeze(1)
            nh = torch.where(head_is_new, triples[:, :1], corrupt)
            nt = torch.where(head_is_new, corrupt, triples[:, 2:3])
            neg = interaction.score(table[nh], rv.unsqueeze(1), table[nt])
            loss = F.softplus(-pos).mean() + F.softplus(neg).mean()
            optimizer.zero_grad()
            loss.backward()  # type: ignore[no-untyped-call]
            optimizer.step()
            losses.append(float(loss))
    info.update(
        epochs=epochs,
        first_loss=round(losses[0], 4) if losses else None,
        last_loss=round(losses[-1], 4) if losses else None,
        seconds=round(time.perf_counter() - started, 3),
    )
    new_keys = None
    if base.entity_keys is not None and graph_triples.entity_keys is not None:
        key_of = dict(zip(graph_triples.entity_ids, graph_triples.entity_keys, strict=True))
        new_keys = base.entity_keys + [key_of[e] for e in new_ids]
    grown = np.ascontiguousarray(torch.cat([old, new.detach()]).numpy(), dtype=np.float32)
    out = base.with_entities(all_ids, grown, new_keys)
    # The base's rows are unchanged, so its evaluation still describes them.
    out.metrics = {**base.metrics, "fold_in": info}
    log.info("folded in %d entities", len(new_ids))
    return out, info
