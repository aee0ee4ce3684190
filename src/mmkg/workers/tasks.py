"""The tasks: thin wrappers that validate their payload, re-read what they need from Neo4j,
call into mmkg.platform, and record their job.

Every task is idempotent, so a redelivery after a worker died (acks_late) repeats no work that
shows: media are content-addressed, a run's id comes from the task id and a run is visible only
once written and activated.
"""

from __future__ import annotations

import logging
import os
import shutil
import socket
from pathlib import Path
from typing import Any

from celery import Task, shared_task
from celery.exceptions import SoftTimeLimitExceeded
from celery.signals import worker_process_init
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from mmkg.errors import MmkgError, RetryableError
from mmkg.platform.store import Graph
from mmkg.settings import Settings
from mmkg.workers import jobs

log = logging.getLogger(__name__)


class _ProcessState:
    """What one worker process keeps between tasks."""

    def __init__(self) -> None:
        self.graph: Graph | None = None
        self.settings: Settings | None = None


_STATE = _ProcessState()


class PoisonError(MmkgError):
    """A task payload that can never succeed: failed at once, recorded, never retried."""


def settings() -> Settings:
    if _STATE.settings is None:
        _STATE.settings = Settings()
    return _STATE.settings


def graph() -> Graph:
    """This process's connection (opened on first use; the driver reconnects by itself)."""
    if _STATE.graph is None:
        _STATE.graph = Graph.connect(settings())
    return _STATE.graph


def _graph_or_none() -> Graph | None:
    try:
        return graph()
    except MmkgError:
        return None


@worker_process_init.connect
def _preload(**_: Any) -> None:
    """Models are loaded once per worker process, when it starts, not per task."""
    from mmkg.platform.encoders import load_encoder

    s = settings()
    if not s.worker_preload:
        return
    for spec in (s.text_encoder, s.image_encoder):
        if spec:
            try:
                load_encoder(spec, s.encoder_device)
            except MmkgError as e:
                log.error("could not preload encoder %s: %s", spec, e)


class LeaseHeld(RetryableError):
    """Another worker holds the job's lease: this copy waits for it, it does not run twice."""


def _worker_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


class MmkgTask(Task):
    """Retries transient errors with exponential backoff; records every state change.

    Each run claims its job record with a lease that a heartbeat renews: a duplicate delivery
    (a visibility timeout that expired, a connection that dropped) finds the lease held and
    waits instead of running the task a second time; a copy delivered after the task
    succeeded returns the stored result; a copy delivered after the worker died finds the
    lease run out, records the lost worker, and runs.
    """

    autoretry_for = (RetryableError,)
    retry_backoff = 2
    retry_jitter = True
    acks_late = True
    reject_on_worker_lost = True
    # A pool process that dies (killed, out of memory) gets its task retried at once.
    default_retry_delay = 1

    def __init__(self) -> None:
        super().__init__()
        s = settings()
        self.max_retries = s.task_max_retries
        self.retry_backoff_max = s.task_retry_backoff_max

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        if self.request.called_directly:
            return super().__call__(*args, **kwargs)
        lease = float(settings().task_lease_seconds)
        worker = _worker_name()
        g = _graph_or_none()
        claim = jobs.claim(g, self.request.id, self.name, {"args": args, "kwargs": kwargs},
                           worker, lease)  # fmt: skip
        if claim.done:
            log.info("job %s already succeeded; returning its result", self.request.id)
            return claim.result
        if not claim.run:
            raise self.retry(
                exc=LeaseHeld(f"job held by {claim.held_by} for {claim.lease_left:.0f} more s"),
                countdown=max(1.0, claim.lease_left + 1.0),
                max_retries=None,
            )
        with jobs.Heartbeat(g, self.request.id, worker, lease):
            return super().__call__(*args, **kwargs)

    def on_success(self, retval: Any, task_id: str, args: Any, kwargs: Any) -> None:
        jobs.finished(_graph_or_none(), task_id, "succeeded", result=retval)

    def on_retry(
        self, exc: BaseException, task_id: str, args: Any, kwargs: Any, einfo: Any
    ) -> None:
        if isinstance(exc, LeaseHeld):
            return  # the holder's record stays as it is: it is still running the job
        jobs.retrying(_graph_or_none(), task_id, self.name, f"{type(exc).__name__}: {exc}")

    def on_failure(
        self, exc: BaseException, task_id: str, args: Any, kwargs: Any, einfo: Any
    ) -> None:
        reason = f"{type(exc).__name__}: {exc}"
        if isinstance(exc, SoftTimeLimitExceeded):
            reason = f"time limit of {settings().task_time_limit} s exceeded"
        jobs.finished(_graph_or_none(), task_id, "failed", error=reason)


