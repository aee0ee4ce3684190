"""The RDF reader: relations, entity texts, numeric literals, stable blank nodes, rejects."""

from __future__ import annotations

from pathlib import Path

import pytest

from mmkg.errors import IngestError
from mmkg.platform.readers.lines import Reject
from mmkg.platform.readers.rdf import RdfReader

EX = "http://ex.org/"
NT = f"""# cities
<{EX}paris> <http://www.w3.org/2000/01/rdf-schema#label> "Paris"@en .
<{EX}paris> <http://www.w3.org/2000/01/rdf-schema#label> "Paris (ville)"@fr .
<{EX}paris> <http://www.w3.org/2004/02/skos/core#altLabel> "City of Light" .
<{EX}paris> <http://www.w3.org/2000/01/rdf-schema#comment> "Capital of France."@en .
<{EX}paris> <{EX}capitalOf> <{EX}france> .
<{EX}paris> <http://www.w3.org/1999/02/22-rdf-syntax-ns#type> <{EX}City> .
<{EX}paris> <{EX}population> "2102650"^^<http://www.w3.org/2001/XMLSchema#integer> .
<{EX}paris> <{EX}area> "105.4"^^<http://www.w3.org/2001/XMLSchema#double> .
<{EX}paris> <{EX}founded> "0300-01-01"^^<http://www.w3.org/2001/XMLSchema#date> .
_:walker <http://xmlns.com/foaf/0.1/knows> <{EX}paris> .
<{EX}paris> <{EX}capitalOf> .
<{EX}france> <http://xmlns.com/foaf/0.1/name> "France" .
"""
TTL = f"""@prefix ex: <{EX}> .
@prefix rdfs: <http://www.w3.org/2000/01/rdf-schema#> .
ex:paris ex:capitalOf ex:france ; rdfs:label "Paris"@en .
ex:paris ex:twinnedWith [ rdfs:label "Rome"@en ; ex:capitalOf ex:italy ] .
"""


def _read(path: Path, **kw: object) -> tuple[RdfReader, list[object]]:
    reader = RdfReader(path, **kw)  # type: ignore[arg-type]
    return reader, list(reader)


def test_ntriples_map_to_relations_texts_and_numeric_literals(tmp_path: Path) -> None:
    path = tmp_path / "cities.nt"
    path.write_text(NT, encoding="utf-8")
    reader, items = _read(path)
    triples = [x for x in items if not isinstance(x, Reject)]
    assert (f"{EX}paris", f"{EX}capitalOf", f"{EX}france") in triples
    assert (f"{EX}paris", "rdf:type", f"{EX}City") in triples
    assert ("_:cities:walker", "foaf:knows", f"{EX}paris") in triples  # the file's own label
    rejects = [x for x in items if isinstance(x, Reject)]
    assert len(rejects) == 1 and rejects[0].line == 12 and "N-Triples" in rejects[0].reason
    rows = {r["id"]: r for r in reader.texts.rows()}
    assert rows[f"{EX}paris"]["name"] == "Paris"
    assert rows[f"{EX}paris"]["description"] == "Capital of France."
    assert rows[f"{EX}paris"]["aliases"] == ["Paris (ville)", "City of Light"]
    assert rows[f"{EX}france"]["name"] == "France"
    assert sorted((a, v) for _, _, a, v in reader.texts.literals) == [
        (f"{EX}area", 105.4), (f"{EX}population", 2102650.0)
    ]  # fmt: skip
    assert reader.texts.skipped == {f"{EX}founded": 1}
    french, _ = _read(path, lang="fr")
    assert {r["id"]: r for r in french.texts.rows()}[f"{EX}paris"]["name"] == "Paris (ville)"


def test_turtle_uses_its_prefixes_and_gives_blank_nodes_stable_ids(tmp_path: Path) -> None:
    path = tmp_path / "cities.ttl"
    path.write_text(TTL, encoding="utf-8")
    first, items = _read(path)
    _, items_again = _read(path)
    assert items == items_again  # same ids, same order, load after load
    assert (f"{EX}paris", "ex:capitalOf", f"{EX}france") in items
    rome = next(t[2] for t in items if isinstance(t, tuple) and t[1] == "ex:twinnedWith")
    assert rome.startswith("_:cities:")
    assert (rome, "ex:capitalOf", f"{EX}italy") in items
    assert {r["id"]: r["name"] for r in first.texts.rows()}[rome] == "Rome"


def test_bad_rdf_is_named_with_where(tmp_path: Path) -> None:
    bad = tmp_path / "bad.ttl"
    bad.write_text("@prefix ex: <http://ex.org/> .\nex:a ex:b .\n", encoding="utf-8")
    with pytest.raises(IngestError, match=r"bad.ttl: not valid Turtle"):
        list(RdfReader(bad))
    with pytest.raises(IngestError, match="--format nt or ttl"):
        RdfReader(tmp_path / "x.rdf")
    with pytest.raises(IngestError, match="unknown RDF format"):
        RdfReader(bad, "xml")  # type: ignore[arg-type]
    long = tmp_path / "long.nt"
    long.write_text(f"<{EX}{'a' * 100}> <{EX}p> <{EX}b> .\n", encoding="utf-8")
    (reject,) = list(RdfReader(long, max_field=50))
    assert isinstance(reject, Reject) and reject.line == 1
