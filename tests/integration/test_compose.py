"""compose.yaml is valid for users and in step with the settings, checked without a Docker engine."""

from __future__ import annotations

import dataclasses
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from entrypoints.settings import PREFIX, Settings

ROOT = Path(__file__).resolve().parents[2]
COMPOSE = ROOT / "compose.yaml"


def _compose(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    executable = shutil.which("docker-compose")
    if executable is None:
        pytest.fail(
            "docker-compose (Debian package docker-compose) is needed to validate compose.yaml; `make test` installs it"
        )
    clean = {k: v for k, v in os.environ.items() if not k.startswith(PREFIX)}
    return subprocess.run(
        [executable, "-f", str(COMPOSE), *args], env={**clean, **env}, capture_output=True, text=True, timeout=60
    )


def test_compose_file_is_valid() -> None:
    result = _compose("config", "-q", SCOREMATE_JWT_SECRET="a-long-random-secret")
    assert result.returncode == 0, result.stderr


def test_compose_refuses_to_start_without_a_jwt_secret() -> None:
    result = _compose("config", "-q")
    assert result.returncode != 0
    assert "SCOREMATE_JWT_SECRET" in result.stderr


def test_compose_runs_the_whole_production_stack() -> None:
    result = _compose("config", "--services", SCOREMATE_JWT_SECRET="x")
    assert set(result.stdout.split()) == {
        "postgres",
        "redis",
        "minio",
        "minio-bucket",
        "migrate",
        "api",
        "worker",
    }
    text = COMPOSE.read_text()
    for command in (
        '"scoremate", "migrate"',
        '"scoremate", "serve"',
        '"scoremate", "worker"',
    ):
        assert command in text


def test_every_variable_in_compose_is_a_setting() -> None:
    names = set(re.findall(rf"\b{PREFIX}([A-Z0-9_]+)\s*:", COMPOSE.read_text()))
    fields = {field.name.upper() for field in dataclasses.fields(Settings)}
    assert names, "compose.yaml sets no SCOREMATE_ variables"
    assert names <= fields, f"compose.yaml sets unknown settings: {sorted(names - fields)}"
    assert {"DATABASE_URL", "REDIS_URL", "STORAGE", "S3_ENDPOINT", "S3_PUBLIC_ENDPOINT", "JWT_SECRET"} <= names
