"""Sparse row-wise optimizers: a step touches only the rows a batch used.

A dense optimizer would read and write the whole entity table at every step; with
hundreds of thousands of entities and a batch touching a few thousand, that is most of the
work. These update ``weight[index]`` in place from the gradient of the gathered rows, and
keep their state in tensors that can sit in shared memory for Hogwild training.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import ClassVar

import torch
from torch import Tensor

from mmkg.errors import ConfigError
from mmkg.platform.registry import Registry


class RowOptimizer(ABC):
    name: ClassVar[str]

    def __init__(self, lr: float) -> None:
        if not lr > 0:
            raise ConfigError(f"learning rate must be > 0, got {lr}")
        self.lr = lr

    @abstractmethod
    def init_state(self, weight: Tensor) -> dict[str, Tensor]: ...

    @abstractmethod
    def update(self, weight: Tensor, state: dict[str, Tensor], index: Tensor, grad: Tensor) -> None:
        """``index`` holds distinct rows; ``grad`` is ``[len(index), dim]``."""

    @staticmethod
    def state_bytes_per_row(dim: int) -> int:
        return 0


class RowAdagrad(RowOptimizer):
    """Adagrad with one accumulator per row (the mean squared gradient), as in DGL-KE.

    One float per row instead of one per element: the state costs almost no memory.
    """

    name = "adagrad"

    def __init__(self, lr: float, eps: float = 1e-10) -> None:
        super().__init__(lr)
        self.eps = eps

    def init_state(self, weight: Tensor) -> dict[str, Tensor]:
        return {"sum": torch.zeros(weight.shape[0], dtype=torch.float32, device=weight.device)}

    def update(self, weight: Tensor, state: dict[str, Tensor], index: Tensor, grad: Tensor) -> None:
        acc = state["sum"]
        grad_sq = (grad * grad).mean(dim=1)
        acc.index_add_(0, index, grad_sq)
        std = acc[index].sqrt_().add_(self.eps).unsqueeze(1)
        weight.index_add_(0, index, grad / std, alpha=-self.lr)

    @staticmethod
    def state_bytes_per_row(dim: int) -> int:
        return 4


class ElementAdagrad(RowOptimizer):
    """Adagrad with one accumulator per element (PyTorch's and PyKEEN's), applied to the
    touched rows only; its state is as large as the table."""

    name = "adagrad_elementwise"

    def __init__(self, lr: float, eps: float = 1e-10) -> None:
        super().__init__(lr)
        self.eps = eps

    def init_state(self, weight: Tensor) -> dict[str, Tensor]:
        return {"sum": torch.zeros_like(weight)}

    def update(self, weight: Tensor, state: dict[str, Tensor], index: Tensor, grad: Tensor) -> None:
        acc = state["sum"]
        acc.index_add_(0, index, grad * grad)
        std = acc[index].sqrt_().add_(self.eps)
        weight.index_add_(0, index, grad / std, alpha=-self.lr)

    @staticmethod
    def state_bytes_per_row(dim: int) -> int:
        return 4 * dim


class RowAdam(RowOptimizer):
    """Lazy Adam: moments and the bias-correction step count are kept per row."""

    name = "adam"

    def __init__(
        self, lr: float, beta1: float = 0.9, beta2: float = 0.999, eps: float = 1e-8
    ) -> None:
        super().__init__(lr)
        self.beta1, self.beta2, self.eps = beta1, beta2, eps

    def init_state(self, weight: Tensor) -> dict[str, Tensor]:
        return {
            "m": torch.zeros_like(weight),
            "v": torch.zeros_like(weight),
            "steps": torch.zeros(weight.shape[0], dtype=torch.float32, device=weight.device),
        }

    def update(self, weight: Tensor, state: dict[str, Tensor], index: Tensor, grad: Tensor) -> None:
        m = state["m"][index].mul_(self.beta1).add_(grad, alpha=1 - self.beta1)
        v = state["v"][index].mul_(self.beta2).addcmul_(grad, grad, value=1 - self.beta2)
        steps = state["steps"][index].add_(1.0)
        state["m"][index] = m
        state["v"][index] = v
        state["steps"][index] = steps
        corr1 = (1 - self.beta1**steps).unsqueeze(1)
        corr2 = (1 - self.beta2**steps).unsqueeze(1)
        update = (m / corr1) / ((v / corr2).sqrt_().add_(self.eps))
        weight.index_add_(0, index, update, alpha=-self.lr)

    @staticmethod
    def state_bytes_per_row(dim: int) -> int:
        return 8 * dim + 4


OPTIMIZERS: Registry[type[RowOptimizer]] = Registry("optimizer")
OPTIMIZERS.add("adagrad", RowAdagrad, "row-wise Adagrad (DGL-KE): one accumulator per row")
OPTIMIZERS.add(
    "adagrad_elementwise", ElementAdagrad, "Adagrad with one accumulator per element (PyTorch's)"
)
OPTIMIZERS.add("adam", RowAdam, "lazy Adam: moments and step counts per touched row")


def make_optimizer(name: str, lr: float) -> RowOptimizer:
    """The row-wise optimizer registered as ``name``; ConfigError lists the choices."""
    return OPTIMIZERS.get(name)(lr)
