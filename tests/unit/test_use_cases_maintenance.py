"""ExpireReservations, PurgeUnusedUploads, ClearEndedUploads, ReconcileQuota and SweepStuckScores."""

from __future__ import annotations

import contextlib
from dataclasses import replace
from datetime import timedelta
from typing import Any
from uuid import UUID

import pytest

from adapters.memory import InMemoryQuotaLedger
from application.maintenance import RESERVATION_IN_FLIGHT_SECONDS, RebuildLostQuota, ReconcileQuota
from application.ports import LedgerEntry
from domain.errors import QuotaExceeded, UploadNotFound
from domain.scores import RESUME_WITHIN, RESUMING, ProcessingStatus, Score
from domain.uploads import Upload, UploadStatus, upload_prefix
from tests.unit.conftest import World
from tests.unit.fakes import FakeUnitOfWork, QueueUnavailable

HOUR = 3600


def end_reservation_early(world: World, upload: Upload, seconds: int = 10) -> None:
    """Make the database's expiry come before the ledger's, so a release by the use case is observable."""
    stored = world.stored_upload(upload.id)
    stored.expires_at = world.clock.now() + timedelta(seconds=seconds)
    world.db.uploads[upload.id] = stored


# --- ExpireReservations --------------------------------------------------------------------------


async def test_expired_reservations_give_their_quota_back(world: World) -> None:
    user = await world.user()
    expired = await world.pending_upload(user, 600)
    live = await world.pending_upload(user, 400)
    confirmed = await world.confirmed_upload(user, 300)
    end_reservation_early(world, expired)
    world.clock.advance(10)
    assert await world.expire_reservations() == 1
    assert world.stored_upload(expired.id).status is UploadStatus.EXPIRED
    assert world.stored_upload(live.id).status is UploadStatus.PENDING
    assert world.stored_upload(confirmed.id).status is UploadStatus.CONFIRMED
    assert expired.storage_key not in world.storage.objects
    assert live.storage_key in world.storage.objects and confirmed.storage_key in world.storage.objects
    assert await world.usage_once_urls_lapse(user.id) == (300, 400)


async def test_expiry_is_idempotent_and_leaves_nothing_behind(world: World) -> None:
    user = await world.user()
    upload = await world.pending_upload(user, 600)
    world.clock.advance(world.policy.reservation_ttl_seconds)
    assert await world.expire_reservations() == 1
    assert await world.expire_reservations() == 0
    assert await world.usage(user.id) == (0, 0)
    assert world.stored_upload(upload.id).status is UploadStatus.EXPIRED


async def test_nothing_expires_before_its_time(world: World) -> None:
    user = await world.user()
    upload = await world.pending_upload(user, 600)
    world.clock.advance(world.policy.reservation_ttl_seconds - 1)
    assert await world.expire_reservations() == 0
    assert world.stored_upload(upload.id).status is UploadStatus.PENDING
    assert await world.usage(user.id) == (0, 600)


async def test_expiry_works_in_batches(world: World) -> None:
    world.policy = replace(world.policy, maintenance_batch_size=2)
    user = await world.user()
    for _ in range(5):
        await world.pending_upload(user, 10)
    world.clock.advance(world.policy.reservation_ttl_seconds)
    assert [await world.expire_reservations() for _ in range(4)] == [2, 2, 1, 0]
    assert all(u.status is UploadStatus.EXPIRED for u in world.db.uploads.values())


# --- PurgeUnusedUploads --------------------------------------------------------------------------


async def test_confirmed_uploads_unused_for_a_day_are_deleted(world: World) -> None:
    user = await world.user()
    unused = await world.confirmed_upload(user, 700)
    used = await world.score(user, size=200)
    world.clock.advance(HOUR)
    recent = await world.confirmed_upload(user, 100)
    world.clock.advance(world.policy.unused_upload_grace_seconds - HOUR + 1)
    assert await world.purge_unused_uploads() == 1
    assert world.stored_upload(unused.id).status is UploadStatus.DELETED
    assert unused.storage_key not in world.storage.objects
    assert world.stored_upload(recent.id).status is UploadStatus.CONFIRMED
    assert world.stored_upload(used.upload_id).status is UploadStatus.CONFIRMED
    assert used.storage_key in world.storage.objects and recent.storage_key in world.storage.objects
    assert await world.usage(user.id) == (300, 0)


