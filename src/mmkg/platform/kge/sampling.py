"""Negative entities for sLCWA, drawn in chunks shared by several positives (DGL-KE)."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
import torch
from torch import Tensor


class NegativeSampler:
    """Uniform over entities, or proportional to each entity's degree in training.

    Degree-proportional negatives are harder than uniform ones: frequent entities are the
    ones a model most easily over-scores.
    """

    def __init__(self, num_entities: int, kind: str, train: npt.NDArray[np.int64]) -> None:
        self.num_entities = num_entities
        self.kind = kind
        self.cumulative: Tensor | None = None
        if kind == "degree":
            degree = np.bincount(
                np.concatenate([train[:, 0], train[:, 2]]), minlength=num_entities
            ).astype(np.float64)
            degree += 1.0  # every entity stays reachable
            self.cumulative = torch.from_numpy(np.cumsum(degree / degree.sum()))
        elif kind != "uniform":
            raise ValueError(f"unknown negative sampler {kind!r}")

    def sample(self, shape: tuple[int, ...], generator: torch.Generator) -> Tensor:
        if self.cumulative is None:
            return torch.randint(0, self.num_entities, shape, generator=generator)
        u = torch.rand(shape, generator=generator, dtype=torch.float64)
        idx = torch.searchsorted(self.cumulative, u)
        return idx.clamp_(max=self.num_entities - 1)