def _validate(model: type[BaseModel], data: dict[str, Any]) -> Any:
    try:
        return model.model_validate(data)
    except ValidationError as e:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err['loc']) or 'payload'}: {err['msg']}"
            for err in e.errors()
        )
        raise PoisonError(f"bad payload ({problems})") from None


class _Payload(BaseModel):
    model_config = ConfigDict(extra="forbid")


class IngestPayload(_Payload):
    paths: list[str] = Field(default_factory=list)
    manifest: str | None = None
    manifest_files: bool = True
    link: bool = True  # link the batch's texts and images to entities after featurising


class TrainPayload(_Payload):
    model: str = "rotate"
    overrides: dict[str, Any] = Field(default_factory=dict)
    run_id: str | None = None
    seed: int = 0
    # Write the run even if its validation MRR is at chance level (it is never activated then
    # unless it beats the active run).
    force: bool = False
    # Fusion: modalities read from the graph (text, image, video) and their encoders; the
    # fusion settings themselves (fusion, align_weight, …) go in ``overrides``.
    modalities: list[str] = Field(default_factory=list)
    text_encoder: str | None = None
    image_encoder: str | None = None


class RefreshPayload(_Payload):
    base_run: str | None = None
    epochs: int = Field(default=100, ge=1, le=100_000)


@shared_task(base=MmkgTask, bind=True, name="mmkg.ingest_media")
def ingest_media_task(
    self: Task, paths: Any = None, manifest: Any = None, manifest_files: Any = True
) -> dict[str, Any]:
    """Ingest and featurise a batch of media; link them to entities where the manifest says."""
    from mmkg.platform.media import ingest_media
    from mmkg.platform.media.files import all_under

    p = _validate(
        IngestPayload,
        {"paths": paths or [], "manifest": manifest, "manifest_files": manifest_files},
    )
    if not p.paths and not p.manifest:
        raise PoisonError("bad payload (no paths and no manifest)")
    files = [Path(x) for x in p.paths]
    # Files the web API stored in mmkg's own upload folder may be ingested wherever
    # MMKG_MEDIA_ROOT points; any other path must lie under it.
    uploaded = all_under(settings().upload_dir, files)
    summary = ingest_media(
        graph(), files, settings(), Path(p.manifest) if p.manifest else None,
        show_progress=False, manifest_files=p.manifest_files, restrict_paths=not uploaded,
    )  # fmt: skip
    if p.link and settings().link_new_media:
        from mmkg.errors import MmkgError, RetryableError
        from mmkg.platform.linking.media import link_media_in_graph

        ids = [i for kind in ("Text", "Image", "Video") for i in summary.ids.get(kind, [])]
        try:
            if ids:
                summary.links = link_media_in_graph(
                    graph(), settings(), ids=ids, show_progress=False
                ).to_dict()
        except RetryableError:
            raise
        except MmkgError as e:  # an empty graph, a missing model: the media stay, unlinked
            log.warning("media ingested but not linked: %s", e)
            summary.notes.append(f"not linked: {e}")
    out = summary.to_dict()
    out["failures"] = out["failures"][:100]
    return out


