"""The real Neo4j 5.26 server, started once per session through `mmkg neo4j start`'s code."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from mmkg.graph_schema import queries as Q
from mmkg.platform.neo4j_server import start_server, stop_server
from mmkg.platform.schema import apply_schema
from mmkg.platform.store import Graph
from mmkg.settings import Settings
from tests.conftest import free_port

CLEAR = Q.DELETE_ALL


def cache_dir() -> Path:
    """Neo4j's jars are shared with the user's cache, so tests do not fetch them again."""
    return Path(os.environ.get("MMKG_CACHE_DIR") or Path.home() / ".mmkg" / "cache")


def server_settings(home: Path, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "home": home,
        "cache_dir": cache_dir(),
        "neo4j_bolt_port": free_port(),
        "neo4j_uri": None,
        "neo4j_password": None,
        "neo4j_heap": "1g",
        "neo4j_pagecache": "512m",
        "neo4j_database": "neo4j",
        # A deprecation notice from Neo4j about one of mmkg's own queries fails the test.
        "neo4j_deprecations": "error",
    }
    values.update(overrides)
    return Settings(**values)


def env_for(settings: Settings) -> dict[str, str]:
    """The environment under which the `mmkg` CLI talks to the test server."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("MMKG_")}
    env.update(
        MMKG_HOME=str(settings.home),
        MMKG_CACHE_DIR=str(settings.resolved_cache_dir),
        MMKG_NEO4J_BOLT_PORT=str(settings.neo4j_bolt_port),
        MMKG_NEO4J_DEPRECATIONS=settings.neo4j_deprecations,
        MMKG_NEO4J_RETRY_SECONDS=str(settings.neo4j_retry_seconds),
        MMKG_WEB_PORT=str(settings.web_port),
    )
    return env


def run_cli(settings: Settings, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    mmkg = Path(sys.executable).with_name("mmkg")
    result = subprocess.run(
        [str(mmkg), *args], env=env_for(settings), capture_output=True, text=True, timeout=600
    )
    if check and result.returncode != 0:
        raise AssertionError(f"mmkg {' '.join(args)} failed:\n{result.stdout}\n{result.stderr}")
    return result


@pytest.fixture(scope="session")
def neo4j_settings(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Settings]:
    settings = server_settings(tmp_path_factory.mktemp("mmkg-home"))
    start_server(settings)
    yield settings
    stop_server(settings)


@pytest.fixture(scope="session")
def session_graph(neo4j_settings: Settings) -> Iterator[Graph]:
    graph = Graph.connect(neo4j_settings)
    yield graph
    graph.close()


@pytest.fixture
def graph(session_graph: Graph) -> Graph:
    """An empty database with the schema applied."""
    session_graph.run_autocommit(CLEAR)
    apply_schema(session_graph)
    return session_graph


def count_relationships(graph: Graph) -> int:
    return int(graph.read("MATCH (:Entity)-[r]->(:Entity) RETURN count(r) AS n")[0]["n"])


def count_entities(graph: Graph) -> int:
    return int(graph.read("MATCH (e:Entity) RETURN count(e) AS n")[0]["n"])


def duplicate_relationships(graph: Graph) -> int:
    rows = graph.read(
        "MATCH (h:Entity)-[r]->(t:Entity) WITH h, type(r) AS ty, t, count(*) AS c "
        "WHERE c > 1 RETURN count(*) AS n"
    )
    return int(rows[0]["n"])


def relation_mapping(graph: Graph) -> dict[str, str]:
    """Raw relation name -> relationship type, as stored on :RelationType nodes."""
    rows = graph.read("MATCH (r:RelationType) RETURN r.name AS name, r.type AS type")
    return {r["name"]: r["type"] for r in rows}
