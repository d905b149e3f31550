"""The OpenAPI side of the contract: the errors each operation answers, and which operations are public.

Each route handler declares its errors once, as exception classes, with ``documented(...)``; the status, the
``code`` and its meaning (the class's docstring) come from the class, so the document lists every error status
with its codes, an example body per code, and the error schema. tests/test_error_contract.py checks that every
error a use case can raise is declared by the operations that call it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from itertools import groupby
from typing import Any

from litestar.enums import ParamType
from litestar.openapi.datastructures import ResponseSpec
from litestar.openapi.spec import (
    Example,
    OpenAPI,
    OpenAPIHeader,
    OpenAPIMediaType,
    OpenAPIResponse,
    OpenAPIType,
    Operation,
    Parameter,
    PathItem,
    Reference,
    Schema,
    Tag,
)

from domain.errors import DomainError, NotAuthenticated, ServiceUnavailable, ValidationError
from entrypoints.http.errors import RequestTooLarge, RouteNotFound, status_of
from entrypoints.http.schemas import ErrorBody

BEARER = "BearerAuth"
PUBLIC = "public"  # route handler opt: callable without a bearer token
ERRORS = "errors"  # route handler opt: the error classes the operation answers

STATUS_TEXT: Mapping[int, str] = {
    400: "Bad request",
    401: "Not authenticated",
    403: "Forbidden",
    404: "Not found",
    409: "Conflict",
    413: "Too large",
    429: "Too many requests",
    503: "Service unavailable",
}


def answered_errors(
    errors: Iterable[type[DomainError]], *, body: bool = False, path: bool = False, public: bool = False
) -> tuple[type[DomainError], ...]:
    """An operation's own errors, plus those its inputs and its security imply."""
    # Any request can be malformed (a bad Host header, say) and any may meet an outage.
    implied: list[type[DomainError]] = [ValidationError, ServiceUnavailable]
    if body:
        implied.append(RequestTooLarge)
    if path:
        implied.append(RouteNotFound)
    if not public:
        implied.append(NotAuthenticated)
    return tuple(dict.fromkeys([*errors, *implied]))


@dataclass
class KeyedExample(Example):
    """An example keyed by its ``id``: Litestar also writes ``id`` into the Example Object, which OpenAPI forbids."""

    @property
    def _exclude_fields(self) -> set[str]:
        return {"id"}


@dataclass
class PublicOperation(Operation):
    """An operation that needs no bearer token: ``security: []`` overrides the document's default."""

    def __post_init__(self) -> None:
        self.security = []


def error_response(status: int, errors: Iterable[type[DomainError]]) -> ResponseSpec:
    """The documented answer of one error status: ErrorBody, the codes in the description, an example of each."""
    errors = list(errors)
    lines = "\n".join(f"- `{error.code}`: {error.__doc__}" for error in errors)
    examples: list[Example] = [
        KeyedExample(
            id=error.code,
            summary=error.code,
            value={"status_code": status, "code": error.code, "detail": error.__doc__},
        )
        for error in errors
    ]
    return ResponseSpec(
        data_container=ErrorBody,
        description=f"{STATUS_TEXT.get(status, 'Error')}. `code` is one of:\n{lines}",
        examples=examples,
        generate_examples=False,
    )


def documented(
    operation_id: str,
    *errors: type[DomainError],
    body: bool = False,
    path: bool = False,
    public: bool = False,
    success: Mapping[int, ResponseSpec] | None = None,
) -> dict[str, Any]:
    """Keyword arguments of a route handler: its operation id, its responses and, if public, no security.

    ``errors`` are what the operation's use cases raise; ``body`` (a JSON body), ``path`` (ids in the path) and
    ``public`` (no bearer token) add the errors those imply. ``success`` replaces the generated success
    response, e.g. to give it examples.
    """
    answered = answered_errors(errors, body=body, path=path, public=public)
    by_status = sorted(answered, key=status_of)
    responses = {status: error_response(status, group) for status, group in groupby(by_status, key=status_of)}
    responses.update(success or {})
    kwargs: dict[str, Any] = {"operation_id": operation_id, "responses": responses, "opt": {ERRORS: answered}}
    if public:
        kwargs["operation_class"] = PublicOperation
        kwargs["opt"][PUBLIC] = True
    return kwargs


