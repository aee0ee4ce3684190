"""A training run: epochs, validation with early stopping, checkpoints, the run folder."""

from __future__ import annotations

import logging
import os
import platform
import resource
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from mmkg import __version__
from mmkg.errors import ConfigError, TrainingError
from mmkg.platform.kge import run_dir as rd
from mmkg.platform.kge.config import TrainConfig
from mmkg.platform.kge.data import KGDataset, write_id_maps
from mmkg.platform.kge.evaluate import EvalResult, FilterIndex, evaluate
from mmkg.platform.kge.hogwild import HogwildPool
from mmkg.platform.kge.kernels import set_compile
from mmkg.platform.kge.memory import check_fits, estimate_training, memory_cap
from mmkg.platform.kge.models import KGEModel, build_model
from mmkg.platform.kge.steps import EpochStats, StepRunner
from mmkg.platform.progress import progress

log = logging.getLogger(__name__)

# Settings that may change when a run is resumed; anything else must match.
RESUMABLE_CHANGES = {"epochs", "max_seconds", "patience", "eval_every", "num_procs", "device"}


@dataclass
class TrainResult:
    run: Path
    metrics: dict[str, Any]
    model: KGEModel


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


def _processes(config: TrainConfig) -> int:
    if config.device != "cpu" or config.training != "slcwa":
        return 1  # CUDA and all-entities training parallelise inside each step
    return config.num_procs or cpu_count()


def _prepare_run(run: Path, config: TrainConfig, data: KGDataset, resume: bool) -> None:
    if resume:
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
    write_id_maps(data, run)
    if data.source == "neo4j":
        rd.save_splits(run, data)


def train(
    data: KGDataset,
    config: TrainConfig,
    run: Path,
    resume: bool = False,
    show_progress: bool | None = None,
    max_memory: str | None = None,
) -> TrainResult:
    """Train ``config`` on ``data`` into the run folder ``run``; evaluate on test at the end."""
    data.check_trainable()
    if config.device.startswith("cuda") and not torch.cuda.is_available():
        raise ConfigError(f"device {config.device!r} asked for, but PyTorch sees no CUDA device")
    procs = _processes(config)
    estimate = estimate_training(
        config, data.num_entities, data.num_relations, len(data.known_triples()), procs
    )
    check_fits(estimate, memory_cap(max_memory), f"training {config.model} (dim {config.dim})")
    log.info("memory estimate: %s", estimate.describe())
    _prepare_run(run, config, data, resume)
    set_compile(config.compile)
    torch.manual_seed(config.seed)
    model = build_model(
        config, data.num_entities, data.num_relations, torch.Generator().manual_seed(config.seed)
    )
    state: dict[str, Any] = {"epoch": 0, "history": [], "best_mrr": None, "best_epoch": None,
                             "bad_validations": 0, "train_seconds": 0.0}  # fmt: skip
    if resume:
        state.update(rd.load_checkpoint(run, model))
        log.info("resuming %s after epoch %d", run, state["epoch"])
    filter_index = FilterIndex(data.known_triples(), data.num_relations)
    pool = HogwildPool(model, config, data.train, procs) if procs > 1 else None
    runner = None if pool else StepRunner(model, config, data.train)
    if pool is None:
        torch.set_num_threads(max(1, cpu_count()))
    stopped = "completed"
    try:
        stopped = _epochs(
            config, data, run, model, state, filter_index, pool, runner, show_progress
        )
    finally:
        if pool is not None:
            pool.close()
    return _finish(config, data, run, model, state, filter_index, stopped, procs, estimate.total)


def _epochs(
    config: TrainConfig,
    data: KGDataset,
    run: Path,
    model: KGEModel,
    state: dict[str, Any],
    filter_index: FilterIndex,
    pool: HogwildPool | None,
    runner: StepRunner | None,
    show_progress: bool | None,
) -> str:
    per_epoch = len(data.train) * (2 if config.training != "slcwa" else 1)
    remaining = config.epochs - state["epoch"]
    with progress(
        max(remaining, 0) * per_epoch, f"train {config.model}", "triple", show_progress
    ) as bar:

        def on_progress(n: int, loss: float) -> None:
            bar.update(n)
            bar.set_postfix(epoch=state["epoch"] + 1, loss=f"{loss:.4f}", refresh=False)

        for epoch in range(state["epoch"], config.epochs):
            started = time.perf_counter()
            if pool is not None:
                stats = pool.run_epoch(epoch, on_progress)
            else:
                assert runner is not None
                stats = runner.run_epoch(epoch, on_progress=on_progress)
            seconds = time.perf_counter() - started
            state["train_seconds"] += seconds
            record = _record(epoch, stats, seconds)
            state["epoch"] = epoch + 1
            last = epoch + 1 == config.epochs
            out_of_time = (
                config.max_seconds is not None and state["train_seconds"] >= config.max_seconds
            )
            stop = None
            if config.eval_every and ((epoch + 1) % config.eval_every == 0 or last or out_of_time):
                stop = _validate(config, data, run, model, state, filter_index, record)
            state["history"].append(record)
            if state["epoch"] % config.checkpoint_every == 0 or last or stop or out_of_time:
                rd.save_checkpoint(run, model, state)
                rd.write_json(run / rd.HISTORY, state["history"])
            if stop:
                return stop
            if out_of_time:
                return "time_budget"
    return "completed"


