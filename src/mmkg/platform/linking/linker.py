"""The text linker: mentions → candidates → local scores → graph coherence → one decision per
document.

    linker = TextLinker.from_graph(graph, settings)
    docs = linker.link(["Jeremy Irons was born on the Isle of Wight."])
    docs[0].mentions[0].entity  # '/m/016ywr'
"""

from __future__ import annotations

import bisect
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from mmkg.errors import ConfigError
from mmkg.graph_schema import queries as Q
from mmkg.platform.encoders import Encoder, load_encoder
from mmkg.platform.linking.candidates import Batch, Options, local_features, search_candidates
from mmkg.platform.linking.detect import Span, detect, load_spacy, stop_words
from mmkg.platform.linking.gazetteer import tokenize
from mmkg.platform.linking.index import LinkerIndex, read_index
from mmkg.platform.linking.model import COHERENCE_FEATURES, LOCAL_FEATURES, LinkerModel, load_model
from mmkg.platform.progress import progress
from mmkg.platform.store import Graph
from mmkg.settings import Settings

log = logging.getLogger(__name__)

BATCH = 64
COHERENT_CANDIDATES = 5  # per mention, whose coherence is computed
SUPPORTING_CANDIDATES = 3  # per other mention, that can support a candidate
PAIRS_PER_QUERY = 5000
CACHED_PAIRS = 2_000_000  # connectivity answers a linker keeps (about 200 MB at most)


@dataclass
class Mention:
    start: int
    end: int
    surface: str
    entity: str
    name: str
    score: float
    ner: str | None = None
    alternatives: list[dict[str, Any]] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class LinkedText:
    mentions: list[Mention]
    chars: int
    windows: int

    def to_dict(self) -> dict[str, Any]:
        return {
            "chars": self.chars,
            "windows": self.windows,
            "mentions": [m.to_dict() for m in self.mentions],
        }


@dataclass
class Scored:
    """A batch with its stage-1 and final probabilities (what training and evaluation use)."""

    batch: Batch
    local: np.ndarray[Any, Any]
    coherence: np.ndarray[Any, Any]
    final: np.ndarray[Any, Any]


def _overlap(a: Span, b: Span) -> bool:
    return a.start < b.end and b.start < a.end


def _words(surface: str) -> int:
    return max(1, sum(1 for t, _, _ in tokenize(surface) if t[:1].isalnum()))


def select(
    spans: list[tuple[int, Span]], best: dict[int, tuple[int, float]], threshold: float
) -> list[int]:
    """The non-overlapping spans above ``threshold`` with the largest total of score × words
    (weighted interval scheduling). Weighting by words keeps "United States of America" whole
    rather than "United States" + "America", while two likely links still beat one unlikely
    span that covers both."""
    keep = sorted(
        (si for si, (_, p) in best.items() if p >= threshold),
        key=lambda si: (spans[si][1].end, spans[si][1].start),
    )
    ends = [spans[si][1].end for si in keep]
    total = [0.0] * (len(keep) + 1)
    take = [False] * len(keep)
    for j, si in enumerate(keep):
        # the last kept span that ends before this one starts
        prior = bisect.bisect_right(ends, spans[si][1].start, 0, j)
        with_it = total[prior] + best[si][1] * _words(spans[si][1].surface)
        take[j] = with_it > total[j]
        total[j + 1] = max(total[j], with_it)
    chosen: list[int] = []
    j = len(keep)
    while j > 0:
        if take[j - 1]:
            chosen.append(keep[j - 1])
            j = bisect.bisect_right(ends, spans[keep[j - 1]][1].start, 0, j - 1)
        else:
            j -= 1
    return sorted(chosen, key=lambda si: spans[si][1].start)


