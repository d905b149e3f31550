"""TempFileScratchSpace over the local-disk storage: a private temporary copy that is gone afterwards."""

from __future__ import annotations

import hashlib
import os
import time
from pathlib import Path

import pytest

from adapters.storage.local import LocalObjectStorage
from adapters.storage.scratch import LEFTOVER_AGE_SECONDS, TempFileScratchSpace

KEY = "users/1/scores/etude.pdf"
BODY = b"%PDF-1.7\n" + os.urandom(300_000) + b"\n%%EOF\n"


class Boom(Exception):
    pass


def _leftovers(directory: Path) -> list[Path]:
    return list(directory.iterdir())


@pytest.fixture
def scratch_dir(tmp_path: Path) -> Path:
    directory = tmp_path / "scratch"
    directory.mkdir()
    return directory


@pytest.fixture
async def storage(tmp_path: Path) -> LocalObjectStorage:
    storage = LocalObjectStorage(tmp_path / "storage", "http://testserver", b"s" * 32)
    await storage.put(KEY, BODY, "application/pdf")
    return storage


async def test_the_stored_object_is_copied_to_a_temporary_file_then_removed(
    storage: LocalObjectStorage, scratch_dir: Path
) -> None:
    scratch = TempFileScratchSpace(storage, directory=scratch_dir)

    async with scratch.local_copy(KEY) as path:
        assert path.parent == scratch_dir
        assert path.read_bytes() == BODY
        assert path != storage.path_for(KEY)

    assert _leftovers(scratch_dir) == []
    assert storage.path_for(KEY).read_bytes() == BODY  # the stored object itself stays


async def test_the_copy_is_removed_when_the_body_raises(storage: LocalObjectStorage, scratch_dir: Path) -> None:
    scratch = TempFileScratchSpace(storage, directory=scratch_dir)
    seen: list[Path] = []

    async def fail_while_holding_the_copy() -> None:
        async with scratch.local_copy(KEY) as path:
            seen.append(path)
            raise Boom

    with pytest.raises(Boom):
        await fail_while_holding_the_copy()

    assert [path.parent for path in seen] == [scratch_dir]
    assert _leftovers(scratch_dir) == []


async def test_nothing_is_left_when_the_object_is_missing(storage: LocalObjectStorage, scratch_dir: Path) -> None:
    scratch = TempFileScratchSpace(storage, directory=scratch_dir)

    async def copy_a_missing_object() -> None:
        async with scratch.local_copy("users/1/scores/gone.pdf"):
            pytest.fail("the body must not run without a copy")

    with pytest.raises(FileNotFoundError):
        await copy_a_missing_object()

    assert _leftovers(scratch_dir) == []


async def test_copies_of_one_object_are_private_to_each_holder(storage: LocalObjectStorage, scratch_dir: Path) -> None:
    scratch = TempFileScratchSpace(storage, directory=scratch_dir)

    async with scratch.local_copy(KEY) as first, scratch.local_copy(KEY) as second:
        assert first != second
        first.write_bytes(b"changed")
        assert second.read_bytes() == BODY

    assert _leftovers(scratch_dir) == []


async def test_without_a_directory_the_system_temporary_directory_is_used(
    storage: LocalObjectStorage, scratch_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("tempfile.tempdir", str(scratch_dir))
    scratch = TempFileScratchSpace(storage)

    async with scratch.local_copy(KEY) as path:
        assert path.parent == scratch_dir
        assert path.read_bytes() == BODY

    assert _leftovers(scratch_dir) == []


async def test_the_first_copy_removes_what_killed_processes_left_an_hour_ago(
    storage: LocalObjectStorage, scratch_dir: Path
) -> None:
    old, recent, other = (scratch_dir / name for name in ("scoremate-old.pdf", "scoremate-new.pdf", "notes.txt"))
    for path in (old, recent, other):
        path.write_bytes(b"left behind")
    an_hour_ago = time.time() - LEFTOVER_AGE_SECONDS - 1
    os.utime(old, (an_hour_ago, an_hour_ago))
    os.utime(other, (an_hour_ago, an_hour_ago))
    scratch = TempFileScratchSpace(storage, scratch_dir)

    async with scratch.local_copy(KEY):
        pass

    assert sorted(_leftovers(scratch_dir)) == sorted([recent, other])  # a copy may still be in use; not ours


async def test_the_directory_is_made_when_missing(storage: LocalObjectStorage, tmp_path: Path) -> None:
    scratch = TempFileScratchSpace(storage, tmp_path / "data" / "scratch")
    async with scratch.local_copy(KEY) as path:
        assert path.read_bytes() == BODY


async def test_the_sha256_of_a_copy_is_that_of_the_stored_bytes(storage: LocalObjectStorage, scratch_dir: Path) -> None:
    scratch = TempFileScratchSpace(storage, directory=scratch_dir)
    async with scratch.local_copy(KEY) as path:
        assert await scratch.sha256(path) == hashlib.sha256(BODY).hexdigest()
