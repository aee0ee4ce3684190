"""A training run: the :class:`Trainer` drives epochs and its callbacks, and hands back the
model, its metrics and its serving artefact in memory; the run folder is written alongside."""

from __future__ import annotations

import logging
import os
import platform
import resource
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import torch
from torch import Tensor

from mmkg import __version__
from mmkg.errors import ConfigError, TrainingError
from mmkg.platform.kge import run_dir as rd
from mmkg.platform.kge.artifact import ServingArtifact
from mmkg.platform.kge.calibrate import fit_temperature
from mmkg.platform.kge.callbacks import (
    Callback,
    Checkpoints,
    DivergenceGuard,
    ProgressBar,
    TimeBudget,
    Validation,
)
from mmkg.platform.kge.config import TrainConfig
from mmkg.platform.kge.data import KGDataset, write_id_maps
from mmkg.platform.kge.evaluate import EvalResult, FilterIndex, evaluate, rank_metrics
from mmkg.platform.kge.hogwild import HogwildPool, plan_processes
from mmkg.platform.kge.kernels import set_compile
from mmkg.platform.kge.memory import MemoryEstimate, check_fits, estimate_training, memory_cap
from mmkg.platform.kge.models import KGEModel, build_model, check_fusion_inputs
from mmkg.platform.kge.representations import EmbeddingTable
from mmkg.platform.kge.steps import EpochStats, StepRunner

log = logging.getLogger(__name__)

# Compiling the pairwise kernels costs a few seconds once; below this much pairwise work
# (training: epochs x positives x negatives x dim; plus one evaluation) eager PyTorch finishes
# sooner (bench: Nations at PyKEEN's defaults trained in 4.1 s compiled, 1.5 s eager).
COMPILE_MIN_WORK = 1e9
# Settings that may change when a run is resumed; anything else must match.
RESUMABLE_CHANGES = {"epochs", "max_seconds", "patience", "eval_every", "num_procs", "device"}


def cpu_count() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


def peak_rss_gb() -> float:
    """Peak resident memory of this process plus that of its largest finished child (a
    Hogwild worker), in GiB; shared tables count in both."""
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    children = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    return round((own + children) / 1024**2, 3)


@dataclass
class TrainState:
    """Progress that a checkpoint carries across a resume."""

    epoch: int = 0
    history: list[dict[str, Any]] = field(default_factory=list)
    best_mrr: float | None = None
    best_epoch: int | None = None
    bad_validations: int = 0
    train_seconds: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TrainState:
        known = {k: data[k] for k in cls.__dataclass_fields__ if k in data}
        return cls(**known)


@dataclass
class TrainResult:
    run: Path | None
    metrics: dict[str, Any]
    model: KGEModel
    config: TrainConfig
    data: KGDataset

    def artifact(self, encoders: dict[str, str] | None = None) -> ServingArtifact:
        """The trained model as the server will score it, with the graph's element ids when
        the data came from an export (write-back then needs no lookup by id)."""
        return self.model.to_artifact(
            self.config,
            self.data.entity_ids,
            self.data.relation_names,
            self.metrics,
            entity_keys=self.data.entity_keys,
            relation_keys=self.data.relation_keys,
            encoders=encoders,
        )


def default_callbacks(config: TrainConfig, show_progress: bool | None) -> list[Callback]:
    return [
        ProgressBar(show_progress),
        DivergenceGuard(),
        TimeBudget(config.max_seconds),
        Validation(config.eval_every, config.patience),
        Checkpoints(config.checkpoint_every),
    ]


