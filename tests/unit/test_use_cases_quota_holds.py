"""An ended upload's bytes stay reserved while its URL may still store a file (issue 18, point 3)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import pytest

from application.uploads import UploadAcceptsFile
from domain.errors import NotAPdf, QuotaExceeded, SizeMismatch
from domain.uploads import Upload
from domain.users import User
from tests.unit.conftest import World, pdf_bytes

SIZE = 40_000  # of the test policy's 100,000-byte quota


async def _cancel(world: World, user: User) -> Upload:
    upload = await world.pending_upload(user, SIZE)
    await world.cancel_upload(user.id, upload.id)
    return upload


async def _size_mismatch(world: World, user: User) -> Upload:
    upload = await world.pending_upload(user, SIZE, content=pdf_bytes(SIZE - 1))
    with pytest.raises(SizeMismatch):
        await world.confirm_upload(user.id, upload.id)
    return upload


async def _not_a_pdf(world: World, user: User) -> Upload:
    upload = await world.pending_upload(user, SIZE, content=b"PK\x03\x04" + b"z" * (SIZE - 4))
    with pytest.raises(NotAPdf):
        await world.confirm_upload(user.id, upload.id)
    return upload


async def _score_deleted(world: World, user: User) -> Upload:
    score = await world.score(user, size=SIZE)
    await world.delete_score(user.id, score.id)
    return world.stored_upload(score.upload_id)


TRIGGERS: dict[str, Callable[[World, User], Awaitable[Upload]]] = {
    "cancel": _cancel,
    "size_mismatch": _size_mismatch,
    "not_a_pdf": _not_a_pdf,
    "score_deleted": _score_deleted,
}


@pytest.mark.parametrize("trigger", TRIGGERS)
async def test_an_ended_uploads_bytes_stay_reserved_until_its_url_lapsed_and_its_storage_is_cleared(
    world: World, trigger: str
) -> None:
    user = await world.user()
    ended = await TRIGGERS[trigger](world, user)
    assert await world.usage(user.id) == (0, SIZE)
    # What its URL could still store cannot be reserved a second time: 2 x 40,000 held + 40,000 > 100,000.
    await world.pending_upload(user, SIZE)
    with pytest.raises(QuotaExceeded):
        await world.pending_upload(user, SIZE)
    # Housekeeping before the URL lapsed clears nothing and releases nothing.
    world.clock.advance(2 * world.policy.presign_expiry_seconds - 10)
    assert await world.clear_ended_uploads() == 0
    assert await world.usage(user.id) == (0, 2 * SIZE)
    world.clock.advance(11)
    assert await world.clear_ended_uploads() == 1
    assert not world.stored_upload(ended.id).storage_to_clear
    assert await world.usage(user.id) == (0, SIZE)  # the one still pending


async def test_a_reconcile_keeps_what_an_ended_upload_holds(world: World) -> None:
    user = await world.user()
    await _cancel(world, user)
    world.wipe_ledger()
    await world.reconcile_quota(user.id)
    assert await world.usage(user.id) == (0, SIZE)
    assert await world.usage_once_urls_lapse(user.id) == (0, 0)
    await world.reconcile_quota(user.id)
    assert await world.usage(user.id) == (0, 0)


async def test_an_upload_ended_after_its_url_lapsed_gives_its_bytes_back_at_once(world: World) -> None:
    user = await world.user()
    score = await world.score(user, size=SIZE)
    world.clock.advance(2 * world.policy.presign_expiry_seconds)
    await world.delete_score(user.id, score.id)
    assert await world.usage(user.id) == (0, 0)


async def test_a_held_reservation_lapses_on_its_own_if_housekeeping_never_clears_it(world: World) -> None:
    user = await world.user()
    await _cancel(world, user)
    world.clock.advance(3 * world.policy.presign_expiry_seconds + 1)
    assert await world.usage(user.id) == (0, 0)


async def test_only_a_pending_uploads_original_accepts_a_file(world: World) -> None:
    user = await world.user()
    accepts = world.get(UploadAcceptsFile)
    pending = await world.pending_upload(user, 500)
    assert await accepts(pending.storage_key)
    assert not await accepts(pending.storage_key.replace("original.pdf", "cover-1.jpg"))
    assert not await accepts("../etc/passwd")
    cancelled = await _cancel(world, user)
    assert not await accepts(cancelled.storage_key)
    expiring = await world.pending_upload(user, 500)
    world.clock.advance(world.policy.reservation_ttl_seconds + 1)
    assert not await accepts(expiring.storage_key)
    score = await world.score(user, size=500)
    assert not await accepts(world.stored_upload(score.upload_id).storage_key)
