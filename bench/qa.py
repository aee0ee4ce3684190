"""Question answering on FB15k-237: questions generated from its test triples, answered by
`mmkg ask`'s engine over a real managed Neo4j.

Protocol (mmkg.platform.qa.generate):

- The graph holds FB15k-237's names, Wikidata descriptions and aliases, its train triples and
  half of its test triples, split by (head, relation) at random (seed 0). The other half is held
  out: true, but not in the graph.
- A TransE model (the quality table's FB15k-237 configuration, ``--train-seconds`` on 2 cores)
  is trained on the graph's triples (5% held for validation, which also fits the calibration
  temperature) and published; the plugin serves it.
- Questions: one-hop *lookup* (a (head, relation) of the graph, asked forward; a quarter asked
  inverse, naming the tail), one-hop *prediction* (a held-out (head, relation) with no tail in
  the graph), two-hop lookup and two-hop prediction (the second hop held out). Templates are
  disjoint from the relation detector's paraphrases; the answer set is every true answer in all
  of FB15k-237. Hits@1: the first answer is in the answer set.
- The model's own Hits@1 on the prediction questions: the plugin's first tail for the *gold*
  (head, relation) — the bound the question-answering path (linking + relation detection) is
  compared with. Floors (issue 16): lookup Hits@1 ≥ 0.60; prediction Hits@1 ≥ 0.8 × the model's.
- Calibration: the predicted answers' mean probability against their accuracy, and the expected
  calibration error (10 bins).

    .venv/bin/python bench/qa.py [--home DIR] [--per-kind 300] [--train-seconds 240]

Writes bench/results/qa.json (with a sample of questions and answers).
"""

from __future__ import annotations

import argparse
import json
import random
import resource
import statistics
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

from common import free_port, jvm_peak_rss
from mmkg import __version__
from mmkg.graph_schema import queries as Q
from mmkg.platform.ingest import ingest_entities, ingest_triples
from mmkg.platform.neo4j_server import start_server, stop_server
from mmkg.platform.neo4j_server.process import running_pid
from mmkg.platform.qa.answer import QuestionAnswerer
from mmkg.platform.qa.generate import Question, generate_questions
from mmkg.platform.schema import apply_schema
from mmkg.platform.serving.predict import predict_tail
from mmkg.platform.store import Graph
from mmkg.settings import Settings

REPO = Path(__file__).resolve().parents[1]
FB = REPO.parent / "shared" / "data" / "FB15k-237"
RESULTS = REPO / "bench" / "results" / "qa.json"
CONFIG = REPO / "bench" / "configs" / "quality" / "FB15k-237-transe.json"
RUN_ID = "qa-bench"


def read_triples(path: Path) -> list[tuple[str, str, str]]:
    out = []
    for line in path.read_text(encoding="utf-8").splitlines():
        h, r, t = line.split("\t")
        out.append((h, r, t))
    return out


def split_test(test: list[tuple[str, str, str]], seed: int) -> tuple[list[Any], list[Any]]:
    """Half of the (head, relation) groups go into the graph, the other half is held out."""
    groups: dict[tuple[str, str], list[Any]] = defaultdict(list)
    for t in test:
        groups[(t[0], t[1])].append(t)
    keys = sorted(groups)
    random.Random(seed).shuffle(keys)
    half = len(keys) // 2
    return [t for k in keys[:half] for t in groups[k]], [t for k in keys[half:] for t in groups[k]]


def load(graph: Graph, settings: Settings, in_test: list[Any]) -> dict[str, Any]:
    started = time.perf_counter()
    if graph.read(Q.COUNT_ENTITIES)[0]["n"] == 0:
        ingest_entities(graph, FB / "entity2text.txt", settings, fmt="tsv", show_progress=False)
        ingest_entities(
            graph, FB / "entity2wikidata.json", settings, fmt="json", show_progress=False
        )
        ingest_triples(graph, FB / "train.txt", settings, show_progress=False)
        if in_test:
            part = settings.home / "test-in-graph.txt"
            part.write_text("".join("\t".join(t) + "\n" for t in in_test), encoding="utf-8")
            ingest_triples(graph, part, settings, show_progress=False)
    return {"seconds": round(time.perf_counter() - started, 1)}


