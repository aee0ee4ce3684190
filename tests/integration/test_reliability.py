"""Reliability against real processes: the schema always in force, merges that lose nothing,
no silent success, failing fast when the server goes, and local data kept local."""

from __future__ import annotations

import json
import os
import signal
import stat
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from pydantic import SecretStr

from mmkg.errors import (
    DataError,
    IngestError,
    Neo4jAuthError,
    Neo4jRateLimitedError,
    QueryError,
    SchemaError,
)
from mmkg.graph_schema import SCHEMA_VERSION
from mmkg.platform.ingest import ingest_entities, ingest_triples
from mmkg.platform.kge.artifact import artifact_from_tables
from mmkg.platform.neo4j_server import start_server, stop_server
from mmkg.platform.neo4j_server.process import layout_for, reset_password
from mmkg.platform.schema import apply_schema, describe_schema
from mmkg.platform.schema_repair import repair_duplicates
from mmkg.platform.serving import write_artifact
from mmkg.platform.store import Graph
from mmkg.settings import Settings
from tests.integration.conftest import (
    count_entities,
    count_relationships,
    duplicate_relationships,
    env_for,
    run_cli,
    server_settings,
)


def _write(path: Path, text: str | bytes) -> Path:
    path.write_bytes(text.encode("utf-8") if isinstance(text, str) else text)
    return path


# --- 1. the schema is always in force ---------------------------------------------------------


def test_the_managed_server_starts_with_its_schema_applied(session_graph: Graph) -> None:
    assert describe_schema(session_graph).version == SCHEMA_VERSION


