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
import signal
import sys
import time
import urllib.request
from pathlib import Path
from types import FrameType

from private_stack import (
    API,
    RAISED_LIMITS,
    WRK_THREADS,
    Client,
    Target,
    WrkResult,
    log_in,
    machine_line,
    preflight,
    require_wrk,
    run_wrk,
    stack,
    table,
    tail,
    wrk_script,
)

CORPUS_PDF = Path(__file__).resolve().parents[2] / "shared" / "corpus" / "engraved_ode_to_joy_a4_1p.pdf"
API_PROCESSES = 2

UPLOAD_URL_BODY = {"filename": "bench.pdf", "content_type": "application/pdf", "size_bytes": 1000}


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