def train(graph: Graph, settings: Settings, seconds: float) -> dict[str, Any]:
    from mmkg.platform.export import export_triples
    from mmkg.platform.kge.config import make_config
    from mmkg.platform.kge.data import from_triple_set
    from mmkg.platform.kge.trainer import Trainer
    from mmkg.platform.serving import get_run, write_artifact

    run = get_run(graph, RUN_ID)
    if run is not None:
        return {"reused": True, "metrics": run.get("metrics")}
    data = from_triple_set(export_triples(graph).to_triple_set(), 0.05, 0.0, seed=0)
    train_cfg = dict(json.loads(CONFIG.read_text())["train"])
    train_cfg.update({"max_seconds": seconds, "eval_every": 0})
    config = make_config(train_cfg.pop("model"), train_cfg)
    started = time.perf_counter()
    result = Trainer(data, config, None, show_progress=False).fit()
    wall = time.perf_counter() - started
    write_artifact(
        graph, result.artifact(), settings, run_id=RUN_ID, activate=True, show_progress=False
    )
    m = result.metrics
    return {
        "model": config.model,
        "dim": config.dim,
        "epochs": m["epochs"],
        "train_s": round(wall, 1),
        "valid": {k: m["valid"].get(k) for k in ("mrr", "hits@1", "hits@10")},
        "calibration": m.get("calibration"),
    }


def ece(pairs: list[tuple[float, bool]], bins: int = 10) -> float:
    if not pairs:
        return 0.0
    total = 0.0
    for b in range(bins):
        lo, hi = b / bins, (b + 1) / bins
        inside = [(p, ok) for p, ok in pairs if lo <= p < hi or (b == bins - 1 and p == 1.0)]
        if inside:
            conf = statistics.fmean(p for p, _ in inside)
            acc = statistics.fmean(float(ok) for _, ok in inside)
            total += len(inside) / len(pairs) * abs(conf - acc)
    return round(total, 4)


def calibration_report(pairs: list[tuple[float, bool]]) -> dict[str, Any]:
    if not pairs:
        return {"predicted_answers": 0}
    return {
        "predicted_answers": len(pairs),
        "mean_probability": round(statistics.fmean(p for p, _ in pairs), 4),
        "accuracy": round(statistics.fmean(float(h) for _, h in pairs), 4),
        "ece_10_bins": ece(pairs),
    }


