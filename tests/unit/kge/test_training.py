"""Training learns planted relation patterns; runs resume exactly; the run folder is complete."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from mmkg.platform.kge import run_dir as rd
from mmkg.platform.kge.config import make_config
from mmkg.platform.kge.evaluate import FilterIndex, evaluate
from mmkg.platform.kge.trainer import evaluate_run, train

from .planted import family_graph, relation_subset

SMALL_SLCWA = {
    "dim": 32, "batch_size": 128, "negatives": 32, "neg_chunk_size": 32, "gamma": 6.0,
    "lr": 0.1, "num_procs": 1, "eval_every": 0,
}  # fmt: skip
SMALL_1VSALL = {"dim": 32, "batch_size": 64, "lr": 0.2, "reg_weight": 0.001, "eval_every": 0}
EPOCHS = {"transe_l1": 60, "transe_l2": 60, "rotate": 60, "distmult": 30, "complex": 30}


def _settings(name: str, **extra: object) -> dict[str, object]:
    base = SMALL_1VSALL if name in ("distmult", "complex") else SMALL_SLCWA
    # L2 distances are smaller than L1 ones: a margin of 6 would never be reached.
    tuned = {"gamma": 2.0} if name == "transe_l2" else {}
    return {**base, "epochs": EPOCHS[name], **tuned, **extra}


@pytest.fixture(scope="module")
def family():  # type: ignore[no-untyped-def]
    return family_graph()


@pytest.fixture(scope="module")
def trained(family, tmp_path_factory):  # type: ignore[no-untyped-def]
    """Every model trained once on the family graph (shared by the tests below)."""
    out = {}
    for name in EPOCHS:
        run = tmp_path_factory.mktemp(name) / "run"
        out[name] = train(family, make_config(name, _settings(name)), run, show_progress=False)
    return out


@pytest.mark.parametrize("name", sorted(EPOCHS))
def test_training_lifts_mrr_far_above_random(name: str, trained, family) -> None:  # type: ignore[no-untyped-def]
    random_mrr = float(np.mean(1.0 / np.arange(1, family.num_entities + 1)))
    test_mrr = trained[name].metrics["test"]["mrr"]
    assert test_mrr > 0.5, f"{name}: test MRR {test_mrr:.3f}"
    assert test_mrr > 10 * random_mrr


def test_rotate_learns_symmetry_that_transe_cannot(trained, family) -> None:  # type: ignore[no-untyped-def]
    spouse = relation_subset(family, "spouse")
    index = FilterIndex(family.known_triples(), family.num_relations)

    def mrr(name: str) -> float:
        return evaluate(trained[name].model, spouse, index, 0, False).mrr

    assert mrr("rotate") > 0.75
    assert mrr("rotate") > mrr("transe_l2") + 0.3
    assert mrr("rotate") > mrr("transe_l1") + 0.3


@pytest.mark.parametrize("name", ["rotate", "complex"])
def test_inverse_relations_are_learned(name: str, trained, family) -> None:  # type: ignore[no-untyped-def]
    child_of = relation_subset(family, "child_of")
    index = FilterIndex(family.known_triples(), family.num_relations)
    assert evaluate(trained[name].model, child_of, index, 0, False).mrr > 0.8


def test_composition_is_learned_by_rotate(trained, family) -> None:  # type: ignore[no-untyped-def]
    grand = relation_subset(family, "grandparent_of")
    index = FilterIndex(family.known_triples(), family.num_relations)
    random_mrr = float(np.mean(1.0 / np.arange(1, family.num_entities + 1)))
    assert evaluate(trained["rotate"].model, grand, index, 0, False).mrr > 5 * random_mrr


def test_the_run_folder_describes_itself(trained, family) -> None:  # type: ignore[no-untyped-def]
    run = trained["rotate"].run
    for name in (rd.CONFIG, rd.METRICS, rd.HISTORY, rd.CURVES, rd.CHECKPOINT, rd.ENTITY_EMB,
                 rd.RELATION_EMB, "entities.dict", "relations.dict"):  # fmt: skip
        assert (run / name).is_file(), name
    config = json.loads((run / rd.CONFIG).read_text())
    assert config["train"]["model"] == "rotate"
    assert config["dataset"]["entities"] == family.num_entities
    emb = np.load(run / rd.ENTITY_EMB)
    assert emb.shape == (family.num_entities, 32) and emb.dtype == np.float32
    assert (run / "entities.dict").read_text().splitlines()[0] == f"0\t{family.entity_ids[0]}"
    assert (run / rd.CURVES).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    history = json.loads((run / rd.HISTORY).read_text())
    assert len(history) == EPOCHS["rotate"] and history[-1]["loss"] < history[0]["loss"]
    # Evaluating the folder again reproduces the metrics training reported.
    again = evaluate_run(run, family, "test")
    assert again["mrr"] == pytest.approx(trained["rotate"].metrics["test"]["mrr"])


def test_kvsall_training_learns(family, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    config = make_config(
        "distmult",
        _settings("distmult", training="kvsall", loss="bce", optimizer="adam", lr=0.1,
                  init_scale=0.1, label_smoothing=0.05),
    )  # fmt: skip
    result = train(family, config, tmp_path / "run", show_progress=False)
    assert result.metrics["test"]["mrr"] > 0.5


@pytest.mark.slow
def test_hogwild_training_with_two_processes_learns(family, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    config = make_config("rotate", _settings("rotate", num_procs=2))
    result = train(family, config, tmp_path / "run", show_progress=False)
    assert result.metrics["processes"] == 2
    assert result.metrics["test"]["mrr"] > 0.5


@pytest.mark.parametrize("name", ["rotate", "complex"])
def test_resume_gives_the_same_result_as_an_uninterrupted_run(
    name: str, family, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    settings = _settings(name, epochs=6, eval_every=2)
    whole = train(family, make_config(name, settings), tmp_path / "whole", show_progress=False)
    part = tmp_path / "part"
    train(family, make_config(name, {**settings, "epochs": 3}), part, show_progress=False)
    resumed = train(family, make_config(name, settings), part, resume=True, show_progress=False)
    for file in (rd.ENTITY_EMB, rd.RELATION_EMB):
        assert np.array_equal(np.load(tmp_path / "whole" / file), np.load(part / file)), file
    assert resumed.metrics["test"] == whole.metrics["test"] | {
        "seconds": resumed.metrics["test"]["seconds"]
    }
    assert [h["loss"] for h in json.loads((part / rd.HISTORY).read_text())] == [
        h["loss"] for h in json.loads((tmp_path / "whole" / rd.HISTORY).read_text())
    ]


def test_early_stopping_keeps_the_best_validated_embeddings(family, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    # A learning rate this high makes validation MRR fall after its first peak.
    config = make_config("transe_l2", _settings("transe_l2", epochs=40, eval_every=1, patience=2))
    result = train(family, config, tmp_path / "run", show_progress=False)
    history = json.loads((tmp_path / "run" / rd.HISTORY).read_text())
    best = max(h["valid_mrr"] for h in history if h["valid_mrr"] is not None)
    assert result.metrics["valid"]["mrr"] == pytest.approx(best, abs=1e-6)
    if result.metrics["stopped"] == "early_stopping":
        assert result.metrics["epochs"] < 40


def test_hogwild_is_chosen_only_where_it_loses_nothing(caplog: pytest.LogCaptureFixture) -> None:
    from mmkg.platform.kge.hogwild import plan_processes, touched_share

    sparse = make_config("rotate", {"dim": 8, "num_procs": 0})
    # FB15k-237 at the defaults: a step touches under a quarter of the rows; Hogwild.
    assert 0.1 < touched_share(sparse, 14_541) < 0.25
    procs, why = plan_processes(sparse, 14_541, cores=2)
    assert procs == 2 and "Hogwild" in why
    # A dense graph of a hundred entities: every step touches nearly every row.
    procs, why = plan_processes(sparse, 104, cores=2)
    assert procs == 1 and "104 entities" in why
    # Adam's per-coordinate state races under Hogwild, whatever the graph.
    adam = make_config("rotate", {"dim": 8, "optimizer": "adam", "lr": 0.005})
    procs, why = plan_processes(adam, 1_000_000, cores=8)
    assert procs == 1 and "adam" in why
    # Asked for explicitly, it is obeyed, with a warning that names the risk.
    forced = make_config("rotate", {"dim": 8, "optimizer": "adam", "num_procs": 2})
    with caplog.at_level("WARNING"):
        assert plan_processes(forced, 104, cores=2)[0] == 2
    assert "adam" in caplog.text and "104 entities" in caplog.text
    assert plan_processes(sparse, 14_541, cores=1)[0] == 1


def test_the_process_choice_and_its_reason_are_in_the_metrics(family, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    config = make_config("rotate", _settings("rotate", num_procs=0, optimizer="adam", epochs=1))
    result = train(family, config, None, show_progress=False)
    assert result.metrics["processes"] == 1
    assert "adam" in result.metrics["processes_reason"]
