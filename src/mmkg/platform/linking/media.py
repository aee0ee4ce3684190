"""Linking the media stored in the graph: Text documents (their files are read again) become
``(:Text)-[:MENTIONS {start, end, surface, score, source: 'linker', linker}]->(:Entity)``.

Each batch replaces the linker's own edges of its documents in one transaction, so linking
again is idempotent and an interrupted run leaves every document either as it was or fully
re-linked; edges from manifests are never touched.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from mmkg.errors import ConfigError, DataError
from mmkg.graph_schema import queries as Q
from mmkg.platform.linking.linker import TextLinker
from mmkg.platform.media.probe import read_text
from mmkg.platform.progress import progress
from mmkg.platform.store import Graph
from mmkg.settings import Settings

log = logging.getLogger(__name__)

PAGE = 256
T = TypeVar("T")


@dataclass
class LinkSummary:
    linker: str = ""
    texts: int = 0
    images: int = 0
    videos: int = 0
    mentions: int = 0
    depicts: int = 0
    skipped: list[dict[str, str]] = field(default_factory=list)
    seconds: float = 0.0
    notes: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _pages(
    graph: Graph, kind: str, ids: list[str] | None, unlinked: bool
) -> Iterator[list[dict[str, Any]]]:
    """Pages of ``{id, path}`` of the media of ``kind`` to link: the given ids, else all of
    them (or those the linker has not linked yet), by id."""
    if ids is not None:
        for start in range(0, len(ids), PAGE):
            chunk = ids[start : start + PAGE]
            if page := graph.read(Q.MEDIA_TO_LINK_BY_ID, {"ids": chunk, "label": kind}):
                yield page
        return
    after = ""
    while page := graph.read(
        Q.MEDIA_TO_LINK, {"after": after, "limit": PAGE, "unlinked": unlinked, "label": kind}
    ):
        yield page
        after = page[-1]["id"]


def _open(row: dict[str, Any], summary: LinkSummary, read: Callable[[Path], T]) -> T | None:
    """The medium's file read by ``read``, or None with the reason recorded in ``summary``."""
    try:
        return read(Path(row["path"]))
    except (OSError, DataError) as e:
        reason = e.strerror if isinstance(e, OSError) else str(e)
        summary.skipped.append({"id": row["id"], "path": str(row["path"]), "reason": str(reason)})
        return None


def _rows(linker: TextLinker, ids: list[str], texts: list[str]) -> list[dict[str, Any]]:
    linked = linker.link(texts, show_progress=False)
    return [
        {
            "id": mid,
            "mentions": [
                {
                    "entity": m.entity,
                    "start": m.start,
                    "end": m.end,
                    "surface": m.surface,
                    "score": m.score,
                }
                for m in doc.mentions
            ],
        }
        for mid, doc in zip(ids, linked, strict=True)
    ]


def link_text_media(
    graph: Graph,
    settings: Settings,
    linker: TextLinker,
    ids: list[str] | None = None,
    unlinked: bool = False,
    summary: LinkSummary | None = None,
    show_progress: bool | None = None,
) -> LinkSummary:
    """Link Text media: the given ids, else every one (or those not linked yet)."""
    summary = summary or LinkSummary()
    summary.linker = linker.model.label
    started = time.perf_counter()
    with progress(None, "linking text media", "doc", show_progress) as bar:
        for page in _pages(graph, "Text", ids, unlinked):
            good_ids, texts = [], []
            for row in page:
                text = row.get("text") or _open(
                    row, summary, lambda p: read_text(p, settings.max_text_bytes)[0]
                )
                if text is not None:
                    good_ids.append(row["id"])
                    texts.append(text)
            if good_ids:
                rows = _rows(linker, good_ids, texts)
                result = graph.write_rows(
                    Q.REPLACE_TEXT_LINKS, {"docs": rows, "linker": linker.model.label}
                )
                summary.mentions += int(result[0]["linked"] or 0) if result else 0
                summary.texts += len(good_ids)
            bar.update(len(page))
    summary.notes.extend(n for n in linker.notes if n not in summary.notes)
    summary.seconds = round(summary.seconds + time.perf_counter() - started, 3)
    return summary


