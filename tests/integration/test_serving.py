"""Embeddings in Neo4j: write-back, activation, and the mmkg.* procedures against the real
server, with the plugin that `mmkg neo4j start` built and installed."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch

from mmkg.errors import (
    DataError,
    InvalidRequestError,
    NoActiveRunError,
    RunNotReadyError,
    UnknownEntityError,
    UnknownRelationError,
    UnknownRunError,
)
from mmkg.platform.demo import load_demo
from mmkg.platform.export import export_triples
from mmkg.platform.ingest import ingest_triples
from mmkg.platform.kge.config import make_config
from mmkg.platform.kge.data import KGDataset, from_triple_set
from mmkg.platform.kge.models import KGEModel
from mmkg.platform.kge.run_dir import load_model
from mmkg.platform.kge.trainer import train
from mmkg.platform.serving import (
    activate_run,
    active_run_id,
    drop_run,
    get_run,
    list_runs,
    predict_head,
    predict_relation,
    predict_tail,
    score,
    similar,
    write_run,
)
from mmkg.platform.serving.calls import call_read
from mmkg.platform.store import Graph
from mmkg.settings import Settings
from tests.integration.conftest import CLEAR, env_for, run_cli

MODELS = ("transe_l1", "transe_l2", "distmult", "complex", "rotate", "rotate_l2")
QUICK = {"dim": 16, "epochs": 3, "num_procs": 1, "batch_size": 256, "compile": False,
         "eval_every": 0}  # fmt: skip
SLCWA = {"negatives": 32, "neg_chunk_size": 32}


def _train(data: KGDataset, model: str, run: Path, seed: int = 0) -> Path:
    extra = SLCWA if model in ("transe_l1", "transe_l2", "rotate", "rotate_l2") else {}
    train(data, make_config(model, {**QUICK, **extra, "seed": seed}), run, show_progress=False)
    return run


@pytest.fixture(scope="module")
def demo(session_graph: Graph, neo4j_settings: Settings, tmp_path_factory: Any) -> dict[str, Any]:
    """The demo graph with one trained run per model, each written (not activated)."""
    session_graph.run_autocommit(CLEAR)
    load_demo(session_graph, neo4j_settings, show_progress=False)
    data = from_triple_set(export_triples(session_graph).to_triple_set())
    root = tmp_path_factory.mktemp("runs")
    runs = {}
    for model in MODELS:
        run = _train(data, model, root / model)
        # Three epochs at dim 16: a check of scoring parity, not of quality (--force).
        write_run(session_graph, run, neo4j_settings, run_id=model, show_progress=False,
                  force=True)  # fmt: skip
        runs[model] = run
    return {"data": data, "runs": runs, "root": root}


def _python(run: Path) -> tuple[KGEModel, dict[str, int], dict[str, int]]:
    model, entity_ids, relation_names = load_model(run)
    return (
        model,
        {e: i for i, e in enumerate(entity_ids)},
        {r: i for i, r in enumerate(relation_names)},
    )


def test_procedures_are_installed_by_start(session_graph: Graph) -> None:
    procs = {r["name"] for r in session_graph.read("SHOW PROCEDURES YIELD name")}
    funcs = {r["name"] for r in session_graph.read("SHOW FUNCTIONS YIELD name")}
    assert {"mmkg.predict.tail", "mmkg.predict.head", "mmkg.predict.relation", "mmkg.similar",
            "mmkg.embeddings.write"} <= procs  # fmt: skip
    assert {"mmkg.score", "mmkg.version"} <= funcs


@pytest.mark.parametrize("model_name", MODELS)
def test_scores_equal_the_python_model(
    session_graph: Graph, demo: dict[str, Any], model_name: str
) -> None:
    g = session_graph
    model, ent, rel = _python(demo["runs"][model_name])
    ids = list(ent)
    n = len(ids)
    triples = demo["data"].train[:5]
    for h_i, r_i, t_i in triples:
        h, r, t = ids[h_i], demo["data"].relation_names[r_i], ids[t_i]
        expected = model.score_hrt(torch.tensor([[h_i, r_i, t_i]]))[0].item()
        assert score(g, h, r, t, run=model_name) == pytest.approx(expected, rel=1e-4, abs=1e-4)

        # Every entity's score as a tail, and as a head, from Neo4j equals Python's.
        tails = predict_tail(g, h, r, n, exclude=False, mode="exact", run=model_name)
        py_t = model.score_t(torch.tensor([h_i]), torch.tensor([r_i]))[0].numpy()
        assert len(tails) == n and {p.run for p in tails} == {model_name}
        got = np.array([p.score for p in tails])
        want = py_t[[ent[p.id] for p in tails]]
        np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-4)
        assert np.all(np.diff(got) <= 1e-6)  # best first
        assert [p.rank for p in tails] == list(range(1, n + 1))

        heads = predict_head(g, r, t, n, exclude=False, mode="exact", run=model_name)
        py_h = model.score_h(torch.tensor([r_i]), torch.tensor([t_i]))[0].numpy()
        got = np.array([p.score for p in heads])
        np.testing.assert_allclose(got, py_h[[ent[p.id] for p in heads]], rtol=1e-4, atol=1e-4)

        # The vector index, asked for every entity and re-scored, gives the exact top 10.
        exact = predict_tail(g, h, r, 10, exclude=False, mode="exact", run=model_name)
        ann = predict_tail(g, h, r, 10, exclude=False, mode="ann", run=model_name, candidates=n)
        assert [p.id for p in ann] == [p.id for p in exact]
        ann_h = predict_head(g, r, t, 10, exclude=False, mode="ann", run=model_name, candidates=n)
        exact_h = predict_head(g, r, t, 10, exclude=False, mode="exact", run=model_name)
        assert [p.id for p in ann_h] == [p.id for p in exact_h]

    # Relations ranked by the same score.
    h, t = ids[triples[0][0]], ids[triples[0][2]]
    ranked = predict_relation(g, h, t, 50, run=model_name)
    assert len(ranked) == len(rel)
    for p in ranked[:3]:
        want = model.score_hrt(torch.tensor([[ent[h], rel[p.relation], ent[t]]]))[0].item()
        assert p.score == pytest.approx(want, rel=1e-4, abs=1e-4)


def test_mips_index_answers_inner_product_models(
    session_graph: Graph, demo: dict[str, Any]
) -> None:
    """DistMult's index holds augmented vectors: with the default candidates, ANN agrees with
    exact on the top answer for most queries of the demo graph."""
    run = get_run(session_graph, "distmult")
    assert run is not None and run["ann_property"].startswith("mmkg_a_") and run["max_norm"] > 0
    rows = session_graph.read(
        f"MATCH (e:Entity {{id: 'marie_curie'}}) RETURN size(e.`{run['ann_property']}`) AS d"
    )
    assert rows[0]["d"] == run["dim"] + 1


def test_known_edges_are_excluded_and_labels_filter(
    session_graph: Graph, demo: dict[str, Any]
) -> None:
    g = session_graph
    query = "MATCH (:Entity {id: 'marie_curie'})-[:AWARD_RECEIVED]->(t) RETURN t.id AS id"
    known = {r["id"] for r in g.read(query)}
    assert known
    every = predict_tail(g, "marie_curie", "award_received", 400, exclude=False, run="rotate")
    assert known <= {p.id for p in every}
    filtered = predict_tail(g, "marie_curie", "AWARD_RECEIVED", 400, run="rotate")
    assert not known & {p.id for p in filtered}
    assert len(filtered) == len(every) - len(known)
    heads_known = {
        r["id"]
        for r in g.read(
            "MATCH (h)-[:AWARD_RECEIVED]->(:Entity {id: 'nobel_prize_in_physics'}) "
            "RETURN h.id AS id"
        )
    }
    heads = predict_head(g, "award_received", "nobel_prize_in_physics", 400, run="rotate")
    assert heads_known and not heads_known & {p.id for p in heads}

    g.write("MATCH (e:Entity) WHERE e.id IN ['france', 'germany', 'poland'] SET e:Country")
    try:
        for mode in ("exact", "ann"):
            only = predict_tail(g, "marie_curie", "award_received", 5, label="Country", mode=mode,
                                run="rotate", candidates=400)  # fmt: skip
            assert {p.id for p in only} == {"france", "germany", "poland"}
    finally:
        g.write("MATCH (e:Country) REMOVE e:Country")

    near = similar(g, "marie_curie", 5, run="transe_l2")
    assert len(near) == 5 and "marie_curie" not in {p.id for p in near}
    assert [p.id for p in similar(g, "marie_curie", 5, run="transe_l2", mode="ann")] == [
        p.id for p in near
    ]
    assert len(similar(g, "marie_curie", 5, run="complex")) == 5


def test_bad_requests_get_clear_errors(session_graph: Graph, demo: dict[str, Any]) -> None:
    g = session_graph

    def cypher(options: str, head: str = "'marie_curie'") -> Any:
        return lambda: call_read(
            g, f"CALL mmkg.predict.tail({head}, 'award_received', 3, {options})", {}
        )

    # Each error comes back as the typed exception its stable code names.
    cases: list[tuple[Any, type[Exception], str]] = [
        (lambda: predict_tail(g, "Q42", "award_received", run="rotate"), UnknownEntityError,
         "unknown entity 'Q42'"),
        (lambda: predict_tail(g, "marie_curie", "wrote_opera", run="rotate"),
         UnknownRelationError, "unknown relation 'wrote_opera'"),
        (lambda: predict_tail(g, "marie_curie", "award_received", run="nope"), UnknownRunError,
         "unknown embedding run 'nope'"),
        (lambda: predict_tail(g, "marie_curie", "award_received", 0, run="rotate"),
         InvalidRequestError, "k: must lie"),
        (cypher("{mode: 'fast', run: 'rotate'}"), InvalidRequestError, "options.mode"),
        (cypher("{colour: 1}"), InvalidRequestError, "unknown key 'colour'"),
        (cypher("{run: 'rotate'}", head="42"), InvalidRequestError,
         "give an :Entity node or an entity id"),
        (lambda: similar(g, "marie_curie", run="complex", mode="ann"), InvalidRequestError,
         "cosine"),
    ]  # fmt: skip
    for call, error, message in cases:
        with pytest.raises(error, match=message.replace("(", r"\(")):
            call()
    # No run is active in this module until the concurrency test.
    if active_run_id(g) is None:
        with pytest.raises(NoActiveRunError, match="no active embedding run"):
            predict_tail(g, "marie_curie", "award_received")
    # A node given directly works as well as an id.
    rows = g.read(
        "MATCH (h:Entity {id: 'marie_curie'}) "
        "CALL mmkg.predict.tail(h, 'award_received', 3, {run: 'rotate'}) YIELD node, rank "
        "RETURN node.id AS id, rank"
    )
    assert [r["rank"] for r in rows] == [1, 2, 3]


def test_write_is_idempotent_and_refuses_clashes(
    session_graph: Graph, neo4j_settings: Settings, demo: dict[str, Any]
) -> None:
    again = write_run(session_graph, demo["runs"]["rotate"], neo4j_settings, run_id="rotate")
    assert again.already_written
    with pytest.raises(DataError, match="already holds other vectors"):
        write_run(session_graph, demo["runs"]["transe_l2"], neo4j_settings, run_id="rotate")
    with pytest.raises(DataError, match="invalid run id"):
        write_run(session_graph, demo["runs"]["rotate"], neo4j_settings, run_id="bad id!")


def test_concurrent_readers_never_see_a_mixed_run(
    session_graph: Graph, neo4j_settings: Settings, demo: dict[str, Any]
) -> None:
    g = session_graph
    activate_run(g, "transe_l1")
    want = {}
    for run in ("transe_l1", "rotate"):
        want[run] = [(p.id, round(p.score, 5)) for p in predict_tail(
            g, "marie_curie", "award_received", 10, run=run)]  # fmt: skip
    assert want["transe_l1"] != want["rotate"]
    seen: dict[str, int] = {"transe_l1": 0, "rotate": 0}
    errors: list[str] = []
    stop = threading.Event()

    def reader() -> None:
        with Graph.connect(neo4j_settings) as own:
            while not stop.is_set():
                got = predict_tail(own, "marie_curie", "award_received", 10)
                runs = {p.run for p in got}
                pairs = [(p.id, round(p.score, 5)) for p in got]
                if len(runs) != 1 or pairs != want[runs.pop()]:
                    errors.append(f"mixed answer: {got}")
                    return
                seen[got[0].run] += 1

    threads = [threading.Thread(target=reader) for _ in range(4)]
    for t in threads:
        t.start()
    try:
        with Graph.connect(neo4j_settings) as switcher:
            for i in range(30):
                activate_run(switcher, "rotate" if i % 2 == 0 else "transe_l1")
                time.sleep(0.02)
    finally:
        stop.set()
        for t in threads:
            t.join()
    assert not errors, errors[0]
    assert seen["transe_l1"] > 0 and seen["rotate"] > 0
    active = [r["id"] for r in list_runs(g) if r["status"] == "active"]
    assert active == [active_run_id(g)]


def _big_run(graph: Graph, settings: Settings, folder: Path) -> Path:
    """A run over 20,000 extra entities, so that its write takes many transactions."""
    rng = np.random.default_rng(0)
    n = 20_000
    heads = rng.integers(0, n, 30_000)
    tails = rng.integers(0, n, 30_000)
    lines = "".join(
        f"syn_{h}\tsyn_rel_{h % 3}\tsyn_{t}\n" for h, t in zip(heads, tails, strict=True)
    )
    folder.mkdir()
    for split in ("train", "valid", "test"):
        (folder / f"{split}.txt").write_text(lines if split == "train" else lines[:2000], "utf-8")
    ingest_triples(graph, folder / "train.txt", settings, show_progress=False)
    from mmkg.platform.kge.data import load_folder

    run = folder / "run"
    train(load_folder(folder), make_config("transe_l2", {**QUICK, **SLCWA, "epochs": 1}), run,
          show_progress=False)  # fmt: skip
    return run


def test_a_killed_write_leaves_the_old_run_serving(
    session_graph: Graph, neo4j_settings: Settings, demo: dict[str, Any], tmp_path: Path
) -> None:
    g = session_graph
    activate_run(g, "rotate")
    before = predict_tail(g, "marie_curie", "award_received", 5)
    run = _big_run(g, neo4j_settings, tmp_path / "big")
    # Small batches, one writer: a write of many transactions that a poll can catch midway.
    env = {**env_for(neo4j_settings), "MMKG_EMBEDDING_BATCH_SIZE": "50",
           "MMKG_EMBEDDING_WRITE_THREADS": "1"}  # fmt: skip
    mmkg = Path(sys.executable).with_name("mmkg")
    proc = subprocess.Popen(
        [str(mmkg), "-q", "embeddings", "write", str(run), "--id", "big", "--activate",
         "--force"],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 120
        written = 0
        while time.monotonic() < deadline and proc.poll() is None:
            state = get_run(g, "big")
            if state is not None:
                prop = state["entity_property"]
                query = f"MATCH (e:Entity) WHERE e.`{prop}` IS NOT NULL RETURN count(e) AS n"
                written = g.read(query)[0]["n"]
                if written >= 1000:
                    break
            time.sleep(0.05)
        assert proc.poll() is None, "the write finished before it could be killed"
        os.kill(proc.pid, signal.SIGKILL)
    finally:
        proc.wait()
    assert 1000 <= written < 19_000
    state = get_run(g, "big")
    assert state is not None and state["status"] == "writing"
    assert active_run_id(g) == "rotate"
    assert predict_tail(g, "marie_curie", "award_received", 5) == before
    with pytest.raises(DataError, match="status is 'writing'"):
        activate_run(g, "big")
    with pytest.raises(RunNotReadyError, match="not ready to serve"):
        predict_tail(g, "syn_1", "syn_rel_1", 5, run="big")

    # The next write finishes the run, and it serves.
    out = run_cli(neo4j_settings, "embeddings", "write", str(run), "--id", "big", "--activate",
                  "--force", "--json")  # fmt: skip
    summary = json.loads(out.stdout)
    entities = len((run / "entities.dict").read_text().splitlines())
    assert summary["status"] == "active" and summary["entities"] == entities
    got = predict_tail(g, "syn_1", "syn_rel_1", 5)
    assert len(got) == 5 and {p.run for p in got} == {"big"}
    activate_run(g, "rotate")
    drop_run(g, "big")
    assert get_run(g, "big") is None
    assert g.read("MATCH (e:Entity) WHERE e.`" + state["entity_property"] + "` IS NOT NULL "
                  "RETURN count(e) AS n")[0]["n"] == 0  # fmt: skip
    assert not g.read("SHOW INDEXES YIELD name WHERE name = $n RETURN name",
                      {"n": state["ann_index"]})  # fmt: skip


def test_cli_embeddings_and_predict(neo4j_settings: Settings, demo: dict[str, Any]) -> None:
    s = neo4j_settings
    run_cli(s, "embeddings", "activate", "transe_l2")
    listed = json.loads(run_cli(s, "embeddings", "list", "--json").stdout)
    assert {r["id"] for r in listed} >= set(MODELS)
    assert [r["id"] for r in listed if r["serving"]] == ["transe_l2"]
    table = run_cli(s, "embeddings", "list").stdout
    assert "transe_l2" in table and "*" in table
    tails = json.loads(run_cli(s, "predict", "tail", "marie_curie", "award_received", "-k", "3",
                               "--json").stdout)  # fmt: skip
    assert [t["rank"] for t in tails] == [1, 2, 3] and tails[0]["run"] == "transe_l2"
    heads = json.loads(run_cli(s, "predict", "head", "award_received", "nobel_prize_in_physics",
                               "-k", "2", "--mode", "ann", "--json").stdout)  # fmt: skip
    assert len(heads) == 2
    rels = json.loads(run_cli(s, "predict", "relation", "marie_curie", "poland", "--json").stdout)
    assert rels[0]["rank"] == 1 and rels[0]["type"]
    text = run_cli(s, "predict", "similar", "marie_curie", "-k", "3").stdout
    assert "3 rows" in text
    bad = run_cli(s, "predict", "tail", "nobody", "award_received", check=False)
    assert bad.returncode == 1 and "unknown entity 'nobody'" in bad.stderr
    active_drop = run_cli(s, "embeddings", "drop", "transe_l2", check=False)
    assert active_drop.returncode == 1 and "is the active run" in active_drop.stderr
    assert "dropped" in run_cli(s, "embeddings", "drop", "transe_l1").stdout
    not_a_run = run_cli(s, "embeddings", "write", str(demo["root"]), check=False)
    assert not_a_run.returncode == 1 and "config.json is missing" in not_a_run.stderr
