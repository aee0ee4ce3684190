"""Recommendation's pure parts: reading interaction logs, the hybrid model, the synthetic
log."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from mmkg.platform.readers.interactions import Interaction, read_interactions
from mmkg.platform.readers.lines import Reject
from mmkg.platform.recommend.model import FitConfig, ItemFeatures, fit
from mmkg.platform.recommend.synthetic import synthetic_log


def test_movielens_u_data_reads_as_it_is(tmp_path: Path) -> None:
    path = tmp_path / "u.data"
    path.write_text("196\t242\t3\t881250949\n186\t302\t3\t891717742\n")
    rows = list(read_interactions(path))
    assert rows == [
        Interaction(1, "196", "242", 3.0, 881250949.0),
        Interaction(2, "186", "302", 3.0, 891717742.0),
    ]


def test_csv_with_a_header_iso_dates_defaults_and_rejects(tmp_path: Path) -> None:
    path = tmp_path / "log.csv"
    path.write_text(
        "timestamp,user_id,item_id\n"  # any column order, named by the header
        "2024-01-02T03:04:05Z,u1,film_a\n"
        "# a comment\n"
        "2024-01-03,u2,film_b\n"
        "yesterday,u3,film_c\n"
        ",u4,film_d\n"
        "2024-01-04,,film_e\n"
    )
    rows = list(read_interactions(path))
    good = [r for r in rows if isinstance(r, Interaction)]
    bad = [r for r in rows if isinstance(r, Reject)]
    assert [(r.user, r.item, r.weight) for r in good] == [
        ("u1", "film_a", 1.0),
        ("u2", "film_b", 1.0),
        ("u4", "film_d", 1.0),
    ]
    assert good[0].at == 1704164645.0
    assert good[2].at == 6.0  # no time: the line number keeps the order
    assert [str(b) for b in bad] == [
        f"{path}:5: timestamp 'yesterday' is neither Unix seconds nor an ISO 8601 date",
        f"{path}:7: empty user",
    ]
    weights = tmp_path / "w.tsv"
    weights.write_text("u1\tfilm_a\tlots\nu1\tfilm_b\tnan\n")
    assert [str(r) for r in read_interactions(weights)] == [
        f"{weights}:1: weight 'lots' is not a number",
        f"{weights}:2: weight 'nan' is not finite",
    ]


def _two_tastes() -> tuple[np.ndarray, np.ndarray, ItemFeatures, int]:
    """40 items in two kinds (the feature says which); users of kind k touch items of kind k;
    items 18, 19, 38, 39 are never touched (cold)."""
    rng = np.random.default_rng(0)
    kind = np.asarray([0] * 20 + [1] * 20)
    feats = np.zeros((40, 2), dtype=np.float32)
    feats[np.arange(40), kind] = 1.0
    users, items = [], []
    for u in range(60):
        k = u % 2
        pool = [i for i in range(40) if kind[i] == k and i % 20 < 18]
        for i in rng.choice(pool, 8, replace=False):
            users.append(u)
            items.append(int(i))
    f = ItemFeatures("kind", feats, np.ones(40, dtype=bool), "test")
    return np.asarray(users), np.asarray(items), f, 60


def test_the_hybrid_model_learns_tastes_and_reaches_cold_items_through_features() -> None:
    users, items, f, n_users = _two_tastes()
    config = FitConfig(dim=8, epochs=60, batch_size=64, lr=0.05, seed=0)
    hybrid = fit(users, items, n_users, [f], 40, config, show_progress=False)
    plain = fit(
        users,
        items,
        n_users,
        [],
        40,
        FitConfig(dim=8, epochs=60, batch_size=64, lr=0.05, use_features=False),
        show_progress=False,
    )
    assert hybrid.features == [{"name": "kind", "source": "test", "items": 40}]
    assert len(hybrid.history) == 60 and hybrid.history[-1] < hybrid.history[0]
    for u in (0, 2, 4):  # kind-0 users
        s = hybrid.items @ hybrid.users[u]
        assert s[[18, 19]].min() > s[[38, 39]].max()  # cold items of their kind first
        warm = plain.items @ plain.users[u]
        assert warm[:18].mean() > warm[20:38].mean()  # MF learns the warm tastes too…
        assert np.allclose(plain.items[[18, 19, 38, 39]], 0)  # …but cold items are blank


def test_synthetic_log_holds_out_the_last_item_and_keeps_cold_films_out_of_training() -> None:
    triples = []
    for f in range(120):
        triples.append((f"film{f}", "/film/film/genre", f"genre{f % 4}"))
        triples.append((f"film{f}", "/film/film/country", f"country{f % 3}"))
        triples.append((f"actor{f % 30}", "/film/actor/film./film/performance/film", f"film{f}"))
    log = synthetic_log(triples, users=50, seed=0)
    assert len(log.films) == 120 and len(log.cold) == 12
    trained = {i for _, i, _, _ in log.train}
    assert not trained & log.cold
    assert set(log.test) == {u for u, _, _, _ in log.train}
    assert any(i in log.cold for i in log.test.values())
    per_user = {u: [a for uu, _, _, a in log.train if uu == u] for u in log.test}
    assert all(a == sorted(a) and 9 <= len(a) <= 39 for a in per_user.values())
    assert synthetic_log(triples, users=50, seed=0).train == log.train  # reproducible


def test_each_users_latest_interaction_is_held_out_for_early_stopping() -> None:
    from mmkg.platform.recommend.graph import last_interactions

    users = np.asarray([0, 0, 0, 1, 1, 2, 2, 2, 2])
    at = np.asarray([5.0, 9.0, 1.0, 3.0, 4.0, 2.0, 8.0, 7.0, 1.0])
    held = last_interactions(users, at)
    assert held.tolist() == [False, True, False, False, False, False, True, False, False]


def test_item_facts_are_each_items_neighbours_both_ways() -> None:
    from mmkg.platform.kge.triples import TripleSet
    from mmkg.platform.recommend.graph import catalogue, item_facts

    ids = ["f1", "f2", "f3", "drama", "usa", "ann", "paris"]
    t = [(0, 0, 3), (1, 0, 3), (2, 0, 3), (0, 1, 4), (2, 1, 4), (5, 2, 0), (6, 3, 4)]
    ts = TripleSet(np.asarray(t), ids, ["genre", "country", "acted_in", "city_of"])
    facts = item_facts(ts, ["f1", "f3", "nowhere"], width=2)
    vocab = facts.vocabulary
    got = [{vocab[v] for v in row if v >= 0} for row in facts.neighbours]
    assert got[1] == {"drama", "usa"} and got[2] == set()
    assert len(got[0]) == 2 and got[0] <= {"drama", "usa", "ann"}  # a sample of 3
    assert facts.mask.tolist() == [True, True, False]
    # f3 nobody touched, but its facts look like f1's and f2's: it joins the catalogue.
    items, added = catalogue(ts, ["f1", "f2"], 0.5)
    assert items[:2] == ["f1", "f2"] and "f3" in items[2:] and added == len(items) - 2
    assert "paris" not in items
