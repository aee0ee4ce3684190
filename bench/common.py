"""What the benchmarks share: a free loopback port, the JVM's peak resident memory, and
`mmkg` run as a user runs it."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
from pathlib import Path
from typing import Any


def mmkg_json(*args: str) -> dict[str, Any]:
    """Run ``mmkg -q ARGS`` (the venv's command) and parse its JSON; exit with its stderr."""
    exe = Path(sys.executable).with_name("mmkg")
    done = subprocess.run([str(exe), "-q", *args], capture_output=True, text=True)
    if done.returncode != 0:
        raise SystemExit(f"mmkg {' '.join(args)} failed:\n{done.stderr}")
    result: dict[str, Any] = json.loads(done.stdout)
    return result


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def jvm_peak_rss(pid: int) -> int:
    """Peak resident set (VmHWM) of a process, in bytes; 0 when it cannot be read."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0
