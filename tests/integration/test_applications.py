"""Question answering and recommendation on the demo graph, against a real Neo4j with the
plugin serving a trained run: `mmkg ask` and `mmkg recommend` as a user runs them."""

from __future__ import annotations

import json
import random
from collections.abc import Iterator
from pathlib import Path

import pytest

from mmkg.errors import InvalidRequestError, UnknownUserError
from mmkg.graph_schema import queries as Q
from mmkg.platform.demo import demo_embeddings, load_demo
from mmkg.platform.demo_media import load_demo_media
from mmkg.platform.ingest.interactions import ingest_interactions
from mmkg.platform.qa.answer import QuestionAnswerer
from mmkg.platform.recommend.graph import fit_recommender, recommend
from mmkg.platform.recommend.model import FitConfig
from mmkg.platform.schema import apply_schema
from mmkg.platform.store import Graph
from mmkg.settings import Settings
from tests.integration.conftest import run_cli


@pytest.fixture(scope="module")
def demo(neo4j_settings: Settings, session_graph: Graph) -> Iterator[Graph]:
    session_graph.run_autocommit(Q.DELETE_ALL)
    apply_schema(session_graph)
    load_demo(session_graph, neo4j_settings, show_progress=False)
    demo_embeddings(session_graph, neo4j_settings, show_progress=False)
    load_demo_media(session_graph, neo4j_settings, show_progress=False)
    yield session_graph


@pytest.fixture(scope="module")
def qa(demo: Graph, neo4j_settings: Settings) -> QuestionAnswerer:
    return QuestionAnswerer.from_graph(demo, neo4j_settings, show_progress=False)


def test_one_hop_questions_are_answered_from_the_graph_with_evidence(qa: QuestionAnswerer) -> None:
    r = qa.ask("Where was Marie Curie born?")
    assert r.reading is not None and r.reading.entity == "marie_curie"
    assert r.reading.path == [("born_in", "tail")]
    top = r.answers[0]
    assert (top.id, top.source, top.name) == ("warsaw", "graph", "Warsaw")
    assert top.evidence == [
        {"head": "marie_curie", "relation": "born_in", "tail": "warsaw", "source": "graph"}
    ]
    assert top.probability is None  # a fact, not a guess
    # Asked the other way round: the entity named is the tail.
    r = qa.ask("What is the capital of China?")
    assert r.reading is not None and r.reading.path == [("capital_of", "head")]
    assert r.answers[0].id == "beijing"


def test_answers_carry_their_media(qa: QuestionAnswerer) -> None:
    r = qa.ask("Who is the spouse of Pierre Curie?")
    top = r.answers[0]
    assert top.id == "marie_curie" and top.description
    assert any(m["kind"] == "Text" for m in top.media)  # curie.txt mentions her


def test_two_hop_questions_are_chained_with_the_whole_path(qa: QuestionAnswerer) -> None:
    r = qa.ask("What is the native language of the spouse of Marie Curie?")
    assert r.reading is not None
    assert [p for p, _ in r.reading.path] == ["spouse", "native_language"]
    top = r.answers[0]
    assert top.id == "french_language" and top.source == "graph"
    assert [e["tail"] for e in top.evidence] == ["pierre_curie", "french_language"]
    r = qa.ask("Where was the spouse of Marie Curie born?")  # the chain inside a question
    assert r.reading is not None and [p for p, _ in r.reading.path] == ["spouse", "born_in"]
    assert r.answers[0].id == "paris"


def test_a_question_the_graph_cannot_answer_is_predicted_with_a_probability(
    qa: QuestionAnswerer, demo: Graph
) -> None:
    # Someone the demo gives no citizenship (the demo's own link-prediction query).
    person = demo.read(
        "MATCH (p:Entity)-[:BORN_IN]->() WHERE NOT (p)-[:CITIZEN_OF]->() "
        "RETURN p.id AS id, p.name AS name ORDER BY p.id LIMIT 1"
    )[0]
    r = qa.ask(f"What is {person['name']} a citizen of?")
    assert r.reading is not None and r.reading.entity == person["id"]
    assert r.reading.path == [("citizen_of", "tail")]
    assert r.answers and all(a.source == "prediction" for a in r.answers)
    probs = [a.probability for a in r.answers]
    assert all(p is not None and 0 < p <= 1 for p in probs)
    assert probs == sorted(probs, reverse=True)  # type: ignore[type-var]
    # Only entities seen as citizenships are offered (the relation's observed range).
    countries = {x["id"] for x in demo.read("MATCH ()-[:CITIZEN_OF]->(c) RETURN c.id AS id")}
    assert {a.id for a in r.answers} <= countries
    assert r.answers[0].evidence[0]["source"] == "prediction"


