"""Cross-modal semantic search through Neo4j's vector indexes, and entity text features.

A text query is encoded by the text encoder for text documents and entities, and by the CLIP
encoder's text side for images and videos; an image query by the CLIP encoder. Entities are
found through their own name/description vectors and through the media that depict them.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from mmkg.errors import ConfigError, QueryError, ServingError
from mmkg.graph_schema import queries as Q
from mmkg.graph_schema.names import entity_index_name, feature_property, media_index_name
from mmkg.platform.encoders import Encoder, load_encoder
from mmkg.platform.media.probe import open_image
from mmkg.platform.progress import progress
from mmkg.platform.schema import require_schema
from mmkg.platform.store import Graph
from mmkg.settings import Settings

TARGETS = ("image", "video", "text", "entity")


@dataclass
class SearchHit:
    id: str
    kind: str
    name: str | None
    uri: str | None
    score: float
    via: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _entity_text(row: dict[str, Any]) -> str:
    name = row.get("name") or row["id"]
    desc = row.get("description")
    return f"{name}: {desc}" if desc else str(name)


def embed_entities(
    graph: Graph,
    settings: Settings,
    encoder_spec: str | None = None,
    only_missing: bool = True,
    batch: int = 2000,
    show_progress: bool | None = None,
) -> dict[str, Any]:
    """Give entities a vector of their name and description (``feat_<encoder>``) and index it."""
    encoder = load_encoder(encoder_spec or settings.text_encoder, settings.encoder_device)
    if "text" not in encoder.modalities:
        raise ConfigError(f"encoder {encoder.spec!r} does not encode text")
    require_schema(graph)
    prop = feature_property(encoder.key)
    started, done, after = time.perf_counter(), 0, ""
    with progress(None, "embedding entity texts", "entity", show_progress) as bar:
        while True:
            rows = graph.read(
                Q.ENTITY_TEXTS,
                {"after": after, "limit": batch, "feature": prop, "missing_only": only_missing},
            )
            if not rows:
                break
            vecs = encoder.encode_texts(
                [_entity_text(r) for r in rows], settings.encoder_batch_size
            )
            graph.write(
                Q.SET_NODE_VECTORS_ENTITY,
                {
                    "property": prop,
                    "rows": [
                        {"id": r["id"], "vector": [float(x) for x in v],
                         "meta": {f"{prop}_encoder": encoder.label}}
                        for r, v in zip(rows, vecs, strict=True)
                    ],
                },
            )  # fmt: skip
            done += len(rows)
            after = rows[-1]["id"]
            bar.update(len(rows))
    index = entity_index_name(encoder.key)
    if done:
        graph.run_autocommit(
            Q.create_vector_index("Entity", prop),
            {"name": index, "options": Q.vector_index_options(encoder.dim, "cosine")},
        )
        graph.run_autocommit(Q.AWAIT_INDEX, {"name": index, "timeout": 600})
    return {
        "encoder": encoder.label,
        "property": prop,
        "index": index,
        "entities": done,
        "seconds": round(time.perf_counter() - started, 3),
    }


def _query(graph: Graph, query: str, params: dict[str, Any]) -> list[dict[str, Any]]:
    try:
        return graph.read(query, params)
    except QueryError as e:
        if "no such vector schema index" in str(e).lower() or "no such index" in str(e).lower():
            raise ServingError(
                f"no vector index {params.get('index')!r} yet: ingest media (or run `mmkg "
                "features entities`) with this encoder first"
            ) from e
        raise


def _hits(rows: list[dict[str, Any]]) -> list[SearchHit]:
    return [
        SearchHit(
            id=r["id"],
            kind=r["kind"] or "",
            name=r.get("name") or r.get("title"),
            uri=r.get("uri"),
            score=float(r["score"]),
            via=list(r.get("via") or []),
        )
        for r in rows
    ]


def search_vector(
    graph: Graph, vector: np.ndarray[Any, Any], encoder: Encoder, target: str, k: int
) -> list[SearchHit]:
    """Media or entities nearest to a query vector of ``encoder``'s space."""
    _check(target, k)
    # HNSW searches with a candidate list as long as the number asked for: asking for a few
    # times more (at least 40) keeps small k from missing the true best (k = 1 did).
    fetch = max(4 * k, 40)
    params: dict[str, Any] = {"vector": [float(x) for x in vector], "k": fetch}
    if target in ("image", "video", "text"):
        params["index"] = media_index_name(target.capitalize(), encoder.key)
        return _hits(_query(graph, Q.VECTOR_QUERY, params))[:k]
    # Entities: their own text vectors (if indexed for this encoder) and the media depicting them.
    found: dict[str, SearchHit] = {}
    indexes = {r["name"] for r in graph.read(Q.VECTOR_INDEX_NAMES)}
    own = entity_index_name(encoder.key)
    if own in indexes:
        for hit in _hits(_query(graph, Q.VECTOR_QUERY, {**params, "index": own})):
            found[hit.id] = hit
    for kind in ("Image", "Video", "Text"):
        index = media_index_name(kind, encoder.key)
        if index in indexes:
            rows = _query(
                graph, Q.ENTITIES_VIA_MEDIA, {**params, "index": index, "fetch": 10 * fetch}
            )
            for hit in _hits(rows):
                best = found.get(hit.id)
                if best is None or hit.score > best.score:
                    found[hit.id] = hit
    if not indexes & {
        own,
        *(media_index_name(k_, encoder.key) for k_ in ("Image", "Video", "Text")),
    }:
        raise ServingError(
            f"nothing is indexed for encoder {encoder.label}: run `mmkg features entities` or "
            "ingest media with it first"
        )
    return sorted(found.values(), key=lambda h: -h.score)[:k]


