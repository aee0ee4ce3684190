from __future__ import annotations

import doctest
from pathlib import Path

import pytest
from pydantic import ValidationError

import mmkg.graph_schema.identifiers
import mmkg.settings
from mmkg.platform.neo4j_server.config import ServerLayout, jvm_command, render_conf
from mmkg.settings import Settings, parse_memory


def test_env_overrides_and_defaults(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("MMKG_HOME", str(tmp_path))
    monkeypatch.setenv("MMKG_NEO4J_BOLT_PORT", "7999")
    s = Settings()
    assert s.home == tmp_path
    assert s.uri == "bolt://127.0.0.1:7999"
    assert s.uses_managed_server
    assert s.credentials_file == tmp_path / "neo4j" / "credentials"
    monkeypatch.setenv("MMKG_NEO4J_URI", "neo4j+s://example.databases.neo4j.io")
    s = Settings()
    assert s.uri == "neo4j+s://example.databases.neo4j.io"
    assert not s.uses_managed_server


def test_invalid_settings_are_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MMKG_NEO4J_BOLT_PORT", "70000")
    with pytest.raises(ValidationError, match="neo4j_bolt_port"):
        Settings()
    monkeypatch.delenv("MMKG_NEO4J_BOLT_PORT")
    monkeypatch.setenv("MMKG_NEO4J_HEAP", "lots")
    with pytest.raises(ValidationError, match="invalid memory size"):
        Settings()


def test_parse_memory() -> None:
    assert parse_memory("512m") == 512 * 1024**2
    assert parse_memory("2G") == 2 * 1024**3
    assert parse_memory("1024") == 1024
    for bad in ("", "m", "-1g", "1.5g", "0"):
        with pytest.raises(ValueError):
            parse_memory(bad)


def test_conf_binds_loopback_only_and_disables_http(tmp_path: Path) -> None:
    s = Settings(home=tmp_path, neo4j_bolt_port=7777, neo4j_heap="1g", neo4j_pagecache="256m")
    layout = ServerLayout(s.neo4j_dir)
    text = render_conf(s, layout)
    assert "server.bolt.listen_address=127.0.0.1:7777" in text
    assert "server.default_listen_address=127.0.0.1" in text
    assert "server.http.enabled=false" in text
    assert "dbms.security.auth_enabled=true" in text
    assert "server.memory.pagecache.size=256m" in text
    cmd = jvm_command(Path("/usr/bin/java"), tmp_path / "lib", s, layout)
    assert "-Xmx1024m" in cmd
    assert "--add-opens=java.base/java.nio=ALL-UNNAMED" in cmd
    assert "--enable-native-access=ALL-UNNAMED" in cmd
    assert cmd[cmd.index("-cp") + 2] == "org.neo4j.server.CommunityEntryPoint"


def test_extra_conf_is_appended(tmp_path: Path) -> None:
    s = Settings(home=tmp_path)
    layout = ServerLayout(s.neo4j_dir)
    layout.root.mkdir(parents=True)
    (layout.root / "neo4j.extra.conf").write_text("db.logs.query.enabled=OFF\n")
    text = render_conf(s, layout)
    assert text.endswith("db.logs.query.enabled=OFF\n")
    (layout.root / "neo4j.extra.conf").write_text("server.memory.pagecache.size=3g\n")
    text = render_conf(s, layout)
    assert text.count("server.memory.pagecache.size=") == 1
    assert "server.memory.pagecache.size=3g" in text


@pytest.mark.parametrize("module", [mmkg.settings, mmkg.graph_schema.identifiers])
def test_docstring_examples(module: object) -> None:
    result = doctest.testmod(module)  # type: ignore[arg-type]
    assert result.attempted > 0 and result.failed == 0
