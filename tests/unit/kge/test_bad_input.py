"""Bad input and limits: clear errors that name what was wrong, and nothing half-written."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from mmkg.errors import ConfigError, DataError, ResourceLimitError, TrainingError
from mmkg.platform.kge.config import make_config
from mmkg.platform.kge.data import KGDataset, load_folder
from mmkg.platform.kge.trainer import train

from .planted import family_graph

TINY = {"dim": 8, "batch_size": 32, "negatives": 8, "neg_chunk_size": 8, "num_procs": 1,
        "eval_every": 0, "epochs": 2}  # fmt: skip


def _write(folder: Path, **splits: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for name, text in splits.items():
        (folder / f"{name}.txt").write_text(text, "utf-8")
    return folder


def test_a_malformed_line_is_named_by_file_and_line(tmp_path: Path) -> None:
    folder = _write(tmp_path / "d", train="a\tr\tb\nb\tr\n", valid="", test="")
    with pytest.raises(DataError, match=r"train\.txt:2: expected 3 fields, found 2"):
        load_folder(folder)


def test_missing_folder_and_missing_train_file(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="does not exist"):
        load_folder(tmp_path / "nowhere")
    with pytest.raises(DataError, match=r"no train\.txt"):
        load_folder(_write(tmp_path / "d", valid="a\tr\tb\n"))


def test_an_empty_graph_is_refused(tmp_path: Path) -> None:
    folder = _write(tmp_path / "d", train="", valid="", test="")
    with pytest.raises(DataError, match="training split has no triples"):
        load_folder(folder)


def test_a_one_relation_graph_trains_with_a_note(tmp_path: Path) -> None:
    lines = "".join(f"e{i}\tlinks\te{(i * 7 + 3) % 50}\n" for i in range(200))
    folder = _write(tmp_path / "d", train=lines, valid="", test="e1\tlinks\te10\n")
    data = load_folder(folder)
    assert any("only one relation" in note for note in data.notes)
    result = train(data, make_config("transe_l2", TINY), tmp_path / "run", show_progress=False)
    assert result.metrics["test"]["triples"] == 1


def test_test_entities_unseen_in_training_are_counted_and_ranked(tmp_path: Path) -> None:
    folder = _write(
        tmp_path / "d",
        train="a\tr\tb\nb\tr\tc\nc\tr\ta\n",
        valid="",
        test="a\tr\tc\nnew\tr\ta\n",
    )
    data = load_folder(folder)
    assert "new" in data.entity_ids
    result = train(data, make_config("distmult", {**TINY, "batch_size": 2}), tmp_path / "run",
                   show_progress=False)  # fmt: skip
    test = result.metrics["test"]
    assert test["triples"] == 2  # ranked, not dropped
    assert test["triples_with_unseen_entity"] == 1
    assert test["unseen_entities"] == 1


def test_a_diverging_loss_stops_with_the_step_and_cause(tmp_path: Path) -> None:
    data = family_graph(couples=20)
    config = make_config("distmult", {**TINY, "lr": 1e30, "init_scale": 1.0, "epochs": 5})
    with pytest.raises(
        TrainingError,
        match=r"loss became (nan|inf|[0-9.e+]+) at epoch \d+, step \d+.*learning rate \(1e\+30\)",
    ):
        train(data, config, tmp_path / "run", show_progress=False)


@pytest.mark.slow
@pytest.mark.parametrize("model", ["transe_l2", "rotate"])
def test_a_loss_that_grows_by_orders_of_magnitude_is_a_divergence_not_a_success(
    tmp_path: Path, model: str
) -> None:
    """lr 1e6 once reached a loss of 4e18 and was reported completed; now it stops."""
    config = make_config(model, {**TINY, "lr": 1e6, "epochs": 10})
    with pytest.raises(TrainingError, match=r"diverged.*learning rate \(1000000.0\)"):
        train(family_graph(couples=20), config, tmp_path / "run", show_progress=False)
    metrics = tmp_path / "run" / "metrics.json"
    assert not metrics.exists()  # never reported as a finished run


def test_a_job_over_the_memory_cap_is_refused_before_allocating(tmp_path: Path) -> None:
    data = family_graph(couples=20)
    config = make_config("rotate", {**TINY, "dim": 1_000_000})
    with pytest.raises(
        ResourceLimitError, match=r"needs about .* GiB .*more than the 0\.50 GiB allowed"
    ):
        train(data, config, tmp_path / "run", show_progress=False, max_memory="512m")
    assert not (tmp_path / "run").exists()  # nothing written


def test_an_existing_run_is_not_overwritten(tmp_path: Path) -> None:
    data = family_graph(couples=20)
    run = tmp_path / "run"
    train(data, make_config("transe_l2", TINY), run, show_progress=False)
    before = (run / "metrics.json").read_text()
    with pytest.raises(ConfigError, match="already holds files; pass --resume"):
        train(data, make_config("transe_l2", TINY), run, show_progress=False)
    with pytest.raises(ConfigError, match=r"cannot resume .* different dim"):
        train(data, make_config("transe_l2", {**TINY, "dim": 16}), run, resume=True,
              show_progress=False)  # fmt: skip
    assert (run / "metrics.json").read_text() == before


def test_cuda_without_a_device_is_a_clear_error(tmp_path: Path) -> None:
    import torch

    if torch.cuda.is_available():
        pytest.skip("this machine has CUDA")
    with pytest.raises(ConfigError, match="no CUDA device"):
        train(family_graph(couples=20), make_config("rotate", {**TINY, "device": "cuda"}),
              tmp_path / "run", show_progress=False)  # fmt: skip


def test_triple_sets_split_reproducibly() -> None:
    from mmkg.platform.export import TripleExport
    from mmkg.platform.kge.data import from_triple_set

    triples = np.stack(
        [np.arange(100) % 10, np.zeros(100, dtype=np.int64), (np.arange(100) * 3) % 10], 1
    )
    export = TripleExport(
        triples, [f"e{i}" for i in range(10)], ["r"], ["R"], [f"4:x:{i}" for i in range(10)], ["k"]
    ).to_triple_set()
    a, b = from_triple_set(export, 0.1, 0.1, seed=3), from_triple_set(export, 0.1, 0.1, seed=3)
    # The element ids travel along, for the write-back.
    assert a.entity_keys == [f"4:x:{i}" for i in range(10)] and a.relation_keys == ["k"]
    assert isinstance(a, KGDataset)
    assert (len(a.train), len(a.valid), len(a.test)) == (80, 10, 10)
    assert np.array_equal(a.test, b.test)
    with pytest.raises(DataError, match="fractions"):
        from_triple_set(export, 0.6, 0.5)
