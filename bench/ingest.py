"""Ingest benchmark: FB15k-237 train (272,115 triples) into an empty database.

Starts its own managed Neo4j (temporary home, free port, the same code as `mmkg neo4j start`),
then for each repeat: empties the database, loads the file (first load), loads it again
(idempotent re-load) and exports it. Repeat 1 runs on a freshly started JVM (cold); the
medians are over all repeats. Peak RSS: the Python process (ru_maxrss) and the JVM (VmHWM).

    .venv/bin/python bench/ingest.py [--data ../shared/data/FB15k-237/train.txt] [--repeats 3]

Writes bench/results/ingest.json. Goals on the 2-core dev machine: first load >= 50,000
triples/s, re-load >= 100,000 triples/s, export <= 3 s.
"""

from __future__ import annotations

import argparse
import json
import logging
import platform
import resource
import shutil
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import psutil

from common import free_port, jvm_peak_rss
from mmkg import __version__
from mmkg.graph_schema import queries as Q
from mmkg.platform.export import export_triples, write_export
from mmkg.platform.ingest import ingest_triples
from mmkg.platform.neo4j_server import start_server, stop_server
from mmkg.platform.neo4j_server.process import running_pid
from mmkg.platform.schema import apply_schema
from mmkg.platform.store import Graph
from mmkg.settings import Settings

REPO = Path(__file__).resolve().parents[1]
DEFAULT_DATA = REPO.parent / "shared" / "data" / "FB15k-237" / "train.txt"
CLEAR = Q.DELETE_ALL


def run(data: Path, repeats: int, heap: str, pagecache: str) -> dict[str, Any]:
    home = Path(tempfile.mkdtemp(prefix="mmkg-bench-"))
    settings = Settings(
        home=home,
        cache_dir=Path.home() / ".mmkg" / "cache",
        neo4j_bolt_port=free_port(),
        neo4j_uri=None,
        neo4j_heap=heap,
        neo4j_pagecache=pagecache,
    )
    runs = []
    started = time.perf_counter()
    start_server(settings)
    startup_s = time.perf_counter() - started
    try:
        with Graph.connect(settings) as graph:
            apply_schema(graph)
            for index in range(repeats):
                graph.run_autocommit(CLEAR)
                first = ingest_triples(graph, data, settings, show_progress=False)
                again = ingest_triples(graph, data, settings, show_progress=False)
                t0 = time.perf_counter()
                export = export_triples(graph)
                export_s = time.perf_counter() - t0
                write_export(export, home / "export")
                export_write_s = time.perf_counter() - t0
                assert first.relationships_created == len(export.triples)
                runs.append(
                    {
                        "repeat": index + 1,
                        "first_load_s": first.seconds,
                        "first_load_triples_per_s": round(first.records / first.seconds),
                        "reload_s": again.seconds,
                        "reload_triples_per_s": round(again.records / again.seconds),
                        "export_s": round(export_s, 3),
                        "export_with_files_s": round(export_write_s, 3),
                        "triples": first.records,
                        "entities": first.entities_created,
                    }
                )
                print(json.dumps(runs[-1]), flush=True)
        pid = running_pid(settings)
        jvm_peak = jvm_peak_rss(pid) if pid else 0
    finally:
        stop_server(settings)
        # Gigabytes of store, models and media: nothing worth keeping once measured.
        shutil.rmtree(home, ignore_errors=True)

    def median(key: str) -> float:
        return statistics.median(r[key] for r in runs)

    return {
        "benchmark": "ingest",
        "data": str(data),
        "mmkg": __version__,
        "neo4j": settings.neo4j_version,
        "machine": {
            "cpus": psutil.cpu_count(),
            "memory_gib": round(psutil.virtual_memory().total / 1024**3, 1),
            "python": platform.python_version(),
        },
        "config": {"batch_size": settings.ingest_batch_size, "heap": heap, "pagecache": pagecache},
        "server_startup_s": round(startup_s, 2),
        "runs": runs,
        "median": {
            "first_load_triples_per_s": median("first_load_triples_per_s"),
            "reload_triples_per_s": median("reload_triples_per_s"),
            "export_s": median("export_s"),
            "export_with_files_s": median("export_with_files_s"),
        },
        "cold_first_load_triples_per_s": runs[0]["first_load_triples_per_s"],
        "peak_rss_bytes": {
            "python": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024,
            "jvm": jvm_peak,
        },
        "goals": {
            "first_load_triples_per_s": 50_000,
            "reload_triples_per_s": 100_000,
            "export_s": 3,
        },
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--heap", default="2g")
    parser.add_argument("--pagecache", default="1g")
    parser.add_argument("--out", type=Path, default=REPO / "bench" / "results" / "ingest.json")
    args = parser.parse_args()
    if not args.data.is_file():
        raise SystemExit(f"{args.data} not found; pass --data PATH to a triple file")
    logging.basicConfig(level=logging.WARNING)
    result = run(args.data, args.repeats, args.heap, args.pagecache)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result["median"], indent=2))
    print(f"written to {args.out}")


if __name__ == "__main__":
    main()
