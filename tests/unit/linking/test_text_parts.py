"""The text linker's parts that need no server: gazetteer, windows, selection, model files,
labelled sets."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from mmkg.errors import ConfigError, DataError
from mmkg.platform.linking.detect import Span, windows
from mmkg.platform.linking.gazetteer import Gazetteer, alias_key, tokenize
from mmkg.platform.linking.index import LinkerIndex, entity_type, relation_domain
from mmkg.platform.linking.labelled import read_labelled
from mmkg.platform.linking.linker import select
from mmkg.platform.linking.model import LOCAL_FEATURES, Logistic, TypeTable, load_model
from mmkg.platform.linking.train import untrained

STOP = frozenset({"us", "it", "the"})


def _gaz() -> Gazetteer:
    return Gazetteer(
        [
            ("Texas", 0, True),
            ("Texas, United States", 0, False),
            ("United States", 1, True),
            ("US", 1, False),
            ("Paris", 2, True),
            ("Paris", 3, True),
            ("It", 4, True),
        ],
        STOP,
    )


def test_tokens_and_keys_ignore_case_and_spacing() -> None:
    assert alias_key("Texas ,  United   States") == alias_key("texas, united states")
    assert [t for t, _, _ in tokenize("St. Louis's")] == ["st", ".", "louis's"]


def test_gazetteer_finds_every_alias_with_offsets_and_postings() -> None:
    gaz = _gaz()
    text = "city in Texas, United States; Paris is in France"
    found = {(text[m.start : m.end], tuple(gaz.entities[m.postings])) for m in gaz.find(text)}
    assert found == {
        ("Texas, United States", (0,)),
        ("Texas", (0,)),
        ("United States", (1,)),
        ("Paris", (2, 3)),
    }
    assert len(gaz) == 6 and gaz.postings == 7


def test_lowercase_stop_words_are_no_mentions_but_capitalised_ones_are() -> None:
    gaz = _gaz()
    assert [m.key for m in gaz.find("tell us about it")] == []
    assert [m.key for m in gaz.find("the US said")] == ["us"]


def test_windows_cut_long_text_at_sentence_ends_and_cover_it() -> None:
    text = " ".join(f"Sentence number {i} ends here." for i in range(400))
    pieces = windows(text, 200)
    assert len(pieces) > 50 and all(b - a <= 200 for a, b in pieces)
    assert pieces[0][0] == 0 and pieces[-1][1] == len(text)
    assert all(text[a:b].rstrip().endswith(".") for a, b in pieces[:-1])
    assert windows("", 200) == [] and windows("   ", 200) == []
    assert windows("x" * 450, 200) == [(0, 200), (200, 400), (400, 450)]  # no space: hard cuts


def test_selection_keeps_the_best_non_overlapping_spans() -> None:
    text = "Bergen County, New Jersey and Paris"
    spans = [
        (0, Span(0, 13, "Bergen County", 0)),
        (0, Span(0, 25, text[:25], 0)),
        (0, Span(15, 25, "New Jersey", 0)),
        (0, Span(30, 35, "Paris", 0)),
    ]
    best = {0: (0, 0.9), 1: (1, 0.5), 2: (2, 0.9), 3: (3, 0.2)}
    assert select(spans, best, 0.3) == [0, 2]  # 0.9·2 + 0.9·2 beats 0.5·4
    best[1] = (1, 0.95)
    assert select(spans, best, 0.3) == [1]  # the whole name, when it is as likely
    assert select(spans, best, 0.99) == []


def test_relation_domains_and_types() -> None:
    assert relation_domain("/film/film/genre") == "film"
    assert relation_domain("_hypernym") == "_hypernym"
    assert entity_type("/people/person/nationality", None) == "out:people"
    assert entity_type(None, "/film/film/genre") == "in:film"
    assert entity_type(None, None) == "none"


def test_index_from_rows_and_an_empty_graph() -> None:
    rows = [
        {
            "id": "a",
            "name": "Paris",
            "aliases": ["City of Light"],
            "degree": 5,
            "out_type": "T1",
            "in_type": None,
            "vector": [1.0, 0.0],
        },
        {
            "id": "b",
            "name": "Paris",
            "aliases": None,
            "degree": 1,
            "out_type": None,
            "in_type": None,
            "vector": None,
        },
    ]
    index = LinkerIndex.build(rows, STOP, {"T1": "/location/location/contains"})
    assert index.types == ["out:location", "none"]
    assert index.has_vector.tolist() == [True, False] and index.vectors is not None
    sl = index.gazetteer.lookup("paris")
    assert sl is not None and sorted(index.gazetteer.entities[sl].tolist()) == [0, 1]
    with pytest.raises(DataError, match="no entities"):
        LinkerIndex.build([], STOP)


def test_logistic_fits_and_predicts_by_feature_name() -> None:
    rng = np.random.default_rng(0)
    x = rng.normal(size=(400, len(LOCAL_FEATURES)))
    y = (x[:, 2] + 0.1 * rng.normal(size=400) > 0).astype(int)
    lr = Logistic.fit(x, y, LOCAL_FEATURES, ["log_degree", "context_sim"])
    p = lr.predict(x, LOCAL_FEATURES)
    assert ((p > 0.5) == y.astype(bool)).mean() > 0.95
    assert abs(lr.coef[0]) > 5 * abs(lr.coef[1])
    with pytest.raises(ConfigError, match="same label"):
        Logistic.fit(x, np.ones(400, dtype=int), LOCAL_FEATURES, ["log_degree"])


def test_type_table_is_pmi_of_correct_links() -> None:
    table = TypeTable.fit([("GPE", "out:location")] * 8 + [("PERSON", "out:people")] * 8)
    assert table.pmi("GPE", "out:location") > 0 > table.pmi("GPE", "out:people")
    assert table.pmi("UNSEEN", "out:people") == 0.0


def test_models_round_trip_and_bad_files_are_named(tmp_path: Path) -> None:
    model = untrained()
    model.threshold = 0.4
    path = tmp_path / "m.json"
    model.save(path)
    again = load_model(path)
    assert again.to_dict() == model.to_dict() and again.label == model.label
    (tmp_path / "bad.json").write_text('{"local": 3}', encoding="utf-8")
    with pytest.raises(ConfigError, match=r"bad\.json: not a linker model"):
        load_model(tmp_path / "bad.json")
    with pytest.raises(ConfigError, match="does not exist"):
        load_model(tmp_path / "missing.json")


def test_the_packaged_model_loads_with_a_calibrated_threshold() -> None:
    model = load_model()
    assert model.joint is not None and 0.0 < model.threshold < 1.0
    assert model.trained_on["set"].startswith("FB15k-237")


def test_labelled_sets_name_the_file_and_line_of_bad_records(tmp_path: Path) -> None:
    good = {
        "id": "d",
        "text": "Paris, France",
        "split": "valid",
        "mentions": [
            {"start": 0, "end": 5, "entity": "p"},
            {"start": 7, "end": 13, "entity": None},
        ],
    }
    path = tmp_path / "set.jsonl"
    path.write_text(json.dumps(good) + "\n\n", encoding="utf-8")
    [doc] = read_labelled(path)
    assert doc.split == "valid" and [m.entity for m in doc.mentions] == ["p", None]
    bad = dict(good, mentions=[{"start": 3, "end": 99, "entity": "p"}])
    path.write_text(json.dumps(good) + "\n" + json.dumps(bad) + "\n", encoding="utf-8")
    with pytest.raises(DataError, match=r"set.jsonl:2: mention 0 \[3, 99\) lies outside"):
        read_labelled(path)
    path.write_bytes(json.dumps(good).encode() + b"\n\xff\xfe\n")
    with pytest.raises(DataError, match=r"set.jsonl:2: not UTF-8"):
        read_labelled(path)
    path.write_text("", encoding="utf-8")
    with pytest.raises(DataError, match="holds no documents"):
        read_labelled(path)
