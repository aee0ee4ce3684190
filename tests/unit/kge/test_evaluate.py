"""The filtered evaluator: hand-made cases, and agreement with PyKEEN's RankBasedEvaluator."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from mmkg.platform.kge.config import make_config
from mmkg.platform.kge.evaluate import FilterIndex, _ranks_of, evaluate
from mmkg.platform.kge.models import KGEModel, build_model


def test_filter_index_lists_the_known_answers_of_each_query() -> None:
    known = np.array([[0, 0, 1], [0, 0, 2], [3, 0, 1], [0, 1, 4]])
    index = FilterIndex(known, num_relations=2)
    rows, cols = index.positions("tail", np.array([0, 0, 5]), np.array([0, 1, 0]))
    assert sorted(zip(rows.tolist(), cols.tolist(), strict=True)) == [(0, 1), (0, 2), (1, 4)]
    rows, cols = index.positions("head", np.array([1]), np.array([0]))
    assert sorted(cols.tolist()) == [0, 3]


def test_ties_are_ranked_by_their_mean_and_nan_counts_against_the_model() -> None:
    scores = torch.tensor(
        [
            [0.5, 0.9, 0.5, 0.5, 0.1],  # target 0: one better, two tied → 2 + 2/2 = 3
            [0.5, 0.9, float("nan"), 0.1, 0.7],  # target 0: 0.9, 0.7 and NaN above → 4
            [0.3, 0.9, 0.3, 0.8, 0.0],  # target 2: 0.9 and 0.8 filtered out, one tie → 1.5
        ]
    )
    ranks = _ranks_of(
        scores, torch.tensor([0, 0, 2]), torch.tensor([2, 2, 2]), torch.tensor([1, 3, 2])
    )
    assert ranks.tolist() == [3.0, 4.0, 1.5]


def _random_graph(num_e: int, num_r: int, n: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    triples = np.stack(
        [rng.integers(0, num_e, n), rng.integers(0, num_r, n), rng.integers(0, num_e, n)], 1
    )
    return np.unique(triples, axis=0)


def _pykeen_metrics(
    pykeen_model_cls: type, model: KGEModel, splits: dict[str, np.ndarray], **kwargs: object
) -> dict[str, float]:
    pytest.importorskip("pykeen")
    from pykeen.evaluation import RankBasedEvaluator
    from pykeen.triples import CoreTriplesFactory

    mapped = {k: torch.from_numpy(v) for k, v in splits.items()}
    factory = CoreTriplesFactory.create(
        mapped["train"], num_entities=model.num_entities, num_relations=model.num_relations
    )
    theirs = pykeen_model_cls(triples_factory=factory, embedding_dim=model.entities.dim, **kwargs)
    with torch.no_grad():
        theirs.entity_representations[0]._embeddings.weight.copy_(model.entities.all())
        theirs.relation_representations[0]._embeddings.weight.copy_(model.relations.all())
    result = RankBasedEvaluator(filtered=True).evaluate(
        theirs,
        mapped["test"],
        additional_filter_triples=[mapped["train"], mapped["valid"]],
        batch_size=64,
        use_tqdm=False,
    )
    out = {}
    for side in ("both", "head", "tail"):
        out[f"{side}.mrr"] = result.get_metric(f"{side}.realistic.inverse_harmonic_mean_rank")
        out[f"{side}.mr"] = result.get_metric(f"{side}.realistic.arithmetic_mean_rank")
        for k in (1, 3, 10):
            out[f"{side}.hits@{k}"] = result.get_metric(f"{side}.realistic.hits_at_{k}")
    return out


def _ours(model: KGEModel, splits: dict[str, np.ndarray]) -> dict[str, float]:
    known = np.concatenate(list(splits.values()))
    result = evaluate(model, splits["test"], FilterIndex(known, model.num_relations), 37, False)
    return {
        f"{side}.{metric}": value
        for side, metrics in result.metrics.items()
        for metric, value in metrics.items()
    }


@pytest.mark.parametrize("case", ["distmult", "distmult_ties", "transe"])
def test_agrees_with_pykeen_rank_based_evaluator(case: str) -> None:
    pykeen_models = pytest.importorskip("pykeen.models")
    triples = _random_graph(num_e=60, num_r=3, n=900, seed=7)
    rng = np.random.default_rng(0)
    rng.shuffle(triples)
    splits = {"train": triples[:600], "valid": triples[600:700], "test": triples[700:]}
    name = "transe_l2" if case == "transe" else "distmult"
    overrides = {"dim": 8, "init": "normal", "init_scale": 1.0}
    if name == "distmult":
        overrides.update(training="slcwa", loss="logistic", reciprocal=False)
    model = build_model(make_config(name, overrides), 60, 3, torch.Generator().manual_seed(5))
    if case == "distmult_ties":
        # Values in {-1, 0, 1} give many exactly tied scores.
        model.entities.all().copy_(torch.round(model.entities.all().clamp(-1, 1)))
        model.relations.all().copy_(torch.round(model.relations.all().clamp(-1, 1)))
    if case == "transe":
        theirs = _pykeen_metrics(pykeen_models.TransE, model, splits, scoring_fct_norm=2)
    else:
        theirs = _pykeen_metrics(pykeen_models.DistMult, model, splits)
    ours = _ours(model, splits)
    assert ours.keys() == theirs.keys()
    for key, value in theirs.items():
        assert ours[key] == pytest.approx(value, rel=1e-5, abs=1e-6), key
    if case == "distmult_ties":
        assert ours["both.mr"] != pytest.approx(_optimistic_mr(model, splits))


def _optimistic_mr(model: KGEModel, splits: dict[str, np.ndarray]) -> float:
    """MR with ties counted optimistically: differs from the realistic MR when ties exist."""
    test = torch.from_numpy(splits["test"])
    scores = model.score_t(test[:, 0], test[:, 1])
    true = scores.gather(1, test[:, 2:3])
    return float(((scores > true).sum(1) + 1).double().mean())


def test_unfiltered_ranks_are_never_better_than_filtered() -> None:
    triples = _random_graph(num_e=40, num_r=2, n=500, seed=3)
    model = build_model(
        make_config("transe_l2", {"dim": 8}), 40, 2, torch.Generator().manual_seed(0)
    )
    filtered = evaluate(model, triples[:100], FilterIndex(triples, 2), 0, False)
    raw = evaluate(model, triples[:100], None, 0, False)
    assert np.all(raw.ranks["tail"] >= filtered.ranks["tail"])
    assert raw.mrr < filtered.mrr
