"""Job records: every task's state, progress and error as a (:MmkgJob) node, for `mmkg jobs`.

Bookkeeping never fails a task: when Neo4j is unreachable the record waits for the next attempt
(the task itself will be retrying for the same reason).
"""

from __future__ import annotations

import contextlib
import json
import logging
import threading
from dataclasses import dataclass
from typing import Any

from mmkg.errors import MmkgError
from mmkg.graph_schema import queries as Q
from mmkg.platform.store import Graph

log = logging.getLogger(__name__)


def _safe(graph: Graph | None, query: str, params: dict[str, Any]) -> None:
    if graph is None:
        return
    try:
        graph.write(query, params)
    except MmkgError as e:
        log.warning("could not record job state: %s", e)


def _json(value: Any, limit: int = 20_000) -> str:
    text = json.dumps(value, default=str, sort_keys=True)
    return text if len(text) <= limit else text[: limit - 1] + "…"


@dataclass
class Claim:
    """What claiming a job found: run it, return its stored result, or wait for its holder."""

    run: bool
    done: bool = False
    result: Any = None
    held_by: str | None = None
    lease_left: float = 0.0
    lost_worker: str | None = None


def claim(
    graph: Graph | None, job_id: str, task: str, args: Any, worker: str, lease: float
) -> Claim:
    """Take the job for ``worker`` with a lease of ``lease`` seconds.

    Without Neo4j the task simply runs (bookkeeping never blocks work); the tasks are
    idempotent, so the rare duplicate that the lease would have stopped repeats nothing.
    """
    if graph is None:
        return Claim(run=True)
    try:
        rows = graph.write_rows(
            Q.JOB_CLAIM,
            {"id": job_id, "task": task, "args": _json(args), "worker": worker,
             "lease": int(max(lease, 1))},
        )  # fmt: skip
    except MmkgError as e:
        log.warning("could not claim job %s: %s", job_id, e)
        return Claim(run=True)
    row = rows[0]
    if row["done"]:
        result = row["result"]
        with contextlib.suppress(TypeError, ValueError):
            result = json.loads(result)
        return Claim(run=False, done=True, result=result)
    if row["held"]:
        return Claim(
            run=False, held_by=row["previous_worker"], lease_left=float(row["lease_left"] or 0)
        )
    lost = row["previous_worker"] if row["previous"] == "running" else None
    if lost and lost != worker:
        log.warning("job %s: worker %s was lost while running it; this attempt takes over",
                    job_id, lost)  # fmt: skip
    return Claim(run=True, lost_worker=lost if lost != worker else None)


class Heartbeat:
    """Renews the job's lease every third of its length while the task runs, from a thread of
    the process that runs it: if that process dies, the lease runs out and a redelivered copy
    of the task may take the job over."""

    def __init__(self, graph: Graph | None, job_id: str, worker: str, lease: float) -> None:
        self.graph, self.job_id, self.worker, self.lease = graph, job_id, worker, lease
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._beat, name="mmkg-lease", daemon=True)

    def _beat(self) -> None:
        params = {"id": self.job_id, "worker": self.worker, "lease": int(max(self.lease, 1))}
        while not self._stop.wait(self.lease / 3):
            _safe(self.graph, Q.JOB_HEARTBEAT, params)

    def __enter__(self) -> Heartbeat:
        if self.graph is not None:
            self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(5)


def progress(graph: Graph | None, job_id: str, fraction: float, note: str = "") -> None:
    _safe(graph, Q.JOB_PROGRESS, {"id": job_id, "progress": round(fraction, 3), "note": note})


def finished(
    graph: Graph | None, job_id: str, state: str, result: Any = None, error: str | None = None
) -> None:
    _safe(
        graph,
        Q.JOB_FINISH,
        {"id": job_id, "state": state, "result": None if result is None else _json(result),
         "error": error},
    )  # fmt: skip


def retrying(graph: Graph | None, job_id: str, task: str, error: str) -> None:
    _safe(graph, Q.JOB_RETRY, {"id": job_id, "task": task, "error": error})


def list_jobs(graph: Graph, limit: int = 50) -> list[dict[str, Any]]:
    rows = graph.read(Q.LIST_JOBS, {"limit": limit})
    for row in rows:
        for key in ("result", "args"):
            if isinstance(row.get(key), str):
                with contextlib.suppress(ValueError):
                    row[key] = json.loads(row[key])
    return rows


def queued(graph: Graph | None, job_id: str, task: str, args: Any, by: str = "") -> None:
    """Record a job sent to the queue, so it is listed before a worker takes it."""
    _safe(graph, Q.JOB_QUEUED, {"id": job_id, "task": task, "args": _json(args), "by": by})


def get_job(graph: Graph, job_id: str) -> dict[str, Any] | None:
    rows = graph.read(Q.GET_JOB, {"id": job_id})
    if not rows:
        return None
    job: dict[str, Any] = {
        k: (str(v) if hasattr(v, "iso_format") else v) for k, v in rows[0]["job"].items()
    }
    for key in ("result", "args"):
        if isinstance(job.get(key), str):
            with contextlib.suppress(ValueError):
                job[key] = json.loads(job[key])
    return job
