"""compose.yaml is valid for users and in step with the settings, checked without a Docker engine."""

from __future__ import annotations

import dataclasses
import os
import re
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest

from entrypoints.settings import PREFIX, Settings

ROOT = Path(__file__).resolve().parents[2]
COMPOSE = ROOT / "compose.yaml"
SECRETS = {
    "SCOREMATE_JWT_SECRET": "a-long-random-secret",
    "POSTGRES_PASSWORD": "postgres-password",
    "MINIO_ROOT_PASSWORD": "minio-password",
    "SCOREMATE_METRICS_TOKEN": "metrics-token",
}


def _compose(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    executable = shutil.which("docker-compose")
    if executable is None:
        pytest.fail(
            "docker-compose (Debian package docker-compose) is needed to validate compose.yaml; `make test` installs it"
        )
    clean = {k: v for k, v in os.environ.items() if not k.startswith(PREFIX)}
    # An empty env file: not the .env beside compose.yaml, where the README has operators keep their secrets.
    with tempfile.NamedTemporaryFile(suffix=".env") as no_env_file:
        return subprocess.run(
            [executable, "-f", str(COMPOSE), "--env-file", no_env_file.name, *args],
            env={**clean, **env},
            capture_output=True,
            text=True,
            timeout=60,
        )


def test_compose_file_is_valid() -> None:
    result = _compose("config", "-q", **SECRETS)
    assert result.returncode == 0, result.stderr


@pytest.mark.parametrize("secret", sorted(SECRETS))
def test_compose_refuses_to_start_without_each_secret(secret: str) -> None:
    result = _compose("config", "-q", **{name: value for name, value in SECRETS.items() if name != secret})
    assert result.returncode != 0
    assert secret in result.stderr


def test_compose_passes_the_secrets_and_optional_settings_on() -> None:
    result = _compose("config", **SECRETS, SCOREMATE_TRUSTED_PROXIES="10.0.0.7", API_PROCESSES="4")
    assert result.returncode == 0, result.stderr
    for value in (*SECRETS.values(), "10.0.0.7"):
        assert value in result.stdout
    assert "- --workers\n    - '4'" in result.stdout
    assert "127.0.0.1:9001:9001" in result.stdout


def test_compose_runs_the_whole_production_stack() -> None:
    result = _compose("config", "--services", **SECRETS)
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
