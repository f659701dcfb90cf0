"""Bearer tokens and their scopes, over HTTP and over both websocket protocols."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from server.app import create_app
from server.guards.auth import Credential
from server.settings import Settings, SettingsError
from tests.support import operations as ops
from tests.support.api import OUTDIAL
from tests.support.hardening import (
    CREDENTIALS,
    GRAPHQL_RESPONSE,
    READ_TOKEN,
    WRITE_TOKEN,
    bearer,
    close_code,
    digest,
    mock_storage,
    receive,
    send,
    served,
    websocket,
)
from tests.support.live_server import REPO_ROOT

pytestmark = pytest.mark.mock_only  # acts before storage: one tier is enough

TRANSPORT_WS, LEGACY_WS = "graphql-transport-ws", "graphql-ws"
STATUS_CHANGES = """subscription($outdialId: ID) {
  outdialtargetStatusChanged(outdialId: $outdialId) { previousStatus status target { id } } }"""
CREATE = "mutation($input: CreateOutdialtargetInput!) { createOutdialtarget(input: $input) { id } }"
MARK = """mutation($id: ID!) {
  markOutdialtargetProgressing(id: $id, destinationIndex: 0) { status } }"""

WRONG = [
    pytest.param({}, id="no-header"),
    pytest.param(bearer("not-a-configured-token"), id="unknown-token"),
    pytest.param({"authorization": f"Basic {WRITE_TOKEN}"}, id="basic-scheme"),
    pytest.param({"authorization": WRITE_TOKEN}, id="no-scheme"),
    pytest.param({"authorization": "Bearer "}, id="empty-token"),
    pytest.param(bearer(WRITE_TOKEN + "x"), id="token-plus-a-char"),
]


@pytest.fixture
def settings() -> Settings:
    return Settings(auth_tokens=CREDENTIALS)


async def post(
    client: httpx.AsyncClient,
    query: str,
    headers: dict[str, str],
    accept: str = GRAPHQL_RESPONSE,
    **variables: Any,
) -> httpx.Response:
    return await client.post(
        "/graphql",
        json={"query": query, "variables": variables},
        headers={"accept": accept, **headers},
    )


async def total(client: httpx.AsyncClient) -> int:
    response = await post(client, ops.COUNTS, bearer(READ_TOKEN), outdialId=OUTDIAL)
    count: int = response.json()["data"]["outdialtargetCounts"]["total"]
    return count


def only_error(response: httpx.Response) -> dict[str, Any]:
    body = response.json()
    assert "data" not in body, body
    assert len(body["errors"]) == 1, body
    error: dict[str, Any] = body["errors"][0]
    return error


# HTTP


@pytest.mark.parametrize("headers", WRONG)
@pytest.mark.parametrize("query", [ops.COUNTS, CREATE], ids=["query", "mutation"])
async def test_a_missing_or_wrong_token_is_401_and_writes_nothing(
    client: httpx.AsyncClient, headers: dict[str, str], query: str
) -> None:
    response = await post(client, query, headers, outdialId=OUTDIAL, input=ops.new_input(OUTDIAL))
    assert response.status_code == 401
    assert response.headers["www-authenticate"] == "Bearer"
    assert response.headers["content-type"].startswith(GRAPHQL_RESPONSE)
    assert only_error(response)["extensions"] == {"code": "UNAUTHENTICATED"}
    assert await total(client) == 0


async def test_a_plain_json_client_gets_200_with_the_unauthenticated_error(
    client: httpx.AsyncClient,
) -> None:
    response = await post(client, ops.COUNTS, {}, accept="application/json", outdialId=OUTDIAL)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/json")
    assert only_error(response)["extensions"]["code"] == "UNAUTHENTICATED"


async def test_without_a_token_nothing_about_the_schema_is_revealed(
    client: httpx.AsyncClient,
) -> None:
    response = await post(client, "{ outdialtargt(id: 1) { nam } }", {})
    error = only_error(response)
    assert error["extensions"]["code"] == "UNAUTHENTICATED"
    assert "outdialtarget" not in response.text and "Did you mean" not in response.text


@pytest.mark.parametrize("token", [READ_TOKEN, WRITE_TOKEN], ids=["read", "write"])
async def test_both_scopes_run_queries_over_post_and_get(
    client: httpx.AsyncClient, token: str
) -> None:
    posted = await post(client, ops.COUNTS, bearer(token), outdialId=OUTDIAL)
    assert posted.status_code == 200
    assert posted.json() == {
        "data": {"outdialtargetCounts": {"idle": 0, "progressing": 0, "done": 0, "total": 0}}
    }
    got = await client.get(
        "/graphql",
        params={"query": "{ __typename }"},
        headers={"accept": GRAPHQL_RESPONSE, **bearer(token)},
    )
    assert got.status_code == 200
    assert got.json() == {"data": {"__typename": "Query"}}


@pytest.mark.parametrize("accept, status", [(GRAPHQL_RESPONSE, 403), ("application/json", 200)])
async def test_a_read_token_on_a_mutation_is_forbidden_and_writes_nothing(
    client: httpx.AsyncClient, accept: str, status: int
) -> None:
    response = await post(client, CREATE, bearer(READ_TOKEN), accept, input=ops.new_input(OUTDIAL))
    assert response.status_code == status
    error = only_error(response)
    assert error["extensions"] == {"code": "FORBIDDEN"}
    assert "write" in error["message"]
    assert await total(client) == 0


async def test_a_read_token_may_not_hide_a_mutation_behind_an_operation_name(
    client: httpx.AsyncClient,
) -> None:
    document = f"query Look {{ __typename }}\n{CREATE.replace('mutation(', 'mutation Write(')}"
    response = await client.post(
        "/graphql",
        json={
            "query": document,
            "operationName": "Write",
            "variables": {"input": ops.new_input(OUTDIAL)},
        },
        headers={"accept": GRAPHQL_RESPONSE, **bearer(READ_TOKEN)},
    )
    assert response.status_code == 403
    assert await total(client) == 0


async def test_a_write_token_runs_mutations(client: httpx.AsyncClient) -> None:
    response = await post(client, CREATE, bearer(WRITE_TOKEN), input=ops.new_input(OUTDIAL))
    assert response.status_code == 200
    assert response.json()["data"]["createOutdialtarget"]["id"]
    assert await total(client) == 1


# websockets


@pytest.fixture
async def url() -> AsyncIterator[str]:
    async with served(Settings(auth_tokens=CREDENTIALS)) as base_url:
        yield base_url


def start(protocol: str, query: str, **variables: Any) -> dict[str, Any]:
    kind = "subscribe" if protocol == TRANSPORT_WS else "start"
    return {"id": "1", "type": kind, "payload": {"query": query, "variables": variables}}


async def create_and_mark(url: str) -> str:
    async with httpx.AsyncClient(base_url=url, headers=bearer(WRITE_TOKEN)) as http:
        created = await http.post(
            "/graphql", json={"query": CREATE, "variables": {"input": ops.new_input(OUTDIAL)}}
        )
        target_id: str = created.json()["data"]["createOutdialtarget"]["id"]
        marked = await http.post("/graphql", json={"query": MARK, "variables": {"id": target_id}})
        assert marked.json() == {
            "data": {"markOutdialtargetProgressing": {"status": "PROGRESSING"}}
        }
    return target_id


async def event_after_change(url: str, protocol: str, connection: Any) -> None:
    """Subscribed, the connection sees the next status change (no protocol acknowledges a
    subscription, so the change repeats until the event arrives)."""
    await send(connection, start(protocol, STATUS_CHANGES, outdialId=OUTDIAL))
    changed = []
    for _ in range(10):
        changed.append(await create_and_mark(url))
        try:
            message = await receive(connection)
        except TimeoutError:
            continue
        assert message["type"] in ("next", "data"), message
        change = message["payload"]["data"]["outdialtargetStatusChanged"]
        assert (change["previousStatus"], change["status"]) == ("IDLE", "PROGRESSING")
        assert change["target"]["id"] in changed
        return
    pytest.fail("no status change event arrived")


@pytest.mark.parametrize("protocol", [TRANSPORT_WS, LEGACY_WS])
@pytest.mark.parametrize("token", [READ_TOKEN, WRITE_TOKEN], ids=["read", "write"])
async def test_a_token_in_connection_init_subscribes(url: str, protocol: str, token: str) -> None:
    async with websocket(url, protocol) as connection:
        await send(connection, {"type": "connection_init", "payload": bearer(token)})
        assert (await receive(connection))["type"] == "connection_ack"
        await event_after_change(url, protocol, connection)


@pytest.mark.parametrize("protocol", [TRANSPORT_WS, LEGACY_WS])
async def test_a_token_in_the_upgrade_request_subscribes(url: str, protocol: str) -> None:
    async with websocket(url, protocol, headers=bearer(READ_TOKEN)) as connection:
        await send(connection, {"type": "connection_init", "payload": {}})
        assert (await receive(connection))["type"] == "connection_ack"
        await event_after_change(url, protocol, connection)


REFUSED = [
    pytest.param(None, {}, id="no-token"),
    pytest.param(None, bearer("wrong"), id="wrong-init-token"),
    pytest.param(None, {"authorization": READ_TOKEN}, id="init-token-without-scheme"),
    pytest.param(bearer("wrong"), {}, id="wrong-upgrade-token"),
    pytest.param(bearer(WRITE_TOKEN), bearer("wrong"), id="wrong-init-token-beats-good-header"),
]


@pytest.mark.parametrize("headers, payload", REFUSED)
async def test_transport_ws_refuses_with_4403(
    url: str, headers: dict[str, str] | None, payload: dict[str, str]
) -> None:
    async with websocket(url, TRANSPORT_WS, headers) as connection:
        await send(connection, {"type": "connection_init", "payload": payload})
        assert await close_code(connection) == 4403


@pytest.mark.parametrize("headers, payload", REFUSED)
async def test_legacy_ws_refuses_with_a_connection_error(
    url: str, headers: dict[str, str] | None, payload: dict[str, str]
) -> None:
    async with websocket(url, LEGACY_WS, headers) as connection:
        await send(connection, {"type": "connection_init", "payload": payload})
        message = await receive(connection)
        assert message["type"] == "connection_error"
        assert message["payload"]["code"] == "UNAUTHENTICATED"
        assert await close_code(connection) is not None


async def test_transport_ws_refuses_operations_before_connection_init(url: str) -> None:
    async with websocket(url, TRANSPORT_WS, bearer(WRITE_TOKEN)) as connection:
        await send(connection, start(TRANSPORT_WS, "{ __typename }"))
        assert await close_code(connection) == 4401


def answered(protocol: str, message: dict[str, Any]) -> dict[str, Any]:
    """The data of a query's answer: `next` (graphql-transport-ws) or `data` (graphql-ws)."""
    assert message["type"] == ("next" if protocol == TRANSPORT_WS else "data"), message
    data: dict[str, Any] = message["payload"]["data"]
    return data


