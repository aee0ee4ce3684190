"""Candidates per mention, and the local features of each (mention, candidate) pair.

Candidates come from the exact alias table (every entity the surface names), and, for a
named entity spaCy found that is no alias, from Neo4j's full-text index (fuzzy and partial
names) and from the entity text vectors nearest to the surface's own vector.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from mmkg.graph_schema import queries as Q
from mmkg.platform.linking.detect import Span
from mmkg.platform.linking.gazetteer import tokenize
from mmkg.platform.linking.index import LinkerIndex
from mmkg.platform.linking.model import LOCAL_FEATURES
from mmkg.platform.store import Graph

MAX_EXACT = 30  # the most frequent entities an alias names, by degree
_WORD = re.compile(r"^\w+$")


@dataclass
class Options:
    k: int = 8  # full-text and vector candidates per mention
    ner: bool = True
    fulltext: bool = True
    vectors: bool = True


@dataclass
class Batch:
    """Every candidate of a batch of documents, one row each, with its local features."""

    doc: np.ndarray[Any, Any]  # per candidate: document (in the batch)
    span: np.ndarray[Any, Any]  # per candidate: index into spans
    entity: np.ndarray[Any, Any]  # per candidate: entity row in the index
    x: np.ndarray[Any, Any]  # local features, LOCAL_FEATURES order
    spans: list[tuple[int, Span]]  # (document, span)
    windows: list[list[tuple[int, int]]]
    texts: list[str]
    notes: list[str] = field(default_factory=list)


def fulltext_query(
    surface: str, join: str = " AND ", skip: frozenset[str] = frozenset()
) -> str | None:
    """A Lucene query for names and aliases close to ``surface``'s words (fuzzy for long
    words); ``join`` " OR " finds names sharing any of them, ``skip`` drops words first."""
    words = [t for t, _, _ in tokenize(surface) if _WORD.match(t) and t.lower() not in skip]
    if not words:
        return None
    terms = join.join(f"{w}~1" if len(w) > 4 else w for w in words)
    return f"name:({terms}) OR aliases:({terms})"


CACHED_SURFACES = 100_000


def search_candidates(
    graph: Graph,
    index: LinkerIndex,
    spans: list[Span],
    encoder: Any,
    opts: Options,
    cache: dict[str, dict[str, list[tuple[int, float]]]] | None = None,
) -> None:
    """Fill ``span.extra`` with full-text candidates of NER spans without an alias, and vector
    candidates of those full-text search finds nothing for. ``cache`` keeps what each surface
    found, for the documents still to come."""
    cache = {} if cache is None else cache
    todo = []
    for s in spans:
        if s.match is None and s.ner:
            if s.surface in cache:
                s.extra = dict(cache[s.surface])
            else:
                todo.append(s)
    if not todo:
        return
    if len(cache) + len(todo) > CACHED_SURFACES:
        cache.clear()
    searched = list(todo)
    if opts.fulltext:
        rows = [
            {"key": i, "query": q}
            for i, s in enumerate(todo)
            if (q := fulltext_query(s.surface)) is not None
        ]
        if rows:
            for r in graph.read(Q.FULLTEXT_ENTITIES, {"rows": rows, "k": opts.k}):
                todo[r["key"]].extra["fulltext"] = [
                    (index.row_of[e], float(sc))
                    for e, sc in zip(r["ids"], r["scores"], strict=True)
                    if e in index.row_of
                ]
    # Vectors are the fallback for the names full-text search finds nothing for: every
    # candidate costs coherence pairs later.
    todo = [s for s in todo if not s.extra.get("fulltext")]
    if todo and opts.vectors and index.vectors is not None and encoder is not None:
        # The index holds every entity's text vector already: an exact top-k in memory is
        # faster than a round trip to the vector index per batch.
        sims = encoder.encode_texts([s.surface for s in todo], 64) @ index.dense_vectors().T
        k = min(opts.k, sims.shape[1])
        top = np.argpartition(-sims, k - 1, axis=1)[:, :k]
        for i, s in enumerate(todo):
            hits = sorted(
                ((int(e), float(sims[i, e])) for e in top[i] if index.has_vector[e]),
                key=lambda h: -h[1],
            )
            s.extra["vector"] = hits
    for s in searched:
        cache[s.surface] = dict(s.extra)


def local_features(
    index: LinkerIndex,
    types: dict[tuple[str, str], float],
    spans: list[tuple[int, Span]],
    window_vectors: list[np.ndarray[Any, Any] | None],
    texts: list[str],
    windows: list[list[tuple[int, int]]],
) -> Batch:
    """One row of LOCAL_FEATURES per (span, candidate)."""
    gaz = index.gazetteer
    f = {n: i for i, n in enumerate(LOCAL_FEATURES)}
    rows: list[np.ndarray[Any, Any]] = []
    docs: list[int] = []
    span_of: list[int] = []
    ents: list[int] = []
    for si, (d, s) in enumerate(spans):
        cands: dict[int, np.ndarray[Any, Any]] = {}
        exact: list[tuple[int, bool]] = []
        if s.match is not None and s.match.postings is not None:
            sl = s.match.postings
            exact = list(zip(gaz.entities[sl].tolist(), gaz.is_name[sl].tolist(), strict=True))
            if len(exact) > MAX_EXACT:
                exact = sorted(exact, key=lambda p: -int(index.degree[p[0]]))[:MAX_EXACT]
        total = float(sum(int(index.degree[e]) for e, _ in exact)) or 1.0
        top = max((int(index.degree[e]) for e, _ in exact), default=-1)
        ntok = max(1, len(tokenize(s.surface)))
        for e, is_name in exact:
            row = cands.setdefault(e, np.zeros(len(LOCAL_FEATURES)))
            row[f["is_name"]] = float(is_name)
            row[f["alias_match"]] = 1.0
            row[f["degree_share"]] = index.degree[e] / total
            row[f["prior_top"]] = float(int(index.degree[e]) == top)
            row[f["log_ambiguity"]] = math.log(len(exact))
        for source, feature in (("fulltext", "fulltext_score"), ("vector", "vector_sim")):
            hits = s.extra.get(source) or []
            best = max((sc for _, sc in hits), default=1.0) or 1.0
            for e, sc in hits:
                row = cands.setdefault(e, np.zeros(len(LOCAL_FEATURES)))
                row[f[feature]] = sc / best if source == "fulltext" else sc
        if not cands:
            continue
        wv = window_vectors[d]
        ctx_vec = wv[s.window] if wv is not None else None
        sims: dict[int, float] = {}
        for e, row in cands.items():
            # Relative to the graph's mean, so that a model trained on one graph's degrees
            # transfers to a graph of another size.
            row[f["log_degree"]] = math.log1p(int(index.degree[e])) - index.mean_log_degree
            row[f["case_exact"]] = float(s.surface == index.names[e])
            row[f["capitalised"]] = float(s.surface[:1].isupper())
            row[f["ner"]] = float(s.ner is not None)
            row[f["log_tokens"]] = math.log(ntok)
            row[f["type_pmi"]] = types.get((s.ner or "NONE", index.types[e]), 0.0)
            if ctx_vec is not None and index.vectors is not None and index.has_vector[e]:
                sims[e] = float(index.vectors[e].astype(np.float32) @ ctx_vec)
                row[f["context_sim"]] = sims[e]
                row[f["has_vector"]] = 1.0
        best_sim = max(sims.values(), default=None)
        for e, row in cands.items():
            if best_sim is not None and sims.get(e) == best_sim:
                row[f["context_top"]] = 1.0
            # How far a candidate is ahead of (or behind) its best rival: what an ambiguous
            # mention turns on.
            rival_deg = max((r[f["log_degree"]] for x, r in cands.items() if x != e), default=None)
            if rival_deg is not None:
                row[f["degree_margin"]] = row[f["log_degree"]] - rival_deg
            rival_sim = max((v for x, v in sims.items() if x != e), default=None)
            if rival_sim is not None and e in sims:
                row[f["context_margin"]] = sims[e] - rival_sim
            rows.append(row)
            docs.append(d)
            span_of.append(si)
            ents.append(e)
    x = np.stack(rows) if rows else np.zeros((0, len(LOCAL_FEATURES)))
    return Batch(
        np.asarray(docs, dtype=np.int64),
        np.asarray(span_of, dtype=np.int64),
        np.asarray(ents, dtype=np.int64),
        x,
        spans,
        windows,
        texts,
    )
