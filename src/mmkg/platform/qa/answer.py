"""Answering questions from the graph, and by link prediction where the graph has no answer.

    qa = QuestionAnswerer.from_graph(graph, settings)
    result = qa.ask("Where was the director of Titanic born?")
    result.answers[0].name, result.answers[0].evidence

A question is read as an entity plus a path of one or two relations:

1. the entity linker finds the mentions and their candidate entities (the question may also
   come with an image, which is linked first and stands for the entity it shows);
2. the question, the mention replaced by a placeholder, is compared with every relation's
   paraphrases both ways (:mod:`.detect`); a two-hop reading splits it at an "of" ("the place
   of birth | of the director of X") and detects the outer and inner relation separately;
3. each reading is scored by relation similarity, how well the entity fits the relation's side
   and a two-hop path's middle fits both relations (:mod:`mmkg.platform.profiles`), and the
   link's score;
4. the best reading is answered from the graph (Cypher; the matched path is the evidence) and,
   where the graph has no answer, by ``mmkg.predict.tail/head`` restricted to entities seen on
   the answer side of the relation, marked as predicted, with the model's score and a
   probability from the run's calibration temperature;
5. each answer carries its name, description and the media that depict or mention it.
"""

from __future__ import annotations

import logging
import math
import re
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from mmkg.errors import InvalidRequestError
from mmkg.graph_schema import queries as Q
from mmkg.platform.kge.calibrate import probabilities
from mmkg.platform.profiles import Profiles
from mmkg.platform.progress import progress
from mmkg.platform.qa.detect import RelationDetector
from mmkg.platform.qa.verbalise import FORWARD, INVERSE, PLACEHOLDER
from mmkg.platform.store import Graph
from mmkg.settings import Settings

log = logging.getLogger(__name__)

LINK_THRESHOLD = 0.05  # mentions the reading may use; the reading's score decides
CANDIDATES_PER_MENTION = 4
# Weights of a reading's score (fitted on questions from FB15k-237's validation triples,
# bench/qa.py --tune): relation cosine + W_FIT·log(fit) + W_LINK·log(link) − two-hop penalty.
W_FIT = 0.05
W_LINK = 0.05
TWO_HOP_PENALTY = 0.02
EPS = 1e-3
LOOKUP_LIMIT = 100
PREDICT_K = 50  # predictions fetched before the answer-side filter
MIDDLE_K = 3  # predicted middles a two-hop question follows
MIDDLE_FACTS = 20  # known middles it follows (one lookup or prediction each)
MEDIA_PER_ANSWER = 3
MAX_K = 100
_OF = re.compile(r"\bof\b", re.IGNORECASE)
_DET = re.compile(r"\b(?:the|a|an)\b", re.IGNORECASE)
_WORD = re.compile(r"\w+")
_FILLER = frozenset(
    {
        "what",
        "who",
        "whom",
        "which",
        "where",
        "when",
        "is",
        "was",
        "are",
        "were",
        "be",
        "the",
        "a",
        "an",
        "of",
        "tell",
        "me",
        "name",
        "give",
        "does",
        "do",
        "did",
        "has",
        "have",
        "its",
        "it",
        "this",
        "that",
    }
)
_DEICTIC = re.compile(
    r"\b(?:this|that|the)\s+(?:\w+\s+)?(?:in|on|of)\s+(?:the|this)\s+(?:picture|photo|image)\b"
    r"|\b(?:this|that)\s+\w+|\bit\b",
    re.IGNORECASE,
)


@dataclass
class Reading:
    """What the question was understood to ask: the entity, then one or two relations, each
    followed towards its tail ('tail') or its head ('head')."""

    entity: str
    entity_name: str | None
    surface: str | None
    link_score: float
    path: list[tuple[str, str]]
    score: float
    similarity: list[float]

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["path"] = [{"relation": r, "asks": side} for r, side in self.path]
        out["hops"] = len(self.path)
        return out


