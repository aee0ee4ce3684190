"""Representations: where an entity's or relation's vector comes from.

``structure`` is an embedding table updated row by row. Representations that compute vectors
from features implement the same methods; the model, trainer, evaluator and export use nothing
else. Every representation is registered in :data:`REPRESENTATIONS`.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any

import numpy as np
import numpy.typing as npt
import torch
from torch import Tensor

from mmkg.platform.kge.optim import RowOptimizer
from mmkg.platform.registry import Registry


class Representation(ABC):
    """``count`` vectors of width ``dim``."""

    count: int
    dim: int

    @abstractmethod
    def gather(self, index: Tensor) -> Tensor:
        """Vectors of ``index`` for training: a tensor whose gradient :meth:`step` consumes."""

    @abstractmethod
    def step(self, index: Tensor, rows: Tensor) -> None:
        """Apply the gradient accumulated on ``rows = gather(index)``."""

    @abstractmethod
    def all(self) -> Tensor:
        """Every vector, without gradient (evaluation, export)."""

    def lookup(self, index: Tensor) -> Tensor:
        """Vectors of ``index`` without gradient."""
        return self.all()[index]

    def to_numpy(self) -> npt.NDArray[np.float32]:
        return self.all().detach().cpu().numpy().astype(np.float32, copy=False)

    def auxiliary_loss(self) -> Tensor | None:
        """A term the last :meth:`gather` adds to the step's loss (feature alignment)."""
        return None

    def weights(self) -> dict[str, Tensor]:
        """A copy of the trained parameters (the best validated ones are kept this way)."""
        return {"weight": self.all().detach().clone()}

    def set_weights(self, weights: dict[str, Tensor]) -> None:
        self.all().copy_(weights["weight"])

    @abstractmethod
    def state(self) -> dict[str, Any]: ...

    @abstractmethod
    def load_state(self, state: dict[str, Any]) -> None: ...


class EmbeddingTable(Representation):
    """A ``[count, dim]`` table, trained by sparse row-wise updates (only touched rows).

    The table and its optimizer state may live in shared memory, so that several processes
    update it at once without locks (Hogwild).
    """

    def __init__(
        self,
        count: int,
        dim: int,
        optimizer: RowOptimizer,
        init: str = "uniform",
        scale: float = 0.1,
        generator: torch.Generator | None = None,
        device: torch.device | str = "cpu",
        shared: dict[str, Any] | None = None,
        unit_norm: bool = False,
    ) -> None:
        self.count = count
        self.dim = dim
        self.optimizer = optimizer
        self.unit_norm = unit_norm
        self.weight: Tensor
        self.opt_state: dict[str, Tensor]
        if shared is not None:
            # Another process's tables in shared memory (a Hogwild worker): no allocation.
            self.weight = shared["weight"]
            self.opt_state = shared["opt"]
            return
        self.weight = torch.empty(count, dim, dtype=torch.float32)
        if init == "uniform":
            self.weight.uniform_(-scale, scale, generator=generator)
        elif init == "normal":
            self.weight.normal_(0.0, scale, generator=generator)
        elif init == "xavier":
            bound = float(np.sqrt(6.0 / (count + dim)))
            self.weight.uniform_(-bound, bound, generator=generator)
        else:
            raise ValueError(f"unknown initialiser {init!r}")
        if unit_norm:
            self.weight = torch.nn.functional.normalize(self.weight, dim=1)
        self.weight = self.weight.to(device)
        self.opt_state = optimizer.init_state(self.weight)

    def share_memory(self) -> None:
        self.weight.share_memory_()  # type: ignore[no-untyped-call]
        for value in self.opt_state.values():
            value.share_memory_()  # type: ignore[no-untyped-call]

    def gather(self, index: Tensor) -> Tensor:
        return self.weight[index].requires_grad_(True)

    def step(self, index: Tensor, rows: Tensor) -> None:
        if rows.grad is None:
            return
        self.optimizer.update(self.weight, self.opt_state, index, rows.grad)
        if self.unit_norm:
            # Project the updated rows back onto the unit sphere (the TransE paper's constraint).
            self.weight[index] = torch.nn.functional.normalize(self.weight[index], dim=1)

    def all(self) -> Tensor:
        return self.weight

    def lookup(self, index: Tensor) -> Tensor:
        return self.weight[index]

    def shared(self) -> dict[str, Any]:
        """The tensors another process attaches to (see ``shared=``)."""
        return {"weight": self.weight, "opt": self.opt_state}

    def state(self) -> dict[str, Any]:
        return {
            "weight": self.weight.cpu().clone(),
            "opt": {k: v.cpu().clone() for k, v in self.opt_state.items()},
        }

    def load_state(self, state: dict[str, Any]) -> None:
        self.weight.copy_(state["weight"])
        for key, value in state["opt"].items():
            self.opt_state[key].copy_(value)

    def load_weight(self, weight: npt.NDArray[np.floating[Any]]) -> None:
        if weight.shape != (self.count, self.dim):
            raise ValueError(f"expected a {self.count}×{self.dim} table, got {weight.shape}")
        self.weight.copy_(torch.from_numpy(np.ascontiguousarray(weight, dtype=np.float32)))


REPRESENTATIONS: Registry[type[Representation]] = Registry("representation")
REPRESENTATIONS.add("structure", EmbeddingTable, "a trained vector per entity (sparse updates)")
# Feature-based representations (mmkg.platform.kge.fusion) load on first use.
for _modality in ("text", "image", "video", "numeric"):
    REPRESENTATIONS.add(
        _modality,
        "mmkg.platform.kge.fusion:FeatureProjection",
        f"frozen {_modality} features through a learned projection",
    )
REPRESENTATIONS.add(
    "fused", "mmkg.platform.kge.fusion:Fused", "the structure and the modalities, by a fusion"
)
