"""HTTP throughput and latency of the API under production-like settings, measured with `wrk`.

    python bench/http_load.py [--duration 10] [--connections 32] [--scores 50]

Starts a private stack: a fresh PostgreSQL database (migrated with `python -m entrypoints.cli migrate`),
Redis under a unique key prefix, local storage in a temporary data dir, `scoremate serve --workers 2` and one
`scoremate worker` (it processes the seeded scores). The abuse limits (upload rate, pending uploads, quota) are
raised so that the figures are the server's, not the limiter's. Then it registers a user, creates the scores
through the real upload flow, waits until they are processed, and runs `wrk` (--latency, 2 threads) against:

- POST /api/v1/files/upload-url   (reserves quota: a database row and a Redis Lua script)
- GET  /api/v1/scores/{id}
- GET  /api/v1/scores             (default page of 20)
- GET  /health                    (trivial endpoint of the same app: the framework's ceiling)

and prints requests/s, p50 and p99 latency, non-2xx responses and socket errors per endpoint (wrk counts
statuses >= 400; one request per endpoint before the load checks that it answers 2xx, not a redirect).
Everything it created (processes, database, Redis keys, temporary dir) is removed at the end, also on errors and
Ctrl-C. wrk runs on the same machine as the server, so they share the CPUs.

Needs `wrk` (Debian: `apt-get install wrk`), PostgreSQL at 127.0.0.1:5432 (user postgres, trust
authentication) and Redis at 127.0.0.1:6379 (see --postgres and --redis). Exit status 1 if any response was
not 2xx or any socket error happened.
"""

from __future__ import annotations

import argparse
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
from dataclasses import dataclass
from pathlib import Path
from types import FrameType
from typing import Any, cast
from uuid import uuid4

import asyncpg
import redis

CORPUS_PDF = Path(__file__).resolve().parents[2] / "shared" / "corpus" / "engraved_ode_to_joy_a4_1p.pdf"
API = "/api/v1"
API_PROCESSES = 2
WRK_THREADS = 2
PASSWORD = "benchmark password"

# Production-like, except the abuse limits: raised so that wrk measures the server and not the limiter.
RAISED_LIMITS = {
    "SCOREMATE_UPLOAD_RATE_LIMIT": "100000000/minute",
    "SCOREMATE_MAX_PENDING_UPLOADS": "100000000",
    "SCOREMATE_DEFAULT_QUOTA_BYTES": "1000000000000000",
    "SCOREMATE_LOG_LEVEL": "WARNING",
}

UPLOAD_URL_BODY = {"filename": "bench.pdf", "content_type": "application/pdf", "size_bytes": 1000}


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


@dataclass(frozen=True)
class Stack:
    base_url: str
    database: str
    redis_prefix: str
    directory: Path
    server_log: Path
    worker_log: Path


# --- the machine ----------------------------------------------------------------------------------


def require_wrk() -> str:
    path = shutil.which("wrk")
    if path is None:
        print(
            "bench/http_load.py needs wrk, which is not installed.\n"
            "  Debian/Ubuntu: sudo apt-get update && sudo apt-get install -y wrk\n"
            "  macOS: brew install wrk",
            file=sys.stderr,
        )
        raise SystemExit(2)
    return path


def machine_line() -> str:
    model = "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.partition(":")[2].strip()
                break
    except OSError:
        pass
    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    python = f"{platform.python_implementation()} {platform.python_version()}"
    return f"machine: nproc {cpus}, {model}, {python}, {platform.system()} {platform.release()}"


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
        _stop(process)


def _stop(process: subprocess.Popen[bytes], timeout: float = 15) -> None:
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


def scoremate_env(directory: Path, database_url: str, redis_url: str, prefix: str, port: int) -> dict[str, str]:
    env = {key: value for key, value in os.environ.items() if not key.startswith("SCOREMATE_")}
    env.update(
        {
            "SCOREMATE_DATABASE_URL": database_url,
            "SCOREMATE_REDIS_URL": redis_url,
            "SCOREMATE_REDIS_KEY_PREFIX": prefix,
            "SCOREMATE_STORAGE": "local",
            "SCOREMATE_DATA_DIR": str(directory / "data"),
            "SCOREMATE_JWT_SECRET": uuid4().hex + uuid4().hex,
            "SCOREMATE_PORT": str(port),
            "PYTHONUNBUFFERED": "1",
            **RAISED_LIMITS,
        }
    )
    return env