class Trainer:
    """Trains ``config`` on ``data``; ``run`` (optional) is the folder the run writes.

    >>> result = Trainer(data, make_config("rotate", {"epochs": 5}), Path("runs/r1")).fit()
    ... # doctest: +SKIP
    """

    def __init__(
        self,
        data: KGDataset,
        config: TrainConfig,
        run: Path | None = None,
        *,
        resume: bool = False,
        callbacks: Sequence[Callback] | None = None,
        show_progress: bool | None = None,
        max_memory: str | None = None,
        extra_callbacks: Sequence[Callback] = (),
    ) -> None:
        self.data = data
        self.config = config
        self.run = run
        self.resume = resume
        self.callbacks = (
            list(callbacks) if callbacks is not None else default_callbacks(config, show_progress)
        )
        self.callbacks += list(extra_callbacks)
        self.max_memory = max_memory
        self.state = TrainState()
        self.best_tables: dict[str, dict[str, Tensor]] | None = None
        self.stopping: str | None = None
        self.is_last_epoch = False
        self.processes, self.processes_reason = plan_processes(
            config, data.num_entities, cpu_count()
        )
        log.info("training processes: %d (%s)", self.processes, self.processes_reason)
        # Training's pairwise work, and one evaluation's (valid and test, both sides, against
        # every entity): an eager evaluation of WN18RR is minutes where compiled it is seconds.
        work = config.epochs * len(data.train) * max(config.negatives, 1) * config.dim
        work += 2 * (len(data.valid) + len(data.test)) * data.num_entities * config.dim
        self.compile_kernels = config.compile and work >= COMPILE_MIN_WORK
        if config.compile and not self.compile_kernels:
            log.info("eager kernels: %.2g pairwise operations do not repay compiling", work)
        self.estimate: MemoryEstimate | None = None
        self.model: KGEModel
        self.filter_index: FilterIndex

    # --- set-up ---------------------------------------------------------------------------
    def _check(self) -> None:
        self.data.check_trainable()
        # Before the run folder is made: a refused fusion leaves nothing behind.
        check_fusion_inputs(self.config, self.data.features, self.data.num_entities)
        if self.config.device.startswith("cuda") and not torch.cuda.is_available():
            raise ConfigError(
                f"device {self.config.device!r} asked for, but PyTorch sees no CUDA device"
            )
        data, cfg = self.data, self.config
        self.estimate = estimate_training(
            cfg, data.num_entities, data.num_relations, len(data.known_triples()), self.processes
        )
        if data.features:
            # Features in memory count (memory-mapped ones are paged in by the OS); a step's
            # projected vectors are of the order of its entity rows, counted above.
            self.estimate.parts["features"] = sum(
                0 if isinstance(m.values, np.memmap) else int(m.values.nbytes)
                for m in data.features
            )
        check_fits(
            self.estimate, memory_cap(self.max_memory), f"training {cfg.model} (dim {cfg.dim})"
        )
        log.info("memory estimate: %s", self.estimate.describe())

    def _prepare_run(self) -> None:
        run, config, data = self.run, self.config, self.data
        if run is None:
            if self.resume:
                raise ConfigError("resuming needs the run folder of the run to resume")
            return
        if self.resume:
            stored, _ = rd.read_config(run)
            changed = {
                k
                for k, v in config.model_dump().items()
                if getattr(stored, k) != v and k not in RESUMABLE_CHANGES
            }
            if changed:
                raise ConfigError(
                    f"cannot resume {run} with a different {', '.join(sorted(changed))}; only "
                    f"{', '.join(sorted(RESUMABLE_CHANGES))} may change"
                )
        elif run.exists() and any(run.iterdir()):
            raise ConfigError(
                f"{run} already holds files; pass --resume to continue it, or a new folder"
            )
        run.mkdir(parents=True, exist_ok=True)
        rd.write_json(
            run / rd.CONFIG,
            {
                "train": config.model_dump(),
                "dataset": data.describe(),
                "versions": {
                    "mmkg": __version__,
                    "torch": torch.__version__,
                    "python": platform.python_version(),
                },
            },
        )
        write_id_maps(data.entity_ids, data.relation_names, run)
        if data.source == "neo4j":
            rd.save_splits(run, data)

    def _build(self) -> None:
        cfg, data = self.config, self.data
        set_compile(self.compile_kernels)
        torch.manual_seed(cfg.seed)
        self.model = build_model(
            cfg,
            data.num_entities,
            data.num_relations,
            torch.Generator().manual_seed(cfg.seed),
            features=data.features,
            seen=data.seen_entities(),
        )
        if self.resume:
            assert self.run is not None
            self.state = TrainState.from_dict(rd.load_checkpoint(self.run, self.model))
            log.info("resuming %s after epoch %d", self.run, self.state.epoch)
        self.filter_index = FilterIndex(data.known_triples(), data.num_relations)

    # --- the loop -------------------------------------------------------------------------
    def report(self, triples: int, loss: float) -> None:
        for cb in self.callbacks:
            cb.on_progress(self, triples, loss)

    def keep_best(self) -> None:
        """Remember the current tables as the best so far (in memory, and in the run)."""
        self.best_tables = {
            "entities": self.model.entities.weights(),
            "relations": self.model.relations.weights(),
        }
        if self.run is not None:
            rd.save_embeddings(self.run, self.model)
            rd.save_best_weights(self.run, self.model, self.best_tables)

    def fit(self) -> TrainResult:
        """Train to the end (epochs, early stop or time budget); evaluate on valid and test."""
        self._check()
        self._prepare_run()
        self._build()
        pool = (
            HogwildPool(
                self.model,
                self.config.model_copy(update={"compile": self.compile_kernels}),
                self.data.train,
                self.processes,
            )
            if self.processes > 1
            else None
        )
        runner = None if pool else StepRunner(self.model, self.config, self.data.train)
        if pool is None:
            torch.set_num_threads(max(1, cpu_count()))
        stopped = "completed"
        try:
            for cb in self.callbacks:
                cb.on_fit_start(self)
            stopped = self._epochs(pool, runner)
            for cb in self.callbacks:
                cb.on_fit_end(self, stopped)
        finally:
            if pool is not None:
                pool.close()
            for cb in self.callbacks:
                if isinstance(cb, ProgressBar):
                    cb.close()
        return self._finish(stopped)

    def _epochs(self, pool: HogwildPool | None, runner: StepRunner | None) -> str:
        state, cfg = self.state, self.config
        for epoch in range(state.epoch, cfg.epochs):
            started = time.perf_counter()
            if pool is not None:
                stats = pool.run_epoch(epoch, self.report)
            else:
                assert runner is not None
                stats = runner.run_epoch(epoch, on_progress=self.report)
            seconds = time.perf_counter() - started
            state.train_seconds += seconds
            record = _record(epoch, stats, seconds)
            state.epoch = epoch + 1
            state.history.append(record)
            self.is_last_epoch = state.epoch == cfg.epochs
            self.stopping = None
            for cb in self.callbacks:
                reason = cb.on_epoch_end(self, record)
                self.stopping = self.stopping or reason
            if self.stopping:
                return self.stopping
        return "completed"

    # --- the end --------------------------------------------------------------------------
    def _finish(self, stopped: str) -> TrainResult:
        cfg, data, state, model = self.config, self.data, self.state, self.model
        if self.best_tables is not None:
            # Test the best validated tables, not the last ones (kept in memory).
            model.entities.set_weights(self.best_tables["entities"])
            model.relations.set_weights(self.best_tables["relations"])
        elif self.run is not None:
            rd.save_embeddings(self.run, model)  # never validated: the last epoch's tables
        if self.run is not None:
            rd.save_fusion_head(self.run, model.fusion_head())
        history = state.history
        triples = sum(h["triples_per_second"] * h["seconds"] for h in history)
        metrics: dict[str, Any] = {
            "model": cfg.model,
            "dataset": data.source,
            "stopped": stopped,
            "epochs": state.epoch,
            "best_epoch": state.best_epoch,
            "train_seconds": round(state.train_seconds, 2),
            "triples_per_second": round(triples / max(state.train_seconds, 1e-9), 1),
            "processes": self.processes,
            "processes_reason": self.processes_reason,
            "memory_estimate_gb": round((self.estimate.total if self.estimate else 0) / 1024**3, 3),
        }
        for split in ("valid", "test"):
            triples_split = data.split(split)
            if len(triples_split):
                result = evaluate(
                    model, triples_split, self.filter_index, cfg.eval_batch_size, False, split
                )
                metrics[split] = with_unseen(result, data, split)
                metrics[split].update(by_entity_novelty(result, data, split))
        calibration = fit_temperature(model, data.split("valid"), self.filter_index)
        if calibration is not None:
            metrics["calibration"] = calibration
        if data.features:
            metrics["fusion"] = fusion_report(model, data)
        metrics["peak_rss_gb"] = peak_rss_gb()
        if self.run is not None:
            rd.write_json(self.run / rd.METRICS, metrics)
            rd.write_json(self.run / rd.HISTORY, history)
            if history:
                rd.plot_curves(self.run, history)
        return TrainResult(self.run, metrics, model, cfg, data)


