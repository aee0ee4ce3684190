"""Who is asking: a bearer API key (the REST API), or a session cookie (the workbench).

Both name an API key; its scope (read or write) decides what the request may do.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from mmkg.platform.api_keys import ApiKey, KeyVerifier
from mmkg.platform.store import Graph
from mmkg.settings import Settings
from mmkg.web.problems import Problem
from mmkg.web.session import SESSION_COOKIE, Sessions


@dataclass
class Context:
    """What every request handler needs, made once per app."""

    settings: Settings
    graph: Graph
    keys: KeyVerifier
    sessions: Sessions
    queue: Any = None  # the Celery app that sends ingest jobs, made on the first upload
    answerer: Any = None  # question answering, built on the first question (answers.py)


def context(request: Request) -> Context:
    ctx: Context = request.app.state.mmkg
    return ctx


def _bearer(request: Request) -> str | None:
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    return token.strip() if scheme.lower() == "bearer" and token.strip() else None


SAFE_METHODS = ("GET", "HEAD", "OPTIONS")


def caller(request: Request, cookie: bool | None = None) -> ApiKey | None:
    """The key behind this request, from its bearer token or its session cookie.

    A cookie counts for safe methods only unless the caller checked a CSRF token first
    (``cookie=True``): a form on another site can make a browser send cookies, never a
    bearer header."""
    ctx = context(request)
    token = _bearer(request)
    if token is not None:
        return ctx.keys.verify(token)
    if not (request.method in SAFE_METHODS if cookie is None else cookie):
        return None
    key_id = ctx.sessions.key_id(request.cookies.get(SESSION_COOKIE))
    return ctx.keys.key_by_id(key_id) if key_id else None


def require(request: Request, scope: str, cookie: bool | None = None) -> ApiKey:
    key = caller(request, cookie)
    if key is None:
        raise Problem(
            401,
            "unauthorized",
            "send an API key as 'Authorization: Bearer KEY' "
            "(create one with `mmkg api-key create`)",
        )
    if not key.allows(scope):
        raise Problem(403, "forbidden", f"this key's scope is {key.scope}; this needs {scope}")
    return key


# Declares the bearer scheme in the OpenAPI spec; the key itself is checked by require().
BEARER = HTTPBearer(auto_error=False, description="An API key from `mmkg api-key create`.")
Credentials = Annotated[HTTPAuthorizationCredentials | None, Depends(BEARER)]


def reader(request: Request, _: Credentials) -> ApiKey:
    return require(request, "read")


def writer(request: Request, _: Credentials) -> ApiKey:
    return require(request, "write")
