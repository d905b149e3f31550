"""The OpenAPI side of the contract: which error codes each operation answers, and which operations are public.

One table, ``OPERATIONS``, says for every operation of /api/v1 which `(status, code)` pairs it can answer beyond
its success; ``documented(name)`` turns a row into the route handler's ``operation_id`` and ``responses``, so the
generated document lists every error status with its codes, an example body per code, and the error schema.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from litestar.openapi.datastructures import ResponseSpec
from litestar.openapi.spec import Example, Operation

from entrypoints.http.schemas import ErrorBody

BEARER = "BearerAuth"

# Every machine code the API answers with, and what it means; API.md names most of them.
ERROR_CODES: Mapping[str, str] = {
    "validation_error": "The request is malformed or a value is out of range; `errors`, if given, lists the fields.",
    "not_authenticated": "The bearer token is missing, malformed or expired, or its account no longer exists.",
    "invalid_credentials": "The email or password is wrong.",
    "email_taken": "An account with this email already exists (emails are compared regardless of case).",
    "too_many_requests": "Too many attempts in the current window; retry after `Retry-After` seconds.",
    "invalid_mime_type": "Only PDFs: `content_type` must be `application/pdf` and `filename` must end `.pdf`.",
    "file_too_large": "The file is larger than the per-file limit (`SCOREMATE_MAX_UPLOAD_BYTES`, 100 MiB by default).",
    "request_too_large": "The request body is larger than `SCOREMATE_MAX_REQUEST_BODY_BYTES` (1 MiB by default).",
    "quota_exceeded": "The file does not fit in the remaining storage quota (used plus reserved bytes).",
    "upload_not_found": "No such upload of this user: unknown, another user's, expired or cancelled.",
    "upload_incomplete": "Nothing has been stored under the upload's URL yet.",
    "size_mismatch": "The stored file's size differs from the declared `size_bytes`; it was deleted.",
    "not_a_pdf": "`%PDF-` does not occur in the first 1024 bytes of the stored file; it was deleted.",
    "already_confirmed": "The upload is already confirmed; it can no longer be cancelled.",
    "upload_already_used": "The upload already belongs to a score.",
    "score_not_found": "No such score of this user.",
    "not_ready": "The requested thumbnail has not been generated yet.",
    "setlist_not_found": "No such setlist of this user.",
    "setlist_item_not_found": "No such item in this setlist.",
    "not_found": "No route matches the path, e.g. an id that is not a UUID.",
    "service_unavailable": "A backing service (database, storage, quota ledger or queue) is unavailable; retry later.",
}

STATUS_TEXT: Mapping[int, str] = {
    400: "Bad request",
    401: "Not authenticated",
    404: "Not found",
    409: "Conflict",
    413: "Too large",
    429: "Too many requests",
    503: "Service unavailable",
}


@dataclass(frozen=True)
class Documented:
    """One operation's error answers: its own codes, plus those its inputs and its security imply."""

    errors: Mapping[int, Sequence[str]] = field(default_factory=dict)
    body: bool = False  # a JSON body: 400 validation_error, 413 request_too_large
    path: bool = False  # ids in the path: 404 not_found (not a UUID)
    public: bool = False  # no bearer token: no 401 not_authenticated

    def codes(self) -> dict[int, list[str]]:
        # Any request can be malformed (a bad Host header, say), so every operation may answer 400.
        implied: list[tuple[int, str]] = [(400, "validation_error")]
        if self.body:
            implied.append((413, "request_too_large"))
        if self.path:
            implied.append((404, "not_found"))
        if not self.public:
            implied.append((401, "not_authenticated"))
        implied.append((503, "service_unavailable"))
        codes: dict[int, list[str]] = {status: list(names) for status, names in self.errors.items()}
        for status, code in implied:
            if code not in codes.setdefault(status, []):
                codes[status].append(code)
        return dict(sorted(codes.items()))


