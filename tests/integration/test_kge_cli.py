"""`mmkg train` and `mmkg eval` end to end: from a TSV folder and from the graph in Neo4j."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from mmkg.platform.demo import load_demo
from mmkg.platform.store import Graph
from mmkg.settings import Settings
from tests.integration.conftest import run_cli
from tests.unit.kge.planted import family_graph

FAST = ["--dim", "32", "--epochs", "30", "--batch-size", "128", "--negatives", "32",
        "--neg-chunk-size", "32", "--lr", "0.1", "--num-procs", "1",
        "--eval-every", "5"]  # fmt: skip


def _write_folder(folder: Path) -> None:
    data = family_graph()
    folder.mkdir()
    for split in ("train", "valid", "test"):
        rows = data.split(split)
        (folder / f"{split}.txt").write_text(
            "".join(
                f"{data.entity_ids[h]}\t{data.relation_names[r]}\t{data.entity_ids[t]}\n"
                for h, r, t in rows
            ),
            "utf-8",
        )


def test_train_and_eval_from_a_folder(neo4j_settings: Settings, tmp_path: Path) -> None:
    _write_folder(tmp_path / "data")
    run = tmp_path / "run"
    out = run_cli(
        neo4j_settings, "train", "--model", "rotate", "--data", str(tmp_path / "data"),
        "--out", str(run), "--gamma", "6", *FAST, "--json",
    )  # fmt: skip
    metrics = json.loads(out.stdout)
    assert metrics["model"] == "rotate" and metrics["epochs"] == 30
    assert metrics["test"]["mrr"] > 0.3  # random ranking: about 0.04
    evaluated = json.loads(run_cli(neo4j_settings, "eval", str(run)).stdout)
    assert evaluated["split"] == "test"
    assert evaluated["mrr"] == metrics["test"]["mrr"]
    valid = json.loads(run_cli(neo4j_settings, "eval", str(run), "--split", "valid").stdout)
    assert valid["triples"] == metrics["valid"]["triples"]
    # A human-readable summary without --json, and a clear refusal to overwrite the run.
    again = run_cli(neo4j_settings, "train", "-m", "rotate", "--data", str(tmp_path / "data"),
                    "--out", str(run), *FAST, check=False)  # fmt: skip
    assert again.returncode == 1 and "already holds files" in again.stderr


def test_bad_options_are_named(neo4j_settings: Settings, tmp_path: Path) -> None:
    bad_model = run_cli(neo4j_settings, "train", "-m", "transH", "--data", str(tmp_path),
                        "--out", str(tmp_path / "r"), check=False)  # fmt: skip
    assert bad_model.returncode == 1 and "unknown model 'transH'" in bad_model.stderr
    bad_dim = run_cli(neo4j_settings, "train", "-m", "distmult", "--dim", "0", "--data",
                      str(tmp_path), "--out", str(tmp_path / "r"), check=False)  # fmt: skip
    assert bad_dim.returncode == 1 and "dim: Input should be greater than 0" in bad_dim.stderr
    neither = run_cli(neo4j_settings, "train", "-m", "distmult", "--out", str(tmp_path / "r"),
                      check=False)  # fmt: skip
    assert neither.returncode == 1 and "--data DIR or --from-neo4j" in neither.stderr
    not_a_run = run_cli(neo4j_settings, "eval", str(tmp_path), check=False)
    assert not_a_run.returncode == 1 and "config.json is missing" in not_a_run.stderr
    models = json.loads(run_cli(neo4j_settings, "models", "--json").stdout)
    assert set(models) == {"transe_l1", "transe_l2", "distmult", "complex", "rotate", "rotate_l2"}


def test_train_from_neo4j(graph: Graph, neo4j_settings: Settings, tmp_path: Path) -> None:
    load_demo(graph, neo4j_settings)
    run = tmp_path / "run"
    out = run_cli(
        neo4j_settings, "train", "--model", "complex", "--from-neo4j", "--out", str(run),
        "--dim", "32", "--epochs", "10", "--batch-size", "128", "--json",
    )  # fmt: skip
    metrics = json.loads(out.stdout)
    config = json.loads((run / "config.json").read_text())
    assert config["dataset"]["source"] == "neo4j"
    total = sum(config["dataset"][s] for s in ("train", "valid", "test"))
    assert total == 1312  # the demo graph's facts, split 90/5/5
    assert metrics["test"]["triples"] == config["dataset"]["test"]
    ids = (run / "entities.dict").read_text().splitlines()
    assert "1\t" in ids[1] and any(line.endswith("\tmarie_curie") for line in ids)
    assert np.load(run / "entity_embeddings.npy").shape == (len(ids), 32)
    # eval without --data uses the split saved with the run.
    evaluated = json.loads(run_cli(neo4j_settings, "eval", str(run)).stdout)
    assert evaluated["mrr"] == metrics["test"]["mrr"]


def test_a_pykeen_configuration_trains_and_names_what_it_cannot_keep(
    neo4j_settings: Settings, tmp_path: Path
) -> None:
    _write_folder(tmp_path / "data")
    pykeen = tmp_path / "rotate.json"
    pykeen.write_text(json.dumps({"pipeline": {
        "dataset": "kinships", "model": "RotatE", "model_kwargs": {"embedding_dim": 32},
        "loss": "NSSALoss", "loss_kwargs": {"margin": 3},
        "optimizer": "Adam", "optimizer_kwargs": {"lr": 0.02},
        "negative_sampler_kwargs": {"num_negs_per_pos": 16},
        "training_kwargs": {"num_epochs": 20, "batch_size": 128},
    }}))  # fmt: skip
    out = run_cli(neo4j_settings, "train", "--pykeen-config", str(pykeen), "--data",
                  str(tmp_path / "data"), "--out", str(tmp_path / "run"), "--epochs", "25",
                  "--json")  # fmt: skip
    metrics = json.loads(out.stdout)
    config = json.loads((tmp_path / "run" / "config.json").read_text())["train"]
    # The file's settings (PyKEEN's RotatE distance), the command line over them, and one
    # process (Adam).
    assert (config["model"], config["dim"], config["loss"], config["margin"]) == (
        "rotate_l2",
        64,
        "nssa",
        3.0,
    )
    assert config["epochs"] == 25 and metrics["processes"] == 1
    assert metrics["test"]["mrr"] > 0.3
    assert "PyKEEN config: dataset" in out.stderr and "lazy" in out.stderr
    missing = run_cli(neo4j_settings, "train", "--data", str(tmp_path / "data"), "--out",
                      str(tmp_path / "r2"), check=False)  # fmt: skip
    assert missing.returncode == 1 and "give --model" in missing.stderr
