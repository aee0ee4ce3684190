"""Exact filtered rank-based evaluation (MRR, MR, Hits@k) over all entities.

For each test triple and side, every entity is scored as the missing head or tail. The
other entities that also form a known true triple (train, valid or test) are filtered out,
and the true entity's rank counts ties by their mean, the "realistic" rank of PyKEEN:
``rank = 1 + #{score > true} + #{score == true, other} / 2``. A score that is NaN counts as
better than the true one, so a broken model can never look good.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt
import torch
from torch import Tensor

from mmkg.platform.kge.models import KGEModel
from mmkg.platform.progress import progress

log = logging.getLogger(__name__)

IntArray = npt.NDArray[np.int64]
HITS_AT = (1, 3, 10)
SIDES = ("head", "tail")
# Scores, comparison masks and filter writes of one query row: about four float32 per entity.
_BYTES_PER_SCORE = 16


class FilterIndex:
    """For each ``(h, r)`` the known tails, and for each ``(r, t)`` the known heads (CSR)."""

    def __init__(self, known: IntArray, num_relations: int) -> None:
        self.num_relations = num_relations
        h, r, t = known[:, 0], known[:, 1], known[:, 2]
        self._tail = self._csr(h * num_relations + r, t)
        self._head = self._csr(t * num_relations + r, h)

    @staticmethod
    def _csr(keys: IntArray, values: IntArray) -> tuple[IntArray, IntArray]:
        order = np.argsort(keys, kind="stable")
        return keys[order], values[order]

    def positions(self, side: str, anchor: IntArray, rel: IntArray) -> tuple[IntArray, IntArray]:
        """``(row, entity)`` pairs to filter for a batch of queries (row = query position)."""
        keys, values = self._tail if side == "tail" else self._head
        query = anchor * self.num_relations + rel
        lo = np.searchsorted(keys, query, side="left")
        hi = np.searchsorted(keys, query, side="right")
        counts = hi - lo
        total = int(counts.sum())
        rows = np.repeat(np.arange(len(query)), counts)
        starts = np.repeat(lo - (np.cumsum(counts) - counts), counts)
        cols = values[starts + np.arange(total)]
        return rows, cols


@dataclass
class EvalResult:
    """Metrics per side and for both sides together, plus the raw realistic ranks."""

    metrics: dict[str, dict[str, float]]
    num_triples: int
    num_candidates: int
    seconds: float
    ranks: dict[str, npt.NDArray[np.float64]] = field(repr=False, default_factory=dict)
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def mrr(self) -> float:
        return self.metrics["both"]["mrr"]

    def to_dict(self) -> dict[str, Any]:
        return {
            **self.metrics["both"],
            "head": self.metrics["head"],
            "tail": self.metrics["tail"],
            "triples": self.num_triples,
            "candidates": self.num_candidates,
            "seconds": round(self.seconds, 3),
            **self.extra,
        }


def rank_metrics(ranks: npt.NDArray[np.float64]) -> dict[str, float]:
    if ranks.size == 0:
        return {
            "mrr": float("nan"),
            "mr": float("nan"),
            **{f"hits@{k}": float("nan") for k in HITS_AT},
        }
    return {
        "mrr": float(np.mean(1.0 / ranks)),
        "mr": float(np.mean(ranks)),
        **{f"hits@{k}": float(np.mean(ranks <= k)) for k in HITS_AT},
    }


def _ranks_of(scores: Tensor, target: Tensor, rows: Tensor, cols: Tensor) -> Tensor:
    true = scores.gather(1, target.unsqueeze(1))
    scores[rows, cols] = float("-inf")
    # The true entity itself is not a competitor (filtered or not).
    scores[torch.arange(len(target), device=scores.device), target] = float("-inf")
    nan = torch.isnan(scores)
    greater = (scores > true).sum(1) + nan.sum(1)
    equal = (scores == true).sum(1)
    ranks = 1.0 + greater.double() + equal.double() / 2.0
    # A NaN true score is worse than everything.
    return torch.where(torch.isnan(true.squeeze(1)), float(scores.shape[1]), ranks)


def auto_batch_size(model: KGEModel, budget_bytes: int = 256 << 20) -> int:
    per_query = model.num_entities * (
        _BYTES_PER_SCORE + model.interaction.pairwise_bytes_per_candidate()
    )
    return int(max(1, min(4096, budget_bytes // max(per_query, 1))))


def evaluate(
    model: KGEModel,
    triples: IntArray,
    filter_index: FilterIndex | None,
    batch_size: int = 0,
    show_progress: bool | None = None,
    desc: str = "evaluate",
) -> EvalResult:
    """Rank every triple of ``triples`` on both sides against all entities.

    ``filter_index=None`` gives raw (unfiltered) ranks.
    """
    started = time.perf_counter()
    batch = batch_size or auto_batch_size(model)
    device = model.entities.all().device
    n = len(triples)
    ranks: dict[str, npt.NDArray[np.float64]] = {}
    with progress(2 * n, desc, "query", show_progress) as bar:
        for side in SIDES:
            out = np.empty(n, dtype=np.float64)
            for lo in range(0, n, batch):
                chunk = triples[lo : lo + batch]
                h, r, t = (torch.from_numpy(chunk[:, i]).to(device) for i in range(3))
                if side == "tail":
                    scores, target, anchor = model.score_t(h, r), t, chunk[:, 0]
                else:
                    scores, target, anchor = model.score_h(r, t), h, chunk[:, 2]
                if filter_index is not None:
                    rows_np, cols_np = filter_index.positions(side, anchor, chunk[:, 1])
                else:
                    rows_np = cols_np = np.empty(0, dtype=np.int64)
                rows = torch.from_numpy(rows_np).to(device)
                cols = torch.from_numpy(cols_np).to(device)
                out[lo : lo + len(chunk)] = _ranks_of(scores, target, rows, cols).cpu().numpy()
                bar.update(len(chunk))
            ranks[side] = out
    both = np.concatenate([ranks["head"], ranks["tail"]])
    metrics = {"both": rank_metrics(both), **{s: rank_metrics(ranks[s]) for s in SIDES}}
    seconds = time.perf_counter() - started
    log.debug("evaluated %d triples in %.2f s (batch %d)", n, seconds, batch)
    return EvalResult(metrics, n, model.num_entities, seconds, ranks)