def _image_method(graph: Graph, settings: Settings, method: str) -> tuple[str, Any]:
    """``("imagenet", None)`` or ``("clip", encoder)``: auto picks CLIP when the image
    encoder is a CLIP and the entities have its text vectors, else the ImageNet classifier."""
    from mmkg.graph_schema.names import entity_index_name
    from mmkg.platform.encoders import load_encoder

    if method not in ("auto", "imagenet", "clip"):
        raise ConfigError(f"image linking method {method!r}: use auto, imagenet or clip")
    clip = None
    if method != "imagenet" and settings.image_encoder:
        enc = load_encoder(settings.image_encoder, settings.encoder_device)
        if enc.kind == "clip":
            clip = enc
    if clip is not None:
        names = {r["name"] for r in graph.read(Q.VECTOR_INDEX_NAMES)}
        if entity_index_name(clip.key) in names:
            return "clip", clip
        if method == "clip":
            raise ConfigError(
                "CLIP linking needs the entities' CLIP text vectors: run `mmkg features "
                f"entities --encoder {settings.image_encoder}` first"
            )
    elif method == "clip":
        raise ConfigError("CLIP linking needs a CLIP image encoder (MMKG_IMAGE_ENCODER=clip:PATH)")
    return "imagenet", None


def link_image_media(
    graph: Graph,
    settings: Settings,
    ids: list[str] | None = None,
    unlinked: bool = False,
    method: str = "auto",
    threshold: float = 0.1,
    k: int = 3,
    summary: LinkSummary | None = None,
    show_progress: bool | None = None,
) -> LinkSummary:
    """Link Image and Video media to the entities they depict (mmkg.platform.linking.images):
    a video through its sampled frames, with the time span each entity is seen in."""
    from mmkg.graph_schema.names import entity_index_name, feature_property
    from mmkg.platform.encoders.imagenet import load_classifier
    from mmkg.platform.encoders.video import probe_video, sample_frames
    from mmkg.platform.linking.images import (
        class_entities,
        clip_links,
        imagenet_links,
        video_links,
    )
    from mmkg.platform.media.probe import open_image

    summary = summary or LinkSummary()
    started = time.perf_counter()
    kind, clip = _image_method(graph, settings, method)
    classifier = entities = None
    if kind == "imagenet":
        classifier = load_classifier(settings.encoder_device)
        synsets = classifier.synsets
        forms = [w for s in synsets for w in (s, s[1:])]
        present = {r["id"] for r in graph.read(Q.ENTITY_KEYS, {"ids": forms})}
        entities = class_entities(synsets, present)
        label = classifier.version
        if not present:
            summary.notes.append(
                "no ImageNet class is an entity of this graph (WordNet ids such as n02123045 "
                "or 02123045): images were not linked; a CLIP image encoder links any graph"
            )
            return summary
    else:
        label = clip.label
    linker = f"mmkg-image-{kind}@{label}"

    def frames(p: Path) -> Any:
        probe = probe_video(p)
        picked = sample_frames(p, probe, settings.video_frames, settings.video_sampling)
        return probe, picked

    pages = (
        (label_, page)
        for label_ in ("Image", "Video")
        for page in _pages(graph, label_, ids, unlinked)
    )
    with progress(None, "linking images and videos", "item", show_progress) as bar:
        for media_kind, page in pages:
            good: list[str] = []
            if kind == "imagenet" and media_kind == "Video":
                assert classifier is not None and entities is not None
                links = []
                for row in page:
                    got = _open(row, summary, frames)
                    if got is None:
                        continue
                    probe, picked = got
                    good.append(row["id"])
                    probs = classifier.probabilities([im for _, im in picked])
                    links.append(
                        video_links(
                            [t for t, _ in picked],
                            probs,
                            entities,
                            classifier.synsets,
                            threshold,
                            k,
                            probe.duration,
                        )
                    )
            elif kind == "imagenet":
                assert classifier is not None and entities is not None
                images = []
                for row in page:
                    image = _open(
                        row, summary, lambda p: open_image(p, settings.max_image_pixels)[0]
                    )
                    if image is not None:
                        good.append(row["id"])
                        images.append(image)
                links = imagenet_links(
                    classifier.probabilities(images), entities, classifier.synsets, threshold, k
                )
            else:
                prop = feature_property(clip.key)
                vecs = {
                    r["id"]: r["vector"]
                    for r in graph.read(
                        Q.IMAGE_VECTORS, {"ids": [r["id"] for r in page], "property": prop}
                    )
                }
                good = [i for i in (r["id"] for r in page) if vecs.get(i) is not None]
                rows = [{"key": n, "vector": vecs[i]} for n, i in enumerate(good)]
                found: dict[int, tuple[list[str], list[float]]] = {
                    n: ([], []) for n in range(len(good))
                }
                if rows:
                    for r in graph.read(
                        Q.VECTOR_ENTITIES,
                        {"rows": rows, "k": max(k, 20), "index": entity_index_name(clip.key)},
                    ):
                        # Neo4j's cosine score is (1 + cos) / 2.
                        found[r["key"]] = (r["ids"], [2 * s - 1 for s in r["scores"]])
                links = clip_links([found[n] for n in range(len(good))], threshold, k)
            docs = [
                {
                    "id": i,
                    "links": [
                        {
                            "entity": x.entity,
                            "score": x.score,
                            "props": {
                                "method": x.method,
                                "label": x.label,
                                "segment_start": x.segment_start,
                                "segment_end": x.segment_end,
                            },
                        }
                        for x in ls
                    ],
                }
                for i, ls in zip(good, links, strict=True)
            ]
            if docs:
                result = graph.write_rows(Q.REPLACE_IMAGE_LINKS, {"docs": docs, "linker": linker})
                summary.depicts += int(result[0]["linked"] or 0) if result else 0
                if media_kind == "Video":
                    summary.videos += len(docs)
                else:
                    summary.images += len(docs)
            bar.update(len(page))
    summary.seconds = round(summary.seconds + time.perf_counter() - started, 3)
    return summary


