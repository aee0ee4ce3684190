"""The Neo4j plugin's cache of run matrices: load, list and drop (``mmkg cache …``).

A run's vectors are loaded into the server's heap on the first exact query, or ahead of time
with :func:`cache_load` (which pins them and can build an ANN graph); the cache's memory budget
is the server setting ``mmkg.cache.max_heap_fraction``.
"""

from __future__ import annotations

from typing import Any

from mmkg.graph_schema import queries as Q
from mmkg.platform.serving.calls import call_read
from mmkg.platform.store import Graph


def _plain(row: dict[str, Any]) -> dict[str, Any]:
    out = dict(row)
    value: Any = out.get("loaded_at")
    if value is not None and hasattr(value, "iso_format"):
        out["loaded_at"] = value.iso_format()
    return out


def cache_load(
    graph: Graph,
    run: str | None = None,
    *,
    index: str | None = None,
    concurrency: int | None = None,
) -> dict[str, Any]:
    """Load (and pin) a run's matrix — the active run when ``run`` is None; ``index='hnsw'``
    also builds the plugin's ANN graph over it."""
    options: dict[str, Any] = {}
    if index:
        options["index"] = index
    if concurrency:
        options["concurrency"] = concurrency
    rows = call_read(graph, Q.CACHE_LOAD, {"run": run, "options": options})
    return _plain(rows[0])


def cache_list(graph: Graph) -> list[dict[str, Any]]:
    return [_plain(r) for r in call_read(graph, Q.CACHE_LIST, {})]


def cache_drop(graph: Graph, run: str) -> dict[str, Any]:
    return call_read(graph, Q.CACHE_DROP, {"run": run})[0]
