"""A knowledge-aware recommender: users and items in one space, items built from their
knowledge-graph representation and media, trained on the interactions (BPR).

An item's vector is its free embedding (items with interactions only) plus the mean of its
available modalities — its facts (the mean of learned embeddings of its neighbours in the
graph), projections of the serving run's knowledge-graph embedding, of its text vector (name and
description) and of its pooled image features — so an item no
user has touched yet still has a vector from what the graph knows about it. A modality an item
lacks is left out of its mean (never a zero vector posing as data). During training the free
embedding of a warm item is dropped at random (DropoutNet's idea), so the projections must carry
the signal on their own, as they will for a cold item. Scores are inner products
``<user, item>``: link prediction on INTERACTED with a DistMult relation of ones, which is how
the plugin serves it.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt
import torch
from torch import nn

from mmkg.platform.progress import progress

log = logging.getLogger(__name__)

MIN_STEPS = 10
F32 = npt.NDArray[np.float32]
I64 = npt.NDArray[np.int64]


@dataclass
class ItemFeatures:
    name: str  # "structure", "text", "image"
    values: F32  # [items, width], unit rows where present
    mask: npt.NDArray[np.bool_]
    source: str


@dataclass
class ItemFacts:
    """Each item's neighbours in the graph (its facts' other ends, either direction), as
    indices into ``vocabulary``, padded with ``-1``: the "facts" modality, embedded per
    neighbour and averaged, so two films sharing a genre, a country or an actor share part of
    their vector — whether or not anyone has interacted with them."""

    neighbours: I64  # [items, width]
    vocabulary: list[str]

    @property
    def mask(self) -> npt.NDArray[np.bool_]:
        return np.asarray((self.neighbours >= 0).any(axis=1))


@dataclass
class FitConfig:
    dim: int = 64
    epochs: int = 40
    batch_size: int = 1024
    lr: float = 0.005
    negatives: int = 8
    l2: float = 1e-4
    item_dropout: float = 0.5  # how often a warm item's free embedding is hidden in training
    use_free_item: bool = True  # False: features only
    use_features: bool = True  # False: plain matrix factorisation (the collaborative baseline)
    patience: int = 3  # epochs without a better validation Hits@10 before stopping
    seed: int = 0


@dataclass
class FitResult:
    users: F32
    items: F32
    seconds: float
    history: list[float] = field(default_factory=list)
    valid_hits: list[float] = field(default_factory=list)  # Hits@10 after each epoch
    best_epoch: int | None = None
    features: list[dict[str, Any]] = field(default_factory=list)


class HybridMF(nn.Module):
    def __init__(
        self,
        n_users: int,
        features: list[ItemFeatures],
        warm: npt.NDArray[np.bool_],
        config: FitConfig,
        facts: ItemFacts | None = None,
    ) -> None:
        super().__init__()
        d = config.dim
        n_items = len(warm)
        self.user = nn.Embedding(n_users, d)
        self.item = nn.Embedding(n_items, d)
        nn.init.normal_(self.user.weight, std=0.1)
        nn.init.normal_(self.item.weight, std=0.1)
        self.features = features if config.use_features else []
        self.values = [torch.from_numpy(f.values) for f in self.features]
        self.masks = [torch.from_numpy(f.mask.astype(np.float32)) for f in self.features]
        self.proj = nn.ModuleList(
            nn.Linear(f.values.shape[1], d, bias=False) for f in self.features
        )
        self.warm = torch.from_numpy(warm.astype(np.float32)) * float(config.use_free_item)
        self.facts = facts if config.use_features else None
        if self.facts is not None:
            pad = len(self.facts.vocabulary)
            nb = self.facts.neighbours
            self.neighbours = torch.from_numpy(np.where(nb >= 0, nb, pad))
            self.fact_mask = torch.from_numpy(self.facts.mask.astype(np.float32))
            self.fact = nn.Embedding(pad + 1, d, padding_idx=pad)
            nn.init.normal_(self.fact.weight, std=0.1)
            with torch.no_grad():
                self.fact.weight[pad] = 0.0

    def item_vectors(self, idx: torch.Tensor, drop: float = 0.0) -> torch.Tensor:
        free = self.item(idx) * self.warm[idx, None]
        if drop > 0:
            free = free * (torch.rand(len(idx), 1) >= drop).float()
        if not self.proj and self.facts is None:
            return free  # type: ignore[no-any-return]
        total = torch.zeros_like(free)
        count = torch.zeros(len(idx), 1)
        if self.facts is not None:
            nb = self.neighbours[idx]
            n = torch.ne(nb, len(self.facts.vocabulary)).sum(1, keepdim=True).clamp(min=1)
            m = self.fact_mask[idx, None]
            total = total + self.fact(nb).sum(1) / n * m
            count = count + m
        for values, mask, proj in zip(self.values, self.masks, self.proj, strict=True):
            m = mask[idx, None]
            total = total + proj(values[idx]) * m
            count = count + m
        return free + total / count.clamp(min=1.0)  # type: ignore[no-any-return]

    def all_items(self) -> torch.Tensor:
        return self.item_vectors(torch.arange(self.item.num_embeddings))


def _vectors(model: HybridMF) -> tuple[F32, F32]:
    with torch.no_grad():
        return (
            model.user.weight.detach().numpy().astype(np.float32).copy(),
            model.all_items().numpy().astype(np.float32),
        )


def hits_at_10(
    user_vecs: F32, item_vecs: F32, held: tuple[I64, I64], users: I64, items: I64
) -> float:
    """The share of held-out (user, item) pairs whose item is in the user's top 10, the user's
    training items excluded."""
    hu, hi = held
    if len(hu) == 0:
        return 0.0
    scores = user_vecs[hu] @ item_vecs.T
    row = {int(u): r for r, u in enumerate(hu)}
    for u, i in zip(users, items, strict=True):
        r = row.get(int(u))
        if r is not None:
            scores[r, i] = -np.inf
    target = scores[np.arange(len(hu)), hi]
    better = (scores > target[:, None]).sum(1)
    return float((better < 10).mean())


def fit(
    users: I64,
    items: I64,
    n_users: int,
    features: list[ItemFeatures],
    n_items: int,
    config: FitConfig,
    show_progress: bool | None = None,
    facts: ItemFacts | None = None,
    valid: tuple[I64, I64] | None = None,
) -> FitResult:
    """Train on interactions ``(users[i], items[i])`` (indices) over a catalogue of
    ``n_items`` items; candidates for the negatives are the whole catalogue.

    ``valid`` (users, items): held-out interactions (each user's last, say); after every epoch
    their Hits@10 is measured (training items excluded), and the best epoch's vectors are kept
    — training stops after ``config.patience`` epochs without improvement."""
    torch.manual_seed(config.seed)
    rng = np.random.default_rng(config.seed)
    warm = np.zeros(n_items, dtype=bool)
    warm[items] = True
    model = HybridMF(n_users, features, warm, config, facts)
    opt = torch.optim.Adam(model.parameters(), lr=config.lr)
    u_all = torch.from_numpy(users)
    i_all = torch.from_numpy(items)
    n = len(users)
    # At least MIN_STEPS steps an epoch: a small log still trains in a few epochs, and early
    # stopping sees progress between them.
    batch = min(config.batch_size, max(32, -(-n // MIN_STEPS)))
    history = []
    validation: list[float] = []
    best: tuple[float, int, F32, F32] | None = None
    started = time.perf_counter()
    with progress(config.epochs, "fitting the recommender", "epoch", show_progress) as bar:
        for epoch in range(config.epochs):
            order = torch.from_numpy(rng.permutation(n))
            total = 0.0
            for lo in range(0, n, batch):
                b = order[lo : lo + batch]
                u, pos = u_all[b], i_all[b]
                neg = torch.from_numpy(rng.integers(0, n_items, (len(b), config.negatives)))
                pu = model.user(u)
                vp = model.item_vectors(pos, config.item_dropout)
                vn = model.item_vectors(neg.reshape(-1), config.item_dropout).reshape(
                    len(b), config.negatives, -1
                )
                sp = (pu * vp).sum(-1, keepdim=True)
                sn = torch.einsum("bd,bkd->bk", pu, vn)
                loss = nn.functional.softplus(sn - sp).mean()
                loss = loss + config.l2 * (pu.pow(2).sum(-1).mean() + vp.pow(2).sum(-1).mean())
                opt.zero_grad()
                loss.backward()
                opt.step()
                total += float(loss.detach()) * len(b)
            history.append(round(total / max(n, 1), 5))
            bar.update(1)
            if valid is None:
                continue
            u_vecs, i_vecs = _vectors(model)
            hits = hits_at_10(u_vecs, i_vecs, valid, users, items)
            validation.append(round(hits, 4))
            if best is None or hits > best[0]:
                best = (hits, epoch, u_vecs, i_vecs)
            elif epoch - best[1] >= config.patience:
                break
    if best is not None:
        _, _, user_vecs, item_vecs = best
    else:
        user_vecs, item_vecs = _vectors(model)
    seconds = time.perf_counter() - started
    log.info("recommender fitted in %.1fs (loss %s → %s)", seconds, history[:1], history[-1:])
    return FitResult(
        user_vecs,
        item_vecs,
        round(seconds, 2),
        history,
        validation,
        None if best is None else best[1] + 1,
        [{"name": f.name, "source": f.source, "items": int(f.mask.sum())} for f in model.features]
        + (
            [
                {
                    "name": "facts",
                    "source": "graph",
                    "items": int(facts.mask.sum()),
                    "neighbours": len(facts.vocabulary),
                }
            ]
            if model.facts is not None and facts is not None
            else []
        ),
    )
