"""What the database's failures mean to a use case: a lost race (try again) or an outage."""

from __future__ import annotations

from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlalchemy.exc import TimeoutError as ConnectionPoolTimeout
from sqlalchemy.orm.exc import StaleDataError

from adapters.sqlalchemy.driver import DriverError, DriverIntegrityError
from domain.errors import ConcurrentChange, DomainError, ServiceUnavailable

_LOST_RACE_SQLSTATES = {"40001", "40P01"}  # serialization failure, deadlock detected


def translated(error: BaseException) -> DomainError | None:
    """The port's error for a driver's, or None for an error that is not the database's (it passes unchanged)."""
    if isinstance(error, IntegrityError | StaleDataError | DriverIntegrityError):
        # A unique key taken or a row changed or gone under a concurrent request.
        return ConcurrentChange(f"database: {error!r}")
    if isinstance(error, DBAPIError | DriverError):
        if getattr(error.orig, "sqlstate", None) in _LOST_RACE_SQLSTATES:
            return ConcurrentChange(f"database: {error!r}")
        return ServiceUnavailable(f"database: {error!r}")
    if isinstance(error, ConnectionPoolTimeout):
        return ServiceUnavailable("database: every connection of the process stayed busy")
    if isinstance(error, OSError):  # the server cannot be reached at all
        return ServiceUnavailable(f"database: {error!r}")
    return None
