"""What the HTTP benchmarks share: a private ScoreMate stack, a JSON client, and wrk runs and their figures.

A stack is a fresh PostgreSQL database (or the embedded SQLite default), a Redis key prefix, local storage or an
S3 server, `scoremate serve` and optionally a `scoremate worker`; everything it started or created is stopped and
removed on leaving it, also on errors and Ctrl-C. The processes run this checkout's `src`, whatever is installed.
"""

from __future__ import annotations

import asyncio
import http.client
import json
import os
import platform
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator, Mapping
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast
from uuid import uuid4

import asyncpg
import redis

REPO = Path(__file__).resolve().parents[1]
API = "/api/v1"
WRK_THREADS = 2
PASSWORD = "benchmark password"

# Production-like, except the abuse limits: raised so that wrk measures the server and not the limiter.
RAISED_LIMITS = {
    "SCOREMATE_UPLOAD_RATE_LIMIT": "100000000/minute",
    "SCOREMATE_MAX_PENDING_UPLOADS": "100000000",
    "SCOREMATE_DEFAULT_QUOTA_BYTES": "1000000000000000",
    "SCOREMATE_REGISTER_RATE_LIMIT": "100000/hour",
    "SCOREMATE_LOG_LEVEL": "WARNING",
}


@dataclass(frozen=True)
class Target:
    """One endpoint to load: its label in the table, the request, and the wrk Lua script for a request with a body."""

    label: str
    path: str
    method: str = "GET"
    body: object = None

    @property
    def json_body(self) -> bytes | None:
        return None if self.body is None else json.dumps(self.body).encode()

    def lua(self) -> str | None:
        if self.json_body is None:
            return None
        return (
            f'wrk.method = "{self.method}"\n'
            'wrk.headers["Content-Type"] = "application/json"\n'
            f"wrk.body = [==[{self.json_body.decode()}]==]\n"
        )


@dataclass(frozen=True)
class WrkResult:
    requests: int
    requests_per_second: float
    p50_ms: float
    p99_ms: float
    non_2xx: int
    socket_errors: int

    @property
    def clean(self) -> bool:
        return self.non_2xx == 0 and self.socket_errors == 0


@dataclass
class Stack:
    base_url: str
    directory: Path
    server: subprocess.Popen[bytes]
    server_log: Path
    env: dict[str, str]
    database_url: str
    redis_prefix: str | None = None
    worker_log: Path | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def api_pids(self) -> list[int]:
        """The processes that serve requests: uvicorn's worker processes, or the server itself when it has none."""
        children = [pid for pid in child_pids(self.server.pid) if b"spawn_main" in command_line(pid)]
        return children or [self.server.pid]


# --- the machine ----------------------------------------------------------------------------------


def require_wrk() -> str:
    path = shutil.which("wrk")
    if path is None:
        print(
            "this benchmark needs wrk, which is not installed.\n"
            "  Debian/Ubuntu: sudo apt-get update && sudo apt-get install -y wrk\n"
            "  macOS: brew install wrk",
            file=sys.stderr,
        )
        raise SystemExit(2)
    return path


def machine_line() -> str:
    model = "unknown CPU"
    memory = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.partition(":")[2].strip()
                break
        total_kb = int(Path("/proc/meminfo").read_text().split()[1])
        memory = f", {total_kb / 1024**2:.0f} GiB"
    except (OSError, ValueError, IndexError):
        pass
    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    python = f"{platform.python_implementation()} {platform.python_version()}"
    return f"machine: nproc {cpus}, {model}{memory}, {python}, {platform.system()} {platform.release()}"


def child_pids(pid: int) -> list[int]:
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            parent = int(stat.read_text().rpartition(")")[2].split()[1])
        except (OSError, ValueError, IndexError):
            continue
        if parent == pid:
            found.append(int(stat.parent.name))
    return sorted(found)


def command_line(pid: int) -> bytes:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").strip()
    except OSError:
        return b""


