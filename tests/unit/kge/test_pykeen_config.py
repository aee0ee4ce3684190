"""A PyKEEN pipeline configuration becomes the closest mmkg run, and says what it cannot keep."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from mmkg.errors import ConfigError
from mmkg.platform.kge.config import make_config
from mmkg.platform.kge.pykeen_config import map_pykeen_config, read_pykeen_config

# The RotatE configuration of PyKEEN's documentation, as a reproducibility file.
ROTATE = {
    "metadata": {"title": "RotatE"},
    "pipeline": {
        "dataset": "kinships", "model": "RotatE", "model_kwargs": {"embedding_dim": 200},
        "loss": "NSSALoss", "loss_kwargs": {"margin": 9, "adversarial_temperature": 1.0},
        "optimizer": "Adam", "optimizer_kwargs": {"lr": 0.005},
        "negative_sampler": "basic", "negative_sampler_kwargs": {"num_negs_per_pos": 64},
        "training_kwargs": {"num_epochs": 100, "batch_size": 256},
    },
}  # fmt: skip


def test_pykeens_rotate_configuration_maps_setting_by_setting(tmp_path: Path) -> None:
    path = tmp_path / "rotate.json"
    path.write_text(json.dumps(ROTATE))
    mapped = read_pykeen_config(path)
    config = make_config(mapped.model, mapped.overrides)
    assert config.model == "rotate_l2"  # PyKEEN's RotatE distance: the complex L2 norm
    assert config.init_scale == pytest.approx(3.14159, abs=1e-5)  # phases in radians
    assert config.dim == 400  # 200 complex dimensions
    assert (config.loss, config.margin, config.adversarial_temperature) == ("nssa", 9.0, 1.0)
    assert config.gamma == 0.0  # PyKEEN scores -d: the margin lives in the loss only
    assert (config.optimizer, config.lr) == ("adam", 0.005)
    assert (config.negatives, config.neg_chunk_size) == (64, 1)
    assert (config.epochs, config.batch_size, config.training) == (100, 256, "slcwa")
    notes = " | ".join(mapped.unhonoured)
    assert "lazy" in notes and "dataset" in notes


def test_what_pykeen_defaults_to_is_what_mmkg_runs() -> None:
    transe = map_pykeen_config({"model": "TransE"})
    config = make_config(transe.model, transe.overrides)
    # PyKEEN: TransE L1, dim 50, unit-norm entities, margin ranking 1.0, Adam 0.001,
    # 5 epochs of batch 32 (its CPU fallback) with one negative per positive.
    assert config.model == "transe_l1" and config.dim == 50 and config.entity_norm
    assert (config.loss, config.margin, config.adversarial_temperature) == ("margin", 1.0, 0.0)
    assert (config.optimizer, config.lr, config.epochs, config.batch_size) == ("adam", 0.001, 5, 32)
    assert config.negatives == 1
    complex_ = map_pykeen_config({"model": "complex", "optimizer": "adagrad"})
    config = make_config(complex_.model, complex_.overrides)
    # ComplEx: 200 complex dimensions, softplus, sLCWA although mmkg's default is 1vsAll.
    assert (config.dim, config.loss, config.training, config.reciprocal) == (
        400,
        "softplus",
        "slcwa",
        False,
    )
    assert (config.optimizer, config.lr) == ("adagrad_elementwise", 0.01)
    assert config.regularizer == "l2" and any("Lp" in n for n in complex_.unhonoured)


def test_lcwa_becomes_all_entities_training_with_reciprocal_relations() -> None:
    mapped = map_pykeen_config({"model": "DistMult", "training_loop": "LCWA",
                                "loss": "CrossEntropyLoss"})  # fmt: skip
    config = make_config(mapped.model, mapped.overrides)
    assert (config.training, config.loss, config.reciprocal) == ("1vsall", "ce", True)
    assert any("LCWA" in n for n in mapped.unhonoured)


def test_early_stopping_seed_and_unknown_settings() -> None:
    mapped = map_pykeen_config({
        "model": "TransE", "model_kwargs": {"scoring_fct_norm": 2, "power_norm": True},
        "stopper": "early", "stopper_kwargs": {"frequency": 5, "patience": 3},
        "random_seed": 7, "lr_scheduler": "StepLR",
        "optimizer_kwargs": {"lr": 0.01, "weight_decay": 0.1},
    })  # fmt: skip
    config = make_config(mapped.model, mapped.overrides)
    assert config.model == "transe_l2" and config.seed == 7
    assert (config.eval_every, config.patience, config.lr) == (5, 3, 0.01)
    notes = " | ".join(mapped.unhonoured)
    for ignored in ("model_kwargs.power_norm", "lr_scheduler", "optimizer_kwargs.weight_decay"):
        assert ignored in notes


@pytest.mark.parametrize(
    ("config", "named"),
    [
        ({"model": "ConvE"}, "ConvE"),
        ({"model": "RotatE", "loss": "PairwiseLogisticLoss"}, "PairwiseLogisticLoss"),
        ({"model": "RotatE", "optimizer": "SGD"}, "SGD"),
        ({"model": "RotatE", "training_loop": "LCWA"}, "sLCWA only"),
        ({"model": "TransE", "model_kwargs": {"scoring_fct_norm": 3}}, "scoring_fct_norm 3"),
        ({"model": "RotatE", "loss_kwargs": [1, 2]}, "loss_kwargs"),
    ],
)
def test_what_cannot_be_run_is_refused_by_name(config: dict[str, object], named: str) -> None:
    with pytest.raises(ConfigError, match=named):
        map_pykeen_config(config)


def test_a_broken_file_is_named_with_its_line(tmp_path: Path) -> None:
    path = tmp_path / "bad.json"
    path.write_text('{\n  "model": "RotatE",\n  oops\n}')
    with pytest.raises(ConfigError, match=r"bad.json:3"):
        read_pykeen_config(path)


def test_initialisation_follows_pykeens_per_model_defaults() -> None:
    complex_ = make_config(*_mapped({"model": "ComplEx"}))
    assert (complex_.init, complex_.init_scale) == ("normal", 1.0)
    rotate = make_config(*_mapped({"model": "RotatE"}))
    assert rotate.init == "xavier"
    transe = map_pykeen_config({"model": "TransE"})
    assert any("unit norm" in n for n in transe.unhonoured)


def _mapped(raw: dict[str, object]) -> tuple[str, dict[str, object]]:
    mapped = map_pykeen_config(raw)
    return mapped.model, mapped.overrides


def test_the_epochs_shorthand_of_pipeline_is_honoured() -> None:
    mapped = map_pykeen_config({"model": "TransE", "epochs": 12})
    assert mapped.overrides["epochs"] == 12 and not any("epochs" in n for n in mapped.unhonoured)