SCORE_NOT_FOUND = {404: ["score_not_found"]}
SETLIST_NOT_FOUND = {404: ["setlist_not_found"]}
ITEM_NOT_FOUND = {404: ["setlist_not_found", "setlist_item_not_found"]}
CONFIRM_ERRORS = {400: ["size_mismatch", "not_a_pdf"], 404: ["upload_not_found"], 409: ["upload_incomplete"]}

# operation id -> the errors it answers (API.md's tables).
OPERATIONS: Mapping[str, Documented] = {
    "register": Documented({409: ["email_taken"], 429: ["too_many_requests"]}, body=True, public=True),
    "login": Documented({401: ["invalid_credentials"], 429: ["too_many_requests"]}, body=True, public=True),
    "getMe": Documented(),
    "requestUploadUrl": Documented(
        {
            400: ["invalid_mime_type"],
            409: ["quota_exceeded"],
            413: ["file_too_large"],
            429: ["too_many_requests"],
        },
        body=True,
    ),
    "confirmUpload": Documented(CONFIRM_ERRORS, body=True),
    "cancelUpload": Documented({404: ["upload_not_found"], 409: ["already_confirmed"]}, body=True),
    "getDownloadUrl": Documented({404: ["score_not_found"], 409: ["not_ready"]}),
    "createScore": Documented({**CONFIRM_ERRORS, 409: ["upload_already_used", "upload_incomplete"]}, body=True),
    "listScores": Documented(),
    "getScore": Documented(SCORE_NOT_FOUND, path=True),
    "updateScore": Documented(SCORE_NOT_FOUND, path=True, body=True),
    "deleteScore": Documented(SCORE_NOT_FOUND, path=True),
    "regenerateThumbnail": Documented(SCORE_NOT_FOUND, path=True, body=True),
    "refreshInfo": Documented(SCORE_NOT_FOUND, path=True),
    "generateAllThumbnails": Documented(SCORE_NOT_FOUND, path=True),
    "createSetlist": Documented(body=True),
    "listSetlists": Documented(),
    "getSetlist": Documented(SETLIST_NOT_FOUND, path=True),
    "updateSetlist": Documented(SETLIST_NOT_FOUND, path=True, body=True),
    "deleteSetlist": Documented(SETLIST_NOT_FOUND, path=True),
    "addSetlistItem": Documented({404: ["setlist_not_found", "score_not_found"]}, path=True, body=True),
    "updateSetlistItem": Documented(ITEM_NOT_FOUND, path=True, body=True),
    "removeSetlistItem": Documented(ITEM_NOT_FOUND, path=True),
    "reorderSetlistItems": Documented(SETLIST_NOT_FOUND, path=True, body=True),
    "getDashboard": Documented(),
}


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


def error_response(status: int, codes: Sequence[str]) -> ResponseSpec:
    """The documented answer of one error status: ErrorBody, the codes in the description, an example of each."""
    lines = "\n".join(f"- `{code}`: {ERROR_CODES[code]}" for code in codes)
    examples: list[Example] = [
        KeyedExample(
            id=code,
            summary=code,
            value={"status_code": status, "code": code, "detail": ERROR_CODES[code]},
        )
        for code in codes
    ]
    return ResponseSpec(
        data_container=ErrorBody,
        description=f"{STATUS_TEXT.get(status, 'Error')}. `code` is one of:\n{lines}",
        examples=examples,
        generate_examples=False,
    )


PUBLIC = "public"  # route handler opt: callable without a bearer token


def documented(operation_id: str, success: Mapping[int, ResponseSpec] | None = None) -> dict[str, Any]:
    """Keyword arguments of a route handler: its operation id, its responses and, if public, no security.

    ``success`` replaces the generated success response, e.g. to give it examples.
    """
    row = OPERATIONS[operation_id]
    responses = {status: error_response(status, codes) for status, codes in row.codes().items()}
    responses.update(success or {})
    kwargs: dict[str, Any] = {"operation_id": operation_id, "responses": responses}
    if row.public:
        kwargs["operation_class"] = PublicOperation
        kwargs["opt"] = {PUBLIC: True}
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
