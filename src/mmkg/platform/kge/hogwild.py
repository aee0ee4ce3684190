"""Hogwild multi-process CPU training over shared-memory embedding tables.

Each worker process holds the same tables (and optimizer state) in shared memory and trains
on its slice of every epoch's permutation without locks, as in DGL-KE: sparse updates
rarely touch the same rows at once, and when they do the lost update costs less than the
lock would. One thread per process, because small sparse steps scale better over processes
than over intra-op threads.
"""

from __future__ import annotations

import logging
import queue
import traceback
from typing import Any

import numpy as np
import numpy.typing as npt
import torch
import torch.multiprocessing as mp

from mmkg.errors import TrainingError
from mmkg.platform.kge.config import TrainConfig
from mmkg.platform.kge.kernels import set_compile
from mmkg.platform.kge.models import KGEModel, build_model
from mmkg.platform.kge.representations import EmbeddingTable
from mmkg.platform.kge.steps import EpochStats, Progress, StepRunner

log = logging.getLogger(__name__)

_POLL_SECONDS = 1.0
# Hogwild pays off while two processes rarely update the same row at once. Above this share
# of entity rows touched per step, concurrent steps overwrite each other's updates: on a dense
# graph of ~100 entities two processes lost 0.07 test MRR (bench/kge_vs_pykeen.py), while on
# WN18RR (7% touched) and FB15k-237 (19%) they matched one process.
MAX_TOUCHED_SHARE = 0.25


def touched_share(config: TrainConfig, num_entities: int) -> float:
    """Expected share of entity rows one sLCWA step updates: the heads and tails of its
    positives plus every negative entity drawn, with repeats (draws land uniformly)."""
    chunks = -(-config.batch_size // config.neg_chunk_size)
    draws = 2 * config.batch_size + chunks * config.negatives
    return float(1.0 - np.exp(-draws / max(num_entities, 1)))


def plan_processes(config: TrainConfig, num_entities: int, cores: int) -> tuple[int, str]:
    """How many training processes to run, and why: Hogwild (one process per core) only
    where it loses nothing; ``num_procs`` set explicitly is obeyed, with a warning where it
    is unsafe."""
    if config.device != "cpu" or config.training != "slcwa":
        return 1, "CUDA and all-entities training parallelise inside each step"
    if config.fusion != "none":
        # Projections and fusion are dense: every step writes all of them, and one Adam
        # keeps their state; processes would race on every coordinate.
        if config.num_procs > 1:
            log.warning("fusion trains in one process; num_procs %d ignored", config.num_procs)
        return 1, "fusion's dense parameters are trained in one process (threads inside a step)"
    share = touched_share(config, num_entities)
    risks = []
    if config.optimizer != "adagrad":
        # Adam's and element-wise Adagrad's per-coordinate state is read and written by
        # every step; racing processes corrupt it (DGL-KE keeps row-wise Adagrad for this).
        risks.append(f"optimizer {config.optimizer} keeps per-coordinate state that races")
    if share > MAX_TOUCHED_SHARE:
        risks.append(
            f"each step touches ~{share:.0%} of the {num_entities} entities, so parallel "
            "steps overwrite each other's updates"
        )
    if config.num_procs:
        if config.num_procs > 1 and risks:
            log.warning("Hogwild with %d processes asked for, although %s; accuracy may "
                        "suffer (leave num_procs at 0 to let mmkg choose)",
                        config.num_procs, "; ".join(risks))  # fmt: skip
        return config.num_procs, "num_procs set"
    if cores <= 1:
        return 1, "one core"
    if risks:
        return 1, "one process: " + "; ".join(risks)
    return cores, f"Hogwild over {cores} cores (each step touches ~{share:.0%} of the entities)"


def _worker(
    worker: int,
    workers: int,
    config_json: str,
    sizes: tuple[int, int],
    tables: dict[str, Any],
    train: torch.Tensor,
    tasks: Any,
    results: Any,
) -> None:
    torch.set_num_threads(1)
    try:
        config = TrainConfig.model_validate_json(config_json)
        set_compile(config.compile)
        model = build_model(config, sizes[0], sizes[1], torch.Generator(), shared=tables)
        runner = StepRunner(model, config, train.numpy())

        def report(n: int, loss: float) -> None:
            results.put(("progress", worker, n, loss))

        while (epoch := tasks.get()) is not None:
            stats = runner.run_epoch(epoch, worker, workers, report)
            results.put(("done", worker, stats.loss_sum, stats.batches, stats.triples))
    except Exception as e:
        results.put(("error", worker, str(e), traceback.format_exc()))


def _shared_tables(model: KGEModel) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name in ("entities", "relations"):
        table = getattr(model, name)
        if not isinstance(table, EmbeddingTable):
            raise TrainingError("Hogwild training needs embedding-table representations")
        table.share_memory()
        out[name] = table.shared()
    return out


class HogwildPool:
    """Worker processes kept for the whole run; the parent validates between epochs."""

    def __init__(
        self, model: KGEModel, config: TrainConfig, train: npt.NDArray[np.int64], workers: int
    ) -> None:
        # spawn, not fork: a forked child inherits locks held by the parent's threads
        # (torch.compile's worker pool, OpenMP) and can hang on its first compiled kernel.
        # Tables reach the workers through shared memory. As with PyTorch's DataLoader, a
        # script that trains must guard its entry point with `if __name__ == "__main__":`.
        ctx = mp.get_context("spawn")
        self.workers = workers
        self.results = ctx.Queue()
        self.tasks = [ctx.Queue() for _ in range(workers)]
        tables = _shared_tables(model)
        shared_train = torch.from_numpy(np.ascontiguousarray(train))
        shared_train.share_memory_()  # type: ignore[no-untyped-call]
        sizes = (model.num_entities, model.num_relations)
        self.procs = [
            ctx.Process(
                target=_worker,
                args=(w, workers, config.model_dump_json(), sizes, tables, shared_train,
                      self.tasks[w], self.results),
                daemon=True,
                name=f"mmkg-hogwild-{w}",
            )
            for w in range(workers)
        ]  # fmt: skip
        for proc in self.procs:
            proc.start()

    def run_epoch(self, epoch: int, on_progress: Progress | None = None) -> EpochStats:
        for task in self.tasks:
            task.put(epoch)
        total = EpochStats()
        finished = 0
        while finished < self.workers:
            try:
                message = self.results.get(timeout=_POLL_SECONDS)
            except queue.Empty:
                dead = [p for p in self.procs if not p.is_alive()]
                if dead:
                    self.close()
                    code = dead[0].exitcode
                    why = (
                        "it was killed (out of memory is the usual cause)"
                        if code is not None and code < 0
                        else "see the log above"
                    )
                    raise TrainingError(
                        f"Hogwild worker {dead[0].name} exited with code {code} in epoch "
                        f"{epoch + 1}: {why}"
                    ) from None
                continue
            kind = message[0]
            if kind == "progress" and on_progress is not None:
                on_progress(message[2], message[3])
            elif kind == "done":
                total.add(EpochStats(message[2], message[3], message[4]))
                finished += 1
            elif kind == "error":
                self.close()
                log.debug("worker %d failed:\n%s", message[1], message[3])
                raise TrainingError(f"Hogwild worker {message[1]}: {message[2]}")
        return total

    def close(self) -> None:
        for proc, task in zip(self.procs, self.tasks, strict=True):
            if proc.is_alive():
                task.put(None)
        for proc in self.procs:
            proc.join(timeout=10)
            if proc.is_alive():
                proc.terminate()
                proc.join()
