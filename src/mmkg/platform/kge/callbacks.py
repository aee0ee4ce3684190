"""What happens around the epochs of a :class:`~mmkg.platform.kge.trainer.Trainer`.

Each callback sees the trainer after every epoch and may ask it to stop (by returning the
reason). The defaults, in the order they run: :class:`DivergenceGuard`, :class:`TimeBudget`,
:class:`Validation` (with early stopping and the best tables kept in memory) and
:class:`Checkpoints`; a progress bar follows the steps.
"""

from __future__ import annotations

import logging
import math
from typing import TYPE_CHECKING, Any

from mmkg.errors import TrainingError
from mmkg.platform.kge import run_dir as rd
from mmkg.platform.kge.evaluate import evaluate
from mmkg.platform.progress import progress

if TYPE_CHECKING:
    from mmkg.platform.kge.trainer import Trainer

log = logging.getLogger(__name__)

# An epoch's loss this many times the lowest so far: the embeddings are diverging.
DIVERGENCE_FACTOR = 100.0


class Callback:
    """Hooks into training; every method is optional."""

    def on_fit_start(self, trainer: Trainer) -> None:
        """Before the first epoch of this process (after a resume, too)."""

    def on_progress(self, trainer: Trainer, triples: int, loss: float) -> None:
        """Every few steps: triples done since the last call and their mean loss."""

    def on_epoch_end(self, trainer: Trainer, record: dict[str, Any]) -> str | None:
        """After each epoch; return a reason to stop training, or None."""
        return None

    def on_fit_end(self, trainer: Trainer, stopped: str) -> None:
        """After the last epoch, whatever stopped it (not after an exception)."""


class ProgressBar(Callback):
    """A tqdm bar over the triples of all remaining epochs, with loss and epoch."""

    def __init__(self, enabled: bool | None = None) -> None:
        self.enabled = enabled
        self.bar: Any = None

    def on_fit_start(self, trainer: Trainer) -> None:
        config = trainer.config
        per_epoch = len(trainer.data.train) * (2 if config.training != "slcwa" else 1)
        remaining = max(config.epochs - trainer.state.epoch, 0)
        self.bar = progress(remaining * per_epoch, f"train {config.model}", "triple", self.enabled)

    def on_progress(self, trainer: Trainer, triples: int, loss: float) -> None:
        if self.bar is not None:
            self.bar.update(triples)
            self.bar.set_postfix(epoch=trainer.state.epoch + 1, loss=f"{loss:.4f}", refresh=False)

    def on_fit_end(self, trainer: Trainer, stopped: str) -> None:
        self.close()

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
            self.bar = None


class DivergenceGuard(Callback):
    """Stops a run whose loss has grown by orders of magnitude, as the step-level guard stops a
    NaN: a run that diverged must never be reported as completed."""

    def __init__(self, factor: float = DIVERGENCE_FACTOR) -> None:
        self.factor = factor

    def on_epoch_end(self, trainer: Trainer, record: dict[str, Any]) -> str | None:
        loss = float(record["loss"])
        previous = [h["loss"] for h in trainer.state.history[:-1] if math.isfinite(h["loss"])]
        lowest = min(previous, default=None)
        if not math.isfinite(loss) or (
            lowest is not None and lowest > 0 and loss > self.factor * lowest
        ):
            cfg = trainer.config
            raise TrainingError(
                f"training diverged: the loss of epoch {record['epoch']} is {loss:.4g}, "
                f"{loss / lowest if lowest else float('inf'):.3g}× the lowest so far ({lowest}). "
                f"Likely causes: the learning rate ({cfg.lr}) is too high for {cfg.optimizer}, "
                f"or gamma ({cfg.gamma}) / the regularisation weight ({cfg.reg_weight}) is far "
                "off for this model; the run was stopped, not completed"
            )
        return None


class TimeBudget(Callback):
    """Stops at the end of the epoch that exhausts ``max_seconds`` of training time."""

    def __init__(self, max_seconds: float | None) -> None:
        self.max_seconds = max_seconds

    def on_epoch_end(self, trainer: Trainer, record: dict[str, Any]) -> str | None:
        if self.max_seconds is not None and trainer.state.train_seconds >= self.max_seconds:
            return "time_budget"
        return None


class Validation(Callback):
    """Filtered validation MRR every ``eval_every`` epochs (and at the end); keeps the best
    tables in memory (and in the run folder), and stops after ``patience`` checks without a
    better MRR."""

    def __init__(self, eval_every: int, patience: int) -> None:
        self.eval_every = eval_every
        self.patience = patience

    def on_fit_start(self, trainer: Trainer) -> None:
        if trainer.state.best_mrr is not None and trainer.run is not None:
            # A resumed run: its best tables so far are the ones the run folder holds.
            trainer.best_tables = rd.load_best_weights(trainer.run, trainer.config.device)

    def on_epoch_end(self, trainer: Trainer, record: dict[str, Any]) -> str | None:
        state, config = trainer.state, trainer.config
        due = self.eval_every and (
            state.epoch % self.eval_every == 0 or trainer.is_last_epoch or trainer.stopping
        )
        if not due or len(trainer.data.valid) == 0:
            return None
        result = evaluate(
            trainer.model, trainer.data.valid, trainer.filter_index, config.eval_batch_size, False
        )
        record["valid_mrr"] = round(result.mrr, 6)
        record["valid_hits@10"] = round(result.metrics["both"]["hits@10"], 6)
        log.info("epoch %d: loss %.4f, valid MRR %.4f", record["epoch"], record["loss"], result.mrr)
        if state.best_mrr is None or result.mrr > state.best_mrr:
            state.best_mrr, state.best_epoch, state.bad_validations = result.mrr, state.epoch, 0
            trainer.keep_best()
            return None
        state.bad_validations += 1
        if self.patience and state.bad_validations >= self.patience:
            log.info("early stop: no better validation MRR for %d checks", self.patience)
            return "early_stopping"
        return None


class Checkpoints(Callback):
    """A resumable checkpoint every ``every`` epochs, at the last one and when stopping."""

    def __init__(self, every: int) -> None:
        self.every = every

    def on_epoch_end(self, trainer: Trainer, record: dict[str, Any]) -> str | None:
        if trainer.run is None:
            return None
        if trainer.state.epoch % self.every == 0 or trainer.is_last_epoch or trainer.stopping:
            rd.save_checkpoint(trainer.run, trainer.model, trainer.state.to_dict())
            rd.write_json(trainer.run / rd.HISTORY, trainer.state.history)
        return None