def _record(epoch: int, stats: EpochStats, seconds: float) -> dict[str, Any]:
    return {
        "epoch": epoch + 1,
        "loss": round(stats.loss, 6),
        "seconds": round(seconds, 3),
        "triples_per_second": round(stats.triples / max(seconds, 1e-9), 1),
        "valid_mrr": None,
    }


def train(
    data: KGDataset,
    config: TrainConfig,
    run: Path | None = None,
    resume: bool = False,
    show_progress: bool | None = None,
    max_memory: str | None = None,
) -> TrainResult:
    """Train ``config`` on ``data`` (into the run folder ``run``); evaluate on test at the end."""
    return Trainer(
        data, config, run, resume=resume, show_progress=show_progress, max_memory=max_memory
    ).fit()


def with_unseen(result: EvalResult, data: KGDataset, split: str) -> dict[str, Any]:
    out = result.to_dict()
    unseen = data.unseen(split)
    out.update(unseen)
    if unseen["triples_with_unseen_entity"]:
        log.warning(
            "%s: %d triple(s) mention entities never seen in training; they are ranked with "
            "their untrained vectors, not dropped",
            split,
            unseen["triples_with_unseen_entity"],
        )
    return out


def by_entity_novelty(result: EvalResult, data: KGDataset, split: str) -> dict[str, Any]:
    """Where a split mixes triples of entities seen in training with triples of unseen ones
    (cold start), each part's own metrics, from the ranks already computed."""
    unseen = data.unseen_rows(split)
    if not unseen.any():
        return {}
    out: dict[str, Any] = {}
    for name, rows in (("unseen_entity_triples", unseen), ("seen_entity_triples", ~unseen)):
        if rows.any():
            both = np.concatenate([result.ranks[side][rows] for side in ("head", "tail")])
            out[name] = {"triples": int(rows.sum()), **rank_metrics(both)}
    return out