async def test_the_grace_period_is_24_hours(world: World) -> None:
    assert world.policy.unused_upload_grace_seconds == 24 * HOUR
    user = await world.user()
    upload = await world.confirmed_upload(user, 700)
    world.clock.advance(24 * HOUR)
    assert await world.purge_unused_uploads() == 0
    world.clock.advance(1)
    assert await world.purge_unused_uploads() == 1
    assert await world.purge_unused_uploads() == 0
    assert await world.usage(user.id) == (0, 0)
    assert world.stored_upload(upload.id).status is UploadStatus.DELETED


async def test_pending_and_cancelled_uploads_are_not_purged(world: World) -> None:
    user = await world.user()
    pending = await world.pending_upload(user, 10)
    cancelled = await world.pending_upload(user, 10)
    await world.cancel_upload(user.id, cancelled.id)
    world.clock.advance(48 * HOUR)
    assert await world.purge_unused_uploads() == 0
    assert world.stored_upload(pending.id).status is UploadStatus.PENDING


# --- ClearEndedUploads ---------------------------------------------------------------------------


def url_lapses(world: World) -> int:
    """Seconds from an upload's creation until ClearEndedUploads may clear it."""
    return 2 * world.policy.presign_expiry_seconds


async def test_bytes_stored_through_the_url_of_an_ended_upload_go_once_nothing_can_store_more(world: World) -> None:
    user = await world.user()
    cancelled = await world.pending_upload(user, 100)
    await world.cancel_upload(user.id, cancelled.id)
    deleted = await world.score(user)
    await world.delete_score(user.id, deleted.id)
    live, kept = await world.pending_upload(user, 200), await world.score(user)
    # Their URLs still work: a client stores bytes again, under the ended uploads' prefixes.
    late_keys = [cancelled.storage_key, f"{upload_prefix(user.id, deleted.upload_id)}original.pdf"]
    world.storage.objects.update(dict.fromkeys(late_keys, b"%PDF-late"))

    assert url_lapses(world) < world.policy.reservation_ttl_seconds  # a long reservation does not keep them
    world.clock.advance(url_lapses(world) - 1)
    assert await world.clear_ended_uploads() == 0
    assert all(key in world.storage.objects for key in late_keys)

    world.clock.advance(2)
    assert await world.clear_ended_uploads() == 2
    assert not any(key in world.storage.objects for key in late_keys)
    assert live.storage_key in world.storage.objects and kept.storage_key in world.storage.objects
    assert not any(u.storage_to_clear for u in world.db.uploads.values())
    assert await world.clear_ended_uploads() == 0  # cleared once, for good
    assert world.stored_upload(live.id).status is UploadStatus.PENDING  # live uploads are expiry's business
    assert (await world.usage(user.id))[0] == 1000


async def test_a_transfer_begun_at_the_end_of_a_url_gets_as_long_again(world: World) -> None:
    world.policy = replace(world.policy, presign_expiry_seconds=2 * HOUR, reservation_ttl_seconds=HOUR)
    user = await world.user()
    upload = await world.pending_upload(user, 100)
    await world.cancel_upload(user.id, upload.id)
    world.clock.advance(4 * HOUR - 1)
    assert await world.clear_ended_uploads() == 0
    world.clock.advance(2)
    assert await world.clear_ended_uploads() == 1


async def test_uploads_that_end_later_are_cleared_by_the_next_run(world: World) -> None:
    user = await world.user()
    score = await world.score(user)
    world.clock.advance(30 * 24 * HOUR)
    assert await world.clear_ended_uploads() == 0
    await world.delete_score(user.id, score.id)
    assert await world.clear_ended_uploads() == 1  # its URL lapsed long ago
    assert world.storage.keys_under(upload_prefix(user.id, score.upload_id)) == []


async def test_a_clearing_that_fails_is_tried_again_by_the_next_run(world: World) -> None:
    user = await world.user()
    first, second = await world.pending_upload(user, 100), await world.pending_upload(user, 100)
    for upload in (first, second):
        await world.cancel_upload(user.id, upload.id)
        world.storage.objects[upload.storage_key] = b"%PDF-late"
    world.clock.advance(url_lapses(world) + 1)
    clear_prefix = world.storage.delete_prefix
    first_prefix = upload_prefix(user.id, first.id)

    async def storage_down_for_first(prefix: str) -> None:
        if prefix == first_prefix:
            raise ConnectionError("storage is down")
        await clear_prefix(prefix)

    world.storage.delete_prefix = storage_down_for_first  # type: ignore[method-assign]
    assert await world.clear_ended_uploads() == 1
    assert first.storage_key in world.storage.objects and second.storage_key not in world.storage.objects
    assert world.stored_upload(first.id).storage_to_clear

    world.storage.delete_prefix = clear_prefix  # type: ignore[method-assign]
    assert await world.clear_ended_uploads() == 1
    assert first.storage_key not in world.storage.objects


