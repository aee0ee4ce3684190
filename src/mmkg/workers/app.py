"""The Celery app, configured from mmkg's settings.

``celery -A mmkg.workers.app worker`` works as well as ``mmkg worker``; the module's ``app`` is
built on first use. Tasks are ``shared_task``s, so they join whichever app a process builds.

No lost work: tasks are acknowledged only when they finish (``acks_late``), a task whose
worker process dies is put back on the queue (``reject_on_worker_lost``), each worker takes
one task at a time, and transient errors are retried with exponential backoff.
"""

from __future__ import annotations

from celery import Celery

from mmkg.settings import Settings


def make_app(settings: Settings | None = None) -> Celery:
    settings = settings or Settings()
    app = Celery("mmkg", include=["mmkg.workers.tasks"])
    transport: dict[str, object] = {"visibility_timeout": settings.broker_visibility_timeout}
    broker = settings.resolved_broker_url
    if broker.startswith("filesystem://"):
        # One folder in and out: producers and workers on this machine share the queue.
        queue = settings.broker_folder / "queue"
        processed = settings.broker_folder / "processed"
        queue.mkdir(parents=True, exist_ok=True)
        processed.mkdir(parents=True, exist_ok=True)
        transport.update(
            data_folder_in=str(queue),
            data_folder_out=str(queue),
            processed_folder=str(processed),
            store_processed=False,
        )
    if settings.resolved_result_backend.startswith("db+sqlite:///"):
        settings.home.mkdir(parents=True, exist_ok=True)
    app.conf.update(
        broker_url=broker,
        result_backend=settings.resolved_result_backend,
        broker_transport_options=transport,
        result_backend_transport_options=transport if broker.startswith("redis") else {},
        broker_connection_retry_on_startup=True,
        task_serializer="json",
        result_serializer="json",
        accept_content=["json"],
        task_acks_late=True,
        task_reject_on_worker_lost=True,
        worker_prefetch_multiplier=1,
        task_time_limit=settings.task_time_limit,
        # The soft limit comes first, so a task can record why it stops.
        task_soft_time_limit=max(
            1, settings.task_time_limit - max(1, min(30, settings.task_time_limit // 10))
        ),
        task_track_started=True,
        result_extended=True,
        worker_hijack_root_logger=False,
        timezone="UTC",
    )
    from mmkg.workers.schedule import beat_schedule

    app.conf.beat_schedule = beat_schedule(settings.schedule)
    return app


_APP: Celery | None = None


def __getattr__(name: str) -> Celery:
    """``app`` (and ``celery``, Celery's own lookup name) built on first use, not at import:
    building it reads the settings and the schedule and creates the default broker folders."""
    global _APP
    if name in ("app", "celery"):
        if _APP is None:
            _APP = make_app()
        return _APP
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
