"""Redis adapters: quota ledger and rate limiter shared by all API processes."""

from adapters.redis.quota_ledger import RedisQuotaLedger
from adapters.redis.rate_limiter import RedisRateLimiter

__all__ = ["RedisQuotaLedger", "RedisRateLimiter"]
