"""A driver's failures as the ports' error: a service that is down or failing is unavailable, not broken."""

from __future__ import annotations

import functools
import inspect
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from domain.errors import ServiceUnavailable

T = TypeVar("T", bound=type)


def outages_unavailable(
    service: str, outages: tuple[type[BaseException], ...], *, meant: tuple[type[BaseException], ...] = ()
) -> Callable[[T], T]:
    """Class decorator: every public coroutine method raises ServiceUnavailable where the driver raised one of
    `outages`, except those of `meant`, which the port names (a missing file, say) and which pass unchanged."""

    def decorate(cls: T) -> T:
        for name, method in list(vars(cls).items()):
            if not name.startswith("_") and inspect.iscoroutinefunction(method):
                setattr(cls, name, _translating(service, method, outages, meant))
        return cls

    return decorate


def _translating(
    service: str,
    method: Callable[..., Awaitable[Any]],
    outages: tuple[type[BaseException], ...],
    meant: tuple[type[BaseException], ...],
) -> Callable[..., Awaitable[Any]]:
    @functools.wraps(method)
    async def call(*args: Any, **kwargs: Any) -> Any:
        try:
            return await method(*args, **kwargs)
        except meant:
            raise
        except outages as error:
            raise ServiceUnavailable(f"{service} {method.__name__}: {error!r}") from error

    return call
