"""Serving pieces that need no server: run naming, index DDL, the MIPS transform, errors."""

from __future__ import annotations

import numpy as np
import pytest

from mmkg.errors import DataError, QueryError, SchemaError, ServingError, UnknownEntityError
from mmkg.graph_schema import queries as Q
from mmkg.graph_schema.identifiers import validate_identifier
from mmkg.graph_schema.names import RunNames, check_run_id, default_run_id
from mmkg.platform.serving.calls import CODES, plugin_error
from mmkg.platform.serving.predict import _options
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


def test_vector_index_ddl_takes_its_name_and_options_as_parameters() -> None:
    ddl = Q.create_vector_index("Entity", "mmkg_e_x")
    assert ddl == (
        "CREATE VECTOR INDEX $name IF NOT EXISTS FOR (n:`Entity`) ON (n.`mmkg_e_x`) "
        "OPTIONS $options"
    )
    options = Q.vector_index_options(200, "euclidean", 32, 200, False)
    assert options == {"indexConfig": {
        "vector.dimensions": 200, "vector.similarity_function": "euclidean",
        "vector.hnsw.m": 32, "vector.hnsw.ef_construction": 200,
        "vector.quantization.enabled": False,
    }}  # fmt: skip
    with pytest.raises(SchemaError):
        Q.create_vector_index("Entity", "x`) DETACH DELETE n //")
    with pytest.raises(ValueError, match="dimensions"):
        Q.vector_index_options(0, "euclidean")
    with pytest.raises(ValueError, match="similarity"):
        Q.vector_index_options(8, "dot")
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


def test_plugin_error_codes_become_typed_errors() -> None:
    text = (
        "Neo4j rejected the query: Neo.ClientError.Procedure.ProcedureCallFailed: Failed to "
        "invoke procedure `mmkg.predict.tail`: Caused by: io.mmkg.neo4j.MmkgException: "
        "MMKG-E001: head: unknown entity 'Q42' (no :Entity has that id)"
    )
    typed = plugin_error(QueryError(text))
    assert isinstance(typed, UnknownEntityError) and isinstance(typed, ServingError)
    assert str(typed) == "head: unknown entity 'Q42' (no :Entity has that id)"
    assert typed.code == "MMKG-E001"  # type: ignore[attr-defined]
    # Every code maps to its own class, and a foreign error is left alone.
    assert len(set(CODES.values())) == len(CODES)
    assert plugin_error(QueryError("Neo.ClientError.Statement.SyntaxError: oops")) is None
    missing = plugin_error(QueryError("There is no procedure with the name `mmkg.predict.tail`"))
    assert missing is not None and "not installed" in str(missing)
    with pytest.raises(ServingError, match="mode must be one of"):
        _options(True, None, "fastest", None, None)
    assert _options(False, "Country", "ann", "r1", 50) == {
        "exclude": False, "mode": "ann", "label": "Country", "run": "r1", "candidates": 50,
    }  # fmt: skip