def error_codes(message: dict[str, Any]) -> list[str]:
    """transport-ws sends a list of errors, legacy graphql-ws a single one."""
    assert message["type"] == "error", message
    payload = message["payload"]
    return [e["extensions"]["code"] for e in (payload if isinstance(payload, list) else [payload])]


@pytest.mark.parametrize("protocol", [TRANSPORT_WS, LEGACY_WS])
@pytest.mark.parametrize("token", [READ_TOKEN, WRITE_TOKEN], ids=["read", "write"])
async def test_queries_over_websockets_take_either_scope(
    url: str, protocol: str, token: str
) -> None:
    async with websocket(url, protocol) as connection:
        await send(connection, {"type": "connection_init", "payload": bearer(token)})
        assert (await receive(connection))["type"] == "connection_ack"
        await send(connection, start(protocol, ops.COUNTS, outdialId=OUTDIAL))
        assert answered(protocol, await receive(connection))["outdialtargetCounts"]["total"] == 0
        assert await receive(connection) == {"id": "1", "type": "complete"}


@pytest.mark.parametrize("protocol", [TRANSPORT_WS, LEGACY_WS])
async def test_mutations_over_websockets_need_the_write_scope(url: str, protocol: str) -> None:
    for token, written in ((READ_TOKEN, 0), (WRITE_TOKEN, 1)):
        async with websocket(url, protocol) as connection:
            await send(connection, {"type": "connection_init", "payload": bearer(token)})
            assert (await receive(connection))["type"] == "connection_ack"
            await send(connection, start(protocol, CREATE, input=ops.new_input(OUTDIAL)))
            message = await receive(connection)
            async with httpx.AsyncClient(base_url=url) as http:
                assert await total(http) == written
        if token == READ_TOKEN:
            assert error_codes(message) == ["FORBIDDEN"]
        else:
            assert answered(protocol, message)["createOutdialtarget"]["id"]


