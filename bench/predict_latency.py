"""Link-prediction latency over Bolt, ANN recall, and embedding write-back throughput.

Starts its own managed Neo4j (temporary home, free port, the same code as `mmkg neo4j start`,
so the plugin is built and installed the same way), then:

* FB15k-237: loads all three splits, trains TransE (L2, d = 200) for a few epochs, hands the
  trained model to the write-back in memory, and times `CALL mmkg.predict.tail` for test-set
  (head, relation) queries: exact, the compressed scan, the plugin's HNSW graph and Neo4j's
  vector index;
* synthetic: N entities (default 1,000,000) with random d = 200 vectors (the worst case for any
  index: neighbours are nearly equidistant), written back (vectors/s, with and without the
  element-id check), then the same routes and the recall@10 of each against exact.

Every query is one Bolt round trip from this Python process (`session.run(...).data()`), as an
analyst's client would make it. Latencies are per query after a warm-up; p50/p99 over all.

    .venv/bin/python bench/predict_latency.py [--synthetic 1000000] [--queries 300]

Writes bench/results/predict_latency.json. Goals on the 2-core dev machine: ANN p50 <= 10 ms,
p99 <= 50 ms and recall@10 >= 0.95 at 1M entities; exact no slower than 60 ms p50 at 1M and
<= 20 ms on FB15k-237; write-back >= 50,000 vectors/s at d = 200.
"""

from __future__ import annotations

import argparse
import logging
import platform
import resource
import shutil
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import psutil

from common import free_port, jvm_peak_rss
from mmkg import __version__
from mmkg.graph_schema import queries as Q
from mmkg.platform.atomic import write_json
from mmkg.platform.ingest import ingest_triples
from mmkg.platform.kge.artifact import artifact_from_tables
from mmkg.platform.kge.config import make_config
from mmkg.platform.kge.data import load_folder
from mmkg.platform.kge.trainer import Trainer
from mmkg.platform.neo4j_server import start_server, stop_server
from mmkg.platform.neo4j_server.process import running_pid
from mmkg.platform.serving import cache_drop, cache_list, cache_load, drop_run, write_artifact
from mmkg.platform.store import Graph
from mmkg.settings import Settings

REPO = Path(__file__).resolve().parents[1]
FB = REPO.parent / "shared" / "data" / "FB15k-237"
WARMUP = 20


def _percentiles(ms: list[float]) -> dict[str, float]:
    ordered = sorted(ms)
    p99 = ordered[min(len(ordered) - 1, round(0.99 * (len(ordered) - 1)))]
    return {
        "p50_ms": round(statistics.median(ordered), 2),
        "p99_ms": round(p99, 2),
        "mean_ms": round(statistics.fmean(ordered), 2),
        "queries": len(ordered),
    }


def _time_queries(
    graph: Graph, queries: list[tuple[str, str]], options: dict[str, Any], k: int = 10
) -> tuple[dict[str, float], list[list[str]]]:
    """Latency of predict.tail per query (after a warm-up) and the ids it answered."""
    answers: list[list[str]] = []
    ms: list[float] = []
    with graph.driver.session(database=graph.database) as session:
        for i, (head, rel) in enumerate(queries[:WARMUP] + queries):
            params = {"head": head, "relation": rel, "k": k, "options": options}
            t0 = time.perf_counter()
            rows = session.run(Q.PREDICT_TAIL, params).data()
            elapsed = (time.perf_counter() - t0) * 1000
            if i >= WARMUP:
                ms.append(elapsed)
                answers.append([r["id"] for r in rows])
    return _percentiles(ms), answers


def _recall(approx: list[list[str]], exact: list[list[str]]) -> float:
    hits = [len(set(a) & set(e)) / max(len(e), 1) for a, e in zip(approx, exact, strict=True)]
    return round(statistics.fmean(hits), 4)


def _first_call_ms(graph: Graph, head: str, rel: str, options: dict[str, Any]) -> float:
    t0 = time.perf_counter()
    graph.read(Q.PREDICT_TAIL, {"head": head, "relation": rel, "k": 10, "options": options})
    return round((time.perf_counter() - t0) * 1000, 1)


ROUTES: dict[str, dict[str, Any]] = {
    # the compressed scan: 2-bit codes, 2- or 3-bit queries, candidates re-scored exactly
    "bits q2 c1000": {"mode": "ann", "ann": "bits", "query_bits": 2, "candidates": 1000},
    "bits q3 c1000": {"mode": "ann", "ann": "bits", "query_bits": 3, "candidates": 1000},
    "bits q2 c500": {"mode": "ann", "ann": "bits", "query_bits": 2, "candidates": 500},
    "bits q3 c300": {"mode": "ann", "ann": "bits", "query_bits": 3, "candidates": 300},
    "hnsw ef100": {"mode": "ann", "ann": "hnsw", "candidates": 100},
    "hnsw ef400": {"mode": "ann", "ann": "hnsw", "candidates": 400},
    "index c100": {"mode": "ann", "ann": "index", "candidates": 100},
    "index c1000": {"mode": "ann", "ann": "index", "candidates": 1000},
}


