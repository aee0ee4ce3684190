"""Losses, regularisers and negative samplers against their formulas."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from mmkg.platform.kge.losses import negative_weights, regularization, slcwa_loss
from mmkg.platform.kge.sampling import make_sampler

POS = torch.tensor([2.0, -1.0])
NEG = torch.tensor([[1.0, 3.0], [0.0, -2.0]])


def _sig(x: float) -> float:
    return 1.0 / (1.0 + math.exp(-x))


def test_margin_loss_is_the_mean_hinge_over_negatives() -> None:
    # rows: [1-2+1, 1-2+3] → [0, 2]; [1+1+0, 1+1-2] → [2, 0]; means 1 and 1
    assert slcwa_loss(POS, NEG, "margin", 1.0, 0.0).item() == pytest.approx(1.0)


def test_logistic_loss_weighs_positives_and_negatives_equally() -> None:
    pos = -(math.log(_sig(2.0)) + math.log(_sig(-1.0))) / 2
    neg = (
        -(
            (math.log(_sig(-1.0)) + math.log(_sig(-3.0))) / 2
            + (math.log(_sig(0.0)) + math.log(_sig(2.0))) / 2
        )
        / 2
    )
    assert slcwa_loss(POS, NEG, "logistic", 1.0, 0.0).item() == pytest.approx((pos + neg) / 2)


def test_nssa_puts_the_margin_inside_the_log_sigmoid_as_pykeen_does() -> None:
    m, alpha = 9.0, 0.5
    w = [[math.exp(alpha * a) / sum(math.exp(alpha * b) for b in row) for a in row]
         for row in NEG.tolist()]  # fmt: skip
    pos = -sum(math.log(_sig(m + s)) for s in POS.tolist()) / 2
    neg = (
        -sum(
            sum(wi * math.log(_sig(-s - m)) for wi, s in zip(wrow, row, strict=True))
            for wrow, row in zip(w, NEG.tolist(), strict=True)
        )
        / 2
    )
    ours = slcwa_loss(POS, NEG, "nssa", m, alpha).item()
    assert ours == pytest.approx((pos + neg) / 2, rel=1e-6)
    # ... and equals PyKEEN's own NSSALoss on random scores of every sign.
    from pykeen.losses import NSSALoss

    gen = torch.Generator().manual_seed(3)
    p, n = torch.randn(64, generator=gen) * 5, torch.randn(64, 32, generator=gen) * 5
    for margin, temperature in ((9.0, 1.0), (3.0, 0.5), (0.0, 2.0)):
        theirs = NSSALoss(margin=margin, adversarial_temperature=temperature)
        expected = theirs.process_slcwa_scores(positive_scores=p, negative_scores=n)
        assert slcwa_loss(p, n, "nssa", margin, temperature).item() == pytest.approx(
            expected.item(), rel=1e-5
        )


def test_softplus_loss_averages_every_score() -> None:
    scores = [-2.0, 1.0, 1.0, 3.0, 0.0, -2.0]  # -y·s for the two positives, then negatives
    expected = sum(math.log1p(math.exp(s)) for s in scores) / 6
    assert slcwa_loss(POS, NEG, "softplus", 1.0, 0.0).item() == pytest.approx(expected, rel=1e-6)


def test_self_adversarial_weights_favour_hard_negatives_without_gradient() -> None:
    neg = torch.tensor([[0.0, 2.0]], requires_grad=True)
    weights = negative_weights(neg, 1.0)
    assert not weights.requires_grad
    assert weights[0, 1] > weights[0, 0]
    assert weights.sum().item() == pytest.approx(1.0)
    assert torch.equal(negative_weights(neg, 0.0), torch.full((1, 2), 0.5))


def test_n3_uses_complex_moduli() -> None:
    x = torch.tensor([[3.0, 0.0, 4.0, 1.0]])  # complex (3+4i), (0+1i): moduli 5 and 1
    value = regularization("n3", 0.1, [x], complex_=True)
    assert value is not None and value.item() == pytest.approx(0.1 * (125 + 1))
    l2 = regularization("l2", 0.5, [x], complex_=True)
    assert l2 is not None and l2.item() == pytest.approx(0.5 * 26)
    assert regularization("none", 1.0, [x], complex_=False) is None


def test_degree_sampler_follows_the_training_degree() -> None:
    # entity 0 appears in every triple; entities 1..9 once each; entity 10 never.
    train = np.array([[0, 0, i] for i in range(1, 10)], dtype=np.int64)
    sampler = make_sampler("degree", 11, train)
    draws = sampler.sample((20_000,), torch.Generator().manual_seed(0)).numpy()
    counts = np.bincount(draws, minlength=11) / len(draws)
    degree = np.array([9] + [1] * 9 + [0]) + 1.0
    np.testing.assert_allclose(counts, degree / degree.sum(), atol=0.01)
    uniform = make_sampler("uniform", 11, train).sample((1000,), torch.Generator())
    assert int(uniform.min()) >= 0 and int(uniform.max()) <= 10


@pytest.mark.parametrize("name", ["rotate_l2", "rotate", "transe_l1", "distmult"])
def test_dense_scoring_of_shared_negatives_gives_the_same_loss_and_gradients(
    name: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """On a small graph a step scores every positive against all its distinct entities and
    picks its negatives' scores out; that must change nothing but the speed."""
    from mmkg.platform.kge import steps
    from mmkg.platform.kge.config import make_config
    from mmkg.platform.kge.models import build_model
    from mmkg.platform.kge.steps import StepRunner

    rng = np.random.default_rng(0)
    train = np.stack([rng.integers(0, 30, 200), rng.integers(0, 3, 200), rng.integers(0, 30, 200)],
                     1).astype(np.int64)  # fmt: skip
    config = make_config(name, {"dim": 8, "negatives": 24, "neg_chunk_size": 4, "num_procs": 1,
                                "training": "slcwa", "loss": "nssa", "margin": 3.0,
                                "reciprocal": False})  # fmt: skip
    results = []
    for dense in (True, False):
        model = build_model(config, 30, 3, torch.Generator().manual_seed(1))
        runner = StepRunner(model, config, train)
        # A ratio of 0 never takes the dense route: the gathered negatives are scored.
        monkeypatch.setattr(steps, "DENSE_SCORING_RATIO", steps.DENSE_SCORING_RATIO if dense else 0)
        per_step = []
        for step in (0, 1):  # tails corrupted, then heads
            total, _, updates = runner._slcwa(
                runner.rows[:64], step, torch.Generator().manual_seed(7)
            )
            total.backward()  # type: ignore[no-untyped-call]
            per_step.append((total.detach(), [u[2].grad.clone() for u in updates]))
        results.append(per_step)
    # 64 positives touch at most 30 entities (the dense route is taken) against 24 negatives.
    for (loss_a, grads_a), (loss_b, grads_b) in zip(*results, strict=True):
        torch.testing.assert_close(loss_a, loss_b, rtol=1e-5, atol=1e-6)
        for a, b in zip(grads_a, grads_b, strict=True):
            torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-6)
