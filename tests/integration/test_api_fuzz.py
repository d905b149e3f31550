"""The live API against its own OpenAPI document: the document itself, and property-based fuzzing (Schemathesis).

A real `scoremate serve` per backend (SQLite and Postgres). Every operation of /schema/openapi.json runs with a
bounded number of generated requests, valid and invalid; every response must be no 5xx, a documented status with
the documented content type, and a body that matches the documented schema. Half the generated ids are replaced
by ids of a real score, upload, setlist and item of the fuzzing user, so the fuzzer reaches past "not found".
"""

from __future__ import annotations

import itertools
import re
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from openapi_spec_validator import validate as validate_openapi
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from tests.integration.support import samples
from tests.integration.support.api import register
from tests.integration.support.backends import serve_on
from tests.integration.support.server import REPO_ROOT, Server

pytest_plugins = ["schemathesis.pytest.plugin"]  # loaded here only: pytest does not autoload plugins (pyproject)

API = "/api/v1"
ODE = samples.ode()
MAX_EXAMPLES = 25
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]
PUBLIC = {"register", "login", "liveness", "readiness"}


@dataclass
class Fuzzing:
    server: Server
    headers: dict[str, str]
    ids: dict[str, list[str]]  # name of a path or body field -> ids of real resources of the fuzzing user


async def _seed(server: Server) -> Fuzzing:
    """A user with a score, a pending upload (nothing stored) and a setlist holding the score."""
    async with httpx.AsyncClient(base_url=server.base_url, timeout=60) as client:
        user = await register(client)
        score = await user.create_score(ODE, title="Ode to Joy")
        pending = await user.request_upload(ODE, "pending.pdf")
        setlist = (await user.post(f"{API}/setlists", json={"name": "Fuzzed"})).json()
        item = (await user.post(f"{API}/setlists/{setlist['id']}/items", json={"score_id": score["id"]})).json()
        await user.wait_for_score(score["id"])
    ids = {
        "score_id": [score["id"]],
        "upload_id": [score["upload_id"], pending["upload_id"]],
        "setlist_id": [setlist["id"]],
        "item_id": [item["id"]],
    }
    return Fuzzing(server, user.headers, ids)


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
async def fuzzing(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Fuzzing]:
    backend: str = request.param
    data_dir = tmp_path_factory.mktemp(f"fuzz-{backend}")
    settings: dict[str, object] = {"upload_rate_limit": "100000/minute"}
    async with serve_on(backend, data_dir, **settings) as running:
        yield await _seed(running)


@pytest.fixture(scope="module")
def openapi(fuzzing: Fuzzing) -> dict[str, Any]:
    response = httpx.get(f"{fuzzing.server.base_url}/schema/openapi.json", timeout=30)
    assert response.status_code == 200, response.text
    document: dict[str, Any] = response.json()
    return document


@pytest.fixture(scope="module")
def api_schema(fuzzing: Fuzzing) -> schemathesis.BaseSchema:
    # The local-storage routes under /storage are not in the document; nothing to exclude.
    return schemathesis.openapi.from_url(f"{fuzzing.server.base_url}/schema/openapi.json")


schema = schemathesis.pytest.from_fixture("api_schema")
_turns = itertools.count()


