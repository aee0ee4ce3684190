"""The FastAPI application behind ``mmkg serve``: the REST API, the workbench, their limits."""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Awaitable, Callable, MutableMapping
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import Response
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException

from mmkg import __version__
from mmkg.errors import MmkgError
from mmkg.platform.api_keys import KeyVerifier
from mmkg.platform.store import Graph
from mmkg.settings import Settings
from mmkg.web import api, pages
from mmkg.web.auth import Context
from mmkg.web.problems import Problem, as_problem, body, problem_response
from mmkg.web.session import Sessions, load_secret

log = logging.getLogger(__name__)

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGI = Callable[[Scope, Receive, Send], Awaitable[None]]

# No script runs on the pages; images come from this server only.
SECURITY_HEADERS = {
    "content-security-policy": "default-src 'self'; img-src 'self' data:; "
    "style-src 'self'; script-src 'none'; frame-ancestors 'none'; form-action 'self'",
    "x-content-type-options": "nosniff",
    "x-frame-options": "DENY",
    "referrer-policy": "same-origin",
}


class BodyLimit:
    """Refuses a request body over the limit with 413 before reading it all: the declared
    Content-Length is checked first, and a body sent without one is counted as it arrives."""

    def __init__(self, app: ASGI, request_bytes: int, upload_bytes: int) -> None:
        self.app, self.request_bytes, self.upload_bytes = app, request_bytes, upload_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = {k.decode("latin-1"): v.decode("latin-1") for k, v in scope["headers"]}
        multipart = headers.get("content-type", "").startswith("multipart/form-data")
        limit = self.upload_bytes + 64 * 1024 if multipart else self.request_bytes
        declared = headers.get("content-length", "")
        if declared.isdigit() and int(declared) > limit:
            await self._refuse(scope, send, limit)
            return
        seen, refused, started = 0, False, False

        async def guarded(message: Message) -> None:
            nonlocal started
            if refused:  # the 413 went out: whatever the app still says is dropped
                return
            started = started or message["type"] == "http.response.start"
            await send(message)

        async def counted() -> Message:
            nonlocal seen, refused
            if refused:
                return {"type": "http.disconnect"}
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > limit:
                    refused = True
                    if not started:
                        await self._refuse(scope, send, limit)
                    # To the app the client went away: it stops reading and answers no one.
                    return {"type": "http.disconnect"}
            return message

        try:
            await self.app(scope, counted, guarded)
        except Exception:
            if not refused:
                raise

    async def _refuse(self, scope: Scope, send: Send, limit: int) -> None:
        problem = Problem(413, "request too large", f"the limit is {limit} bytes")
        data = json.dumps(body(problem, scope.get("path", ""))).encode("utf-8")
        await send({"type": "http.response.start", "status": 413,
                    "headers": [(b"content-type", b"application/problem+json"),
                                (b"content-length", str(len(data)).encode()),
                                (b"connection", b"close")]})  # fmt: skip
        await send({"type": "http.response.body", "body": data})


class Headers:
    """Adds the security headers and the server's own time (``Server-Timing``: for browsers'
    dev tools and bench/web.py) to every response; plain ASGI, so it costs no extra task."""

    def __init__(self, app: ASGI) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                took = (time.perf_counter() - started) * 1000
                present = {k.lower() for k, _ in message.get("headers", [])}
                extra = [(b"server-timing", f"app;dur={took:.2f}".encode())]
                extra += [(k.encode(), v.encode()) for k, v in SECURITY_HEADERS.items()
                          if k.encode() not in present]  # fmt: skip
                message["headers"] = [*message.get("headers", []), *extra]
            await send(message)

        await self.app(scope, receive, with_headers)


def create_app(settings: Settings, graph: Graph | None = None) -> FastAPI:
    """The app; ``graph`` defaults to a connection to the configured database, closed with
    the app."""
    owned = graph is None
    graph = graph or Graph.connect(settings)
    app = FastAPI(
        title="mmkg",
        version=__version__,
        summary="Multimodal knowledge graph: search, entities, link prediction, ingest, jobs.",
        openapi_url="/api/v1/openapi.json",
        # Swagger's page loads its script from a CDN, out of reach on closed networks (and
        # against the pages' policy); the spec itself is served.
        docs_url=None,
        redoc_url=None,
    )
    app.state.mmkg = Context(
        settings=settings,
        graph=graph,
        keys=KeyVerifier(graph),
        sessions=Sessions(load_secret(settings.home), settings.web_session_hours),
    )
    app.include_router(api.router)
    app.include_router(pages.router)
    app.mount("/static", StaticFiles(directory=str(Path(__file__).parent / "static")), "static")
    _errors(app)

    app.add_middleware(Headers)
    if settings.web_cors_origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=settings.web_cors_origins,
            allow_methods=["GET", "POST"],
            allow_headers=["Authorization", "Content-Type"],
        )
    app.add_middleware(BodyLimit, request_bytes=settings.web_max_request_bytes,
                       upload_bytes=settings.web_max_upload_bytes)  # fmt: skip
    if owned:
        app.router.on_shutdown.append(graph.close)
    return app


def _errors(app: FastAPI) -> None:
    async def handle(request: Request, exc: Exception) -> Response:
        problem = as_problem(exc)
        if request.url.path.startswith("/api/"):
            return problem_response(problem, request)
        if isinstance(exc, pages.LoginRequired):
            return pages.login_page(request)
        return pages.render(request, "error.html", problem.status, problem=problem)

    for cls in (Problem, MmkgError, RequestValidationError, HTTPException, pages.LoginRequired):
        app.add_exception_handler(cls, handle)
    app.add_exception_handler(Exception, handle)