# --- examples of the upload flow --------------------------------------------------------------------------------

_USER_ID = "3f1c2a9e-8d47-4b1e-9a53-0c6de2f1b7a4"
_UPLOAD_ID = "9b2e7c41-5f3a-4d8e-b6c2-1a7f0e9d3c58"
_KEY = f"{_USER_ID}/scores/{_UPLOAD_ID}/original.pdf"

UPLOAD_URL_REQUEST: list[Example] = [
    KeyedExample(
        id="pdf",
        summary="A 194 KiB PDF",
        value={"filename": "Etude in all keys.pdf", "content_type": "application/pdf", "size_bytes": 199199},
    )
]
UPLOAD_TICKET: list[Example] = [
    KeyedExample(
        id="s3",
        summary="Ticket for S3-compatible storage",
        description="PUT the file to `upload_url` with exactly these headers, then confirm with `upload_id`.",
        value={
            "upload_id": _UPLOAD_ID,
            "upload_url": f"https://storage.example.com/scoremate/{_KEY}?X-Amz-Algorithm=AWS4-HMAC-SHA256"
            "&X-Amz-Credential=scoremate%2F20250301%2Fus-east-1%2Fs3%2Faws4_request&X-Amz-Date=20250301T101500Z"
            "&X-Amz-Expires=300&X-Amz-SignedHeaders=content-length%3Bcontent-type%3Bhost%3Bif-none-match&X-Amz-Signature=5d1f...",
            "method": "PUT",
            "headers": {"Content-Type": "application/pdf", "Content-Length": "199199", "If-None-Match": "*"},
            "s3_key": _KEY,
            "expires_in": 300,
            "expires_at": "2025-03-01T10:20:00Z",
        },
    )
]
UPLOAD_ID_REQUEST: list[Example] = [
    KeyedExample(id="upload", summary="The ticket's upload_id", value={"upload_id": _UPLOAD_ID})
]
CONFIRMED_UPLOAD: list[Example] = [
    KeyedExample(
        id="confirmed",
        summary="Confirmed: the reserved bytes are now used",
        value={
            "upload_id": _UPLOAD_ID,
            "status": "confirmed",
            "filename": "Etude in all keys.pdf",
            "size_bytes": 199199,
            "s3_key": _KEY,
            "created_at": "2025-03-01T10:15:00Z",
        },
    )
]


# --- what route handlers cannot declare: applied once to the generated document --------------------------------