def rss_mb(pid: int) -> float | None:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        return None
    return None


# --- the stack: database, Redis namespace, processes ----------------------------------------------------


@contextmanager
def postgres_database(server: str) -> Iterator[str]:
    """A fresh database on `server` (postgresql://user@host:port), dropped afterwards; yields its name."""
    name = f"scoremate_bench_{uuid4().hex[:12]}"

    async def execute(statement: str) -> None:
        connection = await asyncpg.connect(f"{server}/postgres")
        try:
            await connection.execute(statement)
        finally:
            await connection.close()

    asyncio.run(execute(f'CREATE DATABASE "{name}"'))
    try:
        yield name
    finally:
        asyncio.run(execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@contextmanager
def redis_namespace(url: str) -> Iterator[str]:
    """A unique key prefix; afterwards deletes its keys, the broker's reclaim lock and the task results."""
    prefix = f"bench:{uuid4().hex}:"
    client = redis.Redis.from_url(url, socket_timeout=5)
    client.ping()
    try:
        yield prefix
    finally:
        try:
            # The result backend names its keys by task id, outside the prefix: find them in the task stream.
            stream = cast("list[tuple[bytes, dict[bytes, bytes]]]", client.xrange(f"{prefix}tasks"))
            task_ids = [_task_id(fields) for _, fields in stream]
            keys = [*client.scan_iter(match=f"{prefix}*", count=1000)]
            keys += [*client.scan_iter(match=f"autoclaim:{prefix}*", count=1000)]
            keys += [task_id for task_id in task_ids if task_id]
            for start in range(0, len(keys), 1000):
                client.delete(*keys[start : start + 1000])
        finally:
            client.close()


def _task_id(fields: Mapping[bytes, bytes]) -> str | None:
    try:
        task_id = json.loads(fields[b"data"])["task_id"]
    except (KeyError, ValueError, TypeError):
        return None
    return task_id if isinstance(task_id, str) else None


@contextmanager
def running(args: list[str], env: Mapping[str, str], log_path: Path) -> Iterator[subprocess.Popen[bytes]]:
    """`python -m entrypoints.cli <args>` in its own process group, which is stopped afterwards."""
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "entrypoints.cli", *args],
            env=dict(env),
            cwd=log_path.parent,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        yield process
    finally:
        stop(process)


def stop(process: subprocess.Popen[bytes], timeout: float = 15) -> None:
    if process.poll() is not None:
        return
    try:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(5)
    except ProcessLookupError:
        pass


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def scoremate_env(directory: Path, port: int, **settings: str) -> dict[str, str]:
    """The environment of the stack's processes: this checkout's code, the raised limits, and `settings`
    (SCOREMATE_<NAME> for each name)."""
    env = {key: value for key, value in os.environ.items() if not key.startswith("SCOREMATE_")}
    # The processes start in a temporary directory: a relative PYTHONPATH (src) would no longer find this code.
    env["PYTHONPATH"] = os.pathsep.join([str(REPO / "src"), *filter(None, env.get("PYTHONPATH", "").split(os.pathsep))])
    env.update(
        {
            "SCOREMATE_DATA_DIR": str(directory / "data"),
            "SCOREMATE_JWT_SECRET": uuid4().hex + uuid4().hex,
            "SCOREMATE_PORT": str(port),
            "PYTHONUNBUFFERED": "1",
            **RAISED_LIMITS,
        }
    )
    env.update({f"SCOREMATE_{name.upper()}": value for name, value in settings.items()})
    return env