@dataclass
class Answer:
    id: str
    name: str | None
    source: str  # "graph" or "prediction"
    rank: int = 0
    score: float | None = None  # the model's score of the last predicted step
    probability: float | None = None  # predicted answers: the calibrated probability
    description: str | None = None
    evidence: list[dict[str, Any]] = field(default_factory=list)
    media: list[dict[str, Any]] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class QAResult:
    question: str
    answers: list[Answer]
    reading: Reading | None
    notes: list[str] = field(default_factory=list)
    suggestions: list[dict[str, Any]] = field(default_factory=list)

    @property
    def understood(self) -> bool:
        return self.reading is not None

    def to_dict(self) -> dict[str, Any]:
        return {
            "question": self.question,
            "understood": self.understood,
            "reading": self.reading.to_dict() if self.reading else None,
            "answers": [a.to_dict() for a in self.answers],
            "notes": self.notes,
            "suggestions": self.suggestions,
        }


@dataclass
class _Candidate:
    entity: str
    link: float
    surface: str | None
    masked: str  # the question with the mention as the placeholder


def _masked(question: str, start: int, end: int) -> str:
    return f"{question[:start]}{PLACEHOLDER}{question[end:]}"


def _image_masked(question: str) -> str:
    """The question about an image, its "this person" / "it" as the placeholder."""
    m = _DEICTIC.search(question)
    if m is None:
        return f"{question.rstrip(' ?.')} {PLACEHOLDER}"
    return _masked(question, m.start(), m.end())


def _splits(masked: str) -> list[tuple[str, str]]:
    """Two-hop readings of a masked question, (outer, inner): the inner phrase is "… of X"
    starting at a determiner or after an earlier "of", and the outer question has it replaced
    by the placeholder. "What is the place of birth of the director of X?" gives ("What is the
    place of birth of X?", "the director of X") and ("What is the place of X?", "birth of the
    director of X"); "Where was the director of X born?" gives ("Where was X born?", "the
    director of X")."""
    x = masked.find(PLACEHOLDER)
    if x < 0:
        return []
    ofs = list(_OF.finditer(masked, 0, x))
    if not ofs:
        return []
    last = ofs[-1].start()
    starts = {m.end() for m in ofs[:-1]} | {m.start() for m in _DET.finditer(masked, 0, last)}
    end = x + len(PLACEHOLDER)
    out = []
    for start in sorted(starts):
        inner = masked[start:end].strip()
        head = masked[:start].rstrip()
        outer = f"{head} {PLACEHOLDER}{masked[end:]}".strip()
        rest = {w.lower() for w in _WORD.findall(outer)} - _FILLER - {PLACEHOLDER.lower()}
        # An outer question with nothing left to ask ("What is X?") is no second hop.
        if inner and inner != PLACEHOLDER and head and rest:
            out.append((outer, inner))
    return list(dict.fromkeys(out))


