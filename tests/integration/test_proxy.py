"""compose's nginx configuration, run for real in front of `scoremate serve`: what clients get through the proxy.

Only the addresses change (loopback ports for the proxy and the API); every limit, timeout and header is the file's.
"""

from __future__ import annotations

import contextlib
import gzip
import os
import re
import shutil
import signal
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from tests.integration.support.server import REPO_ROOT, Server, free_port, serve

NGINX_CONF = REPO_ROOT / "deploy" / "nginx" / "nginx.conf"


@dataclass
class Proxy:
    base_url: str
    health_url: str


def _nginx() -> str:
    found = shutil.which("nginx") or next((p for p in ("/usr/sbin/nginx",) if Path(p).exists()), None)
    if found is None:
        pytest.fail("nginx (Debian package nginx-light) runs deploy/nginx/nginx.conf here; `make test` installs it")
    return found


@contextlib.contextmanager
def nginx_in_front_of(upstream: str, directory: Path) -> Iterator[Proxy]:
    port, health_port = free_port(), free_port()
    text = NGINX_CONF.read_text()
    for old, new in (
        ("set $api_upstream http://api:8000;", f"set $api_upstream {upstream};"),
        ("listen 8000;", f"listen 127.0.0.1:{port};"),
        ("listen 127.0.0.1:8081;", f"listen 127.0.0.1:{health_port};"),
        ("pid /tmp/nginx.pid;", f"pid {directory}/nginx.pid;"),
    ):
        assert old in text, f"{old!r} is no longer in nginx.conf"
        text = text.replace(old, new)
    config = directory / "nginx.conf"
    config.write_text(text)
    log = (directory / "nginx.log").open("wb")
    process = subprocess.Popen(
        [_nginx(), "-p", f"{directory}/", "-e", "stderr", "-c", str(config), "-g", "daemon off;"],
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    proxy = Proxy(f"http://127.0.0.1:{port}", f"http://127.0.0.1:{health_port}/health")
    try:
        deadline = time.monotonic() + 30
        while True:
            assert process.poll() is None, (directory / "nginx.log").read_text()
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(proxy.health_url, timeout=1).status_code == 200:
                    break
            assert time.monotonic() < deadline, "nginx did not start"
            time.sleep(0.1)
        yield proxy
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGQUIT)
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(5)
        log.close()


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    with serve(tmp_path_factory.mktemp("proxied-server"), trusted_proxies="127.0.0.1") as running:
        yield running


@pytest.fixture(scope="module")
def proxy(server: Server, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Proxy]:
    with nginx_in_front_of(server.base_url, tmp_path_factory.mktemp("nginx")) as running:
        yield running


def test_the_api_answers_through_the_proxy_with_its_request_id(proxy: Proxy) -> None:
    with httpx.Client(base_url=proxy.base_url, timeout=30) as client:
        response = client.get("/api/v1/auth/me", headers={"X-Request-ID": "through-the-proxy"})
        assert response.status_code == 401
        assert response.json()["code"] == "not_authenticated"
        assert response.headers["x-request-id"] == "through-the-proxy"
        assert response.headers["server"] == "nginx", "no version given away"
        email = f"proxied-{os.getpid()}-{time.monotonic_ns()}@example.com"
        registered = client.post("/api/v1/auth/register", json={"email": email, "password": "correct horse battery"})
        assert registered.status_code == 201, registered.text


def test_a_body_past_the_proxy_limit_gets_the_api_error_body(proxy: Proxy) -> None:
    limit = int(re.search(r"client_max_body_size (\d+)m;", NGINX_CONF.read_text())[1])  # type: ignore[index]
    response = httpx.post(
        f"{proxy.base_url}/api/v1/auth/register",
        content=b"{" + b" " * (limit * 1024 * 1024) + b"}",
        headers={"Content-Type": "application/json"},
        timeout=30,
    )
    assert response.status_code == 413
    assert response.headers["content-type"].startswith("application/json")
    assert response.json()["code"] == "request_too_large"
    # Below the proxy's limit and above the API's own (1 MiB), the API answers: the same code.
    api_refusal = httpx.post(
        f"{proxy.base_url}/api/v1/auth/register",
        content=b"{" + b" " * (1536 * 1024) + b"}",
        headers={"Content-Type": "application/json"},
        timeout=30,
    )
    assert api_refusal.status_code == 413
    assert api_refusal.json()["code"] == "request_too_large"


def test_an_oversized_header_is_refused_by_the_proxy(proxy: Proxy) -> None:
    response = httpx.get(f"{proxy.base_url}/health", headers={"X-Padding": "a" * 9000}, timeout=30)
    assert response.status_code in (400, 431)


def test_json_is_gzipped_through_the_proxy(proxy: Proxy) -> None:
    with (
        httpx.Client(timeout=30) as client,
        client.stream("GET", f"{proxy.base_url}/schema/openapi.json", headers={"Accept-Encoding": "gzip"}) as r,
    ):
        body = b"".join(r.iter_raw())
    assert r.status_code == 200
    assert r.headers["content-encoding"] == "gzip"
    assert gzip.decompress(body).startswith(b"{")


def test_an_unreachable_api_is_503_with_retry_after_in_the_api_error_body(tmp_path: Path) -> None:
    with nginx_in_front_of(f"http://127.0.0.1:{free_port()}", tmp_path) as unreachable:
        response = httpx.get(f"{unreachable.base_url}/api/v1/scores", timeout=30)
    assert response.status_code == 503
    assert response.headers["retry-after"] == "5"
    assert response.json()["code"] == "service_unavailable"