def evaluate(qa: QuestionAnswerer, graph: Graph, questions: list[Question]) -> dict[str, Any]:
    started = time.perf_counter()
    results = qa.ask_many([q.text for q in questions], k=10, show_progress=False)
    seconds = time.perf_counter() - started
    groups: dict[str, list[dict[str, Any]]] = defaultdict(list)
    calibration: list[tuple[float, bool]] = []
    samples = []
    for q, r in zip(questions, results, strict=True):
        gold = set(q.answers)
        top = r.answers[0] if r.answers else None
        hit = top is not None and top.id in gold
        read_ok = (
            r.reading is not None
            and r.reading.entity == q.entity
            and [tuple(p) for p in r.reading.path] == [tuple(p) for p in q.path]
        )
        linked_ok = r.reading is not None and r.reading.entity == q.entity
        row = {
            "hit": hit,
            "reading": read_ok,
            "linked": linked_ok,
            "source": top.source if top else None,
        }
        groups[f"{q.kind}/{q.hops}-hop"].append(row)
        if q.hops == 1:
            groups[f"{q.kind}/1-hop/{q.path[0][1]}"].append(row)
        if top is not None and top.probability is not None:
            calibration.append((top.probability, hit))
        if len(samples) < 40 and random.Random(len(samples) * 7 + len(q.text)).random() < 0.3:
            samples.append(
                {
                    "question": q.text,
                    "kind": q.kind,
                    "gold": q.answers[:5],
                    "answers": [(a.id, a.name, a.source, a.probability) for a in r.answers[:3]],
                    "reading": r.reading.to_dict() if r.reading else None,
                    "hit": hit,
                }
            )
    table = {
        k: {
            "questions": len(v),
            "hits@1": round(statistics.fmean(x["hit"] for x in v), 4),
            "reading_correct": round(statistics.fmean(x["reading"] for x in v), 4),
            "entity_correct": round(statistics.fmean(x["linked"] for x in v), 4),
            "answered_from_graph": round(statistics.fmean(x["source"] == "graph" for x in v), 4),
        }
        for k, v in sorted(groups.items())
    }
    # The model's own Hits@1 on the prediction questions' gold (head, relation).
    own = []
    for q in questions:
        if q.kind == "prediction" and q.hops == 1:
            ((rel, _),) = q.path
            preds = predict_tail(graph, q.entity, rel, 1)
            own.append(bool(preds) and preds[0].id in set(q.answers))
    model_hits = round(statistics.fmean(own), 4) if own else None
    return {
        "table": table,
        "model_hits@1_on_prediction": model_hits,
        "calibration": calibration_report(calibration),
        "seconds": round(seconds, 2),
        "questions_per_second": round(len(questions) / max(seconds, 1e-9), 1),
        "samples": samples,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--home", type=Path, default=None, help="Reuse a bench home.")
    parser.add_argument("--per-kind", type=int, default=300)
    parser.add_argument("--train-seconds", type=float, default=240.0)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    if not FB.is_dir():
        raise SystemExit(f"FB15k-237 not found at {FB}")
    train_triples = read_triples(FB / "train.txt")
    valid = read_triples(FB / "valid.txt")
    in_test, held = split_test(read_triples(FB / "test.txt"), args.seed)
    names = {}
    for line in (FB / "entity2text.txt").read_text(encoding="utf-8").splitlines():
        e, _, name = line.partition("\t")
        if name.strip():
            names[e] = name.strip()
    # Valid triples are true but not in the graph: part of the answer sets, never asked.
    questions = generate_questions(train_triples + in_test, held, names, args.per_kind, args.seed)
    extra = set(valid)
    for q in questions:
        (e, (r, side)) = (q.entity, q.path[0])
        if q.hops == 1:
            more = (
                {t for h, rr, t in extra if h == e and rr == r}
                if side == "tail"
                else {h for h, rr, t in extra if t == e and rr == r}
            )
            q.answers = sorted(set(q.answers) | more)
    home = args.home or Path(tempfile.mkdtemp(prefix="mmkg-bench-qa-"))
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
        "protocol": __doc__.split("Protocol")[1].split("    .venv")[0].strip(),
        "floors": {"lookup_hits@1": 0.60, "prediction_vs_model": 0.8},
    }
    try:
        with Graph.connect(settings) as graph:
            apply_schema(graph)
            result["graph"] = load(graph, settings, in_test)
            result["training"] = train(graph, settings, args.train_seconds)
            print("trained", result["training"], flush=True)
            started = time.perf_counter()
            qa = QuestionAnswerer.from_graph(graph, settings, show_progress=False)
            result["engine_build_s"] = round(time.perf_counter() - started, 1)
            result.update(evaluate(qa, graph, questions))
        pid = running_pid(settings)
        result["peak_rss_bytes"] = {
            "bench_process": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024,
            "neo4j": jvm_peak_rss(pid) if pid else None,
        }
    finally:
        if args.home is None:
            stop_server(settings)
    t = result["table"]
    lookup = [v for k, v in t.items() if k.startswith("lookup/1-hop") and k.count("/") == 1]
    pred = t.get("prediction/1-hop", {}).get("hits@1")
    model = result["model_hits@1_on_prediction"]
    result["verdict"] = {
        "lookup_hits@1": lookup[0]["hits@1"] if lookup else None,
        "lookup_floor_met": bool(lookup) and lookup[0]["hits@1"] >= 0.60,
        "prediction_vs_model": round(pred / model, 3) if pred is not None and model else None,
        "prediction_floor_met": pred is not None and bool(model) and pred >= 0.8 * model,
    }
    RESULTS.write_text(json.dumps(result, indent=2, default=float) + "\n", encoding="utf-8")
    print(
        json.dumps(
            {
                k: result[k]
                for k in ("table", "model_hits@1_on_prediction", "calibration", "verdict")
            },
            indent=2,
        )
    )
    sys.exit(0)


if __name__ == "__main__":
    main()
