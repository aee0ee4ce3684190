"""`mmkg ingest coco` on small files in COCO's published schema, with real photos."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from mmkg.errors import IngestError
from mmkg.graph_schema import queries as Q
from mmkg.platform.ingest.coco import ingest_coco
from mmkg.platform.store import Graph
from mmkg.settings import Settings
from tests.integration.conftest import run_cli
from tests.media_fixtures import photo

IMAGES = [
    {"id": 139, "file_name": "000000000139.jpg", "width": 512, "height": 512},
    {"id": 285, "file_name": "000000000285.jpg", "width": 451, "height": 300},
    {"id": 632, "file_name": "000000000632.jpg", "width": 600, "height": 400},
    {"id": 724, "file_name": "000000000724.jpg", "width": 640, "height": 480},  # not on disk
]
CATEGORIES = [
    {"supercategory": "person", "id": 1, "name": "person"},
    {"supercategory": "animal", "id": 17, "name": "cat"},
    {"supercategory": "kitchen", "id": 47, "name": "cup"},
]
INSTANCES: dict[str, Any] = {
    "info": {"description": "COCO 2017 Dataset (a test excerpt)", "version": "1.0"},
    "licenses": [{"url": "http://creativecommons.org/licenses/by/2.0/", "id": 4, "name": "x"}],
    "images": IMAGES,
    "annotations": [
        {"segmentation": [[10, 10, 200, 10, 200, 500]], "area": 90000.0, "iscrowd": 0,
         "image_id": 139, "bbox": [120.0, 0.0, 300.0, 512.0], "category_id": 1, "id": 1001},
        {"segmentation": [[0, 0, 1, 1]], "area": 60000.0, "iscrowd": 0, "image_id": 285,
         "bbox": [60.0, 20.0, 300.0, 260.0], "category_id": 17, "id": 1002},
        {"segmentation": [[0, 0, 1, 1]], "area": 40000.0, "iscrowd": 0, "image_id": 632,
         "bbox": [150.0, 80.0, 280.0, 230.0], "category_id": 47, "id": 1003},
        {"segmentation": [[0, 0, 1, 1]], "area": 900.0, "iscrowd": 1, "image_id": 632,
         "bbox": [10.0, 10.0, 30.0, 30.0], "category_id": 47, "id": 1004},
        {"segmentation": [], "area": 1.0, "iscrowd": 0, "image_id": 632, "bbox": [1, 2, 3],
         "category_id": 47, "id": 1005},  # a malformed box
        {"segmentation": [], "area": 1.0, "iscrowd": 0, "image_id": 632,
         "bbox": [1.0, 2.0, 3.0, 4.0], "category_id": 99, "id": 1006},  # unknown category
        {"segmentation": [], "area": 1.0, "iscrowd": 0, "image_id": 724,
         "bbox": [1.0, 2.0, 3.0, 4.0], "category_id": 1, "id": 1007},  # image not on disk
    ],
    "categories": CATEGORIES,
}  # fmt: skip
CAPTIONS: dict[str, Any] = {
    "info": INSTANCES["info"],
    "licenses": INSTANCES["licenses"],
    "images": IMAGES,
    "annotations": [
        {"image_id": 139, "id": 5001, "caption": "An astronaut in a white suit poses by a flag."},
        {"image_id": 285, "id": 5002, "caption": "A tabby cat looks at the camera."},
        {"image_id": 632, "id": 5003, "caption": "A cup of  coffee on a saucer.\n"},
        {"image_id": 724, "id": 5004, "caption": "A train."},  # its image is not on disk
    ],
}


def _write(folder: Path) -> tuple[Path, Path, Path]:
    images = folder / "val2017"
    images.mkdir(parents=True)
    for name, record in zip(("astronaut", "chelsea", "coffee"), IMAGES, strict=False):
        photo(name).save(images / record["file_name"], quality=90)
    ann = folder / "annotations"
    ann.mkdir()
    (ann / "instances_val2017.json").write_text(json.dumps(INSTANCES), encoding="utf-8")
    (ann / "captions_val2017.json").write_text(json.dumps(CAPTIONS), encoding="utf-8")
    return images, ann / "instances_val2017.json", ann / "captions_val2017.json"


def test_coco_images_boxes_captions_and_wordnet_categories(
    graph: Graph, neo4j_settings: Settings, tmp_path: Path
) -> None:
    images, instances, captions = _write(tmp_path)
    # A WordNet graph (WN18RR's ids) that knows cats: COCO's "cat" becomes that entity.
    graph.write(
        Q.UPSERT_ENTITY_TEXT,
        {
            "rows": [
                {"id": "02121620", "name": "cat", "description": "feline mammal", "aliases": None}
            ]
        },
    )
    s = ingest_coco(graph, neo4j_settings, images, instances, captions, wordnet=True,
                    show_progress=False)  # fmt: skip
    assert (s.images_listed, s.images_ingested, s.images_missing) == (4, 3, 1)
    assert s.categories == 3 and s.categories_on_wordnet == {"cat": "02121620"}
    assert s.boxes == 4 and s.boxes_skipped == 2 and s.rejected == 1
    assert s.rejects_file and "annotation" in Path(s.rejects_file).read_text()
    assert s.captions == 3 and s.captions_skipped == 1
    boxes = graph.read(
        "MATCH (m:Image)-[r:DEPICTS {source: 'coco'}]->(e:Entity) "
        "RETURN r.annotation AS ann, e.id AS entity, r.box AS box, r.crowd AS crowd "
        "ORDER BY ann"
    )
    assert [(b["ann"], b["entity"]) for b in boxes] == [
        (1001, "coco:person"),
        (1002, "02121620"),
        (1003, "coco:cup"),
        (1004, "coco:cup"),
    ]
    assert boxes[0]["box"] == [120.0, 0.0, 300.0, 512.0] and boxes[3]["crowd"] is True
    cup = graph.read(
        "MATCH (c:Entity {id: 'coco:cup'})-[r]->(s:Entity) "
        "RETURN c.name AS name, c.description AS description, s.id AS sup"
    )
    assert cup == [{"name": "cup", "description": "MS-COCO object category (kitchen)",
                    "sup": "coco:kitchen"}]  # fmt: skip
    assert graph.read("MATCH (e:Entity {id: '02121620'}) RETURN e.name AS n")[0]["n"] == "cat"
    texts = graph.read(
        "MATCH (t:Text)-[:CAPTION_OF]->(m:Image) RETURN t.text AS text, m.caption AS caption, "
        "t.source AS source ORDER BY text"
    )
    assert [t["text"] for t in texts] == [
        "A cup of coffee on a saucer.", "A tabby cat looks at the camera.",
        "An astronaut in a white suit poses by a flag."]  # fmt: skip
    assert all(t["caption"] == t["text"] and t["source"] == "coco" for t in texts)
    indexes = {r["name"] for r in graph.read(Q.VECTOR_INDEX_NAMES)}
    assert any(name.startswith("mmkg_media_text_minilm") for name in indexes)  # searchable

    counts = graph.read("MATCH (n) WITH count(n) AS nodes MATCH ()-[r]->() "
                        "RETURN nodes, count(r) AS rels")[0]  # fmt: skip
    again = json.loads(run_cli(
        neo4j_settings, "-q", "ingest", "coco", "--images", str(images), "--instances",
        str(instances), "--captions", str(captions), "--wordnet", "--json").stdout)  # fmt: skip
    assert again["boxes"] == 4 and again["captions"] == 3
    assert graph.read("MATCH (n) WITH count(n) AS nodes MATCH ()-[r]->() "
                      "RETURN nodes, count(r) AS rels")[0] == counts  # fmt: skip


def test_bad_coco_input_is_named_and_loads_nothing(
    graph: Graph, neo4j_settings: Settings, tmp_path: Path
) -> None:
    images, instances, _ = _write(tmp_path)
    with pytest.raises(IngestError, match="instances file, a captions file"):
        ingest_coco(graph, neo4j_settings, images)
    broken = tmp_path / "broken.json"
    broken.write_text('{"images": [{"id": 1, "file_name": "a.jpg"}, ', encoding="utf-8")
    with pytest.raises(IngestError, match="not a COCO JSON file"):
        ingest_coco(graph, neo4j_settings, images, broken)
    elsewhere = tmp_path / "empty"
    elsewhere.mkdir()
    with pytest.raises(IngestError, match="none of the 4 images"):
        ingest_coco(graph, neo4j_settings, elsewhere, instances)
    escaping = tmp_path / "escape.json"
    escaping.write_text(json.dumps({"images": [{"id": 1, "file_name": "../x.jpg"}],
                                    "annotations": [], "categories": []}))  # fmt: skip
    with pytest.raises(IngestError, match="none of the 0 images"):
        ingest_coco(graph, neo4j_settings, images, escaping)
    assert graph.read("MATCH (n:Entity) RETURN count(n) AS n")[0]["n"] == 0
