"""The workbench's pages: server-rendered HTML, no script, forms protected against CSRF.

Every page needs a login (an API key, exchanged for a session cookie); without one the page
answers with the login form and status 401, and shows nothing of the graph.
"""

from __future__ import annotations

import secrets
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, File, Form, Query, Request, UploadFile
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates

from mmkg.errors import MmkgError
from mmkg.platform.api_keys import ApiKey
from mmkg.web.api import query_image, store_uploads, submit_ingest
from mmkg.web.auth import caller, context
from mmkg.web.problems import Problem, as_problem
from mmkg.web.session import LOGIN_COOKIE, SESSION_COOKIE
from mmkg.web.views import entity_view, search_by_image, search_by_text
from mmkg.workers import jobs

router = APIRouter(include_in_schema=False)
templates = Jinja2Templates(directory=str(Path(__file__).parent / "templates"))


class LoginRequired(Exception):
    """A page asked for without a session: answered with the login form."""


def _user(request: Request, scope: str = "read", csrf: str | None = None) -> ApiKey:
    """The logged-in key; for a form post, only with the session's CSRF token."""
    ctx = context(request)
    post = request.method not in ("GET", "HEAD")
    if post and not ctx.sessions.csrf_ok(request.cookies.get(SESSION_COOKIE), csrf):
        raise Problem(403, "forbidden", "the form's CSRF token is missing or stale; reload it")
    key = caller(request, cookie=True)
    if key is None:
        raise LoginRequired
    if not key.allows(scope):
        raise Problem(403, "forbidden", f"your key's scope is {key.scope}; this needs {scope}")
    return key


def render(request: Request, name: str, status: int = 200, **values: Any) -> HTMLResponse:
    ctx = context(request)
    cookie = request.cookies.get(SESSION_COOKIE)
    values.setdefault("csrf", ctx.sessions.csrf(cookie) if cookie else "")
    if "user" not in values:  # pages pass the key they checked; error pages look it up
        values["user"] = caller(request, cookie=True)
    return templates.TemplateResponse(request, name, values, status_code=status)


def login_page(
    request: Request, error: str = "", status: int = 401, next_path: str | None = None
) -> HTMLResponse:
    """The login form, with a per-browser token its post must echo; after the login the
    browser goes back to ``next_path`` (default the page that asked for it)."""
    token = request.cookies.get(LOGIN_COOKIE) or secrets.token_urlsafe(24)
    where = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    back = request.method == "GET" and not where.startswith(("/login", "/logout"))
    nxt = next_path or request.query_params.get("next") or (where if back else "/")
    response = render(
        request, "login.html", status, error=error, next=_safe_next(nxt),
        login_csrf=context(request).sessions.csrf(token), user=None,
    )  # fmt: skip
    response.set_cookie(LOGIN_COOKIE, token, httponly=True, samesite="strict", path="/")
    return response


def _safe_next(target: str) -> str:
    """Only a path on this site: never ``//host`` or ``https://host``."""
    if not target.startswith("/") or target.startswith("//") or "\\" in target:
        return "/"
    return target


@router.get("/login", response_class=HTMLResponse)
def login_form(request: Request) -> HTMLResponse:
    return login_page(request, status=200)


@router.post("/login")
def login(
    request: Request,
    key: Annotated[str, Form(max_length=200)],
    csrf: Annotated[str, Form(max_length=100)] = "",
    next: Annotated[str, Form(max_length=2000)] = "/",
) -> Response:
    ctx = context(request)
    if not ctx.sessions.csrf_ok(request.cookies.get(LOGIN_COOKIE), csrf):
        return login_page(request, "The form expired; try again.", 403, next)
    found = ctx.keys.verify(key)
    if found is None:
        return login_page(request, "That key is not valid (or was revoked).", 401, next)
    response = RedirectResponse(_safe_next(next), status_code=303)
    response.set_cookie(
        SESSION_COOKIE, ctx.sessions.issue(found.id), max_age=ctx.sessions.seconds,
        httponly=True, samesite="strict", path="/",
    )  # fmt: skip
    response.delete_cookie(LOGIN_COOKIE, path="/")
    return response


@router.post("/logout")
def logout(request: Request, csrf: Annotated[str, Form(max_length=100)] = "") -> Response:
    _user(request, csrf=csrf)
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response


@router.get("/", response_class=HTMLResponse)
def search_page(
    request: Request,
    q: Annotated[str, Query(max_length=2000)] = "",
    k: Annotated[int, Query(ge=1, le=100)] = 12,
) -> HTMLResponse:
    user = _user(request)
    result, error = None, ""
    if q.strip():
        ctx = context(request)
        try:
            result = search_by_text(ctx.graph, ctx.settings, q, k)
        except MmkgError as e:
            error = as_problem(e).detail
    return render(request, "search.html", q=q, result=result, error=error, user=user)


@router.post("/search/image", response_class=HTMLResponse)
def search_image_page(
    request: Request,
    image: Annotated[UploadFile, File()],
    csrf: Annotated[str, Form(max_length=100)] = "",
) -> HTMLResponse:
    user = _user(request, csrf=csrf)
    ctx = context(request)
    path = query_image(request, image)
    result, error = None, ""
    try:
        result = search_by_image(ctx.graph, ctx.settings, path, image.filename or "image", 12)
    except MmkgError as e:
        error = as_problem(e).detail
    finally:
        path.unlink(missing_ok=True)
    return render(request, "search.html", q="", result=result, error=error, user=user)


@router.get("/entity/{entity_id}", response_class=HTMLResponse)
def entity_page(request: Request, entity_id: str) -> HTMLResponse:
    user = _user(request)
    view = entity_view(context(request).graph, entity_id)
    return render(request, "entity.html", e=view, user=user)


@router.get("/jobs", response_class=HTMLResponse)
def jobs_page(request: Request, note: Annotated[str, Query(max_length=200)] = "") -> HTMLResponse:
    user = _user(request)
    return render(request, "jobs.html", user=user, jobs=jobs.list_jobs(context(request).graph, 100),
                  note=note)  # fmt: skip


@router.post("/jobs/upload")
def upload_page(
    request: Request,
    files: Annotated[list[UploadFile], File()],
    csrf: Annotated[str, Form(max_length=100)] = "",
) -> Response:
    key = _user(request, "write", csrf)
    saved = [str(p) for p in store_uploads(request, files)]
    job = submit_ingest(request, saved, key)
    return RedirectResponse(f"/jobs?note={quote('queued job ' + job)}", status_code=303)
