"""Workbench and REST API latency on a graph of FB15k-237's size with media.

Starts its own managed Neo4j, loads FB15k-237 (names, Wikidata descriptions and aliases, the
train triples), gives entities MiniLM text vectors, ingests ``--images`` real photos (crops of
the scikit-image and scikit-learn samples, so each has its own content id) with EfficientNet
features, linked to random entities, trains TransE for a few epochs and writes it back; then
runs `mmkg serve` on a loopback port in a process of its own and measures over HTTP:

- the search page (``GET /?q=...``, logged in) for entity-name queries: the server's own time
  (its Server-Timing header) and the client's wall time, p50/p90;
- the predict endpoint (``GET /api/v1/predict/tail``) against the same query as one Bolt call
  from this process (``predict_tail``), interleaved: what the web layer adds, p50 and p90;
- a thumbnail served from the cache (made once first), server and client time.

    .venv/bin/python bench/web.py [--home DIR] [--queries 200] [--images 300]

Goals (issue 17): search page p50 <= 100 ms server time; predict adds <= 5 ms to the Bolt
call; a cached thumbnail in <= 5 ms. Writes bench/results/web.json.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

from common import free_port, jvm_peak_rss
from mmkg import __version__
from mmkg.graph_schema import queries as Q
from mmkg.platform.api_keys import create_key
from mmkg.platform.demo_media import PHOTOS, sample_photo
from mmkg.platform.ingest import ingest_entities, ingest_triples
from mmkg.platform.media import ingest_media
from mmkg.platform.media.search import embed_entities
from mmkg.platform.neo4j_server import start_server, stop_server
from mmkg.platform.neo4j_server.process import running_pid
from mmkg.platform.schema import apply_schema
from mmkg.platform.serving.predict import predict_tail
from mmkg.platform.stats import graph_stats
from mmkg.platform.store import Graph
from mmkg.settings import Settings

REPO = Path(__file__).resolve().parents[1]
FB = REPO.parent / "shared" / "data" / "FB15k-237"
RESULTS = REPO / "bench" / "results" / "web.json"


def pct(values: list[float]) -> dict[str, float]:
    ordered = sorted(values)
    return {
        "p50": round(statistics.median(ordered), 2),
        "p90": round(ordered[int(0.9 * (len(ordered) - 1))], 2),
        "n": len(ordered),
    }


def server_ms(response: httpx.Response) -> float:
    return float(response.headers["server-timing"].split("dur=")[1])


def load(graph: Graph, settings: Settings, images: int) -> dict[str, Any]:
    started = time.perf_counter()
    if graph.read(Q.COUNT_ENTITIES)[0]["n"] == 0:
        ingest_entities(graph, FB / "entity2text.txt", settings, fmt="tsv", show_progress=False)
        ingest_entities(graph, FB / "entity2wikidata.json", settings, fmt="json",
                        show_progress=False)  # fmt: skip
        ingest_triples(graph, FB / "train.txt", settings, show_progress=False)
    embedded = embed_entities(graph, settings, show_progress=False)
    folder = settings.home / "bench-media"
    folder.mkdir(parents=True, exist_ok=True)
    ids = [r["id"] for r in graph.read(Q.ENTITY_NAMES)]
    rng = random.Random(0)
    photos = [sample_photo(source, name) for _, source, name, _, _ in PHOTOS]
    rows = []
    for i in range(images):
        path = folder / f"photo{i:04d}.jpg"
        if not path.is_file():
            im = photos[i % len(photos)]
            w, h = im.size
            x, y = rng.randrange(w // 4), rng.randrange(h // 4)
            im.crop((x, y, x + w * 3 // 4, y + h * 3 // 4)).save(path, quality=90)
        rows.append({"path": path.name, "entities": rng.sample(ids, 2), "relation": "DEPICTS",
                     "caption": f"photo {i}"})  # fmt: skip
    manifest = folder / "manifest.jsonl"
    manifest.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    use = settings.model_copy(update={"media_root": folder, "image_encoder": "effnet"})
    media = ingest_media(graph, [], use, manifest, show_progress=False)
    return {"seconds": round(time.perf_counter() - started, 1), "entity_vectors": embedded,
            "media": media.to_dict(), "stats": graph_stats(graph)}  # fmt: skip


def train(graph: Graph, settings: Settings, epochs: int) -> dict[str, Any]:
    from mmkg.platform.export import export_triples
    from mmkg.platform.kge.config import make_config
    from mmkg.platform.kge.data import from_triple_set
    from mmkg.platform.kge.trainer import Trainer
    from mmkg.platform.serving import get_run, write_artifact

    if get_run(graph, "web-bench") is not None:
        return {"reused": True}
    data = from_triple_set(export_triples(graph).to_triple_set(), seed=0)
    config = make_config("transe_l2", {"dim": 200, "epochs": epochs, "eval_every": 0})
    started = time.perf_counter()
    result = Trainer(data, config, None, show_progress=False).fit()
    seconds = time.perf_counter() - started
    write_artifact(graph, result.artifact(), settings, run_id="web-bench", activate=True,
                   show_progress=False)  # fmt: skip
    return {"model": "transe_l2", "dim": 200, "epochs": epochs, "train_s": round(seconds, 1)}


def serve(settings: Settings) -> tuple[str, subprocess.Popen[bytes]]:
    """`mmkg serve` in a process of its own, as users run it (not a thread of this one: the
    client's work would share the server's interpreter lock)."""
    port = free_port()
    env = dict(os.environ, MMKG_HOME=str(settings.home),
               MMKG_CACHE_DIR=str(settings.resolved_cache_dir),
               MMKG_NEO4J_BOLT_PORT=str(settings.neo4j_bolt_port))  # fmt: skip
    exe = Path(sys.executable).with_name("mmkg")
    log = (settings.home / "web-bench.log").open("ab")
    proc = subprocess.Popen([str(exe), "serve", "--port", str(port)], env=env, stdout=log,
                            stderr=subprocess.STDOUT)  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        try:
            if httpx.get(url + "/login", timeout=2).status_code == 200:
                return url, proc
        except httpx.HTTPError:
            time.sleep(0.2)
    proc.terminate()
    raise SystemExit(f"mmkg serve did not answer (log: {settings.home / 'web-bench.log'})")


def measure(url: str, graph: Graph, key: str, queries: int) -> dict[str, Any]:
    names = [r["name"] for r in graph.read(Q.ENTITY_NAMES) if r["name"]]
    rng = random.Random(1)
    asked = rng.sample(names, queries)
    out: dict[str, Any] = {}
    with httpx.Client(base_url=url, timeout=60) as browser:
        login = browser.get("/login")
        csrf = login.text.split('name="csrf" value="')[1].split('"')[0]
        browser.post("/login", data={"key": key, "csrf": csrf, "next": "/"})
        for q in asked[:5]:  # warm-up: encoders loaded, caches filled
            browser.get("/", params={"q": q})
        server, wall, hits = [], [], []
        for q in asked:
            t = time.perf_counter()
            page = browser.get("/", params={"q": q})
            wall.append((time.perf_counter() - t) * 1000)
            assert page.status_code == 200, page.text[:300]
            server.append(server_ms(page))
            hits.append(page.text.count('class="card entity-hit"'))
        out["search_page"] = {"server_ms": pct(server), "client_ms": pct(wall),
                              "entity_cards_per_page": statistics.median(hits)}  # fmt: skip

    pairs = graph.read(Q.SAMPLE_FACTS, {"n": queries})
    api = httpx.Client(base_url=url, headers={"Authorization": f"Bearer {key}"}, timeout=60)
    with api:
        for p in pairs[:5]:
            api.get("/api/v1/predict/tail", params={**p, "k": 10})
            predict_tail(graph, p["head"], p["relation"], 10)
        bolt, http_wall, http_server = [], [], []
        for p in pairs:
            t = time.perf_counter()
            predict_tail(graph, p["head"], p["relation"], 10)
            bolt.append((time.perf_counter() - t) * 1000)
            t = time.perf_counter()
            r = api.get("/api/v1/predict/tail", params={**p, "k": 10})
            http_wall.append((time.perf_counter() - t) * 1000)
            assert r.status_code == 200, r.text[:300]
            http_server.append(server_ms(r))
        added = [h - b for h, b in zip(http_wall, bolt, strict=True)]
        out["predict"] = {
            "bolt_ms": pct(bolt),
            "api_client_ms": pct(http_wall),
            "api_server_ms": pct(http_server),
            "added_ms": pct(added),
        }
        media = [r["id"] for r in graph.read(Q.IMAGE_IDS, {"limit": 50})]
        made = []
        for m in media:
            t = time.perf_counter()
            assert api.get(f"/api/v1/media/{m}/thumbnail").status_code == 200
            made.append((time.perf_counter() - t) * 1000)
        server, wall = [], []
        for _ in range(4):
            for m in media:
                t = time.perf_counter()
                r = api.get(f"/api/v1/media/{m}/thumbnail")
                wall.append((time.perf_counter() - t) * 1000)
                server.append(server_ms(r))
        out["thumbnail"] = {"first_ms": pct(made), "cached_server_ms": pct(server),
                            "cached_client_ms": pct(wall)}  # fmt: skip
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--home", type=Path, default=None, help="Reuse a bench home.")
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--images", type=int, default=300)
    parser.add_argument("--epochs", type=int, default=5)
    args = parser.parse_args()
    if not FB.is_dir():
        raise SystemExit(f"FB15k-237 not found at {FB}")
    home = args.home or Path(tempfile.mkdtemp(prefix="mmkg-bench-web-"))
    home.mkdir(parents=True, exist_ok=True)
    port_file = home / "bolt-port"
    port = int(port_file.read_text()) if port_file.is_file() else free_port()
    port_file.write_text(str(port))
    settings = Settings(home=home, cache_dir=Path.home() / ".mmkg" / "cache",
                        neo4j_bolt_port=port, neo4j_uri=None)  # fmt: skip
    start_server(settings)
    result: dict[str, Any] = {"mmkg": __version__, "goals": {
        "search_page_server_p50_ms": 100, "predict_added_p50_ms": 5,
        "cached_thumbnail_p50_ms": 5}}  # fmt: skip
    try:
        with Graph.connect(settings) as graph:
            apply_schema(graph)
            result["graph"] = load(graph, settings, args.images)
            print("loaded", result["graph"], flush=True)
            result["training"] = train(graph, settings, args.epochs)
            key = create_key(graph, "read", "bench")[1]
            url, server = serve(settings)
            try:
                result.update(measure(url, graph, key, args.queries))
                web_rss = jvm_peak_rss(server.pid)  # VmHWM: any process's peak
            finally:
                server.terminate()
                server.wait(30)
        pid = running_pid(settings)
        result["peak_rss_bytes"] = {
            "bench_process": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024,
            "web_server": web_rss,
            "neo4j": jvm_peak_rss(pid) if pid else None,
        }
    finally:
        if args.home is None:
            stop_server(settings)
    s, p, t = result["search_page"], result["predict"], result["thumbnail"]
    result["verdict"] = {
        "search_page": s["server_ms"]["p50"] <= 100,
        "predict_added": p["added_ms"]["p50"] <= 5,
        "cached_thumbnail": t["cached_server_ms"]["p50"] <= 5,
    }
    RESULTS.write_text(json.dumps(result, indent=2, default=float) + "\n", encoding="utf-8")
    print(json.dumps({k: result[k] for k in ("search_page", "predict", "thumbnail", "verdict")},
                     indent=2))  # fmt: skip


if __name__ == "__main__":
    main()