@pytest.mark.parametrize("protocol", [TRANSPORT_WS, LEGACY_WS])
async def test_request_budgets_hold_over_websockets(url: str, protocol: str) -> None:
    target = ops.new_input(OUTDIAL)
    many = (
        "mutation($i: [CreateOutdialtargetInput!]!) { a: createOutdialtargets(inputs: $i) { id } "
    )
    many += "b: createOutdialtargets(inputs: $i) { id } }"
    async with websocket(url, protocol) as connection:
        await send(connection, {"type": "connection_init", "payload": bearer(WRITE_TOKEN)})
        assert (await receive(connection))["type"] == "connection_ack"
        await send(connection, start(protocol, many, i=[target] * 501))
        assert error_codes(await receive(connection)) == ["GRAPHQL_VALIDATION_FAILED"]
    async with httpx.AsyncClient(base_url=url) as http:
        assert await total(http) == 0


# start-up and configuration


def test_with_no_tokens_the_service_warns_once_at_start_up(
    caplog: pytest.LogCaptureFixture,
) -> None:
    with caplog.at_level(logging.WARNING, logger="outdial.auth"):
        create_app(Settings(), storage=mock_storage)
        create_app(Settings(auth_tokens=CREDENTIALS), storage=mock_storage)
    warnings = [record for record in caplog.records if record.name == "outdial.auth"]
    assert len(warnings) == 1
    assert "AUTH_TOKENS" in warnings[0].getMessage()


