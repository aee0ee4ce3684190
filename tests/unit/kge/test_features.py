"""Feature files: vectors, numeric literals and texts, with bad rows named by file:line."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pytest

from mmkg.errors import DataError
from mmkg.platform.kge.cold_split import cold_start_split
from mmkg.platform.kge.data import load_folder
from mmkg.platform.kge.features import (
    encode_text_file,
    load_modalities,
    parse_feature_option,
    read_numeric,
    read_texts,
    read_vectors,
)

IDS = ["a", "b", "c", "d"]


def test_tsv_vectors_are_aligned_and_entities_without_a_row_are_masked(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "v.tsv"
    path.write_text("c\t1 2 3\na\t4\t5\t6\nzz\t0 0 0\n\n")
    with caplog.at_level(logging.WARNING):
        m = read_vectors(path, IDS, "image")
    assert m.mask.tolist() == [True, False, True, False]
    np.testing.assert_array_equal(m.values[[0, 2]], [[4, 5, 6], [1, 2, 3]])
    assert m.source == "file:v.tsv" and m.width == 3
    assert "1 row(s) name ids the dataset does not have" in caplog.text
    assert f"{path}:3 ('zz')" in caplog.text


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("a\t1 2\nb\t1 2 3\n", r"v.tsv:2: 3 values where the first row has 2"),
        ("a\t1 nan\n", r"v.tsv:1: NaN or infinite value"),
        ("a\t1 x\n", r"v.tsv:1: a value is not a number"),
        ("a 1 2\n", r"v.tsv:1: expected 'id<TAB>v1 v2 …'"),
        ("a\t1 2\na\t3 4\n", r"v.tsv:2: id 'a' already on line 1"),
        ("q\t1 2\n", r"modality 'image': no entity of the dataset has a row"),
    ],
)
def test_bad_vector_rows_are_named_and_nothing_is_loaded(
    tmp_path: Path, text: str, message: str
) -> None:
    path = tmp_path / "v.tsv"
    path.write_text(text)
    with pytest.raises(DataError, match=message):
        read_vectors(path, IDS, "image")


def test_npy_vectors_need_their_id_list_and_keep_row_order(tmp_path: Path) -> None:
    path = tmp_path / "clip.npy"
    np.save(path, np.arange(12, dtype=np.float32).reshape(3, 4))
    with pytest.raises(DataError, match=r"clip.npy needs its id list .*clip.ids"):
        read_vectors(path, IDS, "image")
    (tmp_path / "clip.ids").write_text("d\nb\nnope\n")
    m = read_vectors(path, IDS, "image")
    assert m.mask.tolist() == [False, True, False, True]
    np.testing.assert_array_equal(m.values[1], [4, 5, 6, 7])
    np.testing.assert_array_equal(m.values[3], [0, 1, 2, 3])
    np.save(path, np.array([[1.0, np.inf], [0, 0], [0, 0]], dtype=np.float32))
    with pytest.raises(DataError, match=r"clip.npy row 1: NaN or infinite value"):
        read_vectors(path, IDS, "image")


def test_numeric_literals_are_standardised_per_attribute_with_presence_bits(
    tmp_path: Path,
) -> None:
    path = tmp_path / "lit.txt"
    path.write_text(
        "a\tpop\t1000\nb\tpop\t1000000\nc\tpop\t1000000000\n"
        "a\tlat\t10\nb\tlat\t20\nb\tlat\t30\nzz\tlat\t5\n"
    )
    m = read_numeric(path, IDS)
    assert m.width == 4 and m.mask.tolist() == [True, True, True, False]
    lat, pop, has_lat, has_pop = m.values.T  # attributes in sorted order
    assert [row[0] for row in m.meta["scaling"]] == ["lat", "pop"]
    # Population spans six orders of magnitude: log-scaled, then standardised.
    np.testing.assert_allclose(pop[:3], [-1.2247, 0.0, 1.2247], atol=1e-3)
    # b's two latitudes are averaged (25) and standardised with a's (10).
    np.testing.assert_allclose(lat[:2], [-1.0, 1.0], atol=1e-6)
    assert has_pop.tolist() == [1, 1, 1, 0] and has_lat.tolist() == [1, 1, 0, 0]
    assert lat[2] == 0 and has_lat[2] == 0  # absent: the presence bit says so
    path.write_text("a\tpop\tmany\n")
    with pytest.raises(DataError, match=r"lit.txt:1: value 'many' is not a number"):
        read_numeric(path, IDS)


def test_texts_and_feature_options_are_checked(tmp_path: Path) -> None:
    path = tmp_path / "t.txt"
    path.write_text("a\tan apple\nb\t \n")
    with pytest.raises(DataError, match=r"t.txt:2: expected 'id<TAB>text'"):
        read_texts(path)
    assert parse_feature_option("Image=/x/y.npy") == ("image", Path("/x/y.npy"))
    with pytest.raises(DataError, match="--features takes NAME=FILE"):
        parse_feature_option("image")
    vec = tmp_path / "v.tsv"
    vec.write_text("a\t1 2\n")
    with pytest.raises(DataError, match="modality text given twice"):
        load_modalities(IDS, vectors=[f"text={vec}", f"text={vec}"])
    with pytest.raises(DataError, match="does not exist"):
        load_modalities(IDS, numeric=tmp_path / "none.txt")


def test_texts_are_encoded_by_the_bundled_encoder_and_cached(tmp_path: Path) -> None:
    path = tmp_path / "t.txt"
    path.write_text("a\ta domestic cat\nc\ta small feline pet\nd\tthe stock market fell\n")
    m = encode_text_file(path, IDS, "minilm", tmp_path / "cache", show_progress=False)
    assert m.mask.tolist() == [True, False, True, True] and m.width == 384
    assert m.source.startswith("minilm@")
    v = m.rows(np.arange(4))
    assert not v[1].any()  # b has no text: masked (its row is not used)
    assert float(v[0] @ v[2]) > float(v[0] @ v[3])  # cats are closer to cats than to markets
    cached = list((tmp_path / "cache").glob("text-*.npy"))
    assert len(cached) == 1
    again = encode_text_file(path, IDS, "minilm", tmp_path / "cache", show_progress=False)
    assert isinstance(again.values, np.memmap)
    np.testing.assert_array_equal(again.rows(np.arange(4)), v)
    # Another numbering of the same file shares the cache.
    other = encode_text_file(path, ["d", "a"], "minilm", tmp_path / "cache", show_progress=False)
    np.testing.assert_array_equal(other.rows(np.arange(2)), v[[3, 0]])
    assert len(list((tmp_path / "cache").glob("text-*.npy"))) == 1


def _toy_folder(folder: Path) -> Path:
    rng = np.random.default_rng(3)
    folder.mkdir()
    lines = {f"e{rng.integers(60)}\tr{rng.integers(3)}\te{rng.integers(60)}" for _ in range(900)}
    rows = sorted(lines)
    (folder / "train.txt").write_text("\n".join(rows[:800]) + "\n")
    (folder / "valid.txt").write_text("\n".join(rows[800:850]) + "\n")
    (folder / "test.txt").write_text("\n".join(rows[850:]) + "\n")
    return folder


def test_the_cold_start_split_holds_entities_out_with_all_their_training_triples(
    tmp_path: Path,
) -> None:
    source = _toy_folder(tmp_path / "kg")
    info = cold_start_split(source, tmp_path / "cold", fraction=0.2, seed=7, valid_max=30)
    held = set((tmp_path / "cold" / "heldout_entities.txt").read_text().split())
    assert len(held) == info["held_out_entities"] == 12
    split = load_folder(tmp_path / "cold")
    ids = split.entity_ids
    train_entities = {ids[i] for i in np.unique(split.train[:, [0, 2]])}
    assert not train_entities & held
    for name in ("valid", "test"):
        for h, _, t in split.split(name):
            assert (ids[h] in held) + (ids[t] in held) <= 1
    assert info["valid_bridging"] == len(split.valid) == 30
    assert info["test_bridging"] + info["test_seen"] == len(split.test)
    assert split.unseen("test")["triples_with_unseen_entity"] == info["test_bridging"]
    again = cold_start_split(source, tmp_path / "cold2", fraction=0.2, seed=7, valid_max=30)
    assert again == {**info, "source": str(source)}
    assert (tmp_path / "cold" / "test.txt").read_text() == (
        tmp_path / "cold2" / "test.txt"
    ).read_text()
    with pytest.raises(DataError, match="already holds files"):
        cold_start_split(source, tmp_path / "cold", fraction=0.2)
    with pytest.raises(DataError, match="strictly between 0 and 1"):
        cold_start_split(source, tmp_path / "cold3", fraction=1.0)


def test_new_entities_are_scaled_with_the_trained_run_s_statistics() -> None:
    from mmkg.platform.kge.features import numeric_modality

    train = numeric_modality(3, {(0, "pop"): [10.0], (1, "pop"): [1e6], (2, "pop"): [1e9]}, "x")
    scaling = train.meta["scaling"]
    assert scaling[0][0] == "pop" and scaling[0][1] is True  # log-scaled
    # One new entity, scaled as the run scaled its training entities (not re-standardised
    # over itself, which would make any single value 0); an unknown attribute is ignored.
    new = numeric_modality(1, {(0, "pop"): [1e6], (0, "height"): [3.0]}, "x", scaling)
    assert new.width == 2 and new.mask.tolist() == [True]
    assert new.values[0, 0] == pytest.approx(train.values[1, 0], abs=1e-6)
