"""Redis adapters: quota ledger and rate limiter shared by all API processes, periodic claims among workers."""

from adapters.redis.periodic_claims import RedisPeriodicClaims
from adapters.redis.quota_ledger import RedisQuotaLedger
from adapters.redis.rate_limiter import RedisRateLimiter

__all__ = ["RedisPeriodicClaims", "RedisQuotaLedger", "RedisRateLimiter"]