# --- ReconcileQuota ------------------------------------------------------------------------------


async def test_reconcile_rebuilds_a_wiped_ledger_from_the_database(world: World) -> None:
    ann, bob, idle = await world.user(), await world.user(), await world.user()
    await world.confirmed_upload(ann, 1000)
    await world.score(ann, size=2000)
    await world.pending_upload(ann, 300)
    cancelled = await world.pending_upload(ann, 5000)
    await world.cancel_upload(ann.id, cancelled.id)
    deleted = await world.score(ann, size=4000)
    await world.delete_score(ann.id, deleted.id)
    await world.pending_upload(bob, 700)
    world.clock.advance(RESERVATION_IN_FLIGHT_SECONDS + 1)  # every reserve call has long returned
    world.wipe_ledger()
    assert await world.usage(ann.id) == (0, 0)
    assert await world.reconcile_quota() == 3
    assert await world.usage_once_urls_lapse(ann.id) == (3000, 300)
    assert await world.usage(bob.id) == (0, 700)
    assert await world.usage(idle.id) == (0, 0)


async def test_uploads_granted_while_the_ledger_was_lost_never_pass_the_limit(world: World) -> None:
    """Redis lost its data and granted newer uploads against an empty ledger: the rebuild keeps those and adds
    back a lost one only if it fits; the confirm of one left out meets the limit and is refused."""
    user = await world.user()
    limit = user.quota_limit_bytes
    lost = await world.pending_upload(user, limit * 4 // 10)
    world.clock.advance(RESERVATION_IN_FLIGHT_SECONDS + 1)
    world.wipe_ledger()
    granted = [await world.pending_upload(user, limit * 4 // 10) for _ in range(2)]
    world.clock.advance(RESERVATION_IN_FLIGHT_SECONDS + 1)
    await world.reconcile_quota(user.id)
    assert await world.usage(user.id) == (0, limit * 8 // 10)
    for upload in granted:
        await world.confirm_upload(user.id, upload.id)
    with pytest.raises(UploadNotFound):
        await world.confirm_upload(user.id, lost.id)
    assert await world.usage_once_urls_lapse(user.id) == (limit * 8 // 10, 0)


async def test_reconciled_reservations_lapse_at_the_uploads_expiry(world: World) -> None:
    user = await world.user()
    await world.pending_upload(user, 300)
    world.clock.advance(HOUR / 2)
    world.wipe_ledger()
    await world.reconcile_quota(user.id)
    assert await world.usage(user.id) == (0, 300)
    world.clock.advance(HOUR / 2)
    assert await world.usage(user.id) == (0, 0)


async def test_expired_pending_uploads_are_not_reserved_again(world: World) -> None:
    user = await world.user()
    await world.pending_upload(user, 300)
    world.clock.advance(world.policy.reservation_ttl_seconds)
    world.wipe_ledger()
    await world.reconcile_quota()
    assert await world.usage(user.id) == (0, 0)


async def test_reconcile_while_a_confirm_is_committing_keeps_its_bytes_used(world: World) -> None:
    """A confirm counts the bytes in the ledger, then commits; a rebuild in between sees the row still pending."""
    user = await world.user()
    upload = await world.pending_upload(user, 40_000)
    ledger, count = world.ledger, world.ledger.confirm

    async def count_then_reconcile(*args: Any) -> bool:
        counted = await count(*args)
        await ReconcileQuota(FakeUnitOfWork(world.db), ledger, world.clock, world.policy)(user.id)
        return counted

    ledger.confirm = count_then_reconcile  # type: ignore[method-assign]
    await world.confirm_upload(user.id, upload.id)

    assert await world.usage(user.id) == (40_000, 0)
    for _ in range(2):
        await world.request_upload_url(user.id, "a.pdf", "application/pdf", 30_000)
    with pytest.raises(QuotaExceeded):
        await world.request_upload_url(user.id, "a.pdf", "application/pdf", 1)


async def test_reconcile_drops_stale_ledger_entries(world: World) -> None:
    user = await world.user()
    await world.confirmed_upload(user, 1000)
    ghost = UUID(int=42)
    await world.ledger.confirm(user.id, ghost, 9999, 10**9)
    await world.ledger.reserve(user.id, UUID(int=43), 500, 10**9, HOUR)
    assert await world.usage(user.id) == (10999, 500)
    assert await world.reconcile_quota(user.id) == 1
    assert await world.usage(user.id) == (1000, 0)


async def test_reconcile_one_user_leaves_the_others_alone(world: World) -> None:
    ann, bob = await world.user(), await world.user()
    await world.confirmed_upload(ann, 100)
    await world.ledger.replace(bob.id, [LedgerEntry(UUID(int=7), 55)], [], limit_bytes=100)
    await world.reconcile_quota(ann.id)
    assert await world.usage(bob.id) == (55, 0)
    assert await world.usage(ann.id) == (100, 0)


async def test_a_young_pending_upload_is_kept_only_if_the_ledger_granted_it(world: World) -> None:
    """A row newer than the in-flight window may still be waiting for its reserve call: never grant it anew."""
    granted_user, wiped_user = await world.user(), await world.user()
    await world.pending_upload(granted_user, 300)
    world.wipe_ledger()
    young = await world.pending_upload(wiped_user, 400)  # reserved in the new ledger
    await world.pending_upload(granted_user, 500)  # reserved in the new ledger too
    await world.ledger.release(wiped_user.id, young.id)  # as if the ledger never saw it
    await world.reconcile_quota()
    assert await world.usage(granted_user.id) == (0, 500)  # the old one is not yet settled either: lost with wipe
    assert await world.usage(wiped_user.id) == (0, 0)
    world.clock.advance(RESERVATION_IN_FLIGHT_SECONDS + 1)
    await world.reconcile_quota()
    assert await world.usage(granted_user.id) == (0, 800)
    assert await world.usage(wiped_user.id) == (0, 400)


async def test_a_ledger_that_changed_during_the_snapshot_is_left_for_the_next_run(world: World) -> None:
    user = await world.user()
    await world.confirmed_upload(user, 1000)
    world.clock.advance(RESERVATION_IN_FLIGHT_SECONDS + 1)
    world.wipe_ledger()
    concurrent = UUID(int=99)

    async def concurrent_reserve() -> None:
        world.uow.on_enter = None
        await world.ledger.reserve(user.id, concurrent, 50, world.policy.default_quota_bytes, HOUR)

    world.uow.on_enter = concurrent_reserve
    assert await world.reconcile_quota(user.id) == 0
    assert await world.usage(user.id) == (0, 50)
    assert await world.reconcile_quota(user.id) == 1
    assert await world.usage(user.id) == (1000, 0)


# --- SweepStuckScores ----------------------------------------------------------------------------


def set_state(world: World, score: Score, status: ProcessingStatus, started_ago: float | None) -> None:
    stored = world.stored_score(score.id)
    stored.processing.status = status
    stored.processing.started_at = None if started_ago is None else world.clock.now() - timedelta(seconds=started_ago)
    world.put_score(stored)


async def test_the_sweep_requeues_what_never_started_and_what_ran_too_long_once_a_period(world: World) -> None:
    user = await world.user()
    never_started = await world.score(user, title="never started")
    long_running = await world.score(user, title="long running")
    ready = await world.score(user, title="ready")
    limit = world.policy.stuck_processing_seconds
    world.clock.advance(limit + 1)
    fresh = await world.score(user, title="fresh")
    set_state(world, long_running, ProcessingStatus.PROCESSING, limit + 1)
    set_state(world, ready, ProcessingStatus.READY, limit + 100)
    world.queue.sent.clear()
    assert await world.sweep_stuck_scores() == 2
    requeued = [(never_started.id,), (long_running.id,)]
    assert sorted(t.args for t in world.queue.sent) == sorted(requeued)
    for score in (never_started, long_running):
        stored = world.stored_score(score.id)
        assert (stored.processing.status, stored.processing.started_at) == (ProcessingStatus.PENDING, world.clock.now())
    assert world.stored_score(long_running.id).processing.error == RESUMING
    assert world.stored_score(fresh.id).processing.status is ProcessingStatus.PENDING
    assert world.stored_score(ready.id).processing.status is ProcessingStatus.READY
    # Still not picked up (a backlog, or the messages were lost): queued again once a period, not every pass.
    world.queue.sent.clear()
    world.clock.advance(limit - 1)
    assert await world.sweep_stuck_scores() == 0
    world.clock.advance(2)
    assert await world.sweep_stuck_scores() == 3
    assert sorted(t.args for t in world.queue.sent) == sorted([*requeued, (fresh.id,)])


async def test_the_sweep_fails_an_unread_score_still_stuck_a_day_after_its_creation(world: World) -> None:
    user = await world.user()
    score = await world.score(user)
    world.clock.advance(RESUME_WITHIN.total_seconds())
    set_state(world, score, ProcessingStatus.PROCESSING, world.policy.stuck_processing_seconds + 1)
    assert await world.sweep_stuck_scores() == 1
    failed = world.stored_score(score.id)
    assert (failed.processing.status, failed.processing.error_code) == (ProcessingStatus.FAILED, "processing_stalled")


async def test_processing_within_the_limit_is_left_alone(world: World) -> None:
    user = await world.user()
    score = await world.score(user)
    set_state(world, score, ProcessingStatus.PROCESSING, world.policy.stuck_processing_seconds - 1)
    world.queue.sent.clear()
    assert await world.sweep_stuck_scores() == 0
    assert world.stored_score(score.id).processing.status is ProcessingStatus.PROCESSING
    assert world.queue.sent == []


async def test_a_requeued_score_is_not_requeued_again_at_once(world: World) -> None:
    user = await world.user()
    score = await world.score(user)
    world.clock.advance(world.policy.stuck_processing_seconds + 1)
    world.queue.sent.clear()
    assert await world.sweep_stuck_scores() == 1
    assert await world.sweep_stuck_scores() == 0
    assert len(world.queue.sent) == 1
    assert world.stored_score(score.id).processing.status is ProcessingStatus.PENDING


async def test_a_score_whose_requeue_could_not_be_sent_is_requeued_later_not_failed(world: World) -> None:
    """The sweep is what retries scores whose processing could not be queued; a broker outage must not fail them."""
    user = await world.user()
    first, second = await world.score(user), await world.score(user)
    limit = world.policy.stuck_processing_seconds
    world.clock.advance(limit + 1)
    world.queue.error = QueueUnavailable("broker down")
    with contextlib.suppress(QueueUnavailable):
        await world.sweep_stuck_scores()
    world.queue.error = None
    world.queue.sent.clear()
    world.clock.advance(limit + 1)
    await world.sweep_stuck_scores()
    for score in (first, second):
        assert world.stored_score(score.id).processing.status is ProcessingStatus.PENDING
    assert sorted(t.args[0] for t in world.queue.sent) == sorted([first.id, second.id])


async def test_resume_requeues_everything_unfinished_and_fails_nothing(world: World) -> None:
    user = await world.user()
    ready = await world.processed_score(user, pages=2)
    pending = await world.score(user, title="pending")
    running = await world.score(user, title="running")
    set_state(world, running, ProcessingStatus.PROCESSING, 5)
    world.clock.advance(1)
    world.queue.sent.clear()
    assert await world.resume_unfinished_work() == 2
    assert sorted(t.args[0] for t in world.queue.named("process_score")) == sorted([pending.id, running.id])
    for score_id in (pending.id, running.id):
        assert world.stored_score(score_id).processing.status is not ProcessingStatus.FAILED
        assert world.stored_score(score_id).processing.started_at == world.clock.now()
    assert world.stored_score(ready.id).processing.status is ProcessingStatus.READY


async def test_resume_goes_on_batch_after_batch_until_everything_unfinished_is_queued(world: World) -> None:
    world.policy = replace(world.policy, maintenance_batch_size=2)
    user = await world.user()
    scores = [await world.score(user, title=f"score {n}") for n in range(5)]
    world.clock.advance(1)
    world.queue.sent.clear()
    assert await world.resume_unfinished_work() == 5
    assert sorted(t.args[0] for t in world.queue.named("process_score")) == sorted(s.id for s in scores)


async def test_resume_stops_when_the_queue_takes_nothing(world: World) -> None:
    world.policy = replace(world.policy, maintenance_batch_size=2)
    user = await world.user()
    for n in range(3):
        await world.score(user, title=f"score {n}")
    world.clock.advance(1)
    world.queue.error, world.queue.attempts = QueueUnavailable(), 0
    assert await world.resume_unfinished_work() == 0
    assert world.queue.attempts == 2  # one batch, then it stops


async def test_resume_asks_again_for_page_thumbnails_and_covers_a_dead_runner_lost(world: World) -> None:
    """The embedded server's queue is in memory: what it held when the server stopped is gone."""
    user = await world.user()
    all_pages = await world.processed_score(user, pages=3)
    await world.request_page_thumbnails(user.id, all_pages.id)
    chosen = await world.processed_score(user, pages=3)
    await world.request_cover(user.id, chosen.id, 2)
    done = await world.processed_score(user, pages=3)
    await world.request_page_thumbnails(user.id, done.id)
    await world.generate_all_thumbnails(done.id)  # this run ended
    world.queue.sent.clear()

    assert await world.resume_unfinished_work() == 2

    assert sorted((t.name, t.args) for t in world.queue.sent) == [
        ("generate_all_thumbnails", (all_pages.id,)),
        ("generate_thumbnail", (chosen.id, 2)),
    ]
    await world.generate_all_thumbnails(all_pages.id)
    await world.generate_thumbnail(chosen.id, 2)
    world.queue.sent.clear()
    assert await world.resume_unfinished_work() == 0
    assert world.stored_score(all_pages.id).page_thumbnails.count == 3
    assert world.stored_score(chosen.id).cover.is_current


class LostLedger(InMemoryQuotaLedger):
    """As Redis is after it restarted empty: no mark of a full rebuild."""

    marked = False

    async def rebuilt(self) -> bool:
        return self.marked

    async def mark_rebuilt(self) -> None:
        self.marked = True


async def test_a_ledger_that_lost_its_data_is_rebuilt_for_every_user_then_marked(world: World) -> None:
    ann, bob = await world.user(), await world.user()
    await world.confirmed_upload(ann, 1000)
    await world.confirmed_upload(bob, 2000)
    lost = LostLedger(clock=world.clock.timestamp)
    rebuild_if_lost = RebuildLostQuota(ReconcileQuota(FakeUnitOfWork(world.db), lost, world.clock, world.policy), lost)

    assert await rebuild_if_lost() == 2
    assert lost.marked
    assert (await lost.usage(ann.id), await lost.usage(bob.id)) == ((1000, 0), (2000, 0))
    assert await rebuild_if_lost() == 0  # marked: nothing to do


async def test_while_the_ledger_is_lost_account_and_dashboard_show_the_databases_count(world: World) -> None:
    user = await world.user()
    await world.confirmed_upload(user, 1000)
    expired = await world.pending_upload(user, 50)
    world.clock.set(expired.expires_at)
    await world.pending_upload(user, 300)
    world.ledger = LostLedger(clock=world.clock.timestamp)  # empty, as Redis after it restarted

    account = await world.get_account(user.id)
    dashboard = await world.get_dashboard(user.id)

    assert (account.quota.used_bytes, account.quota.reserved_bytes) == (1000, 300)
    assert dashboard.quota == account.quota


async def test_a_rebuild_that_missed_a_user_leaves_the_mark_for_the_next_run(world: World) -> None:
    user = await world.user()
    await world.confirmed_upload(user, 1000)
    lost = LostLedger(clock=world.clock.timestamp)
    rebuild_if_lost = RebuildLostQuota(ReconcileQuota(FakeUnitOfWork(world.db), lost, world.clock, world.policy), lost)
    version = lost.version

    async def moved_on(user_id: UUID) -> int:  # a release landed while the database was read
        return await version(user_id) + 1

    lost.version = moved_on  # type: ignore[method-assign]
    assert await rebuild_if_lost() == 0
    assert not lost.marked


async def test_reconciling_matches_pending_uploads_by_id_not_each_with_each(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Comparing every pending upload with every settled one held the event loop for minutes at 15,000 pending."""
    user = await world.user()
    for _ in range(4):
        await world.pending_upload(user, 10)
    world.clock.advance(RESERVATION_IN_FLIGHT_SECONDS + 1)
    for _ in range(4):
        await world.pending_upload(user, 10)  # still in flight
    comparisons = 0
    compare = Upload.__eq__

    def counted(self: Upload, other: object) -> bool:
        nonlocal comparisons
        comparisons += 1
        return compare(self, other)

    monkeypatch.setattr(Upload, "__eq__", counted)
    assert await world.reconcile_quota(user.id) == 1
    assert comparisons == 0
    assert await world.usage(user.id) == (0, 80)
