"""``mmkg ingest coco``: an MS-COCO annotation set with its local image folder.

- ``instances_*.json``: the images become Image media (ingested as ``mmkg ingest media`` does:
  content ids, features by the image encoder); the categories become entities
  (``coco:<name>``, with ``coco_supercategory`` relations to ``coco:<supercategory>``), or,
  with ``wordnet``, the graph's WordNet entity of that name where there is one (WN18RR,
  WN9-IMG); every box becomes ``(:Image)-[:DEPICTS {source: 'coco', annotation, box, area,
  crowd}]->(:Entity)``.
- ``captions_*.json``: every caption becomes a Text media node holding its text (with the
  text encoder's vector), ``(:Text)-[:CAPTION_OF]->(:Image)``; `mmkg link media` then links
  it to the entities it mentions like any text.

Idempotent (everything is MERGEd by content id, annotation id or caption id). The files are
streamed; a bad record is skipped and written to the rejects file with its entry number, and
an annotation whose image file is absent, or whose category is unknown, is counted.
"""

from __future__ import annotations

import hashlib
import logging
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from mmkg.errors import IngestError
from mmkg.graph_schema import queries as Q
from mmkg.graph_schema.names import feature_property
from mmkg.platform.encoders import load_encoder
from mmkg.platform.ingest.common import (
    IngestSummary,
    RejectLog,
    default_rejects_path,
    require_file,
)
from mmkg.platform.ingest.entities import write_entity_rows
from mmkg.platform.ingest.triples import load_triples
from mmkg.platform.media.files import sha256_file
from mmkg.platform.media.ingest import create_media_index, ingest_media
from mmkg.platform.progress import progress
from mmkg.platform.readers.coco import (
    CocoBox,
    CocoCaption,
    read_boxes,
    read_captions,
    read_categories,
    read_images,
)
from mmkg.platform.readers.lines import Reject
from mmkg.platform.schema import require_schema
from mmkg.platform.store import Graph
from mmkg.settings import Settings

log = logging.getLogger(__name__)

SUPERCATEGORY = "coco_supercategory"


@dataclass
class CocoSummary:
    images_listed: int = 0
    images_ingested: int = 0
    images_missing: int = 0
    categories: int = 0
    categories_on_wordnet: dict[str, str] = field(default_factory=dict)
    boxes: int = 0
    boxes_skipped: int = 0  # their image is absent or their category unknown
    captions: int = 0
    captions_skipped: int = 0
    rejected: int = 0
    rejects_file: str | None = None
    media: dict[str, Any] | None = None
    seconds: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def category_id(name: str) -> str:
    return "coco:" + "_".join(name.lower().split())


def _images(
    files: list[Path], folder: Path, rejects: RejectLog, summary: CocoSummary
) -> dict[int, Path]:
    """Image id -> its file in ``folder``, from every annotation file's image table (the
    instances and captions files of one split list the same images)."""
    listed: dict[int, str] = {}
    for path in files:
        for item in read_images(path):
            if isinstance(item, Reject):
                rejects.add(item)
            else:
                listed.setdefault(item.id, item.file_name)
    summary.images_listed = len(listed)
    found = {key: folder / name for key, name in listed.items() if (folder / name).is_file()}
    summary.images_missing = len(listed) - len(found)
    return found


def _categories(
    graph: Graph, settings: Settings, path: Path, wordnet: bool, rejects: RejectLog,
    summary: CocoSummary,
) -> dict[int, str]:  # fmt: skip
    """Category id -> entity id; the entities and supercategory relations are written."""
    cats = []
    for item in read_categories(path):
        if isinstance(item, Reject):
            rejects.add(item)
        else:
            cats.append(item)
    names = sorted({c.name.lower() for c in cats})
    mapped: dict[str, str] = {}
    if wordnet and names:
        mapped = {r["name"]: r["id"] for r in graph.read(Q.WORDNET_BY_NAME, {"names": names})}
    ids = {c.id: mapped.get(c.name.lower(), category_id(c.name)) for c in cats}
    rows: dict[str, dict[str, Any]] = {}
    triples: list[tuple[str, str, str]] = []
    for c in cats:
        if c.name.lower() in mapped:
            continue  # a WordNet entity keeps its own name and gloss
        rows[ids[c.id]] = {"id": ids[c.id], "name": c.name, "aliases": None,
                           "description": "MS-COCO object category"
                           + (f" ({c.supercategory})" if c.supercategory else "")}  # fmt: skip
        if c.supercategory and category_id(c.supercategory) != ids[c.id]:
            sup = category_id(c.supercategory)
            rows.setdefault(sup, {"id": sup, "name": c.supercategory, "aliases": None,
                                  "description": "MS-COCO supercategory"})  # fmt: skip
            triples.append((ids[c.id], SUPERCATEGORY, sup))
    if triples:
        load_triples(graph, triples, settings, IngestSummary(str(path), "triples"))
    if rows:
        write_entity_rows(graph, list(rows.values()), settings,
                          IngestSummary(str(path), "entities"), path.name, False)  # fmt: skip
    summary.categories = len(cats)
    summary.categories_on_wordnet = dict(sorted(mapped.items()))
    return ids


