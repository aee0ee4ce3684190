"""Which entities fit which side of which relation, learned from the graph's own facts.

An entity's *profile* is the set of (relation, side) pairs it takes part in. A relation's head
profile is the mean profile of its heads: a film's profile (directed_by as head, genre as head,
...) is close to the head profile of ``/film/film/music`` even when that film has no music fact
yet. This gives, without any type system:

- ``compat(e, r, side)``: how well the question's entity fits the relation it seems to ask
  about (1 when it already has such facts);
- ``chain(r1, r2)``: how well r1's tails fit as r2's heads (a two-hop question's path);
- ``in_range(c, r)``: whether a candidate answer was ever seen on the answer side of r (the
  type constraint of "which" questions and of predicted answers).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
from scipy import sparse

from mmkg.platform.kge.triples import TripleSet

F32 = npt.NDArray[np.float32]


def _normalise_rows(m: Any) -> Any:
    norms = np.sqrt(np.asarray(m.multiply(m).sum(1)).ravel()) if sparse.issparse(m) else None
    if norms is None:
        n = np.linalg.norm(m, axis=1, keepdims=True)
        return m / np.maximum(n, 1e-12)
    inv = sparse.diags(1.0 / np.maximum(norms, 1e-12))
    return inv @ m


@dataclass
class Profiles:
    entity_ids: list[str]
    relation_names: list[str]
    heads: Any  # (N × R) csr, 1 where the entity is a head of the relation
    tails: Any
    profile: Any  # (N × 2R) csr, unit rows
    head_profile: F32  # (R × 2R)
    tail_profile: F32

    @classmethod
    def from_triples(cls, ts: TripleSet) -> Profiles:
        n, r = len(ts.entity_ids), len(ts.relation_names)
        t = ts.triples
        ones = np.ones(len(t), dtype=np.float32)
        heads = sparse.csr_matrix((ones, (t[:, 0], t[:, 1])), shape=(n, r))
        tails = sparse.csr_matrix((ones, (t[:, 2], t[:, 1])), shape=(n, r))
        heads.data[:] = 1.0  # duplicates summed: membership, not counts
        tails.data[:] = 1.0
        profile = _normalise_rows(sparse.hstack([heads, tails]).tocsr())
        hp = np.asarray((heads.T @ profile).todense(), dtype=np.float32)
        tp = np.asarray((tails.T @ profile).todense(), dtype=np.float32)
        return cls(
            list(ts.entity_ids),
            list(ts.relation_names),
            heads,
            tails,
            profile,
            _normalise_rows(hp),
            _normalise_rows(tp),
        )

    def __post_init__(self) -> None:
        self.entity_index = {e: i for i, e in enumerate(self.entity_ids)}
        self.relation_index = {r: i for i, r in enumerate(self.relation_names)}

    def _side(self, side: str) -> tuple[Any, F32]:
        return (
            (self.heads, self.head_profile) if side == "head" else (self.tails, self.tail_profile)
        )

    def compat(self, entity: str, side: str) -> F32:
        """Per relation, how well ``entity`` fits its ``side`` ('head' or 'tail') in [0, 1]."""
        i = self.entity_index.get(entity)
        if i is None:
            return np.zeros(len(self.relation_names), dtype=np.float32)
        member, prof = self._side(side)
        fit = np.asarray(self.profile[i] @ prof.T, dtype=np.float32).ravel()
        has = np.asarray(member[i].todense()).ravel() > 0
        return np.where(has, 1.0, np.clip(fit, 0.0, 1.0)).astype(np.float32)

    def chain(self) -> F32:
        """(R × R): how well the tails of r1 fit as heads of r2."""
        out: F32 = np.clip(self.tail_profile @ self.head_profile.T, 0.0, 1.0).astype(np.float32)
        return out

    def seen_on(self, entity: str, relation: str, side: str) -> bool:
        i, r = self.entity_index.get(entity), self.relation_index.get(relation)
        if i is None or r is None:
            return False
        member, _ = self._side(side)
        return bool(member[i, r] > 0)
