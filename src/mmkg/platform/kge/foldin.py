"""Fold-in: vectors for entities added since a run, without retraining it.

The base run's entity and relation vectors stay frozen; only the new rows are trained, on the
triples that link a new entity to the graph, against negatives that replace its known partner.
The result is a new run folder (the base's rows unchanged, the new rows appended), ready for
``mmkg embeddings write`` as a new versioned run.
"""

from __future__ import annotations

import logging
import shutil
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from mmkg.errors import DataError
from mmkg.platform.export import TripleExport
from mmkg.platform.kge.data import KGDataset, write_id_maps
from mmkg.platform.kge.run_dir import (
    CONFIG,
    ENTITY_EMB,
    RELATION_EMB,
    load_model,
    read_json,
    save_array,
    write_json,
)

log = logging.getLogger(__name__)


def fold_in(
    base_run: Path,
    export: TripleExport,
    out: Path,
    epochs: int = 100,
    lr: float = 0.1,
    negatives: int = 32,
    seed: int = 0,
) -> dict[str, Any]:
    """Write run folder ``out``: ``base_run`` plus trained rows for the entities of ``export``
    it lacks. Returns what was done; ``new_entities == 0`` writes nothing.

    Raises:
        DataError: when ``out`` already holds another run.
    """
    started = time.perf_counter()
    model, entity_ids, relation_names = load_model(base_run)
    known = {e: i for i, e in enumerate(entity_ids)}
    new_ids = [e for e in export.entity_ids if e not in known]
    info: dict[str, Any] = {"base": str(base_run), "new_entities": len(new_ids)}
    if not new_ids:
        return info
    if out.exists() and any(out.iterdir()):
        raise DataError(f"{out} already holds files; fold-in writes a new run folder")
    all_ids = entity_ids + new_ids
    index = {e: i for i, e in enumerate(all_ids)}
    n_old = len(entity_ids)
    rel_index = {r: i for i, r in enumerate(relation_names)}
    ent_map = np.array([index[e] for e in export.entity_ids], dtype=np.int64)
    rel_map = np.array([rel_index.get(r, -1) for r in export.relation_names], dtype=np.int64)
    t = export.triples
    h, r, tt = ent_map[t[:, 0]], rel_map[t[:, 1]], ent_map[t[:, 2]]
    keep = (r >= 0) & ((h >= n_old) | (tt >= n_old))
    triples = torch.from_numpy(np.stack([h[keep], r[keep], tt[keep]], axis=1))
    info["triples"] = len(triples)
    info["skipped_unknown_relation"] = int(((r < 0) & ((h >= n_old) | (tt >= n_old))).sum())
    anchored = set(triples[:, 0].tolist()) | set(triples[:, 2].tolist())
    info["unanchored_entities"] = sum(1 for i in range(n_old, len(all_ids)) if i not in anchored)

    gen = torch.Generator().manual_seed(seed)
    old = torch.from_numpy(model.entities.to_numpy()).float()
    scale = float(old.norm(dim=1).mean()) / max(old.shape[1] ** 0.5, 1.0)
    new = torch.nn.Parameter(torch.randn(len(new_ids), old.shape[1], generator=gen) * scale)
    rel = model.interaction.prepare_relation(model.relations.all().float()).detach()
    optimizer = torch.optim.Adagrad([new], lr=lr)
    interaction = model.interaction
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
    out.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(base_run / CONFIG, out / CONFIG)
    ids = KGDataset(
        entity_ids=all_ids,
        relation_names=relation_names,
        train=np.empty((0, 3), dtype=np.int64),
        valid=np.empty((0, 3), dtype=np.int64),
        test=np.empty((0, 3), dtype=np.int64),
        source="fold-in",
    )
    write_id_maps(ids, out)
    save_array(out / ENTITY_EMB, torch.cat([old, new.detach()]).numpy().astype(np.float32))
    save_array(out / RELATION_EMB, model.relations.to_numpy())
    base_metrics = (
        read_json(base_run / "metrics.json") if (base_run / "metrics.json").is_file() else {}
    )
    info.update(
        epochs=epochs,
        first_loss=round(losses[0], 4) if losses else None,
        last_loss=round(losses[-1], 4) if losses else None,
        seconds=round(time.perf_counter() - started, 3),
    )
    # The base's rows are unchanged, so its evaluation still describes them.
    write_json(out / "metrics.json", {**base_metrics, "fold_in": info})
    log.info("folded in %d entities on top of %s", len(new_ids), base_run)
    return info
