"""The demo knowledge graph that ships with mmkg: about 400 real entities (countries, cities,
scientists, writers, universities, awards...) with names and descriptions, and 1,300 facts."""

from __future__ import annotations

from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

from mmkg.platform.cypher import run_cypher
from mmkg.platform.ingest import IngestSummary, ingest_entities, ingest_triples
from mmkg.platform.schema import apply_schema
from mmkg.platform.stats import graph_stats
from mmkg.platform.store import Graph
from mmkg.settings import Settings

# Relation names become types by assign_relation_types: award_received -> AWARD_RECEIVED.
SAMPLE_QUERY = """\
MATCH (p:Entity)-[:AWARD_RECEIVED]->(prize:Entity)
WHERE prize.name STARTS WITH $prize
MATCH (p)-[:BORN_IN]->(city:Entity)-[:CAPITAL_OF|LOCATED_IN]->(country:Entity)
      -[:LOCATED_IN]->(:Entity {id: $continent})
RETURN p.name AS laureate, collect(DISTINCT prize.name) AS prizes,
       city.name AS born_in, country.name AS country
ORDER BY laureate
LIMIT 15"""
SAMPLE_PARAMS = {"prize": "Nobel Prize", "continent": "europe"}


def demo_data_dir() -> Path:
    return Path(str(resources.files("mmkg.platform") / "demo_data"))


@dataclass
class DemoResult:
    entities: IngestSummary
    triples: IngestSummary
    stats: dict[str, Any]
    query: str
    params: dict[str, Any]
    columns: list[str]
    rows: list[list[Any]]


def load_demo(graph: Graph, settings: Settings, show_progress: bool | None = None) -> DemoResult:
    """Apply the schema, load the demo graph (idempotently), and run the sample query."""
    apply_schema(graph)
    folder = demo_data_dir()
    entities = ingest_entities(
        graph, folder / "entities.tsv", settings, strict=True, show_progress=show_progress
    )
    triples = ingest_triples(
        graph, folder / "triples.tsv", settings, strict=True, show_progress=show_progress
    )
    columns, rows = run_cypher(graph, SAMPLE_QUERY, SAMPLE_PARAMS)
    return DemoResult(
        entities, triples, graph_stats(graph), SAMPLE_QUERY, SAMPLE_PARAMS, columns, rows
    )
