"""Every pluggable family is one registry, and every registered entry has a test.

The contract tests run over each registry's names, so a new entry is exercised without anyone
remembering to; the coverage table below names the test that pins each entry to its formula,
and the meta-test fails for an entry nobody wrote such a test for.
"""

from __future__ import annotations

import importlib
import subprocess
import sys
from typing import Any

import numpy as np
import pytest
import torch

from mmkg.errors import ConfigError
from mmkg.platform.encoders.registry import ENCODERS
from mmkg.platform.kge.features import Modality
from mmkg.platform.kge.fusion import FUSIONS, FeatureBank, FeatureProjection, Fused
from mmkg.platform.kge.interactions import INTERACTIONS
from mmkg.platform.kge.losses import LOSSES, REGULARIZERS, regularization
from mmkg.platform.kge.optim import OPTIMIZERS, make_optimizer
from mmkg.platform.kge.representations import REPRESENTATIONS, EmbeddingTable, Representation
from mmkg.platform.kge.sampling import SAMPLERS, make_sampler
from mmkg.platform.kge.specs import MODELS
from mmkg.platform.registry import Registry

# registry -> entry -> "test module:test function" that checks the entry against its formula.
K = "tests.unit.kge."
R = "tests.unit.test_registries:"
LS = K + "test_losses_and_sampling:"
COVERAGE: dict[str, tuple[Registry[Any], dict[str, str]]] = {
    "model": (MODELS, {
        n: K + "test_models:test_single_triple_score_matches_all_entity_scores"
        for n in ("transe_l1", "transe_l2", "distmult", "complex", "rotate", "rotate_l2")
    }),
    "interaction": (INTERACTIONS, {
        n: K + "test_models:test_single_triple_score_matches_all_entity_scores"
        for n in ("transe", "distmult", "complex", "rotate")
    }),
    "loss": (LOSSES, {
        "margin": LS + "test_margin_loss_is_the_mean_hinge_over_negatives",
        "logistic": LS + "test_logistic_loss_weighs_positives_and_negatives_equally",
        "nssa": LS + "test_nssa_puts_the_margin_inside_the_log_sigmoid_as_pykeen_does",
        "softplus": LS + "test_softplus_loss_averages_every_score",
        "ce": R + "test_all_entity_losses_follow_their_formulas",
        "bce": R + "test_all_entity_losses_follow_their_formulas",
    }),
    "regularizer": (REGULARIZERS, {
        "l2": R + "test_l2_is_the_mean_squared_norm",
        "n3": LS + "test_n3_uses_complex_moduli",
    }),
    "optimizer": (OPTIMIZERS, {
        "adagrad": K + "test_optim:test_row_adagrad_touches_only_the_given_rows_and_follows_dgl_ke",
        "adagrad_elementwise": R + "test_elementwise_adagrad_equals_torch_adagrad",
        "adam": K + "test_optim:test_row_adam_equals_dense_adam_when_every_row_is_touched",
    }),
    "negative sampler": (SAMPLERS, {
        n: LS + "test_degree_sampler_follows_the_training_degree"
        for n in ("uniform", "degree")
    }),
    "representation": (REPRESENTATIONS, {
        n: R + "test_representations_keep_their_contract"
        for n in ("structure", "text", "image", "video", "numeric", "fused")
    }),
    "fusion": (FUSIONS, {
        n: K + "test_fusion:test_a_missing_modality_is_masked_and_an_unseen_entity_is_placed_"
        "by_its_features"
        for n in ("concat", "gate", "attention")
    }),
    "encoder": (ENCODERS, {
        "minilm": "tests.unit.test_encoders:test_minilm_is_bundled_loaded_once_and_normalised",
        "st": "tests.unit.test_encoders:test_unknown_and_missing_encoders_are_named",
        "clip": "tests.unit.test_encoders:test_clip_puts_texts_and_images_in_one_space",
        "cnn": "tests.unit.test_encoders:test_cnn_backbone",
        "effnet": "tests.unit.linking.test_images:"
        "test_effnet_encoder_gives_unit_image_features_that_find_the_same_scene",
    }),
}  # fmt: skip