def _serve(
    graph: Graph, queries: list[tuple[str, str]], run_id: str, routes: list[str]
) -> dict[str, Any]:
    exact_opts = {"mode": "exact", "run": run_id, "exclude": False}
    out: dict[str, Any] = {"first_exact_call_ms": _first_call_ms(graph, *queries[0], exact_opts)}
    out["exact"], exact = _time_queries(graph, queries, exact_opts)
    print(f"  exact: {out['exact']}", flush=True)
    out["routes"] = {}
    for name in routes:
        opts = {**ROUTES[name], "run": run_id, "exclude": False}
        build = None
        if name.startswith("bits"):
            t0 = time.perf_counter()
            cache_load(graph, run_id, index="bits")
            build = round(time.perf_counter() - t0, 2)
        stats, approx = _time_queries(graph, queries, opts)
        stats["recall@10"] = _recall(approx, exact)
        if build is not None:
            stats["first_load_s"] = build
        out["routes"][name] = stats
        print(f"  {name}: {stats}", flush=True)
    out["cache"] = [r for r in cache_list(graph) if r["run"] == run_id]
    return out


def _write(graph: Graph, settings: Settings, artifact: Any, run_id: str, index: bool) -> Any:
    summary = write_artifact(graph, artifact, settings, run_id=run_id, index=index,
                             force=True, show_progress=False)  # fmt: skip
    print(f"{run_id}: written {summary.to_dict()}", flush=True)
    return summary


def bench_fb(graph: Graph, settings: Settings, args: argparse.Namespace) -> dict[str, Any]:
    for split in ("train", "valid", "test"):
        ingest_triples(graph, FB / f"{split}.txt", settings, show_progress=False)
    data = load_folder(FB)
    config = make_config("transe_l2", {"dim": args.dim, "epochs": args.fb_epochs, "eval_every": 0})
    t0 = time.perf_counter()
    result = Trainer(data, config, None, show_progress=False).fit()
    train_s = time.perf_counter() - t0
    summary = _write(graph, settings, result.artifact(), "fb-transe", index=True)
    t0 = time.perf_counter()
    hnsw = cache_load(graph, "fb-transe", index="hnsw")
    hnsw_s = round(time.perf_counter() - t0, 2)
    rng = np.random.default_rng(0)
    picks = rng.choice(len(data.test), size=min(args.queries, len(data.test)), replace=False)
    queries = [
        (data.entity_ids[h], data.relation_names[r]) for h, r, _ in data.test[picks].tolist()
    ]
    out = {
        "entities": summary.entities,
        "model": "transe_l2",
        "dim": args.dim,
        "train_epochs": args.fb_epochs,
        "train_s": round(train_s, 1),
        "write": summary.to_dict(),
        "hnsw_build_s": hnsw_s,
        "hnsw_cache": hnsw,
        **_serve(graph, queries, "fb-transe", list(ROUTES)),
    }
    cache_drop(graph, "fb-transe")
    return out


def _synthetic_artifact(n: int, dim: int, relations: int) -> Any:
    rng = np.random.default_rng(1)
    scale = 1.0 / np.sqrt(dim)
    emb = np.empty((n, dim), dtype=np.float32)
    for start in range(0, n, 100_000):  # in blocks: no float64 copy of the whole table
        block = rng.standard_normal((min(100_000, n - start), dim), dtype=np.float32)
        emb[start : start + len(block)] = block * scale
    rel = (rng.standard_normal((relations, dim), dtype=np.float32) * scale).astype(np.float32)
    return artifact_from_tables(
        "transe_l2", 0.0, False, [f"syn_{i}" for i in range(n)], emb,
        [f"syn_rel_{i}" for i in range(relations)], rel,
        params={"synthetic": True}, metrics={},
    )  # fmt: skip


