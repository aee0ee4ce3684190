"""One process's share of an epoch: batches, negatives, loss, sparse updates.

The same code runs in the main process (single-process and CUDA training) and in each
Hogwild worker; only the slice of the epoch's permutation differs.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import torch
from torch import Tensor

from mmkg.errors import TrainingError
from mmkg.platform.kge.config import TrainConfig
from mmkg.platform.kge.losses import all_entities_loss, regularization, slcwa_loss
from mmkg.platform.kge.models import KGEModel
from mmkg.platform.kge.representations import Representation
from mmkg.platform.kge.sampling import make_sampler

Progress = Callable[[int, float], None]
# (representation, the rows gathered, the gathered tensor holding their gradient)
Updates = list[tuple[Representation, Tensor, Tensor]]
# Report progress to the bar about this often (batches); keeps inter-process traffic low.
REPORT_EVERY = 8
# When a step's distinct entities are at most this many times its negatives per chunk, each
# positive is scored against all of them and its own negatives' scores are picked out: on a
# small, dense graph that replaces a gather (and a scatter-add backward) of every chunk's
# negative vectors by one matrix of scores, with the same loss and gradients.
DENSE_SCORING_RATIO = 2
# A step loss this many times the first one (with a floor): the embeddings are diverging.
STEP_DIVERGENCE = 1e4
_LOSS_FLOOR = 0.01


def epoch_generator(seed: int, epoch: int, worker: int = 0) -> torch.Generator:
    """Randomness of one epoch (and worker) depends only on the seed: a resumed run draws
    exactly what an uninterrupted one would."""
    return torch.Generator().manual_seed((seed * 1_000_003 + epoch) * 1_009 + worker)


@dataclass
class EpochStats:
    loss_sum: float = 0.0
    batches: int = 0
    triples: int = 0

    def add(self, other: EpochStats) -> None:
        self.loss_sum += other.loss_sum
        self.batches += other.batches
        self.triples += other.triples

    @property
    def loss(self) -> float:
        return self.loss_sum / max(self.batches, 1)


class StepRunner:
    def __init__(self, model: KGEModel, config: TrainConfig, train: npt.NDArray[np.int64]) -> None:
        self.model = model
        self.config = config
        self.device = model.entities.all().device
        self.sampler = make_sampler(config.neg_sampler, model.num_entities, train)
        if config.training == "slcwa":
            self.rows = torch.from_numpy(train)
            self.targets_csr: tuple[Tensor, Tensor] | None = None
        else:
            self.rows, self.targets_csr = _query_rows(train, model.num_relations, config.training)
        self.all_entities = torch.arange(model.num_entities, device=self.device)
        self.first_loss: float | None = None
        self.self_negatives = config.fusion != "none" and config.self_negatives

    @property
    def num_rows(self) -> int:
        return len(self.rows)

    def run_epoch(
        self, epoch: int, worker: int = 0, workers: int = 1, on_progress: Progress | None = None
    ) -> EpochStats:
        gen = epoch_generator(self.config.seed, epoch)
        order = torch.randperm(self.num_rows, generator=gen)[worker::workers]
        own = epoch_generator(self.config.seed, epoch, worker + 1)
        stats = EpochStats()
        pending_n, pending_loss, pending_batches = 0, 0.0, 0
        size = self.config.batch_size
        for step, lo in enumerate(range(0, len(order), size)):
            index = order[lo : lo + size]
            loss, n = self._step(index, epoch, step, own)
            stats.loss_sum += loss
            stats.batches += 1
            stats.triples += n
            pending_n, pending_loss, pending_batches = (
                pending_n + n,
                pending_loss + loss,
                pending_batches + 1,
            )
            if on_progress is not None and pending_batches == REPORT_EVERY:
                on_progress(pending_n, pending_loss / pending_batches)
                pending_n, pending_loss, pending_batches = 0, 0.0, 0
        if on_progress is not None and pending_batches:
            on_progress(pending_n, pending_loss / pending_batches)
        return stats

    def _step(
        self, index: Tensor, epoch: int, step: int, gen: torch.Generator
    ) -> tuple[float, int]:
        if self.config.training == "slcwa":
            total, n, updates = self._slcwa(self.rows[index].to(self.device), step, gen)
        else:
            total, n, updates = self._all_entities(index)
        value = float(total.detach())
        if self.first_loss is None and math.isfinite(value):
            self.first_loss = value
        reference = max(self.first_loss or 0.0, _LOSS_FLOOR)
        if not math.isfinite(value) or value > STEP_DIVERGENCE * reference:
            raise TrainingError(
                f"the loss became {value:.4g} at epoch {epoch + 1}, step {step + 1} (it began at "
                f"{self.first_loss if self.first_loss is not None else float('nan'):.4g}): the "
                f"embeddings diverged. Likely causes: the learning rate ({self.config.lr}) is "
                f"too high for {self.config.optimizer}, or gamma ({self.config.gamma}) / the "
                f"regularisation weight ({self.config.reg_weight}) is far off for this model; "
                "no update from this step was applied and the run was stopped"
            )
        total.backward()  # type: ignore[no-untyped-call]
        for representation, rows_index, rows in updates:
            representation.step(rows_index, rows)
        return value, n

    def _slcwa(self, batch: Tensor, step: int, gen: torch.Generator) -> tuple[Tensor, int, Updates]:
        cfg, model = self.config, self.model
        chunk = min(cfg.neg_chunk_size, len(batch))
        chunks = len(batch) // chunk
        batch = batch[: chunks * chunk]  # a ragged tail is dropped (it is drawn next epoch)
        size = len(batch)
        neg = self.sampler.sample((chunks, cfg.negatives), gen).to(self.device)
        h, r, t = batch[:, 0], batch[:, 1], batch[:, 2]
        uniq, inv = torch.unique(torch.cat([h, t, neg.flatten()]), return_inverse=True)
        r_uniq, r_inv = torch.unique(r, return_inverse=True)
        ent = model.entities.gather(uniq)
        rel = model.relations.gather(r_uniq)
        hv, tv = ent[inv[:size]], ent[inv[size : 2 * size]]
        raw_r = rel[r_inv]
        rv = model.interaction.prepare_relation(raw_r)
        pos = model.interaction.score(hv, rv, tv)
        corrupt_tails = step % 2 == 0  # corrupt tails and heads in turn
        if chunks > 1 and len(uniq) <= DENSE_SCORING_RATIO * cfg.negatives:
            every = (
                model.interaction.score_tails(hv, rv, ent)
                if corrupt_tails
                else model.interaction.score_heads(ent, rv, tv)
            )
            picks = inv[2 * size :].view(chunks, 1, cfg.negatives)
            neg_scores = every.gather(1, picks.expand(chunks, chunk, -1).reshape(size, -1))
        else:
            nv = ent[inv[2 * size :]].view(chunks, cfg.negatives, -1)
            rc = rv.view(chunks, chunk, -1)
            if corrupt_tails:
                neg_scores = model.interaction.score_tails(hv.view(chunks, chunk, -1), rc, nv)
            else:
                neg_scores = model.interaction.score_heads(nv, rc, tv.view(chunks, chunk, -1))
        neg_scores = neg_scores.reshape(size, -1)
        if self.self_negatives:
            # The query entity as the answer: (h, r, h) for tail queries, (t, r, t) for heads.
            own = hv if corrupt_tails else tv
            selfs = model.interaction.score(own, rv, own)
            neg_scores = torch.cat([neg_scores, selfs[:, None]], 1)
        loss = slcwa_loss(pos, neg_scores, cfg.loss, cfg.margin, cfg.adversarial_temperature)
        reg = regularization(
            cfg.regularizer, cfg.reg_weight, [hv, raw_r, tv], model.interaction.complex
        )
        total = _with_extra(loss, reg, model.entities.auxiliary_loss())
        return total, size, [(model.entities, uniq, ent), (model.relations, r_uniq, rel)]

    def _all_entities(self, index: Tensor) -> tuple[Tensor, int, Updates]:
        cfg, model = self.config, self.model
        rows = self.rows[index].to(self.device)
        anchor, rel_idx = rows[:, 0], rows[:, 1]
        ent = model.entities.gather(self.all_entities)
        r_uniq, r_inv = torch.unique(rel_idx, return_inverse=True)
        rel = model.relations.gather(r_uniq)
        raw_r = rel[r_inv]
        query = ent[anchor]
        scores = model.interaction.score_tails(
            query, model.interaction.prepare_relation(raw_r), ent
        )
        if cfg.training == "1vsall":
            target = rows[:, 2]
            loss = all_entities_loss(scores, "ce", target, cfg.label_smoothing)
            factors = [query, raw_r, ent[target]]
        else:
            assert self.targets_csr is not None
            labels = _multi_hot(index, self.targets_csr, model.num_entities, self.device)
            loss = all_entities_loss(scores, "bce", labels, cfg.label_smoothing)
            factors = [query, raw_r]
        reg = regularization(cfg.regularizer, cfg.reg_weight, factors, model.interaction.complex)
        total = _with_extra(loss, reg, model.entities.auxiliary_loss())
        updates = [(model.entities, self.all_entities, ent), (model.relations, r_uniq, rel)]
        return total, len(rows), updates


def _with_extra(loss: Tensor, *terms: Tensor | None) -> Tensor:
    """The loss plus the regulariser and the representation's own term, where there are."""
    for term in terms:
        if term is not None:
            loss = loss + term
    return loss


