"""``mmkg worker``, ``mmkg beat``, ``mmkg submit …`` and ``mmkg jobs``: the Celery side."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import typer

from mmkg.cli.common import (
    JSON_OPTION,
    connect,
    handle_errors,
    load_settings,
    print_json,
    print_table,
)

submit_app = typer.Typer(help="Queue work for the workers.", no_args_is_help=True)

WAIT = typer.Option(False, "--wait", help="Wait for the result and print it.")
TIMEOUT = typer.Option(3600.0, "--timeout", help="Seconds --wait waits.")


def _app() -> Any:
    from mmkg.workers.app import make_app

    return make_app(load_settings())


@handle_errors
def worker(
    concurrency: int = typer.Option(
        0, "--concurrency", "-c", min=0, help="Worker processes (0 = one per core)."
    ),
    pool: str = typer.Option("prefork", "--pool", help="prefork, solo or threads."),
    queues: str = typer.Option("celery", "--queues", "-Q", help="Queues to consume."),
    loglevel: str = typer.Option("INFO", "--loglevel", "-l"),
) -> None:
    """Run a Celery worker for mmkg's tasks (stops on SIGTERM after the running tasks)."""
    import mmkg.workers.tasks  # noqa: F401  (registers the tasks on the app)

    argv = ["worker", f"--pool={pool}", f"--queues={queues}", f"--loglevel={loglevel}",
            f"--hostname=mmkg-{os.getpid()}@%h"]  # fmt: skip
    if concurrency:
        argv.append(f"--concurrency={concurrency}")
    from mmkg.workers.app import app

    app.worker_main(argv)


@handle_errors
def beat(loglevel: str = typer.Option("INFO", "--loglevel", "-l")) -> None:
    """Run the Celery beat scheduler with the MMKG_SCHEDULE entries (one beat per cluster)."""
    settings = load_settings()
    from mmkg.workers.app import app

    if not app.conf.beat_schedule:
        typer.secho("MMKG_SCHEDULE is empty: beat would send nothing", err=True)
        raise typer.Exit(1)
    settings.home.mkdir(parents=True, exist_ok=True)
    app.start(["beat", f"--loglevel={loglevel}",
               f"--schedule={settings.home / 'beat-schedule'}"])  # fmt: skip


def _finish(result: Any, wait: bool, timeout: float, as_json: bool) -> None:
    if not wait:
        if as_json:
            print_json({"id": result.id})
        else:
            typer.echo(f"queued {result.id}; follow it with `mmkg jobs`")
        return
    value = result.get(timeout=timeout, propagate=False)
    if result.failed():
        typer.secho(f"job {result.id} failed: {value}", err=True, fg=typer.colors.RED)
        raise typer.Exit(1)
    print_json({"id": result.id, "result": value})


@submit_app.command("ingest")
@handle_errors
def submit_ingest(
    paths: list[Path] = typer.Argument(None),
    manifest: Path | None = typer.Option(None, "--manifest"),
    wait: bool = WAIT,
    timeout: float = TIMEOUT,
    as_json: bool = JSON_OPTION,
) -> None:
    """Ingest and featurise media in one task."""
    app = _app()
    result = app.send_task(
        "mmkg.ingest_media",
        kwargs={"paths": [str(p.resolve()) for p in paths or []],
                "manifest": str(manifest.resolve()) if manifest else None},
    )  # fmt: skip
    _finish(result, wait, timeout, as_json)


@submit_app.command("pipeline")
@handle_errors
def submit_pipeline(
    paths: list[Path] = typer.Argument(None),
    manifest: Path | None = typer.Option(None, "--manifest"),
    batch: int = typer.Option(64, "--batch", min=1, help="Files per task."),
    wait: bool = WAIT,
    timeout: float = TIMEOUT,
    as_json: bool = JSON_OPTION,
) -> None:
    """New media arrived: batches ingested in parallel by the workers, then one summary."""
    from mmkg.workers.tasks import new_media_pipeline

    files = [str(p.resolve()) for p in paths or []]
    listed = str(manifest.resolve()) if manifest else None
    result = new_media_pipeline(_app(), load_settings(), files, listed, batch)
    _finish(result, wait, timeout, as_json)


def _overrides(values: list[str]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for item in values:
        key, sep, raw = item.partition("=")
        if not sep:
            raise typer.BadParameter(f"--set wants key=value, got {item!r}")
        try:
            out[key] = json.loads(raw)
        except ValueError:
            out[key] = raw
    return out


@submit_app.command("train")
@handle_errors
def submit_train(
    model: str = typer.Option("rotate", "--model", "-m"),
    set_: list[str] = typer.Option([], "--set", help="Training option, e.g. --set epochs=50."),
    run_id: str | None = typer.Option(None, "--run-id"),
    modalities: str | None = typer.Option(
        None,
        "--modalities",
        help="Fusion: graph modalities (text, image, video), comma-separated; the fusion "
        "itself with --set fusion=attention.",
    ),
    text_encoder: str | None = typer.Option(None, "--text-encoder"),
    image_encoder: str | None = typer.Option(None, "--image-encoder"),
    wait: bool = WAIT,
    timeout: float = TIMEOUT,
    as_json: bool = JSON_OPTION,
) -> None:
    """Train on the graph, write back, evaluate, activate unless worse than the active run."""
    from mmkg.platform.graph_features import parse_modalities

    result = _app().send_task(
        "mmkg.train_and_publish",
        kwargs={"model": model, "overrides": _overrides(set_), "run_id": run_id,
                "modalities": parse_modalities(modalities), "text_encoder": text_encoder,
                "image_encoder": image_encoder},
    )  # fmt: skip
    _finish(result, wait, timeout, as_json)


@submit_app.command("refresh")
@handle_errors
def submit_refresh(
    base_run: str | None = typer.Option(None, "--base-run"),
    epochs: int = typer.Option(100, "--epochs", min=1),
    wait: bool = WAIT,
    timeout: float = TIMEOUT,
    as_json: bool = JSON_OPTION,
) -> None:
    """Incremental refresh: fold new entities into a new run and activate it."""
    result = _app().send_task(
        "mmkg.refresh_embeddings", kwargs={"base_run": base_run, "epochs": epochs}
    )
    _finish(result, wait, timeout, as_json)


@handle_errors
def jobs(
    limit: int = typer.Option(50, "--limit", min=1),
    as_json: bool = JSON_OPTION,
) -> None:
    """Running and finished jobs, newest first: state, progress, and the error of failed ones."""
    from mmkg.workers.jobs import list_jobs

    with connect() as graph:
        rows = list_jobs(graph, limit)
    if as_json:
        print_json(rows)
        return
    print_table(
        ["id", "task", "state", "progress", "attempts", "started_at", "error"],
        [[r["id"][:8], r["task"], r["state"], r["progress"], r["attempts"], r["started_at"],
          r["error"] or ""] for r in rows],
    )  # fmt: skip
