"""Questions with known answers, generated from a knowledge graph's triples (the QA benchmark's
protocol, bench/qa.py).

Given the triples *in the graph* and the *held-out* ones (true, but not in the graph):

- **lookup**: a (head, relation) of the graph; the answer set is every tail of (head, relation)
  in all triples. Asked forward ("What is the place of birth of X?") and, for a (relation,
  tail), inverse ("Which person has X as its place of birth?").
- **prediction**: a held-out (head, relation) with *no* tail in the graph: only link prediction
  can answer it.
- **two-hop**: (e, r1, m) with m the only r1-tail of e in the graph, then (m, r2, ?); lookup when
  m has r2-tails in the graph, prediction when its r2-tails are all held out.

Questions use :data:`~.verbalise.ONE_HOP_TEMPLATES` and :data:`~.verbalise.TWO_HOP_TEMPLATES`
(never the detector's paraphrases), with the entity's name; entities without a name are skipped.
A question is answered right at rank 1 when its first answer is in the answer set.
"""

from __future__ import annotations

import random
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import asdict, dataclass

from mmkg.platform.qa.verbalise import (
    FORWARD,
    INVERSE,
    ONE_HOP_TEMPLATES,
    TWO_HOP_TEMPLATES,
    one_hop_question,
    relation_words,
    two_hop_question,
)

Triple = tuple[str, str, str]


@dataclass
class Question:
    text: str
    kind: str  # "lookup" or "prediction"
    hops: int
    entity: str
    path: list[tuple[str, str]]  # (relation, "tail" | "head")
    answers: list[str]
    template: int

    def to_dict(self) -> dict[str, object]:
        return asdict(self)


def _index(triples: Iterable[Triple]) -> tuple[dict[tuple[str, str], set[str]], ...]:
    tails: dict[tuple[str, str], set[str]] = defaultdict(set)
    heads: dict[tuple[str, str], set[str]] = defaultdict(set)
    for h, r, t in triples:
        tails[(h, r)].add(t)
        heads[(r, t)].add(h)
    return tails, heads


def generate_questions(
    in_graph: list[Triple],
    held_out: list[Triple],
    names: dict[str, str],
    per_kind: int = 300,
    seed: int = 0,
) -> list[Question]:
    """About ``per_kind`` questions of each of: one-hop lookup (forward and inverse), one-hop
    prediction, two-hop lookup, two-hop prediction (fewer where the data has fewer)."""
    rng = random.Random(seed)
    g_tails, _ = _index(in_graph)
    a_tails, a_heads = _index(in_graph + held_out)
    words = {r: relation_words(r) for r in {t[1] for t in in_graph + held_out}}
    out: list[Question] = []

    def one(entity: str, rel: str, side: str, kind: str, answers: set[str]) -> None:
        n = rng.randrange(len(ONE_HOP_TEMPLATES[side]))
        text = one_hop_question(ONE_HOP_TEMPLATES[side][n], words[rel], names[entity])
        out.append(Question(text, kind, 1, entity, [(rel, side)], sorted(answers), n))

    forward = sorted({(h, r) for h, r, _ in in_graph if h in names})
    rng.shuffle(forward)
    inverse = sorted({(r, t) for _, r, t in in_graph if t in names and words[r].domain})
    rng.shuffle(inverse)
    n_inverse = per_kind // 4
    for h, r in forward[: per_kind - n_inverse]:
        one(h, r, FORWARD, "lookup", a_tails[(h, r)])
    for r, t in inverse[:n_inverse]:
        one(t, r, INVERSE, "lookup", a_heads[(r, t)])
    unseen = sorted({(h, r) for h, r, _ in held_out if h in names and (h, r) not in g_tails})
    rng.shuffle(unseen)
    for h, r in unseen[:per_kind]:
        one(h, r, FORWARD, "prediction", a_tails[(h, r)])

    # Two hops through a middle the graph names uniquely.
    by_head: dict[str, list[str]] = defaultdict(list)
    for h, r in g_tails:
        by_head[h].append(r)
    held_by_head: dict[str, list[str]] = defaultdict(list)
    for h, r in sorted({(h, r) for h, r, _ in held_out if (h, r) not in g_tails}):
        held_by_head[h].append(r)
    starts = [(e, r1) for (e, r1), ts in g_tails.items() if e in names and len(ts) == 1]
    starts.sort()
    rng.shuffle(starts)
    counts = {"lookup": 0, "prediction": 0}
    for e, r1 in starts:
        if min(counts.values()) >= per_kind:
            break
        (m,) = g_tails[(e, r1)]
        for kind, options in (("lookup", by_head.get(m)), ("prediction", held_by_head.get(m))):
            if counts[kind] >= per_kind or not options:
                continue
            r2 = rng.choice(sorted(options))
            if r2 == r1:
                continue
            n = rng.randrange(len(TWO_HOP_TEMPLATES))
            text = two_hop_question(TWO_HOP_TEMPLATES[n], words[r1], words[r2], names[e])
            answers = {y for x in a_tails[(e, r1)] for y in a_tails.get((x, r2), ())}
            path = [(r1, FORWARD), (r2, FORWARD)]
            out.append(Question(text, kind, 2, e, path, sorted(answers), n))
            counts[kind] += 1
    return out