@contextmanager
def stack(postgres: str, redis_url: str) -> Iterator[Stack]:
    """Database, Redis namespace, migrations, API processes and a task worker; all removed afterwards."""
    with ExitStack() as cleanup:
        directory = Path(cleanup.enter_context(tempfile.TemporaryDirectory(prefix="scoremate-bench-")))
        database = cleanup.enter_context(postgres_database(postgres))
        prefix = cleanup.enter_context(redis_namespace(redis_url))
        port = free_port()
        database_url = f"{postgres.replace('postgresql://', 'postgresql+asyncpg://', 1)}/{database}"
        env = scoremate_env(directory, database_url, redis_url, prefix, port)
        migrate = subprocess.run(
            [sys.executable, "-m", "entrypoints.cli", "migrate"], env=env, cwd=directory, capture_output=True, text=True
        )
        if migrate.returncode != 0:
            raise RuntimeError(f"migrate failed ({migrate.returncode}):\n{migrate.stdout}{migrate.stderr}")
        server_log, worker_log = directory / "serve.log", directory / "worker.log"
        serve_args = ["serve", "--port", str(port), "--workers", str(API_PROCESSES)]
        server = cleanup.enter_context(running(serve_args, env, server_log))
        cleanup.enter_context(running(["worker"], env, worker_log))
        base_url = f"http://127.0.0.1:{port}"
        wait_healthy(base_url, server, server_log)
        yield Stack(base_url, database, prefix, directory, server_log, worker_log)


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


# --- seeding through the real API -------------------------------------------------------------------


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
    credentials = {"email": f"bench-{uuid4().hex[:8]}@example.com", "password": PASSWORD}
    client.call("POST", f"{API}/auth/register", credentials)
    token: str = client.call("POST", f"{API}/auth/login", credentials)["access_token"]
    client.headers["Authorization"] = f"Bearer {token}"
    return token


def create_scores(client: Client, pdf: Path, count: int) -> list[str]:
    """Each score through the real flow: upload-url, PUT the bytes to the ticket's URL, POST /scores."""
    data = pdf.read_bytes()
    ids = []
    for number in range(1, count + 1):
        ticket = client.call(
            "POST",
            f"{API}/files/upload-url",
            {"filename": pdf.name, "content_type": "application/pdf", "size_bytes": len(data)},
        )
        put = urllib.request.Request(
            ticket["upload_url"], data=data, headers=ticket["headers"], method=ticket["method"]
        )
        with urllib.request.urlopen(put, timeout=30) as response:
            response.read()
        score = client.call("POST", f"{API}/scores", {"upload_id": ticket["upload_id"], "title": f"Ode {number:03d}"})
        ids.append(score["id"])
    return ids


def wait_processed(client: Client, count: int, timeout: float = 180) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if client.call("GET", f"{API}/scores?status=failed&limit=1")["total"]:
            raise RuntimeError("a seeded score failed processing")
        if client.call("GET", f"{API}/scores?status=ready&limit=1")["total"] >= count:
            return
        time.sleep(0.2)
    raise RuntimeError(f"the {count} seeded scores were not processed within {timeout:.0f} s")


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
    argv = [wrk, f"-t{WRK_THREADS}", f"-c{connections}", f"-d{seconds:g}s", "--latency"]
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