class QuestionAnswerer:
    def __init__(
        self,
        graph: Graph,
        settings: Settings,
        linker: Any,
        detector: RelationDetector,
        profiles: Profiles,
        relation_types: dict[str, str],
        run: dict[str, Any] | None,
    ) -> None:
        self.graph = graph
        self.settings = settings
        self.linker = linker
        self.detector = detector
        self.profiles = profiles
        self.relation_types = relation_types
        self.run = run
        self.chain = profiles.chain()
        # Relations in the detector's order (the graph's relation types).
        self._rel = [profiles.relation_index[r] for r in detector.relation_names]
        calibration = (run or {}).get("metrics", {}).get("calibration") or {}
        self.temperature: float | None = calibration.get("temperature")
        self.notes: list[str] = []
        if run is None:
            self.notes.append(
                "no embedding run is serving: questions are answered from the graph's facts "
                "only (train and publish one with `mmkg train --from-neo4j --publish`)"
            )
        elif self.temperature is None:
            self.notes.append(
                f"run {run.get('id')} has no calibration (trained before it existed, or "
                "without validation triples): predicted answers have scores, no probabilities"
            )

    @classmethod
    def from_graph(
        cls, graph: Graph, settings: Settings, show_progress: bool | None = None
    ) -> QuestionAnswerer:
        """Reads the graph's facts (for the relations' profiles), builds the linker and the
        relation paraphrases, and finds the serving run.

        Raises:
            DataError: the graph has no entities or no facts.
        """
        from mmkg.platform.export import export_triples
        from mmkg.platform.linking.linker import TextLinker
        from mmkg.platform.relation_types import RelationTypeMap
        from mmkg.platform.serving.runs import active_run_id, get_run

        triples = export_triples(graph).to_triple_set()
        profiles = Profiles.from_triples(triples)
        linker = TextLinker.from_graph(
            graph, settings, threshold=LINK_THRESHOLD, show_progress=show_progress
        )
        assert linker.encoder is not None
        detector = RelationDetector(linker.encoder, triples.relation_names)
        types = RelationTypeMap(graph).by_name
        run_id = active_run_id(graph)
        run = get_run(graph, run_id) if run_id else None
        log.info(
            "question answering over %d entities, %d relations (%d paraphrases), run %s",
            len(triples.entity_ids),
            len(triples.relation_names),
            detector.paraphrase_count,
            run_id,
        )
        return cls(graph, settings, linker, detector, profiles, types, run)

    # --- reading ----------------------------------------------------------------------------
    def _candidates(self, question: str, doc: Any) -> list[_Candidate]:
        out = []
        for m in doc.mentions:
            masked = _masked(question, m.start, m.end)
            entities = [(m.entity, m.score)] + [(a["entity"], a["score"]) for a in m.alternatives]
            for e, s in entities[:CANDIDATES_PER_MENTION]:
                out.append(_Candidate(e, float(s), m.surface, masked))
        return out

    def _image_candidates(self, question: str, image: Path) -> list[_Candidate]:
        from mmkg.platform.encoders.registry import OFFLINE_IMAGE_ENCODER
        from mmkg.platform.media.search import search_image

        use = self.settings
        if not use.image_encoder:
            use = use.model_copy(update={"image_encoder": OFFLINE_IMAGE_ENCODER})
        hits = search_image(self.graph, image, use, "entity", CANDIDATES_PER_MENTION)
        masked = _image_masked(question)
        top = max((h.score for h in hits), default=1.0) or 1.0
        return [_Candidate(h.id, max(h.score / top, EPS), None, masked) for h in hits]

    def _best_reading(
        self, cands: list[_Candidate], sims: dict[str, np.ndarray[Any, Any]]
    ) -> Reading | None:
        best: Reading | None = None
        names = self.detector.relation_names
        for c in cands:
            fit_head = self.profiles.compat(c.entity, "head")[self._rel]
            fit_tail = self.profiles.compat(c.entity, "tail")[self._rel]
            link = W_LINK * math.log(max(c.link, EPS))
            s = sims[c.masked]
            one = np.stack(
                [
                    s[:, 0] + W_FIT * np.log(fit_head + EPS),
                    s[:, 1] + W_FIT * np.log(fit_tail + EPS),
                ],
                axis=1,
            )
            r, side = np.unravel_index(int(np.argmax(one)), one.shape)
            score = float(one[r, side]) + link
            if best is None or score > best.score:
                best = Reading(
                    c.entity,
                    None,
                    c.surface,
                    c.link,
                    [(names[r], (FORWARD, INVERSE)[side])],
                    score,
                    [round(float(s[r, side]), 4)],
                )
            for outer, inner in _splits(c.masked):
                s_in, s_out = sims[inner][:, 0], sims[outer][:, 0]
                pair = np.minimum(s_in[:, None], s_out[None, :]) + W_FIT * np.log(
                    fit_head[:, None] * self.chain[np.ix_(self._rel, self._rel)] + EPS
                )
                r1, r2 = np.unravel_index(int(np.argmax(pair)), pair.shape)
                score = float(pair[r1, r2]) + link - TWO_HOP_PENALTY
                if score > best.score:
                    best = Reading(
                        c.entity,
                        None,
                        c.surface,
                        c.link,
                        [(names[r1], FORWARD), (names[r2], FORWARD)],
                        score,
                        [round(float(s_in[r1]), 4), round(float(s_out[r2]), 4)],
                    )
        return best

    # --- answering --------------------------------------------------------------------------
    def _lookup(self, entity: str, relation: str, side: str) -> list[dict[str, Any]]:
        t = self.relation_types.get(relation)
        if t is None:
            return []
        query = Q.QA_TAILS if side == FORWARD else Q.QA_HEADS
        return self.graph.read(query, {"id": entity, "type": t, "k": LOOKUP_LIMIT})

    def _predict(
        self, entity: str, relation: str, side: str, k: int
    ) -> list[tuple[str, float, float]]:
        """Predicted answers seen on the answer side of ``relation``, with probabilities."""
        from mmkg.platform.serving.predict import predict_head, predict_tail

        if self.run is None:
            return []
        if side == FORWARD:
            preds = predict_tail(self.graph, entity, relation, PREDICT_K)
        else:
            preds = predict_head(self.graph, relation, entity, PREDICT_K)
        probs = probabilities([p.score for p in preds], self.temperature or 1.0)
        kept = [
            (p, q)
            for p, q in zip(preds, probs, strict=True)
            if self.profiles.seen_on(p.id, relation, "tail" if side == FORWARD else "head")
        ] or list(zip(preds, probs, strict=True))
        mass = sum(q for _, q in kept) or 1.0
        return [(p.id, p.score, q / mass) for p, q in kept[:k]]

    def _hop(self, entity: str, relation: str, side: str, k: int) -> list[dict[str, Any]]:
        """One step: the graph's answers if it has any, else predicted ones."""
        rows = self._lookup(entity, relation, side)

        def fact(other: str) -> dict[str, Any]:
            head, tail = (entity, other) if side == FORWARD else (other, entity)
            return {"head": head, "relation": relation, "tail": tail}

        if rows:
            return [
                {
                    "id": r["id"],
                    "p": 1.0,
                    "score": None,
                    "source": "graph",
                    "evidence": [{**fact(r["id"]), "source": "graph"}],
                }
                for r in rows
            ]
        return [
            {
                "id": o,
                "p": p,
                "score": s,
                "source": "prediction",
                "evidence": [{**fact(o), "source": "prediction", "score": round(s, 4)}],
            }
            for o, s, p in self._predict(entity, relation, side, k)
        ]

    def _answer(self, reading: Reading, k: int) -> list[Answer]:
        (r1, side1), *rest = reading.path
        steps = self._hop(reading.entity, r1, side1, k if not rest else MIDDLE_K)
        if rest:
            r2, side2 = rest[0]
            middles = steps if steps and steps[0]["source"] == "graph" else steps[:MIDDLE_K]
            found: dict[str, dict[str, Any]] = {}
            for mid in middles[:MIDDLE_FACTS]:
                for nxt in self._hop(mid["id"], r2, side2, k):
                    p = mid["p"] * nxt["p"]
                    source = "graph" if mid["source"] == nxt["source"] == "graph" else "prediction"
                    if nxt["id"] not in found or p > found[nxt["id"]]["p"]:
                        found[nxt["id"]] = {
                            "id": nxt["id"],
                            "p": p,
                            "score": nxt["score"] or mid["score"],
                            "source": source,
                            "evidence": mid["evidence"] + nxt["evidence"],
                        }
            steps = list(found.values())
        steps.sort(key=lambda a: (a["source"] != "graph", -a["p"]))
        answers = [
            Answer(
                a["id"],
                None,
                a["source"],
                i + 1,
                None if a["score"] is None else round(float(a["score"]), 4),
                None
                if a["source"] == "graph" or self.temperature is None
                else round(float(a["p"]), 4),
                evidence=a["evidence"],
            )
            for i, a in enumerate(steps[:k])
        ]
        self._decorate(answers)
        return answers

    def _decorate(self, answers: list[Answer]) -> None:
        if not answers:
            return
        cards = {
            r["id"]: r
            for r in self.graph.read(
                Q.QA_CARDS, {"ids": [a.id for a in answers], "media": MEDIA_PER_ANSWER}
            )
        }
        for a in answers:
            card = cards.get(a.id, {})
            a.name, a.description = card.get("name"), card.get("description")
            a.media = card.get("media") or []

    def _suggest(self, question: str) -> list[dict[str, Any]]:
        from mmkg.platform.linking.candidates import fulltext_query
        from mmkg.platform.linking.detect import stop_words

        q = fulltext_query(question, " OR ", stop_words())
        if q is None:
            return []
        rows = self.graph.read(Q.QA_SUGGEST, {"query": q, "k": 5})
        return [{"id": r["id"], "name": r["name"]} for r in rows]

    # --- the API ----------------------------------------------------------------------------
    def ask(self, question: str, image: Path | None = None, k: int = 5) -> QAResult:
        return self.ask_many([question], image, k)[0]

    def ask_many(
        self,
        questions: Sequence[str],
        image: Path | None = None,
        k: int = 5,
        show_progress: bool | None = None,
    ) -> list[QAResult]:
        """Answers per question, best first (``image``: the picture every question is about).

        Raises:
            InvalidRequestError: ``k`` outside 1..100, or an empty question.
        """
        if not 1 <= k <= MAX_K:
            raise InvalidRequestError(f"k must lie in 1..{MAX_K}, got {k}")
        for n, q in enumerate(questions):
            if not q.strip():
                raise InvalidRequestError(f"question {n + 1} is empty")
        out: list[QAResult] = []
        with progress(len(questions), "answering", "question", show_progress) as bar:
            for lo in range(0, len(questions), 64):
                chunk = list(questions[lo : lo + 64])
                out.extend(self._chunk(chunk, image, k))
                bar.update(len(chunk))
        return out

    def _chunk(self, questions: list[str], image: Path | None, k: int) -> list[QAResult]:
        if image is not None:
            cands = [self._image_candidates(q, image) for q in questions]
        else:
            docs = self.linker.link(questions, show_progress=False)
            cands = [self._candidates(q, d) for q, d in zip(questions, docs, strict=True)]
        texts = sorted(
            {t for cs in cands for c in cs for t in (c.masked, *sum(_splits(c.masked), ()))}
        )
        sims = dict(zip(texts, self.detector.similarities(texts), strict=True))
        results = []
        for q, cs in zip(questions, cands, strict=True):
            reading = self._best_reading(cs, sims)
            if reading is None:
                what = "the image" if image is not None else "the question"
                results.append(
                    QAResult(
                        q,
                        [],
                        None,
                        [f"no entity of the graph was recognised in {what}", *self.notes],
                        [] if image is not None else self._suggest(q),
                    )
                )
                continue
            answers = self._answer(reading, k)
            notes = list(self.notes)
            if not answers:
                notes.append("neither the graph nor the model has an answer")
            results.append(QAResult(q, answers, reading, notes))
        self._name_readings([r.reading for r in results if r.reading])
        return results

    def _name_readings(self, readings: list[Reading]) -> None:
        if not readings:
            return
        names = {
            r["id"]: r["name"]
            for r in self.graph.read(
                Q.QA_CARDS, {"ids": sorted({x.entity for x in readings}), "media": 0}
            )
        }
        for x in readings:
            x.entity_name = names.get(x.entity)