@pytest.mark.parametrize("family", sorted(COVERAGE))
def test_every_registered_entry_has_a_test(family: str) -> None:
    registry, covered = COVERAGE[family]
    untested = set(registry.names()) - set(covered)
    assert not untested, f"{family} entries without a test: {sorted(untested)}"
    assert not set(covered) - set(registry.names()), "the table names entries that do not exist"
    for entry, where in covered.items():
        module, _, name = where.partition(":")
        assert callable(getattr(importlib.import_module(module), name, None)), f"{entry}: {where}"


def test_registries_resolve_aliases_and_name_the_choices() -> None:
    assert MODELS.canonical("TransE") == "transe_l2"
    with pytest.raises(ConfigError, match=r"unknown optimizer 'sgd'; choose one of adagrad"):
        OPTIMIZERS.get("sgd")
    with pytest.raises(ConfigError, match="unknown loss"):
        LOSSES.get("hinge2")
    assert "minilm" in ENCODERS.describe() and ENCODERS.describe()["clip"]["modalities"] == [
        "text", "image"
    ]  # fmt: skip


def _pair_inputs() -> tuple[torch.Tensor, torch.Tensor]:
    gen = torch.Generator().manual_seed(0)
    pos = torch.randn(6, generator=gen, requires_grad=True)
    neg = torch.randn(6, 5, generator=gen, requires_grad=True)
    return pos, neg


@pytest.mark.parametrize("name", LOSSES.names())
def test_every_loss_is_a_finite_differentiable_scalar(name: str) -> None:
    entry = LOSSES.entry(name)
    if entry.meta["training"] == "slcwa":
        pos, neg = _pair_inputs()
        value = entry.load()(pos, neg, torch.full((6, 5), 0.2), 1.0)  # type: ignore[call-arg]
        inputs = [pos, neg]
    else:
        scores = torch.randn(4, 9, requires_grad=True)
        targets = torch.tensor([1, 0, 8, 3]) if name == "ce" else (torch.rand(4, 9) > 0.7).float()
        value = entry.load()(scores, targets, 0.1)  # type: ignore[call-arg]
        inputs = [scores]
    assert value.dim() == 0 and torch.isfinite(value)
    value.backward()  # type: ignore[no-untyped-call]
    assert all(x.grad is not None and torch.isfinite(x.grad).all() for x in inputs)


def test_all_entity_losses_follow_their_formulas() -> None:
    scores = torch.tensor([[2.0, 0.0, -1.0], [0.5, 0.5, 3.0]])
    ce = LOSSES.get("ce")(scores, torch.tensor([0, 2]), 0.0)  # type: ignore[call-arg]
    log_softmax = torch.log_softmax(scores, dim=1)
    assert float(ce) == pytest.approx(float(-(log_softmax[0, 0] + log_softmax[1, 2]) / 2))
    labels = torch.tensor([[1.0, 0.0, 0.0], [0.0, 1.0, 1.0]])
    bce = LOSSES.get("bce")(scores, labels, 0.0)  # type: ignore[call-arg]
    p = torch.sigmoid(scores)
    want = -(labels * torch.log(p) + (1 - labels) * torch.log(1 - p)).mean()
    assert float(bce) == pytest.approx(float(want), rel=1e-6)


def test_l2_is_the_mean_squared_norm() -> None:
    x = torch.tensor([[1.0, 2.0], [3.0, 0.0]])
    y = torch.tensor([[0.5, 0.5]])
    got = regularization("l2", 0.1, [x, y], complex_=False)
    assert got is not None and float(got) == pytest.approx(0.1 * ((5 + 9) / 2 + 0.5))


@pytest.mark.parametrize("name", OPTIMIZERS.names())
def test_every_optimizer_lowers_a_quadratic_and_leaves_other_rows(name: str) -> None:
    weight = torch.ones(5, 3)
    optimizer = make_optimizer(name, 0.1)
    state = optimizer.init_state(weight)
    rows = torch.tensor([1, 3])
    for _ in range(20):
        grad = 2 * weight[rows]  # d/dw |w|^2
        optimizer.update(weight, state, rows, grad)
    assert float(weight[rows].norm()) < float(torch.ones(2, 3).norm())
    assert torch.equal(weight[[0, 2, 4]], torch.ones(3, 3))


