"""A knowledge-aware recommender: users and items in one space, items built from their
knowledge-graph representation and media, trained on the interactions (BPR).

An item's vector is its free embedding (items with interactions only) plus the mean of its
available modality projections — the knowledge-graph embedding of the serving run (the item's
facts), its text vector (name and description) and its pooled image features — so an item no
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

F32 = npt.NDArray[np.float32]
I64 = npt.NDArray[np.int64]


@dataclass
class ItemFeatures:
    name: str  # "structure", "text", "image"
    values: F32  # [items, width], unit rows where present
    mask: npt.NDArray[np.bool_]
    source: str


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
    seed: int = 0


@dataclass
class FitResult:
    users: F32
    items: F32
    seconds: float
    history: list[float] = field(default_factory=list)
    features: list[dict[str, Any]] = field(default_factory=list)


class HybridMF(nn.Module):
    def __init__(
        self,
        n_users: int,
        features: list[ItemFeatures],
        warm: npt.NDArray[np.bool_],
        config: FitConfig,
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

    def item_vectors(self, idx: torch.Tensor, drop: float = 0.0) -> torch.Tensor:
        free = self.item(idx) * self.warm[idx, None]
        if drop > 0:
            free = free * (torch.rand(len(idx), 1) >= drop).float()
        if not self.proj:
            return free  # type: ignore[no-any-return]
        total = torch.zeros_like(free)
        count = torch.zeros(len(idx), 1)
        for values, mask, proj in zip(self.values, self.masks, self.proj, strict=True):
            m = mask[idx, None]
            total = total + proj(values[idx]) * m
            count = count + m
        return free + total / count.clamp(min=1.0)  # type: ignore[no-any-return]

    def all_items(self) -> torch.Tensor:
        return self.item_vectors(torch.arange(self.item.num_embeddings))


def fit(
    users: I64,
    items: I64,
    n_users: int,
    features: list[ItemFeatures],
    n_items: int,
    config: FitConfig,
    show_progress: bool | None = None,
) -> FitResult:
    """Train on interactions ``(users[i], items[i])`` (indices) over a catalogue of
    ``n_items`` items; candidates for the negatives are the whole catalogue."""
    torch.manual_seed(config.seed)
    rng = np.random.default_rng(config.seed)
    warm = np.zeros(n_items, dtype=bool)
    warm[items] = True
    model = HybridMF(n_users, features, warm, config)
    opt = torch.optim.Adam(model.parameters(), lr=config.lr)
    u_all = torch.from_numpy(users)
    i_all = torch.from_numpy(items)
    n = len(users)
    history = []
    started = time.perf_counter()
    with progress(config.epochs, "fitting the recommender", "epoch", show_progress) as bar:
        for _ in range(config.epochs):
            order = torch.from_numpy(rng.permutation(n))
            total = 0.0
            for lo in range(0, n, config.batch_size):
                b = order[lo : lo + config.batch_size]
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
    with torch.no_grad():
        item_vecs = model.all_items().numpy().astype(np.float32)
        user_vecs = model.user.weight.detach().numpy().astype(np.float32)
    seconds = time.perf_counter() - started
    log.info("recommender fitted in %.1fs (loss %s → %s)", seconds, history[:1], history[-1:])
    return FitResult(
        user_vecs,
        item_vecs,
        round(seconds, 2),
        history,
        [{"name": f.name, "source": f.source, "items": int(f.mask.sum())} for f in model.features],
    )
