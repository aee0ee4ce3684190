"""Entity linking end to end, as a user runs it, against the real Neo4j: a news-like paragraph
and a photo ingested with `--link` end up linked to the right entities, with scores and
sources, visible in Cypher; linking again replaces only the linker's own edges."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from mmkg.platform.store import Graph
from mmkg.settings import Settings
from tests.integration.conftest import CLEAR, run_cli
from tests.media_fixtures import photo, write_slideshow

ENTITIES = """id\tname\tdescription\taliases
paris\tParis\tcapital and largest city of France, on the Seine\tCity of Light
paris_troy\tParis\tprince of Troy in Greek mythology, who took Helen from Sparta\tAlexandros
france\tFrance\tcountry in Western Europe\tFrench Republic
seine\tSeine\triver in northern France that flows through Paris\t
louvre\tLouvre\tart museum in Paris, France\tLouvre Museum
macron\tEmmanuel Macron\tPresident of France since 2017\tMacron
troy\tTroy\tancient city in Anatolia, the setting of the Trojan War\t
helen\tHelen of Troy\tfigure of Greek mythology, the wife of Menelaus\tHelen
sparta\tSparta\tcity-state of ancient Greece\t
02121808\tdomestic cat\tany domesticated member of the genus Felis\thouse cat|Felis catus
02123045\ttabby\ta cat with a grey or tawny coat mottled with black\ttabby cat
02124075\tEgyptian cat\ta domestic cat of Egypt\t
07920052\tespresso\tstrong black coffee brewed by forcing steam through ground beans\t
"""
TRIPLES = """paris\tcountry\tfrance
seine\tflows_through\tparis
seine\tcountry\tfrance
louvre\tlocated_in\tparis
macron\tpresident_of\tfrance
paris_troy\tlived_in\ttroy
helen\tlived_in\ttroy
helen\tspouse\tparis_troy
paris_troy\tvisited\tsparta
helen\tlived_in\tsparta
02123045\t_hypernym\t02121808
02124075\t_hypernym\t02121808
"""
NEWS = (
    "Emmanuel Macron opened a new wing of the Louvre in Paris on Tuesday. Crowds gathered "
    "along the Seine as France celebrated the museum's anniversary."
)
MYTH = "In the Iliad, Paris carried Helen away from Sparta, and the Greeks sailed for Troy."


@pytest.fixture(scope="module")
def linked(session_graph: Graph, neo4j_settings: Settings, tmp_path_factory: Any) -> dict[str, Any]:
    session_graph.run_autocommit(CLEAR)
    root = tmp_path_factory.mktemp("linking")
    (root / "entities.tsv").write_text(ENTITIES, encoding="utf-8")
    (root / "triples.tsv").write_text(TRIPLES, encoding="utf-8")
    media = root / "media"
    media.mkdir()
    (media / "news.txt").write_text(NEWS, encoding="utf-8")
    (media / "myth.txt").write_text(MYTH, encoding="utf-8")
    photo("chelsea").save(media / "chelsea.jpg", quality=90)
    write_slideshow(media / "cat_then_coffee.mp4", ["chelsea", "coffee"], seconds=1.0)
    (root / "manifest.csv").write_text(
        "path,entities,caption,relation,source\nmedia/news.txt,france,,MENTIONS,hand\n",
        encoding="utf-8",
    )
    run_cli(neo4j_settings, "schema", "apply")
    run_cli(neo4j_settings, "ingest", "entities", str(root / "entities.tsv"))
    run_cli(neo4j_settings, "ingest", "triples", str(root / "triples.tsv"))
    done = run_cli(
        neo4j_settings,
        "-q",
        "ingest",
        "media",
        str(media),
        "--manifest",
        str(root / "manifest.csv"),
        "--root",
        str(root),
        "--link",
        "--json",
    )
    return {"root": root, "summary": json.loads(done.stdout)}


def _mentions(graph: Graph, name: str) -> list[dict[str, Any]]:
    return graph.read(
        "MATCH (t:Text)-[r:MENTIONS {source: 'linker'}]->(e:Entity) WHERE t.path ENDS WITH $name "
        "RETURN e.id AS entity, r.surface AS surface, r.start AS start, r.end AS end, "
        "r.score AS score, r.linker AS linker ORDER BY r.start",
        {"name": name},
    )


def test_a_news_paragraph_and_a_photo_ingested_with_link_are_linked(
    session_graph: Graph, linked: dict[str, Any]
) -> None:
    summary = linked["summary"]
    assert summary["failed"] == 0 and summary["links"]["texts"] == 2
    news = _mentions(session_graph, "news.txt")
    assert [(m["surface"], m["entity"]) for m in news] == [
        ("Emmanuel Macron", "macron"),
        ("Louvre", "louvre"),
        ("Paris", "paris"),
        ("Seine", "seine"),
        ("France", "france"),
    ]
    for m in news:
        assert NEWS[m["start"] : m["end"]] == m["surface"]
        assert 0.0 < m["score"] <= 1.0 and m["linker"].startswith("mmkg-linker@")
    # The Paris of the myth is the prince: the other mentions' entities are his neighbours.
    myth = {m["surface"]: m["entity"] for m in _mentions(session_graph, "myth.txt")}
    assert myth["Paris"] == "paris_troy" and myth["Helen"] == "helen"
    assert myth["Troy"] == "troy" and myth["Sparta"] == "sparta"
    seen = session_graph.read(
        "MATCH (m:Video)-[r:DEPICTS {source: 'linker'}]->(e:Entity) RETURN e.id AS entity, "
        "r.segment_start AS start, r.segment_end AS end, r.score AS score ORDER BY start"
    )
    cats = [r for r in seen if r["entity"] in {"02123045", "02124075"}]
    coffee = [r for r in seen if r["entity"] == "07920052"]
    assert cats and coffee, seen
    # The cat is seen in the first second, the espresso in the second.
    assert cats[0]["start"] < 0.5 and all(r["end"] <= 1.3 for r in cats)
    assert coffee[0]["start"] >= 0.7 and coffee[-1]["end"] == pytest.approx(2.0, abs=0.2)
    cat = session_graph.read(
        "MATCH (m:Image)-[r:DEPICTS {source: 'linker'}]->(e:Entity) "
        "RETURN e.id AS entity, r.score AS score, r.method AS method, r.linker AS linker "
        "ORDER BY r.score DESC"
    )
    assert cat and cat[0]["entity"] in {"02123045", "02124075"}
    assert cat[0]["method"] == "imagenet" and cat[0]["linker"].startswith("mmkg-image-imagenet@")


def test_linking_again_replaces_only_the_linkers_edges(
    session_graph: Graph, neo4j_settings: Settings, linked: dict[str, Any]
) -> None:
    def edges() -> list[tuple[str, str, str]]:
        rows = session_graph.read(
            "MATCH (m:Media)-[r:MENTIONS|DEPICTS]->(e:Entity) RETURN type(r) AS t, e.id AS e, "
            "r.source AS s ORDER BY t, e, s"
        )
        return [(r["t"], r["e"], r["s"]) for r in rows]

    before = edges()
    assert ("MENTIONS", "france", "hand") in before and ("MENTIONS", "france", "linker") in before
    out = json.loads(run_cli(neo4j_settings, "-q", "link", "media", "--all", "--json").stdout)
    assert out["texts"] == 2 and out["images"] == 1 and out["videos"] == 1
    assert edges() == before
    out = json.loads(run_cli(neo4j_settings, "-q", "link", "media", "--unlinked", "--json").stdout)
    assert out["texts"] == 0 and out["images"] == 0


def test_link_text_prints_mentions_and_thresholds_apply(
    neo4j_settings: Settings, linked: dict[str, Any]
) -> None:
    out = json.loads(run_cli(neo4j_settings, "-q", "link", "text", NEWS, "--json").stdout)
    [doc] = out
    assert [m["entity"] for m in doc["mentions"]] == [
        "macron",
        "louvre",
        "paris",
        "seine",
        "france",
    ]
    assert {"start", "end", "surface", "entity", "name", "score"} <= set(doc["mentions"][0])
    strict = json.loads(
        run_cli(neo4j_settings, "-q", "link", "text", NEWS, "--threshold", "1", "--json").stdout
    )
    assert strict[0]["mentions"] == []
    docs = linked["root"] / "docs.txt"
    docs.write_text(f"{MYTH}\n\n{'Paris and France. ' * 400}\n", encoding="utf-8")
    many = json.loads(
        run_cli(neo4j_settings, "-q", "link", "text", "--file", str(docs), "--json").stdout
    )
    assert [d["document"] for d in many] == [1, 2, 3]
    assert many[1]["mentions"] == []  # an empty line is an empty document
    assert many[2]["windows"] > 1 and len(many[2]["mentions"]) == 800  # chunked, not refused


LABELLED = [
    (
        "The Louvre in Paris is the most visited museum in France.",
        "train",
        [("Louvre", "louvre"), ("Paris", "paris"), ("France", "france")],
    ),
    (
        "Paris took Helen from Sparta to Troy.",
        "train",
        [("Paris", "paris_troy"), ("Helen", "helen"), ("Sparta", "sparta"), ("Troy", "troy")],
    ),
    (
        "Emmanuel Macron spoke in Paris about France.",
        "train",
        [("Emmanuel Macron", "macron"), ("Paris", "paris"), ("France", "france")],
    ),
    (
        "Helen of Troy left Sparta with Paris.",
        "train",
        [("Helen of Troy", "helen"), ("Sparta", "sparta"), ("Paris", "paris_troy")],
    ),
    ("The Seine flows through Paris.", "valid", [("Seine", "seine"), ("Paris", "paris")]),
    ("Troy fell after Paris died.", "test", [("Troy", "troy"), ("Paris", "paris_troy")]),
]


def test_a_model_trained_on_a_labelled_set_is_used_with_model(
    neo4j_settings: Settings, linked: dict[str, Any]
) -> None:
    root = linked["root"]
    rows = []
    for n, (text, split, mentions) in enumerate(LABELLED):
        spans = [
            {"start": text.index(s), "end": text.index(s) + len(s), "entity": e}
            for s, e in mentions
        ]
        rows.append(json.dumps({"id": f"d{n}", "text": text, "split": split, "mentions": spans}))
    (root / "set.jsonl").write_text("\n".join(rows) + "\n", encoding="utf-8")
    model = root / "mine.json"
    report = json.loads(
        run_cli(
            neo4j_settings,
            "-q",
            "link",
            "train",
            str(root / "set.jsonl"),
            "--out",
            str(model),
            "--json",
        ).stdout
    )
    assert model.is_file() and report["out"] == str(model)
    assert report["test"]["gold_mentions"] == 2 and report["test"]["f1"] >= 0.5
    out = json.loads(
        run_cli(
            neo4j_settings,
            "-q",
            "link",
            "text",
            "Paris left Troy.",
            "--model",
            str(model),
            "--json",
        ).stdout
    )
    assert out[0]["linker"] == report["model"]
    assert [m["entity"] for m in out[0]["mentions"]] == ["paris_troy", "troy"]
    no_valid = root / "no_valid.jsonl"
    no_valid.write_text(rows[0] + "\n", encoding="utf-8")
    result = run_cli(
        neo4j_settings, "link", "train", str(no_valid), "--out", str(model), check=False
    )
    assert result.returncode != 0 and "needs documents with split 'train' and 'valid'" in (
        result.stderr
    )


def test_bad_input_is_named(neo4j_settings: Settings, tmp_path: Path) -> None:
    bad = tmp_path / "latin1.txt"
    bad.write_bytes("Paris\nCaf\xe9 de Flore\n".encode("latin-1"))
    result = run_cli(neo4j_settings, "link", "text", "--file", str(bad), check=False)
    assert result.returncode == 1
    assert "latin1.txt:2: not UTF-8 (byte offset 9" in result.stderr
    result = run_cli(neo4j_settings, "link", "text", "x", "--file", str(bad), check=False)
    assert result.returncode != 0 and "not both" in result.stderr
    result = run_cli(neo4j_settings, "link", "media", check=False)
    assert result.returncode != 0 and "exactly one of --all" in result.stderr


def test_an_empty_graph_is_a_clear_error(graph: Graph, neo4j_settings: Settings) -> None:
    result = run_cli(neo4j_settings, "link", "text", "Paris is in France", check=False)
    assert result.returncode == 1 and "no entities to link to" in result.stderr