@contextmanager
def stack(
    postgres: str | None,
    redis_url: str | None,
    *,
    api_processes: int = 2,
    worker: bool = True,
    label: str = "bench",
    **settings: str,
) -> Iterator[Stack]:
    """Database, Redis namespace, migrations, API processes and a task worker; all removed afterwards.

    Without `postgres` and `redis_url` it is the embedded default: SQLite in the data directory and one
    `scoremate serve` that runs the background tasks itself. `settings` are SCOREMATE_* settings (storage="s3", ...).
    """
    with ExitStack() as cleanup:
        directory = Path(cleanup.enter_context(tempfile.TemporaryDirectory(prefix=f"scoremate-{label}-")))
        port = free_port()
        env = scoremate_env(directory, port, **settings)
        prefix = None
        if postgres:
            database = cleanup.enter_context(postgres_database(postgres))
            database_url = f"{postgres.replace('postgresql://', 'postgresql+asyncpg://', 1)}/{database}"
            env["SCOREMATE_DATABASE_URL"] = database_url
        else:
            database_url = f"sqlite+aiosqlite:///{(directory / 'data' / 'scoremate.db').resolve()}"
        if redis_url:
            prefix = cleanup.enter_context(redis_namespace(redis_url))
            env.update({"SCOREMATE_REDIS_URL": redis_url, "SCOREMATE_REDIS_KEY_PREFIX": prefix})
        if postgres:
            migrate = subprocess.run(
                [sys.executable, "-m", "entrypoints.cli", "migrate"],
                env=env,
                cwd=directory,
                capture_output=True,
                text=True,
            )
            if migrate.returncode != 0:
                raise RuntimeError(f"migrate failed ({migrate.returncode}):\n{migrate.stdout}{migrate.stderr}")
        server_log = directory / "serve.log"
        serve_args = ["serve", "--port", str(port), "--workers", str(api_processes)]
        server = cleanup.enter_context(running(serve_args, env, server_log))
        worker_log = None
        if worker and redis_url:
            worker_log = directory / "worker.log"
            cleanup.enter_context(running(["worker"], env, worker_log))
        base_url = f"http://127.0.0.1:{port}"
        wait_healthy(base_url, server, server_log)
        yield Stack(base_url, directory, server, server_log, env, database_url, prefix, worker_log)


