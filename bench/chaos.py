"""Chaos run: workers SIGKILLed every 10 s and Redis restarted once while musicians create scores.

    python bench/chaos.py [--scores 200] [--musicians 10] [--workers 3] [--kill-every 10] [--seed 1]

Starts the production stack as compose.yaml runs it, privately: a fresh PostgreSQL database (migrated with
`scoremate migrate`), a private `redis-server --appendonly yes` on a free port with its data in a temporary
directory, SeaweedFS (`weed mini`, from the dev extra), `scoremate serve --workers 2` and 3 `scoremate worker`
processes, every setting at its default. A supervisor starts a worker again a second after it exits (compose's
restart policy); a killer sends SIGKILL to a random worker's process group every 10 s and restarts Redis once, after
its third kill (SIGTERM and start on the same data, as `docker compose restart redis`). Meanwhile the musicians
create the scores from the shared corpus's valid files through the real upload flow (4 at a time, retrying 503 and
429 as a client would). Once every score is created the killer stops, and the run waits for every score to finish.

It prints the scores and their outcomes, the kills, the tasks taken over from dead workers, the time from the last
kill to the last score finished, and what the checks found: every score `ready` or `failed` as the manifest says
and none `pending` or `processing`, every cover downloadable, each musician's quota used equal to the sizes of
their scores, no object in storage that no score or live upload refers to, no task left unacknowledged. Exit status
1 if any check failed or the last score finished more than 90 s after the last kill.

Needs PostgreSQL at 127.0.0.1:5432 (user postgres, trust authentication), `redis-server` on the PATH (Debian:
apt-get install redis-server) and the dev extra (SeaweedFS). It runs this checkout's code (src/ next to this
script) and removes everything it created at the end.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "src"), str(ROOT)]
# The stack's processes run this checkout's code too, whatever is installed.
os.environ["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT / "src"), str(ROOT), os.environ.get("PYTHONPATH")]))

from tests.integration.support.chaos import ChaosSettings, run_chaos  # noqa: E402
from tests.integration.support.seaweed import running_seaweed  # noqa: E402

TARGET_SECONDS = 90.0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--scores", type=int, default=200)
    parser.add_argument("--musicians", type=int, default=10)
    parser.add_argument("--workers", type=int, default=3)
    parser.add_argument("--kill-every", type=float, default=10.0)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    settings = ChaosSettings(
        scores=args.scores,
        musicians=args.musicians,
        workers=args.workers,
        kill_every=args.kill_every,
        seed=args.seed,
    )
    with (
        tempfile.TemporaryDirectory(prefix="scoremate-chaos-") as directory,
        running_seaweed(Path(directory) / "seaweed") as s3,
    ):
        report = asyncio.run(run_chaos(Path(directory), s3, settings))
    print("\n".join(report.lines()))
    problems = report.problems()
    for problem in problems:
        print(f"PROBLEM {problem}")
    if report.recovery_seconds > TARGET_SECONDS:
        print(f"PROBLEM the last score finished more than {TARGET_SECONDS:.0f} s after the last kill")
    return 1 if problems or report.recovery_seconds > TARGET_SECONDS else 0


if __name__ == "__main__":
    raise SystemExit(main())