def table(rows: list[tuple[str, WrkResult]]) -> str:
    header = ("endpoint", "requests/s", "p50 ms", "p99 ms", "non-2xx", "socket errors")
    cells = [header] + [
        (
            label,
            f"{r.requests_per_second:.0f}",
            f"{r.p50_ms:.2f}",
            f"{r.p99_ms:.2f}",
            str(r.non_2xx),
            str(r.socket_errors),
        )
        for label, r in rows
    ]
    widths = [max(len(row[column]) for row in cells) for column in range(len(header))]

    def line(row: tuple[str, ...]) -> str:
        padded = [
            cell.ljust(w) if i == 0 else cell.rjust(w) for i, (cell, w) in enumerate(zip(row, widths, strict=True))
        ]
        return "| " + " | ".join(padded) + " |"

    rule = "|" + "|".join("-" * (w + 1) + (":" if i else "-") for i, w in enumerate(widths)) + "|"
    return "\n".join([line(cells[0]), rule, *(line(row) for row in cells[1:])])


def settings_line(args: argparse.Namespace, redis_url: str) -> str:
    limits = ", ".join(f"{key}={value}" for key, value in RAISED_LIMITS.items())
    return (
        f"settings: scoremate serve --workers {API_PROCESSES} + 1 scoremate worker, PostgreSQL ({args.postgres}), "
        f"Redis ({redis_url}), local storage, {limits}; "
        f"wrk -t{WRK_THREADS} -c{args.connections} -d{args.duration:g}s --latency after a {args.warmup:g} s "
        f"warm-up per endpoint; {args.scores} scores of {CORPUS_PDF.name}, one user"
    )


# --- main -------------------------------------------------------------------------------------------


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--duration", type=float, default=10, help="seconds of load per endpoint (default 10)")
    parser.add_argument("--connections", type=int, default=32, help="wrk connections (default 32)")
    parser.add_argument("--warmup", type=float, default=2, help="unmeasured seconds per endpoint first (default 2)")
    parser.add_argument("--scores", type=int, default=50, help="scores to create before the load (default 50)")
    parser.add_argument("--postgres", default="postgresql://postgres@127.0.0.1:5432", help="server, no database")
    parser.add_argument("--redis", default="redis://127.0.0.1:6379/0", help="Redis URL")
    args = parser.parse_args()
    wrk = require_wrk()
    if args.connections < WRK_THREADS:
        parser.error(f"--connections must be at least {WRK_THREADS} (one per wrk thread)")

    # A SIGTERM (like Ctrl-C) unwinds through the cleanup of everything started below.
    def terminate(signum: int, frame: FrameType | None) -> None:
        raise SystemExit(128 + signum)

    signal.signal(signal.SIGTERM, terminate)

    print(machine_line())
    print(settings_line(args, args.redis))
    with stack(args.postgres, args.redis) as running_stack:
        client = Client(running_stack.base_url)
        token = log_in(client)
        started = time.monotonic()
        score_ids = create_scores(client, CORPUS_PDF, args.scores)
        wait_processed(client, args.scores)
        print(f"seeded {args.scores} scores (created and processed) in {time.monotonic() - started:.1f} s")

        targets = [
            Target("POST /api/v1/files/upload-url", f"{API}/files/upload-url", "POST", UPLOAD_URL_BODY),
            Target("GET /api/v1/scores/{id}", f"{API}/scores/{score_ids[0]}"),
            Target("GET /api/v1/scores", f"{API}/scores"),
            Target("GET /health", "/health"),
        ]
        rows: list[tuple[str, WrkResult]] = []
        for number, target in enumerate(targets):
            url = running_stack.base_url + target.path
            preflight(running_stack.base_url, token, target)
            script = wrk_script(target, running_stack.directory / f"target-{number}.lua")
            if args.warmup > 0:
                run_wrk(wrk, url, token, script, args.warmup, args.connections)
            result, output = run_wrk(wrk, url, token, script, args.duration, args.connections)
            rows.append((target.label, result))
            print(f"{target.label}: {result.requests} requests, {result.requests_per_second:.0f}/s", flush=True)
            if not result.clean:
                print(output)
        print()
        print(table(rows))
        clean = all(result.clean for _, result in rows)
        if not clean:
            print(f"\nsome requests failed; the server log ends with:\n{tail(running_stack.server_log)}")
        return 0 if clean else 1


if __name__ == "__main__":
    try:
        raise SystemExit(main())
    except KeyboardInterrupt:
        print("\ninterrupted; everything the benchmark started was stopped and removed", file=sys.stderr)
        raise SystemExit(130) from None