def test_elementwise_adagrad_equals_torch_adagrad() -> None:
    gen = torch.Generator().manual_seed(3)
    start = torch.randn(4, 6, generator=gen)
    ours = start.clone()
    opt = make_optimizer("adagrad_elementwise", 0.05)
    state = opt.init_state(ours)
    dense = torch.nn.Parameter(start.clone())
    reference = torch.optim.Adagrad([dense], lr=0.05, eps=1e-10)
    every = torch.arange(4)
    for _ in range(5):
        grad = torch.randn(4, 6, generator=gen)
        opt.update(ours, state, every, grad)
        reference.zero_grad()
        dense.grad = grad.clone()
        reference.step()
    torch.testing.assert_close(ours, dense.detach(), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("name", SAMPLERS.names())
def test_every_sampler_draws_valid_entities(name: str) -> None:
    train = np.array([[0, 0, 1], [2, 0, 3]], dtype=np.int64)
    draws = make_sampler(name, 7, train).sample((50, 4), torch.Generator().manual_seed(1))
    assert draws.shape == (50, 4) and int(draws.min()) >= 0 and int(draws.max()) < 7


def _representation(name: str, seed: int = 0) -> Representation:
    """A small instance of each registered representation."""
    cls = REPRESENTATIONS.get(name)
    gen = torch.Generator().manual_seed(seed)
    table = EmbeddingTable(6, 4, make_optimizer("adagrad", 0.5), generator=gen)
    if cls is EmbeddingTable:
        return table
    rng = np.random.default_rng(0)  # the same frozen features; ``seed`` varies the parameters
    modality = Modality(name, rng.normal(size=(6, 5)).astype(np.float32),
                        np.array([1, 1, 0, 1, 1, 1], bool), "test@1")  # fmt: skip
    bank = FeatureBank(modality, torch.device("cpu"))
    if cls is FeatureProjection:
        return FeatureProjection(bank, 4, "linear", 0.5, gen, lr=0.05)
    assert cls is Fused
    part = FeatureProjection(bank, 4, "linear", 0.5, gen)
    return Fused(table, [part], "attention", gen, np.ones(6, bool), lr=0.05)


@pytest.mark.parametrize("name", REPRESENTATIONS.names())
def test_representations_keep_their_contract(name: str) -> None:
    table = _representation(name)
    before = table.all().clone()
    rows = table.gather(torch.tensor([1, 4]))
    (rows**2).sum().backward()  # type: ignore[no-untyped-call]
    table.step(torch.tensor([1, 4]), rows)
    after = table.all()
    assert not torch.equal(after[[1, 4]], before[[1, 4]])
    if isinstance(table, EmbeddingTable):
        # Sparse: rows a step did not gather are untouched.
        assert torch.equal(after[[0, 2, 3, 5]], before[[0, 2, 3, 5]])
    state = table.state()
    copy = _representation(name, seed=1)
    assert not torch.equal(copy.all(), table.all())
    copy.load_state(state)
    assert torch.equal(copy.all(), table.all())
    assert table.to_numpy().dtype == np.float32 and table.lookup(torch.tensor([2])).shape == (1, 4)


def _imports_after(code: str) -> set[str]:
    out = subprocess.run(
        [sys.executable, "-c", code + "\nimport sys; print('\\n'.join(sorted(sys.modules)))"],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    return set(out.stdout.split())


def test_the_kge_package_imports_nothing_from_the_database_layer() -> None:
    code = "\n".join(
        f"import mmkg.platform.kge.{m}"
        for m in ("artifact", "callbacks", "cold_split", "config", "data", "evaluate", "features",
                  "foldin", "fusion", "hogwild", "interactions", "losses", "memory", "models",
                  "optim", "representations",
                  "run_dir", "sampling", "specs", "steps", "trainer", "triples")
    )  # fmt: skip
    loaded = _imports_after(code)
    assert "neo4j" not in loaded
    assert not {m for m in loaded if m.startswith(("mmkg.platform.store", "mmkg.platform.export"))}


def test_configurations_validate_and_encoders_list_without_heavy_imports() -> None:
    loaded = _imports_after(
        "from mmkg.platform.kge.config import make_config\n"
        "make_config('rotate', {'dim': 64})\n"
        "from mmkg.platform.encoders.registry import ENCODERS\n"
        "assert ENCODERS.names()\n"
    )
    assert "torch" not in loaded
    assert "sentence_transformers" not in loaded and "transformers" not in loaded
