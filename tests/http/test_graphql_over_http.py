"""GraphQL over HTTP as the spec has it: media types, status codes, methods, CORS, introspection,
and graphql-http's own server audit against the real service."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import httpx
import pytest

from server.settings import Settings, SettingsError
from tests.support import operations as ops
from tests.support.api import OUTDIAL
from tests.support.hardening import (
    CREDENTIALS,
    GRAPHQL_RESPONSE,
    WRITE_TOKEN,
    served,
    websocket,
)
from tests.support.live_server import REPO_ROOT, live_service

pytestmark = pytest.mark.mock_only  # acts before storage: one tier is enough

JSON = "application/json"
APP_ORIGIN = "https://dialer.example.com"
OTHER_ORIGIN = "https://evil.example.net"
CREATE = "mutation($input: CreateOutdialtargetInput!) { createOutdialtarget(input: $input) { id } }"
GRAPHQL_HTTP_VERSION = "1.23.1"
GRAPHQL_VERSION = "16.11.0"


@pytest.fixture
def settings(request: pytest.FixtureRequest) -> Settings:
    overrides: dict[str, Any] = getattr(request, "param", {})
    return Settings(**overrides)


async def post(
    client: httpx.AsyncClient, body: Any, accept: str | None = GRAPHQL_RESPONSE, **headers: str
) -> httpx.Response:
    request = client.build_request("POST", "/graphql", json=body, headers=headers)
    if accept is None:
        del request.headers["accept"]
    else:
        request.headers["accept"] = accept
    return await client.send(request)


async def total(client: httpx.AsyncClient) -> int:
    body = {"query": ops.COUNTS, "variables": {"outdialId": OUTDIAL}}
    count: int = (await post(client, body)).json()["data"]["outdialtargetCounts"]["total"]
    return count


def media_type(response: httpx.Response) -> str:
    return response.headers["content-type"].split(";")[0]


# content negotiation


@pytest.mark.parametrize(
    "accept, answered",
    [
        (None, GRAPHQL_RESPONSE),
        ("", GRAPHQL_RESPONSE),
        (GRAPHQL_RESPONSE, GRAPHQL_RESPONSE),
        (f"{GRAPHQL_RESPONSE}; charset=utf-8", GRAPHQL_RESPONSE),
        (JSON, JSON),
        ("*/*", JSON),
        ("application/*", JSON),
        (f"{GRAPHQL_RESPONSE}, {JSON};q=0.9", GRAPHQL_RESPONSE),
        (f"{JSON};q=0.5, {GRAPHQL_RESPONSE}", GRAPHQL_RESPONSE),
        (f"{GRAPHQL_RESPONSE};q=0.1, {JSON}", JSON),
        (f"{JSON}, */*;q=0.1", JSON),
        ("text/html, */*;q=0.8", JSON),
        ("text/html", None),
        ("application/xml, text/plain", None),
        (f"{JSON};q=0, {GRAPHQL_RESPONSE};q=0", None),
    ],
)
async def test_the_response_media_type_follows_accept(
    client: httpx.AsyncClient, accept: str | None, answered: str | None
) -> None:
    response = await post(client, {"query": "{ __typename }"}, accept)
    if answered is None:
        assert response.status_code == 406
        assert response.json()["errors"][0]["extensions"] == {"code": "BAD_REQUEST"}
        return
    assert response.status_code == 200
    assert media_type(response) == answered
    assert response.headers["content-type"].endswith("charset=utf-8")
    assert response.json() == {"data": {"__typename": "Query"}}


# status codes

ERRORS = [
    pytest.param({"query": "{"}, "GRAPHQL_PARSE_FAILED", id="parse"),
    pytest.param({"query": "{ nope }"}, "GRAPHQL_VALIDATION_FAILED", id="validation"),
    pytest.param(
        {"query": ops.GET, "variables": {"id": None}}, "BAD_USER_INPUT", id="variable-null"
    ),
    pytest.param(
        {"query": ops.MARK, "variables": {"id": OUTDIAL, "slot": "zero"}},
        "BAD_USER_INPUT",
        id="variable-type",
    ),
    pytest.param(
        {"query": "query A { __typename }", "operationName": "B"},
        "GRAPHQL_VALIDATION_FAILED",
        id="unknown-operation",
    ),
    pytest.param(
        {"query": "subscription { outdialtargetStatusChanged { status } }"},
        "GRAPHQL_VALIDATION_FAILED",
        id="subscription-over-http",
    ),
]


@pytest.mark.parametrize("body, code", ERRORS)
@pytest.mark.parametrize("accept, status", [(GRAPHQL_RESPONSE, 400), (JSON, 200)])
async def test_request_errors_have_no_data_and_the_media_types_status(
    client: httpx.AsyncClient,
    caplog: pytest.LogCaptureFixture,
    body: dict[str, Any],
    code: str,
    accept: str,
    status: int,
) -> None:
    response = await post(client, body, accept)
    assert response.status_code == status
    assert media_type(response) == accept
    answer = response.json()
    assert "data" not in answer
    assert answer["errors"][0]["extensions"]["code"] == code
    assert not [record for record in caplog.records if record.levelname == "ERROR"]


@pytest.mark.parametrize("accept", [GRAPHQL_RESPONSE, JSON])
async def test_a_field_error_keeps_data_and_is_200(client: httpx.AsyncClient, accept: str) -> None:
    body = {"query": ops.MARK, "variables": {"id": OUTDIAL, "slot": 0}}
    response = await post(client, body, accept)
    assert response.status_code == 200
    answer = response.json()
    assert answer["data"] is None
    assert answer["errors"][0]["extensions"]["code"] == "NOT_FOUND"
    assert answer["errors"][0]["path"] == ["markOutdialtargetProgressing"]


@pytest.mark.parametrize(
    "body, message",
    [
        (b'{"query": "{ __typename }"', "Unable to parse request body as JSON"),
        (b"", "must be a JSON object"),
        (b'"{ __typename }"', "must be a JSON object"),
        (b"null", "must be a JSON object"),
        (b" 1", "must be a JSON object"),
        (b'\n{"query": "{ __typename }"} x', "Unable to parse request body as JSON"),
        (b"{}", "No GraphQL query found"),
        (b'{"query": 1}', "`query` must be a string"),
        (b'{"query": "{ __typename }", "variables": []}', "`variables` must be an object"),
        (b'{"query": "{ __typename }", "operationName": 1}', "`operationName` must be a string"),
        (b'{"query": "{ __typename }", "extensions": "x"}', "`extensions` must be an object"),
        (b'[{"query": "{ __typename }"}]', "Batching is not enabled"),
    ],
)
async def test_malformed_requests_are_400_with_a_graphql_error_body(
    client: httpx.AsyncClient, body: bytes, message: str
) -> None:
    response = await client.post(
        "/graphql",
        content=body,
        headers={"content-type": JSON, "accept": GRAPHQL_RESPONSE},
    )
    assert response.status_code == 400
    assert media_type(response) == GRAPHQL_RESPONSE
    error = response.json()["errors"][0]
    assert error["extensions"] == {"code": "BAD_REQUEST"}
    assert message in error["message"]


# methods and content types


@pytest.mark.parametrize(
    "headers, content",
    [
        pytest.param({}, None, id="no-content-type"),
        pytest.param({"content-type": "text/plain"}, None, id="text-plain"),
        pytest.param({"content-type": "application/json; charset=latin-1"}, None, id="latin-1"),
        pytest.param({"content-type": "application/jsonp"}, None, id="jsonp"),
        pytest.param({"content-type": "application/graphql"}, "query-text", id="graphql"),
        pytest.param({"content-type": "multipart/form-data; boundary=x"}, None, id="multipart"),
    ],
)
async def test_post_bodies_other_than_json_are_415_and_write_nothing(
    client: httpx.AsyncClient, headers: dict[str, str], content: str | None
) -> None:
    body = {"query": CREATE, "variables": {"input": ops.new_input(OUTDIAL)}}
    payload = CREATE if content == "query-text" else json.dumps(body)
    request = client.build_request("POST", "/graphql", content=payload, headers=headers)
    if not headers:
        request.headers.pop("content-type", None)
    response = await client.send(request)
    assert response.status_code == 415
    assert response.json()["errors"][0]["extensions"] == {"code": "BAD_REQUEST"}
    assert await total(client) == 0


async def test_a_cross_site_html_form_cannot_run_a_mutation(client: httpx.AsyncClient) -> None:
    form = {"query": CREATE, "variables": json.dumps({"input": ops.new_input(OUTDIAL)})}
    posted = await client.post("/graphql", data=form, headers={"origin": OTHER_ORIGIN})
    assert posted.status_code == 415
    linked = await client.get("/graphql", params=form, headers={"accept": "*/*"})
    assert linked.status_code == 405
    assert await total(client) == 0


@pytest.mark.parametrize("accept", [GRAPHQL_RESPONSE, JSON])
async def test_get_runs_queries_only(client: httpx.AsyncClient, accept: str) -> None:
    query = await client.get(
        "/graphql",
        params={"query": ops.COUNTS, "variables": json.dumps({"outdialId": OUTDIAL})},
        headers={"accept": accept},
    )
    assert query.status_code == 200
    assert media_type(query) == accept
    assert query.json()["data"]["outdialtargetCounts"]["total"] == 0
    mutation = await client.get(
        "/graphql",
        params={"query": CREATE, "variables": json.dumps({"input": ops.new_input(OUTDIAL)})},
        headers={"accept": accept},
    )
    assert mutation.status_code == 405
    assert await total(client) == 0


async def test_get_with_a_query_and_only_html_acceptable_is_406(
    client: httpx.AsyncClient,
) -> None:
    response = await client.get(
        "/graphql", params={"query": "{ __typename }"}, headers={"accept": "text/html"}
    )
    assert response.status_code == 406


@pytest.mark.parametrize("method", ["PUT", "PATCH", "DELETE"])
async def test_other_methods_are_405(client: httpx.AsyncClient, method: str) -> None:
    response = await client.request(method, "/graphql", json={"query": "{ __typename }"})
    assert response.status_code == 405


async def test_utf8_documents_and_answers(client: httpx.AsyncClient) -> None:
    body = {"query": '{ __type(name: "Run🏃Swim🏊") { name } }'}
    response = await post(client, body, **{"content-type": "application/json; charset=utf-8"})
    assert response.status_code == 200
    assert response.json() == {"data": {"__type": None}}


# browsers on other origins


def preflight(origin: str) -> dict[str, str]:
    return {
        "origin": origin,
        "access-control-request-method": "POST",
        "access-control-request-headers": "authorization, content-type",
    }


async def test_by_default_no_origin_is_allowed(client: httpx.AsyncClient) -> None:
    answered = await client.options("/graphql", headers=preflight(APP_ORIGIN))
    assert "access-control-allow-origin" not in answered.headers
    posted = await post(client, {"query": "{ __typename }"}, origin=APP_ORIGIN)
    assert "access-control-allow-origin" not in posted.headers


@pytest.mark.parametrize("settings", [{"cors_origins": (APP_ORIGIN,)}], indirect=True)
async def test_configured_origins_get_preflight_and_cors_headers(
    client: httpx.AsyncClient,
) -> None:
    allowed = await client.options("/graphql", headers=preflight(APP_ORIGIN))
    assert allowed.status_code == 200
    assert allowed.headers["access-control-allow-origin"] == APP_ORIGIN
    assert "POST" in allowed.headers["access-control-allow-methods"]
    allowed_headers = allowed.headers["access-control-allow-headers"].lower()
    assert "authorization" in allowed_headers and "content-type" in allowed_headers

    refused = await client.options("/graphql", headers=preflight(OTHER_ORIGIN))
    assert refused.status_code == 400
    assert "access-control-allow-origin" not in refused.headers

    posted = await post(client, {"query": "{ __typename }"}, origin=APP_ORIGIN)
    assert posted.headers["access-control-allow-origin"] == APP_ORIGIN
    other = await post(client, {"query": "{ __typename }"}, origin=OTHER_ORIGIN)
    assert "access-control-allow-origin" not in other.headers


async def test_websockets_from_other_origins_follow_the_same_list() -> None:
    async with served(Settings(cors_origins=(APP_ORIGIN,))) as url:
        async with websocket(url, "graphql-transport-ws", {"origin": APP_ORIGIN}) as connection:
            assert connection.subprotocol == "graphql-transport-ws"
        with pytest.raises(Exception, match="403"):
            async with websocket(url, "graphql-transport-ws", {"origin": OTHER_ORIGIN}):
                pass


def test_cors_origins_are_read_and_checked_from_the_environment() -> None:
    settings = Settings.from_env({"CORS_ORIGINS": f"{APP_ORIGIN}, http://localhost:5173"})
    assert settings.cors_origins == (APP_ORIGIN, "http://localhost:5173")
    assert Settings.from_env({}).cors_origins == ()
    with pytest.raises(SettingsError, match="CORS_ORIGINS"):
        Settings.from_env({"CORS_ORIGINS": "https://dialer.example.com/app"})


# introspection

SUGGESTING = [
    pytest.param({"query": f'{{ outdialtarget(id: "{OUTDIAL}") {{ nam }} }}'}, id="field"),
    pytest.param({"query": f'{{ outdialtarget(idd: "{OUTDIAL}") {{ id }} }}'}, id="argument"),
    pytest.param({"query": "{ outdialtargt { id } }"}, id="root-field"),
    pytest.param(
        {"query": ops.REPORT, "variables": {"id": OUTDIAL, "status": "DON"}}, id="enum-variable"
    ),
    pytest.param(
        {"query": CREATE, "variables": {"input": {**ops.new_input(OUTDIAL), "nam": "x"}}},
        id="input-field",
    ),
]


@pytest.mark.parametrize("body", SUGGESTING)
async def test_with_introspection_on_errors_suggest_names(
    client: httpx.AsyncClient, body: dict[str, Any]
) -> None:
    assert "Did you mean" in (await post(client, body)).json()["errors"][0]["message"]


@pytest.mark.parametrize("settings", [{"introspection": False}], indirect=True)
@pytest.mark.parametrize("body", SUGGESTING)
async def test_with_introspection_off_errors_suggest_nothing(
    client: httpx.AsyncClient, body: dict[str, Any]
) -> None:
    response = await post(client, body)
    assert response.status_code == 400
    error = response.json()["errors"][0]
    assert "Did you mean" not in error["message"]
    assert error["message"].endswith((".", "'"))


@pytest.mark.parametrize("settings", [{"introspection": False}], indirect=True)
@pytest.mark.parametrize("field", ["__schema { types { name } }", '__type(name: "Query") { name }'])
async def test_introspection_can_be_switched_off(client: httpx.AsyncClient, field: str) -> None:
    refused = await post(client, {"query": f"{{ {field} }}"})
    assert refused.status_code == 400
    error = refused.json()["errors"][0]
    assert error["extensions"]["code"] == "GRAPHQL_VALIDATION_FAILED"
    assert "introspection has been disabled" in error["message"]
    typename = await post(client, {"query": "{ __typename }"})
    assert typename.json() == {"data": {"__typename": "Query"}}


def test_introspection_is_read_from_the_environment() -> None:
    assert Settings.from_env({"INTROSPECTION": "0"}).introspection is False
    assert Settings.from_env({"INTROSPECTION": "true"}).introspection is True
    assert Settings.from_env({}).introspection is True
    with pytest.raises(SettingsError, match="INTROSPECTION"):
        Settings.from_env({"INTROSPECTION": "maybe"})


# the graphql-http audit


def graphql_http_dir() -> Path:
    """graphql-http, pinned, installed once into a cache outside the repository."""
    assert shutil.which("node") and shutil.which("npm"), "the audit needs node and npm"
    default = Path.home() / ".cache" / "outdial-audit"
    directory = Path(os.environ.get("OUTDIAL_AUDIT_CACHE", default))
    installed = directory / "node_modules" / "graphql-http" / "package.json"
    if (
        not installed.exists()
        or json.loads(installed.read_text())["version"] != GRAPHQL_HTTP_VERSION
    ):
        directory.mkdir(parents=True, exist_ok=True)
        subprocess.run(
            [
                "npm",
                "install",
                "--no-audit",
                "--no-fund",
                "--no-save",
                "--prefix",
                str(directory),
                f"graphql-http@{GRAPHQL_HTTP_VERSION}",
                f"graphql@{GRAPHQL_VERSION}",
            ],
            check=True,
            capture_output=True,
            timeout=300,
        )
    return directory


@pytest.mark.node
def test_the_graphql_http_server_audit_passes_every_must_and_should(tmp_path: Path) -> None:
    audit_dir = graphql_http_dir()
    env = {"AUTH_TOKENS": f"write:{CREDENTIALS[1].digest.hex()}", "DATA_DIR": str(tmp_path)}
    with live_service(env) as service:
        audited = subprocess.run(
            [
                "node",
                str(REPO_ROOT / "scripts" / "graphql-http-audit.mjs"),
                f"{service.url}/graphql",
            ],
            env={**os.environ, "GRAPHQL_HTTP_DIR": str(audit_dir), "AUDIT_TOKEN": WRITE_TOKEN},
            capture_output=True,
            text=True,
            timeout=120,
        )
    print(audited.stdout)  # noqa: T201 - `make audit` shows the summary
    counts = json.loads(audited.stdout.strip().splitlines()[-1])
    assert counts["MUST"]["failed"] == 0 and counts["SHOULD"]["failed"] == 0, audited.stdout
    assert counts["MUST"]["passed"] >= 10 and counts["SHOULD"]["passed"] >= 20
    assert audited.returncode == 0, audited.stderr
