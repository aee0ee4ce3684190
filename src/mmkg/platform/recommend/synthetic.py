"""A synthetic interaction log whose users have tastes over a knowledge graph's films.

No public interaction log ships with this project, so the recommendation benchmark generates
one — and says so. It is synthetic by construction: the tastes are defined through the graph's
own facts, which is exactly the signal a knowledge-aware recommender is meant to use. The code
that reads it (``mmkg ingest interactions``) takes a real log unchanged.

Films are the heads of ``/film/film/genre`` (FB15k-237); a film's attributes are its genres,
countries (``/film/film/country``) and actors (``/film/actor/film./film/performance/film``).
Each user draws two genres (uniformly among those with at least 20 films), one country (by how
common it is) and three actors of films in those genres; a film's affinity is ``1.0·shared
genres + 0.7·shared country + 0.8·shared actors``, and users pick ``10..40`` films without
replacement with probability ``∝ exp(3·affinity) · (1 + film degree)^0.5`` (taste, plus some
popularity), at increasing
times. A tenth of the films are *cold*: they never appear in training, and a fifth of the users
have a cold film (drawn from their taste) as their last interaction.
"""

from __future__ import annotations

import random
from collections import Counter, defaultdict
from dataclasses import dataclass, field

import numpy as np

GENRE = "/film/film/genre"
COUNTRY = "/film/film/country"
ACTOR = "/film/actor/film./film/performance/film"
TASTE = 3.0  # how strongly affinity outweighs popularity
MIN_GENRE_FILMS = 20


@dataclass
class SyntheticLog:
    train: list[tuple[str, str, float, float]]  # user, item, weight, at
    test: dict[str, str]  # user → their last item
    cold: set[str]
    films: list[str]
    tastes: dict[str, dict[str, list[str]]] = field(default_factory=dict)
    # Per user, the generator's own probability of each film (in ``films`` order): the best
    # any recommender could rank by (the benchmark's "oracle" row).
    truth: dict[str, np.ndarray] = field(default_factory=dict)


def film_attributes(
    triples: list[tuple[str, str, str]],
) -> dict[str, dict[str, set[str]]]:
    films: dict[str, dict[str, set[str]]] = defaultdict(lambda: defaultdict(set))
    for h, r, t in triples:
        if r == GENRE:
            films[h]["genre"].add(t)
        elif r == COUNTRY:
            films[h]["country"].add(t)
    for h, r, t in triples:
        if r == ACTOR and t in films:
            films[t]["actor"].add(h)
    return {f: dict(a) for f, a in films.items()}


def synthetic_log(
    triples: list[tuple[str, str, str]],
    users: int = 1000,
    seed: int = 0,
    cold_share: float = 0.1,
    cold_last_share: float = 0.2,
) -> SyntheticLog:
    rng = random.Random(seed)
    films = film_attributes(triples)
    ids = sorted(films)
    if len(ids) < 50:
        raise ValueError(f"only {len(ids)} films with a genre: not enough for a log")
    degree = Counter(x for h, _, t in triples for x in (h, t))
    genres = Counter(g for f in ids for g in films[f].get("genre", ()))
    countries = Counter(c for f in ids for c in films[f].get("country", ()))
    # Tastes are for genres with enough films to draw from (uniformly: a taste for a niche
    # genre is as likely as one for drama).
    common_genres = sorted(g for g, n in genres.items() if n >= MIN_GENRE_FILMS)
    cold = set(rng.sample(ids, int(len(ids) * cold_share)))
    popularity = np.asarray([(1 + degree[f]) ** 0.5 for f in ids])
    log: list[tuple[str, str, float, float]] = []
    test: dict[str, str] = {}
    tastes: dict[str, dict[str, list[str]]] = {}
    truth: dict[str, np.ndarray] = {}
    t0 = 1_600_000_000.0
    for n in range(users):
        user = f"user{n:05d}"
        g = rng.sample(common_genres, 2)
        c = rng.choices(list(countries), weights=list(countries.values()), k=1)
        pool = sorted(
            {
                a
                for f in ids
                if films[f].get("genre", set()) & set(g)
                for a in films[f].get("actor", ())
            }
        )
        actors = rng.sample(pool, min(3, len(pool)))
        tastes[user] = {"genres": g, "country": c, "actors": actors}
        affinity = np.asarray(
            [
                1.0 * len(films[f].get("genre", set()) & set(g))
                + 0.7 * len(films[f].get("country", set()) & set(c))
                + 0.8 * len(films[f].get("actor", set()) & set(actors))
                for f in ids
            ]
        )
        p = np.exp(TASTE * affinity) * popularity
        truth[user] = p / p.sum()
        count = rng.randint(10, 40)
        np_rng = np.random.default_rng(seed * 100_003 + n)
        warm_p = np.where([f in cold for f in ids], 0.0, p)
        picks = list(np_rng.choice(len(ids), count, replace=False, p=warm_p / warm_p.sum()))
        if rng.random() < cold_last_share:
            cold_p = np.where([f in cold for f in ids], p, 0.0)
            picks[-1] = int(np_rng.choice(len(ids), p=cold_p / cold_p.sum()))
        times = sorted(t0 + rng.uniform(0, 3e7) for _ in picks)
        for i, at in zip(picks[:-1], times[:-1], strict=True):
            log.append((user, ids[i], float(rng.randint(3, 5)), at))
        test[user] = ids[picks[-1]]
    return SyntheticLog(log, test, cold, ids, tastes, truth)
