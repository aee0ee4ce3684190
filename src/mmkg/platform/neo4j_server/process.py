"""Starting, stopping and inspecting the managed Neo4j server process."""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import psutil

from mmkg.errors import ConfigError, Neo4jServerError, Neo4jUnavailableError, RetryableError
from mmkg.platform.neo4j_server.config import ServerLayout, jvm_command, render_conf
from mmkg.platform.neo4j_server.credentials import (
    Credentials,
    generate_password,
    read_credentials,
    write_credentials,
)
from mmkg.platform.neo4j_server.install import ensure_browser, ensure_neo4j_lib
from mmkg.platform.neo4j_server.java import find_java
from mmkg.platform.neo4j_server.plugin import ensure_plugin, install_plugin, installed_is_current
from mmkg.settings import Settings

log = logging.getLogger(__name__)


@dataclass
class ServerStatus:
    """What ``mmkg neo4j status`` reports."""

    running: bool
    uri: str
    pid: int | None
    version: str | None
    home: str
    credentials_file: str | None
    auth: bool
    message: str = ""
    browser_url: str | None = None  # Neo4j Browser, when the running server serves it

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def layout_for(settings: Settings) -> ServerLayout:
    return ServerLayout(settings.neo4j_dir)


def _read_pid(layout: ServerLayout) -> int | None:
    try:
        return int(layout.pid_file.read_text().strip())
    except (OSError, ValueError):
        return None


def _is_our_server(pid: int, layout: ServerLayout) -> bool:
    """True when ``pid`` is alive and is the server of this home (pids get reused)."""
    try:
        proc = psutil.Process(pid)
        if proc.status() == psutil.STATUS_ZOMBIE:
            return False
        cmdline = proc.cmdline()
    except (psutil.NoSuchProcess, psutil.AccessDenied):
        return False
    return f"--home-dir={layout.root}" in cmdline


def running_pid(settings: Settings) -> int | None:
    """The pid of this home's server when it runs; clears a stale pid file."""
    layout = layout_for(settings)
    pid = _read_pid(layout)
    if pid is None:
        return None
    if _is_our_server(pid, layout):
        return pid
    layout.pid_file.unlink(missing_ok=True)
    return None


def _log_tail(layout: ServerLayout, lines: int = 30) -> str:
    parts = []
    for path in (layout.console_log, layout.logs_dir / "debug.log"):
        if path.is_file():
            text = path.read_text(encoding="utf-8", errors="replace").splitlines()
            # Java stack frames bury the message; keep what says what went wrong.
            text = [ln for ln in text if not ln.lstrip().startswith(("at ", "..."))]
            if path.name == "debug.log":
                text = [ln for ln in text if " ERROR " in ln or "Exception" in ln]
            if text:
                parts.append(f"--- {path} (last lines) ---\n" + "\n".join(text[-lines:]))
    return "\n".join(parts) or "(Neo4j wrote no log)"


def _set_initial_password(java: Path, lib: Path, layout: ServerLayout, password: str) -> None:
    """Set the password before the first start, so the server never runs with a default one."""
    env = dict(os.environ, NEO4J_HOME=str(layout.root), NEO4J_CONF=str(layout.conf_dir))
    # The password goes through standard input (mmkg's launcher in the plugin jar), never the
    # command line, which every user of the machine can read.
    result = subprocess.run(
        [
            str(java),
            "-cp",
            # The plugin's jar declares the mmkg settings and holds the launcher.
            f"{lib}/*:{layout.plugins_dir}/*",
            "io.mmkg.neo4j.SetInitialPassword",
        ],
        env=env,
        input=password + "\n",
        capture_output=True,
        text=True,
        check=False,
        umask=0o077,
    )
    if result.returncode != 0:
        lines = (result.stdout + result.stderr).splitlines()
        message = "\n".join(ln for ln in lines if not ln.lstrip().startswith("at "))[:2000]
        raise Neo4jServerError(f"could not set the initial Neo4j password:\n{message}")


def _ensure_credentials(
    settings: Settings, java: Path, lib: Path, layout: ServerLayout
) -> Credentials | None:
    if not settings.neo4j_auth:
        return None
    try:
        existing = read_credentials(settings.credentials_file)
    except ConfigError:
        existing = None  # unreadable: the advice below covers it
    if layout.auth_file.exists() or _has_system_database(layout):
        if existing is None and settings.neo4j_password is None:
            raise Neo4jServerError(
                f"the server in {layout.root} already has a password, but "
                f"{settings.credentials_file} is missing or unreadable; set MMKG_NEO4J_PASSWORD "
                "if you know it, or reset it with `mmkg neo4j reset-password` (the data stays)"
            )
        return existing
    password = (
        settings.neo4j_password.get_secret_value()
        if settings.neo4j_password is not None
        else generate_password()
    )
    creds = Credentials(user="neo4j", password=password)
    _set_initial_password(java, lib, layout, password)
    write_credentials(settings.credentials_file, creds)
    return creds


