from __future__ import annotations

import stat
from pathlib import Path

import numpy as np
import pytest
import typer
from typer.testing import CliRunner

from mmkg.cli.main import app
from mmkg.errors import QueryError
from mmkg.platform.cypher import parse_param
from mmkg.platform.export import TripleExport, write_export
from mmkg.platform.neo4j_server.credentials import Credentials, read_credentials, write_credentials


def _commands(group: typer.Typer, prefix: list[str]) -> list[list[str]]:
    """Every command and group of the app, found by walking it (none listed by hand)."""
    found = [prefix]
    for command in group.registered_commands:
        name = command.name or (
            command.callback.__name__.replace("_", "-") if command.callback else ""
        )
        found.append([*prefix, name])
    for sub in group.registered_groups:
        assert sub.typer_instance is not None and sub.name
        found += _commands(sub.typer_instance, [*prefix, sub.name])
    return found


COMMANDS = _commands(app, [])


def test_the_walk_finds_every_command() -> None:
    names = {" ".join(c) for c in COMMANDS}
    assert len(COMMANDS) >= 30
    assert {"train", "embeddings write", "predict tail", "cache load", "schema repair",
            "ingest media", "submit train", "search text"} <= names  # fmt: skip


@pytest.mark.parametrize("command", COMMANDS, ids=lambda c: " ".join(c) or "mmkg")
def test_every_command_has_help(command: list[str]) -> None:
    result = CliRunner().invoke(app, [*command, "--help"])
    assert result.exit_code == 0, result.output
    assert "Usage" in result.output


def test_commands_that_scripts_read_offer_json() -> None:
    for command in (["neo4j", "status"], ["stats"], ["cypher"], ["ingest", "triples"]):
        result = CliRunner().invoke(app, [*command, "--help"])
        assert "--json" in result.output, command


def test_unreachable_server_gives_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MMKG_NEO4J_URI", "bolt://127.0.0.1:9")
    monkeypatch.setenv("MMKG_NEO4J_PASSWORD", "x")
    from mmkg.cli.common import STATE

    STATE.settings = None
    result = CliRunner().invoke(app, ["stats"])
    STATE.settings = None
    assert result.exit_code == 1
    assert "cannot reach Neo4j at bolt://127.0.0.1:9" in result.output


def test_parse_param() -> None:
    assert parse_param("k=10") == ("k", 10)
    assert parse_param("name=Marie Curie") == ("name", "Marie Curie")
    assert parse_param("ids=[1, 2]") == ("ids", [1, 2])
    with pytest.raises(QueryError):
        parse_param("novalue")


def test_credentials_file_is_private(tmp_path: Path) -> None:
    path = tmp_path / "neo4j" / "credentials"
    write_credentials(path, Credentials("neo4j", "s3cret"))
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert read_credentials(path) == Credentials("neo4j", "s3cret")
    assert read_credentials(tmp_path / "missing") is None


def test_write_export_layout(tmp_path: Path) -> None:
    export = TripleExport(
        triples=np.array([[0, 1, 1], [1, 0, 0]], dtype=np.int64),
        entity_ids=["a", "b"],
        relation_names=["r0", "r1"],
        relation_types=["R0", "R1"],
    )
    meta = write_export(export, tmp_path / "out")
    out = tmp_path / "out"
    assert (out / "triples.tsv").read_text() == "a\tr1\tb\nb\tr0\ta\n"
    assert (out / "entities.dict").read_text() == "0\ta\n1\tb\n"
    assert (out / "relations.dict").read_text() == "0\tr0\n1\tr1\n"
    assert np.array_equal(np.load(out / "triples.npy"), export.triples)
    assert meta["triples"] == 2 and meta["relation_types"] == {"r0": "R0", "r1": "R1"}
    assert not list(out.glob(".*tmp*"))