def test_an_image_stands_for_the_entity_it_shows(
    qa: QuestionAnswerer, neo4j_settings: Settings
) -> None:
    photo = neo4j_settings.home / "demo-media" / "china.jpg"
    r = qa.ask("What is the capital of this country?", image=photo)
    assert r.reading is not None and r.reading.entity == "china"
    assert r.answers[0].id == "beijing"


def test_questions_without_a_known_entity_say_so_and_suggest_names(qa: QuestionAnswerer) -> None:
    r = qa.ask("Where was Mxyzptlk Qwertyuiop born?")
    assert r.reading is None and r.answers == []
    assert "no entity" in r.notes[0]
    r = qa.ask("Who was born in Warsawx?")  # a typo: fuzzy names are suggested
    assert r.reading is None or r.reading.entity == "warsaw"
    with pytest.raises(InvalidRequestError, match="k must lie"):
        qa.ask("Where was Marie Curie born?", k=0)
    with pytest.raises(InvalidRequestError, match="question 1 is empty"):
        qa.ask_many(["  "])


def test_mmkg_ask_cli_json_and_file(demo: Graph, neo4j_settings: Settings, tmp_path: Path) -> None:
    out = json.loads(
        run_cli(neo4j_settings, "-q", "ask", "Where was Alan Turing born?", "--json").stdout
    )
    assert out[0]["answers"][0]["id"] == "london" and out[0]["understood"]
    questions = tmp_path / "q.txt"
    questions.write_text("Where was Marie Curie born?\n\nWhere was Zzzqx Vvvqz born?\n")
    out = json.loads(
        run_cli(neo4j_settings, "-q", "ask", "--file", str(questions), "--json").stdout
    )
    assert [q["line"] for q in out] == [1, 3]
    assert out[0]["answers"][0]["id"] == "warsaw"
    assert out[1]["understood"] is False and out[1]["answers"] == []
    failed = run_cli(neo4j_settings, "ask", "Where was Zzzqx Vvvqz born?", check=False)
    assert failed.returncode == 1 and "no entity of the graph" in failed.stdout
    text = run_cli(neo4j_settings, "ask", "Who is the spouse of Marie Curie?").stdout
    assert "Pierre Curie (pierre_curie) [fact]" in text and "evidence:" in text


# --- recommendation -------------------------------------------------------------------------
def _log(demo: Graph, path: Path, cold: str) -> dict[str, set[str]]:
    """Users who each like one field of work interact with its people, except ``cold``."""
    rows = demo.read(
        "MATCH (p:Entity)-[:FIELD_OF_WORK]->(f:Entity) WHERE f.id IN ['physics', 'literature'] "
        "RETURN p.id AS id, f.id AS field ORDER BY id"
    )
    by_field: dict[str, list[str]] = {}
    for r in rows:
        by_field.setdefault(r["field"], []).append(r["id"])
    rng = random.Random(0)
    lines = ["user,item,rating,timestamp"]
    had: dict[str, set[str]] = {}
    t = 1_700_000_000
    for n in range(40):
        field = ("physics", "literature")[n % 2]
        people = [p for p in by_field[field] if p != cold]
        for p in rng.sample(people, min(6, len(people))):
            t += 60
            lines.append(f"u{n},{p},{rng.randint(3, 5)},{t}")
            had.setdefault(f"u{n}", set()).add(p)
    lines.append("u0,nobody_known,5,1")  # an unknown item: counted, not created
    lines.append("u0,marie_curie,not-a-number,1")  # a bad line: rejected with file:line
    path.write_text("\n".join(lines) + "\n")
    return had