def _has_system_database(layout: ServerLayout) -> bool:
    return (layout.data_dir / "databases" / "system").is_dir()


def make_private(root: Path) -> None:
    """The managed server's home readable by its owner only: folders 0700, files 0600.

    The store, transaction logs and auth files hold the user's data and credentials; the server
    also runs with umask 077, so what it writes later is private too.
    """
    root.mkdir(parents=True, exist_ok=True)
    os.chmod(root, 0o700)
    for dirpath, dirnames, filenames in os.walk(root):
        for name in dirnames:
            path = Path(dirpath) / name
            if not path.is_symlink():
                os.chmod(path, 0o700)
        for name in filenames:
            path = Path(dirpath) / name
            if not path.is_symlink():
                os.chmod(path, 0o600)


def _wait_for_bolt(settings: Settings, proc: subprocess.Popen[bytes], layout: ServerLayout) -> None:
    from mmkg.platform.store import ping

    deadline = time.monotonic() + settings.neo4j_start_timeout
    last_error: Exception | None = None
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise Neo4jServerError(
                f"Neo4j exited with code {proc.returncode} while starting.\n{_log_tail(layout)}"
            )
        try:
            ping(settings)
            return
        except RetryableError as e:  # not listening yet, or the database still starting
            last_error = e
            time.sleep(0.5)
    raise Neo4jServerError(
        f"Neo4j did not answer on {settings.uri} within {settings.neo4j_start_timeout:.0f} s "
        f"({last_error}); it keeps running as pid {proc.pid}.\n{_log_tail(layout)}"
    )


def _port_in_use(port: int) -> bool:
    import socket

    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.settimeout(0.5)
        return sock.connect_ex(("127.0.0.1", port)) == 0


def start_server(settings: Settings) -> ServerStatus:
    """Start the managed server and wait until Bolt answers; a no-op when it already runs.

    Raises:
        Neo4jServerError: when Java or Maven is missing, the port is taken, or Neo4j fails.
    """
    if not settings.uses_managed_server:
        raise Neo4jServerError(
            f"MMKG_NEO4J_URI is set ({settings.neo4j_uri}): mmkg manages only its own local "
            "server; unset it to use the managed one"
        )
    layout = layout_for(settings)
    plugin = ensure_plugin(settings.resolved_cache_dir, settings.neo4j_version)
    if running_pid(settings) is not None:
        log.info("Neo4j already runs")
        if not installed_is_current(plugin, layout.plugins_dir):
            install_plugin(plugin, layout.plugins_dir)
            log.warning(
                "mmkg's Neo4j plugin changed: restart the server (mmkg neo4j stop; "
                "mmkg neo4j start) to load the new procedures"
            )
        _apply_schema(settings)
        status = server_status(settings)
        if settings.neo4j_browser and status.browser_url is None:
            log.warning(
                "Neo4j runs without its HTTP connector, so without Neo4j Browser: restart it "
                "(mmkg neo4j stop; mmkg neo4j start --browser) to serve the Browser"
            )
        return status
    if _port_in_use(settings.neo4j_bolt_port):
        raise Neo4jServerError(
            f"port {settings.neo4j_bolt_port} on 127.0.0.1 is taken by another program; "
            "stop it or set MMKG_NEO4J_BOLT_PORT"
        )
    browser = None
    if settings.neo4j_browser:
        if _port_in_use(settings.neo4j_http_port):
            raise Neo4jServerError(
                f"port {settings.neo4j_http_port} on 127.0.0.1 (Neo4j Browser) is taken by "
                "another program; stop it or set MMKG_NEO4J_HTTP_PORT"
            )
        browser = ensure_browser(settings.resolved_cache_dir)
    java = find_java(settings.java_home)
    lib = ensure_neo4j_lib(settings.resolved_cache_dir, settings.neo4j_version)
    layout.make()
    make_private(layout.root)
    install_plugin(plugin, layout.plugins_dir)
    layout.conf_file.write_text(render_conf(settings, layout), encoding="utf-8")
    _ensure_credentials(settings, java, lib, layout)

    cmd = jvm_command(java, lib, settings, layout, browser)
    log.info("starting Neo4j %s in %s", settings.neo4j_version, layout.root)
    with open(layout.console_log, "ab") as console:
        # A session of its own, so the server outlives this command and its terminal.
        proc = subprocess.Popen(
            cmd,
            stdout=console,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            cwd=layout.root,
            start_new_session=True,
            umask=0o077,
        )
    layout.pid_file.write_text(f"{proc.pid}\n")
    make_private(layout.root)  # what mmkg itself wrote: conf, plugin, console log, pid file
    try:
        _wait_for_bolt(settings, proc, layout)
    except Neo4jServerError:
        if proc.poll() is not None:
            layout.pid_file.unlink(missing_ok=True)
        raise
    _apply_schema(settings)
    return server_status(settings)


