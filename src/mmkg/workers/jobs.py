"""Job records: every task's state, progress and error as a (:MmkgJob) node, for `mmkg jobs`.

Bookkeeping never fails a task: when Neo4j is unreachable the record waits for the next attempt
(the task itself will be retrying for the same reason).
"""

from __future__ import annotations

import contextlib
import json
import logging
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


def started(graph: Graph | None, job_id: str, task: str, args: Any, worker: str) -> None:
    _safe(graph, Q.JOB_START, {"id": job_id, "task": task, "args": _json(args), "worker": worker})


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
