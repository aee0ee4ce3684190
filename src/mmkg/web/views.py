"""What the API returns and the pages show: search results with thumbnails, entity pages.

Both the JSON API and the HTML pages call these, so a page never shows what the API would not.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from mmkg.errors import ConfigError, DataError, MmkgError, ServingError, UnknownEntityError
from mmkg.graph_schema import queries as Q
from mmkg.platform.encoders.registry import OFFLINE_IMAGE_ENCODER
from mmkg.platform.media.search import (
    SearchHit,
    search_image,
    search_vector,
    text_query_encoder,
)
from mmkg.platform.serving.predict import predict_head, predict_tail, similar
from mmkg.platform.store import Graph
from mmkg.settings import Settings

log = logging.getLogger(__name__)

# A text query looks for entities (their text vectors and the media depicting them) and text
# documents with the text encoder; images and videos too when the image encoder reads text.
TEXT_TARGETS = ("entity", "text", "image", "video")
IMAGE_TARGETS = ("image", "video", "entity")


@dataclass
class Hit:
    id: str
    kind: str
    name: str | None
    score: float
    description: str | None = None
    thumbnails: list[str] = field(default_factory=list)  # media ids
    via: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class SearchResult:
    query: str
    by: str  # text or image
    hits: dict[str, list[Hit]]
    notes: list[str]

    def to_dict(self) -> dict[str, Any]:
        return {
            "query": self.query,
            "by": self.by,
            "hits": {k: [h.to_dict() for h in v] for k, v in self.hits.items()},
            "notes": self.notes,
        }


def image_settings(settings: Settings) -> Settings:
    """Settings whose image encoder is the configured one, else the bundled EfficientNet."""
    if settings.image_encoder:
        return settings
    return settings.model_copy(update={"image_encoder": OFFLINE_IMAGE_ENCODER})


def _decorate(graph: Graph, hits: list[SearchHit], kind: str) -> list[Hit]:
    out = [Hit(h.id, h.kind or kind, h.name, round(h.score, 4), via=h.via) for h in hits]
    if kind == "entity" and out:
        rows = graph.read(Q.ENTITY_THUMBNAILS, {"ids": [h.id for h in out], "per": 3})
        thumbs = {r["id"]: list(r["media"]) for r in rows}
        cards = {
            r["id"]: r for r in graph.read(Q.ENTITY_DESCRIPTIONS, {"ids": [h.id for h in out]})
        }
        for h in out:
            h.thumbnails = thumbs.get(h.id, [])
            h.description = cards.get(h.id, {}).get("description")
    elif out:
        labels = {
            r["id"]: r["label"] for r in graph.read(Q.MEDIA_LABELS, {"ids": [h.id for h in out]})
        }
        for h in out:
            h.name = h.name or labels.get(h.id)
            if kind in ("image", "video"):
                h.thumbnails = [h.id]
    return out


def _each_target(
    graph: Graph,
    allowed: tuple[str, ...],
    targets: tuple[str, ...],
    search: Callable[[str], list[SearchHit]],
) -> tuple[dict[str, list[Hit]], list[str]]:
    """Hits per target. Targets asked for by name must work; without any, every one that can
    be searched is, and the others are noted with why not."""
    bad = [t for t in targets if t not in allowed]
    if bad:
        raise ConfigError(f"target must be among {', '.join(allowed)}, not {bad[0]!r}")
    hits: dict[str, list[Hit]] = {}
    notes: list[str] = []
    for target in targets or allowed:
        try:
            found = search(target)
        except (ServingError, ConfigError) as e:
            if targets:
                raise
            notes.append(f"{target}: {e}")
            continue
        hits[target] = _decorate(graph, found, target)
    return hits, notes


def search_by_text(
    graph: Graph, settings: Settings, query: str, k: int = 10, targets: tuple[str, ...] = ()
) -> SearchResult:
    if not query.strip():
        raise ConfigError("empty query")
    vectors: dict[str, Any] = {}  # the query encoded once per encoder, not once per target

    def search(target: str) -> list[SearchHit]:
        encoder = text_query_encoder(settings, target)
        if encoder.label not in vectors:
            vectors[encoder.label] = encoder.encode_texts([query])[0]
        return search_vector(graph, vectors[encoder.label], encoder, target, k)

    hits, notes = _each_target(graph, TEXT_TARGETS, targets, search)
    return SearchResult(query, "text", hits, notes)


def search_by_image(
    graph: Graph,
    settings: Settings,
    path: Path,
    name: str,
    k: int = 10,
    targets: tuple[str, ...] = (),
) -> SearchResult:
    use = image_settings(settings)

    def search(target: str) -> list[SearchHit]:
        try:
            return search_image(graph, path, use, target, k)
        except DataError as e:  # an undecodable upload: named as the user named it
            raise DataError(str(e).replace(str(path), name)) from None

    hits, notes = _each_target(graph, IMAGE_TARGETS, targets, search)
    return SearchResult(name, "image", hits, notes)


def _groups(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    groups: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for r in rows:
        groups.setdefault((r["relation"], r["direction"]), []).append(
            {"id": r["id"], "name": r["name"]}
        )
    return [
        {"relation": rel, "direction": direction, "entities": ents}
        for (rel, direction), ents in groups.items()
    ]


def _media(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    out = []
    for r in rows:
        item = {k: r[k] for k in ("id", "kind", "title", "link", "source", "caption")}
        item["score"] = None if r["score"] is None else round(float(r["score"]), 3)
        if r["kind"] == "Video":
            item["duration"] = r["duration"]
            start, end = r["segment_start"], r["segment_end"]
            if start is not None and end is not None:
                item["segments"] = [{"start": float(start), "end": float(end)}]
            elif r["duration"] and r["segments"]:  # the clip's equal segments, as ingested
                step = float(r["duration"]) / int(r["segments"])
                item["segments"] = [
                    {"start": round(i * step, 2), "end": round((i + 1) * step, 2)}
                    for i in range(int(r["segments"]))
                ]
            else:
                item["segments"] = []
        out.append(item)
    return out


def entity_view(
    graph: Graph, entity_id: str, k: int = 3, relations: int = 4, facts: int = 200
) -> dict[str, Any]:
    """An entity's card, facts by relation, media, predicted facts and nearest neighbours."""
    rows = graph.read(Q.ENTITY_CARD, {"id": entity_id})
    if not rows:
        raise UnknownEntityError(f"no entity with id {entity_id!r}")
    card = dict(rows[0])
    aliases = card.get("aliases")
    card["aliases"] = [aliases] if isinstance(aliases, str) else list(aliases or [])
    card["facts"] = _groups(graph.read(Q.ENTITY_FACTS, {"id": entity_id, "limit": facts}))
    card["media"] = _media(graph.read(Q.ENTITY_MEDIA, {"id": entity_id, "limit": 60}))
    card["similar"], card["predictions"], card["notes"] = [], [], []
    try:
        near = similar(graph, entity_id, 8)
    except ServingError as e:  # no active run, or this entity has no vector in it
        card["notes"].append(f"no predictions: {e}")
        return card
    card["similar"] = [p.to_dict() for p in near]
    ids = [entity_id, *(p.id for p in near)]
    # Tails for the relations it and its neighbours have as heads; heads for those they have
    # as tails ("who else would have this as their field of work").
    for direction, query in (("out", Q.HEAD_RELATIONS), ("in", Q.TAIL_RELATIONS)):
        for row in graph.read(query, {"ids": ids, "limit": relations}):
            relation = row["relation"]
            try:
                found = (
                    predict_tail(graph, entity_id, relation, k)
                    if direction == "out"
                    else predict_head(graph, relation, entity_id, k)
                )
            except MmkgError as e:
                card["notes"].append(f"{relation}: {e}")
                continue
            card["predictions"].append(
                {"relation": relation, "direction": direction,
                 "predicted": [p.to_dict() for p in found]}
            )  # fmt: skip
    if not card["predictions"]:
        card["notes"].append("no relation of this entity or its neighbours to predict")
    return card
