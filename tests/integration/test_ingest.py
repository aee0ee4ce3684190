from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from mmkg.errors import IngestError
from mmkg.platform.ingest import ingest_entities, ingest_triples
from mmkg.platform.stats import graph_stats
from mmkg.platform.store import Graph
from mmkg.settings import Settings
from tests.integration.conftest import (
    count_entities,
    count_relationships,
    duplicate_relationships,
    env_for,
    relation_mapping,
)

SMALL = (
    "/m/alice\t/people/person/nationality\t/m/uk\n"
    "/m/bob\t/people/person/nationality\t/m/us\n"
    "/m/alice\t/people/person/spouse_s./people/marriage/spouse\t/m/bob\n"
    "/m/uk\t/location/location/contains\t/m/london\n"
    "/m/alice\t/people/person/nationality\t/m/uk\n"  # a duplicate line
)


def _file(tmp_path: Path, text: str, name: str = "triples.tsv") -> Path:
    path = tmp_path / name
    path.write_bytes(text.encode("utf-8") if isinstance(text, str) else text)
    return path


def test_ingest_creates_native_types_and_is_idempotent(
    graph: Graph, neo4j_settings: Settings, tmp_path: Path
) -> None:
    path = _file(tmp_path, SMALL)
    first = ingest_triples(graph, path, neo4j_settings)
    assert (first.records, first.rejected) == (5, 0)
    assert (first.entities_created, first.entities_present) == (5, 0)
    assert (first.relationships_created, first.relationships_present) == (4, 1)
    assert first.relation_types_created == 3

    second = ingest_triples(graph, path, neo4j_settings)
    assert (second.entities_created, second.entities_present) == (0, 5)
    assert (second.relationships_created, second.relationships_present) == (0, 5)
    assert second.relation_types_created == 0
    assert count_relationships(graph) == 4

    rows = graph.read(
        "MATCH (a:Entity {id: '/m/alice'})-[:NATIONALITY]->(c:Entity) RETURN c.id AS c"
    )
    assert rows == [{"c": "/m/uk"}]
    assert relation_mapping(graph) == {
        "/people/person/nationality": "NATIONALITY",
        "/people/person/spouse_s./people/marriage/spouse": "SPOUSE",
        "/location/location/contains": "CONTAINS",
    }
    stats = graph_stats(graph)
    assert stats["entities"] == 5 and stats["relationships"] == 4
    assert stats["relationships_per_type"]["NATIONALITY"] == {
        "name": "/people/person/nationality",
        "count": 2,
    }


def test_mapping_stays_stable_when_a_colliding_relation_arrives_later(
    graph: Graph, neo4j_settings: Settings, tmp_path: Path
) -> None:
    ingest_triples(graph, _file(tmp_path, "a\t/people/person/nationality\tb\n"), neo4j_settings)
    ingest_triples(
        graph, _file(tmp_path, "a\t/film/film/nationality\tc\n", "more.tsv"), neo4j_settings
    )
    assert relation_mapping(graph) == {
        "/people/person/nationality": "NATIONALITY",
        "/film/film/nationality": "FILM_NATIONALITY",
    }


def test_malformed_lines_are_skipped_and_written_to_rejects(
    graph: Graph, neo4j_settings: Settings, tmp_path: Path
) -> None:
    path = _file(tmp_path, b"a\tr\tb\nbroken line\n\tr\tb\nc\tr\td\xff\ne\tr\tf\n")
    rejects = tmp_path / "rejects.tsv"
    summary = ingest_triples(graph, path, neo4j_settings, rejects_path=rejects)
    assert summary.rejected == 3
    assert summary.rejects_file == str(rejects)
    assert summary.relationships_created == 2
    lines = rejects.read_text(encoding="utf-8").splitlines()
    assert lines[0] == "source\tline\treason\ttext"
    assert [ln.split("\t")[1] for ln in lines[1:]] == ["2", "3", "4"]
    assert "expected 3 fields, found 1" in lines[1]
    assert "empty head id" in lines[2]
    assert "bad encoding" in lines[3]


def test_strict_fails_before_writing_anything(
    graph: Graph, neo4j_settings: Settings, tmp_path: Path
) -> None:
    path = _file(tmp_path, "a\tr\tb\nc\tr\n" + "x\tr\ty\n" * 10)
    with pytest.raises(IngestError) as failure:
        ingest_triples(graph, path, neo4j_settings, strict=True)
    assert f"{path}:2: expected 3 fields, found 2" in str(failure.value)
    assert "nothing was written" in str(failure.value)
    assert count_entities(graph) == 0
    assert graph.read("MATCH (r:RelationType) RETURN count(r) AS n")[0]["n"] == 0