def _aim_at_real_resources(case: schemathesis.Case, ids: dict[str, list[str]]) -> None:
    """Replace the generated ids by real ones in every other case (never for DELETE, which would remove them)."""
    turn = next(_turns)
    if turn % 2 or case.method.upper() == "DELETE":
        return
    body = case.body if isinstance(case.body, dict) else {}
    for fields in (case.path_parameters, body):
        for name in fields.keys() & ids.keys():
            fields[name] = ids[name][turn // 2 % len(ids[name])]


@schema.parametrize()
@settings(
    max_examples=MAX_EXAMPLES,
    deadline=None,
    derandomize=True,
    # Every example is a request to a live server (slow by Hypothesis' measure) and some strategies filter a lot.
    suppress_health_check=[HealthCheck.filter_too_much, HealthCheck.too_slow],
)
def test_no_request_breaks_the_api_or_its_documented_answers(case: schemathesis.Case, fuzzing: Fuzzing) -> None:
    _aim_at_real_resources(case, fuzzing.ids)
    case.call_and_validate(headers=fuzzing.headers, checks=CHECKS)


# --- the document itself -----------------------------------------------------------------------------------------


def _operations(document: dict[str, Any]) -> Iterator[tuple[str, str, dict[str, Any]]]:
    for path, item in document["paths"].items():
        for method, operation in item.items():
            if method in {"get", "put", "post", "patch", "delete"}:
                yield method.upper(), path, operation


def _contract_error_codes() -> set[str]:
    """Every `code` named in API.md: in the errors column of a table (word_with_underscores after a status) and in
    the text (a status then a code in backticks, as "401 `account_disabled`")."""
    text = (REPO_ROOT.parent / "shared" / "API.md").read_text()
    codes = set(re.findall(r"\b[45]\d\d\s+`([a-z_]+)`", text))
    for line in text.splitlines():
        cells = [cell.strip() for cell in line.split("|")]
        if line.startswith("|") and len(cells) > 2:
            codes.update(re.findall(r"\b\d{3} ([a-z]+_[a-z_]+)", cells[-2]))
    return codes


def test_the_document_is_valid_openapi_3_1(openapi: dict[str, Any]) -> None:
    assert openapi["openapi"].startswith("3.1")
    validate_openapi(openapi)


def test_every_operation_is_described_for_client_generators(openapi: dict[str, Any]) -> None:
    operation_ids = []
    for method, path, operation in _operations(openapi):
        where = f"{method} {path}"
        assert not path.startswith("/storage"), where
        assert operation.get("summary"), where
        assert operation.get("description"), where
        operation_ids.append(operation["operationId"])
        assert re.fullmatch(r"[a-z][A-Za-z]+", operation["operationId"]), where
        for status, response in operation["responses"].items():
            if status.startswith(("4", "5")) and operation["operationId"] != "readiness":
                schema = response["content"]["application/json"]["schema"]
                assert schema == {"$ref": "#/components/schemas/ErrorBody"}, where
                assert set(response["content"]["application/json"]["examples"]), where
        if "requestBody" in operation:
            assert "413" in operation["responses"], f"{where}: a JSON body can be too large"
            assert "400" in operation["responses"], where
    assert len(operation_ids) == len(set(operation_ids)) >= 27


def test_bearer_auth_is_declared_and_only_register_login_and_health_go_without(openapi: dict[str, Any]) -> None:
    scheme = openapi["components"]["securitySchemes"]["BearerAuth"]
    assert (scheme["type"], scheme["scheme"]) == ("http", "bearer")
    assert openapi["security"] == [{"BearerAuth": []}]
    for method, path, operation in _operations(openapi):
        if operation["operationId"] in PUBLIC:
            assert operation["security"] == [], f"{method} {path}"
        else:
            assert operation["security"] == [{"BearerAuth": []}], f"{method} {path}"
            assert "not_authenticated" in operation["responses"]["401"]["content"]["application/json"]["examples"]


def test_every_error_code_of_the_contract_is_documented(openapi: dict[str, Any]) -> None:
    documented = {
        code
        for _, _, operation in _operations(openapi)
        for status, response in operation["responses"].items()
        if status.startswith("4")
        for code in response.get("content", {}).get("application/json", {}).get("examples", {})
    }
    contract = _contract_error_codes()
    assert {"email_taken", "quota_exceeded", "upload_incomplete", "not_ready", "request_too_large"} <= documented
    assert len(contract) > 10
    assert {"duplicate_score", "user_not_found", "account_disabled", "registration_closed", "forbidden"} <= contract
    assert contract <= documented, contract - documented


def test_the_upload_flow_has_examples(openapi: dict[str, Any]) -> None:
    upload_url = openapi["paths"][f"{API}/files/upload-url"]["post"]
    assert upload_url["requestBody"]["content"]["application/json"]["schema"]["examples"]
    ticket = upload_url["responses"]["201"]["content"]["application/json"]["examples"]["s3"]["value"]
    assert ticket["method"] == "PUT"
    assert ticket["headers"] == {"Content-Type": "application/pdf", "Content-Length": "199199", "If-None-Match": "*"}
    confirm = openapi["paths"][f"{API}/files/upload-confirm"]["post"]
    assert confirm["requestBody"]["content"]["application/json"]["schema"]["examples"]
    assert confirm["responses"]["200"]["content"]["application/json"]["examples"]["confirmed"]["value"]["status"] == (
        "confirmed"
    )


def test_interactive_docs_are_served_without_a_token(fuzzing: Fuzzing) -> None:
    docs = httpx.get(f"{fuzzing.server.base_url}/schema", timeout=30)
    assert docs.status_code == 200
    assert "text/html" in docs.headers["content-type"]
