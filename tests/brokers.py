"""Message brokers for the worker tests, started here as plain processes on free loopback
ports, with all their state in a temporary folder: Debian's redis-server and rabbitmq-server."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import time
from pathlib import Path

from tests.conftest import free_port

RABBITMQ = Path("/usr/lib/rabbitmq/bin/rabbitmq-server")


def _wait_port(port: int, proc: subprocess.Popen[bytes], what: str, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{what} exited with code {proc.returncode} while starting")
        with socket.socket() as sock:
            sock.settimeout(0.5)
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.2)
    raise RuntimeError(f"{what} did not listen on 127.0.0.1:{port} within {timeout:.0f} s")


def stop_process_group(proc: subprocess.Popen[bytes], grace: float = 30) -> None:
    """SIGTERM a process started with ``start_new_session`` and its children, SIGKILL after
    ``grace`` seconds."""
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(grace)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


class Broker:
    def __init__(
        self, url: str, proc: subprocess.Popen[bytes], epmd_port: int | None = None
    ) -> None:
        self.url = url
        self.proc = proc
        self.epmd_port = epmd_port

    def stop(self) -> None:
        stop_process_group(self.proc)
        if self.epmd_port is not None and shutil.which("epmd"):
            # epmd detaches from the node's process group; it stops on request.
            subprocess.run(
                ["epmd", "-kill"], env={**os.environ, "ERL_EPMD_PORT": str(self.epmd_port)},
                capture_output=True, check=False, timeout=10,
            )  # fmt: skip


def start_redis(folder: Path) -> Broker:
    port = free_port()
    proc = subprocess.Popen(
        ["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "",
         "--appendonly", "no", "--dir", str(folder)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
    )  # fmt: skip
    _wait_port(port, proc, "redis-server", 20)
    return Broker(f"redis://127.0.0.1:{port}/0", proc)


def rabbitmq_available() -> bool:
    return RABBITMQ.is_file() and shutil.which("erl") is not None


def start_rabbitmq(folder: Path, consumer_timeout_ms: int = 1_800_000) -> Broker:
    """RabbitMQ without systemd: loopback only, no plugins (no management port), its Erlang
    distribution and epmd on free loopback ports too."""
    amqp, dist, epmd = free_port(), free_port(), free_port()
    for sub in ("mnesia", "log", "home"):
        (folder / sub).mkdir(parents=True, exist_ok=True)
    (folder / "rabbitmq-env.conf").write_text("")
    (folder / "enabled_plugins").write_text("[].\n")
    (folder / "rabbitmq.conf").write_text(
        f"listeners.tcp.1 = 127.0.0.1:{amqp}\n"
        f"consumer_timeout = {consumer_timeout_ms}\n"
        "log.console = false\nlog.file.level = warning\n"
    )
    env = {
        **os.environ,
        "HOME": str(folder / "home"),
        "RABBITMQ_CONF_ENV_FILE": str(folder / "rabbitmq-env.conf"),
        "RABBITMQ_CONFIG_FILE": str(folder / "rabbitmq"),
        "RABBITMQ_ENABLED_PLUGINS_FILE": str(folder / "enabled_plugins"),
        "RABBITMQ_NODENAME": f"mmkgtest{amqp}@localhost",
        "RABBITMQ_NODE_IP_ADDRESS": "127.0.0.1",
        "RABBITMQ_NODE_PORT": str(amqp),
        "RABBITMQ_DIST_PORT": str(dist),
        "ERL_EPMD_PORT": str(epmd),
        "ERL_EPMD_ADDRESS": "127.0.0.1",
        "RABBITMQ_MNESIA_BASE": str(folder / "mnesia"),
        "RABBITMQ_LOG_BASE": str(folder / "log"),
        "RABBITMQ_PID_FILE": str(folder / "rabbit.pid"),
        "RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS": "-kernel inet_dist_use_interface {127,0,0,1}",
    }
    proc = subprocess.Popen(
        [str(RABBITMQ)], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        start_new_session=True,
    )  # fmt: skip
    broker = Broker(f"amqp://guest:guest@127.0.0.1:{amqp}//", proc, epmd)
    try:
        _wait_port(amqp, proc, "rabbitmq-server", 120)
    except RuntimeError:
        broker.stop()
        raise
    return broker
