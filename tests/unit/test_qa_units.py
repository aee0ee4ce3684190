"""Question answering's pure parts: relation words, two-hop splits, profiles, the question
generator, and the calibration temperature."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from mmkg.platform.kge.calibrate import fit_temperature, probabilities
from mmkg.platform.kge.config import make_config
from mmkg.platform.kge.data import from_triple_set
from mmkg.platform.kge.trainer import Trainer
from mmkg.platform.kge.triples import TripleSet
from mmkg.platform.profiles import Profiles
from mmkg.platform.qa.answer import _image_masked, _splits
from mmkg.platform.qa.generate import generate_questions
from mmkg.platform.qa.verbalise import (
    FORWARD,
    INVERSE,
    ONE_HOP_TEMPLATES,
    paraphrases,
    relation_words,
)


def test_relation_words_from_freebase_mediator_and_plain_names() -> None:
    w = relation_words("/people/person/place_of_birth")
    assert (w.phrase, w.domain, w.words) == (
        "place of birth",
        "person",
        "people person place of birth",
    )
    w = relation_words("/film/actor/film./film/performance/film")
    assert (w.phrase, w.domain) == ("film", "actor")
    w = relation_words(
        "/award/award_nominee/award_nominations./award/award_nomination/nominated_for"
    )
    assert w.phrase == "award nominations nominated for" and w.domain == "award nominee"
    assert relation_words("bornIn").phrase == "born in"
    assert relation_words("_hypernym").phrase == "hypernym"


def test_paraphrases_and_benchmark_templates_never_share_wording() -> None:
    w = relation_words("/people/person/place_of_birth")
    for side in (FORWARD, INVERSE):
        ours = {p.replace("X", "{e}") for p in paraphrases(w, side)}
        theirs = {t.format(p=w.phrase, d=w.domain, e="{e}") for t in ONE_HOP_TEMPLATES[side]}
        assert not ours & theirs
    # Verb-like names get question-shaped paraphrases both ways.
    assert "who is born in X" in paraphrases(relation_words("born_in"), INVERSE)


def test_two_hop_splits_and_image_placeholders() -> None:
    splits = _splits("What is the place of birth of the director of X?")
    assert ("What is the place of birth of X?", "the director of X") in splits
    assert ("What is the place of X?", "birth of the director of X") in splits
    assert _splits("Where was X born?") == []
    assert _splits("Where was the director of X born?") == [
        ("Where was X born?", "the director of X")
    ]
    assert _splits("What is the capital of X?") == []  # nothing left to ask outside
    assert _image_masked("Where was this person born?") == "Where was X born?"
    assert _image_masked("What is the capital of this country?") == "What is the capital of X?"
    assert _image_masked("Who painted the one in the picture?") == "Who painted X?"
    assert _image_masked("Who painted") == "Who painted X"


def _profiles() -> Profiles:
    ids = ["f1", "f2", "f3", "p1", "p2", "c1"]
    rels = ["directed_by", "genre", "born_in"]
    t = [(0, 0, 3), (1, 0, 4), (0, 1, 5), (1, 1, 5), (2, 1, 5), (3, 2, 5)]
    return Profiles.from_triples(TripleSet(np.asarray(t), ids, rels))


def test_profiles_fit_entities_to_relation_sides_and_chain_relations() -> None:
    p = _profiles()
    # f3 has no director yet but looks like the films that have one.
    fit = p.compat("f3", "head")
    assert fit[0] > 0.5 and fit[2] < 0.2
    assert p.compat("f1", "head")[0] == 1.0
    assert p.compat("unknown", "head").sum() == 0
    chain = p.chain()
    # A director (tail of directed_by) is a head of born_in; a genre is not a film.
    assert chain[0, 2] > 0.5 and chain[1, 0] < 0.2
    assert p.seen_on("c1", "genre", "tail") and not p.seen_on("f1", "genre", "tail")


def test_generated_questions_have_complete_answer_sets_and_the_right_kinds() -> None:
    in_graph = [
        ("a", "/people/person/nationality", "us"),
        ("b", "/people/person/nationality", "uk"),
        ("a", "/people/person/spouse_s", "b"),
        ("b", "/people/person/profession", "actor"),
    ]
    held = [
        ("a", "/people/person/profession", "writer"),
        ("a", "/people/person/nationality", "fr"),
        ("b", "/people/person/place_of_birth", "london"),
    ]
    names = {"a": "Ann Able", "b": "Bob Baker", "us": "USA"}
    qs = generate_questions(in_graph, held, names, per_kind=10, seed=1)
    lookup = [q for q in qs if q.kind == "lookup" and q.hops == 1 and q.path[0][1] == FORWARD]
    nat = next(q for q in lookup if q.entity == "a" and "nationality" in q.path[0][0])
    assert set(nat.answers) == {"us", "fr"} and "Ann Able" in nat.text
    prediction = [q for q in qs if q.kind == "prediction" and q.hops == 1]
    assert {(q.entity, q.path[0][0]) for q in prediction} == {
        ("a", "/people/person/profession"),
        ("b", "/people/person/place_of_birth"),
    }
    two = [q for q in qs if q.hops == 2]
    assert two and all(q.entity == "a" for q in two)  # a's spouse is the only unique middle
    by_kind = {q.kind: q for q in two}
    assert by_kind["prediction"].answers == ["london"]
    assert "of the spouse s of Ann Able" in by_kind["prediction"].text


def test_temperature_minimises_the_validation_nll() -> None:
    rng = np.random.default_rng(0)
    n = 150
    tr = np.stack([rng.integers(0, n, 2000), rng.integers(0, 4, 2000), np.zeros(2000, int)], 1)
    tr[:, 2] = (tr[:, 0] * 7 + tr[:, 1]) % n
    data = from_triple_set(TripleSet(tr, [f"e{i}" for i in range(n)], ["a", "b", "c", "d"]))
    result = Trainer(
        data,
        make_config("distmult", {"dim": 16, "epochs": 8, "eval_every": 0}),
        None,
        show_progress=False,
    ).fit()
    cal = result.metrics["calibration"]
    assert cal["triples"] == len(data.valid) and cal["temperature"] > 0
    assert cal["nll"] <= cal["nll_at_1"] + 1e-6
    # The fitted temperature beats its neighbours on the formula itself.
    again = fit_temperature(result.model, data.valid, None)
    assert again is not None
    model, valid = result.model, torch.from_numpy(data.valid)

    def nll(temp: float) -> float:
        s = model.score_t(valid[:, 0], valid[:, 1]).detach() / temp
        return float(-(torch.log_softmax(s, 1).gather(1, valid[:, 2:3])).mean())

    t = again["temperature"]
    assert nll(t) <= min(nll(t * 1.3), nll(t / 1.3)) + 1e-6


def test_probabilities_are_a_tempered_softmax() -> None:
    p = probabilities([2.0, 1.0, 0.0], 0.5)
    z = sum(math.exp(x / 0.5) for x in (2.0, 1.0, 0.0))
    assert p == pytest.approx([math.exp(4) / z, math.exp(2) / z, 1 / z])
    assert probabilities([], 1.0) == []
