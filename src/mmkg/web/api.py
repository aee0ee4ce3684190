"""The REST API under ``/api/v1``: every route needs an API key (read, or write to ingest)."""

from __future__ import annotations

import hashlib
import tempfile
from pathlib import Path
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, File, Form, Query, Request, UploadFile
from fastapi.responses import FileResponse, JSONResponse

from mmkg.errors import InvalidRequestError
from mmkg.platform.api_keys import ApiKey
from mmkg.platform.media.files import KINDS
from mmkg.platform.serving import predict as P
from mmkg.web.answers import answerer
from mmkg.web.auth import context, reader, writer
from mmkg.web.media_files import media_record, thumbnail
from mmkg.web.problems import Problem
from mmkg.web.views import entity_view, search_by_image, search_by_text
from mmkg.workers import jobs

PROBLEM = {"content": {"application/problem+json": {}}, "description": "A problem (RFC 9457)."}
router = APIRouter(
    prefix="/api/v1",
    responses={
        status: {**PROBLEM, "description": why}
        for status, why in (
            (400, "Invalid request"),
            (401, "No valid API key"),
            (403, "The key's scope does not allow this"),
            (404, "Unknown entity, relation, run, user, media or job"),
            (409, "Not ready: no active run, no vector index yet"),
            (410, "The media's file is gone"),
            (413, "Request too large"),
            (415, "Not a supported media file"),
            (422, "Invalid parameters"),
            (503, "Database or queue unavailable"),
        )
    },
)
Reader = Annotated[ApiKey, Depends(reader)]
Writer = Annotated[ApiKey, Depends(writer)]
K = Annotated[int, Query(ge=1, le=1000, description="How many results.")]
Id = Annotated[str, Query(min_length=1, max_length=1000)]
Mode = Annotated[Literal["auto", "exact", "ann"], Query(description="Exact or ANN ranking.")]
Run = Annotated[str | None, Query(max_length=200, description="A run id; default the active.")]
TextTarget = Literal["entity", "text", "image", "video"]
ImageTarget = Literal["image", "video", "entity"]


def save_upload(upload: UploadFile, folder: Path, limit: int) -> tuple[Path, str]:
    """Write an upload to ``folder`` under a temporary name; returns it and its SHA-256.

    The size is checked while copying (the request limit also applies), so a lying
    Content-Length cannot fill the disk."""
    folder.mkdir(parents=True, exist_ok=True)
    digest = hashlib.sha256()
    size = 0
    with tempfile.NamedTemporaryFile(dir=folder, prefix=".upload-", delete=False) as out:
        try:
            while chunk := upload.file.read(1 << 20):
                size += len(chunk)
                if size > limit:
                    raise Problem(413, "upload too large", f"uploads are limited to {limit} bytes")
                digest.update(chunk)
                out.write(chunk)
        except BaseException:
            Path(out.name).unlink(missing_ok=True)
            raise
    if size == 0:
        Path(out.name).unlink(missing_ok=True)
        raise Problem(400, "empty upload", f"{upload.filename or 'the file'} is empty")
    return Path(out.name), digest.hexdigest()


def query_image(request: Request, upload: UploadFile) -> Path:
    ctx = context(request)
    path, _ = save_upload(
        upload, ctx.settings.upload_dir / "queries", ctx.settings.web_max_upload_bytes
    )
    return path


@router.get("/search", summary="Search entities and media by text")
def search(
    request: Request,
    _: Reader,
    q: Annotated[str, Query(min_length=1, max_length=2000, description="The query text.")],
    k: K = 10,
    target: Annotated[list[TextTarget] | None, Query(description="What to search.")] = None,
) -> dict[str, Any]:
    if not q.strip():
        raise InvalidRequestError("empty query")
    ctx = context(request)
    return search_by_text(ctx.graph, ctx.settings, q, k, tuple(target or ())).to_dict()


@router.post("/search/image", summary="Search images, videos and entities by an image")
def search_image(
    request: Request,
    _: Reader,
    image: Annotated[UploadFile, File(description="The query image.")],
    k: Annotated[int, Form(ge=1, le=1000)] = 10,
    target: Annotated[list[ImageTarget] | None, Form()] = None,
) -> dict[str, Any]:
    ctx = context(request)
    path = query_image(request, image)
    try:
        return search_by_image(
            ctx.graph, ctx.settings, path, image.filename or "image", k, tuple(target or ())
        ).to_dict()
    finally:
        path.unlink(missing_ok=True)


