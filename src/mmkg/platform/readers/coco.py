"""Reading MS-COCO annotation files (``instances_*.json``, ``captions_*.json``) as streams.

The files are single JSON documents of hundreds of megabytes: ijson parses them
incrementally, one array (``images``, ``categories``, ``annotations``) per pass, so memory
holds one record at a time (and the image and category tables, which are small). A malformed
record is a :class:`Reject` numbered by its entry in its array.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mmkg.errors import IngestError
from mmkg.platform.readers.lines import Reject


def _items(path: Path, array: str) -> Iterator[Any]:
    import ijson

    try:
        with path.open("rb") as fh:
            yield from ijson.items(fh, f"{array}.item", use_float=True)
    except ijson.JSONError as e:
        raise IngestError(f"{path}: not a COCO JSON file ({e})") from None


@dataclass(frozen=True)
class CocoImage:
    id: int
    file_name: str


@dataclass(frozen=True)
class CocoCategory:
    id: int
    name: str
    supercategory: str | None


@dataclass(frozen=True)
class CocoBox:
    entry: int
    id: int
    image_id: int
    category_id: int
    box: tuple[float, float, float, float]  # x, y, width, height in pixels
    area: float | None
    crowd: bool


@dataclass(frozen=True)
class CocoCaption:
    entry: int
    id: int
    image_id: int
    caption: str


def _int(record: dict[str, Any], key: str) -> int | None:
    value = record.get(key)
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def read_images(path: Path) -> Iterator[CocoImage | Reject]:
    for n, raw in enumerate(_items(path, "images"), 1):
        ident = _int(raw, "id") if isinstance(raw, dict) else None
        name = raw.get("file_name") if isinstance(raw, dict) else None
        if ident is None or not isinstance(name, str) or not name.strip():
            yield Reject(str(path), n, "an image needs an integer id and a file_name",
                         str(raw)[:200], "image")  # fmt: skip
            continue
        if Path(name).is_absolute() or ".." in Path(name).parts:
            yield Reject(str(path), n, f"file_name {name!r} leaves the image folder",
                         name, "image")  # fmt: skip
            continue
        yield CocoImage(ident, name)


def read_categories(path: Path) -> Iterator[CocoCategory | Reject]:
    for n, raw in enumerate(_items(path, "categories"), 1):
        ident = _int(raw, "id") if isinstance(raw, dict) else None
        name = raw.get("name") if isinstance(raw, dict) else None
        if ident is None or not isinstance(name, str) or not name.strip():
            yield Reject(str(path), n, "a category needs an integer id and a name",
                         str(raw)[:200], "category")  # fmt: skip
            continue
        sup = raw.get("supercategory")
        yield CocoCategory(ident, name.strip(), sup.strip() if isinstance(sup, str) else None)


def read_boxes(path: Path) -> Iterator[CocoBox | Reject]:
    for n, raw in enumerate(_items(path, "annotations"), 1):
        if not isinstance(raw, dict):
            yield Reject(str(path), n, "an annotation must be an object", str(raw)[:200],
                         "annotation")  # fmt: skip
            continue
        ident, image, category = _int(raw, "id"), _int(raw, "image_id"), _int(raw, "category_id")
        box = raw.get("bbox")
        ok_box = (
            isinstance(box, list)
            and len(box) == 4
            and all(isinstance(v, int | float) and not isinstance(v, bool) for v in box)
            and box[2] >= 0
            and box[3] >= 0
        )
        if ident is None or image is None or category is None or not ok_box or box is None:
            yield Reject(str(path), n, "an annotation needs integer id, image_id and "
                         "category_id and a bbox [x, y, width, height]", str(raw)[:200],
                         "annotation")  # fmt: skip
            continue
        area = raw.get("area")
        yield CocoBox(
            n, ident, image, category, (float(box[0]), float(box[1]), float(box[2]), float(box[3])),
            float(area) if isinstance(area, int | float) else None, bool(raw.get("iscrowd")),
        )  # fmt: skip


def read_captions(path: Path) -> Iterator[CocoCaption | Reject]:
    for n, raw in enumerate(_items(path, "annotations"), 1):
        ident = _int(raw, "id") if isinstance(raw, dict) else None
        image = _int(raw, "image_id") if isinstance(raw, dict) else None
        text = raw.get("caption") if isinstance(raw, dict) else None
        if ident is None or image is None or not isinstance(text, str) or not text.strip():
            yield Reject(str(path), n, "a caption needs integer id and image_id and a caption",
                         str(raw)[:200], "annotation")  # fmt: skip
            continue
        yield CocoCaption(n, ident, image, " ".join(text.split()))