def test_recommend_from_interactions_with_explanations_and_cold_items(
    demo: Graph, neo4j_settings: Settings, tmp_path: Path
) -> None:
    physicists = {
        r["id"]
        for r in demo.read(
            "MATCH (p)-[:FIELD_OF_WORK]->(:Entity {id: 'physics'}) RETURN p.id AS id"
        )
    }
    cold = sorted(physicists)[0]
    log = tmp_path / "log.csv"
    had = _log(demo, log, cold)
    summary = ingest_interactions(demo, log, neo4j_settings, show_progress=False)
    assert summary.unknown_items == 1 and summary.unknown_examples == ["nobody_known"]
    assert summary.rejected == 1 and summary.users_created == 40
    assert summary.interactions == sum(len(v) for v in had.values())
    assert not demo.read("MATCH (e:Entity {id: 'nobody_known'}) RETURN e")
    again = ingest_interactions(demo, log, neo4j_settings, show_progress=False)
    assert again.relationships_created == 0 and again.users_created == 0

    fitted = fit_recommender(
        demo, neo4j_settings, FitConfig(dim=16, epochs=30), show_progress=False
    )
    assert fitted.users == 40 and fitted.cold_items > 0
    assert {f["name"] for f in fitted.features} >= {"structure", "text"}
    physics_users = [u for u in had if int(u[1:]) % 2 == 0]
    cold_rank, found, chance = [], [], []
    for user in physics_users:
        recs = recommend(demo, user, 10)
        ids = [r.id for r in recs]
        assert len(ids) == 10 and not set(ids) & had[user]  # what they have is excluded
        found.append(len(set(ids) & physicists))
        chance.append(10 * len(physicists - had[user]) / (fitted.items - len(had[user])))
        if cold in ids:
            cold_rank.append(ids.index(cold))
        explained = [r for r in recs if r.because]
        assert explained, "some recommendation comes with a path through the graph"
        path = explained[0].because["path"]  # type: ignore[index]
        assert path[0]["head"] == user and path[0]["tail"] in had[user]
    # Physics fans get physicists well beyond chance.
    assert sum(found) >= 1.5 * sum(chance), (found, chance)
    # The physicist nobody interacted with reaches physics fans through its facts and text.
    assert cold_rank, f"{cold} (no interactions) was never recommended"

    with pytest.raises(UnknownUserError, match="unknown user 'nobody'"):
        recommend(demo, "nobody", 5)
    with pytest.raises(InvalidRequestError, match="k must lie"):
        recommend(demo, "u0", 0)
    # The same from Cypher and from the CLI.
    rows = demo.read("CALL mmkg.recommend('u0', 3) YIELD id, rank RETURN id, rank")
    assert [r["rank"] for r in rows] == [1, 2, 3]
    out = json.loads(run_cli(neo4j_settings, "-q", "recommend", "u0", "-k", "3", "--json").stdout)
    assert [r["id"] for r in out] == [r["id"] for r in rows]
    failed = run_cli(neo4j_settings, "recommend", "ghost", check=False)
    assert failed.returncode != 0 and "unknown user 'ghost'" in failed.stderr + failed.stdout


def test_the_api_asks_and_recommends(demo: Graph, neo4j_settings: Settings) -> None:
    """After the recommender test above fitted one: the same answers over HTTP."""
    from fastapi.testclient import TestClient

    from mmkg.platform.api_keys import create_key
    from mmkg.web import create_app

    key = create_key(demo, "read", "apps")[1]
    headers = {"Authorization": f"Bearer {key}"}
    photo = neo4j_settings.home / "demo-media" / "china.jpg"
    with TestClient(create_app(neo4j_settings, demo)) as c:
        r = c.get("/api/v1/ask", params={"q": "Where was Marie Curie born?"}, headers=headers)
        assert r.status_code == 200 and r.json()["answers"][0]["id"] == "warsaw"
        r = c.post(
            "/api/v1/ask/image",
            headers=headers,
            data={"q": "What is the capital of this country?"},
            files={"image": ("china.jpg", photo.read_bytes(), "image/jpeg")},
        )
        assert r.status_code == 200 and r.json()["answers"][0]["id"] == "beijing"
        r = c.get("/api/v1/recommend/u0", params={"k": 3}, headers=headers)
        assert r.status_code == 200 and len(r.json()["recommendations"]) == 3
        r = c.get("/api/v1/recommend/ghost", headers=headers)
        assert r.status_code == 404 and r.json()["title"] == "unknown user"
        assert c.get("/api/v1/ask", params={"q": "x"}).status_code == 401


def test_a_recommender_run_never_serves_link_prediction(demo: Graph) -> None:
    from mmkg.errors import DataError
    from mmkg.platform.serving import activate_run

    run = demo.read(Q.RECOMMENDER_RUN)[0]["id"]
    assert run is not None
    with pytest.raises(DataError, match="recommender's item vectors"):
        activate_run(demo, run)
