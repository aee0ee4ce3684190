"""Interaction functions: how a (head, relation, tail) triple of vectors becomes a score.

An interaction only sees vectors, never ids, so it does not care whether an entity's vector
comes from an embedding table or is computed from its media. Higher scores mean more
plausible triples for every model.

Every interaction scores three shapes with the same formula:

* ``score(h, r, t)``: broadcastable ``[..., d]`` tensors to ``[...]``;
* ``score_tails(h, r, t)``: queries ``[..., B, d]`` against candidates ``[..., K, d]`` to
  ``[..., B, K]`` (all entities at evaluation: ``K = N``; shared negatives in training);
* ``score_heads(h, r, t)``: candidates ``h`` ``[..., K, d]`` for queries ``(r, t)``
  ``[..., B, d]`` to ``[..., B, K]``.

Complex-valued models keep real parts in the first half of the last dimension and imaginary
parts in the second.
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from typing import ClassVar

import torch
from torch import Tensor

from mmkg.errors import ConfigError
from mmkg.platform.kge.kernels import fused, l1_distance, modulus_distance
from mmkg.platform.kge.specs import ModelSpec
from mmkg.platform.registry import Registry

_EPS = 1e-9


class Interaction(ABC):
    """One scoring function; subclasses register themselves under ``name``."""

    name: ClassVar[str]
    complex: ClassVar[bool] = False

    def __init__(self, dim: int, gamma: float) -> None:
        self.dim = dim
        self.gamma = gamma

    def relation_dim(self) -> int:
        """Width of a relation vector (RotatE stores one phase per complex dimension)."""
        return self.dim

    def prepare_relation(self, r: Tensor) -> Tensor:
        """Turn stored relation parameters into what the formula uses."""
        return r

    @abstractmethod
    def score(self, h: Tensor, r: Tensor, t: Tensor) -> Tensor: ...

    @abstractmethod
    def score_tails(self, h: Tensor, r: Tensor, t: Tensor) -> Tensor: ...

    @abstractmethod
    def score_heads(self, h: Tensor, r: Tensor, t: Tensor) -> Tensor: ...

    def pairwise_bytes_per_candidate(self) -> int:
        """Scratch memory per (query, candidate) pair when scores are not a matrix product."""
        return 0

    def describe(self) -> dict[str, object]:
        return {"name": self.name, "dim": self.dim, "gamma": self.gamma}


def _halves(x: Tensor) -> tuple[Tensor, Tensor]:
    half = x.shape[-1] // 2
    return x[..., :half], x[..., half:]


def _distance(x: Tensor, y: Tensor, p: int) -> Tensor:
    """Pairwise L1/L2 distance of ``x [..., B, d]`` and ``y [..., K, d]`` → ``[..., B, K]``."""
    if p == 2:
        # ||x||² + ||y||² - 2 x·y runs as one matrix product instead of a [B, K, d] tensor.
        sq = (
            (x * x).sum(-1, keepdim=True)
            + (y * y).sum(-1).unsqueeze(-2)
            - 2.0 * torch.matmul(x, y.transpose(-1, -2))
        )
        return torch.sqrt(sq.clamp_min(_EPS))
    return l1_distance(x, y)


class TransE(Interaction):
    """``gamma - ||h + r - t||_p`` (Bordes et al., 2013)."""

    name = "transe"

    def __init__(self, dim: int, gamma: float, p: int = 2) -> None:
        super().__init__(dim, gamma)
        if p not in (1, 2):
            raise ConfigError(f"TransE norm must be 1 or 2, got {p}")
        self.p = p

    def score(self, h: Tensor, r: Tensor, t: Tensor) -> Tensor:
        diff = h + r - t
        if self.p == 2:
            return self.gamma - torch.sqrt((diff * diff).sum(-1).clamp_min(_EPS))
        return self.gamma - diff.abs().sum(-1)

    def score_tails(self, h: Tensor, r: Tensor, t: Tensor) -> Tensor:
        return self.gamma - _distance(h + r, t, self.p)

    def score_heads(self, h: Tensor, r: Tensor, t: Tensor) -> Tensor:
        # ||h + r - t|| = ||h - (t - r)||
        return self.gamma - _distance(t - r, h, self.p)

    def pairwise_bytes_per_candidate(self) -> int:
        return 0 if self.p == 2 or fused() else 4 * self.dim

    def describe(self) -> dict[str, object]:
        return {**super().describe(), "p": self.p}


class DistMult(Interaction):
    """``<h, r, t>`` (Yang et al., 2015); symmetric in h and t."""

    name = "distmult"

    def score(self, h: Tensor, r: Tensor, t: Tensor) -> Tensor:
        return (h * r * t).sum(-1)

    def score_tails(self, h: Tensor, r: Tensor, t: Tensor) -> Tensor:
        return torch.matmul(h * r, t.transpose(-1, -2))

    def score_heads(self, h: Tensor, r: Tensor, t: Tensor) -> Tensor:
        return torch.matmul(r * t, h.transpose(-1, -2))


class ComplEx(Interaction):
    """``Re(<h, r, conj(t)>)`` (Trouillon et al., 2016)."""

    name = "complex"
    complex = True

    def score(self, h: Tensor, r: Tensor, t: Tensor) -> Tensor:
        a, b = _halves(h)
        c, d = _halves(r)
        e, f = _halves(t)
        return ((a * c - b * d) * e + (a * d + b * c) * f).sum(-1)

    def score_tails(self, h: Tensor, r: Tensor, t: Tensor) -> Tensor:
        a, b = _halves(h)
        c, d = _halves(r)
        query = torch.cat([a * c - b * d, a * d + b * c], dim=-1)
        return torch.matmul(query, t.transpose(-1, -2))

    def score_heads(self, h: Tensor, r: Tensor, t: Tensor) -> Tensor:
        c, d = _halves(r)
        e, f = _halves(t)
        query = torch.cat([c * e + d * f, c * f - d * e], dim=-1)
        return torch.matmul(query, h.transpose(-1, -2))


class RotatE(Interaction):
    """``gamma - sum_k |h_k · r_k - t_k|`` with ``|r_k| = 1`` (Sun et al., 2019), or with
    ``norm="l2"`` ``gamma - ||h · r - t||_2``, the L2 norm of the complex difference, as
    PyKEEN scores RotatE.

    Relations are stored as raw values scaled to phases like DGL-KE does
    (``phase = r · π / emb_init``), so Adagrad moves phases at the pace it moves entities.
    """

    name = "rotate"
    complex = True

    def __init__(
        self, dim: int, gamma: float, emb_init: float | None = None, norm: str = "modulus"
    ) -> None:
        super().__init__(dim, gamma)
        if norm not in ("modulus", "l2"):
            raise ConfigError(f"RotatE norm must be modulus or l2, got {norm!r}")
        self.emb_init = emb_init if emb_init is not None else (gamma + 2.0) / dim
        self.norm = norm

    def relation_dim(self) -> int:
        return self.dim // 2

    def prepare_relation(self, r: Tensor) -> Tensor:
        phase = r * (math.pi / self.emb_init)
        return torch.cat([torch.cos(phase), torch.sin(phase)], dim=-1)

    @staticmethod
    def _rotate(x: Tensor, r: Tensor, conjugate: bool = False) -> Tensor:
        a, b = _halves(x)
        c, d = _halves(r)
        if conjugate:
            d = -d
        return torch.cat([a * c - b * d, a * d + b * c], dim=-1)

    @staticmethod
    def _modulus_sum(diff: Tensor) -> Tensor:
        re, im = _halves(diff)
        return torch.sqrt(re * re + im * im + _EPS).sum(-1)

    def score(self, h: Tensor, r: Tensor, t: Tensor) -> Tensor:
        diff = self._rotate(h, r) - t
        if self.norm == "l2":
            return self.gamma - torch.sqrt((diff * diff).sum(-1).clamp_min(_EPS))
        return self.gamma - self._modulus_sum(diff)

    def _pairwise(self, query: Tensor, cand: Tensor) -> Tensor:
        if self.norm == "l2":
            # The complex L2 norm is the real one over (re, im): one matrix product.
            return self.gamma - _distance(query, cand, 2)
        # The modulus per complex dimension cannot be factored into a matrix product; a
        # fused kernel avoids materialising [..., B, K, d].
        return self.gamma - modulus_distance(query, cand)

    def score_tails(self, h: Tensor, r: Tensor, t: Tensor) -> Tensor:
        return self._pairwise(self._rotate(h, r), t)

    def score_heads(self, h: Tensor, r: Tensor, t: Tensor) -> Tensor:
        # |h·r - t| = |h - t·conj(r)| because |r| = 1
        return self._pairwise(self._rotate(t, r, conjugate=True), h)

    def pairwise_bytes_per_candidate(self) -> int:
        # eager: the [B, K, d] difference and two temporaries of it
        return 0 if self.norm == "l2" or fused() else 3 * 4 * self.dim

    def describe(self) -> dict[str, object]:
        return {**super().describe(), "emb_init": self.emb_init, "norm": self.norm}


INTERACTIONS: Registry[type[Interaction]] = Registry("interaction")
INTERACTIONS.add("transe", TransE, "gamma - ||h + r - t||_p (p = 1 or 2)")
INTERACTIONS.add("distmult", DistMult, "<h, r, t>")
INTERACTIONS.add("complex", ComplEx, "Re(<h, r, conj t>)")
INTERACTIONS.add("rotate", RotatE, "gamma - sum_k |h_k r_k - t_k| (or ||h r - t||_2), |r_k| = 1")


def build_interaction(spec: ModelSpec, dim: int, gamma: float) -> Interaction:
    """The interaction a model spec names, for vectors of width ``dim``."""
    cls = INTERACTIONS.get(spec.interaction)
    return cls(dim, gamma, **spec.interaction_kwargs)