@shared_task(base=MmkgTask, bind=True, name="mmkg.media_arrived_summary")
def media_arrived_summary(self: Task, parts: list[dict[str, Any]]) -> dict[str, Any]:
    """The chord callback of the new-media pipeline: one summary for all its batches."""
    keys = ("files", "created", "present", "featurised", "linked", "failed")
    total: dict[str, Any] = {k: sum(int(p.get(k, 0)) for p in parts) for k in keys}
    links = [p["links"] for p in parts if p.get("links")]
    counted = ("texts", "mentions", "images", "videos", "depicts")
    total["entity_links"] = {k: sum(int(ln[k]) for ln in links) for k in counted}
    total["batches"] = len(parts)
    total["failures"] = [f for p in parts for f in p.get("failures", [])][:100]
    return total


@shared_task(base=MmkgTask, bind=True, name="mmkg.embed_entities")
def embed_entities_task(self: Task, encoder: Any = None) -> dict[str, Any]:
    from mmkg.platform.media import embed_entities

    if encoder is not None and not isinstance(encoder, str):
        raise PoisonError("bad payload (encoder must be a string)")
    return embed_entities(graph(), settings(), encoder, show_progress=False)


def _valid_mrr(run: dict[str, Any] | None) -> float | None:
    metrics = (run or {}).get("metrics")
    if isinstance(metrics, dict) and isinstance(metrics.get("valid"), dict):
        return float(metrics["valid"]["mrr"])
    return None


@shared_task(base=MmkgTask, bind=True, name="mmkg.train_and_publish")
def train_and_publish(self: Task, **kwargs: Any) -> dict[str, Any]:
    """Train a run on the graph, write it back, evaluate, and activate it unless it is worse
    than the active run on validation MRR (by more than MMKG_ACTIVATION_TOLERANCE).

    The trained model goes to the write-back in memory, as a serving artefact; the run folder
    under MMKG_HOME/runs is kept for people and for `mmkg eval`.
    """
    from mmkg.platform.export import export_triples
    from mmkg.platform.graph_features import parse_modalities, read_graph_modalities
    from mmkg.platform.kge.config import make_config
    from mmkg.platform.kge.data import from_triple_set
    from mmkg.platform.kge.trainer import Trainer
    from mmkg.platform.serving import activate_run, active_run_id, get_run, write_artifact

    p = _validate(TrainPayload, kwargs)
    s = settings()
    run_id = p.run_id or f"{p.model}-{self.request.id[:8]}"
    run_dir = s.home / "runs" / run_id
    # Inside a worker the task is the process: no Hogwild children of a daemonic process.
    try:
        config = make_config(p.model, {"num_procs": 1, "seed": p.seed, **p.overrides})
    except MmkgError as e:
        raise PoisonError(f"bad payload ({e})") from None
    g = graph()
    existing = get_run(g, run_id)
    if existing is None or existing.get("status") not in ("ready", "active"):
        jobs.progress(g, self.request.id, 0.05, "exporting the graph")
        if run_dir.exists():
            shutil.rmtree(run_dir)  # an attempt that died mid-training: start it over
        data = from_triple_set(export_triples(g).to_triple_set(), seed=p.seed)
        if p.modalities:
            jobs.progress(g, self.request.id, 0.08, f"reading {', '.join(p.modalities)} features")
            data.features = read_graph_modalities(
                g, s, data.entity_ids, parse_modalities(",".join(p.modalities)), p.text_encoder,
                p.image_encoder,
            )  # fmt: skip
        jobs.progress(g, self.request.id, 0.1, f"training {p.model} on {len(data.train)} triples")
        result = Trainer(data, config, run_dir, show_progress=False).fit()
        jobs.progress(g, self.request.id, 0.8, "writing the embeddings back")
        summary = write_artifact(
            g, result.artifact(), s, run_id=run_id, show_progress=False, source=str(run_dir),
            force=p.force,
        )  # fmt: skip
        vectors = summary.vectors
    else:
        vectors = 0  # a redelivered task whose run was written before the worker died
    new = get_run(g, run_id)
    current_id = active_run_id(g)
    current = get_run(g, current_id) if current_id else None
    new_mrr, old_mrr = _valid_mrr(new), _valid_mrr(current)
    activate = (
        current is None
        or current_id == run_id
        or (
            new_mrr is not None and (old_mrr is None or new_mrr >= old_mrr - s.activation_tolerance)
        )
    )
    if activate:
        activate_run(g, run_id)
    return {
        "run_id": run_id,
        "valid_mrr": new_mrr,
        "active_before": current_id,
        "active_valid_mrr": old_mrr,
        "activated": activate,
        "vectors": vectors,
    }


