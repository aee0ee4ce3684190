"""Running one analyst-supplied Cypher statement and making its values printable."""

from __future__ import annotations

import json
from collections.abc import Mapping
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


def run_cypher(
    graph: Graph, statement: str, params: Mapping[str, Any] | None = None
) -> tuple[list[str], list[list[Any]]]:
    """Run one statement in an auto-commit transaction (so `CALL {…} IN TRANSACTIONS` works
    too) and return its column names and rows as plain values."""
    with translate_errors(graph.uri), graph.driver.session(database=graph.database) as session:
        result = session.run(neo4j.Query(statement), dict(params or {}))
        keys = list(result.keys())
        rows = [[to_plain(v) for v in record.values()] for record in result]
    return keys, rows
