"""The managed server's ``neo4j.conf`` and JVM options, sized for the machine."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import psutil

from mmkg.settings import Settings, parse_memory

_MIB = 1024**2
_GIB = 1024**3

# Neo4j 5 reaches into these JDK internals; without java.nio, vector-index population is
# reported to stall.
JVM_FLAGS = (
    "--add-opens=java.base/java.nio=ALL-UNNAMED",
    "--add-opens=java.base/java.io=ALL-UNNAMED",
    "--add-opens=java.base/sun.nio.ch=ALL-UNNAMED",
    "--add-opens=java.base/java.lang=ALL-UNNAMED",
    "--enable-native-access=ALL-UNNAMED",
    "-XX:+UseG1GC",
    "-XX:-OmitStackTraceInFastThrow",
    "-XX:+ExitOnOutOfMemoryError",
    "-XX:+DisableExplicitGC",
    "-Djdk.nio.maxCachedBufferSize=1024",
    "-Dio.netty.tryReflectionSetAccessible=true",
    "-Dfile.encoding=UTF-8",
)


@dataclass(frozen=True)
class ServerLayout:
    """Where the managed server keeps its files."""

    root: Path

    @property
    def conf_dir(self) -> Path:
        return self.root / "conf"

    @property
    def conf_file(self) -> Path:
        return self.conf_dir / "neo4j.conf"

    @property
    def data_dir(self) -> Path:
        return self.root / "data"

    @property
    def logs_dir(self) -> Path:
        return self.root / "logs"

    @property
    def plugins_dir(self) -> Path:
        return self.root / "plugins"

    @property
    def run_dir(self) -> Path:
        return self.root / "run"

    @property
    def pid_file(self) -> Path:
        return self.run_dir / "neo4j.pid"

    @property
    def console_log(self) -> Path:
        return self.logs_dir / "console.log"

    @property
    def auth_file(self) -> Path:
        return self.data_dir / "dbms" / "auth.ini"

    def make(self) -> None:
        for folder in (self.conf_dir, self.data_dir, self.logs_dir, self.plugins_dir, self.run_dir):
            folder.mkdir(parents=True, exist_ok=True)


def _mib(n: int) -> str:
    return f"{max(n // _MIB, 1)}m"


def memory_plan(settings: Settings) -> tuple[str, str]:
    """Heap and page cache sizes: the settings when given, else an eighth of RAM each.

    An eighth each leaves most of the machine to the Python side (training, encoders), which
    is where mmkg spends its memory; the bounds keep small laptops and big servers sensible.
    """
    total = psutil.virtual_memory().total
    heap = settings.neo4j_heap or _mib(min(max(total // 8, 512 * _MIB), 8 * _GIB))
    pagecache = settings.neo4j_pagecache or _mib(min(max(total // 8, 256 * _MIB), 16 * _GIB))
    return heap, pagecache


def render_conf(settings: Settings, layout: ServerLayout) -> str:
    """The text of ``neo4j.conf`` for the managed server."""
    heap, pagecache = memory_plan(settings)
    lines = {
        # Loopback only: the managed server is a local development database.
        "server.default_listen_address": "127.0.0.1",
        "server.default_advertised_address": "127.0.0.1",
        "server.bolt.enabled": "true",
        "server.bolt.listen_address": f"127.0.0.1:{settings.neo4j_bolt_port}",
        # What the HTTP discovery document tells Neo4j Browser to connect to.
        "server.bolt.advertised_address": f"127.0.0.1:{settings.neo4j_bolt_port}",
        # HTTP only to serve Neo4j Browser, and only when asked for (loopback, auth on).
        "server.http.enabled": "true" if settings.neo4j_browser else "false",
        "server.http.listen_address": f"127.0.0.1:{settings.neo4j_http_port}",
        "server.http.advertised_address": f"127.0.0.1:{settings.neo4j_http_port}",
        "server.https.enabled": "false",
        # Neo4j Browser, when served, sends no usage data.
        "client.allow_telemetry": "false",
        "dbms.security.auth_enabled": "true" if settings.neo4j_auth else "false",
        "dbms.usage_report.enabled": "false",
        "server.memory.heap.initial_size": heap,
        "server.memory.heap.max_size": heap,
        "server.memory.pagecache.size": pagecache,
        "server.directories.data": str(layout.data_dir),
        "server.directories.logs": str(layout.logs_dir),
        "server.directories.plugins": str(layout.plugins_dir),
        "server.directories.run": str(layout.run_dir),
        "server.directories.import": str(layout.root / "import"),
        "db.tx_log.rotation.retention_policy": "1G size",
        # LOAD CSV may not fetch from any network address (Cypher's IP block list), and
        # file:/// URLs resolve inside the import folder only.
        "internal.dbms.cypher_ip_blocklist": "0.0.0.0/0,::/0",
        "dbms.security.allow_csv_import_from_file_urls": "true",
        # mmkg's plugin: the share of the heap its cache of run matrices may take, its threads.
        "dbms.mmkg.cache.max_heap_fraction": f"{settings.neo4j_cache_heap_fraction:g}",
        "dbms.mmkg.concurrency": str(
            settings.neo4j_plugin_concurrency or max(1, os.cpu_count() or 1)
        ),
    }
    extra = layout.root / "neo4j.extra.conf"
    extra_text = extra.read_text(encoding="utf-8") if extra.is_file() else ""
    # Neo4j refuses a key given twice, so the user's extra settings replace ours.
    for raw in extra_text.splitlines():
        key = raw.split("=", 1)[0].strip()
        if key and not key.startswith("#"):
            lines.pop(key, None)
    text = "# Written by `mmkg neo4j start`; edits are overwritten. Put extra settings in\n"
    text += f"# {extra}: they are appended here and take precedence.\n"
    text += "".join(f"{k}={v}\n" for k, v in lines.items())
    if extra_text:
        text += f"# from {extra}\n" + extra_text.rstrip("\n") + "\n"
    return text


def jvm_command(
    java: Path, lib: Path, settings: Settings, layout: ServerLayout, browser: Path | None = None
) -> list[str]:
    """The command line that runs the server in console mode; ``browser`` is the folder of
    Neo4j Browser's jar, put on the class path, where the HTTP connector finds its pages."""
    heap, _ = memory_plan(settings)
    classpath = f"{lib}/*:{layout.plugins_dir}/*" + (f":{browser}/*" if browser else "")
    heap_bytes = parse_memory(heap)
    return [
        str(java),
        f"-Xms{_mib(heap_bytes)}",
        f"-Xmx{_mib(heap_bytes)}",
        *JVM_FLAGS,
        "-cp",
        classpath,
        "org.neo4j.server.CommunityEntryPoint",
        f"--home-dir={layout.root}",
        f"--config-dir={layout.conf_dir}",
        "--console-mode",
    ]