def test_injection_through_relation_names_and_ids_is_harmless(
    graph: Graph, neo4j_settings: Settings, tmp_path: Path
) -> None:
    graph.write("CREATE (:Sentinel {keep: true})")
    evil_rels = [
        "x`]->(n) DETACH DELETE n //",
        "r}]->() MATCH (n) DETACH DELETE n //",
        "'; MATCH (n) DETACH DELETE n; //",
        "国籍",
        "9lives",
    ]
    evil_ids = ["a'}) DETACH DELETE n //", 'b"})-[:X]->() //', "`c`", "{d}", "$e"]
    text = "".join(
        f"{h}\t{r}\t{t}\n"
        for h, r, t in zip(evil_ids, evil_rels, [*evil_ids[1:], "z"], strict=True)
    )
    summary = ingest_triples(graph, _file(tmp_path, text), neo4j_settings)
    assert summary.relationships_created == 5 and summary.rejected == 0
    assert graph.read("MATCH (s:Sentinel) RETURN count(s) AS n")[0]["n"] == 1
    stored = graph.read("MATCH (r:RelationType) RETURN r.name AS name, r.type AS type")
    assert sorted(r["name"] for r in stored) == sorted(evil_rels)
    ids = {r["id"] for r in graph.read("MATCH (e:Entity) RETURN e.id AS id")}
    assert set(evil_ids) <= ids
    for row in stored:
        assert graph.read(f"MATCH ()-[r:`{row['type']}`]->() RETURN count(r) AS n")[0]["n"] == 1


def test_entity_texts_load_and_are_searchable(
    graph: Graph, neo4j_settings: Settings, tmp_path: Path
) -> None:
    path = _file(
        tmp_path,
        "id\tname\tdescription\taliases\n"
        "marie_curie\tMarie Curie\tPhysicist and chemist who studied radioactivity.\t"
        "Maria Skłodowska|Madame Curie\n"
        "paris\tParis\tCapital of France.\t\n",
        "entities.tsv",
    )
    first = ingest_entities(graph, path, neo4j_settings)
    assert (first.entities_created, first.entities_present, first.rejected) == (2, 0, 0)
    second = ingest_entities(graph, path, neo4j_settings)
    assert (second.entities_created, second.entities_present) == (0, 2)
    rows = graph.read(
        "CALL db.index.fulltext.queryNodes('mmkg_entity_text', $q) YIELD node "
        "RETURN node.id AS id LIMIT 1",
        {"q": "Skłodowska"},
    )
    assert rows == [{"id": "marie_curie"}]
    node = graph.read("MATCH (e:Entity {id: 'marie_curie'}) RETURN e { .* } AS e")[0]["e"]
    assert node["aliases"] == ["Maria Skłodowska", "Madame Curie"]


def _synthetic_triples(path: Path, n: int, entities: int, relations: int) -> None:
    rng = random.Random(7)
    seen: set[tuple[int, int, int]] = set()
    while len(seen) < n:
        seen.add((rng.randrange(entities), rng.randrange(relations), rng.randrange(entities)))
    with open(path, "w", encoding="utf-8") as fh:
        for h, r, t in sorted(seen, key=lambda _: rng.random()):
            fh.write(f"e{h}\trel_{r}\te{t}\n")


def test_a_load_killed_midway_completes_when_rerun(
    graph: Graph, neo4j_settings: Settings, tmp_path: Path
) -> None:
    total = 40_000
    path = tmp_path / "big.tsv"
    _synthetic_triples(path, total, entities=4_000, relations=6)
    env = env_for(neo4j_settings)
    env["MMKG_INGEST_BATCH_SIZE"] = "200"  # many small transactions, so the kill lands midway
    mmkg = Path(sys.executable).with_name("mmkg")
    proc = subprocess.Popen(
        [str(mmkg), "-q", "ingest", "triples", str(path)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    deadline = time.monotonic() + 300
    partial = 0
    while time.monotonic() < deadline and proc.poll() is None:
        partial = count_relationships(graph)
        if partial >= 2_000:
            os.kill(proc.pid, signal.SIGKILL)
            break
        time.sleep(0.05)
    proc.wait(timeout=60)
    assert proc.returncode == -signal.SIGKILL, "the load finished before it could be killed"
    partial = count_relationships(graph)
    assert 0 < partial < total

    summary = ingest_triples(graph, path, neo4j_settings)
    assert summary.relationships_created == total - partial
    assert summary.relationships_present == partial
    assert count_relationships(graph) == total
    assert duplicate_relationships(graph) == 0
    assert count_entities(graph) == len(
        {ln.split("\t")[i].strip() for ln in path.read_text().splitlines() for i in (0, 2)}
    )


def test_missing_files_are_clear_errors(
    graph: Graph, neo4j_settings: Settings, tmp_path: Path
) -> None:
    with pytest.raises(IngestError, match="no such file"):
        ingest_triples(graph, tmp_path / "absent.tsv", neo4j_settings)
    with pytest.raises(IngestError, match="no such file"):
        ingest_entities(graph, tmp_path / "absent.tsv", neo4j_settings)
