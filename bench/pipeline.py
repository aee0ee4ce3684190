"""The new-media pipeline through Redis and Celery workers against the same ingest in-process.

Starts its own Neo4j and Redis (temporary, loopback, free ports), builds N distinct photos and
the CLIP ViT-B/32-sized encoder of bench/media_throughput.py, then times, on an empty graph
each time:

* in-process: `ingest_media` on the folder (batch B), in this process;
* the pipeline (`mmkg submit pipeline`: one task per batch of B files, then a summary task)
  with 1 and with 2 worker processes, from submission to the summary's result.

    .venv/bin/python bench/pipeline.py [--images 128] [--batch 32]

Writes bench/results/pipeline.json. Goal: pipeline with 2 workers / in-process <= 1.2.
"""

from __future__ import annotations

import argparse
import logging
import os
import platform
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import psutil

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "bench"))

from common import free_port  # noqa: E402
from media_throughput import build_vit_b32_clip, make_photos  # noqa: E402
from mmkg import __version__  # noqa: E402
from mmkg.graph_schema import queries as Q  # noqa: E402
from mmkg.platform.kge.run_dir import write_json  # noqa: E402
from mmkg.platform.media import ingest_media  # noqa: E402
from mmkg.platform.neo4j_server import start_server, stop_server  # noqa: E402
from mmkg.platform.schema import apply_schema  # noqa: E402
from mmkg.platform.store import Graph  # noqa: E402
from mmkg.settings import Settings  # noqa: E402
from mmkg.workers.app import make_app  # noqa: E402
from mmkg.workers.tasks import new_media_pipeline  # noqa: E402

CLEAR = Q.DELETE_MEDIA


def _env(settings: Settings) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MMKG_")}
    env.update(
        MMKG_HOME=str(settings.home),
        MMKG_CACHE_DIR=str(settings.resolved_cache_dir),
        MMKG_NEO4J_BOLT_PORT=str(settings.neo4j_bolt_port),
        MMKG_BROKER_URL=str(settings.broker_url),
        MMKG_IMAGE_ENCODER=str(settings.image_encoder),
        MMKG_MEDIA_ROOT=str(settings.media_root),
        MMKG_ENCODER_BATCH_SIZE=str(settings.encoder_batch_size),
    )
    return env


def _pipeline(settings: Settings, folder: Path, workers: int, batch: int, logs: Path) -> float:
    mmkg = Path(sys.executable).with_name("mmkg")
    env = _env(settings)
    # Each worker process gets its share of the cores for torch.
    env["OMP_NUM_THREADS"] = str(max(1, (psutil.cpu_count() or 1) // workers))
    proc = subprocess.Popen(
        [str(mmkg), "worker", "--concurrency", str(workers), "--loglevel", "WARNING"],
        env=env, stdout=(logs / f"worker-{workers}.log").open("wb"), stderr=subprocess.STDOUT,
        start_new_session=True,
    )  # fmt: skip
    app = make_app(settings)
    try:
        # Every worker process has started and loaded its encoder (preload) before timing.
        pids: set[int] = set()
        deadline = time.monotonic() + 300
        while len(pids) < workers and time.monotonic() < deadline:
            pids.add(app.send_task("mmkg.worker_info").get(timeout=300)["pid"])
        t0 = time.perf_counter()
        result = new_media_pipeline(app, settings, [str(folder)], None, batch)
        total = result.get(timeout=1800)
        elapsed = time.perf_counter() - t0
        assert total["featurised"] == total["files"] and total["failed"] == 0, total
        return elapsed
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(60)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--images", type=int, default=128)
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--out", type=Path, default=REPO / "bench" / "results" / "pipeline.json")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    work = Path(tempfile.mkdtemp(prefix="mmkg-bench-pipeline-"))
    clip = build_vit_b32_clip(work / "vit-b32")
    folder = work / "media" / "photos"
    make_photos(folder, args.images)
    redis_port = free_port()
    redis = subprocess.Popen(
        ["redis-server", "--port", str(redis_port), "--bind", "127.0.0.1", "--save", "",
         "--appendonly", "no", "--dir", str(work)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    settings = Settings(
        home=work / "home",
        cache_dir=Path.home() / ".mmkg" / "cache",
        neo4j_bolt_port=free_port(),
        neo4j_uri=None,
        neo4j_heap="2g",
        neo4j_pagecache="1g",
        broker_url=f"redis://127.0.0.1:{redis_port}/0",
        image_encoder=f"clip:{clip}",
        media_root=work / "media",
        encoder_batch_size=args.batch,
    )
    runs: dict[str, list[float]] = {"in_process_s": [], "workers_1_s": [], "workers_2_s": []}
    start_server(settings)
    try:
        with Graph.connect(settings) as graph:
            apply_schema(graph)
            ingest_media(graph, [folder], settings, show_progress=False)  # warm: model, JIT
            for _ in range(args.repeats):
                graph.run_autocommit(CLEAR)
                t0 = time.perf_counter()
                summary = ingest_media(graph, [folder], settings, show_progress=False)
                runs["in_process_s"].append(time.perf_counter() - t0)
                assert summary.featurised == args.images
                for workers in (1, 2):
                    graph.run_autocommit(CLEAR)
                    took = _pipeline(settings, folder, workers, args.batch, work)
                    runs[f"workers_{workers}_s"].append(took)
                print({k: round(v[-1], 2) for k, v in runs.items()}, flush=True)
    finally:
        stop_server(settings)
        # Gigabytes of store, models and media: nothing worth keeping once measured.
        shutil.rmtree(work, ignore_errors=True)
        redis.terminate()
    times = {k: statistics.median(v) for k, v in runs.items()}  # medians over the repeats
    result: dict[str, Any] = {
        "benchmark": "pipeline",
        "mmkg": __version__,
        "machine": {
            "cpus": psutil.cpu_count(),
            "memory_gib": round(psutil.virtual_memory().total / 1024**3, 1),
            "python": platform.python_version(),
        },
        "config": {
            "images": args.images,
            "batch": args.batch,
            "repeats": args.repeats,
            "encoder": "CLIP ViT-B/32 shape",
        },
        "runs_s": {k: [round(x, 2) for x in v] for k, v in runs.items()},
        "seconds": {k: round(v, 2) for k, v in times.items()},
        "images_per_s": {k.removesuffix("_s"): round(args.images / v, 2) for k, v in times.items()},
        "overhead_ratio_2_workers": round(times["workers_2_s"] / times["in_process_s"], 3),
        "overhead_ratio_1_worker": round(times["workers_1_s"] / times["in_process_s"], 3),
        "scaling_1_to_2_workers": round(times["workers_1_s"] / times["workers_2_s"], 3),
        "goals": {"overhead_ratio_2_workers": 1.2},
    }
    write_json(args.out, result)
    print({k: result[k] for k in ("seconds", "overhead_ratio_2_workers", "scaling_1_to_2_workers")})
    print(f"written to {args.out}")


if __name__ == "__main__":
    main()
