from __future__ import annotations

import json
import stat
from pathlib import Path

import pytest
from pydantic import SecretStr

from mmkg.errors import Neo4jAuthError, Neo4jServerError
from mmkg.platform.neo4j_server import server_status, start_server, stop_server
from mmkg.platform.store import Graph
from mmkg.settings import Settings
from tests.integration.conftest import run_cli, server_settings


def test_status_of_the_running_server(neo4j_settings: Settings) -> None:
    status = server_status(neo4j_settings)
    assert status.running
    assert status.version is not None and status.version.startswith("5.26.")
    assert "community" in status.version
    assert status.pid is not None
    assert status.uri == f"bolt://127.0.0.1:{neo4j_settings.neo4j_bolt_port}"
    creds = Path(status.credentials_file or "")
    assert creds.is_file()
    assert stat.S_IMODE(creds.stat().st_mode) == 0o600


def test_start_is_idempotent(neo4j_settings: Settings) -> None:
    before = server_status(neo4j_settings).pid
    assert start_server(neo4j_settings).pid == before


def test_cli_status_json(neo4j_settings: Settings) -> None:
    data = json.loads(run_cli(neo4j_settings, "neo4j", "status", "--json").stdout)
    assert data["running"] is True
    assert data["uri"] == neo4j_settings.uri
    assert data["version"].startswith("5.26.")
    assert data["credentials_file"].endswith("credentials")


def test_wrong_password_is_refused_clearly(neo4j_settings: Settings) -> None:
    wrong = neo4j_settings.model_copy(update={"neo4j_password": SecretStr("not-the-password")})
    with pytest.raises(Neo4jAuthError, match="refused the credentials"):
        Graph.connect(wrong)


@pytest.mark.parametrize("auth", [False, True], ids=["server-start", "password-step"])
def test_failed_start_says_why(tmp_path: Path, auth: bool) -> None:
    settings = server_settings(tmp_path / "home", neo4j_auth=auth)
    extra = settings.neo4j_dir / "neo4j.extra.conf"
    extra.parent.mkdir(parents=True)
    extra.write_text("server.memory.pagecache.size=banana\n")
    with pytest.raises(Neo4jServerError) as failure:
        start_server(settings)
    assert "banana" in str(failure.value)
    assert not server_status(settings).running
    assert not settings.credentials_file.exists()


def test_start_stop_restart_keeps_data_and_password(tmp_path: Path) -> None:
    # A leading '-' once read as an option of neo4j-admin (one generated password in 64).
    settings = server_settings(tmp_path / "home", neo4j_password="-chosen-by-user-1")
    first = start_server(settings)
    assert first.running
    with Graph.connect(settings) as graph:
        graph.write("CREATE (:Entity {id: 'survives-restart'})")
    # The password given at first start is the server's password; no credentials file lies.
    assert stop_server(settings)
    assert not server_status(settings).running
    assert not stop_server(settings)

    again = start_server(settings)
    assert again.pid != first.pid
    with Graph.connect(settings) as graph:
        rows = graph.read("MATCH (e:Entity {id: 'survives-restart'}) RETURN count(e) AS n")
    assert rows[0]["n"] == 1
    assert stop_server(settings)


def test_port_taken_is_reported(neo4j_settings: Settings, tmp_path: Path) -> None:
    other = server_settings(tmp_path / "other", neo4j_bolt_port=neo4j_settings.neo4j_bolt_port)
    with pytest.raises(Neo4jServerError, match="is taken"):
        start_server(other)


def test_deprecated_cypher_in_an_mmkg_query_fails_the_suite(session_graph: Graph) -> None:
    """The suite runs with MMKG_NEO4J_DEPRECATIONS=error: a deprecation notice is an error."""
    from mmkg.errors import QueryError

    assert session_graph.deprecations == "error"
    with pytest.raises(QueryError, match="deprecates"):
        session_graph.read("MATCH (n) RETURN id(n) AS i LIMIT 1")
    session_graph.read("MATCH (n) RETURN elementId(n) AS i LIMIT 1")
