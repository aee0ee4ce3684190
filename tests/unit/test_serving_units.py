"""Serving pieces that need no server: run naming, index DDL, the MIPS transform, errors."""

from __future__ import annotations

import numpy as np
import pytest

from mmkg.errors import DataError, SchemaError, ServingError
from mmkg.graph_schema import queries as Q
from mmkg.graph_schema.identifiers import validate_identifier
from mmkg.platform.serving.naming import RunNames, check_run_id, default_run_id
from mmkg.platform.serving.predict import _CAUSE, _options
from mmkg.platform.serving.writeback import _augment_block


def test_run_names_are_valid_identifiers_and_distinct() -> None:
    ids = ["fb-transe", "fb_transe", "fb.transe", "x" * 100, "2026-11-28"]
    keys = {RunNames.for_run(i).key for i in ids}
    assert len(keys) == len(ids)
    for i in ids:
        names = RunNames.for_run(i)
        for name in (names.entity, names.augmented, names.relation, names.inverse, names.index):
            assert validate_identifier(name) == name
    assert RunNames.for_run("a").entity != RunNames.for_run("a").augmented


def test_run_ids_are_checked() -> None:
    assert check_run_id("demo-rotate.v2") == "demo-rotate.v2"
    for bad in ("", "-x", "has space", "x" * 101, "semi;colon"):
        with pytest.raises(DataError, match="invalid run id"):
            check_run_id(bad)
    assert default_run_id("my run (1)") == "my-run-1"
    assert default_run_id("!!!") == "run"


def test_vector_index_ddl_inlines_only_validated_values() -> None:
    ddl = Q.create_vector_index("mmkg_ann_x", "mmkg_e_x", 200, 32, 200)
    assert "`vector.dimensions`: 200" in ddl and "`vector.hnsw.m`: 32" in ddl
    assert "'euclidean'" in ddl and "`vector.quantization.enabled`: false" in ddl
    with pytest.raises(SchemaError):
        Q.create_vector_index("x`) DETACH DELETE n //", "p", 2, 16, 100)
    with pytest.raises(ValueError, match="dimensions"):
        Q.create_vector_index("mmkg_ann_x", "mmkg_e_x", 0, 16, 100)
    assert Q.remove_property_batch("Entity", "mmkg_e_x").count("`mmkg_e_x`") == 2


def test_mips_augmentation_turns_inner_product_into_nearest_neighbour() -> None:
    rng = np.random.default_rng(0)
    rows = (rng.standard_normal((500, 16)) * rng.uniform(0.1, 3, (500, 1))).astype(np.float32)
    sq_max = float((rows.astype(np.float64) ** 2).sum(1).max())
    augmented = np.vstack([_augment_block(rows[i : i + 64], sq_max) for i in range(0, 500, 64)])
    norms = np.linalg.norm(augmented, axis=1)
    np.testing.assert_allclose(norms, np.sqrt(sq_max), rtol=1e-5)  # all on one sphere
    for q in rng.standard_normal((20, 16)).astype(np.float32):
        padded = np.append(q, 0.0)
        nearest = np.argsort(((augmented - padded) ** 2).sum(1))[:10]
        best_dot = np.argsort(-(rows @ q))[:10]
        assert list(nearest) == list(best_dot)


def test_server_errors_become_their_reason() -> None:
    text = (
        "Neo4j rejected the query: Neo.ClientError.Procedure.ProcedureCallFailed: Failed to "
        "invoke procedure `mmkg.predict.tail`: Caused by: java.lang.IllegalArgumentException: "
        "head: unknown entity 'Q42' (no :Entity has that id)"
    )
    match = _CAUSE.search(text)
    assert match and match.group(1) == "head: unknown entity 'Q42' (no :Entity has that id)"
    with pytest.raises(ServingError, match="mode must be one of"):
        _options(True, None, "fastest", None, None)
    assert _options(False, "Country", "ann", "r1", 50) == {
        "exclude": False, "mode": "ann", "label": "Country", "run": "r1", "candidates": 50,
    }  # fmt: skip