@shared_task(base=MmkgTask, bind=True, name="mmkg.refresh_embeddings")
def refresh_embeddings(self: Task, **kwargs: Any) -> dict[str, Any]:
    """Incremental refresh: fold the entities added since the active run into a new run, write
    it back and activate it (the base's rows are unchanged, so it cannot be worse).

    The base run's vectors are read from Neo4j, so any worker can refresh any run.
    """
    from mmkg.platform.serving import activate_run, active_run_id, get_run, write_artifact
    from mmkg.platform.serving.refresh import refresh_artifact

    p = _validate(RefreshPayload, kwargs)
    g = graph()
    base_id = p.base_run or active_run_id(g)
    if base_id is None:
        raise PoisonError("no active embedding run to refresh; train one first")
    if get_run(g, base_id) is None:
        raise PoisonError(f"unknown embedding run {base_id!r}")
    run_id = f"{base_id[:80]}.fold-{self.request.id[:8]}"
    done = get_run(g, run_id)
    if done is None or done.get("status") not in ("ready", "active"):
        folded, _ = refresh_artifact(g, base_id, epochs=p.epochs)
        if folded is None:
            return {"base": base_id, "new_entities": 0, "run_id": None}
        write_artifact(g, folded, settings(), run_id=run_id, show_progress=False,
                       extra={"base_run": base_id})  # fmt: skip
    activate_run(g, run_id)
    return {"base": base_id, "run_id": run_id, "activated": True,
            "fold_in": (get_run(g, run_id) or {}).get("metrics", {}).get("fold_in")}  # fmt: skip


@shared_task(bind=True, name="mmkg.worker_info")
def worker_info(self: Task) -> dict[str, Any]:
    """Which process answered and which encoders it has loaded, and how often."""
    from mmkg.platform.encoders import loaded_encoders

    loads = loaded_encoders()
    return {"pid": os.getpid(), "encoders": sorted(loads), "loads": loads}


def new_media_pipeline(
    client: Any, s: Settings, paths: list[str], manifest: str | None, batch: int
) -> Any:
    """ "New media arrived": the files split into batches ingested in parallel (a chord), then
    one summary. ``client`` is the Celery app to send with. Returns the chord's AsyncResult."""
    from celery import chord

    from mmkg.platform.media.files import discover
    from mmkg.platform.media.manifest import read_manifest

    listed = [Path(x) for x in paths]
    if manifest:
        listed += list(read_manifest(Path(manifest)))
    root = (s.media_root or Path.cwd()).resolve()
    found, rejected = discover(listed, root, s.max_media_bytes)
    files = [str(c.path) for c in found]
    chunks = [files[i : i + batch] for i in range(0, len(files), batch)] or [[]]
    # Refused paths travel with the first batch, which records why (as a direct ingest would).
    chunks[0] = chunks[0] + [r.path for r in rejected]
    header = [
        client.signature(
            "mmkg.ingest_media",
            kwargs={"paths": c, "manifest": manifest, "manifest_files": False},
        )
        for c in chunks
        if c
    ]
    if not header:
        raise PoisonError("no media to ingest")
    return chord(header, app=client)(client.signature("mmkg.media_arrived_summary"))
