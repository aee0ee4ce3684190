"""COCO's files read as streams: records, and malformed ones numbered by entry."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from mmkg.errors import IngestError
from mmkg.platform.readers.coco import (
    CocoBox,
    CocoCaption,
    read_boxes,
    read_captions,
    read_categories,
    read_images,
)
from mmkg.platform.readers.lines import Reject


def test_records_and_rejects_by_entry(tmp_path: Path) -> None:
    path = tmp_path / "instances.json"
    path.write_text(json.dumps({
        "images": [{"id": 1, "file_name": "a.jpg"}, {"id": "2", "file_name": "b.jpg"},
                   {"id": 3, "file_name": "../../etc/x.jpg"}],
        "categories": [{"id": 5, "name": " dog ", "supercategory": "animal"}, {"id": 6}],
        "annotations": [
            {"id": 9, "image_id": 1, "category_id": 5, "bbox": [1, 2.5, 3, 4], "area": 12,
             "iscrowd": 0},
            {"id": 10, "image_id": 1, "category_id": 5, "bbox": [1, 2, -3, 4]},
            {"id": 11, "image_id": 1, "category_id": 5, "bbox": [1, 2, True, 4]},
        ],
    }), encoding="utf-8")  # fmt: skip
    images = list(read_images(path))
    assert images[0].file_name == "a.jpg"  # type: ignore[union-attr]
    rejected = [(r.line, r.unit) for r in images if isinstance(r, Reject)]
    assert rejected == [(2, "image"), (3, "image")]
    cats = list(read_categories(path))
    assert cats[0].name == "dog" and isinstance(cats[1], Reject)  # type: ignore[union-attr]
    boxes = list(read_boxes(path))
    assert isinstance(boxes[0], CocoBox) and boxes[0].box == (1.0, 2.5, 3.0, 4.0)
    assert boxes[0].area == 12.0 and not boxes[0].crowd
    assert [r.line for r in boxes if isinstance(r, Reject)] == [2, 3]

    caps = tmp_path / "captions.json"
    caps.write_text(
        json.dumps(
            {
                "annotations": [
                    {"id": 1, "image_id": 1, "caption": "  A dog\n runs. "},
                    {"id": 2, "image_id": 1},
                ]
            }
        )
    )
    read = list(read_captions(caps))
    assert isinstance(read[0], CocoCaption) and read[0].caption == "A dog runs."
    assert isinstance(read[1], Reject) and read[1].line == 2

    broken = tmp_path / "broken.json"
    broken.write_text('{"annotations": [{"id": 1,', encoding="utf-8")
    with pytest.raises(IngestError, match="not a COCO JSON file"):
        list(read_boxes(broken))
