"""Negative entities for sLCWA, drawn in chunks shared by several positives (DGL-KE)."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
import torch
from torch import Tensor

from mmkg.platform.registry import Registry


class NegativeSampler:
    """Entity indices to corrupt positives with; subclasses choose the distribution."""

    def __init__(self, num_entities: int, train: npt.NDArray[np.int64]) -> None:
        self.num_entities = num_entities

    def sample(self, shape: tuple[int, ...], generator: torch.Generator) -> Tensor:
        raise NotImplementedError


class UniformSampler(NegativeSampler):
    """Every entity equally likely."""

    def sample(self, shape: tuple[int, ...], generator: torch.Generator) -> Tensor:
        return torch.randint(0, self.num_entities, shape, generator=generator)


class DegreeSampler(NegativeSampler):
    """Proportional to each entity's degree in training (plus one, so every entity stays
    reachable). Degree-proportional negatives are harder than uniform ones: frequent entities
    are the ones a model most easily over-scores."""

    def __init__(self, num_entities: int, train: npt.NDArray[np.int64]) -> None:
        super().__init__(num_entities, train)
        degree = np.bincount(
            np.concatenate([train[:, 0], train[:, 2]]), minlength=num_entities
        ).astype(np.float64)
        degree += 1.0
        self.cumulative = torch.from_numpy(np.cumsum(degree / degree.sum()))

    def sample(self, shape: tuple[int, ...], generator: torch.Generator) -> Tensor:
        u = torch.rand(shape, generator=generator, dtype=torch.float64)
        idx = torch.searchsorted(self.cumulative, u)
        return idx.clamp_(max=self.num_entities - 1)


SAMPLERS: Registry[type[NegativeSampler]] = Registry("negative sampler")
SAMPLERS.add("uniform", UniformSampler, "every entity equally likely")
SAMPLERS.add("degree", DegreeSampler, "proportional to training degree + 1")


def make_sampler(name: str, num_entities: int, train: npt.NDArray[np.int64]) -> NegativeSampler:
    return SAMPLERS.get(name)(num_entities, train)