def wait_healthy(base_url: str, server: subprocess.Popen[bytes], log: Path, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise RuntimeError(f"scoremate serve exited with {server.returncode}:\n{tail(log)}")
        try:
            with urllib.request.urlopen(f"{base_url}/health", timeout=1) as response:
                if response.status == 200:
                    return
        except OSError:
            pass
        time.sleep(0.1)
    raise RuntimeError(f"scoremate serve did not answer GET /health within {timeout:.0f} s:\n{tail(log)}")


def tail(path: Path, lines: int = 40) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


# --- the API --------------------------------------------------------------------------------------


class Client:
    """A minimal JSON client on urllib: raises with the response body on any non-2xx status."""

    def __init__(self, base_url: str) -> None:
        self.base_url = base_url
        self.headers: dict[str, str] = {}

    def call(self, method: str, path: str, body: object = None) -> Any:
        data = None if body is None else json.dumps(body).encode()
        headers = {**self.headers, **({"Content-Type": "application/json"} if data is not None else {})}
        request = urllib.request.Request(self.base_url + path, data=data, headers=headers, method=method)
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                content = response.read()
        except urllib.error.HTTPError as error:
            raise RuntimeError(f"{method} {path}: {error.code} {error.read().decode(errors='replace')}") from error
        return json.loads(content) if content else None


def log_in(client: Client) -> str:
    """Register a new user, log in, and send its token from now on; returns the token."""
    credentials = {"email": f"bench-{uuid4().hex[:8]}@example.com", "password": PASSWORD}
    client.call("POST", f"{API}/auth/register", credentials)
    token: str = client.call("POST", f"{API}/auth/login", credentials)["access_token"]
    client.headers["Authorization"] = f"Bearer {token}"
    return token


def preflight(base_url: str, token: str, target: Target) -> None:
    """One request as wrk will send it, without following redirects: it must answer 2xx before the load.

    wrk counts only statuses >= 400 as errors; this check makes sure the endpoint is not a redirect either.
    """
    address = urllib.parse.urlsplit(base_url)
    connection = http.client.HTTPConnection(address.hostname or "127.0.0.1", address.port, timeout=30)
    headers = {"Authorization": f"Bearer {token}"}
    if target.json_body is not None:
        headers["Content-Type"] = "application/json"
    try:
        connection.request(target.method, target.path, body=target.json_body, headers=headers)
        response = connection.getresponse()
        content = response.read()
    finally:
        connection.close()
    if not 200 <= response.status < 300:
        raise RuntimeError(f"{target.label}: {response.status} {content.decode(errors='replace')[:500]}")


# --- wrk --------------------------------------------------------------------------------------------


_UNIT_MS = {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60_000.0, "h": 3_600_000.0}


def wrk_script(target: Target, path: Path) -> Path | None:
    lua = target.lua()
    if lua is None:
        return None
    path.write_text(lua)
    return path


def run_wrk(
    wrk: str, url: str, token: str, lua: Path | None, seconds: float, connections: int
) -> tuple[WrkResult, str]:
    # A 5 s timeout as the anchor's bench.sh has (wrk's own, 2 s, counts slow answers on a busy box as errors).
    argv = [wrk, f"-t{WRK_THREADS}", f"-c{connections}", f"-d{seconds:g}s", "--timeout", "5s", "--latency"]
    argv += ["-H", f"Authorization: Bearer {token}", *(["-s", str(lua)] if lua else []), url]
    done = subprocess.run(argv, capture_output=True, text=True)
    if done.returncode != 0:
        raise RuntimeError(f"wrk failed ({done.returncode}):\n{done.stdout}{done.stderr}")
    return parse_wrk(done.stdout), done.stdout


def parse_wrk(output: str) -> WrkResult:
    def number(pattern: str, default: str | None = None) -> str:
        match = re.search(pattern, output, re.MULTILINE)
        if match:
            return match.group(1)
        if default is None:
            raise ValueError(f"no {pattern!r} in wrk's output:\n{output}")
        return default

    def percentile(percent: int) -> float:
        match = re.search(rf"^\s*{percent}(?:\.0+)?%\s+([\d.]+)(us|ms|s|m|h)\s*$", output, re.MULTILINE)
        if not match:
            raise ValueError(f"no {percent}% latency in wrk's output:\n{output}")
        return float(match.group(1)) * _UNIT_MS[match.group(2)]

    errors = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", output)
    return WrkResult(
        requests=int(number(r"^\s*(\d+) requests in")),
        requests_per_second=float(number(r"^Requests/sec:\s+([\d.]+)")),
        p50_ms=percentile(50),
        p99_ms=percentile(99),
        non_2xx=int(number(r"Non-2xx or 3xx responses: (\d+)", "0")),
        socket_errors=sum(int(count) for count in errors.groups()) if errors else 0,
    )


# --- report -----------------------------------------------------------------------------------------


def markdown_table(header: tuple[str, ...], rows: list[tuple[str, ...]]) -> str:
    """First column left-aligned, the others right-aligned."""
    cells = [header, *rows]
    widths = [max(len(row[column]) for row in cells) for column in range(len(header))]

    def line(row: tuple[str, ...]) -> str:
        padded = [
            cell.ljust(w) if i == 0 else cell.rjust(w) for i, (cell, w) in enumerate(zip(row, widths, strict=True))
        ]
        return "| " + " | ".join(padded) + " |"

    rule = "|" + "|".join("-" * (w + 1) + (":" if i else "-") for i, w in enumerate(widths)) + "|"
    return "\n".join([line(cells[0]), rule, *(line(row) for row in cells[1:])])


def table(rows: list[tuple[str, WrkResult]]) -> str:
    header = ("endpoint", "requests/s", "p50 ms", "p99 ms", "non-2xx", "socket errors")
    return markdown_table(
        header,
        [
            (
                label,
                f"{r.requests_per_second:.0f}",
                f"{r.p50_ms:.2f}",
                f"{r.p99_ms:.2f}",
                str(r.non_2xx),
                str(r.socket_errors),
            )
            for label, r in rows
        ],
    )
