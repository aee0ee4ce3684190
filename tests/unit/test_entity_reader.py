from __future__ import annotations

import json
from pathlib import Path

from mmkg.platform.readers.entities import EntityLimits, guess_entity_format, read_entities
from mmkg.platform.readers.lines import Reject


def _settings(tmp_path: Path) -> EntityLimits:
    return EntityLimits(max_field_chars=50, max_text_chars=100)


def test_tsv_with_header_aliases_and_rejects(tmp_path: Path) -> None:
    path = tmp_path / "e.tsv"
    path.write_text(
        "id\tname\tdescription\taliases\n"
        "paris\tParis\tCapital of France.\tCity of Light| Lutèce \n"
        "x\n"
        "y\tY\t" + "d" * 200 + "\n"
        "z\tZ\n",
        encoding="utf-8",
    )
    items = list(read_entities(path, "tsv", _settings(tmp_path)))
    rows = [i for i in items if not isinstance(i, Reject)]
    bad = [i for i in items if isinstance(i, Reject)]
    assert rows[0] == {
        "id": "paris",
        "name": "Paris",
        "description": "Capital of France.",
        "aliases": ["City of Light", "Lutèce"],
    }
    assert rows[1] == {"id": "z", "name": "Z", "description": None, "aliases": None}
    assert [(r.line, r.reason.split(" (")[0]) for r in bad] == [
        (3, "expected at least 2 fields"),
        (4, "description too long"),
    ]


def test_name_separator_splits_wordnet_style_text(tmp_path: Path) -> None:
    path = tmp_path / "entity2text.txt"
    path.write_text("08769179\tsaxony, an area in Germany, near the Elbe\n", encoding="utf-8")
    (row,) = read_entities(path, "tsv", _settings(tmp_path), name_sep=", ")
    assert row == {
        "id": "08769179",
        "name": "saxony",
        "description": "an area in Germany, near the Elbe",
        "aliases": None,
    }


def test_json_mapping_in_wikidata_layout(tmp_path: Path) -> None:
    path = tmp_path / "entity2wikidata.json"
    path.write_text(
        json.dumps(
            {
                "/m/1": {"label": "Denton", "description": "city", "alternatives": ["Denton, TX"]},
                "/m/2": "not an object",
            }
        ),
        encoding="utf-8",
    )
    assert guess_entity_format(path) == "json"
    items = list(read_entities(path, "json", _settings(tmp_path)))
    assert items[0] == {
        "id": "/m/1",
        "name": "Denton",
        "description": "city",
        "aliases": ["Denton, TX"],
    }
    assert isinstance(items[1], Reject) and "'/m/2'" in items[1].reason


def test_jsonl(tmp_path: Path) -> None:
    path = tmp_path / "e.jsonl"
    path.write_text('{"id": "a", "name": "A", "aliases": "x|y"}\n{"name": "no id"}\n')
    items = list(read_entities(path, "jsonl", _settings(tmp_path)))
    assert items[0] == {"id": "a", "name": "A", "description": None, "aliases": ["x", "y"]}
    assert isinstance(items[1], Reject) and items[1].line == 2
