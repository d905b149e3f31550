"""Files on local disk, reached through URLs that this service signs (HMAC) and serves itself.

A signed URL names one key and one method, carries its expiry and limits in query parameters, and the
signature over all of them is the only credential it needs.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import os
import re
import shutil
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import quote, urlencode

from adapters.outages import outages_unavailable
from application.ports import PresignedRequest, StoredObject

from . import CREATE_ONLY

_SAFE_KEY = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*(/[A-Za-z0-9][A-Za-z0-9._-]*)*$")
URL_PREFIX = "/storage/"


class SignatureError(Exception):
    """The URL is expired, altered, or not valid for this method."""


class ObjectTooLarge(Exception):
    """The body sent is larger than the URL allows."""


class ObjectExists(Exception):
    """An upload would replace an object already stored."""


@dataclass(frozen=True)
class Grant:
    """What a verified URL allows."""

    key: str
    method: str
    content_type: str | None
    max_size: int | None
    filename: str | None


# Everything a URL can carry besides its signature; any other parameter makes it invalid.
_SIGNED_PARAMETERS = frozenset({"expires", "filename", "content_type", "max_size"})


class UrlSigner:
    def __init__(self, secret: bytes) -> None:
        self._secret = secret

    def sign(self, method: str, key: str, params: dict[str, str]) -> str:
        # Percent-encoded pairs: no choice of names and values can spell another set of parameters.
        payload = "\n".join([method.upper(), key, urlencode(sorted(params.items()))])
        return hmac.new(self._secret, payload.encode(), hashlib.sha256).hexdigest()

    def check(self, method: str, key: str, params: dict[str, str], signature: str) -> None:
        if not params.keys() <= _SIGNED_PARAMETERS:
            raise SignatureError("The URL has parameters it was not signed with.")
        if not hmac.compare_digest(self.sign(method, key, params).encode(), signature.encode()):
            raise SignatureError("The URL signature does not match.")


def _link(source: Path, target: Path) -> None:
    """Give `source` the name `target` unless that exists: the atomic create-only twin of os.replace."""
    try:
        os.link(source, target)
    except FileExistsError as error:
        raise ObjectExists(str(target)) from error
    except FileNotFoundError:
        if target.exists():  # another upload of this key won, and cleared this one's partial file
            raise ObjectExists(str(target)) from None
        raise


def _remove_partials(path: Path) -> None:
    for partial in path.parent.glob(f".{path.name}.*.part"):
        partial.unlink(missing_ok=True)


def check_key(key: str) -> str:
    if not _SAFE_KEY.match(key) or ".." in key.split("/"):
        raise SignatureError("The storage key is not valid.")
    return key


@outages_unavailable("local storage", (OSError,), meant=(FileNotFoundError, ObjectExists))
class LocalObjectStorage:
    def __init__(
        self,
        root: Path,
        public_base_url: str,
        secret: bytes,
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._root = root.resolve()
        self._base_url = public_base_url.rstrip("/")
        self._signer = UrlSigner(secret)
        self._now = now

    # --- signed URLs -------------------------------------------------------------------------------

    def _presign(self, method: str, key: str, expires_in: int, params: dict[str, str]) -> tuple[str, datetime]:
        # Whole seconds in the URL, rounded up: a URL never lives shorter than it says.
        now = self._now()
        expires_at = now.replace(microsecond=0) + timedelta(seconds=expires_in + (1 if now.microsecond else 0))
        signed = {**params, "expires": str(int(expires_at.timestamp()))}
        signed["signature"] = self._signer.sign(method, check_key(key), signed)
        return f"{self._base_url}{URL_PREFIX}{quote(key)}?{urlencode(signed)}", expires_at

    async def presign_upload(self, key: str, content_type: str, size_bytes: int, expires_in: int) -> PresignedRequest:
        url, expires_at = self._presign(
            "PUT", key, expires_in, {"content_type": content_type, "max_size": str(size_bytes)}
        )
        return PresignedRequest(url, "PUT", {"Content-Type": content_type, **CREATE_ONLY}, expires_at)

    async def presign_download(self, key: str, expires_in: int, filename: str | None = None) -> PresignedRequest:
        url, expires_at = self._presign("GET", key, expires_in, {"filename": filename} if filename else {})
        return PresignedRequest(url, "GET", {}, expires_at)

    def verify(self, method: str, key: str, query: dict[str, str]) -> Grant:
        """Check a request against its URL's signature and expiry; raises SignatureError."""
        params = dict(query)
        signature = params.pop("signature", "")
        self._signer.check(method, check_key(key), params, signature)
        try:
            expires = int(params["expires"])
            max_size = int(params["max_size"]) if "max_size" in params else None
        except (KeyError, ValueError) as error:
            raise SignatureError("The URL is malformed.") from error
        if self._now().timestamp() > expires:
            raise SignatureError("The URL has expired.")
        return Grant(key, method.upper(), params.get("content_type"), max_size, params.get("filename"))

    # --- objects -----------------------------------------------------------------------------------

    def path_for(self, key: str) -> Path:
        path = (self._root / check_key(key)).resolve()
        if not path.is_relative_to(self._root):
            raise SignatureError("The storage key is not valid.")
        return path

    async def write_stream(self, key: str, chunks: AsyncIterator[bytes], max_size: int, *, replace: bool = True) -> int:
        """Store the body under `key` atomically, refusing it as soon as it passes `max_size` bytes.

        With `replace=False`, raises ObjectExists instead of replacing what is stored (an upload URL stores once).
        """
        path = self.path_for(key)
        if not replace and await asyncio.to_thread(path.exists):
            raise ObjectExists(key)
        await asyncio.to_thread(path.parent.mkdir, parents=True, exist_ok=True)
        partial = path.with_name(f".{path.name}.{os.urandom(6).hex()}.part")
        written = 0
        try:
            with partial.open("wb") as file:
                async for chunk in chunks:
                    written += len(chunk)
                    if written > max_size:
                        raise ObjectTooLarge(f"The body is larger than the {max_size} bytes this URL allows.")
                    await asyncio.to_thread(file.write, chunk)
            await asyncio.to_thread(os.replace if replace else _link, partial, path)
        finally:
            partial.unlink(missing_ok=True)
        if not replace:
            # Other uploads of this key can no longer be stored, and one cut off by a killed server left its
            # partial file behind: neither is of use now.
            await asyncio.to_thread(_remove_partials, path)
        return written

    async def stat(self, key: str) -> StoredObject | None:
        try:
            return StoredObject(size_bytes=(await asyncio.to_thread(self.path_for(key).stat)).st_size)
        except FileNotFoundError:
            return None

    async def read_head(self, key: str, length: int) -> bytes:
        def read() -> bytes:
            with self.path_for(key).open("rb") as file:
                return file.read(length)

        return await asyncio.to_thread(read)

    async def download_to(self, key: str, destination: Path) -> None:
        await asyncio.to_thread(shutil.copyfile, self.path_for(key), destination)

    async def put(self, key: str, data: bytes, content_type: str) -> None:
        async def single() -> AsyncIterator[bytes]:
            yield data

        await self.write_stream(key, single(), len(data))

    async def delete(self, key: str) -> None:
        await asyncio.to_thread(self.path_for(key).unlink, missing_ok=True)

    async def delete_prefix(self, prefix: str) -> None:
        directory = self.path_for(prefix.rstrip("/"))
        await asyncio.to_thread(shutil.rmtree, directory, ignore_errors=True)

    async def check(self) -> None:
        def probe() -> None:
            self._root.mkdir(parents=True, exist_ok=True)
            if not os.access(self._root, os.W_OK):
                raise OSError(f"{self._root} is not writable")

        await asyncio.to_thread(probe)
