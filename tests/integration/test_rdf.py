"""`mmkg ingest rdf` against the real server: relations, texts and literals, idempotent,
bad input named and nothing half-written."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from mmkg.errors import IngestError
from mmkg.graph_schema.names import literal_property
from mmkg.platform.ingest.rdf import ingest_rdf
from mmkg.platform.store import Graph
from mmkg.settings import Settings
from tests.integration.conftest import count_entities, count_relationships, run_cli
from tests.unit.test_rdf_reader import EX, NT, TTL


def test_rdf_loads_relations_texts_and_literals_once(
    graph: Graph, neo4j_settings: Settings, tmp_path: Path
) -> None:
    path = tmp_path / "cities.nt"
    path.write_text(NT, encoding="utf-8")
    first = ingest_rdf(graph, path, neo4j_settings, show_progress=False)
    t = first.triples
    assert t.records == 3 and t.relationships_created == 3 and t.rejected == 1
    assert t.rejects_file and "cities.nt\t12" in Path(t.rejects_file).read_text()
    assert first.entity_texts == 2 and first.literals == 2 and first.literal_attributes == 2
    assert first.skipped_literals == {f"{EX}founded": 1}
    paris = graph.read(
        "MATCH (e:Entity {id: $id}) RETURN e.name AS name, e.aliases AS aliases, "
        "e.description AS description, e[$prop] AS population",
        {"id": f"{EX}paris", "prop": literal_property(f"{EX}population")},
    )[0]
    assert paris == {"name": "Paris", "aliases": ["Paris (ville)", "City of Light"],
                     "description": "Capital of France.", "population": 2102650.0}  # fmt: skip
    names = {r["name"] for r in graph.read("MATCH (r:RelationType) RETURN r.name AS name")}
    assert {f"{EX}capitalOf", "rdf:type", "foaf:knows"} <= names
    entities, relationships = count_entities(graph), count_relationships(graph)
    again = ingest_rdf(graph, path, neo4j_settings, show_progress=False)
    assert again.triples.relationships_created == 0 and again.triples.entities_created == 0
    assert count_entities(graph) == entities and count_relationships(graph) == relationships

    ttl = tmp_path / "more.ttl"
    ttl.write_text(TTL, encoding="utf-8")
    out = json.loads(run_cli(neo4j_settings, "-q", "ingest", "rdf", str(ttl), "--json").stdout)
    assert out["relations"]["records"] == 3 and out["entity_texts"] == 2
    twice = json.loads(run_cli(neo4j_settings, "-q", "ingest", "rdf", str(ttl), "--json").stdout)
    assert twice["relations"]["relationships_created"] == 0  # blank nodes kept their ids
    assert twice["relations"]["entities_created"] == 0


def test_bad_rdf_fails_clearly_and_writes_nothing(
    graph: Graph, neo4j_settings: Settings, tmp_path: Path
) -> None:
    path = tmp_path / "cities.nt"
    path.write_text(NT, encoding="utf-8")
    with pytest.raises(IngestError, match=r"cities.nt:12"):
        ingest_rdf(graph, path, neo4j_settings, strict=True, show_progress=False)
    assert count_entities(graph) == 0
    empty = tmp_path / "empty.nt"
    empty.write_text("# nothing here\n", encoding="utf-8")
    with pytest.raises(IngestError, match="no RDF statement"):
        ingest_rdf(graph, empty, neo4j_settings, show_progress=False)
    broken = tmp_path / "broken.ttl"
    broken.write_text("@prefix ex: <http://ex.org/> .\nex:a ex:b .\n", encoding="utf-8")
    bad = run_cli(neo4j_settings, "ingest", "rdf", str(broken), check=False)
    assert bad.returncode == 1 and "not valid Turtle" in bad.stderr
    assert count_entities(graph) == 0
