"""In-process adapters: for tests and single-process runs."""

from adapters.memory.quota_ledger import InMemoryQuotaLedger
from adapters.memory.rate_limiter import InMemoryRateLimiter

__all__ = ["InMemoryQuotaLedger", "InMemoryRateLimiter"]