def _record(epoch: int, stats: EpochStats, seconds: float) -> dict[str, Any]:
    return {
        "epoch": epoch + 1,
        "loss": round(stats.loss, 6),
        "seconds": round(seconds, 3),
        "triples_per_second": round(stats.triples / max(seconds, 1e-9), 1),
        "valid_mrr": None,
    }


def _validate(
    config: TrainConfig,
    data: KGDataset,
    run: Path,
    model: KGEModel,
    state: dict[str, Any],
    filter_index: FilterIndex,
    record: dict[str, Any],
) -> str | None:
    if len(data.valid) == 0:
        return None
    result = evaluate(model, data.valid, filter_index, config.eval_batch_size, False)
    record["valid_mrr"] = round(result.mrr, 6)
    record["valid_hits@10"] = round(result.metrics["both"]["hits@10"], 6)
    log.info("epoch %d: loss %.4f, valid MRR %.4f", record["epoch"], record["loss"], result.mrr)
    if state["best_mrr"] is None or result.mrr > state["best_mrr"]:
        state.update(best_mrr=result.mrr, best_epoch=record["epoch"], bad_validations=0)
        rd.save_embeddings(run, model)
        return None
    state["bad_validations"] += 1
    if config.patience and state["bad_validations"] >= config.patience:
        log.info("early stop: no better validation MRR for %d checks", config.patience)
        return "early_stopping"
    return None


def _finish(
    config: TrainConfig,
    data: KGDataset,
    run: Path,
    model: KGEModel,
    state: dict[str, Any],
    filter_index: FilterIndex,
    stopped: str,
    procs: int,
    estimate_bytes: int,
) -> TrainResult:
    if state["best_mrr"] is None:
        rd.save_embeddings(run, model)  # never validated: the last epoch's tables
    else:
        # Test the best validated embeddings, not the last ones.
        best, _, _ = rd.load_model(run, config.device)
        model = best
    history = state["history"]
    triples = sum(h["triples_per_second"] * h["seconds"] for h in history)
    metrics: dict[str, Any] = {
        "model": config.model,
        "dataset": data.source,
        "stopped": stopped,
        "epochs": state["epoch"],
        "best_epoch": state["best_epoch"],
        "train_seconds": round(state["train_seconds"], 2),
        "triples_per_second": round(triples / max(state["train_seconds"], 1e-9), 1),
        "processes": procs,
        "memory_estimate_gb": round(estimate_bytes / 1024**3, 3),
    }
    for split in ("valid", "test"):
        triples_split = data.split(split)
        if len(triples_split):
            result = evaluate(
                model, triples_split, filter_index, config.eval_batch_size, False, split
            )
            metrics[split] = _with_unseen(result, data, split)
    metrics["peak_rss_gb"] = peak_rss_gb()
    rd.write_json(run / rd.METRICS, metrics)
    rd.write_json(run / rd.HISTORY, history)
    if history:
        rd.plot_curves(run, history)
    return TrainResult(run, metrics, model)


def _with_unseen(result: EvalResult, data: KGDataset, split: str) -> dict[str, Any]:
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


def evaluate_run(
    run: Path, data: KGDataset, split: str, device: str = "cpu", batch_size: int = 0
) -> dict[str, Any]:
    """Filtered metrics of a trained run on one split of ``data``."""
    model, _, _ = rd.load_model(run, device)
    if model.num_entities != data.num_entities or model.num_relations != data.num_relations:
        raise TrainingError(
            f"{run} was trained on {model.num_entities} entities and {model.num_relations} "
            f"relations, the data has {data.num_entities} and {data.num_relations}"
        )
    triples = data.split(split)
    if len(triples) == 0:
        raise TrainingError(f"the {split} split of {data.source} is empty")
    filter_index = FilterIndex(data.known_triples(), data.num_relations)
    result = evaluate(model, triples, filter_index, batch_size, None, split)
    out = {"run": str(run), "split": split, **_with_unseen(result, data, split)}
    if data.unknown.get(split):
        out["triples_unknown_to_run"] = data.unknown[split]
    return out
