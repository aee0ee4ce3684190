"""Memory estimates for training and evaluation, checked before anything is allocated."""

from __future__ import annotations

from dataclasses import dataclass

import psutil

from mmkg.errors import ResourceLimitError
from mmkg.platform.kge.config import TrainConfig
from mmkg.platform.kge.interactions import build_interaction
from mmkg.platform.kge.optim import OPTIMIZERS
from mmkg.platform.kge.specs import model_spec
from mmkg.settings import parse_memory

_F32 = 4
_GIB = 1024**3
# What importing torch and running its kernels costs a process before any data (measured:
# 0.3-0.6 GiB with compiled kernels).
_RUNTIME = 512 << 20


@dataclass
class MemoryEstimate:
    parts: dict[str, int]

    @property
    def total(self) -> int:
        return sum(self.parts.values())

    def describe(self) -> str:
        shown = ", ".join(f"{k} {v / _GIB:.2f}" for k, v in self.parts.items() if v >= 1 << 20)
        return f"{self.total / _GIB:.2f} GiB ({shown or 'all parts < 1 MiB'})"


def estimate_training(
    config: TrainConfig,
    num_entities: int,
    num_relations: int,
    num_triples: int,
    processes: int = 1,
) -> MemoryEstimate:
    spec = model_spec(config.model)
    interaction = build_interaction(spec, config.dim, config.gamma)
    rel_rows = num_relations * (2 if config.reciprocal else 1)
    rel_dim = interaction.relation_dim()
    opt_row = OPTIMIZERS.get(config.optimizer).state_bytes_per_row
    tables = (num_entities * config.dim + rel_rows * rel_dim) * _F32
    optimizer = num_entities * opt_row(config.dim) + rel_rows * opt_row(rel_dim)
    batch = config.batch_size
    if config.training == "slcwa":
        chunks = max(1, batch // config.neg_chunk_size)
        rows = (2 * batch + chunks * config.negatives) * config.dim * _F32
        scores = batch * config.negatives * _F32
        pair = interaction.pairwise_bytes_per_candidate()
        step = 3 * rows + 4 * scores + batch * config.negatives * pair * 2
    else:
        # a gathered copy of the entity table and its gradient, scores and their gradient
        step = 2 * num_entities * config.dim * _F32 + 4 * batch * num_entities * _F32
    data = num_triples * 3 * 8 * 3  # the arrays, the filter index and the shuffled order
    # Checkpoints and the best embeddings are written from CPU copies of the tables.
    copies = tables + optimizer
    # Evaluation scores about 256 MiB of candidates per batch (evaluate.auto_batch_size).
    evaluation = 256 << 20
    return MemoryEstimate(
        {
            "embeddings": tables,
            "optimizer state": optimizer,
            "training step": step,
            "triples and filter index": data,
            "checkpoint copies": copies,
            "evaluation batch": evaluation,
            "PyTorch runtime": _RUNTIME * processes,
        }
    )


def memory_cap(configured: str | None) -> int:
    """``MMKG_KGE_MAX_MEMORY`` if set, else 80% of the memory available now."""
    if configured:
        return parse_memory(configured)
    return int(psutil.virtual_memory().available * 0.8)


def check_fits(estimate: MemoryEstimate, cap: int, what: str) -> None:
    if estimate.total > cap:
        raise ResourceLimitError(
            f"{what} needs about {estimate.describe()}, more than the "
            f"{cap / _GIB:.2f} GiB allowed (MMKG_KGE_MAX_MEMORY, default 80% of available "
            "memory); lower --dim or --batch-size, or raise the cap"
        )
