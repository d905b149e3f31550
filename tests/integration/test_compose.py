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
    "S3_SECRET_KEY": "s3-secret-key",
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
    result = _compose("config", **SECRETS, SCOREMATE_LOG_FORMAT="json", API_PROCESSES="4")
    assert result.returncode == 0, result.stderr
    for value in (*SECRETS.values(), "SCOREMATE_LOG_FORMAT: json"):
        assert value in result.stdout
    assert "- --workers\n    - '4'" in result.stdout


def test_compose_runs_the_whole_production_stack() -> None:
    result = _compose("config", "--services", **SECRETS)
    assert set(result.stdout.split()) == {"postgres", "redis", "seaweedfs", "migrate", "api", "worker", "proxy"}
    text = COMPOSE.read_text()
    for command in (
        '"scoremate", "migrate"',
        '"scoremate", "serve"',
        '"scoremate", "worker"',
    ):
        assert command in text


def _services(**env: str) -> dict[str, str]:
    """Each service's block of `docker-compose config` (services are listed in name order, indented by two)."""
    result = _compose("config", **SECRETS, **env)
    assert result.returncode == 0, result.stderr
    services = result.stdout.split("\nservices:\n", 1)[1].split("\nvolumes:\n", 1)[0]
    blocks = re.split(r"^  (?=[a-z][a-z-]*:\n)", services, flags=re.MULTILINE)
    return {block.split(":", 1)[0]: block for block in blocks if block.strip()}


def test_every_image_is_pinned_to_an_exact_version_and_scoremate_is_built_once() -> None:
    services = _services()
    images = {name: re.search(r"^    image: (\S+)$", block, re.MULTILINE) for name, block in services.items()}
    assert all(images.values()), f"services without an image: {[n for n, m in images.items() if not m]}"
    built = [name for name, block in services.items() if re.search(r"^    build:", block, re.MULTILINE)]
    assert built == ["migrate"], "one service builds the ScoreMate image, the others run it"
    scoremate_image = images["migrate"].group(1)  # type: ignore[union-attr]
    for name, match in images.items():
        image = match.group(1)  # type: ignore[union-attr]
        if image == scoremate_image:
            assert name in ("migrate", "api", "worker")
            if name != "migrate":
                assert "pull_policy: never" in services[name], f"{name} must run the built image, never pull it"
            continue
        assert re.fullmatch(r"[a-z0-9./-]+:\d+(\.\d+)+(-[a-z0-9.]+)?", image), f"{name}: {image} is not pinned"
    assert "minio" not in COMPOSE.read_text().lower().replace("the `minio` sdk", "")


def test_s3_credentials_come_from_the_env_and_seaweedfs_writes_them_to_its_identities() -> None:
    services = _services(S3_ACCESS_KEY="operator-key")
    seaweed = services["seaweedfs"]
    assert "chrislusf/seaweedfs:" in seaweed
    assert "-s3.config=/data/s3-identities.json" in seaweed
    assert "S3_ACCESS_KEY: operator-key" in seaweed and "S3_SECRET_KEY: s3-secret-key" in seaweed
    for name in ("api", "worker", "migrate"):
        assert "SCOREMATE_S3_ACCESS_KEY: operator-key" in services[name]
        assert "SCOREMATE_S3_SECRET_KEY: s3-secret-key" in services[name]
        assert "SCOREMATE_S3_ENDPOINT: seaweedfs:8333" in services[name]
    assert "published: 9000" in seaweed, "clients reach storage with presigned URLs"


def test_only_the_proxy_is_published_and_the_api_trusts_exactly_its_address() -> None:
    services = _services(PROXY_ADDRESS="172.30.86.20")
    proxy, api = services["proxy"], services["api"]
    assert "ports:" not in api, "the API's own port is not published"
    assert "published: 8000" in proxy and "target: 8000" in proxy
    assert "ipv4_address: 172.30.86.20" in proxy
    assert "SCOREMATE_TRUSTED_PROXIES: 172.30.86.20" in api
    assert f"{ROOT}/deploy/nginx/nginx.conf:/etc/nginx/nginx.conf:ro" in proxy
    assert "condition: service_healthy" in proxy.split("depends_on:", 1)[1]


def test_every_long_running_service_restarts_and_has_a_health_check() -> None:
    services = _services()
    for name, block in services.items():
        if name == "migrate":
            assert 'restart: "no"' in block
            continue
        assert "restart: unless-stopped" in block, name
        assert re.search(r"healthcheck:\n\s+(interval|retries|start_period|test|timeout):", block), name
    assert "- worker-health" in services["worker"]


def test_every_variable_in_compose_is_a_setting() -> None:
    names = set(re.findall(rf"\b{PREFIX}([A-Z0-9_]+)\s*:", COMPOSE.read_text()))
    fields = {field.name.upper() for field in dataclasses.fields(Settings)}
    assert names, "compose.yaml sets no SCOREMATE_ variables"
    assert names <= fields, f"compose.yaml sets unknown settings: {sorted(names - fields)}"
    assert {"DATABASE_URL", "REDIS_URL", "STORAGE", "S3_ENDPOINT", "S3_PUBLIC_ENDPOINT", "JWT_SECRET"} <= names
