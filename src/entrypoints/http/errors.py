"""One mapping from every failure to the contract's error body; no request ever answers 500 by design."""

from __future__ import annotations

import logging
import re
from typing import Any, ClassVar

from litestar import MediaType, Request, Response
from litestar.exceptions import HTTPException, ValidationException
from litestar.status_codes import HTTP_500_INTERNAL_SERVER_ERROR

from domain.errors import (
    ConcurrentChange,
    DomainError,
    ErrorKind,
    Forbidden,
    NotAuthenticated,
    ScoreNotFound,
    ServiceUnavailable,
    SetlistItemNotFound,
    SetlistNotFound,
    TooManyRequests,
    ValidationError,
)
from entrypoints.http.request_log import CLIENT_CLOSED_REQUEST, client_went_away

logger = logging.getLogger(__name__)

MAX_JSON_NESTING = 32  # the API's bodies nest three levels at most
_JSON_STRINGS = re.compile(rb'"(?:[^"\\]|\\.)*"')
_BRACKETS = re.compile(rb"[\[\]{}]")
_UUID = r"[0-9a-fA-F]{8}-?(?:[0-9a-fA-F]{4}-?){3}[0-9a-fA-F]{12}"
_UNPARSABLE_ID = re.compile(rf"^/api/v1/(?:setlists/{_UUID}/)?(?P<collection>scores|setlists|items)/(?!{_UUID}(?:/|$))")
_NOT_FOUND_BY_COLLECTION = {"scores": ScoreNotFound, "setlists": SetlistNotFound, "items": SetlistItemNotFound}

STATUS_BY_KIND = {
    ErrorKind.INVALID: 400,
    ErrorKind.UNAUTHORIZED: 401,
    ErrorKind.FORBIDDEN: 403,
    ErrorKind.NOT_FOUND: 404,
    ErrorKind.CONFLICT: 409,
    ErrorKind.TOO_LARGE: 413,
    ErrorKind.RATE_LIMITED: 429,
    ErrorKind.UNAVAILABLE: 503,
}


class RequestTooLarge(DomainError):
    """The request body is larger than `SCOREMATE_MAX_REQUEST_BODY_BYTES` (1 MiB by default)."""

    code = "request_too_large"
    kind = ErrorKind.TOO_LARGE


class RouteNotFound(DomainError):
    """No route matches the path, e.g. an id that is not a UUID."""

    code = "not_found"
    kind = ErrorKind.NOT_FOUND


class ProtocolError(DomainError):
    """An error of HTTP itself, which no use case raises: it has a status of its own."""

    status: ClassVar[int]


class MethodNotAllowed(ProtocolError):
    """The path does not answer this method."""

    code = "method_not_allowed"
    status = 405


class UnsupportedMediaType(ProtocolError):
    """The request body is not of a media type the operation takes."""

    code = "unsupported_media_type"
    status = 415


# What Litestar's own refusals (routing, body size, media type) mean in the contract's codes.
ERROR_BY_STATUS: dict[int, type[DomainError]] = {
    400: ValidationError,
    401: NotAuthenticated,
    403: Forbidden,
    404: RouteNotFound,
    405: MethodNotAllowed,
    409: ConcurrentChange,
    413: RequestTooLarge,
    415: UnsupportedMediaType,
    429: TooManyRequests,
    503: ServiceUnavailable,
}


def status_of(error: type[DomainError]) -> int:
    return error.status if issubclass(error, ProtocolError) else STATUS_BY_KIND[error.kind]


def error_response(
    status_code: int, code: str, detail: str, headers: dict[str, str] | None = None, **extra: Any
) -> Response[dict[str, Any]]:
    body = {"status_code": status_code, "code": code, "detail": detail, **extra}
    return Response(body, status_code=status_code, headers=headers, media_type=MediaType.JSON)


def domain_error_handler(_: Request[Any, Any, Any], error: DomainError) -> Response[dict[str, Any]]:
    headers = {"Retry-After": str(error.retry_after)} if error.retry_after else None
    if error.kind is ErrorKind.UNAUTHORIZED:
        headers = {**(headers or {}), "WWW-Authenticate": "Bearer"}
    return error_response(status_of(type(error)), error.code, error.detail, headers, **error.extra)


def validation_error_handler(_: Request[Any, Any, Any], error: ValidationException) -> Response[dict[str, Any]]:
    errors = [_about_the_body(item) for item in error.extra] if isinstance(error.extra, list) else []
    detail = "; ".join(_describe(item) for item in errors) or str(error.detail)
    return error_response(400, "validation_error", detail, errors=errors)


def http_error_handler(request: Request[Any, Any, Any], error: HTTPException) -> Response[Any]:
    status = error.status_code
    if status >= 500 and client_went_away():
        # Litestar says 500 when the client hangs up mid-body: nobody is left to answer, and nothing failed here.
        logger.info("client went away before its request was read: %s %s", request.method, request.url.path)
        return Response(None, status_code=CLIENT_CLOSED_REQUEST)
    if status >= 500:
        logger.error("HTTP %s: %s", status, error.detail)
    known = ERROR_BY_STATUS.get(status)
    code = known.code if known else "error" if status < 500 else "internal_error"
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


def unavailable_handler(request: Request[Any, Any, Any], error: ServiceUnavailable) -> Response[dict[str, Any]]:
    """An outage of the database, Redis or storage is the service's state, not the request's fault; what failed
    is for the log (hosts and paths are nobody else's business)."""
    logger.error("backing service failed on %s %s: %s", request.method, request.url.path, error.detail)
    return error_response(
        503, ServiceUnavailable.code, "A backing service is unavailable; try again shortly.", {"Retry-After": "5"}
    )


def conflict_handler(request: Request[Any, Any, Any], error: ConcurrentChange) -> Response[dict[str, Any]]:
    logger.warning("concurrent change on %s %s: %s", request.method, request.url.path, error.detail)
    return error_response(409, ConcurrentChange.code, ConcurrentChange.default_detail)


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
    ServiceUnavailable: unavailable_handler,  # adapters raise it for their drivers' outages
    ConcurrentChange: conflict_handler,  # and this for a lost race
    ValidationException: validation_error_handler,
    HTTPException: http_error_handler,
    Exception: unexpected_error_handler,
}
