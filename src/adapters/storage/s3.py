"""ObjectStorage on an S3-compatible server (AWS S3, MinIO, SeaweedFS) through the synchronous minio SDK."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import io
import logging
import os
from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import TracebackType
from typing import ParamSpec, Self, TypeVar
from urllib.parse import quote

import certifi
import urllib3
from minio import Minio
from minio.deleteobjects import DeleteObject
from minio.error import MinioException, S3Error
from minio.helpers import DictType
from urllib3.connectionpool import ConnectionPool
from urllib3.exceptions import HTTPError, MaxRetryError, ReadTimeoutError
from urllib3.response import BaseHTTPResponse

from application.ports import PresignedRequest, StoredObject
from domain.errors import ServiceUnavailable

from . import CREATE_ONLY

_MISSING_CODES = frozenset({"NoSuchKey", "NoSuchObject", "ResourceNotFound"})
_BUCKET_TAKEN_CODES = frozenset({"BucketAlreadyOwnedByYou", "BucketAlreadyExists"})
_DOWNLOAD_CHUNK_BYTES = 1 << 20
# What the driver raises when storage is down, slow, misconfigured or answers garbage: urllib3's
# connection, timeout, protocol and retry errors, and minio's S3Error / ServerError / InvalidResponseError.
_OUTAGE_ERRORS = (HTTPError, MinioException)

logger = logging.getLogger(__name__)

P = ParamSpec("P")
R = TypeVar("R")


class S3ObjectStorage:
    """Objects live in one bucket; keys are used as given.

    `public_endpoint` (with `public_secure`) is only used to sign URLs for clients that reach storage
    through another host than this server does; every other call goes to `endpoint`.
    Reads of missing objects (`read_head`, `download_to`) raise FileNotFoundError; `stat` returns None.
    Every other storage failure (unreachable, timeouts, refused credentials, server errors) raises
    ServiceUnavailable naming the operation; the driver's error is chained and logged, not shown.
    """

    def __init__(
        self,
        endpoint: str,
        access_key: str,
        secret_key: str,
        bucket: str,
        secure: bool,
        region: str = "us-east-1",
        public_endpoint: str | None = None,
        public_secure: bool | None = None,
        connect_timeout: float = 5.0,
        read_timeout: float = 20.0,
    ) -> None:
        self._bucket = bucket
        self._region = region
        self._access_key = access_key
        self._secret_key = secret_key
        self._public_secure = secure if public_secure is None else public_secure
        self._public_host = _host_header(public_endpoint or endpoint, self._public_secure)
        # region= keeps minio from asking the server for the bucket location, so presigning stays offline.
        self._client = Minio(
            endpoint,
            access_key=access_key,
            secret_key=secret_key,
            secure=secure,
            region=region,
            http_client=_http_client(connect_timeout, read_timeout),
        )
        self._public_client = Minio(
            self._public_host,
            access_key=access_key,
            secret_key=secret_key,
            secure=self._public_secure,
            region=region,
        )

    @property
    def bucket(self) -> str:
        return self._bucket

    async def presign_upload(self, key: str, content_type: str, size_bytes: int, expires_in: int) -> PresignedRequest:
        # minio presigns only `host`. Content-Type, Content-Length and If-None-Match are signed here too, so
        # storage refuses any other type, any body of another size than the one the quota was reserved for,
        # and any upload over an object already stored.
        if size_bytes < 0:
            raise ValueError("size_bytes must not be negative")
        headers = {"Content-Type": content_type, "Content-Length": str(size_bytes), **CREATE_ONLY}
        now = datetime.now(UTC).replace(microsecond=0)  # X-Amz-Date has whole seconds: so has the expiry
        url = presign_v4(
            method="PUT",
            scheme="https" if self._public_secure else "http",
            host=self._public_host,
            path=f"/{self._bucket}/{key}",
            headers=headers,
            access_key=self._access_key,
            secret_key=self._secret_key,
            region=self._region,
            date=now,
            expires_in=expires_in,
        )
        return PresignedRequest(url, "PUT", headers, now + timedelta(seconds=expires_in))

    async def presign_download(self, key: str, expires_in: int, filename: str | None = None) -> PresignedRequest:
        now = datetime.now(UTC).replace(microsecond=0)  # X-Amz-Date has whole seconds: so has the expiry
        response_headers: DictType = {}
        if filename:
            response_headers["response-content-disposition"] = (
                f"attachment; filename*=UTF-8''{quote(filename, safe='')}"
            )
        url = self._public_client.get_presigned_url(
            "GET",
            self._bucket,
            key,
            expires=timedelta(seconds=expires_in),
            response_headers=response_headers,
            request_date=now,
        )
        return PresignedRequest(url, "GET", {}, now + timedelta(seconds=expires_in))

    async def stat(self, key: str) -> StoredObject | None:
        return await self._run("stat", self._stat, key)

    def _stat(self, key: str) -> StoredObject | None:
        try:
            found = self._client.stat_object(self._bucket, key)
        except S3Error as error:
            if error.code in _MISSING_CODES:
                return None
            raise
        return StoredObject(size_bytes=found.size or 0)

    async def read_head(self, key: str, length: int) -> bytes:
        if length <= 0:
            return b""
        return await self._run("read_head", self._read_range, key, length)

    def _read_range(self, key: str, length: int) -> bytes:
        try:
            response = self._client.get_object(self._bucket, key, offset=0, length=length)
        except S3Error as error:
            if error.code == "InvalidRange":  # the object is empty
                return b""
            _raise_if_missing(error, key)
            raise
        try:
            return response.read()
        finally:
            response.close()
            response.release_conn()

    async def download_to(self, key: str, destination: Path) -> None:
        await self._run("download_to", self._download_to, key, destination)

    def _download_to(self, key: str, destination: Path) -> None:
        # Into the destination itself: fget_object writes a side file first and leaves it behind when the
        # transfer breaks, and renames it into place even after its caller gave up and removed the destination.
        try:
            response = self._client.get_object(self._bucket, key)
        except S3Error as error:
            _raise_if_missing(error, key)
            raise
        try:
            destination.parent.mkdir(parents=True, exist_ok=True)
            with destination.open("wb") as file:
                for chunk in response.stream(_DOWNLOAD_CHUNK_BYTES):
                    file.write(chunk)
        finally:
            response.close()
            response.release_conn()

    async def put(self, key: str, data: bytes, content_type: str) -> None:
        await self._run(
            "put", self._client.put_object, self._bucket, key, io.BytesIO(data), len(data), content_type=content_type
        )

    async def delete(self, key: str) -> None:
        await self._run("delete", self._client.remove_object, self._bucket, key)

    async def delete_prefix(self, prefix: str) -> None:
        if not prefix:
            raise ValueError("refusing to delete every object in the bucket")
        await self._run("delete_prefix", self._delete_prefix, prefix)

    def _delete_prefix(self, prefix: str) -> None:
        listed = self._client.list_objects(self._bucket, prefix=prefix, recursive=True)
        doomed = [DeleteObject(item.object_name) for item in listed if item.object_name]
        # remove_objects is lazy: its errors only appear while iterating.
        errors = list(self._client.remove_objects(self._bucket, doomed)) if doomed else []
        if errors:
            logger.warning("could not delete %d objects under %r, first: %s", len(errors), prefix, errors[0])
            raise ServiceUnavailable(
                f"object storage delete_prefix failed: {len(errors)} objects not deleted ({errors[0].code})"
            )

    async def check(self) -> None:
        if not await self._run("check", self._client.bucket_exists, self._bucket):
            raise ServiceUnavailable(f"bucket {self._bucket!r} does not exist")

    async def ensure_bucket(self) -> None:
        await self._run("ensure_bucket", self._ensure_bucket)

    def _ensure_bucket(self) -> None:
        if self._client.bucket_exists(self._bucket):
            return
        try:
            self._client.make_bucket(self._bucket)
        except S3Error as error:
            if error.code not in _BUCKET_TAKEN_CODES:
                raise

    async def _run(self, operation: str, call: Callable[P, R], *args: P.args, **kwargs: P.kwargs) -> R:
        """Run a blocking driver call in a thread; outages become ServiceUnavailable naming `operation`.

        FileNotFoundError, ValueError and other errors the calls raise on purpose pass through unchanged.
        """
        try:
            return await asyncio.to_thread(call, *args, **kwargs)
        except _OUTAGE_ERRORS as error:
            logger.warning("object storage %s failed: %r", operation, error)
            raise ServiceUnavailable(f"object storage {operation} failed: {_describe(error)}") from error


def presign_v4(
    *,
    method: str,
    scheme: str,
    host: str,
    path: str,
    headers: Mapping[str, str],
    access_key: str,
    secret_key: str,
    region: str,
    date: datetime,
    expires_in: int,
    query: Mapping[str, str] | None = None,
) -> str:
    """A SigV4 query-string presigned URL that also signs `headers` (beside `host`)."""
    if not 1 <= expires_in <= 604800:
        raise ValueError("expires_in must be between 1 second and 7 days")
    amz_date = date.strftime("%Y%m%dT%H%M%SZ")
    scope = f"{amz_date[:8]}/{region}/s3/aws4_request"
    signed = {name.lower(): " ".join(value.split()) for name, value in headers.items()} | {"host": host}
    signed_names = ";".join(sorted(signed))
    params = dict(query or {}) | {
        "X-Amz-Algorithm": "AWS4-HMAC-SHA256",
        "X-Amz-Credential": f"{access_key}/{scope}",
        "X-Amz-Date": amz_date,
        "X-Amz-Expires": str(expires_in),
        "X-Amz-SignedHeaders": signed_names,
    }
    canonical_query = "&".join(sorted(f"{_uri_encode(k)}={_uri_encode(v)}" for k, v in params.items()))
    canonical_path = quote(path, safe="/-_.~")
    canonical_request = "\n".join(
        [
            method,
            canonical_path,
            canonical_query,
            "".join(f"{name}:{signed[name]}\n" for name in sorted(signed)),
            signed_names,
            "UNSIGNED-PAYLOAD",
        ]
    )
    string_to_sign = "\n".join(
        ["AWS4-HMAC-SHA256", amz_date, scope, hashlib.sha256(canonical_request.encode()).hexdigest()]
    )
    key = f"AWS4{secret_key}".encode()
    for part in (amz_date[:8], region, "s3", "aws4_request"):
        key = hmac.new(key, part.encode(), hashlib.sha256).digest()
    signature = hmac.new(key, string_to_sign.encode(), hashlib.sha256).hexdigest()
    return f"{scheme}://{host}{canonical_path}?{canonical_query}&X-Amz-Signature={signature}"


def _uri_encode(value: str) -> str:
    return quote(value, safe="-_.~")


def _host_header(endpoint: str, secure: bool) -> str:
    """The Host header clients send: without the scheme's default port, which they leave out."""
    default_port = ":443" if secure else ":80"
    return endpoint.removesuffix(default_port)