class TextLinker:
    def __init__(
        self,
        graph: Graph,
        index: LinkerIndex,
        model: LinkerModel,
        encoder: Encoder | None,
        nlp: Any,
        options: Options | None = None,
        threshold: float | None = None,
    ) -> None:
        self.graph = graph
        self.index = index
        self.model = model
        self.encoder = encoder
        self.nlp = nlp
        self.options = options or Options()
        self.threshold = model.threshold if threshold is None else threshold
        self.types = model.types.compiled()
        self.notes: list[str] = []
        self._pairs: dict[tuple[str, str], bool] = {}
        self._searched: dict[str, dict[str, list[tuple[int, float]]]] = {}
        if index.vectors is None:
            self.notes.append(
                "entities have no text vectors of the text encoder: context similarity is off "
                "(run `mmkg features entities` to turn it on)"
            )

    @classmethod
    def from_graph(
        cls,
        graph: Graph,
        settings: Settings,
        model: LinkerModel | None = None,
        options: Options | None = None,
        threshold: float | None = None,
        embed_missing: bool = True,
        show_progress: bool | None = None,
        exclude: Callable[[str], bool] | None = None,
    ) -> TextLinker:
        """A linker over the graph's entities, with the packaged model unless given one.

        With ``embed_missing`` entities without a text vector of the text encoder get one
        first (``mmkg features entities``), since context similarity needs them.

        Raises:
            DataError: the graph has no entities.
            ConfigError: the encoder or the spaCy pipeline cannot be loaded.
        """
        encoder = load_encoder(settings.text_encoder, settings.encoder_device)
        if "text" not in encoder.modalities:
            raise ConfigError(f"text encoder {encoder.spec!r} does not encode text")
        if embed_missing:
            from mmkg.platform.media.search import embed_entities

            done = embed_entities(graph, settings, only_missing=True, show_progress=show_progress)
            if done["entities"]:
                log.info("embedded %d entity texts for the linker", done["entities"])
        index = read_index(graph, encoder.key, stop_words(), show_progress, exclude)
        if threshold is None:
            threshold = settings.linker_threshold
        return cls(
            graph,
            index,
            model or load_model(settings.linker_model),
            encoder,
            load_spacy(),
            options,
            threshold,
        )

    # --- scoring ------------------------------------------------------------------------
    def featurise(self, texts: Sequence[str]) -> Batch:
        detected = detect(list(texts), self.index.gazetteer, self.nlp, self.options.ner)
        spans = [(d, s) for d, (_, ss) in enumerate(detected) for s in ss]
        windows = [w for w, _ in detected]
        search_candidates(
            self.graph,
            self.index,
            [s for _, s in spans],
            self.encoder,
            self.options,
            self._searched,
        )
        vectors: list[np.ndarray[Any, Any] | None] = [None] * len(texts)
        if self.encoder is not None and self.index.vectors is not None:
            pieces = [texts[d][a:b] for d, ws in enumerate(windows) for a, b in ws]
            flat = self.encoder.encode_texts(pieces, 64) if pieces else np.zeros((0, 1))
            at = 0
            for d, ws in enumerate(windows):
                vectors[d] = flat[at : at + len(ws)]
                at += len(ws)
        return local_features(self.index, self.types, spans, vectors, list(texts), windows)

    def coherence(self, batch: Batch, p: np.ndarray[Any, Any]) -> np.ndarray[Any, Any]:
        """COHERENCE_FEATURES per candidate: how strongly the likely candidates of the other
        mentions in its window are joined to it in the graph (mean and max over those
        mentions, and its lead over its best rival)."""
        out = np.zeros((len(p), len(COHERENCE_FEATURES)))
        if not len(p):
            return out
        by_span: dict[int, list[int]] = {}
        for r in np.argsort(-p, kind="stable"):
            by_span.setdefault(int(batch.span[r]), []).append(int(r))
        # The other mentions of a mention are those of its window (a long text's paragraph).
        spans_of_doc: dict[tuple[int, int], list[int]] = {}
        for si in by_span:
            d, span = batch.spans[si]
            spans_of_doc.setdefault((d, span.window), []).append(si)
        ids = self.index.ids
        others: dict[int, list[int]] = {}
        pairs: set[tuple[str, str]] = set()
        for si, rows in by_span.items():
            d, span = batch.spans[si]
            others[si] = [
                o
                for o in spans_of_doc[(d, span.window)]
                if o != si and not _overlap(span, batch.spans[o][1])
            ]
            for r in rows[:COHERENT_CANDIDATES]:
                a = ids[batch.entity[r]]
                for o in others[si]:
                    for r2 in by_span[o][:SUPPORTING_CANDIDATES]:
                        b = ids[batch.entity[r2]]
                        if a != b:
                            pairs.add((a, b) if a < b else (b, a))
        connected = self._connected(pairs)
        for si, rows in by_span.items():
            if not others[si]:
                continue
            for r in rows[:COHERENT_CANDIDATES]:
                a = ids[batch.entity[r]]
                support = []
                for o in others[si]:
                    best = 0.0
                    for r2 in by_span[o][:SUPPORTING_CANDIDATES]:
                        b = ids[batch.entity[r2]]
                        if a != b and ((a, b) if a < b else (b, a)) in connected:
                            best = max(best, float(p[r2]))
                    support.append(best)
                out[r, :3] = (float(np.mean(support)), max(support), 1.0)
            for r in rows[COHERENT_CANDIDATES:]:
                out[r, 2] = 1.0
            if len(rows) > 1:
                coh = out[rows, 0]
                for n, r in enumerate(rows):
                    out[r, 3] = coh[n] - np.delete(coh, n).max()
        return out

    def _connected(self, pairs: set[tuple[str, str]]) -> set[tuple[str, str]]:
        """Which pairs are joined in the graph: asked of Neo4j once per pair and linker (the
        same pairs recur from document to document: Texas and the United States)."""
        cache = self._pairs
        todo = sorted(p for p in pairs if p not in cache)
        if len(cache) + len(todo) > CACHED_PAIRS:
            cache.clear()
        for start in range(0, len(todo), PAIRS_PER_QUERY):
            chunk = todo[start : start + PAIRS_PER_QUERY]
            cache.update(dict.fromkeys(chunk, False))
            for r in self.graph.read(Q.CONNECTED_PAIRS, {"pairs": [list(x) for x in chunk]}):
                cache[(r["a"], r["b"])] = True
        return {p for p in pairs if cache.get(p)}

    def score(self, batch: Batch) -> Scored:
        local = self.model.local.predict(batch.x, LOCAL_FEATURES)
        coh = np.zeros((len(local), len(COHERENCE_FEATURES)))
        final = local
        if self.model.joint is not None and len(local):
            coh = self.coherence(batch, local)
            x = np.concatenate([batch.x, coh], axis=1)
            final = self.model.joint.predict(x, LOCAL_FEATURES + COHERENCE_FEATURES)
        return Scored(batch, local, coh, final)

    def decide(self, scored: Scored, threshold: float | None = None) -> list[LinkedText]:
        batch, p = scored.batch, scored.final
        threshold = self.threshold if threshold is None else threshold
        best: dict[int, tuple[int, float]] = {}
        ranked: dict[int, list[int]] = {}
        for r in np.argsort(-p, kind="stable"):
            si = int(batch.span[r])
            ranked.setdefault(si, []).append(int(r))
            if si not in best:
                best[si] = (int(r), float(p[r]))
        per_doc: list[list[Mention]] = [[] for _ in batch.texts]
        of_doc: dict[int, dict[int, tuple[int, float]]] = {}
        for si, v in best.items():
            of_doc.setdefault(batch.spans[si][0], {})[si] = v
        # Offsets are per document: each is its own interval problem.
        chosen = [si for group in of_doc.values() for si in select(batch.spans, group, threshold)]
        for si in sorted(chosen, key=lambda si: (batch.spans[si][0], batch.spans[si][1].start)):
            d, span = batch.spans[si]
            r = best[si][0]
            e = int(batch.entity[r])
            alts = [
                {"entity": self.index.ids[int(batch.entity[x])], "score": round(float(p[x]), 4)}
                for x in ranked[si][1:4]
            ]
            per_doc[d].append(
                Mention(
                    span.start,
                    span.end,
                    span.surface,
                    self.index.ids[e],
                    self.index.names[e],
                    round(best[si][1], 4),
                    span.ner,
                    alts,
                )
            )
        return [
            LinkedText(m, len(t), len(w))
            for m, t, w in zip(per_doc, batch.texts, batch.windows, strict=True)
        ]

    def link(self, texts: Sequence[str], show_progress: bool | None = None) -> list[LinkedText]:
        """The linked mentions of each text, in text order."""
        out: list[LinkedText] = []
        started = time.perf_counter()
        with progress(len(texts), "linking texts", "doc", show_progress) as bar:
            for start in range(0, len(texts), BATCH):
                chunk = list(texts[start : start + BATCH])
                out.extend(self.decide(self.score(self.featurise(chunk))))
                bar.update(len(chunk))
        log.debug("linked %d texts in %.2fs", len(texts), time.perf_counter() - started)
        return out