def _query_rows(
    train: npt.NDArray[np.int64], num_relations: int, training: str
) -> tuple[Tensor, tuple[Tensor, Tensor] | None]:
    """Queries ``(anchor, relation, target)`` with reciprocal relations for head prediction.

    1vsAll keeps one row per triple and direction; KvsAll one row per distinct
    ``(anchor, relation)`` whose targets sit in a CSR (offsets, entities).
    """
    h, r, t = train[:, 0], train[:, 1], train[:, 2]
    rows = np.concatenate([np.stack([h, r, t], 1), np.stack([t, r + num_relations, h], 1)])
    if training == "1vsall":
        return torch.from_numpy(rows), None
    keys = rows[:, 0] * (2 * num_relations) + rows[:, 1]
    order = np.argsort(keys, kind="stable")
    keys, targets = keys[order], rows[order, 2]
    uniq, starts = np.unique(keys, return_index=True)
    offsets = np.append(starts, len(keys))
    queries = np.stack(
        [uniq // (2 * num_relations), uniq % (2 * num_relations), np.zeros_like(uniq)], 1
    )
    return torch.from_numpy(queries), (torch.from_numpy(offsets), torch.from_numpy(targets))


def _multi_hot(
    index: Tensor, csr: tuple[Tensor, Tensor], num_entities: int, device: torch.device
) -> Tensor:
    offsets, targets = csr
    lo, hi = offsets[index], offsets[index + 1]
    counts = hi - lo
    rows = torch.repeat_interleave(torch.arange(len(index)), counts)
    starts = torch.repeat_interleave(lo - (torch.cumsum(counts, 0) - counts), counts)
    cols = targets[starts + torch.arange(int(counts.sum()))]
    labels = torch.zeros(len(index), num_entities, device=device)
    labels[rows.to(device), cols.to(device)] = 1.0
    return labels
