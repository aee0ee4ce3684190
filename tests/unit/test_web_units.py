"""The web side's parts that need no server: sessions, CSRF, key format, error statuses,
the upload folder rule, and the Neo4j Browser's configuration."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from mmkg import errors as E
from mmkg.platform.api_keys import ApiKey, KeyVerifier
from mmkg.platform.media.files import all_under
from mmkg.platform.neo4j_server.config import ServerLayout, jvm_command, render_conf
from mmkg.settings import Settings
from mmkg.web.problems import as_problem, body
from mmkg.web.session import Sessions, load_secret


def test_a_session_cookie_names_its_key_until_it_expires_and_cannot_be_forged(
    tmp_path: Path,
) -> None:
    secret = load_secret(tmp_path)
    assert len(secret) == 32 and load_secret(tmp_path) == secret  # made once per home
    assert stat.S_IMODE(os.stat(tmp_path / "web-secret").st_mode) == 0o600
    sessions = Sessions(secret, hours=1)
    cookie = sessions.issue("abcdef012345")
    assert sessions.key_id(cookie) == "abcdef012345"
    key_id, expires, signature = cookie.split(".")
    assert sessions.key_id(f"ffffff012345.{expires}.{signature}") is None  # another key
    assert sessions.key_id(f"{key_id}.{int(expires) + 3600}.{signature}") is None  # extended
    assert sessions.key_id(Sessions(b"x" * 32, 1).issue(key_id)) is None  # another server
    assert sessions.key_id(None) is None and sessions.key_id("a.b") is None
    stale = Sessions(secret, hours=1)
    stale.seconds = -1
    assert sessions.key_id(stale.issue(key_id)) is None
    token = sessions.csrf(cookie)
    assert sessions.csrf_ok(cookie, token)
    assert not sessions.csrf_ok(cookie, token[:-1] + ("0" if token[-1] != "0" else "1"))
    assert not sessions.csrf_ok(sessions.issue("other0000000"), token)
    assert not sessions.csrf_ok(None, token) and not sessions.csrf_ok(cookie, None)


def test_keys_of_the_wrong_shape_never_reach_the_database() -> None:
    class NoGraph:
        def read(self, *_: object) -> list[object]:
            raise AssertionError("queried")

    verifier = KeyVerifier(NoGraph())  # type: ignore[arg-type]
    for bad in ("", "mmkg_", "Bearer x", "mmkg_0123456789ab_short", "mmkg_XYZ_" + "a" * 43):
        assert verifier.verify(bad) is None
    assert ApiKey("a", "write", "").allows("read") and ApiKey("a", "write", "").allows("write")
    assert ApiKey("a", "read", "").allows("read") and not ApiKey("a", "read", "").allows("write")


@pytest.mark.parametrize(
    ("error", "status"),
    [
        (E.UnknownEntityError("no entity x"), 404),
        (E.UnknownRelationError("no relation r"), 404),
        (E.InvalidRequestError("mode"), 400),
        (E.NoActiveRunError("no active run"), 409),
        (E.NoVectorIndexError("no index"), 409),
        (E.CacheMemoryError("too big"), 503),
        (E.Neo4jUnavailableError("down"), 503),
        (E.DataError("not an image"), 400),
        (E.ConfigError("needs clip"), 400),
        (RuntimeError("bug"), 500),
    ],
)
def test_errors_map_to_statuses_with_what_was_wrong(error: Exception, status: int) -> None:
    problem = as_problem(error)
    assert problem.status == status
    doc = body(problem, "/api/v1/x")
    assert doc["status"] == status and doc["instance"] == "/api/v1/x"
    if status != 500:
        assert doc["detail"] == str(error) and doc["error"] == type(error).__name__
        assert doc["type"] == "about:blank"
    else:  # an unexpected error says nothing of its internals
        assert "bug" not in doc["detail"]


def test_only_files_inside_the_upload_folder_skip_the_media_root_rule(tmp_path: Path) -> None:
    uploads = tmp_path / "uploads"
    uploads.mkdir()
    inside = uploads / "a.png"
    inside.write_bytes(b"x")
    outside = tmp_path / "b.png"
    outside.write_bytes(b"x")
    (uploads / "link.png").symlink_to(outside)
    assert all_under(uploads, [inside])
    assert not all_under(uploads, [inside, outside])
    assert not all_under(uploads, [uploads / ".." / "b.png"])
    assert not all_under(uploads, [uploads / "link.png"])  # a symlink out is outside
    assert not all_under(uploads, [])


def test_neo4j_browser_is_off_by_default_and_loopback_only_when_on(tmp_path: Path) -> None:
    layout = ServerLayout(tmp_path / "neo4j")
    off = Settings(home=tmp_path)
    conf = render_conf(off, layout)
    assert "server.http.enabled=false" in conf and "dbms.security.auth_enabled=true" in conf
    on = Settings(home=tmp_path, neo4j_browser=True, neo4j_http_port=7999)
    conf = render_conf(on, layout)
    assert "server.http.enabled=true" in conf
    assert "server.http.listen_address=127.0.0.1:7999" in conf
    assert "dbms.security.auth_enabled=true" in conf
    browser = tmp_path / "browser"
    cmd = jvm_command(Path("/usr/bin/java"), tmp_path / "lib", on, layout, browser)
    assert cmd[cmd.index("-cp") + 1].endswith(f":{browser}/*")
