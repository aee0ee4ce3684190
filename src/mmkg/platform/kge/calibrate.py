"""Turning a model's tail scores into probabilities: one softmax temperature fitted on held-out
triples.

A score says which tail is more plausible, not how likely it is to be right. Question answering
reports a predicted answer with a probability, so training fits the temperature ``T`` that makes
``softmax(score / T)`` over all entities (known other tails filtered out, as in evaluation) the
best predictor of the validation triples' true tails (least negative log-likelihood), and stores
it with the run's metrics. Temperature scaling keeps the ranking and is the calibration with the
fewest parameters to overfit (Guo et al., 2017).
"""

from __future__ import annotations

import logging
import math
from typing import Any

import numpy as np
import torch

from mmkg.platform.kge.evaluate import FilterIndex, auto_batch_size
from mmkg.platform.kge.models import KGEModel
from mmkg.platform.kge.triples import IntArray

log = logging.getLogger(__name__)

MAX_TRIPLES = 2000
# Log-spaced grid, then golden-section refinement: the NLL is smooth and unimodal in log T.
GRID = np.exp(np.linspace(math.log(1e-3), math.log(1e3), 49))


def _nll(scores: list[torch.Tensor], targets: list[torch.Tensor], temperature: float) -> float:
    total, n = 0.0, 0
    for s, t in zip(scores, targets, strict=True):
        logp = torch.log_softmax(s / temperature, dim=1)
        total -= float(logp.gather(1, t.unsqueeze(1)).sum())
        n += len(t)
    return total / max(n, 1)


def fit_temperature(
    model: KGEModel,
    triples: IntArray,
    filter_index: FilterIndex | None,
    max_triples: int = MAX_TRIPLES,
    seed: int = 0,
) -> dict[str, Any] | None:
    """The temperature of tail predictions fitted on (a sample of) ``triples``, or None when
    there are none. The result goes into the run's metrics as ``calibration``."""
    if len(triples) == 0:
        return None
    if len(triples) > max_triples:
        pick = np.random.default_rng(seed).choice(len(triples), max_triples, replace=False)
        triples = triples[np.sort(pick)]
    device = model.entities.all().device
    batch = auto_batch_size(model)
    scores: list[torch.Tensor] = []
    targets: list[torch.Tensor] = []
    with torch.no_grad():
        for lo in range(0, len(triples), batch):
            chunk = triples[lo : lo + batch]
            h, r, t = (torch.from_numpy(chunk[:, i]).to(device) for i in range(3))
            s = model.score_t(h, r).float()
            if filter_index is not None:
                rows, cols = filter_index.positions("tail", chunk[:, 0], chunk[:, 1])
                keep = s.gather(1, t.unsqueeze(1))
                s[torch.from_numpy(rows).to(device), torch.from_numpy(cols).to(device)] = -1e30
                s.scatter_(1, t.unsqueeze(1), keep)  # the true tail is not its own competitor
            scores.append(torch.nan_to_num(s, nan=-1e30).cpu())
            targets.append(t.cpu())
    losses = [_nll(scores, targets, float(T)) for T in GRID]
    best = int(np.argmin(losses))
    lo_t = math.log(GRID[max(best - 1, 0)])
    hi_t = math.log(GRID[min(best + 1, len(GRID) - 1)])
    ratio = (math.sqrt(5) - 1) / 2
    for _ in range(20):
        a, b = hi_t - ratio * (hi_t - lo_t), lo_t + ratio * (hi_t - lo_t)
        if _nll(scores, targets, math.exp(a)) <= _nll(scores, targets, math.exp(b)):
            hi_t = b
        else:
            lo_t = a
    temperature = math.exp((lo_t + hi_t) / 2)
    nll = _nll(scores, targets, temperature)
    top1 = [s.argmax(1) == t for s, t in zip(scores, targets, strict=True)]
    confidence = [torch.softmax(s / temperature, 1).max(1).values for s in scores]
    out = {
        "temperature": round(temperature, 6),
        "nll": round(nll, 4),
        "nll_at_1": round(_nll(scores, targets, 1.0), 4),
        "triples": len(triples),
        "side": "tail",
        "hits_at_1": round(float(torch.cat(top1).float().mean()), 4),
        "mean_confidence": round(float(torch.cat(confidence).mean()), 4),
    }
    log.debug("calibration: %s", out)
    return out


def probabilities(scores: list[float], temperature: float) -> list[float]:
    """``softmax(scores / T)`` over the given candidates: their share of the probability the
    model gives these candidates (an upper bound of its share over all entities)."""
    if not scores:
        return []
    x = np.asarray(scores, dtype=np.float64) / max(temperature, 1e-12)
    x = np.exp(x - x.max())
    return [float(v) for v in x / x.sum()]