INTERNAL_ERROR_DETAIL = "Something went wrong on our side; it has been logged."
# One text per parameter name, for the parameters whose handler gives none (a name means the same everywhere).
PARAMETER_DESCRIPTIONS: Mapping[str, str] = {
    "score_id": "The score's id (a UUID); another user's score answers 404 like a missing one.",
    "user_id": "The user's id (a UUID).",
    "setlist_id": "The setlist's id (a UUID); another user's setlist answers 404 like a missing one.",
    "item_id": "The setlist item's id (a UUID, not the score's).",
    "q": "Finds this text in the title or the composer, ignoring case.",
    "composer": "Only scores by this composer (the whole value, ignoring case).",
    "genre": "Only scores of this genre (the whole value, ignoring case).",
    "tag": "Only scores with this tag (a whole tag, ignoring case and accents).",
    "status": "Only scores in this processing status.",
    "ordering": "Sort key; a leading `-` sorts descending. Scores without a composer come last either way.",
}
TAGS: list[Tag] = [
    Tag(name="Auth", description="Accounts: register, log in for a bearer token, the current user and quota."),
    Tag(
        name="Files",
        description="Presigned uploads (reserve quota, send the file to storage, confirm or cancel) and "
        "presigned downloads of a score's PDF and thumbnails.",
    ),
    Tag(name="Scores", description="The library: scores made from uploads, their details and background processing."),
    Tag(name="Setlists", description="Ordered programmes of scores, with notes per item."),
    Tag(
        name="Duplicates",
        description="Scores of the same file, told by the SHA-256 the server computes of every stored PDF.",
    ),
    Tag(name="Dashboard", description="Quota, counts and the newest scores at a glance."),
    Tag(
        name="Admin",
        description="For administrators only (403 `forbidden` to other users): every account with its quota, "
        "deactivating and promoting accounts, and the server's figures.",
    ),
    Tag(name="Operations", description="Liveness and readiness for load balancers and orchestrators."),
]
_HEADERS: Mapping[str, OpenAPIHeader] = {
    "X-Request-ID": OpenAPIHeader(
        schema=Schema(type=OpenAPIType.STRING),
        description="The request's id: the caller's `X-Request-ID` when it is 1-128 of `A-Za-z0-9._:-`, else a new "
        "one. Every log line about the request carries it.",
        required=True,
    ),
    "Retry-After": OpenAPIHeader(
        schema=Schema(type=OpenAPIType.INTEGER, minimum=1),
        description="Seconds to wait before trying again.",
    ),
    "WWW-Authenticate": OpenAPIHeader(
        schema=Schema(type=OpenAPIType.STRING), description="`Bearer`: send `Authorization: Bearer <access_token>`."
    ),
    "ETag": OpenAPIHeader(
        schema=Schema(type=OpenAPIType.STRING),
        description="A weak tag of the body; send it back in `If-None-Match` to get 304 while nothing changed.",
        required=True,
    ),
}
_HEADERS_BY_STATUS: Mapping[str, tuple[str, ...]] = {
    "401": ("WWW-Authenticate",),
    "429": ("Retry-After",),
    "503": ("Retry-After",),
}
_IF_NONE_MATCH = Parameter(
    name="If-None-Match",
    param_in=ParamType.HEADER,
    required=False,
    schema=Schema(type=OpenAPIType.STRING),
    description="The `ETag` of the copy the client has: 304 with no body while it is still current.",
)


def complete_document(document: OpenAPI, revalidated_operations: Iterable[str]) -> OpenAPI:
    """What no route handler declares: 500 on every operation, the headers every response or some statuses carry,
    a description of every parameter, and `ETag`/`If-None-Match` on the operations that answer 304."""
    revalidated = set(revalidated_operations)
    for path_item in (document.paths or {}).values():
        for operation in _operations(path_item):
            responses = operation.responses if operation.responses is not None else {}
            operation.responses = responses
            responses.setdefault("500", _internal_error_response())
            for status, response in responses.items():
                if isinstance(response, OpenAPIResponse):
                    names = ("X-Request-ID", *_HEADERS_BY_STATUS.get(status, ()))
                    if operation.operation_id in revalidated and status in ("200", "304"):
                        names = (*names, "ETag")
                    response.headers = {**(response.headers or {}), **{name: _HEADERS[name] for name in names}}
            for parameter in operation.parameters or []:
                if isinstance(parameter, Parameter) and not parameter.description:
                    parameter.description = PARAMETER_DESCRIPTIONS.get(parameter.name)
            if operation.operation_id in revalidated:
                operation.parameters = [*(operation.parameters or []), _IF_NONE_MATCH]
    return document


def _internal_error_response() -> OpenAPIResponse:
    """What any request may answer when the server fails unexpectedly (entrypoints.http.errors answers it)."""
    code = "internal_error"
    examples: dict[str, Example | Reference] = {
        code: Example(summary=code, value={"status_code": 500, "code": code, "detail": INTERNAL_ERROR_DETAIL})
    }
    return OpenAPIResponse(
        description=f"Internal server error. `code` is:\n- `{code}`: {INTERNAL_ERROR_DETAIL}",
        content={
            "application/json": OpenAPIMediaType(
                schema=Reference(ref=f"#/components/schemas/{ErrorBody.__name__}"), examples=examples
            )
        },
    )


def _operations(path_item: PathItem) -> Iterable[Operation]:
    for method in ("get", "put", "post", "delete", "options", "head", "patch", "trace"):
        operation = getattr(path_item, method, None)
        if isinstance(operation, Operation):
            yield operation