def test_require_auth_without_tokens_refuses_to_start() -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AUTH_TOKENS")}
    env |= {"REQUIRE_AUTH": "1", "PORT": "1", "PYTHONPATH": str(REPO_ROOT)}
    finished = subprocess.run(
        [sys.executable, "-m", "cli", "serve"],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert finished.returncode != 0
    assert "REQUIRE_AUTH=1 but no tokens are configured" in finished.stderr
    assert "Traceback" not in finished.stderr


async def test_require_auth_with_a_token_file_serves_only_token_holders(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    tokens = tmp_path / "tokens"
    tokens.write_text(f"# scope sha256 label\nwrite {digest(WRITE_TOKEN).hex()} dialer\n")
    settings = Settings.from_env({"REQUIRE_AUTH": "1", "AUTH_TOKENS_FILE": str(tokens)})
    async with served(settings) as url, httpx.AsyncClient(base_url=url) as http:
        query = {"query": "{ __typename }"}
        anonymous = await http.post("/graphql", json=query)
        holder = await http.post("/graphql", json=query, headers=bearer(WRITE_TOKEN))
    assert anonymous.json()["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
    assert holder.json() == {"data": {"__typename": "Query"}}
    assert "AUTH_TOKENS" not in caplog.text  # no open-service warning
    assert WRITE_TOKEN not in caplog.text


def test_tokens_are_read_as_digests_from_the_variable_and_the_file(tmp_path: Path) -> None:
    read_hex, write_hex = digest(READ_TOKEN).hex(), digest(WRITE_TOKEN).hex()
    tokens = tmp_path / "tokens"
    tokens.write_text(f"\n# comment\n  write {write_hex.upper()}   ops team \n")
    settings = Settings.from_env(
        {"AUTH_TOKENS": f" read:{read_hex} , write:{write_hex}:ci", "AUTH_TOKENS_FILE": str(tokens)}
    )
    assert settings.auth_tokens == (
        Credential("read", digest(READ_TOKEN), ""),
        Credential("write", digest(WRITE_TOKEN), "ci"),
        Credential("write", digest(WRITE_TOKEN), "ops team"),
    )
    assert read_hex not in repr(settings) and write_hex not in repr(settings)


@pytest.mark.parametrize(
    "variable, message",
    [
        (f"write:{WRITE_TOKEN}", "AUTH_TOKENS entry 1: expected the token's SHA-256"),
        (f"read:{'0' * 64},admin:{'0' * 64}", "AUTH_TOKENS entry 2: scope must be one of"),
        ("read:", "AUTH_TOKENS entry 1: expected the token's SHA-256"),
        ("read:" + "g" * 64, "expected the token's SHA-256"),
    ],
)
def test_bad_token_entries_stop_start_up_naming_the_entry(variable: str, message: str) -> None:
    with pytest.raises(SettingsError, match=message) as refused:
        Settings.from_env({"AUTH_TOKENS": variable})
    assert WRITE_TOKEN not in str(refused.value)


def test_an_unreadable_token_file_stops_start_up(tmp_path: Path) -> None:
    with pytest.raises(SettingsError, match="AUTH_TOKENS_FILE .*missing"):
        Settings.from_env({"AUTH_TOKENS_FILE": str(tmp_path / "missing")})


async def test_tokens_never_reach_the_log(
    client: httpx.AsyncClient, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.DEBUG):
        for headers in (bearer(READ_TOKEN), bearer(WRITE_TOKEN), bearer("wrong-secret-token")):
            await post(client, CREATE, headers, input=ops.new_input(OUTDIAL))
            await post(client, "{ broken", headers)
    assert caplog.records
    for secret in (READ_TOKEN, WRITE_TOKEN, "wrong-secret-token", digest(WRITE_TOKEN).hex()):
        assert secret not in caplog.text
