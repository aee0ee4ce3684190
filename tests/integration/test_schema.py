from __future__ import annotations

import pytest

from mmkg.errors import SchemaError
from mmkg.graph_schema import SCHEMA_VERSION
from mmkg.platform.schema import apply_schema, describe_schema
from mmkg.platform.store import Graph


def test_apply_is_idempotent_and_recorded(graph: Graph) -> None:
    again = apply_schema(graph)
    assert again.applied_now == []
    assert again.version == SCHEMA_VERSION
    assert [m["version"] for m in again.migrations] == list(range(1, SCHEMA_VERSION + 1))
    names = {c["name"] for c in again.constraints}
    assert {"mmkg_entity_id", "mmkg_relation_type_name", "mmkg_relation_type_type"} <= names
    assert "mmkg_media_id" in names
    fulltext = [i for i in again.indexes if i["name"] == "mmkg_entity_text"]
    assert fulltext and fulltext[0]["state"] == "ONLINE"
    assert fulltext[0]["properties"] == ["name", "aliases", "description"]


def test_entity_ids_are_unique(graph: Graph) -> None:
    graph.write("CREATE (:Entity {id: 'a'})")
    with pytest.raises(Exception, match="already exists"):
        graph.write("CREATE (:Entity {id: 'a'})")


def test_foreign_checksum_is_refused(graph: Graph) -> None:
    from mmkg.graph_schema import MIGRATIONS

    graph.write("MATCH (m:MmkgMigration {version: 1}) SET m.checksum = 'other'")
    try:
        with pytest.raises(SchemaError, match="different mmkg version"):
            apply_schema(graph)
        report = describe_schema(graph)
        assert report.migrations[0]["checksum"] == "other"
    finally:  # the session's server is shared: leave its schema as the next test expects
        graph.write(
            "MATCH (m:MmkgMigration {version: 1}) SET m.checksum = $c",
            {"c": MIGRATIONS[0].checksum},
        )
