"""The workbench as a background process of its own (``mmkg serve --detach``, ``mmkg demo``):
started once per MMKG_HOME, found again by its pid file, stopped with ``mmkg serve --stop``."""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import psutil

from mmkg.errors import ConfigError
from mmkg.settings import Settings

log = logging.getLogger(__name__)


@dataclass
class Workbench:
    url: str
    pid: int
    started_now: bool
    log: Path


def _pid_file(settings: Settings) -> Path:
    return settings.home / "web" / "web.pid"


def _answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url + "login", timeout=2) as response:
            return bool(response.status == 200)
    except (urllib.error.URLError, OSError):
        return False


def running(settings: Settings) -> tuple[int, str] | None:
    """(pid, url) of this home's detached workbench when it runs; clears a stale pid file."""
    path = _pid_file(settings)
    if not path.is_file():
        return None
    try:
        pid_text, url = path.read_text(encoding="utf-8").split()
        pid = int(pid_text)
        alive = psutil.Process(pid).is_running() and "serve" in psutil.Process(pid).cmdline()
    except (ValueError, psutil.Error):
        alive = False
    if not alive:
        path.unlink(missing_ok=True)
        return None
    return pid, url


def start(settings: Settings, host: str | None = None, port: int | None = None) -> Workbench:
    """Start the workbench in the background (a no-op when it runs) and wait until it answers."""
    found = running(settings)
    if found is not None:
        return Workbench(found[1], found[0], False, settings.home / "web" / "web.log")
    host, port = host or settings.web_host, port or settings.web_port
    url = f"http://{'127.0.0.1' if host in ('0.0.0.0', '') else host}:{port}/"
    if _answers(url):
        raise ConfigError(
            f"{url} already answers, but not for this MMKG_HOME; stop that server or set "
            "MMKG_WEB_PORT"
        )
    folder = settings.home / "web"
    folder.mkdir(parents=True, exist_ok=True)
    logfile = folder / "web.log"
    cmd = [sys.executable, "-m", "mmkg", "serve", "--host", host, "--port", str(port)]
    with open(logfile, "ab") as out:
        proc = subprocess.Popen(
            cmd, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
            start_new_session=True, env=dict(os.environ, MMKG_HOME=str(settings.home)),
        )  # fmt: skip
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            tail = logfile.read_text(encoding="utf-8", errors="replace").splitlines()[-15:]
            raise ConfigError("the workbench did not start:\n" + "\n".join(tail))
        if _answers(url):
            _pid_file(settings).write_text(f"{proc.pid} {url}\n", encoding="utf-8")
            return Workbench(url, proc.pid, True, logfile)
        time.sleep(0.3)
    proc.terminate()
    raise ConfigError(f"the workbench did not answer at {url} within 120 s (log: {logfile})")


def stop(settings: Settings) -> bool:
    found = running(settings)
    if found is None:
        return False
    os.kill(found[0], signal.SIGTERM)
    try:
        psutil.Process(found[0]).wait(20)
    except psutil.TimeoutExpired:
        os.kill(found[0], signal.SIGKILL)
    except psutil.NoSuchProcess:
        pass
    _pid_file(settings).unlink(missing_ok=True)
    return True