def bench_synthetic(graph: Graph, settings: Settings, args: argparse.Namespace) -> dict[str, Any]:
    n, relations = args.synthetic, 8
    t0 = time.perf_counter()
    step = 100_000
    for start in range(0, n, step):
        graph.write(
            "UNWIND range($a, $b) AS i CREATE (:Entity {id: 'syn_' + toString(i)})",
            {"a": start, "b": min(n, start + step) - 1},
        )
    graph.write(
        "UNWIND range(0, $r - 1) AS i "
        "MERGE (x:RelationType {name: 'syn_rel_' + toString(i)}) "
        "SET x.type = 'SYN_REL_' + toString(i)",
        {"r": relations},
    )
    create_s = time.perf_counter() - t0
    artifact = _synthetic_artifact(n, args.dim, relations)
    # Write-back twice: the second time the nodes are found by element id (as after an export)
    # and the check of each node's id against the artefact's is measured separately.
    by_id = _write(graph, settings, artifact, "synthetic-by-id", index=False)
    keys = graph.read("MATCH (e:Entity) RETURN e.id AS id, elementId(e) AS key")
    key_of = {r["id"]: r["key"] for r in keys}
    artifact.entity_keys = [key_of[i] for i in artifact.entity_ids]
    drop_run(graph, "synthetic-by-id")
    summary = _write(graph, settings, artifact, "synthetic", index=args.neo4j_index)
    rng = np.random.default_rng(2)
    queries = [
        (f"syn_{int(h)}", f"syn_rel_{int(r)}")
        for h, r in zip(
            rng.integers(0, n, args.queries), rng.integers(0, relations, args.queries), strict=True
        )
    ]
    routes = [r for r in ROUTES if not r.startswith("hnsw")]
    if not args.neo4j_index:
        routes = [r for r in routes if not r.startswith("index")]
    t0 = time.perf_counter()
    loaded = cache_load(graph, "synthetic")
    load_s = round(time.perf_counter() - t0, 2)
    return {
        "entities": n,
        "dim": args.dim,
        "create_nodes_s": round(create_s, 1),
        "write_looked_up_by_id": by_id.to_dict(),
        "write": summary.to_dict(),
        "cache_load_s": load_s,
        "cache_float32_bytes": loaded["bytes"],
        **_serve(graph, queries, "synthetic", routes),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--synthetic", type=int, default=1_000_000, help="0 to skip")
    parser.add_argument("--skip-fb", action="store_true")
    parser.add_argument("--fb-epochs", type=int, default=3)
    parser.add_argument("--dim", type=int, default=200)
    parser.add_argument("--queries", type=int, default=300)
    parser.add_argument(
        "--neo4j-index",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="also build and time Neo4j's vector index at 1M (about 8 minutes)",
    )
    parser.add_argument("--heap", default="6g")
    parser.add_argument("--pagecache", default="4g")
    parser.add_argument(
        "--out", type=Path, default=REPO / "bench" / "results" / "predict_latency.json"
    )
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    work = Path(tempfile.mkdtemp(prefix="mmkg-bench-predict-"))
    settings = Settings(
        home=work / "home",
        cache_dir=Path.home() / ".mmkg" / "cache",
        neo4j_bolt_port=free_port(),
        neo4j_uri=None,
        neo4j_heap=args.heap,
        neo4j_pagecache=args.pagecache,
    )
    result: dict[str, Any] = {
        "benchmark": "predict_latency",
        "mmkg": __version__,
        "neo4j": settings.neo4j_version,
        "machine": {
            "cpus": psutil.cpu_count(),
            "memory_gib": round(psutil.virtual_memory().total / 1024**3, 1),
            "python": platform.python_version(),
            "load_average_at_start": [round(x, 2) for x in psutil.getloadavg()],
        },
        "config": {
            "heap": args.heap,
            "pagecache": args.pagecache,
            "hnsw_m": settings.vector_index_m,
            "hnsw_ef_construction": settings.vector_index_ef_construction,
            "write_batch": settings.embedding_batch_size,
            "write_threads": settings.embedding_write_threads,
            "queries": args.queries,
            "warmup": WARMUP,
            "routes": ROUTES,
        },
        "goals": {
            "ann_p50_ms_1m": 10,
            "ann_p99_ms_1m": 50,
            "ann_recall@10_1m": 0.95,
            "exact_p50_ms_1m": 60,
            "exact_p50_ms_fb15k237": 20,
            "write_vectors_per_s": 50_000,
        },
    }
    start_server(settings)
    try:
        with Graph.connect(settings) as graph:
            if not args.skip_fb and (FB / "train.txt").is_file():
                result["fb15k237"] = bench_fb(graph, settings, args)
                write_json(args.out, result)
                graph.run_autocommit(Q.DELETE_ALL)
            if args.synthetic:
                result["synthetic"] = bench_synthetic(graph, settings, args)
        pid = running_pid(settings)
        result["peak_rss_bytes"] = {
            "python": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024,
            "jvm": jvm_peak_rss(pid) if pid else 0,
        }
    finally:
        stop_server(settings)
        # Gigabytes of store, models and media: nothing worth keeping once measured.
        shutil.rmtree(work, ignore_errors=True)
    write_json(args.out, result)
    print(f"written to {args.out}")


if __name__ == "__main__":
    main()
