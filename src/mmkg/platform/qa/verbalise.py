"""Words for a relation: what a question about it says, derived from its name.

Freebase-style names (``/people/person/place_of_birth``, or through a mediator
``/film/actor/film./film/performance/film``) carry the subject's type (``person``) and the
property (``place of birth``); other names (``hypernym``, ``directedBy``) are split into words.
FB15k-237's ``relation2text.txt`` holds these same words. The detector's paraphrases and the
benchmark's question templates are two disjoint sets, so the benchmark never asks a question in
the very words the detector compares it with.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

PLACEHOLDER = "X"  # what stands for the question's entity when it is compared with paraphrases

FORWARD = "tail"  # the question names the head and asks for the tail
INVERSE = "head"  # it names the tail and asks for the head


@dataclass(frozen=True)
class RelationWords:
    name: str
    phrase: str  # "place of birth"
    domain: str  # "person" ("" when the name does not say)
    words: str  # every word of the name: "people person place of birth"


def _words(token: str) -> str:
    token = re.sub(r"([a-z0-9])([A-Z])", r"\1 \2", token)
    return " ".join(w for w in re.split(r"[^A-Za-z0-9]+", token) if w).lower()


def relation_words(name: str) -> RelationWords:
    parts = [p.strip("/").split("/") for p in re.split(r"\.(?=/)", name) if p.strip("/")]
    if not name.startswith("/") or not parts:
        words = _words(name) or name.lower()
        return RelationWords(name, words, "", words)
    first = parts[0]
    domain = _words(first[-2]) if len(first) >= 2 else ""
    phrase = _words(first[-1])
    if len(parts) > 1:
        last = _words(parts[-1][-1])
        if last and last not in phrase.split():
            phrase = f"{phrase} {last}".strip()
    everything = " ".join(_words(s) for p in parts for s in p)
    return RelationWords(name, phrase or everything, domain, everything)


def paraphrases(w: RelationWords, direction: str) -> list[str]:
    """What the detector compares a question with (the entity as :data:`PLACEHOLDER`)."""
    x, p, d = PLACEHOLDER, w.phrase, w.domain or "thing"
    if direction == FORWARD:
        out = [
            f"{p} of {x}",
            f"{x} {p}",
            f"{x}'s {p}",
            f"the {d} {x} and its {p}",
            f"{w.words} {x}",
        ]
        if not w.domain:  # a verb-like name ("born in", "member of"): X is born in what
            out += [f"{x} is {p} what", f"what is {x} {p}", f"{x} was {p} where"]
        return out
    out = [
        f"the {d} whose {p} is {x}",
        f"{x} is the {p} of which {d}",
        f"{d} with {p} {x}",
        f"which {d} has {p} {x}",
    ]
    if not w.domain:  # who was born in X; what is the capital of X
        out += [f"what is {p} {x}", f"who is {p} {x}", f"which thing is {p} {x}"]
    return out


# The benchmark's questions (bench/qa.py): other words than the paraphrases above.
ONE_HOP_TEMPLATES = {
    FORWARD: [
        "What is the {p} of {e}?",
        "Tell me the {p} of {e}.",
        "What {p} does {e} have?",
    ],
    INVERSE: ["Which {d} has {e} as its {p}?"],
}
TWO_HOP_TEMPLATES = ["What is the {p2} of the {p1} of {e}?", "Tell me the {p2} of the {p1} of {e}."]


def one_hop_question(template: str, w: RelationWords, entity_name: str) -> str:
    return template.format(p=w.phrase, d=w.domain or "thing", e=entity_name)


def two_hop_question(template: str, w1: RelationWords, w2: RelationWords, name: str) -> str:
    return template.format(p1=w1.phrase, p2=w2.phrase, e=name)
