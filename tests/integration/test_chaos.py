"""A shortened chaos run (tests/integration/support/chaos.py; `python bench/chaos.py` runs 200 scores): workers
SIGKILLed every 10 s and Redis restarted once while musicians create scores, and nothing is lost or left behind."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.integration.support.chaos import ChaosSettings, run_chaos
from tests.integration.support.seaweed import S3ServerInfo


@pytest.mark.slow
async def test_killed_workers_and_a_redis_restart_lose_no_score_and_leak_nothing(
    tmp_path: Path, s3_server: S3ServerInfo
) -> None:
    settings = ChaosSettings(scores=36, musicians=4, min_kills=4, restart_redis_at_kill=2, finish_within=300)
    report = await run_chaos(tmp_path, s3_server, settings)
    print("\n".join(report.lines()))
    assert report.problems() == []
    assert report.kills >= 4 and report.redis_restarts == 1
    assert report.recovery_seconds <= 90, report.lines()
