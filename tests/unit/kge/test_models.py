"""Every registered model scores a triple the same way in all three scoring shapes."""

from __future__ import annotations

import pytest
import torch

from mmkg.errors import ConfigError
from mmkg.platform.kge.config import make_config
from mmkg.platform.kge.models import MODELS, build_model, model_spec

NUM_E, NUM_R = 23, 4


@pytest.mark.parametrize("name", sorted(MODELS))
@pytest.mark.parametrize("compiled", [True, False], ids=["compiled", "eager"])
def test_single_triple_score_matches_all_entity_scores(name: str, compiled: bool) -> None:
    config = make_config(
        name,
        {"dim": 16, "init": "normal", "init_scale": 0.5, "compile": compiled,
         "training": "slcwa", "loss": "logistic", "reciprocal": False},
    )  # fmt: skip
    from mmkg.platform.kge.kernels import set_compile

    set_compile(compiled)
    try:
        model = build_model(config, NUM_E, NUM_R, torch.Generator().manual_seed(1))
        gen = torch.Generator().manual_seed(2)
        hrt = torch.stack(
            [
                torch.randint(0, NUM_E, (40,), generator=gen),
                torch.randint(0, NUM_R, (40,), generator=gen),
                torch.randint(0, NUM_E, (40,), generator=gen),
            ],
            dim=1,
        )
        single = model.score_hrt(hrt)
        tails = model.score_t(hrt[:, 0], hrt[:, 1])
        heads = model.score_h(hrt[:, 1], hrt[:, 2])
    finally:
        set_compile(True)
    assert tails.shape == heads.shape == (40, NUM_E)
    rows = torch.arange(40)
    torch.testing.assert_close(tails[rows, hrt[:, 2]], single, rtol=1e-4, atol=1e-4)
    torch.testing.assert_close(heads[rows, hrt[:, 0]], single, rtol=1e-4, atol=1e-4)
    # The scores differ between entities: the model is not constant.
    assert tails.std() > 0


@pytest.mark.parametrize("name", ["distmult", "complex"])
def test_reciprocal_models_answer_head_queries_with_the_inverse_relation(name: str) -> None:
    config = make_config(name, {"dim": 16, "init_scale": 0.5})
    assert config.reciprocal
    model = build_model(config, NUM_E, NUM_R, torch.Generator().manual_seed(3))
    h, r, t = torch.tensor([1, 5]), torch.tensor([0, 3]), torch.tensor([7, 2])
    heads = model.score_h(r, t)
    inverse = model.score_hrt(torch.stack([t, r + NUM_R, h], dim=1))
    torch.testing.assert_close(heads[torch.arange(2), h], inverse)


def test_unknown_model_names_the_choices() -> None:
    with pytest.raises(ConfigError, match=r"unknown model 'transH'.*complex.*rotate"):
        model_spec("transH")
    assert model_spec("TransE").name == "transe_l2"


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"dim": 0}, "dim: Input should be greater than 0"),
        ({"dim": -5}, "dim"),
        ({"dim": 15}, "even dim"),
        ({"lr": 0}, "lr"),
        ({"loss": "bce"}, "kvsall/1vsall"),
        ({"device": "tpu"}, "device must be cpu or cuda"),
        ({"unknown_option": 1}, "unknown_option"),
    ],
)
def test_invalid_configurations_are_refused_with_the_field_named(
    overrides: dict[str, object], message: str
) -> None:
    with pytest.raises(ConfigError, match=message):
        make_config("rotate", overrides)


def test_all_entity_training_needs_a_matrix_product_model() -> None:
    with pytest.raises(ConfigError, match="distmult or complex"):
        make_config("rotate", {"training": "1vsall", "loss": "ce", "reciprocal": True})


def test_rotate_l2_scores_as_pykeens_rotate_interaction() -> None:
    from pykeen.nn.modules import RotatEInteraction

    from mmkg.platform.kge.interactions import RotatE

    gen = torch.Generator().manual_seed(3)
    dim = 12  # 6 complex dimensions
    h, t = torch.randn(5, dim, generator=gen), torch.randn(5, dim, generator=gen)
    phases = torch.rand(5, dim // 2, generator=gen) * 6.28
    ours = RotatE(dim, gamma=0.0, emb_init=torch.pi, norm="l2")
    r = ours.prepare_relation(phases)
    mine = ours.score(h, r, t)

    def as_complex(x: torch.Tensor) -> torch.Tensor:
        return torch.complex(x[..., : dim // 2], x[..., dim // 2 :])

    theirs = RotatEInteraction()(as_complex(h), torch.polar(torch.ones_like(phases), phases),
                                 as_complex(t))  # fmt: skip
    torch.testing.assert_close(mine, theirs.float(), rtol=1e-4, atol=1e-4)
    with pytest.raises(ConfigError, match="modulus or l2"):
        RotatE(dim, 0.0, norm="l3")
