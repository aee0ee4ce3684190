"""Running one analyst-supplied Cypher statement and making its values printable."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import neo4j
import neo4j.graph
import neo4j.time

from mmkg.errors import QueryError
from mmkg.platform.store import Graph, translate_errors


def to_plain(value: Any) -> Any:
    """Nodes, relationships, paths and temporal values as JSON-friendly Python values."""
    if isinstance(value, neo4j.graph.Node):
        return {"labels": sorted(value.labels), "properties": to_plain(dict(value))}
    if isinstance(value, neo4j.graph.Relationship):
        return {"type": value.type, "properties": to_plain(dict(value))}
    if isinstance(value, neo4j.graph.Path):
        return {"nodes": [to_plain(n) for n in value.nodes]}
    if isinstance(value, list | tuple):
        return [to_plain(v) for v in value]
    if isinstance(value, Mapping):
        return {str(k): to_plain(v) for k, v in value.items()}
    if isinstance(value, neo4j.time.DateTime | neo4j.time.Date | neo4j.time.Time):
        return value.iso_format()
    if isinstance(value, neo4j.time.Duration):
        return str(value)
    return value


def parse_param(text: str) -> tuple[str, Any]:
    """``name=value``; the value is read as JSON when it parses (numbers, lists, ...),
    else taken as a string."""
    name, sep, raw = text.partition("=")
    if not sep or not name.strip():
        raise QueryError(f"parameter {text!r} must look like name=value")
    try:
        value = json.loads(raw)
    except json.JSONDecodeError:
        value = raw
    return name.strip(), value


@dataclass
class CypherResult:
    columns: list[str]
    rows: list[list[Any]]
    counters: dict[str, int] = field(default_factory=dict)


_COUNTERS = (
    "nodes_created", "nodes_deleted", "relationships_created", "relationships_deleted",
    "properties_set", "labels_added", "labels_removed", "indexes_added", "indexes_removed",
    "constraints_added", "constraints_removed", "system_updates",
)  # fmt: skip


def run_cypher(
    graph: Graph, statement: str, params: Mapping[str, Any] | None = None, write: bool = False
) -> CypherResult:
    """Run one statement in an auto-commit transaction (so `CALL {…} IN TRANSACTIONS` works
    too) and return its columns, rows as plain values and the counters of what it changed.

    Read-only unless ``write``: a statement that would write is refused by the server, with
    nothing changed.

    Raises:
        QueryError: the statement failed, or it writes and ``write`` is off.
    """
    mode = neo4j.WRITE_ACCESS if write else neo4j.READ_ACCESS
    try:
        with (
            translate_errors(graph.uri),
            graph.driver.session(database=graph.database, default_access_mode=mode) as session,
        ):
            result = session.run(neo4j.Query(statement), dict(params or {}))
            keys = list(result.keys())
            rows = [[to_plain(v) for v in record.values()] for record in result]
            summary = result.consume()
    except QueryError as e:
        if not write and ("AccessMode" in str(e) or "read access mode" in str(e).lower()):
            raise QueryError(
                "this statement writes to the graph and mmkg cypher runs read-only by default; "
                "run it again with --write"
            ) from e
        raise
    counters = {name: int(getattr(summary.counters, name, 0) or 0) for name in _COUNTERS}
    return CypherResult(keys, rows, {k: v for k, v in counters.items() if v})