def fusion_report(model: KGEModel, data: KGDataset) -> dict[str, Any]:
    """Which modalities the run used, what made them, and the fusion's mean weights."""
    report: dict[str, Any] = {"modalities": {m.name: m.describe() for m in data.features}}
    shares = getattr(model.entities, "modality_shares", None)
    if shares is not None:
        report["mean_weights"] = shares()
    return report


def evaluate_run(
    run: Path,
    data: KGDataset,
    split: str,
    device: str = "cpu",
    batch_size: int = 0,
    placed: npt.NDArray[np.float32] | None = None,
) -> dict[str, Any]:
    """Filtered metrics of a trained run on one split of ``data``; ``placed``: vectors of
    entities numbered after the run's own (cold start, placed from their features)."""
    model, _, _ = rd.load_model(run, device)
    if placed is not None and len(placed):
        assert isinstance(model.entities, EmbeddingTable)
        every = np.concatenate([model.entities.to_numpy(), placed])
        table = EmbeddingTable(len(every), every.shape[1], model.entities.optimizer,
                               device=device)  # fmt: skip
        table.load_weight(every)
        model.entities = table
    if model.num_entities != data.num_entities or model.num_relations != data.num_relations:
        raise TrainingError(
            f"{run} was trained on {model.num_entities} entities and {model.num_relations} "
            f"relations, the data has {data.num_entities} and {data.num_relations}"
        )
    triples = data.split(split)
    if len(triples) == 0:
        unknown = data.unknown.get(split, 0)
        if unknown:
            raise TrainingError(
                f"all {unknown} triple(s) of the {split} split of {data.source} name entities or "
                "relations the run does not know; a fusion run places new entities from "
                "their features (--text, --numeric, --features)"
            )
        raise TrainingError(f"the {split} split of {data.source} is empty")
    filter_index = FilterIndex(data.known_triples(), data.num_relations)
    result = evaluate(model, triples, filter_index, batch_size, None, split)
    out = {"run": str(run), "split": split, **with_unseen(result, data, split)}
    out.update(by_entity_novelty(result, data, split))
    if data.unknown.get(split):
        out["triples_unknown_to_run"] = data.unknown[split]
    return out