def _check(target: str, k: int) -> None:
    if target not in TARGETS:
        raise ConfigError(f"target must be one of {', '.join(TARGETS)}, not {target!r}")
    if not 1 <= k <= 10_000:
        raise ConfigError(f"k must lie in 1..10000, got {k}")


def text_query_encoder(settings: Settings, target: str) -> Encoder:
    """The encoder whose text side a text query for ``target`` goes through: the text
    encoder for text documents and entities, the (CLIP) image encoder for images and videos."""
    if target in ("image", "video"):
        if not settings.image_encoder:
            raise ConfigError(
                "searching images or videos by text needs MMKG_IMAGE_ENCODER=clip:PATH"
            )
        return load_encoder(settings.image_encoder, settings.encoder_device)
    return load_encoder(settings.text_encoder, settings.encoder_device)


def search_text(
    graph: Graph, query: str, settings: Settings, target: str = "text", k: int = 10
) -> list[SearchHit]:
    """Media or entities for a text query."""
    _check(target, k)
    if not query.strip():
        raise ConfigError("empty query")
    encoder = text_query_encoder(settings, target)
    vector = encoder.encode_texts([query])[0]
    return search_vector(graph, vector, encoder, target, k)


def search_image(
    graph: Graph, path: Path, settings: Settings, target: str = "image", k: int = 10
) -> list[SearchHit]:
    """Media or entities for an image query (through the image encoder's space)."""
    _check(target, k)
    if not settings.image_encoder:
        raise ConfigError("searching by image needs MMKG_IMAGE_ENCODER (clip:PATH or cnn:PATH)")
    encoder = load_encoder(settings.image_encoder, settings.encoder_device)
    if target == "text" and "text" not in encoder.modalities:
        raise ConfigError(f"encoder {encoder.spec!r} has no text side to search texts with")
    from mmkg.errors import DataError

    try:
        image, _ = open_image(path, settings.max_image_pixels)
    except DataError as e:
        raise DataError(f"{path}: {e}") from None
    vector = encoder.encode_images([image])[0]
    if target == "text":
        raise ConfigError(
            "text documents are indexed with the text encoder; search them with `search text`"
        )
    return search_vector(graph, vector, encoder, target, k)
