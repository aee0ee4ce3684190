from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from mmkg.errors import ExportError
from mmkg.platform.demo import load_demo
from mmkg.platform.export import (
    estimate_export_bytes,
    export_triples,
    iter_triple_blocks,
    write_export,
)
from mmkg.platform.ingest import ingest_triples
from mmkg.platform.store import Graph
from mmkg.settings import Settings
from tests.conftest import shared_dataset
from tests.integration.conftest import count_relationships, run_cli


def _lines(path: Path) -> list[str]:
    return sorted(ln for ln in path.read_text(encoding="utf-8").splitlines() if ln.strip())


def test_export_matches_what_was_ingested(
    graph: Graph, neo4j_settings: Settings, tmp_path: Path
) -> None:
    source = tmp_path / "in.tsv"
    source.write_text("b\tr2\ta\na\tr1\tb\na\tr1\tc\nc\tr2\tc\n", encoding="utf-8")
    ingest_triples(graph, source, neo4j_settings)
    graph.write("MATCH (a:Entity {id: 'a'}) CREATE (a)-[:HAND_MADE]->(:Entity {id: 'zz'})")
    export = export_triples(graph)
    assert export.entity_ids == ["a", "b", "c", "zz"]
    assert export.relation_names == ["r1", "r2"]
    assert export.triples.dtype == np.int64
    assert sorted(map(tuple, export.triples.tolist())) == [
        (0, 0, 1),
        (0, 0, 2),
        (1, 1, 0),
        (2, 1, 2),
    ]
    blocks = list(iter_triple_blocks(graph))
    assert [b[1] for b in blocks] == [0, 1]
    write_export(export, tmp_path / "out")
    assert _lines(tmp_path / "out" / "triples.tsv") == _lines(source)


def test_wn18rr_round_trip_through_the_cli(
    graph: Graph, neo4j_settings: Settings, tmp_path: Path
) -> None:
    train = shared_dataset("WN18RR") / "train.txt"
    summary = json.loads(
        run_cli(neo4j_settings, "-q", "ingest", "triples", str(train), "--json").stdout
    )
    assert summary["relationships_created"] == 86_835
    assert summary["entities_created"] == 40_559
    assert summary["rejected"] == 0
    stats = json.loads(run_cli(neo4j_settings, "stats", "--json").stdout)
    assert stats["entities"] == 40_559
    assert stats["relationships"] == 86_835
    assert stats["relation_types"] == 11
    assert stats["relationships_per_type"]["HYPERNYM"]["name"] == "_hypernym"

    again = json.loads(
        run_cli(neo4j_settings, "-q", "ingest", "triples", str(train), "--json").stdout
    )
    assert again["relationships_created"] == 0 and again["relationships_present"] == 86_835
    assert count_relationships(graph) == 86_835

    out = tmp_path / "export"
    meta = json.loads(run_cli(neo4j_settings, "export", "triples", str(out), "--json").stdout)
    assert meta["triples"] == 86_835 and meta["entities"] == 40_559 and meta["relations"] == 11
    assert _lines(out / "triples.tsv") == _lines(train)
    ids = np.load(out / "triples.npy")
    assert ids.shape == (86_835, 3)
    assert ids[:, 0].max() < 40_559 and ids[:, 1].max() < 11


def test_cypher_command_table_json_and_params(graph: Graph, neo4j_settings: Settings) -> None:
    graph.write("CREATE (:Entity {id: 'q1', name: 'Marie Curie'})")
    statement = "MATCH (e:Entity {id: $id}) RETURN e.name AS name, e AS node"
    table = run_cli(neo4j_settings, "cypher", statement, "--param", "id=q1").stdout
    assert "Marie Curie" in table and "1 row" in table
    rows = json.loads(run_cli(neo4j_settings, "cypher", statement, "-p", "id=q1", "--json").stdout)
    assert rows == [
        {
            "name": "Marie Curie",
            "node": {"labels": ["Entity"], "properties": {"id": "q1", "name": "Marie Curie"}},
        }
    ]
    bad = run_cli(neo4j_settings, "cypher", "MATCH (n RETURN n", check=False)
    assert bad.returncode == 1 and "Neo4j rejected the query" in bad.stderr


# The graph and learning halves only: tests/integration/test_web.py runs the whole demo.
LEAN = ("--no-media", "--no-serve")


def test_demo_loads_once_and_answers_its_query(graph: Graph, neo4j_settings: Settings) -> None:
    first = load_demo(graph, neo4j_settings, show_progress=False)
    assert first.entities.entities_created > 300
    assert first.triples.relationships_created > 1000
    assert first.triples.rejected == 0
    laureates = {row[0] for row in first.rows}
    assert "Marie Curie" in laureates
    second = json.loads(run_cli(neo4j_settings, "-q", "demo", "--json", *LEAN).stdout)
    assert second["triples"]["relationships_created"] == 0
    assert second["stats"]["relationships"] == first.stats["relationships"]
    assert {r["laureate"] for r in second["rows"]} == laureates
    # The learning half: RotatE trained on the graph, written back, active, and asked in Cypher.
    learned = second["embeddings"]
    assert learned["trained_now"] and learned["write"]["status"] == "active"
    assert learned["test_mrr"] > 0.2  # random ranking over 394 entities: about 0.02
    rows = learned["rows"]
    assert len(rows) >= 10 and all(r["predicted_citizenship"] for r in rows)
    # Citizenship is never given for these people; most guesses are their birth country.
    agree = sum(r["predicted_citizenship"] in r["born_in_country"] for r in rows)
    assert agree >= len(rows) // 2
    third = json.loads(run_cli(neo4j_settings, "-q", "demo", "--json", *LEAN).stdout)
    assert not third["embeddings"]["trained_now"] and third["embeddings"]["rows"] == rows


def test_export_refuses_clearly_when_memory_would_not_fit(
    graph: Graph, neo4j_settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    source = tmp_path / "in.tsv"
    source.write_text("a\tr\tb\n", encoding="utf-8")
    ingest_triples(graph, source, neo4j_settings)
    assert 0 < estimate_export_bytes(graph) < 1024

    class Tiny:
        available = 100

    monkeypatch.setattr("mmkg.platform.export.psutil.virtual_memory", lambda: Tiny())
    with pytest.raises(ExportError, match=r"needs about .* GiB of memory"):
        export_triples(graph)


def test_export_of_an_empty_graph_says_so(graph: Graph) -> None:
    with pytest.raises(ExportError, match="no triples"):
        export_triples(graph)