def _apply_schema(settings: Settings) -> None:
    """The managed server always runs with mmkg's schema: applied as soon as Bolt answers,
    before any load can write (without its constraints concurrent loads duplicate entities)."""
    from mmkg.platform.schema import apply_schema
    from mmkg.platform.store import Graph

    with Graph.connect(settings) as graph:
        report = apply_schema(graph)
    if report.applied_now:
        log.info("applied schema migrations %s", report.applied_now)


def stop_server(settings: Settings, timeout: float = 90.0) -> bool:
    """Stop the managed server gracefully (SIGTERM), killing it only after ``timeout`` s.

    Returns:
        True when a server was running.
    """
    layout = layout_for(settings)
    pid = running_pid(settings)
    if pid is None:
        return False
    proc = psutil.Process(pid)
    os.kill(pid, signal.SIGTERM)
    try:
        proc.wait(timeout=timeout)
    except psutil.TimeoutExpired:
        log.warning("Neo4j did not stop within %.0f s; killing pid %d", timeout, pid)
        proc.kill()
        proc.wait(timeout=30)
    layout.pid_file.unlink(missing_ok=True)
    return True


def server_status(settings: Settings) -> ServerStatus:
    """Whether the managed server runs, where, and which version answers."""
    from mmkg.platform.store import server_version

    layout = layout_for(settings)
    pid = running_pid(settings) if settings.uses_managed_server else None
    version = None
    message = ""
    if pid is not None or not settings.uses_managed_server:
        try:
            version = server_version(settings)
        except Neo4jUnavailableError as e:
            message = str(e)
    creds: Path | None = settings.credentials_file
    if creds is not None and not creds.exists():
        creds = None
    return ServerStatus(
        running=version is not None,
        uri=settings.uri,
        pid=pid,
        version=version,
        home=str(layout.root),
        credentials_file=str(creds) if creds else None,
        auth=settings.neo4j_auth,
        message=message,
        browser_url=_browser_url(layout) if version is not None else None,
    )


def _browser_url(layout: ServerLayout) -> str | None:
    """Where the running server serves Neo4j Browser, read from the conf it started with."""
    if not layout.conf_file.is_file():
        return None
    conf = dict(
        line.split("=", 1)
        for line in layout.conf_file.read_text(encoding="utf-8").splitlines()
        if "=" in line and not line.startswith("#")
    )
    if conf.get("server.http.enabled", "").strip() != "true":
        return None
    address = conf.get("server.http.listen_address", "127.0.0.1:7474").strip()
    return f"http://{address}/browser/"


def reset_password(settings: Settings, password: str | None = None) -> Credentials:
    """Give the managed server's ``neo4j`` user a new password, keeping every database.

    For a lost or corrupt credentials file: the server is stopped, started once with
    authentication off (it listens on 127.0.0.1 only), the password is changed in its system
    database, and it is started again (if it was running) with authentication on. The new
    password goes to the 0600 credentials file.

    Raises:
        Neo4jServerError: when the server has never been started here, or a step fails.
    """
    from mmkg.graph_schema import queries as Q
    from mmkg.platform.store import Graph

    layout = layout_for(settings)
    if not _has_system_database(layout):
        raise Neo4jServerError(
            f"no managed server in {layout.root} yet; `mmkg neo4j start` sets its password"
        )
    was_running = stop_server(settings)
    settings.credentials_file.unlink(missing_ok=True)  # lost or corrupt: replaced below
    open_settings = settings.model_copy(update={"neo4j_auth": False, "neo4j_password": None})
    start_server(open_settings)
    new = password or generate_password()
    try:
        admin = Graph.connect(
            open_settings.model_copy(update={"neo4j_database": "system"}), verify=False
        )
        with admin:
            admin.run_autocommit(Q.RESET_PASSWORD, {"user": "neo4j", "password": new})
    finally:
        stop_server(open_settings)
    creds = Credentials(user="neo4j", password=new)
    write_credentials(settings.credentials_file, creds)
    if was_running:
        start_server(settings.model_copy(update={"neo4j_password": None}))
    return creds
