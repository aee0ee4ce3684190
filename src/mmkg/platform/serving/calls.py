"""Calling mmkg's Neo4j procedures: their stable error codes become typed exceptions.

The plugin starts every message it raises with a code (``MMKG-E001: head: unknown entity
'x'``); the code picks the exception class, the rest is the message. No prose is parsed.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from mmkg import errors as E
from mmkg.errors import QueryError, ServingError
from mmkg.platform.store import Graph

CODES: dict[str, type[ServingError]] = {
    "MMKG-E001": E.UnknownEntityError,
    "MMKG-E002": E.UnknownRelationError,
    "MMKG-E003": E.NoActiveRunError,
    "MMKG-E004": E.UnknownRunError,
    "MMKG-E005": E.RunNotReadyError,
    "MMKG-E006": E.MissingEmbeddingError,
    "MMKG-E007": E.InvalidRequestError,
    "MMKG-E008": E.CacheMemoryError,
    "MMKG-E009": E.NoVectorIndexError,
    "MMKG-E010": E.StaleKeyError,
    "MMKG-E011": E.RunCorruptError,
    "MMKG-E012": E.UnknownUserError,
}
_CODED = re.compile(r"(MMKG-E\d{3}): (.*?)(?:\n|$)", re.S)
_MISSING = ("ProcedureNotFound", "Unknown function", "no procedure", "There is no procedure")


def plugin_error(error: QueryError) -> ServingError | None:
    """The typed error a failed call stands for, or None when it did not come from mmkg."""
    text = str(error)
    if any(marker in text for marker in _MISSING):
        return ServingError(
            "the mmkg procedures are not installed on this server: `mmkg neo4j start` installs "
            "them into the managed server; for your own server see `mmkg neo4j plugin --help`"
        )
    match = _CODED.search(text)
    if match:
        code, message = match.group(1), match.group(2).strip()
        cls = CODES.get(code, ServingError)
        out = cls(message)
        out.code = code  # type: ignore[attr-defined]
        return out
    return None


def _call(run: Any, query: str, params: Mapping[str, Any]) -> list[dict[str, Any]]:
    try:
        rows: list[dict[str, Any]] = run(query, params)
        return rows
    except QueryError as e:
        typed = plugin_error(e)
        if typed is not None:
            raise typed from e
        raise


def call_read(graph: Graph, query: str, params: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Run a read query that calls mmkg procedures; plugin errors come back typed."""
    return _call(graph.read, query, params)


def call_write(graph: Graph, query: str, params: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Run a write query that calls mmkg procedures; plugin errors come back typed."""
    return _call(graph.write_rows, query, params)
