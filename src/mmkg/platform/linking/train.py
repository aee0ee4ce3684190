"""Fitting a linker model on a labelled set, calibrating NIL, and scoring it.

Training rows are the candidates of detected mentions that overlap a gold mention: the gold
entity is the positive, the others negatives (a NIL gold makes them all negatives). Mentions
that overlap no gold mention are not judged, since derived gold is partial. The NIL
threshold maximises F1 on the validation documents.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from mmkg.platform.linking.candidates import Batch
from mmkg.platform.linking.detect import Span
from mmkg.platform.linking.labelled import Gold, LabelledDoc
from mmkg.platform.linking.linker import LinkedText, Scored, TextLinker
from mmkg.platform.linking.model import (
    COHERENCE_FEATURES,
    LOCAL_FEATURES,
    SIGNALS,
    LinkerModel,
    Logistic,
    TypeTable,
)
from mmkg.platform.progress import progress

log = logging.getLogger(__name__)

CHUNK = 256


def untrained() -> LinkerModel:
    """A model that knows nothing: what a linker is built with before its first fit."""
    return LinkerModel(Logistic([], [], 0.0, [], []), None, TypeTable(), 0.5, name="untrained")


@dataclass
class Featurised:
    docs: list[LabelledDoc]
    batch: Batch
    labels: np.ndarray[Any, Any]  # 1 right, 0 wrong, -1 not judged
    gold_rows: np.ndarray[Any, Any]  # candidate rows of the gold entity (the type table)


def _gold_of(doc: LabelledDoc, start: int, end: int) -> list[Gold]:
    return [g for g in doc.mentions if g.start < end and start < g.end]


def featurise(
    linker: TextLinker, docs: Sequence[LabelledDoc], show_progress: bool | None = None
) -> Featurised:
    batches = []
    with progress(len(docs), "featurising labelled documents", "doc", show_progress) as bar:
        for start in range(0, len(docs), CHUNK):
            chunk = docs[start : start + CHUNK]
            batches.append(linker.featurise([d.text for d in chunk]))
            bar.update(len(chunk))
    batch = _concat(batches)
    labels = np.full(len(batch.entity), -1, dtype=np.int64)
    ids = linker.index.ids
    for r in range(len(labels)):
        d, span = batch.spans[batch.span[r]]
        golds = _gold_of(docs[d], span.start, span.end)
        if golds:
            labels[r] = int(any(g.entity == ids[batch.entity[r]] for g in golds))
    return Featurised(list(docs), batch, labels, np.flatnonzero(labels == 1))


def _concat(batches: list[Batch]) -> Batch:
    docs, spans, ents, xs = [], [], [], []
    all_spans: list[tuple[int, Span]] = []
    windows: list[list[tuple[int, int]]] = []
    texts: list[str] = []
    n_docs = n_spans = 0
    for b in batches:
        docs.append(b.doc + n_docs)
        spans.append(b.span + n_spans)
        ents.append(b.entity)
        xs.append(b.x)
        all_spans.extend((d + n_docs, s) for d, s in b.spans)
        windows.extend(b.windows)
        texts.extend(b.texts)
        n_docs += len(b.texts)
        n_spans += len(b.spans)
    width = len(LOCAL_FEATURES)
    return Batch(
        np.concatenate(docs) if docs else np.zeros(0, np.int64),
        np.concatenate(spans) if spans else np.zeros(0, np.int64),
        np.concatenate(ents) if ents else np.zeros(0, np.int64),
        np.concatenate(xs) if xs else np.zeros((0, width)),
        all_spans,
        windows,
        texts,
    )


def _retype(linker: TextLinker, f: Featurised, table: TypeTable) -> None:
    """Recompute the type column with a fitted table (the rows were made without one)."""
    col = LOCAL_FEATURES.index("type_pmi")
    compiled = table.compiled()
    b = f.batch
    for r in range(len(b.entity)):
        span = b.spans[b.span[r]][1]
        b.x[r, col] = compiled.get((span.ner or "NONE", linker.index.types[b.entity[r]]), 0.0)


def _use(signals: Sequence[str]) -> list[str]:
    return [n for s in signals if s != "coherence" for n in SIGNALS[s]]


def fit(
    linker: TextLinker,
    train: Featurised,
    valid: Featurised,
    signals: Sequence[str] = tuple(SIGNALS),
    name: str = "mmkg-linker",
    trained_on: dict[str, Any] | None = None,
) -> LinkerModel:
    """Fit the local and joint regressions on ``train`` and the NIL threshold on ``valid``.

    ``signals`` names the feature groups to use (SIGNALS); without ``coherence`` the model
    has no joint stage. The linker is left holding the fitted model.
    """
    b = train.batch
    types = (
        TypeTable.fit(
            [
                ((b.spans[b.span[r]][1].ner or "NONE"), linker.index.types[b.entity[r]])
                for r in train.gold_rows
            ]
        )
        if "type" in signals
        else TypeTable()
    )
    _retype(linker, train, types)
    _retype(linker, valid, types)
    judged = train.labels >= 0
    local = Logistic.fit(b.x[judged], train.labels[judged], LOCAL_FEATURES, _use(signals))
    model = LinkerModel(local, None, types, 0.5, name, dict(trained_on or {}))
    linker.model, linker.types = model, types.compiled()
    if "coherence" in signals:
        p1 = local.predict(b.x, LOCAL_FEATURES)
        coh = linker.coherence(b, p1)
        x = np.concatenate([b.x, coh], axis=1)
        model.joint = Logistic.fit(
            x[judged],
            train.labels[judged],
            LOCAL_FEATURES + COHERENCE_FEATURES,
            _use(signals) + list(COHERENCE_FEATURES),
        )
    scored = linker.score(valid.batch)
    sweep = {t: evaluate(linker, valid.docs, scored, t)["f1"] for t in np.arange(0.05, 0.96, 0.05)}
    best = max(sweep, key=lambda t: (sweep[t], -abs(t - 0.5)))
    model.threshold = round(float(best), 2)
    model.validation = {
        "f1": round(sweep[best], 4),
        "documents": len(valid.docs),
        "sweep": {f"{t:.2f}": round(v, 4) for t, v in sweep.items()},
    }
    linker.threshold = model.threshold
    return model


def evaluate(
    linker: TextLinker,
    docs: Sequence[LabelledDoc],
    scored: Scored | None = None,
    threshold: float | None = None,
    predicted: list[LinkedText] | None = None,
) -> dict[str, Any]:
    """Precision, recall and F1 of linked mentions on gold spans; accuracy on the ambiguous
    ones (surface forms naming two or more of the index's entities)."""
    if predicted is None:
        assert scored is not None
        predicted = linker.decide(scored, threshold)
    gaz = linker.index.gazetteer
    judged = correct = gold_n = amb_n = amb_ok = nil_n = nil_ok = 0
    for doc, pred in zip(docs, predicted, strict=True):
        credited: set[int] = set()
        wrong_nil: set[int] = set()
        for m in pred.mentions:
            hits = [i for i, g in enumerate(doc.mentions) if g.start < m.end and m.start < g.end]
            if not hits:
                continue
            judged += 1
            good = [i for i in hits if doc.mentions[i].entity == m.entity and i not in credited]
            if good:
                correct += 1
                credited.add(good[0])
            wrong_nil.update(i for i in hits if doc.mentions[i].entity is None)
        for i, g in enumerate(doc.mentions):
            if g.entity is None:
                nil_n += 1
                nil_ok += int(i not in wrong_nil)
                continue
            gold_n += 1
            sl = gaz.lookup(doc.text[g.start : g.end])
            if sl is not None and sl.stop - sl.start >= 2:
                amb_n += 1
                amb_ok += int(i in credited)
    precision = correct / judged if judged else 0.0
    recall = correct / gold_n if gold_n else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {
        "documents": len(docs),
        "gold_mentions": gold_n,
        "predicted_on_gold": judged,
        "correct": correct,
        "precision": round(precision, 4),
        "recall": round(recall, 4),
        "f1": round(f1, 4),
        "ambiguous_mentions": amb_n,
        "ambiguous_accuracy": round(amb_ok / amb_n, 4) if amb_n else None,
        "nil_mentions": nil_n,
        "nil_accuracy": round(nil_ok / nil_n, 4) if nil_n else None,
    }


def most_frequent(linker: TextLinker, f: Featurised) -> list[LinkedText]:
    """The unlearned baseline: every alias links to the entity it names with the most
    relationships, and nothing is NIL."""
    b = f.batch
    share = b.x[:, LOCAL_FEATURES.index("degree_share")]
    alias = b.x[:, LOCAL_FEATURES.index("alias_match")]
    p = np.where(alias > 0, 0.5 + 0.5 * share, 0.0)
    return linker.decide(Scored(b, p, np.zeros((len(p), len(COHERENCE_FEATURES))), p), 0.01)
