"""The demo knowledge graph that ships with mmkg: about 400 real entities (countries, cities,
scientists, writers, universities, awards...) with names and descriptions, and 1,300 facts."""

from __future__ import annotations

import shutil
import time
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

from mmkg.platform.cypher import run_cypher
from mmkg.platform.ingest import IngestSummary, ingest_entities, ingest_triples
from mmkg.platform.schema import require_schema
from mmkg.platform.stats import graph_stats
from mmkg.platform.store import Graph
from mmkg.settings import Settings

# Relation names become types by assign_relation_types: award_received -> AWARD_RECEIVED.
SAMPLE_QUERY = """\
MATCH (p:Entity)-[:AWARD_RECEIVED]->(prize:Entity)
WHERE prize.name STARTS WITH $prize
MATCH (p)-[:BORN_IN]->(city:Entity)-[:CAPITAL_OF|LOCATED_IN]->(country:Entity)
      -[:LOCATED_IN]->(:Entity {id: $continent})
RETURN p.name AS laureate, collect(DISTINCT prize.name) AS prizes,
       city.name AS born_in, country.name AS country
ORDER BY laureate
LIMIT 15"""
SAMPLE_PARAMS = {"prize": "Nobel Prize", "continent": "europe"}


def demo_data_dir() -> Path:
    return Path(str(resources.files("mmkg.platform") / "demo_data"))


@dataclass
class DemoResult:
    entities: IngestSummary
    triples: IngestSummary
    stats: dict[str, Any]
    query: str
    params: dict[str, Any]
    columns: list[str]
    rows: list[list[Any]]


def load_demo(graph: Graph, settings: Settings, show_progress: bool | None = None) -> DemoResult:
    """Apply the schema, load the demo graph (idempotently), and run the sample query."""
    require_schema(graph)
    folder = demo_data_dir()
    entities = ingest_entities(
        graph, folder / "entities.tsv", settings, strict=True, show_progress=show_progress
    )
    triples = ingest_triples(
        graph, folder / "triples.tsv", settings, strict=True, show_progress=show_progress
    )
    sample = run_cypher(graph, SAMPLE_QUERY, SAMPLE_PARAMS)
    return DemoResult(
        entities, triples, graph_stats(graph), SAMPLE_QUERY, SAMPLE_PARAMS, sample.columns,
        sample.rows,
    )  # fmt: skip


# --- the learning half of the demo --------------------------------------------------------
DEMO_RUN_ID = "demo-rotate"
# RotatE models the demo's symmetric (spouse, shares_border_with), inverse and composed
# relations; small enough to train in seconds on a laptop CPU, with eager kernels (compiling
# would take longer than training).
DEMO_TRAINING: dict[str, Any] = {
    "dim": 128,
    "epochs": 150,
    "batch_size": 256,
    "negatives": 64,
    "neg_chunk_size": 64,
    "gamma": 6.0,
    "lr": 0.05,
    "num_procs": 1,
    "compile": False,
    "eval_every": 0,
    "seed": 0,
}
# People the graph gives no citizenship: the model's guess, next to their birthplace's country
# (which it was never told connects to citizenship).
PREDICT_QUERY = """\
MATCH (p:Entity)-[:BORN_IN]->(:Entity)-[:CAPITAL_OF|LOCATED_IN]->(country:Entity)
WHERE NOT (p)-[:CITIZEN_OF]->() AND EXISTS { (:Entity)-[:CITIZEN_OF]->(country) }
WITH p, collect(DISTINCT country.name) AS born_in_country
CALL mmkg.predict.tail(p, $relation, 1) YIELD node, score
RETURN p.name AS person, node.name AS predicted_citizenship, born_in_country,
       round(score, 2) AS score
ORDER BY person"""
PREDICT_PARAMS = {"relation": "citizen_of"}


@dataclass
class DemoEmbeddings:
    run_id: str
    run_dir: Path
    trained_now: bool
    train_seconds: float
    test_mrr: float | None
    write: dict[str, Any]
    query: str
    params: dict[str, Any]
    columns: list[str]
    rows: list[list[Any]]


def demo_embeddings(
    graph: Graph, settings: Settings, show_progress: bool | None = None
) -> DemoEmbeddings:
    """Train RotatE on the demo graph, write it back, activate it, and ask a Cypher
    link-prediction query. Idempotent: a run already in the graph is reused."""
    from mmkg.platform.export import export_triples
    from mmkg.platform.kge.config import make_config
    from mmkg.platform.kge.data import from_triple_set
    from mmkg.platform.kge.trainer import Trainer
    from mmkg.platform.serving import activate_run, drop_run, get_run, write_artifact

    run_dir = settings.home / "runs" / DEMO_RUN_ID
    existing = get_run(graph, DEMO_RUN_ID)
    trained_now = False
    train_seconds = 0.0
    if existing is not None and existing.get("status") in ("ready", "active"):
        if existing["status"] != "active":
            activate_run(graph, DEMO_RUN_ID)
        write: dict[str, Any] = {"run_id": DEMO_RUN_ID, "already_written": True}
        metrics = existing.get("metrics") if isinstance(existing.get("metrics"), dict) else {}
    else:
        if existing is not None:  # a demo write that was interrupted: start it over
            drop_run(graph, DEMO_RUN_ID, force=True)
        if run_dir.exists():
            shutil.rmtree(run_dir)  # our own leftover from an interrupted demo
        data = from_triple_set(export_triples(graph).to_triple_set(), seed=0)
        started = time.perf_counter()
        result = Trainer(
            data, make_config("rotate", DEMO_TRAINING), run_dir, show_progress=show_progress
        ).fit()
        train_seconds = time.perf_counter() - started
        trained_now = True
        # The trained model goes to the graph from memory; the run folder is for people.
        summary = write_artifact(
            graph, result.artifact(), settings, run_id=DEMO_RUN_ID, activate=True,
            show_progress=show_progress, source=str(run_dir),
        )  # fmt: skip
        write = summary.to_dict()
        metrics = result.metrics
    test = metrics.get("test") if isinstance(metrics, dict) else None
    answer = run_cypher(graph, PREDICT_QUERY, PREDICT_PARAMS)
    columns, rows = answer.columns, answer.rows
    return DemoEmbeddings(
        run_id=DEMO_RUN_ID,
        run_dir=run_dir,
        trained_now=trained_now,
        train_seconds=round(train_seconds, 1),
        test_mrr=float(test["mrr"]) if isinstance(test, dict) and "mrr" in test else None,
        write=write,
        query=PREDICT_QUERY,
        params=PREDICT_PARAMS,
        columns=columns,
        rows=rows,
    )
