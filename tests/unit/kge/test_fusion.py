"""Fused representations: every interaction with every representation, masks, cold start,
the dense optimizer, the alignment term, and training end to end."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from mmkg.errors import ConfigError
from mmkg.platform.kge.config import make_config
from mmkg.platform.kge.data import KGDataset
from mmkg.platform.kge.features import Modality
from mmkg.platform.kge.fusion import FUSIONS, FeatureBank, FeatureProjection, Fused
from mmkg.platform.kge.interactions import build_interaction
from mmkg.platform.kge.models import MODELS, KGEModel, build_model, model_spec
from mmkg.platform.kge.representations import EmbeddingTable
from mmkg.platform.kge.trainer import Trainer

NUM_E, NUM_R, WIDTH = 23, 4, 12


def _modalities(seed: int = 0, present: float = 0.7) -> list[Modality]:
    rng = np.random.default_rng(seed)
    text = rng.normal(size=(NUM_E, WIDTH)).astype(np.float16)
    numeric = rng.normal(size=(NUM_E, 6)).astype(np.float32)
    return [
        Modality("text", text, rng.random(NUM_E) < present, "test@1"),
        Modality("numeric", numeric, rng.random(NUM_E) < present, "literals:test"),
    ]


def _triples(n: int = 40, seed: int = 2) -> torch.Tensor:
    gen = torch.Generator().manual_seed(seed)
    return torch.stack(
        [
            torch.randint(0, NUM_E, (n,), generator=gen),
            torch.randint(0, NUM_R, (n,), generator=gen),
            torch.randint(0, NUM_E, (n,), generator=gen),
        ],
        dim=1,
    )


def _fused_model(name: str, fusion: str, **extra: object) -> KGEModel:
    config = make_config(
        name,
        {"dim": 16, "init": "normal", "init_scale": 0.5, "compile": False, "training": "slcwa",
         "loss": "logistic", "reciprocal": False, "fusion": fusion, **extra},
    )  # fmt: skip
    seen = np.ones(NUM_E, dtype=bool)
    seen[:3] = False
    return build_model(
        config, NUM_E, NUM_R, torch.Generator().manual_seed(1), features=_modalities(), seen=seen
    )


def _feature_only_model(name: str) -> KGEModel:
    spec = model_spec(name)
    interaction = build_interaction(spec, 16, 6.0)
    config = make_config(name, {"dim": 16, "init_scale": 0.5})
    plain = build_model(config, NUM_E, NUM_R, torch.Generator().manual_seed(1))
    text = FeatureProjection(
        FeatureBank(_modalities()[0], torch.device("cpu")), 16, "mlp", 0.5,
        torch.Generator().manual_seed(4),
    )  # fmt: skip
    return KGEModel(interaction, text, plain.relations, NUM_R, False, spec)


REPRESENTATION_CASES = ["fused-concat", "fused-gate", "fused-attention", "text-mlp"]


@pytest.mark.parametrize("name", sorted(MODELS))
@pytest.mark.parametrize("case", REPRESENTATION_CASES)
def test_every_interaction_scores_a_triple_as_all_entities_with_every_representation(
    name: str, case: str
) -> None:
    from mmkg.platform.kge.kernels import set_compile

    set_compile(False)
    try:
        if case.startswith("fused-"):
            model = _fused_model(name, case.split("-", 1)[1])
        else:
            model = _feature_only_model(name)
        hrt = _triples()
        single = model.score_hrt(hrt)
        tails = model.score_t(hrt[:, 0], hrt[:, 1])
        heads = model.score_h(hrt[:, 1], hrt[:, 2])
    finally:
        set_compile(True)
    rows = torch.arange(len(hrt))
    torch.testing.assert_close(tails[rows, hrt[:, 2]], single, rtol=1e-4, atol=1e-4)
    torch.testing.assert_close(heads[rows, hrt[:, 0]], single, rtol=1e-4, atol=1e-4)
    assert tails.std() > 0
    # Training gathers the same vectors as evaluation when nothing is dropped.
    entities = model.entities
    if isinstance(entities, Fused):
        entities.structure_dropout = 0.0
    index = torch.tensor([0, 4, 9, 22])
    torch.testing.assert_close(entities.gather(index).detach(), entities.all()[index])


@pytest.mark.parametrize("fusion", FUSIONS.names())
def test_a_missing_modality_is_masked_and_an_unseen_entity_is_placed_by_its_features(
    fusion: str,
) -> None:
    model = _fused_model("distmult", fusion)
    fused = model.entities
    assert isinstance(fused, Fused)
    text = fused.parts[0].bank  # type: ignore[union-attr]
    absent = int(np.flatnonzero(~_modalities()[0].mask)[0])
    before = fused.all().clone()
    # Changing the features of an entity that lacks the modality changes nothing: the mask,
    # not the stored values, says it is absent.
    text.modality.values = np.array(text.modality.values, copy=True)
    text.modality.values[absent] = 100.0
    fused._cache = None
    torch.testing.assert_close(fused.all(), before)
    # An entity without training triples (rows 0-2 are unseen) that has a modality does not
    # depend on its untrained structural row.
    cold = next(i for i in range(3) if _modalities()[0].mask[i] or _modalities()[1].mask[i])
    with torch.no_grad():
        fused.structure.weight[cold] += 5.0
        fused.structure.weight[10] += 5.0
    fused._cache = None
    after = fused.all()
    torch.testing.assert_close(after[cold], before[cold])
    assert not torch.allclose(after[10], before[10])


def test_a_step_updates_the_dense_parameters_and_only_the_touched_structural_rows() -> None:
    model = _fused_model("transe_l1", "attention", align_weight=0.5)
    fused = model.entities
    assert isinstance(fused, Fused)
    weight_before = fused.structure.weight.clone()
    dense_before = {k: v.clone() for k, v in fused.dense_state().items()}
    index = torch.tensor([3, 5, 8, 13, 21])
    rows = fused.gather(index)
    aux = fused.auxiliary_loss()
    assert aux is not None and float(aux.detach()) > 0
    (rows.square().sum() + aux).backward()  # type: ignore[no-untyped-call]
    fused.step(index, rows)
    changed = (fused.structure.weight != weight_before).any(1)
    assert changed[index].all() and not changed[~torch.isin(torch.arange(NUM_E), index)].any()
    after = fused.dense_state()
    assert any(not torch.equal(after[k], dense_before[k]) for k in after)
    assert fused.auxiliary_loss() is None  # consumed once


def test_alignment_is_infonce_between_each_projection_and_the_structure() -> None:
    model = _fused_model("distmult", "concat", align_weight=1.0, align_temperature=0.5)
    fused = model.entities
    assert isinstance(fused, Fused)
    index = torch.arange(NUM_E)
    structure = fused.structure.lookup(index)
    vectors = [p.vectors(index) for p in fused.parts]  # type: ignore[operator]
    masks = [fused.seen[index]] + [m for _, m in vectors]
    got = fused._alignment(index, structure, [v for v, _ in vectors], masks)
    anchors = [structure] + [v for v, _ in vectors]
    want, pairs = torch.zeros(()), 0
    for i in range(1, 3):
        for j in range(i):
            both = masks[i] & masks[j]
            a = torch.nn.functional.normalize(anchors[i][both], dim=1)
            b = torch.nn.functional.normalize(anchors[j][both], dim=1)
            logits = a @ b.T / 0.5
            want = want - torch.log_softmax(logits, 1).diagonal().mean()
            pairs += 1
    torch.testing.assert_close(got, want / pairs)


def test_state_round_trip_restores_the_fused_vectors() -> None:
    model = _fused_model("rotate", "gate")
    fused = model.entities
    assert isinstance(fused, Fused)
    state = fused.state()
    weights = fused.weights()
    before = fused.all().clone()
    index = torch.arange(6)
    rows = fused.gather(index)
    rows.sum().backward()  # type: ignore[no-untyped-call]
    fused.step(index, rows)
    assert not torch.allclose(fused.all(), before)
    fused.load_state(state)
    torch.testing.assert_close(fused.all(), before)
    fused.set_weights(weights)
    torch.testing.assert_close(fused.all(), before)


def test_fusion_settings_are_refused_without_features_and_features_without_fusion() -> None:
    config = make_config("distmult", {"dim": 8, "fusion": "attention"})
    with pytest.raises(ConfigError, match=r"fusion attention needs at least one modality.*--text"):
        build_model(config, NUM_E, NUM_R, torch.Generator())
    plain = make_config("distmult", {"dim": 8})
    with pytest.raises(ConfigError, match=r"features were given \(text, numeric\).*--fusion"):
        build_model(plain, NUM_E, NUM_R, torch.Generator(), features=_modalities())
    short = Modality("text", np.zeros((5, 3), np.float32), np.ones(5, bool), "x")
    with pytest.raises(ConfigError, match="covers 5 entities, the model has 23"):
        build_model(config, NUM_E, NUM_R, torch.Generator(), features=[short])
    assert isinstance(build_model(plain, NUM_E, NUM_R, torch.Generator()).entities, EmbeddingTable)


def _planted_dataset() -> KGDataset:
    """Entities in 4 groups; a relation links an entity to its own group's members. The
    text feature names the group, so an unseen entity can be placed from its text alone."""
    rng = np.random.default_rng(0)
    n, groups = 80, 4
    group = np.arange(n) % groups
    triples = []
    for _ in range(1500):
        h = int(rng.integers(n))
        t = int(rng.choice(np.flatnonzero(group == group[h])))
        triples.append((h, 0, t))
    arr = np.unique(np.array(triples, dtype=np.int64), axis=0)
    cold = np.arange(n) >= 72  # entities 72-79 never appear in training
    has_cold = cold[arr[:, 0]] | cold[arr[:, 2]]
    both_cold = cold[arr[:, 0]] & cold[arr[:, 2]]
    test = arr[has_cold & ~both_cold]
    train = arr[~has_cold]
    feats = np.eye(groups, dtype=np.float32)[group] + rng.normal(0, 0.05, (n, groups)).astype(
        np.float32
    )
    return KGDataset(
        [f"e{i}" for i in range(n)], ["same_group"], train, train[:40], test, "planted",
        features=[Modality("text", feats, np.ones(n, bool), "planted@1")],
    )  # fmt: skip


def test_fusion_trains_end_to_end_and_places_cold_start_entities_from_their_text() -> None:
    data = _planted_dataset()
    settings = {"dim": 16, "epochs": 30, "negatives": 16, "batch_size": 128, "eval_every": 0,
                "lr": 0.05, "compile": False}  # fmt: skip
    plain = data.features
    data.features = []
    structure = Trainer(data, make_config("distmult", settings), show_progress=False).fit()
    data.features = plain
    fused = Trainer(
        data,
        make_config("distmult", {**settings, "fusion": "attention", "align_weight": 0.2,
                                 "dense_lr": 0.01}),
        show_progress=False,
    ).fit()  # fmt: skip
    unseen_fused = fused.metrics["test"]["unseen_entity_triples"]
    unseen_plain = structure.metrics["test"]["unseen_entity_triples"]
    assert unseen_fused["triples"] == len(data.test)
    # 20 of 80 entities share a group: a placed cold entity ranks its group near the top.
    assert unseen_fused["mrr"] > 2 * unseen_plain["mrr"]
    assert unseen_fused["hits@10"] > 0.5
    report = fused.metrics["fusion"]
    assert report["modalities"]["text"]["source"] == "planted@1"
    assert set(report["mean_weights"]) == {"structure", "text"}
    assert fused.metrics["processes"] == 1
    artifact = fused.artifact()
    assert artifact.entities.shape == (80, 16)
    np.testing.assert_allclose(artifact.entities, fused.model.entities.to_numpy())


@pytest.mark.parametrize("fusion", FUSIONS.names())
def test_the_fusion_head_places_entities_as_the_trained_model_does(fusion: str) -> None:
    from mmkg.errors import DataError
    from mmkg.platform.kge.artifact import FusionHead
    from mmkg.platform.kge.fusion import place_from_features

    model = _fused_model("complex", fusion)
    fused = model.entities
    assert isinstance(fused, Fused)
    head = FusionHead.from_bytes(model.to_artifact(
        make_config("complex", {"dim": 16}), [f"e{i}" for i in range(NUM_E)],
        [f"r{i}" for i in range(NUM_R)],
    ).fusion.to_bytes())  # type: ignore[union-attr]  # fmt: skip
    assert [m["name"] for m in head.modalities] == ["text", "numeric"]
    placed, has = place_from_features(head, _modalities())
    mods = _modalities()
    assert has.tolist() == (mods[0].mask | mods[1].mask).tolist()
    # Rows 0-2 have no training triples: the model itself places them from features alone.
    cold = [i for i in range(3) if has[i]]
    torch.testing.assert_close(torch.from_numpy(placed[cold]), fused.all()[cold])
    # Only the text modality at hand: still placed (numeric masked).
    _, has_text = place_from_features(head, _modalities()[:1])
    assert has_text.tolist() == mods[0].mask.tolist()
    wrong = Modality("text", np.zeros((NUM_E, WIDTH), np.float32), np.ones(NUM_E, bool), "clip@2")
    with pytest.raises(DataError, match=r"trained on features of test@1 .* these are of clip@2"):
        place_from_features(head, [wrong])


def test_self_negatives_score_the_query_entity_as_an_answer_in_fused_runs_only() -> None:
    from mmkg.platform.kge.steps import StepRunner

    train = _triples(60).numpy()
    losses = {}
    for fusion, own in (("attention", True), ("attention", False), ("none", True)):
        config = make_config("transe_l2", {"dim": 16, "negatives": 4, "neg_chunk_size": 4,
                                           "batch_size": 16, "fusion": fusion,
                                           "self_negatives": own, "structure_dropout": 0.0,
                                           "compile": False})  # fmt: skip
        features = _modalities() if fusion != "none" else ()
        model = build_model(config, NUM_E, NUM_R, torch.Generator().manual_seed(1),
                            features=features)  # fmt: skip
        runner = StepRunner(model, config, train)
        assert runner.self_negatives == (fusion != "none" and own)
        total, _, _ = runner._slcwa(
            torch.from_numpy(train[:16]), 0, torch.Generator().manual_seed(3)
        )
        losses[(fusion, own)] = float(total.detach())
    # The same draws; the extra negative (h, r, h) changes the fused loss only.
    assert losses[("attention", True)] != pytest.approx(losses[("attention", False)])
