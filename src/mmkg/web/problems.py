"""Errors as JSON problem details (RFC 9457) for the API, and as a page for the workbench.

mmkg's own errors say what was wrong; the status says whose fault it was: the request's
(400, 404, 413), the graph's state (409: no active run, no vector index yet) or the
service's (503: Neo4j unreachable, over its memory budget).
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from starlette.exceptions import HTTPException

from mmkg import errors as E

log = logging.getLogger(__name__)

PROBLEM = "application/problem+json"

# Most specific first: the first class an error is an instance of decides.
STATUS: tuple[tuple[type[E.MmkgError], int, str], ...] = (
    (E.UnknownEntityError, 404, "unknown entity"),
    (E.UnknownRelationError, 404, "unknown relation"),
    (E.UnknownRunError, 404, "unknown embedding run"),
    (E.UnknownUserError, 404, "unknown user"),
    (E.InvalidRequestError, 400, "invalid request"),
    (E.CacheMemoryError, 503, "over the memory budget"),
    (E.ServingError, 409, "not ready to serve this"),
    (E.RetryableError, 503, "temporarily unavailable"),
    (E.Neo4jServerError, 503, "database unavailable"),
    (E.Neo4jAuthError, 503, "database unavailable"),
    (E.SchemaError, 503, "database schema not in force"),
    (E.ResourceLimitError, 503, "over a resource limit"),
    (E.MmkgError, 400, "invalid request"),
)


class Problem(Exception):
    """An HTTP error with a problem-details body."""

    def __init__(self, status: int, title: str, detail: str = "", **extra: Any) -> None:
        super().__init__(detail or title)
        self.status, self.title, self.detail, self.extra = status, title, detail, extra


def from_error(error: E.MmkgError) -> Problem:
    for cls, status, title in STATUS:
        if isinstance(error, cls):
            return Problem(status, title, str(error), error=type(error).__name__)
    raise AssertionError("unreachable: MmkgError is in the table")


def body(problem: Problem, instance: str) -> dict[str, Any]:
    out: dict[str, Any] = {
        "type": "about:blank",
        "title": problem.title,
        "status": problem.status,
        "detail": problem.detail or problem.title,
        "instance": instance,
    }
    out.update(problem.extra)  # extension members, e.g. "error": mmkg's error class
    return out


def problem_response(problem: Problem, request: Request) -> Response:
    headers = {"WWW-Authenticate": "Bearer"} if problem.status == 401 else None
    return JSONResponse(
        body(problem, request.url.path), problem.status, headers=headers, media_type=PROBLEM
    )


def as_problem(exc: Exception) -> Problem:
    """Any exception an endpoint let through, as the problem a client should see."""
    if isinstance(exc, Problem):
        return exc
    if isinstance(exc, E.MmkgError):
        return from_error(exc)
    if isinstance(exc, RequestValidationError):
        where = "; ".join(
            f"{'.'.join(str(p) for p in err.get('loc', ()))}: {err.get('msg')}"
            for err in exc.errors()
        )
        return Problem(422, "invalid parameters", where)
    if isinstance(exc, HTTPException):
        return Problem(exc.status_code, str(exc.detail), str(exc.detail))
    log.exception("unexpected error", exc_info=exc)
    return Problem(500, "internal error", "an unexpected error; the server's log has the trace")
