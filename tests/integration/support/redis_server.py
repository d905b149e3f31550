"""A private `redis-server` with persistence, for tests that restart Redis (the shared one must never be restarted).

It runs as compose.yaml runs Redis: `redis-server --appendonly yes` with the default snapshots, its data in its own
directory, so the task stream and its pending messages survive a restart.
"""

from __future__ import annotations

import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import redis

_START_TIMEOUT_SECONDS = 20.0


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@dataclass
class RedisServer:
    directory: Path
    port: int = field(default_factory=_free_port)
    process: subprocess.Popen[bytes] | None = None
    restarts: int = 0

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        binary = shutil.which("redis-server")
        if binary is None:
            raise RuntimeError("redis-server is not installed (Debian: apt-get install redis-server)")
        self.directory.mkdir(parents=True, exist_ok=True)
        command = [binary, "--port", str(self.port), "--bind", "127.0.0.1", "--dir", str(self.directory)]
        command += ["--appendonly", "yes", "--logfile", str(self.directory / "redis.log")]
        self.process = subprocess.Popen(command, stdin=subprocess.DEVNULL, start_new_session=True)
        self._wait_until_ready()

    def stop(self, sig: int = signal.SIGTERM) -> None:
        """SIGTERM is a clean stop (as `docker compose restart redis`): Redis writes its data before it exits."""
        if self.process is None or self.process.poll() is not None:
            return
        self.process.send_signal(sig)
        try:
            self.process.wait(30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(10)

    def restart(self, down_seconds: float = 0.0) -> None:
        self.stop()
        time.sleep(down_seconds)
        self.start()
        self.restarts += 1

    def _wait_until_ready(self) -> None:
        client = redis.Redis.from_url(self.url, socket_connect_timeout=1, socket_timeout=1)
        deadline = time.monotonic() + _START_TIMEOUT_SECONDS
        try:
            while time.monotonic() < deadline:
                assert self.process is not None
                if self.process.poll() is not None:
                    log = (self.directory / "redis.log").read_text(errors="replace")[-3000:]
                    raise RuntimeError(f"redis-server exited with {self.process.returncode}:\n{log}")
                try:
                    if client.ping():
                        return
                except redis.RedisError:  # refused, or still loading its data
                    pass
                time.sleep(0.05)
        finally:
            client.close()
        raise RuntimeError(f"redis-server did not answer within {_START_TIMEOUT_SECONDS:.0f} s")


@contextmanager
def private_redis(directory: Path) -> Iterator[RedisServer]:
    server = RedisServer(directory)
    server.start()
    try:
        yield server
    finally:
        server.stop()
