"""The service's limits and lifetimes, as the use cases see them (filled from settings by the composition root)."""

from __future__ import annotations

from dataclasses import dataclass

from application.ports import RateRule

GIB = 1024**3
MIB = 1024**2


@dataclass(frozen=True)
class Policy:
    default_quota_bytes: int = GIB
    max_upload_bytes: int = 100 * MIB
    presign_expiry_seconds: int = 300
    reservation_ttl_seconds: int = 3600
    unused_upload_grace_seconds: int = 24 * 3600
    stuck_processing_seconds: int = 30 * 60
    max_page_thumbnails: int = 2000
    page_thumbnails_seconds: float = 600.0
    max_pending_uploads: int = 50
    # Failed logins per email and client address: past it that address may not try that email until the window ends.
    login_failure_rule: RateRule = RateRule(limit=10, window_seconds=15 * 60)
    # Failed logins per client address, whatever the email: bounds one address guessing many accounts.
    login_address_failure_rule: RateRule = RateRule(limit=50, window_seconds=15 * 60)
    # Failed logins per email, from every address: past it, for the rest of its window, each address has only
    # `login_guarded_failures` more wrong passwords for that email (the right one from any of them still works).
    login_email_failure_rule: RateRule = RateRule(limit=100, window_seconds=24 * 3600)
    login_guarded_failures: int = 3
    upload_rate_rule: RateRule = RateRule(limit=60, window_seconds=60)
    # Asking for background work on one's scores (cover, refresh, page thumbnails), per user.
    score_action_rule: RateRule = RateRule(limit=30, window_seconds=60)
    register_rule: RateRule = RateRule(limit=20, window_seconds=3600)
    maintenance_batch_size: int = 200
    # Days a deleted score stays in the trash before housekeeping deletes it for good; 0: deleting is permanent.
    trash_retention_days: int = 30
    # Closed: RegisterUser refuses, and only administrators create accounts (CreateUser).
    registration_open: bool = True
    # Each process learns of accounts deactivated by another process at most this long after (at least 1).
    account_status_refresh_seconds: float = 15.0
