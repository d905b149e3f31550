"""Private temporary copies of stored objects, removed when done."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import os
import tempfile
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from application.ports import ObjectStorage

HASH_CHUNK_BYTES = 1024 * 1024
# Longer than any task holds a copy (a run of page thumbnails stops after ten minutes by default).
LEFTOVER_AGE_SECONDS = 3600


class TempFileScratchSpace:
    """Copies live in `directory` (default: the system's temporary directory) as `scoremate-*.pdf`.

    A process killed mid-task cannot remove its copy, so the first copy a process makes first removes those
    older than LEFTOVER_AGE_SECONDS.
    """

    def __init__(self, storage: ObjectStorage, directory: Path | None = None) -> None:
        self._storage = storage
        self._directory = directory
        self._swept = False

    @asynccontextmanager
    async def local_copy(self, key: str) -> AsyncIterator[Path]:
        if not self._swept:
            self._swept = True
            await asyncio.to_thread(self._remove_leftovers)
        descriptor, name = tempfile.mkstemp(suffix=".pdf", prefix="scoremate-", dir=self._directory)
        os.close(descriptor)
        path = Path(name)
        try:
            await self._storage.download_to(key, path)
            yield path
        finally:
            await asyncio.to_thread(path.unlink, missing_ok=True)

    async def sha256(self, path: Path) -> str:
        return await asyncio.to_thread(_sha256_of_file, path)

    def _remove_leftovers(self) -> None:
        if self._directory is not None:
            self._directory.mkdir(parents=True, exist_ok=True)
        cutoff = time.time() - LEFTOVER_AGE_SECONDS
        for path in Path(self._directory or tempfile.gettempdir()).glob("scoremate-*.pdf"):
            with contextlib.suppress(OSError):  # gone meanwhile, or not ours to remove
                if path.stat().st_mtime < cutoff:
                    path.unlink()


def _sha256_of_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as file:
        while chunk := file.read(HASH_CHUNK_BYTES):
            digest.update(chunk)
    return digest.hexdigest()