_LINKERS: dict[tuple[str, str, str, str], tuple[TextLinker, int, float]] = {}
LINKER_TTL = 600.0


def cached_linker(graph: Graph, settings: Settings, show_progress: bool | None) -> TextLinker:
    """A text linker for the graph, reused by the batches of a worker while the graph holds
    the same number of entities and for at most LINKER_TTL seconds (building one reads every
    entity)."""
    key = (graph.uri, graph.database, str(settings.linker_model), str(settings.linker_threshold))
    entities = int(graph.read(Q.COUNT_ENTITIES)[0]["n"])
    hit = _LINKERS.get(key)
    if hit is not None and hit[1] == entities and time.monotonic() - hit[2] < LINKER_TTL:
        return hit[0]
    linker = TextLinker.from_graph(graph, settings, show_progress=show_progress)
    _LINKERS.clear()
    _LINKERS[key] = (linker, entities, time.monotonic())
    return linker


def link_media_in_graph(
    graph: Graph,
    settings: Settings,
    ids: list[str] | None = None,
    unlinked: bool = False,
    texts: bool = True,
    images: bool = True,
    image_method: str = "auto",
    image_threshold: float = 0.1,
    image_k: int = 3,
    show_progress: bool | None = None,
) -> LinkSummary:
    """``mmkg link media``: Text media through the text linker, Image media through the
    image linker; the given ids, else all (or the not yet linked)."""
    summary = LinkSummary()
    if texts and _has(graph, "Text", ids, unlinked):
        linker = cached_linker(graph, settings, show_progress)
        link_text_media(graph, settings, linker, ids, unlinked, summary, show_progress)
    if images and (_has(graph, "Image", ids, unlinked) or _has(graph, "Video", ids, unlinked)):
        link_image_media(
            graph,
            settings,
            ids,
            unlinked,
            image_method,
            image_threshold,
            image_k,
            summary,
            show_progress,
        )
    return summary


def _has(graph: Graph, kind: str, ids: list[str] | None, unlinked: bool) -> bool:
    return next(_pages(graph, kind, ids[:PAGE] if ids else ids, unlinked), None) is not None