@router.get("/ask", summary="Answer a question from the graph, else by link prediction")
def ask(
    request: Request,
    _: Reader,
    q: Annotated[str, Query(min_length=1, max_length=2000, description="The question.")],
    k: Annotated[int, Query(ge=1, le=100)] = 5,
) -> dict[str, Any]:
    if not q.strip():
        raise InvalidRequestError("empty question")
    result: dict[str, Any] = answerer(context(request)).ask(q, k=k).to_dict()
    return result


@router.post(
    "/ask/image", summary="Answer a question about an image ('Where was this person born?')"
)
def ask_image(
    request: Request,
    _: Reader,
    q: Annotated[str, Form(min_length=1, max_length=2000)],
    image: Annotated[UploadFile, File(description="The picture the question is about.")],
    k: Annotated[int, Form(ge=1, le=100)] = 5,
) -> dict[str, Any]:
    if not q.strip():
        raise InvalidRequestError("empty question")
    path = query_image(request, image)
    try:
        result: dict[str, Any] = answerer(context(request)).ask(q, path, k).to_dict()
        return result
    finally:
        path.unlink(missing_ok=True)


@router.get("/recommend/{user}", summary="Items a user is likely to want next, with explanations")
def recommend(
    request: Request, _: Reader, user: str, k: K = 10, explain: bool = True
) -> dict[str, Any]:
    from mmkg.platform.recommend.graph import recommend as recommend_items

    recs = recommend_items(context(request).graph, user, k, explain=explain)
    return {"user": user, "recommendations": [r.to_dict() for r in recs]}


@router.get("/entities/{entity_id}", summary="An entity: facts, media, predictions, neighbours")
def entity(
    request: Request, _: Reader, entity_id: str, k: Annotated[int, Query(ge=1, le=50)] = 3
) -> dict[str, Any]:
    return entity_view(context(request).graph, entity_id, k)


@router.get("/predict/tail", summary="Most plausible tails of (head, relation, ?)")
def predict_tail(
    request: Request,
    _: Reader,
    head: Id,
    relation: Id,
    k: K = 10,
    mode: Mode = "auto",
    run: Run = None,
    exclude: bool = True,
) -> dict[str, Any]:
    found = P.predict_tail(
        context(request).graph, head, relation, k, exclude=exclude, mode=mode, run=run
    )
    return {"head": head, "relation": relation, "predictions": [p.to_dict() for p in found]}


@router.get("/predict/head", summary="Most plausible heads of (?, relation, tail)")
def predict_head(
    request: Request,
    _: Reader,
    relation: Id,
    tail: Id,
    k: K = 10,
    mode: Mode = "auto",
    run: Run = None,
    exclude: bool = True,
) -> dict[str, Any]:
    found = P.predict_head(
        context(request).graph, relation, tail, k, exclude=exclude, mode=mode, run=run
    )
    return {"relation": relation, "tail": tail, "predictions": [p.to_dict() for p in found]}


@router.get("/predict/relation", summary="Relations ranked for (head, ?, tail)")
def predict_relation(
    request: Request, _: Reader, head: Id, tail: Id, k: K = 10, run: Run = None
) -> dict[str, Any]:
    found = P.predict_relation(context(request).graph, head, tail, k, run=run)
    return {"head": head, "tail": tail, "predictions": [p.to_dict() for p in found]}


@router.get("/score", summary="The model's score of a triple, and the tail's rank")
def score(
    request: Request,
    _: Reader,
    head: Id,
    relation: Id,
    tail: Id,
    run: Run = None,
    within: Annotated[int, Query(ge=1, le=1000, description="Rank among this many.")] = 100,
) -> dict[str, Any]:
    """Classifies the triple by where its tail ranks among all tails of (head, relation):
    ``rank`` is its place among the ``within`` best (known facts included), null beyond."""
    graph = context(request).graph
    value = P.score(graph, head, relation, tail, run=run)
    ranked = P.predict_tail(graph, head, relation, within, exclude=False, run=run)
    rank = next((p.rank for p in ranked if p.id == tail), None)
    return {
        "head": head,
        "relation": relation,
        "tail": tail,
        "score": value,
        "rank": rank,
        "within": within,
    }