def _boxes(
    graph: Graph, path: Path, content: dict[int, str], categories: dict[int, str],
    batch: int, rejects: RejectLog, summary: CocoSummary, show_progress: bool | None,
) -> None:  # fmt: skip
    rows: list[dict[str, Any]] = []

    def flush() -> None:
        if rows:
            summary.boxes += int(graph.write_rows(Q.COCO_BOXES, {"rows": rows})[0]["linked"])
            rows.clear()

    with progress(None, f"boxes {path.name}", "box", show_progress) as bar:
        for item in read_boxes(path):
            if isinstance(item, Reject):
                rejects.add(item)
                continue
            box: CocoBox = item
            media, entity = content.get(box.image_id), categories.get(box.category_id)
            if media is None or entity is None:
                summary.boxes_skipped += 1
                continue
            rows.append({"media": media, "entity": entity, "annotation": box.id,
                         "box": list(box.box), "area": box.area, "crowd": box.crowd})  # fmt: skip
            bar.update(1)
            if len(rows) >= batch:
                flush()
        flush()


def _captions(
    graph: Graph, settings: Settings, path: Path, content: dict[int, str], rejects: RejectLog,
    summary: CocoSummary, show_progress: bool | None,
) -> None:  # fmt: skip
    encoder = load_encoder(settings.text_encoder, settings.encoder_device)
    prop = feature_property(encoder.key)
    pending: list[CocoCaption] = []

    def flush() -> None:
        if not pending:
            return
        vectors = encoder.encode_texts([c.caption for c in pending], settings.encoder_batch_size)
        media, links = [], []
        for c, v in zip(pending, vectors, strict=True):
            ident = hashlib.sha256(f"coco-caption:{c.id}:{c.caption}".encode()).hexdigest()
            media.append({
                "id": ident, "vector": [float(x) for x in v],
                "props": {"kind": "Text", "text": c.caption, "title": c.caption[:200],
                          "chars": len(c.caption), "source": "coco", "coco_id": c.id,
                          "mime": "text/plain"},
                "meta": {f"{prop}_encoder": encoder.label},
            })  # fmt: skip
            links.append({"text": ident, "image": content[c.image_id], "caption": c.caption})
        graph.write(Q.merge_media("Text"), {"rows": media, "property": prop})
        summary.captions += int(graph.write_rows(Q.CAPTION_OF_IMAGES, {"rows": links})[0]["linked"])
        pending.clear()

    with progress(None, f"captions {path.name}", "caption", show_progress) as bar:
        for item in read_captions(path):
            if isinstance(item, Reject):
                rejects.add(item)
                continue
            if item.image_id not in content:
                summary.captions_skipped += 1
                continue
            pending.append(item)
            bar.update(1)
            if len(pending) >= 512:
                flush()
        flush()
    if summary.captions:
        create_media_index(graph, "Text", encoder)


def ingest_coco(
    graph: Graph,
    settings: Settings,
    images: Path,
    instances: Path | None = None,
    captions: Path | None = None,
    wordnet: bool = False,
    rejects_path: Path | None = None,
    show_progress: bool | None = None,
) -> CocoSummary:
    """Load a COCO annotation set: ``instances`` and/or ``captions`` files, and the folder
    their ``file_name``s are relative to.

    Raises:
        IngestError: no annotation file, a missing file or folder, a file that is not COCO
            JSON, or annotation files that list no image present in the folder.
    """
    started = time.perf_counter()
    if instances is None and captions is None:
        raise IngestError("give an instances file, a captions file, or both")
    if not images.is_dir():
        raise IngestError(f"image folder {images} does not exist")
    for f in (instances, captions):
        if f is not None:
            require_file(f)
    require_schema(graph)
    source = instances or captions
    assert source is not None
    rejects = RejectLog(rejects_path or default_rejects_path(settings.home, source))
    summary = CocoSummary()
    try:
        given = [f for f in (instances, captions) if f is not None]
        found = _images(given, images, rejects, summary)
        if not found:
            raise IngestError(
                f"none of the {summary.images_listed} images the annotations list is in "
                f"{images} (file_name is relative to that folder)"
            )
        files = sorted(set(found.values()))
        media = ingest_media(graph, files, settings.model_copy(update={"media_root": images}),
                             show_progress=show_progress)  # fmt: skip
        summary.media = {k: v for k, v in media.to_dict().items() if k != "failures"}
        digests = {file: sha256_file(file) for file in files}
        content = {key: digests[file] for key, file in found.items()}
        summary.images_ingested = len(files) - media.failed
        if instances is not None:
            categories = _categories(graph, settings, instances, wordnet, rejects, summary)
            _boxes(graph, instances, content, categories, settings.ingest_batch_size, rejects,
                   summary, show_progress)  # fmt: skip
        if captions is not None:
            _captions(graph, settings, captions, content, rejects, summary, show_progress)
    finally:
        rejects.close()
    summary.rejected = rejects.count
    summary.rejects_file = rejects.written_to
    if rejects.count:
        log.warning("%d malformed COCO record(s) skipped, first: %s; all in %s",
                    rejects.count, rejects.first[0], rejects.path)  # fmt: skip
    summary.seconds = round(time.perf_counter() - started, 2)
    return summary
