"""Fused pairwise distance kernels for the models whose scores are not matrix products.

The L1 distance and RotatE's sum of complex moduli between ``[..., B, d]`` queries and
``[..., K, d]`` candidates would, in eager PyTorch, materialise ``[..., B, K, d]``
temporaries several times over; ``torch.compile`` fuses them into one loop, which on a CPU
is many times faster (bench/results/kge_eval.json). Where compilation is unavailable (no C++
compiler) or turned off, the eager formula runs instead, with the same results.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

import torch
from torch import Tensor

log = logging.getLogger(__name__)

_EPS = 1e-9
Kernel = Callable[[Tensor, Tensor], Tensor]


def l1_pairwise(x: Tensor, y: Tensor) -> Tensor:
    return (x.unsqueeze(-2) - y.unsqueeze(-3)).abs().sum(-1)


def modulus_pairwise(x: Tensor, y: Tensor) -> Tensor:
    half = x.shape[-1] // 2
    diff = x.unsqueeze(-2) - y.unsqueeze(-3)
    return torch.sqrt(diff[..., :half] ** 2 + diff[..., half:] ** 2 + _EPS).sum(-1)


class _Compiled:
    """A kernel compiled on first use, or its eager formula when that fails or is off."""

    enabled = True

    def __init__(self, eager: Kernel) -> None:
        self.eager = eager
        self.compiled: Kernel | None = None
        self.failed = False

    def __call__(self, x: Tensor, y: Tensor) -> Tensor:
        if not _Compiled.enabled or self.failed:
            return self.eager(x, y)
        if self.compiled is None:
            self.compiled = torch.compile(self.eager, dynamic=True)
        try:
            return self.compiled(x, y)
        except Exception as e:
            self.failed = True
            log.warning(
                "torch.compile of %s failed (%s); using eager PyTorch", self.eager.__name__, e
            )
            return self.eager(x, y)


l1_distance = _Compiled(l1_pairwise)
modulus_distance = _Compiled(modulus_pairwise)


def fused() -> bool:
    """Whether pairwise kernels run compiled (no ``[B, K, d]`` temporaries)."""
    return _Compiled.enabled and not (l1_distance.failed or modulus_distance.failed)


def set_compile(enabled: bool) -> None:
    """Turn kernel compilation on or off for this process."""
    _Compiled.enabled = enabled
