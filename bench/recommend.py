"""Recommendation on FB15k-237's films with a synthetic interaction log, leave-last-out.

The log is synthetic (mmkg.platform.recommend.synthetic says how it is made; no public log
ships here): users with tastes over genres, countries and actors, a tenth of the films *cold*
(no training interaction at all). Each user's last interaction is held out; the rest is loaded
with `mmkg ingest interactions` into a managed Neo4j holding FB15k-237 (names, descriptions,
facts, and a published TransE run — the QA benchmark's home can be reused with ``--home``).

Compared, over the same catalogue (the recommender's: interacted films plus the entities whose
facts look like theirs), excluding each user's training items:

- **popularity**: most interacted-with items first;
- **mf**: matrix factorisation on the interactions alone (the same trainer, BPR, no features);
- **mmkg**: `mmkg recommend --fit` (free item embeddings + the item's KG embedding and text
  vector), served by `CALL mmkg.recommend` through the plugin.

Reports Hits@10 and NDCG@10 on all held-out users and on those whose held-out item is cold,
with fit time, recommendation latency and how many recommendations carry an explanation path.

    .venv/bin/python bench/recommend.py [--home DIR] [--users 1000]

Writes bench/results/recommend.json.
"""

from __future__ import annotations

import argparse
import json
import math
import resource
import statistics
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np

from common import free_port, jvm_peak_rss
from mmkg import __version__
from mmkg.graph_schema import queries as Q
from mmkg.platform.ingest.interactions import ingest_interactions
from mmkg.platform.neo4j_server import start_server, stop_server
from mmkg.platform.neo4j_server.process import running_pid
from mmkg.platform.recommend.graph import (
    catalogue,
    fit_early_stopped,
    fit_recommender,
    graph_triples,
    recommend,
)
from mmkg.platform.recommend.model import FitConfig
from mmkg.platform.recommend.synthetic import synthetic_log
from mmkg.platform.schema import apply_schema
from mmkg.platform.store import Graph
from mmkg.settings import Settings

REPO = Path(__file__).resolve().parents[1]
FB = REPO.parent / "shared" / "data" / "FB15k-237"
RESULTS = REPO / "bench" / "results" / "recommend.json"
K = 10


def read_triples(path: Path) -> list[tuple[str, str, str]]:
    return [tuple(line.split("\t")) for line in path.read_text().splitlines()]  # type: ignore[misc]


def metrics(ranks: list[int | None]) -> dict[str, Any]:
    """Hits@10 and NDCG@10 from the held-out item's 0-based rank (None: not in the top 10)."""
    if not ranks:
        return {"users": 0}
    return {
        "users": len(ranks),
        "hits@10": round(statistics.fmean(r is not None for r in ranks), 4),
        "ndcg@10": round(
            statistics.fmean(0.0 if r is None else 1 / math.log2(r + 2) for r in ranks), 4
        ),
    }


def ranked(scores: np.ndarray[Any, Any], seen: set[int], target: int) -> int | None:
    s = scores.copy()
    s[list(seen)] = -np.inf
    top = np.argsort(-s, kind="stable")[:K]
    hits = np.flatnonzero(top == target)
    return int(hits[0]) if len(hits) else None


