"""Link-prediction latency over Bolt, ANN recall, and embedding write-back throughput.

Starts its own managed Neo4j (temporary home, free port, the same code as `mmkg neo4j start`,
so the plugin is built and installed the same way), then:

* FB15k-237: loads all three splits, trains TransE (L2, d = 200) for a few epochs, writes it
  back, and times `CALL mmkg.predict.tail` for test-set (head, relation) queries, exact and ANN;
* synthetic: N entities (default 1,000,000) with random d = 200 vectors, written back (vectors/s),
  indexed (HNSW build time), then the same timings, ANN at several candidate counts, and the
  recall@10 of ANN against exact.

Every query is one Bolt round trip from this Python process (`session.run(...).data()`), as an
analyst's client would make it. Latencies are per query after a warm-up; p50/p99 over all.

    .venv/bin/python bench/predict_latency.py [--synthetic 1000000] [--queries 300]

Writes bench/results/predict_latency.json. Goals on the 2-core dev machine: ANN p50 <= 10 ms,
p99 <= 50 ms and recall@10 >= 0.95 at 1M entities; exact p50 <= 20 ms on FB15k-237;
write-back >= 50,000 vectors/s at d = 200.
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
from mmkg.platform.ingest import ingest_triples
from mmkg.platform.kge.config import make_config
from mmkg.platform.kge.data import KGDataset, load_folder, write_id_maps
from mmkg.platform.kge.run_dir import CONFIG, ENTITY_EMB, RELATION_EMB, save_array, write_json
from mmkg.platform.kge.trainer import train
from mmkg.platform.neo4j_server import start_server, stop_server
from mmkg.platform.neo4j_server.process import running_pid
from mmkg.platform.schema import apply_schema
from mmkg.platform.serving import write_run
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


def _serve(
    graph: Graph, queries: list[tuple[str, str]], run_id: str, candidates: list[int]
) -> dict[str, Any]:
    exact_opts = {"mode": "exact", "run": run_id, "exclude": False}
    out: dict[str, Any] = {"first_exact_call_ms": _first_call_ms(graph, *queries[0], exact_opts)}
    out["exact"], exact = _time_queries(graph, queries, exact_opts)
    out["ann"] = {}
    for c in candidates:
        opts = {"mode": "ann", "run": run_id, "exclude": False, "candidates": c}
        stats, approx = _time_queries(graph, queries, opts)
        stats["recall@10"] = _recall(approx, exact)
        out["ann"][str(c)] = stats
        print(f"  ann candidates={c}: {stats}", flush=True)
    print(f"  exact: {out['exact']}", flush=True)
    return out


def bench_fb(
    graph: Graph, settings: Settings, work: Path, args: argparse.Namespace
) -> dict[str, Any]:
    for split in ("train", "valid", "test"):
        ingest_triples(graph, FB / f"{split}.txt", settings, show_progress=False)
    data = load_folder(FB)
    run = work / "fb-transe"
    config = make_config("transe_l2", {"dim": args.dim, "epochs": args.fb_epochs, "eval_every": 0})
    t0 = time.perf_counter()
    train(data, config, run, show_progress=False)
    train_s = time.perf_counter() - t0
    summary = write_run(graph, run, settings, run_id="fb-transe", show_progress=False)
    rng = np.random.default_rng(0)
    picks = rng.choice(len(data.test), size=min(args.queries, len(data.test)), replace=False)
    queries = [
        (data.entity_ids[h], data.relation_names[r]) for h, r, _ in data.test[picks].tolist()
    ]
    print(f"FB15k-237: written {summary.to_dict()}", flush=True)
    return {
        "entities": summary.entities,
        "model": "transe_l2",
        "dim": args.dim,
        "train_epochs": args.fb_epochs,
        "train_s": round(train_s, 1),
        "write": summary.to_dict(),
        **_serve(graph, queries, "fb-transe", args.candidates),
    }


def _synthetic_run(folder: Path, n: int, dim: int, relations: int) -> Path:
    """A run folder with random vectors, in the layout `mmkg train` writes."""
    rng = np.random.default_rng(1)
    folder.mkdir(parents=True)
    config = make_config("transe_l2", {"dim": dim, "epochs": 1})
    write_json(folder / CONFIG, {"train": config.model_dump(), "dataset": {"source": "random"}})

    none = np.empty((0, 3), dtype=np.int64)
    ids = KGDataset(
        entity_ids=[f"syn_{i}" for i in range(n)],
        relation_names=[f"syn_rel_{i}" for i in range(relations)],
        train=none,
        valid=none,
        test=none,
        source="random",
    )
    write_id_maps(ids, folder)
    scale = 1.0 / np.sqrt(dim)
    emb = np.empty((n, dim), dtype=np.float32)
    for start in range(0, n, 100_000):  # in blocks: no float64 copy of the whole table
        block = rng.standard_normal((min(100_000, n - start), dim), dtype=np.float32)
        emb[start : start + len(block)] = block * scale
    save_array(folder / ENTITY_EMB, emb)
    rel = (rng.standard_normal((relations, dim), dtype=np.float32) * scale).astype(np.float32)
    save_array(folder / RELATION_EMB, rel)
    return folder


def bench_synthetic(
    graph: Graph, settings: Settings, work: Path, args: argparse.Namespace
) -> dict[str, Any]:
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
    run = _synthetic_run(work / "synthetic", n, args.dim, relations)
    summary = write_run(graph, run, settings, run_id="synthetic", show_progress=True)
    print(f"synthetic: written {summary.to_dict()}", flush=True)
    rng = np.random.default_rng(2)
    queries = [
        (f"syn_{int(h)}", f"syn_rel_{int(r)}")
        for h, r in zip(
            rng.integers(0, n, args.queries), rng.integers(0, relations, args.queries), strict=True
        )
    ]
    return {
        "entities": n,
        "dim": args.dim,
        "create_nodes_s": round(create_s, 1),
        "write": summary.to_dict(),
        **_serve(graph, queries, "synthetic", args.candidates),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--synthetic", type=int, default=1_000_000, help="0 to skip")
    parser.add_argument("--skip-fb", action="store_true")
    parser.add_argument("--fb-epochs", type=int, default=3)
    parser.add_argument("--dim", type=int, default=200)
    parser.add_argument("--queries", type=int, default=300)
    parser.add_argument("--candidates", default="100,300,1000", help="ANN candidate counts")
    parser.add_argument("--heap", default="6g")
    parser.add_argument("--pagecache", default="4g")
    parser.add_argument(
        "--out", type=Path, default=REPO / "bench" / "results" / "predict_latency.json"
    )
    args = parser.parse_args()
    args.candidates = [int(c) for c in args.candidates.split(",")]
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
        },
        "config": {
            "heap": args.heap,
            "pagecache": args.pagecache,
            "hnsw_m": settings.vector_index_m,
            "hnsw_ef_construction": settings.vector_index_ef_construction,
            "write_batch": settings.embedding_batch_size,
            "queries": args.queries,
            "warmup": WARMUP,
        },
        "goals": {
            "ann_p50_ms_1m": 10,
            "ann_p99_ms_1m": 50,
            "ann_recall@10_1m": 0.95,
            "exact_p50_ms_fb15k237": 20,
            "write_vectors_per_s": 50_000,
        },
    }
    start_server(settings)
    try:
        with Graph.connect(settings) as graph:
            apply_schema(graph)
            if not args.skip_fb and (FB / "train.txt").is_file():
                result["fb15k237"] = bench_fb(graph, settings, work, args)
                write_json(args.out, result)
            if args.synthetic:
                result["synthetic"] = bench_synthetic(graph, settings, work, args)
        pid = running_pid(settings)
        result["peak_rss_bytes"] = {
            "python": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024,
            "jvm": jvm_peak_rss(pid) if pid else 0,
        }
    finally:
        stop_server(settings)
        # Gigabytes of store, models and media: nothing worth keeping once measured.
        shutil.rmtree(work, ignore_errors=True)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    write_json(args.out, result)
    print(f"written to {args.out}")


if __name__ == "__main__":
    main()