def _describe(error: BaseException) -> str:
    """A short cause for clients: the S3 error code or the error class, never URLs, hosts or bodies."""
    if isinstance(error, S3Error):
        return f"S3 error {error.code}"
    if isinstance(error, MaxRetryError) and error.reason is not None:
        return f"{type(error).__name__} ({type(error.reason).__name__})"
    return type(error).__name__


def _raise_if_missing(error: S3Error, key: str) -> None:
    if error.code in _MISSING_CODES:
        raise FileNotFoundError(f"no object {key!r}") from error


class _RetryUnlessSilent(urllib3.Retry):
    """urllib3's retries, except after a read timeout: a server that took the request and went quiet would make
    each try wait the timeout again, and a client's request outlast its load balancer before it got its 503.
    A connection dropped as the request went out (an idle keep-alive closed by the server) is still retried."""

    def increment(
        self,
        method: str | None = None,
        url: str | None = None,
        response: BaseHTTPResponse | None = None,
        error: Exception | None = None,
        _pool: ConnectionPool | None = None,
        _stacktrace: TracebackType | None = None,
    ) -> Self:
        if isinstance(error, ReadTimeoutError) and _pool is not None:
            raise MaxRetryError(_pool, url, error) from error
        return super().increment(method, url, response, error, _pool, _stacktrace)


def _http_client(connect_timeout: float, read_timeout: float) -> urllib3.PoolManager:
    # minio's default waits 5 minutes to connect and retries 5 times; a health check must answer fast.
    return urllib3.PoolManager(
        timeout=urllib3.Timeout(connect=connect_timeout, read=read_timeout),
        maxsize=10,
        cert_reqs="CERT_REQUIRED",
        ca_certs=os.environ.get("SSL_CERT_FILE") or certifi.where(),
        retries=_RetryUnlessSilent(total=2, backoff_factor=0.2, status_forcelist=[500, 502, 503, 504]),
    )
