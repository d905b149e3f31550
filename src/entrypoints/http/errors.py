"""One mapping from every failure to the contract's error body; no request ever answers 500 by design."""

from __future__ import annotations

import logging
import re
from typing import Any

from litestar import MediaType, Request, Response
from litestar.exceptions import HTTPException, ValidationException
from litestar.status_codes import HTTP_500_INTERNAL_SERVER_ERROR
from minio.error import S3Error
from redis.exceptions import RedisError
from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlalchemy.exc import TimeoutError as ConnectionPoolTimeout
from sqlalchemy.orm.exc import StaleDataError

from domain.errors import (
    DomainError,
    ErrorKind,
    ScoreNotFound,
    ServiceUnavailable,
    SetlistItemNotFound,
    SetlistNotFound,
)

logger = logging.getLogger(__name__)

MAX_JSON_NESTING = 32  # the API's bodies nest three levels at most
_JSON_STRINGS = re.compile(rb'"(?:[^"\\]|\\.)*"')
_BRACKETS = re.compile(rb"[\[\]{}]")
_UUID = r"[0-9a-fA-F]{8}-?(?:[0-9a-fA-F]{4}-?){3}[0-9a-fA-F]{12}"
_UNPARSABLE_ID = re.compile(rf"^/api/v1/(?:setlists/{_UUID}/)?(?P<collection>scores|setlists|items)/(?!{_UUID}(?:/|$))")
_NOT_FOUND_BY_COLLECTION = {"scores": ScoreNotFound, "setlists": SetlistNotFound, "items": SetlistItemNotFound}
_LOST_RACE_SQLSTATES = {"40001", "40P01"}  # serialization failure, deadlock detected

STATUS_BY_KIND = {
    ErrorKind.INVALID: 400,
    ErrorKind.UNAUTHORIZED: 401,
    ErrorKind.NOT_FOUND: 404,
    ErrorKind.CONFLICT: 409,
    ErrorKind.TOO_LARGE: 413,
    ErrorKind.RATE_LIMITED: 429,
    ErrorKind.UNAVAILABLE: 503,
}

CODE_BY_STATUS = {
    400: "validation_error",
    401: "not_authenticated",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    413: "request_too_large",
    415: "unsupported_media_type",
    429: "too_many_requests",
    503: "service_unavailable",
}


def error_response(
    status_code: int, code: str, detail: str, headers: dict[str, str] | None = None, **extra: Any
) -> Response[dict[str, Any]]:
    body = {"status_code": status_code, "code": code, "detail": detail, **extra}
    return Response(body, status_code=status_code, headers=headers, media_type=MediaType.JSON)


def domain_error_handler(_: Request[Any, Any, Any], error: DomainError) -> Response[dict[str, Any]]:
    headers = {"Retry-After": str(error.retry_after)} if error.retry_after else None
    if error.kind is ErrorKind.UNAUTHORIZED:
        headers = {**(headers or {}), "WWW-Authenticate": "Bearer"}
    return error_response(STATUS_BY_KIND[error.kind], error.code, error.detail, headers)


def validation_error_handler(_: Request[Any, Any, Any], error: ValidationException) -> Response[dict[str, Any]]:
    errors = [_about_the_body(item) for item in error.extra] if isinstance(error.extra, list) else []
    detail = "; ".join(_describe(item) for item in errors) or str(error.detail)
    return error_response(400, "validation_error", detail, errors=errors)


def http_error_handler(request: Request[Any, Any, Any], error: HTTPException) -> Response[dict[str, Any]]:
    status = error.status_code
    if status >= 500:
        logger.error("HTTP %s: %s", status, error.detail)
    code = CODE_BY_STATUS.get(status, "error" if status < 500 else "internal_error")
    detail = _body_limit_detail(request) if status == 413 else str(error.detail)
    if status == 404 and (unparsable := _UNPARSABLE_ID.match(request.url.path)):
        # An id that is not even a UUID names nothing either: the same answer as an unknown one.
        missing = _NOT_FOUND_BY_COLLECTION[unparsable["collection"]]()
        code, detail = missing.code, str(missing)
    return error_response(status, code, detail, error.headers)


