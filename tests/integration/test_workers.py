"""Workers for real: a Redis server and Celery worker processes started here, the real Neo4j,
and faults injected into them (SIGKILL mid-task, Neo4j stopped and restarted, bad payloads)."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from mmkg.platform.demo import load_demo
from mmkg.platform.media.search import embed_entities
from mmkg.platform.neo4j_server import start_server, stop_server
from mmkg.platform.serving import active_run_id, get_run, list_runs, predict_tail
from mmkg.platform.store import Graph
from mmkg.settings import Settings
from mmkg.workers.app import make_app
from mmkg.workers.jobs import list_jobs
from tests.brokers import start_redis, stop_process_group
from tests.integration.conftest import CLEAR, env_for, run_cli
from tests.media_fixtures import write_docs

pytestmark = pytest.mark.skipif(shutil.which("redis-server") is None, reason="needs redis-server")

QUICK_TRAIN = {"dim": 32, "epochs": 20, "batch_size": 256, "negatives": 32, "neg_chunk_size": 32,
               "compile": False, "eval_every": 5}  # fmt: skip


@pytest.fixture(scope="module")
def redis_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    broker = start_redis(tmp_path_factory.mktemp("redis"))
    yield broker.url
    broker.stop()


class Worker:
    """A `mmkg worker` process with its own environment."""

    def __init__(self, settings: Settings, env: dict[str, str], log: Path, *args: str) -> None:
        mmkg = Path(sys.executable).with_name("mmkg")
        self.log = log
        self.proc = subprocess.Popen(
            [str(mmkg), "worker", "--loglevel", "INFO", *args],
            env=env, stdout=log.open("ab"), stderr=subprocess.STDOUT, start_new_session=True,
        )  # fmt: skip

    def stop(self) -> None:
        stop_process_group(self.proc)


def worker_env(settings: Settings, broker: str | None, **extra: str) -> dict[str, str]:
    env = env_for(settings)
    if broker:
        env["MMKG_BROKER_URL"] = broker
    env.update(MMKG_MEDIA_ROOT=str(settings.home), MMKG_TASK_RETRY_BACKOFF_MAX="4",
               MMKG_NEO4J_RETRY_SECONDS="3")  # fmt: skip
    env.update(extra)
    return env


@pytest.fixture(scope="module")
def cluster(
    neo4j_settings: Settings, session_graph: Graph, redis_url: str, tmp_path_factory: Any
) -> Iterator[dict[str, Any]]:
    session_graph.run_autocommit(CLEAR)
    load_demo(session_graph, neo4j_settings, show_progress=False)
    settings = neo4j_settings.model_copy(update={"broker_url": redis_url})
    app = make_app(settings)
    logs = tmp_path_factory.mktemp("logs")
    worker = Worker(settings, worker_env(settings, redis_url), logs / "worker.log",
                    "--concurrency", "1")  # fmt: skip
    info = app.send_task("mmkg.worker_info").get(timeout=120)
    yield {"app": app, "settings": settings, "worker": worker, "info": info, "logs": logs}
    worker.stop()


def _job(graph: Graph, job_id: str) -> dict[str, Any]:
    rows = graph.read("MATCH (j:MmkgJob {id: $id}) RETURN j {.*} AS j", {"id": job_id})
    return rows[0]["j"] if rows else {}


def _wait_job(graph: Graph, job_id: str, pred: Any, timeout: float = 120) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        job = _job(graph, job_id)
        if job and pred(job):
            return job
        time.sleep(0.1)
    raise AssertionError(f"job {job_id} did not reach the expected state: {_job(graph, job_id)}")


def test_ingest_task_records_its_job(cluster: dict[str, Any], session_graph: Graph) -> None:
    root = cluster["settings"].home / "media"
    write_docs(root)
    result = cluster["app"].send_task("mmkg.ingest_media", kwargs={"paths": [str(root)]})
    summary = result.get(timeout=120)
    assert summary["created"] == 5 and summary["failed"] == 0
    job = _wait_job(session_graph, result.id, lambda j: j["state"] == "succeeded")
    assert job["task"] == "mmkg.ingest_media" and job["progress"] == 1.0 and job["attempts"] == 1
    listed = json.loads(run_cli(cluster["settings"], "jobs", "--json").stdout)
    assert any(j["id"] == result.id and j["state"] == "succeeded" for j in listed)


def test_models_load_once_per_worker_process(cluster: dict[str, Any]) -> None:
    first = cluster["app"].send_task("mmkg.worker_info").get(timeout=60)
    cluster["app"].send_task("mmkg.ingest_media", kwargs={
        "paths": [str(cluster["settings"].home / "media")]}).get(timeout=60)  # fmt: skip
    second = cluster["app"].send_task("mmkg.worker_info").get(timeout=60)
    assert first["pid"] == second["pid"]
    assert second["loads"] == {"minilm": 1} and "minilm" in second["encoders"]


def test_poison_messages_fail_fast_and_do_not_block(
    cluster: dict[str, Any], session_graph: Graph
) -> None:
    app = cluster["app"]
    bad = app.send_task("mmkg.ingest_media", kwargs={"paths": 42})
    worse = app.send_task("mmkg.train_and_publish", kwargs={"model": "transH"})
    good = app.send_task("mmkg.worker_info")
    assert good.get(timeout=60)["pid"]
    for result, reason in ((bad, "bad payload (paths"), (worse, "unknown model 'transH'")):
        result.get(timeout=60, propagate=False)
        assert result.failed()
        job = _wait_job(session_graph, result.id, lambda j: j["state"] == "failed")
        # Failed at once: one attempt, never retried (the good task behind them completed).
        assert reason in job["error"] and job["attempts"] == 1


def test_train_publish_guard_and_incremental_refresh(
    cluster: dict[str, Any], session_graph: Graph
) -> None:
    app, g = cluster["app"], session_graph
    train = "mmkg.train_and_publish"
    good = app.send_task(train, kwargs={"model": "rotate", "overrides": QUICK_TRAIN})
    good = good.get(timeout=600)
    assert good["activated"] and active_run_id(g) == good["run_id"]
    weak = {**QUICK_TRAIN, "epochs": 1, "dim": 4}
    # So weak it may be at chance level: written anyway (force), never activated.
    worse = app.send_task(train, kwargs={"model": "rotate", "overrides": weak, "force": True})
    worse = worse.get(timeout=600)
    assert not worse["activated"] and worse["valid_mrr"] < good["valid_mrr"]
    assert active_run_id(g) == good["run_id"]
    assert get_run(g, worse["run_id"])["status"] == "ready"

    # New entities arrive; a refresh folds them in while queries keep being answered.
    g.write(
        "MERGE (a:Entity {id: 'new_physicist'}) SET a.name = 'New Physicist' "
        "WITH a MATCH (c:Entity {id: 'marie_curie'}), (p:Entity {id: 'physics'}), "
        "(w:Entity {id: 'warsaw'}) "
        "MERGE (a)-[:FIELD_OF_WORK]->(p) MERGE (a)-[:BORN_IN]->(w) MERGE (a)-[:SPOUSE]->(c)"
    )
    errors: list[str] = []
    stop = threading.Event()

    def reader() -> None:
        with Graph.connect(cluster["settings"]) as own:
            while not stop.is_set():
                try:
                    assert len(predict_tail(own, "marie_curie", "award_received", 3)) == 3
                except Exception as e:  # any failure of a query during the refresh counts
                    errors.append(repr(e))
                    return

    thread = threading.Thread(target=reader)
    thread.start()
    try:
        refreshed = app.send_task("mmkg.refresh_embeddings", kwargs={"epochs": 50}).get(timeout=300)
    finally:
        stop.set()
        thread.join()
    assert not errors, errors[0]
    assert refreshed["activated"] and refreshed["fold_in"]["new_entities"] == 1
    assert active_run_id(g) == refreshed["run_id"]
    near = predict_tail(g, "new_physicist", "field_of_work", 3, exclude=False)
    assert [p.run for p in near] == [refreshed["run_id"]] * 3
    nothing = app.send_task("mmkg.refresh_embeddings").get(timeout=300)
    assert nothing["new_entities"] == 0 and nothing["run_id"] is None


def test_a_scheduled_refresh_activates_a_new_run_while_queries_answer(
    cluster: dict[str, Any], session_graph: Graph
) -> None:
    app, g = cluster["app"], session_graph
    if active_run_id(g) is None:
        app.send_task(
            "mmkg.train_and_publish", kwargs={"model": "rotate", "overrides": QUICK_TRAIN}
        ).get(timeout=600)
    before = active_run_id(g)
    g.write(
        "MERGE (a:Entity {id: 'scheduled_newcomer'}) SET a.name = 'Scheduled Newcomer' "
        "WITH a MATCH (p:Entity {id: 'physics'}), (f:Entity {id: 'france'}) "
        "MERGE (a)-[:FIELD_OF_WORK]->(p) MERGE (a)-[:CITIZEN_OF]->(f)"
    )
    schedule = json.dumps({"hourly-refresh": {"task": "refresh", "every": 3,
                                              "kwargs": {"epochs": 30}}})  # fmt: skip
    env = worker_env(cluster["settings"], str(cluster["settings"].broker_url),
                     MMKG_SCHEDULE=schedule)  # fmt: skip
    log = cluster["logs"] / "beat.log"
    beat_proc = subprocess.Popen(
        [str(Path(sys.executable).with_name("mmkg")), "beat"], env=env,
        stdout=log.open("wb"), stderr=subprocess.STDOUT, start_new_session=True,
    )  # fmt: skip
    errors: list[str] = []
    answered = 0
    try:
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline:
            try:
                assert len(predict_tail(g, "marie_curie", "award_received", 3)) == 3
                answered += 1
            except Exception as e:  # a failed query during the refresh is what must not happen
                errors.append(repr(e))
                break
            now = active_run_id(g)
            if now != before and now is not None and ".fold-" in now:
                break
            time.sleep(0.2)
    finally:
        os.killpg(beat_proc.pid, signal.SIGTERM)
        beat_proc.wait(30)
    assert not errors, errors[0]
    after = active_run_id(g)
    assert after != before and after is not None and ".fold-" in after, log.read_text()[-2000:]
    assert answered > 0
    got = predict_tail(g, "scheduled_newcomer", "field_of_work", 1, exclude=False)
    assert got[0].run == after


def test_a_fused_run_from_a_worker_serves_an_entity_that_came_with_only_a_description(
    cluster: dict[str, Any], session_graph: Graph
) -> None:
    app, g, settings = cluster["app"], session_graph, cluster["settings"]
    embed_entities(g, settings, show_progress=False)  # the demo entities' text vectors
    fused = {**QUICK_TRAIN, "fusion": "attention", "align_weight": 0.1}
    trained = app.send_task(
        "mmkg.train_and_publish",
        kwargs={"model": "rotate", "overrides": fused, "modalities": ["text"],
                "run_id": "worker-fused", "force": True},
    ).get(timeout=600)  # fmt: skip
    assert get_run(g, trained["run_id"])["status"] in ("ready", "active")
    g.write(
        "MERGE (a:Entity {id: 'described_only'}) SET a.name = 'Described Only', "
        "a.description = 'a French chemist and physicist who studied radioactivity'"
    )
    embed_entities(g, settings, show_progress=False)  # only the newcomer is missing
    refreshed = app.send_task(
        "mmkg.refresh_embeddings", kwargs={"base_run": "worker-fused", "epochs": 20}
    ).get(timeout=300)
    assert refreshed["activated"] and refreshed["fold_in"]["placed_from_features"] >= 1
    got = predict_tail(g, "described_only", "field_of_work", 3, exclude=False)
    assert len(got) == 3 and {p.run for p in got} == {refreshed["run_id"]}


def test_a_worker_killed_mid_task_is_redelivered(
    cluster: dict[str, Any], session_graph: Graph
) -> None:
    app, g = cluster["app"], session_graph
    run_id = "killed-mid-training"
    long = {**QUICK_TRAIN, "epochs": 400}  # several seconds: the kill lands inside training
    result = app.send_task(
        "mmkg.train_and_publish", kwargs={"model": "transe", "run_id": run_id, "overrides": long}
    )
    job = _wait_job(g, result.id, lambda j: j.get("progress", 0) >= 0.1 and j["state"] == "running")
    pid = int(job["worker"].rsplit(":", 1)[1])
    os.kill(pid, signal.SIGKILL)  # progress 0.1: training has just started
    outcome = result.get(timeout=600)
    assert outcome["run_id"] == run_id
    # The result is stored just before the job record is updated.
    job = _wait_job(g, result.id, lambda j: j["state"] == "succeeded")
    assert job["attempts"] == 2  # the killed attempt and the redelivered one
    assert [r["id"] for r in list_runs(g)].count(run_id) == 1
    assert get_run(g, run_id)["status"] in ("ready", "active")


def test_neo4j_restart_mid_pipeline(
    cluster: dict[str, Any], neo4j_settings: Settings, session_graph: Graph
) -> None:
    app = cluster["app"]
    root = cluster["settings"].home / "media2"
    write_docs(root)
    (root / "extra.txt").write_text("A lighthouse guides ships along the rocky coast at night.")
    stop_server(neo4j_settings)
    try:
        result = app.send_task("mmkg.ingest_media", kwargs={"paths": [str(root)]})
        deadline = time.monotonic() + 60
        while result.state not in ("RETRY",) and time.monotonic() < deadline:
            time.sleep(0.2)
        assert result.state == "RETRY"  # it failed to reach Neo4j and is waiting to retry
    finally:
        start_server(neo4j_settings)
    summary = result.get(timeout=300)
    assert summary["failed"] == 0 and summary["created"] + summary["present"] == 6
    assert session_graph.read("MATCH (m:Media) WHERE m.path ENDS WITH 'extra.txt' "
                              "RETURN count(m) AS n")[0]["n"] == 1  # fmt: skip


def test_new_media_pipeline_chord(cluster: dict[str, Any], session_graph: Graph) -> None:
    from mmkg.workers import tasks

    root = cluster["settings"].home / "media3"
    root.mkdir()
    for i in range(7):
        (root / f"note_{i}.txt").write_text(f"Field note number {i} about the harbour.")
    (root / "empty.txt").write_text("")
    settings = cluster["settings"].model_copy(update={"media_root": cluster["settings"].home})
    result = tasks.new_media_pipeline(cluster["app"], settings, [str(root)], None, batch=3)
    total = result.get(timeout=300)
    assert total["batches"] == 3 and total["created"] == 7 and total["failed"] == 1


def test_beat_and_zero_setup_broker_and_time_limit(
    neo4j_settings: Settings, session_graph: Graph, tmp_path: Path
) -> None:
    """No broker configured: the filesystem queue and SQLite results; beat sends the schedule;
    a task past its time limit is stopped and recorded."""
    load_demo(session_graph, neo4j_settings, show_progress=False)  # idempotent
    home = tmp_path / "home"
    settings = neo4j_settings.model_copy(update={"home": home})
    schedule = json.dumps({"ping": {"task": "features", "every": 2}})
    env = worker_env(settings, None, MMKG_TASK_TIME_LIMIT="30", MMKG_SCHEDULE=schedule)
    # The worker reads the same server: its credentials file lives under the session's home.
    shutil.copytree(neo4j_settings.home / "neo4j", home / "neo4j", dirs_exist_ok=True,
                    ignore=shutil.ignore_patterns("data", "logs", "run", "plugins"))  # fmt: skip
    # Time limits need the prefork pool (the solo pool cannot interrupt a task).
    worker = Worker(settings, env, tmp_path / "w.log", "--concurrency", "1")
    beat_proc = subprocess.Popen(
        [str(Path(sys.executable).with_name("mmkg")), "beat"], env=env,
        stdout=(tmp_path / "beat.log").open("wb"), stderr=subprocess.STDOUT,
        start_new_session=True,
    )  # fmt: skip
    try:
        app = make_app(settings)
        assert app.conf.broker_url == "filesystem://"
        assert app.send_task("mmkg.worker_info").get(timeout=120)["pid"]
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            done = [
                j
                for j in list_jobs(session_graph, 200)
                if j["task"] == "mmkg.embed_entities" and j["state"] == "succeeded"
            ]
            if done:
                break
            time.sleep(0.5)
        assert done, (tmp_path / "beat.log").read_text()[-2000:]
        os.killpg(beat_proc.pid, signal.SIGTERM)
        slow = app.send_task("mmkg.train_and_publish", kwargs={
            "model": "rotate", "overrides": {**QUICK_TRAIN, "epochs": 100_000}})  # fmt: skip
        slow.get(timeout=120, propagate=False)
        assert slow.failed()
        job = _wait_job(session_graph, slow.id, lambda j: j["state"] == "failed")
        assert "time limit" in job["error"]
    finally:
        if beat_proc.poll() is None:
            os.killpg(beat_proc.pid, signal.SIGKILL)
        worker.stop()
