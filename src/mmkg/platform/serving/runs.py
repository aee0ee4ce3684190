"""Listing, activating and dropping embedding runs."""

from __future__ import annotations

import contextlib
import json
import logging
from typing import Any

from mmkg.errors import DataError, MmkgError
from mmkg.graph_schema import queries as Q
from mmkg.graph_schema.model import ENTITY, RELATION_TYPE
from mmkg.graph_schema.names import RunNames
from mmkg.platform.store import Graph

log = logging.getLogger(__name__)

_REMOVE_BATCH = 10_000


def _clean(run: dict[str, Any]) -> dict[str, Any]:
    """A run node's properties for people: JSON fields parsed, temporal values as strings."""
    out: dict[str, Any] = {}
    for key, value in run.items():
        if key in ("params", "metrics") and isinstance(value, str):
            with contextlib.suppress(ValueError):
                value = json.loads(value)
        elif hasattr(value, "iso_format"):
            value = value.iso_format()
        elif isinstance(value, bytes | bytearray):
            value = f"{len(value)} bytes"  # the fusion head: read by readback, not by people
        out[key] = value
    return out


def get_run(graph: Graph, run_id: str) -> dict[str, Any] | None:
    rows = graph.read(Q.GET_RUN, {"id": run_id})
    return _clean(rows[0]["run"]) if rows else None


def active_run_id(graph: Graph) -> str | None:
    rows = graph.read(Q.ACTIVE_RUN_ID)
    return rows[0]["id"] if rows else None


def list_runs(graph: Graph) -> list[dict[str, Any]]:
    """Every run, oldest first, with ``serving`` true for the active one."""
    return [{**_clean(r["run"]), "serving": r["serving"]} for r in graph.read(Q.LIST_RUNS)]


def _require(graph: Graph, run_id: str) -> dict[str, Any]:
    run = get_run(graph, run_id)
    if run is None:
        known = [r["id"] for r in list_runs(graph)]
        raise DataError(
            f"unknown embedding run {run_id!r}; "
            + (f"runs in the graph: {', '.join(known)}" if known else "the graph holds no runs")
        )
    return run


def activate_run(graph: Graph, run_id: str) -> None:
    """Make ``run_id`` the run that serves predictions, in one transaction.

    Raises:
        DataError: when the run is unknown, not completely written, or a recommender's.
    """
    existing = get_run(graph, run_id)
    if existing is not None and existing.get("kind") == "recommender":
        raise DataError(
            f"embedding run {run_id!r} holds a recommender's item vectors, not link "
            "prediction's: `CALL mmkg.recommend` serves it (`mmkg recommend --fit` made it)"
        )
    if graph.write_rows(Q.ACTIVATE_RUN, {"id": run_id}):
        log.info("embedding run %s is now active", run_id)
        return
    run = _require(graph, run_id)
    raise DataError(
        f"embedding run {run_id!r} cannot serve yet: its status is {run.get('status')!r}; "
        "its write did not finish, so run `mmkg embeddings write` for it again"
    )


def drop_run(graph: Graph, run_id: str, force: bool = False) -> dict[str, int]:
    """Remove a run: its index, its vectors on every node, then its node.

    The run is marked ``dropping`` first, so an interrupted drop can be run again and the run
    can never be activated half-removed.

    Raises:
        DataError: for an unknown run, or the active one without ``force``.
    """
    run = _require(graph, run_id)
    if active_run_id(graph) == run_id:
        if not force:
            raise DataError(
                f"embedding run {run_id!r} is the active run; activate another first, or pass "
                "--force to drop it and leave no run serving"
            )
        graph.write(Q.DEACTIVATE_RUN, {"id": run_id})
    graph.write(Q.MARK_RUN_DROPPING, {"id": run_id})
    names = RunNames(str(run.get("key") or RunNames.for_run(run_id).key))
    graph.run_autocommit(Q.DROP_INDEX, {"name": names.index})
    removed: dict[str, int] = {}
    for label, prop in (
        (ENTITY, names.entity),
        (ENTITY, names.augmented),
        (RELATION_TYPE, names.relation),
        (RELATION_TYPE, names.inverse),
    ):
        removed[prop] = clear_property(graph, label, prop)
    graph.write(Q.DELETE_RUN, {"id": run_id})
    try:
        graph.read(Q.CACHE_DROP, {"run": run_id})
    except MmkgError as e:  # the plugin is missing: there is no cache to empty
        log.debug("could not drop the run from the plugin's cache: %s", e)
    log.info("dropped embedding run %s", run_id)
    return removed


def clear_property(graph: Graph, label: str, prop: str) -> int:
    """Remove ``prop`` from every node of ``label``, in bounded transactions."""
    query = Q.remove_property_batch(label, prop)
    total = 0
    while True:
        rows = graph.write_rows(query, {"limit": _REMOVE_BATCH})
        n = int(rows[0]["n"]) if rows else 0
        total += n
        if n < _REMOVE_BATCH:
            return total
