"""Private temporary copies of stored objects, removed when done."""

from __future__ import annotations

import asyncio
import os
import tempfile
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from application.ports import ObjectStorage


class TempFileScratchSpace:
    def __init__(self, storage: ObjectStorage, directory: Path | None = None) -> None:
        self._storage = storage
        self._directory = directory

    @asynccontextmanager
    async def local_copy(self, key: str) -> AsyncIterator[Path]:
        descriptor, name = tempfile.mkstemp(suffix=".pdf", prefix="scoremate-", dir=self._directory)
        os.close(descriptor)
        path = Path(name)
        try:
            await self._storage.download_to(key, path)
            yield path
        finally:
            await asyncio.to_thread(path.unlink, missing_ok=True)
