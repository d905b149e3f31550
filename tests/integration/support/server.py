"""Run `scoremate serve` (and `scoremate worker`) as real processes for HTTP tests."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx

from entrypoints.settings import Settings

REPO_ROOT = Path(__file__).resolve().parents[3]
# The corpus of real and hostile PDFs with its manifest; another set can be tested in its place.
CORPUS = Path(os.environ.get("SCOREMATE_TEST_CORPUS") or REPO_ROOT.parent / "shared" / "corpus")
TEST_SECRET = "integration-test-secret-please-change"


def signing_key(purpose: str) -> str:
    """The key the servers of these tests sign with for one purpose ("tokens", "storage-urls")."""
    return Settings(jwt_secret=TEST_SECRET).secret(purpose)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@dataclass
class RunningProcess:
    process: subprocess.Popen[bytes]
    log_path: Path

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")[-6000:]


@dataclass
class Server:
    base_url: str
    data_dir: Path
    env: dict[str, str]
    process: RunningProcess


def scoremate_env(data_dir: Path, **settings: object) -> dict[str, str]:
    env = {key: value for key, value in os.environ.items() if not key.startswith("SCOREMATE_")}
    env.update(
        {
            "SCOREMATE_DATA_DIR": str(data_dir),
            "SCOREMATE_JWT_SECRET": TEST_SECRET,
            # Every test registers its own users from 127.0.0.1; the limit has tests of its own.
            "SCOREMATE_REGISTER_RATE_LIMIT": "100000/hour",
            "SCOREMATE_LOG_LEVEL": "INFO",
            "PYTHONUNBUFFERED": "1",
        }
    )
    env.update({f"SCOREMATE_{name.upper()}": str(value) for name, value in settings.items()})
    return env


def start_process(
    args: list[str], env: dict[str, str], log_path: Path, preexec_fn: Callable[[], None] | None = None
) -> RunningProcess:
    log = log_path.open("wb")
    process = subprocess.Popen(
        [sys.executable, "-m", "entrypoints.cli", *args],
        env=env,
        preexec_fn=preexec_fn,
        stdout=log,
        stderr=subprocess.STDOUT,
        cwd=log_path.parent,
        start_new_session=True,
    )
    return RunningProcess(process, log_path)


def render_processes(running: RunningProcess) -> list[int]:
    """Pids of the live PDF render processes that a scoremate process has started."""
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            parent = int(stat.read_text().rpartition(")")[2].split()[1])
            command = (stat.parent / "cmdline").read_bytes()
        except (OSError, ValueError):
            continue  # the process ended meanwhile
        if parent == running.process.pid and b"adapters.pdf.worker" in command:
            found.append(int(stat.parent.name))
    return found


def peak_rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    raise AssertionError(f"process {pid} reports no VmHWM")


def stop_process(running: RunningProcess, sig: int = signal.SIGTERM, timeout: float = 15) -> None:
    if running.process.poll() is not None:
        return
    os.killpg(running.process.pid, sig)
    try:
        running.process.wait(timeout)
    except subprocess.TimeoutExpired:
        os.killpg(running.process.pid, signal.SIGKILL)
        running.process.wait(5)


@contextmanager
def serve(
    data_dir: Path, preexec_fn: Callable[[], None] | None = None, workers: int = 1, **settings: object
) -> Iterator[Server]:
    """Start `scoremate serve` on a free port and wait until /health answers."""
    data_dir.mkdir(parents=True, exist_ok=True)
    port = free_port()
    env = scoremate_env(data_dir, port=port, **settings)
    args = ["serve", "--port", str(port), *(["--workers", str(workers)] if workers > 1 else [])]
    running = start_process(args, env, data_dir / f"serve-{port}.log", preexec_fn)
    base_url = f"http://127.0.0.1:{port}"
    try:
        wait_until_healthy(base_url, running)
        yield Server(base_url, data_dir, env, running)
    finally:
        stop_process(running)


def wait_until_healthy(base_url: str, running: RunningProcess, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if running.process.poll() is not None:
            raise RuntimeError(f"scoremate exited with {running.process.returncode}:\n{running.log()}")
        try:
            if httpx.get(f"{base_url}/health", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    raise RuntimeError(f"scoremate did not become healthy in {timeout} s:\n{running.log()}")