def test_concurrent_overlapping_ingests_create_everything_exactly_once(
    graph: Graph, neo4j_settings: Settings, tmp_path: Path
) -> None:
    rng = np.random.default_rng(4)
    lines = [
        f"e{h}\trel_{r}\te{t}\n" for h, r, t in rng.integers(0, 3000, (20_000, 3)) % [3000, 7, 3000]
    ]
    expected = set(lines)
    a = _write(tmp_path / "a.tsv", "".join(lines[:14_000]))
    b = _write(tmp_path / "b.tsv", "".join(lines[6_000:]))
    mmkg = Path(sys.executable).with_name("mmkg")
    env = env_for(neo4j_settings)
    procs = [
        subprocess.Popen([str(mmkg), "-q", "ingest", "triples", str(p), "--json"], env=env,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        for p in (a, b)
    ]  # fmt: skip
    outs = [p.communicate(timeout=600) for p in procs]
    assert all(p.returncode == 0 for p in procs), outs
    entities = {x for line in expected for x in (line.split("\t")[0], line.split("\t")[2].strip())}
    assert count_entities(graph) == len(entities)
    assert count_relationships(graph) == len(expected)
    assert duplicate_relationships(graph) == 0
    assert graph.read("MATCH (r:RelationType) RETURN count(r) AS n")[0]["n"] == 7
    created = sum(json.loads(o[0])["relation_types_created"] for o in outs)
    assert created == 7  # counted by what each load created, not what it asked for


def test_a_server_mmkg_did_not_start_must_have_its_schema_applied_first(
    session_graph: Graph, tmp_path: Path
) -> None:
    g = session_graph
    foreign = Graph(g.driver, g.database, g.uri, managed=False, deprecations="error")
    g.write("MATCH (m:MmkgMigration {version: $v}) DELETE m", {"v": SCHEMA_VERSION})
    try:
        with pytest.raises(SchemaError, match=r"schema version .*`mmkg schema apply`"):
            ingest_triples(foreign, _write(tmp_path / "t.tsv", "a\tr\tb\n"), Settings())
    finally:
        apply_schema(g)
    assert describe_schema(g).version == SCHEMA_VERSION


def test_duplicates_block_the_schema_until_repaired_and_repair_loses_nothing(
    graph: Graph,
) -> None:
    g = graph
    g.run_autocommit("DROP CONSTRAINT mmkg_entity_id IF EXISTS")
    g.write("MATCH (m:MmkgMigration {version: 1}) DELETE m")
    try:
        g.write(
            "CREATE (a:Entity {id: 'dup', name: 'First'}), "
            "(b:Entity {id: 'dup', description: 'd'}), "
            "(c:Entity {id: 'x'}), (a)-[:KNOWS]->(c), (c)-[:LIKES {since: 2001}]->(b), "
            "(b)-[:KNOWS]->(c)"
        )
        with pytest.raises(SchemaError, match=r"1 extra :Entity node.*'dup'.*schema repair"):
            apply_schema(g)
        dry = repair_duplicates(g, dry_run=True)
        assert dry.nodes_removed == 1 and count_entities(g) == 3  # nothing changed
        done = repair_duplicates(g)
        assert done.nodes_removed == 1 and done.relationships_moved == 2
        rows = g.read(
            "MATCH (e:Entity {id: 'dup'}) RETURN e.name AS name, e.description AS d, "
            "count { (e)-[:KNOWS]->() } AS knows, [(x)-[l:LIKES]->(e) | l.since] AS since"
        )
        assert rows == [{"name": "First", "d": "d", "knows": 1, "since": [2001]}]
        assert apply_schema(g).applied_now == [1]
        assert repair_duplicates(g).duplicates == []
    finally:
        apply_schema(g)


# --- 2. merges never lose fields --------------------------------------------------------------


def test_one_file_and_two_files_give_the_same_entities(
    graph: Graph, neo4j_settings: Settings, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    rows = ["paris\tParis\t\t", "paris\t\tCapital of France.\tLutèce", "rome\tRome\t\t"]
    one = _write(tmp_path / "one.tsv", "\n".join(rows) + "\n")
    summary = ingest_entities(graph, one, neo4j_settings)
    assert summary.repeated_ids == 1 and "appear more than once" in caplog.text
    query = (
        "MATCH (e:Entity) RETURN e.id AS id, e.name AS n, e.description AS d, e.aliases AS a "
        "ORDER BY id"
    )
    merged = graph.read(query)
    assert merged[0] == {"id": "paris", "n": "Paris", "d": "Capital of France.", "a": ["Lutèce"]}
    graph.write("MATCH (n) DETACH DELETE n")
    ingest_entities(
        graph, _write(tmp_path / "p1.tsv", rows[0] + "\n" + rows[2] + "\n"), neo4j_settings
    )
    ingest_entities(graph, _write(tmp_path / "p2.tsv", rows[1] + "\n"), neo4j_settings)
    assert graph.read(query) == merged


# --- 3. no silent success ---------------------------------------------------------------------


def test_files_that_load_nothing_fail_and_say_what_they_are(
    graph: Graph, neo4j_settings: Settings, tmp_path: Path
) -> None:
    utf16 = _write(tmp_path / "u16.tsv", "a\tr\tb\n".encode("utf-16"))
    with pytest.raises(IngestError, match="is UTF-16"):
        ingest_triples(graph, utf16, neo4j_settings)
    bare16 = _write(tmp_path / "bare16.tsv", "a\tr\tb\nc\tr\td\n".encode("utf-16-le"))
    with pytest.raises(IngestError, match="UTF-16 without a byte-order mark"):
        ingest_triples(graph, bare16, neo4j_settings)
    binary = _write(tmp_path / "blob.tsv", bytes(range(256)) * 20)
    with pytest.raises(IngestError, match="binary data"):
        ingest_triples(graph, binary, neo4j_settings)
    junk = _write(tmp_path / "junk.tsv", "just one field\nanother\n")
    with pytest.raises(IngestError, match=r"all 2 records .* were rejected"):
        ingest_triples(graph, junk, neo4j_settings)
    mostly = _write(tmp_path / "mostly.tsv", "a\tr\tb\n" + "bad\n" * 3)
    with pytest.raises(IngestError, match=r"3 of 4 records .*at most 50% rejected"):
        ingest_triples(graph, mostly, neo4j_settings, max_rejects="50%")
    assert count_entities(graph) == 0  # refused before anything was written
    summary = ingest_triples(graph, mostly, neo4j_settings, max_rejects="3")
    assert summary.rejected == 3 and count_relationships(graph) == 1
    cli = run_cli(neo4j_settings, "ingest", "triples", str(junk), check=False)
    assert cli.returncode == 1 and "were rejected" in cli.stderr


def test_cypher_is_read_only_unless_asked_and_reports_what_it_wrote(
    graph: Graph, neo4j_settings: Settings
) -> None:
    refused = run_cli(neo4j_settings, "cypher", "CREATE (:Entity {id: 'w'})", check=False)
    assert refused.returncode == 1 and "--write" in refused.stderr
    assert count_entities(graph) == 0
    wrote = run_cli(neo4j_settings, "cypher", "CREATE (:Entity {id: 'w', name: 'W'})", "--write")
    assert "nodes created: 1" in wrote.stdout and "properties set: 2" in wrote.stdout
    data = json.loads(run_cli(neo4j_settings, "cypher", "MATCH (e:Entity {id: 'w'}) SET e.x = 1",
                              "--write", "--json").stdout)  # fmt: skip
    assert data == {"rows": [], "counters": {"properties_set": 1}}


def test_write_back_refuses_vectors_that_should_not_serve(
    graph: Graph, neo4j_settings: Settings
) -> None:
    graph.write("UNWIND range(0, 99) AS i CREATE (:Entity {id: 'n' + toString(i)})")
    graph.write("CREATE (:RelationType {name: 'r', type: 'R'})")
    ids = [f"n{i}" for i in range(100)]
    vectors = np.random.default_rng(0).standard_normal((100, 8)).astype(np.float32)
    broken = vectors.copy()
    broken[3, 1] = np.nan
    rel = np.ones((1, 8), dtype=np.float32)

    def artifact(table: np.ndarray, mrr: float) -> object:
        return artifact_from_tables("transe_l2", 1.0, False, ids, table, ["r"], rel,
                                    metrics={"valid": {"mrr": mrr}})  # fmt: skip

    with pytest.raises(DataError, match=r"1 entity vector\(s\) are not finite \(e.g. 'n3'\)"):
        write_artifact(graph, artifact(broken, 0.5), neo4j_settings, run_id="nan")  # type: ignore[arg-type]
    with pytest.raises(DataError, match="at chance level"):
        write_artifact(graph, artifact(vectors, 0.03), neo4j_settings, run_id="chance")  # type: ignore[arg-type]
    assert graph.read("MATCH (r:EmbeddingRun) RETURN count(r) AS n")[0]["n"] == 0
    forced = write_artifact(graph, artifact(vectors, 0.03), neo4j_settings, run_id="chance",  # type: ignore[arg-type]
                            force=True, index=False)  # fmt: skip
    assert forced.status == "ready"


# --- 4. fail fast, resume fast; 5. local data stays local -----------------------------------


def test_logins_after_wrong_passwords_wait_out_the_rate_limit(neo4j_settings: Settings) -> None:
    wrong = neo4j_settings.model_copy(update={"neo4j_password": SecretStr("wrong-password")})
    for _ in range(4):
        # Refused, then (after three) locked out for a few seconds: both are refusals.
        with pytest.raises((Neo4jAuthError, Neo4jRateLimitedError)):
            Graph.connect(wrong).close()
    started = time.monotonic()
    with Graph.connect(neo4j_settings) as graph:  # waits the lock-out out instead of failing
        assert graph.read("RETURN 1 AS ok") == [{"ok": 1}]
    assert time.monotonic() - started < 30


def test_load_csv_cannot_reach_the_network_or_files_outside_import(session_graph: Graph) -> None:
    with pytest.raises(QueryError, match=r"(?i)blocked"):
        session_graph.read("LOAD CSV FROM 'http://127.0.0.1:9/x.csv' AS row RETURN row")
    with pytest.raises(QueryError):
        rows = session_graph.read("LOAD CSV FROM 'file:///etc/passwd' AS row RETURN row LIMIT 1")
        assert not rows  # resolved inside the import folder, where there is no such file


def test_the_managed_servers_files_are_private(neo4j_settings: Settings) -> None:
    root = layout_for(neo4j_settings).root
    loose = []
    for dirpath, dirnames, filenames in os.walk(root):
        for name in dirnames + filenames:
            path = Path(dirpath) / name
            mode = stat.S_IMODE(path.lstat().st_mode)
            if not path.is_symlink() and mode & 0o077:
                loose.append(f"{path} {oct(mode)}")
    assert stat.S_IMODE(root.stat().st_mode) == 0o700
    assert not loose, loose[:5]


def test_the_initial_password_never_reaches_a_command_line(tmp_path: Path) -> None:
    from mmkg.platform.neo4j_server import process

    seen = tmp_path / "seen"
    fake_java = _write(
        tmp_path / "java",
        f'#!/bin/sh\necho "$@" > {seen}.args\ncat > {seen}.stdin\n',
    )
    fake_java.chmod(0o755)
    layout = process.ServerLayout(tmp_path / "home")
    layout.make()
    process._set_initial_password(fake_java, tmp_path / "lib", layout, "s3cret-pw")
    assert "s3cret-pw" not in (tmp_path / "seen.args").read_text()
    assert (tmp_path / "seen.stdin").read_text().strip() == "s3cret-pw"


def test_a_lost_server_fails_an_ingest_fast_and_a_lost_password_can_be_reset(
    tmp_path: Path,
) -> None:
    settings = server_settings(tmp_path / "home", neo4j_retry_seconds=5)
    start_server(settings)
    try:
        with Graph.connect(settings) as graph:
            graph.write("CREATE (:Entity {id: 'keep-me'})")
        rng = np.random.default_rng(1)
        rows = rng.integers(0, 200_000, (600_000, 3)) % [200_000, 40, 200_000]
        big = _write(tmp_path / "big.tsv", "".join(f"n{h}\tr{r}\tn{t}\n" for h, r, t in rows))
        mmkg = Path(sys.executable).with_name("mmkg")
        proc = subprocess.Popen([str(mmkg), "-q", "ingest", "triples", str(big)],
                                env=env_for(settings), stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True)  # fmt: skip
        time.sleep(8)  # well into the load
        pid = int(layout_for(settings).pid_file.read_text())
        os.kill(pid, signal.SIGKILL)
        lost = time.monotonic()
        out, err = proc.communicate(timeout=240)
        gave_up = time.monotonic() - lost
        assert proc.returncode == 1, (out, err)
        assert "lost Neo4j" in err and "run the same command again" in err
        assert gave_up < 60, f"the client took {gave_up:.0f} s to give up"

        # The credentials file is lost: the advice names the fix, and the fix works.
        start_server(settings)
        settings.credentials_file.unlink()
        fresh = settings.model_copy(update={"neo4j_password": None})
        with pytest.raises(Exception, match=r"reset-password"):
            Graph.connect(fresh).close()
        creds = reset_password(fresh)
        assert settings.credentials_file.is_file()
        with Graph.connect(fresh) as graph:
            kept = graph.read("MATCH (e:Entity {id: 'keep-me'}) RETURN count(e) AS n")
            assert kept == [{"n": 1}]
        assert creds.password
    finally:
        stop_server(settings)


# --- 6. media paths as users give them ------------------------------------------------------


def test_media_paths_named_on_the_command_line_are_taken_wherever_they_are(
    graph: Graph, neo4j_settings: Settings, tmp_path: Path
) -> None:
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    _write(elsewhere / "note.txt", "A note about rivers and their bridges.\n")
    empty = _write(elsewhere / "empty.txt", b"")
    cwd = tmp_path / "cwd"
    cwd.mkdir()
    mmkg = Path(sys.executable).with_name("mmkg")
    env = {k: v for k, v in env_for(neo4j_settings).items() if k != "MMKG_MEDIA_ROOT"}
    # Named through a detour: the failure is keyed by the resolved path all the same.
    detour = f"{elsewhere}/../elsewhere"
    run = subprocess.run([str(mmkg), "-q", "ingest", "media", detour, "--json"], cwd=cwd, env=env,
                         capture_output=True, text=True, timeout=600)  # fmt: skip
    assert run.returncode == 0, run.stderr
    summary = json.loads(run.stdout)
    assert summary["created"] == 1 and summary["failed"] == 1
    failures = graph.read("MATCH (f:MediaFailure) RETURN f.path AS path, f.reason AS reason")
    assert failures == [{"path": str(empty), "reason": "zero-byte file"}]
    # The file is fixed: the next ingest clears its failure.
    _write(empty, "Now it has words about bridges.\n")
    again = subprocess.run([str(mmkg), "-q", "ingest", "media", str(empty), "--json"], cwd=cwd,
                           env=env, capture_output=True, text=True, timeout=600)  # fmt: skip
    assert again.returncode == 0, again.stderr
    assert graph.read("MATCH (f:MediaFailure) RETURN count(f) AS n") == [{"n": 0}]
    # A manifest's files must lie under the root (here: the current folder), and a command
    # whose every file failed is an error.
    manifest = _write(cwd / "m.csv", f"path,entities\n{elsewhere / 'note.txt'},x\n")
    command = [str(mmkg), "-q", "ingest", "media", "--manifest", str(manifest)]
    refused = subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True, timeout=600)
    assert refused.returncode == 1
    assert "outside the allowed root" in refused.stdout and "1 of 1 media failed" in refused.stderr