def _body_limit_detail(request: Request[Any, Any, Any]) -> str:
    try:
        limit = request.route_handler.resolve_request_max_body_size()
    except Exception:  # not routed: no handler to ask
        limit = None
    return f"The request body is larger than {limit} bytes." if limit else "The request body is too large."


BODY_METHODS = frozenset({"POST", "PUT", "PATCH"})


async def read_json_body(request: Request[Any, Any, Any]) -> None:
    """Before an API handler: read the body (413 past the limit) and refuse bytes that are not UTF-8 (400).

    The JSON decoder would raise UnicodeDecodeError on such bytes, which is no client error Litestar knows.
    """
    if request.method not in BODY_METHODS:
        return
    body = await request.body()
    try:
        body.decode("utf-8")
    except UnicodeDecodeError as error:
        raise ValidationException(
            f"The request body is not valid UTF-8 (byte {error.start}).",
            extra=[{"message": "not valid UTF-8", "source": "body"}],
        ) from None
    if _nesting_exceeds(body, MAX_JSON_NESTING):
        # The JSON decoder would run out of stack (RecursionError) on a few kilobytes of brackets.
        raise ValidationException(
            f"The request body nests deeper than {MAX_JSON_NESTING} levels.",
            extra=[{"message": "nested too deeply", "source": "body"}],
        )


def _nesting_exceeds(body: bytes, limit: int) -> bool:
    if body.count(b"[") + body.count(b"{") <= limit:
        return False
    depth = 0
    for bracket in _BRACKETS.findall(_JSON_STRINGS.sub(b"", body)):
        depth += 1 if bracket in b"[{" else -1
        if depth > limit:
            return True
    return False


def unavailable_handler(request: Request[Any, Any, Any], error: Exception) -> Response[dict[str, Any]]:
    logger.error("backing service failed on %s %s: %r", request.method, request.url.path, error)
    return error_response(
        503, "service_unavailable", "A backing service is unavailable; try again shortly.", {"Retry-After": "5"}
    )


def database_error_handler(request: Request[Any, Any, Any], error: Exception) -> Response[dict[str, Any]]:
    """A deadlock or serialization failure lost a race (409, retry); anything else is an outage (503)."""
    sqlstate = getattr(getattr(error, "orig", None), "sqlstate", None)
    if sqlstate in _LOST_RACE_SQLSTATES:
        return conflict_handler(request, error)
    return unavailable_handler(request, error)


def conflict_handler(request: Request[Any, Any, Any], error: Exception) -> Response[dict[str, Any]]:
    logger.warning("concurrent change on %s %s: %s", request.method, request.url.path, error)
    return error_response(409, "conflict", "The request collided with a concurrent change; try it again.")


def unexpected_error_handler(request: Request[Any, Any, Any], error: Exception) -> Response[dict[str, Any]]:
    logger.exception("unhandled error on %s %s", request.method, request.url.path, exc_info=error)
    return error_response(
        HTTP_500_INTERNAL_SERVER_ERROR, "internal_error", "Something went wrong on our side; it has been logged."
    )


def _about_the_body(item: Any) -> Any:
    """Litestar names the body after the handler's `data` parameter, and reports a missing one as "'data'"."""
    if not isinstance(item, dict) or item.get("source") != "body" or item.get("key") != "data":
        return item
    message = "a JSON body is required" if item.get("message") == "'data'" else item.get("message")
    return {"message": message, "source": "body"}


def _describe(item: Any) -> str:
    if isinstance(item, dict):
        where = item.get("key")
        message = item.get("message", "")
        return f"{where}: {message}" if where else str(message)
    return str(item)


EXCEPTION_HANDLERS: dict[type[Exception] | int, Any] = {
    DomainError: domain_error_handler,
    ValidationException: validation_error_handler,
    HTTPException: http_error_handler,
    # Outages of the database, Redis or storage are the service's state, not the request's fault.
    OSError: unavailable_handler,
    RedisError: unavailable_handler,
    DBAPIError: database_error_handler,
    ConnectionPoolTimeout: unavailable_handler,  # every database connection of the process stayed busy
    IntegrityError: conflict_handler,
    StaleDataError: conflict_handler,  # the row went away or changed under a concurrent request
    S3Error: unavailable_handler,
    ServiceUnavailable: unavailable_handler,  # what adapters raise for their outages; its detail is for the log
    Exception: unexpected_error_handler,
}