@router.post("/ingest", status_code=202, summary="Upload media; a worker ingests and links them")
def ingest(
    request: Request,
    key: Writer,
    files: Annotated[list[UploadFile], File(description="Images, videos or texts.")],
) -> JSONResponse:
    saved = store_uploads(request, files)
    job_id = submit_ingest(request, [str(p) for p in saved], key)
    return JSONResponse(
        {
            "job": job_id,
            "files": [p.name for p in saved],
            "state": "queued",
            "follow": f"/api/v1/jobs/{job_id}",
        },
        status_code=202,
    )


def store_uploads(request: Request, files: list[UploadFile]) -> list[Path]:
    """Uploaded media, checked and stored by content (the same file uploaded twice is one
    file); on any refusal, nothing of this request stays on disk."""
    ctx = context(request)
    limit = ctx.settings.web_max_upload_bytes
    targets: list[Path] = []
    created: list[Path] = []  # removed again if a later file is refused
    try:
        for upload in files:
            suffix = Path(upload.filename or "").suffix.lower()
            if suffix not in KINDS:
                raise Problem(
                    415,
                    "unsupported media type",
                    f"{upload.filename!r}: use one of {', '.join(sorted(KINDS))}",
                )
            tmp, digest = save_upload(upload, ctx.settings.upload_dir, limit)
            target = ctx.settings.upload_dir / f"{digest}{suffix}"
            if not target.exists():
                created.append(target)
            tmp.replace(target)
            if target not in targets:
                targets.append(target)
    except BaseException:
        for path in created:
            path.unlink(missing_ok=True)
        raise
    return targets


def submit_ingest(request: Request, paths: list[str], key: ApiKey) -> str:
    from mmkg.workers.app import make_app

    ctx = context(request)
    args = {"paths": paths, "manifest": None, "link": True}
    try:
        if ctx.queue is None:
            ctx.queue = make_app(ctx.settings)
        result = ctx.queue.send_task("mmkg.ingest_media", kwargs=args)
    except Exception as e:  # the broker is down or misconfigured: nothing was queued
        raise Problem(503, "queue unavailable", f"could not queue the ingest: {e}") from e
    jobs.queued(ctx.graph, result.id, "mmkg.ingest_media", args, by=key.id)
    return str(result.id)


@router.get("/jobs", summary="The workers' jobs, newest first")
def list_jobs(
    request: Request, _: Reader, limit: Annotated[int, Query(ge=1, le=500)] = 50
) -> dict[str, Any]:
    return {"jobs": jobs.list_jobs(context(request).graph, limit)}


@router.get("/jobs/{job_id}", summary="One job: state, progress, result or error")
def get_job(request: Request, _: Reader, job_id: str) -> dict[str, Any]:
    job = jobs.get_job(context(request).graph, job_id)
    if job is None:
        raise Problem(404, "unknown job", f"no job {job_id!r}")
    return job


@router.get("/media/{media_id}", summary="A media file, by content id", response_class=FileResponse)
def media(request: Request, _: Reader, media_id: str) -> FileResponse:
    record = media_record(context(request).graph, media_id)
    return FileResponse(
        record["file"],
        media_type=str(record.get("mime") or "application/octet-stream"),
        headers={"Cache-Control": "private, max-age=86400"},
    )


@router.get(
    "/media/{media_id}/thumbnail",
    summary="A media's JPEG thumbnail (cached)",
    response_class=FileResponse,
)
def media_thumbnail(
    request: Request,
    _: Reader,
    media_id: str,
    at: Annotated[float | None, Query(ge=0, le=1e7, description="A video's time (s).")] = None,
) -> FileResponse:
    ctx = context(request)
    path = thumbnail(ctx.graph, ctx.settings, media_id, at)
    return FileResponse(
        path, media_type="image/jpeg", headers={"Cache-Control": "private, max-age=86400"}
    )
