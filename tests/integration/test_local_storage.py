"""LocalObjectStorage on disk: create-only writes and the partial files of uploads that did not finish."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from adapters.storage.local import LocalObjectStorage, ObjectExists

KEY = "users/1/scores/upload/original.pdf"
BODY = b"%PDF-1.7\n" + b"x" * 5000


async def _chunks(data: bytes, pause: asyncio.Event | None = None) -> AsyncIterator[bytes]:
    yield data[:100]
    if pause is not None:
        await pause.wait()
    yield data[100:]


@pytest.fixture
def storage(tmp_path: Path) -> LocalObjectStorage:
    return LocalObjectStorage(tmp_path / "objects", "http://testserver", b"s" * 32)


async def test_a_stored_upload_clears_partial_files_a_killed_server_left_for_its_key(
    storage: LocalObjectStorage,
) -> None:
    path = storage.path_for(KEY)
    path.parent.mkdir(parents=True)
    left = path.with_name(f".{path.name}.0a4aa1ddf615.part")
    left.write_bytes(b"%PDF half of an earlier try")
    other = path.with_name(".cover-1.jpg.0a4aa1ddf615.part")
    other.write_bytes(b"another key's")

    assert await storage.write_stream(KEY, _chunks(BODY), len(BODY), replace=False) == len(BODY)

    assert path.read_bytes() == BODY
    assert sorted(path.parent.iterdir()) == sorted([path, other])


async def test_an_upload_overtaken_by_another_of_its_key_is_refused_as_existing(storage: LocalObjectStorage) -> None:
    pause = asyncio.Event()
    slow = asyncio.create_task(storage.write_stream(KEY, _chunks(BODY, pause), len(BODY), replace=False))
    await asyncio.sleep(0.05)  # the slow one has its partial file
    await storage.write_stream(KEY, _chunks(b"%PDF-1.7 winner"), 100, replace=False)
    pause.set()
    with pytest.raises(ObjectExists):
        await slow
    path = storage.path_for(KEY)
    assert path.read_bytes() == b"%PDF-1.7 winner"
    assert list(path.parent.glob(".*.part")) == []
