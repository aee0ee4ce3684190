"""Small generated graphs with planted relation patterns, for training tests."""

from __future__ import annotations

import numpy as np

from mmkg.platform.kge.data import KGDataset


def family_graph(couples: int = 60, seed: int = 0) -> KGDataset:
    """People in couples with children, genders and grandparents.

    * ``spouse`` is symmetric: its test triples are the reverses of training ones;
    * ``has_gender`` is antisymmetric and many-to-one;
    * ``parent_of`` / ``child_of`` are inverses: test ``child_of`` triples reverse training
      ``parent_of`` ones;
    * ``grandparent_of`` composes ``parent_of`` twice.
    """
    rng = np.random.default_rng(seed)
    names: list[str] = ["male", "female"]
    triples: list[tuple[str, str, str, str]] = []  # (h, r, t, split)

    def person(i: int) -> tuple[str, str]:
        return f"m{i}", f"f{i}"

    for i in range(couples):
        m, f = person(i)
        names += [m, f]
        held_out = i % 3 == 0
        triples.append((m, "spouse", f, "train"))
        triples.append((f, "spouse", m, "test" if held_out else "train"))
        triples.append((m, "has_gender", "male", "train"))
        triples.append((f, "has_gender", "female", "train"))
    # Couple i's children are the people of couple 2i+1 and 2i+2 (a forest of families).
    for i in range(couples):
        for child_couple in (2 * i + 1, 2 * i + 2):
            if child_couple >= couples:
                continue
            child = person(child_couple)[int(rng.integers(2))]
            for parent in person(i):
                held_out = rng.random() < 0.3
                triples.append((parent, "parent_of", child, "train"))
                triples.append((child, "child_of", parent, "test" if held_out else "train"))
    parents: dict[str, list[str]] = {}
    for h, r, t, _ in triples:
        if r == "parent_of":
            parents.setdefault(t, []).append(h)
    for child, ps in parents.items():
        for p in ps:
            for gp in parents.get(p, []):
                split = "test" if rng.random() < 0.2 else "train"
                triples.append((gp, "grandparent_of", child, split))
    entity_index = {n: i for i, n in enumerate(sorted(set(names)))}
    relations = sorted({r for _, r, _, _ in triples})
    rel_index = {r: i for i, r in enumerate(relations)}

    def encode(split: str) -> np.ndarray:
        rows = [
            (entity_index[h], rel_index[r], entity_index[t]) for h, r, t, s in triples if s == split
        ]
        return np.asarray(rows, dtype=np.int64).reshape(-1, 3)

    test = encode("test")
    # A small validation split drawn from test, so early stopping and best-model logic run.
    return KGDataset(
        entity_ids=sorted(entity_index),
        relation_names=relations,
        train=encode("train"),
        valid=test[::4].copy(),
        test=test,
        source=f"family_graph(couples={couples}, seed={seed})",
    )


def relation_subset(data: KGDataset, relation: str) -> np.ndarray:
    r = data.relation_names.index(relation)
    return data.test[data.test[:, 1] == r]
