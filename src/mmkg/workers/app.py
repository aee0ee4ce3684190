"""The Celery app, configured from mmkg's settings.

``celery -A mmkg.workers.app worker`` works as well as ``mmkg worker``; the module's ``app`` is
built on first use. Tasks are ``shared_task``s, so they join whichever app a process builds.

No lost work: tasks are acknowledged only when they finish (``acks_late``), a task whose
worker process dies is put back on the queue (``reject_on_worker_lost``), each worker takes
one task at a time, and transient errors are retried with exponential backoff.

A whole worker that dies (SIGKILL, a machine lost) leaves its task unacknowledged. RabbitMQ
redelivers it the moment the connection drops. Redis has no connections to watch: a task
comes back once it is ``broker_visibility_timeout`` old, when some worker's periodic sweep sees
it, so mmkg makes the sweep run every few seconds and has every live worker renew the delivery
time of the tasks it holds (:class:`KeepVisible`), which keeps a long task from being
delivered twice while its worker lives. The job records' leases (tasks.py) catch what is left.
"""

from __future__ import annotations

import logging
import time
from typing import Any, ClassVar

from celery import Celery, bootsteps

from mmkg.settings import Settings

log = logging.getLogger(__name__)


class KeepVisible(bootsteps.StartStopStep):
    """Redis only: re-stamps the delivery time of every task this worker holds and has not
    acknowledged, every sixth of the visibility timeout, so no sweep restores them while the
    worker lives. When the worker dies the stamps stop and its tasks come back one visibility
    timeout later."""

    requires: ClassVar[set[str]] = {"celery.worker.consumer.tasks:Tasks"}

    def __init__(self, parent: Any, **kwargs: Any) -> None:
        self.tref: Any = None

    def start(self, parent: Any) -> None:
        options = parent.app.conf.broker_transport_options or {}
        every = max(1.0, float(options.get("visibility_timeout", 30)) / 6)
        self.tref = parent.timer.call_repeatedly(every, self.refresh, (parent,), priority=10)

    def stop(self, parent: Any) -> None:
        if self.tref is not None:
            self.tref.cancel()
            self.tref = None

    shutdown = stop

    def refresh(self, parent: Any) -> None:
        channel = parent.task_consumer.channel if parent.task_consumer else None
        qos = getattr(channel, "qos", None)
        if channel is None or qos is None or not hasattr(qos, "unacked_index_key"):
            return  # not the Redis transport
        # kombu keeps the delivery tags it handed out and has not seen acknowledged here.
        tags = list(getattr(qos, "_delivered", {}))
        if not tags:
            return
        now = time.time()
        try:
            with channel.conn_or_acquire() as client:
                # XX: only renew entries that still exist (never resurrect an acknowledged one).
                client.zadd(qos.unacked_index_key, dict.fromkeys(tags, now), xx=True)
        except Exception as e:  # the broker is briefly away: the next tick tries again
            log.warning("could not renew the visibility of %d task(s): %s", len(tags), e)


def make_app(settings: Settings | None = None) -> Celery:
    settings = settings or Settings()
    app = Celery("mmkg", include=["mmkg.workers.tasks"])
    timeout = settings.broker_visibility_timeout
    transport: dict[str, object] = {"visibility_timeout": timeout}
    broker = settings.resolved_broker_url
    if broker.startswith(("redis://", "rediss://")):
        transport.update(
            # Sweep for tasks of dead workers every few seconds, not every 100 s (kombu's
            # default), and let a sweeper that died free the sweep's lock soon.
            unacked_restore_interval=max(1, timeout // 6),
            unacked_restore_throttle=1,
            unacked_mutex_expire=max(10, timeout),
        )
    if broker.startswith("filesystem://"):
        # One folder in and out: producers and workers on this machine share the queue.
        queue = settings.broker_folder / "queue"
        processed = settings.broker_folder / "processed"
        # kombu keeps its exchange tables in ./control unless told: never in the user's cwd.
        control = settings.broker_folder / "control"
        for folder in (queue, processed, control):
            folder.mkdir(parents=True, exist_ok=True)
        transport.update(
            data_folder_in=str(queue),
            data_folder_out=str(queue),
            processed_folder=str(processed),
            control_folder=str(control),
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
        # A new pool process loads the encoders before it reports up (worker_process_init);
        # Celery's default 4 s would kill and replace it forever on a busy machine.
        worker_proc_alive_timeout=180,
        result_extended=True,
        worker_hijack_root_logger=False,
        timezone="UTC",
    )
    from mmkg.workers.schedule import beat_schedule

    app.conf.beat_schedule = beat_schedule(settings.schedule)
    app.steps["consumer"].add(KeepVisible)
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