def split(ranks: dict[str, int | None], cold_users: set[str]) -> dict[str, Any]:
    return {
        "all": metrics(list(ranks.values())),
        "cold_items": metrics([r for u, r in ranks.items() if u in cold_users]),
        "warm_items": metrics([r for u, r in ranks.items() if u not in cold_users]),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--home", type=Path, default=None, help="Reuse a bench home.")
    parser.add_argument("--users", type=int, default=1000)
    parser.add_argument("--epochs", type=int, default=40)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    if not FB.is_dir():
        raise SystemExit(f"FB15k-237 not found at {FB}")
    triples = read_triples(FB / "train.txt")
    log = synthetic_log(triples, args.users, args.seed)
    home = args.home or Path(tempfile.mkdtemp(prefix="mmkg-bench-rec-"))
    home.mkdir(parents=True, exist_ok=True)
    port_file = home / "bolt-port"
    port = int(port_file.read_text()) if port_file.is_file() else free_port()
    port_file.write_text(str(port))
    settings = Settings(
        home=home, cache_dir=Path.home() / ".mmkg" / "cache", neo4j_bolt_port=port, neo4j_uri=None
    )
    start_server(settings)
    result: dict[str, Any] = {
        "mmkg": __version__,
        "data": "SYNTHETIC interactions over FB15k-237 films (mmkg.platform.recommend.synthetic)",
        "users": args.users,
        "train_interactions": len(log.train),
        "films": len(log.films),
        "cold_films": len(log.cold),
        "cold_test_users": sum(1 for i in log.test.values() if i in log.cold),
    }
    try:
        with Graph.connect(settings) as graph:
            apply_schema(graph)
            if graph.read(Q.COUNT_ENTITIES)[0]["n"] == 0:
                from qa import load, train

                load(graph, settings, [])
                result["kge"] = train(graph, settings, 240.0)
            path = home / "interactions.csv"
            path.write_text(
                "user,item,weight,timestamp\n"
                + "".join(f"{u},{i},{w},{int(a)}\n" for u, i, w, a in log.train),
                encoding="utf-8",
            )
            graph.run_autocommit(Q.DELETE_USERS)  # a log of an earlier round
            started = time.perf_counter()
            ingested = ingest_interactions(graph, path, settings, show_progress=False)
            result["ingest"] = {
                **ingested.to_dict(),
                "seconds": round(time.perf_counter() - started, 2),
            }
            config = FitConfig(epochs=args.epochs, seed=args.seed)
            fitted = fit_recommender(
                graph, settings, config, ("structure", "text"), show_progress=False
            )
            result["fit"] = fitted.to_dict()
            cold_users = {u for u, i in log.test.items() if i in log.cold}
            # mmkg through the plugin
            ours: dict[str, int | None] = {}
            latency, explained, shown = [], 0, 0
            for n, (user, target) in enumerate(sorted(log.test.items())):
                t = time.perf_counter()
                recs = recommend(graph, user, K, explain=n < 200)
                latency.append((time.perf_counter() - t) * 1000)
                ids = [r.id for r in recs]
                ours[user] = ids.index(target) if target in ids else None
                if n < 200:
                    shown += len(recs)
                    explained += sum(1 for r in recs if r.because)
            # the baselines, over the same catalogue
            interacted = sorted({i for _, i, _, _ in log.train})
            items, _ = catalogue(graph_triples(graph), interacted, 0.5)
            pos = {e: i for i, e in enumerate(items)}
            users = sorted(log.test)
            upos = {u: i for i, u in enumerate(users)}
            seen: dict[str, set[int]] = {u: set() for u in users}
            for u, i, _, _ in log.train:
                seen[u].add(pos[i])
            counts = Counter(pos[i] for _, i, _, _ in log.train)
            popular = np.asarray([counts.get(i, 0) for i in range(len(items))], dtype=float)
            uix = np.asarray([upos[u] for u, _, _, _ in log.train])
            iix = np.asarray([pos[i] for _, i, _, _ in log.train])
            at = np.asarray([a for _, _, _, a in log.train])
            mf, _ = fit_early_stopped(
                uix,
                iix,
                at,
                len(users),
                [],
                len(items),
                FitConfig(epochs=args.epochs, seed=args.seed, use_features=False),
            )
            film = {f: n for n, f in enumerate(log.films)}
            oracle_ranks: dict[str, int | None] = {}
            pop_ranks, mf_ranks = {}, {}
            for u in users:
                target = pos.get(log.test[u])
                if target is None:
                    pop_ranks[u] = mf_ranks[u] = oracle_ranks[u] = None
                    continue
                pop_ranks[u] = ranked(popular, seen[u], target)
                truth = np.asarray([log.truth[u][film[e]] if e in film else 0.0 for e in items])
                oracle_ranks[u] = ranked(truth, seen[u], target)
                mf_ranks[u] = ranked(mf.items @ mf.users[upos[u]], seen[u], target)
            not_in_catalogue = sum(1 for u in users if log.test[u] not in pos)
            result["catalogue"] = {"items": len(items), "held_out_items_outside": not_in_catalogue}
            result["results"] = {
                "oracle (the generator's own probabilities)": split(oracle_ranks, cold_users),
                "popularity": split(pop_ranks, cold_users),
                "mf": {
                    **split(mf_ranks, cold_users),
                    "fit_seconds": mf.seconds,
                    "epochs": mf.best_epoch,
                },
                "mmkg": {**split(ours, cold_users), "fit_seconds": fitted.seconds},
            }
            lat = sorted(latency)
            result["recommend_ms"] = {
                "p50": round(statistics.median(lat), 2),
                "p90": round(lat[int(0.9 * (len(lat) - 1))], 2),
            }
            result["explained_share"] = round(explained / max(shown, 1), 4)
            result["example"] = [r.to_dict() for r in recommend(graph, users[0], 3)]
        pid = running_pid(settings)
        result["peak_rss_bytes"] = {
            "bench_process": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024,
            "neo4j": jvm_peak_rss(pid) if pid else None,
        }
    finally:
        if args.home is None:
            stop_server(settings)
    RESULTS.write_text(json.dumps(result, indent=2, default=float) + "\n", encoding="utf-8")
    print(
        json.dumps(
            {k: result[k] for k in ("results", "recommend_ms", "explained_share", "catalogue")},
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
