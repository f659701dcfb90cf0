"""Every cap just under and just over: depth, aliases, tokens, body size, page sizes, batching,
operations per websocket, and the connection_init timeout."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from graphql import get_introspection_query
from graphql.language import Lexer, Source, TokenKind

from server.settings import Settings, SettingsError
from tests.support import operations as ops
from tests.support.api import OUTDIAL
from tests.support.hardening import (
    GRAPHQL_RESPONSE,
    TIMEOUT,
    close_code,
    receive,
    send,
    served,
    websocket,
)

pytestmark = pytest.mark.mock_only  # acts before storage: one tier is enough

DEFAULTS = Settings()


async def post(client: httpx.AsyncClient, query: str, **variables: Any) -> httpx.Response:
    return await client.post(
        "/graphql",
        json={"query": query, "variables": variables},
        headers={"accept": GRAPHQL_RESPONSE},
    )


async def total(client: httpx.AsyncClient) -> int:
    response = await post(client, ops.COUNTS, outdialId=OUTDIAL)
    count: int = response.json()["data"]["outdialtargetCounts"]["total"]
    return count


def refusal(response: httpx.Response) -> dict[str, Any]:
    assert response.status_code == 400, response.text
    body = response.json()
    assert "data" not in body
    error: dict[str, Any] = body["errors"][0]
    return error


def nested(depth: int) -> str:
    """An introspection query whose deepest path has `depth` fields."""
    path = ["__schema", "types", "fields", "type", *["ofType"] * (depth - 5), "name"]
    return "{ " + " { ".join(path) + " }" * len(path)


def token_count(document: str) -> int:
    lexer, count = Lexer(Source(document)), 0
    while lexer.advance().kind != TokenKind.EOF:
        count += 1
    return count


def creating(tokens: int) -> tuple[str, int]:
    """A mutation of exactly `tokens` tokens creating targets; how many it creates."""
    target = f'{{outdialId: "{OUTDIAL}", destination0: {{type: TEL, target: "+821100000001"}}}}'
    head, tail = "mutation { createOutdialtargets(inputs: [", "]) { id } }"
    spare = tokens - token_count(head + tail)
    inputs, padding = divmod(spare, token_count(target))
    document = head + " ".join([target] * inputs) + "]) { id }" + " __typename" * padding + " }"
    assert token_count(document) == tokens
    return document, inputs


def aliased(count: int, field: str = "__typename") -> str:
    return "{ " + " ".join(f"a{n}: {field}" for n in range(count)) + " }"


# depth


async def test_depth_at_the_limit_runs_and_one_more_is_refused(client: httpx.AsyncClient) -> None:
    limit = DEFAULTS.max_query_depth
    assert (await post(client, nested(limit))).status_code == 200
    error = refusal(await post(client, nested(limit + 1)))
    assert error["extensions"]["code"] == "GRAPHQL_VALIDATION_FAILED"
    assert error["message"] == f"The operation nests fields {limit + 1} deep; at most {limit}."


async def test_depth_counts_through_fragments(client: httpx.AsyncClient) -> None:
    limit = DEFAULTS.max_query_depth
    inner = nested(limit + 1).removeprefix("{ __schema ").removesuffix(" }")
    document = f"query Deep {{ __schema {{ ...Types }} }} fragment Types on __Schema {inner}"
    error = refusal(await post(client, document))
    assert error["message"] == f"'Deep' nests fields {limit + 1} deep; at most {limit}."


async def test_graphiqls_introspection_query_fits_the_default_limits(
    client: httpx.AsyncClient,
) -> None:
    query = get_introspection_query(
        descriptions=True,
        specified_by_url=True,
        directive_is_repeatable=True,
        schema_description=True,
        input_value_deprecation=True,
    )
    response = await post(client, query)
    assert response.status_code == 200
    assert "errors" not in response.json()


@pytest.fixture
def settings(request: pytest.FixtureRequest) -> Settings:
    overrides: dict[str, Any] = getattr(request, "param", {})
    return Settings(**overrides)


@pytest.mark.parametrize("settings", [{"max_query_depth": 2}], indirect=True)
async def test_a_mutation_over_the_depth_limit_runs_no_resolver(
    client: httpx.AsyncClient,
) -> None:
    shallow = (
        "mutation($input: CreateOutdialtargetInput!) { createOutdialtarget(input: $input) { id } }"
    )
    deep = shallow.replace("{ id }", "{ destination0 { type } }")
    error = refusal(await post(client, deep, input=ops.new_input(OUTDIAL)))
    assert error["extensions"]["code"] == "GRAPHQL_VALIDATION_FAILED"
    assert await total(client) == 0
    assert (await post(client, shallow, input=ops.new_input(OUTDIAL))).status_code == 200
    assert await total(client) == 1


# aliases


async def test_aliases_at_the_limit_run_and_one_more_is_refused(client: httpx.AsyncClient) -> None:
    limit = DEFAULTS.max_aliases
    response = await post(client, aliased(limit))
    assert response.status_code == 200
    assert len(response.json()["data"]) == limit
    error = refusal(await post(client, aliased(limit + 1)))
    assert error["extensions"]["code"] == "GRAPHQL_VALIDATION_FAILED"
    assert error["message"] == f"The operation uses {limit + 1} aliases; at most {limit}."


async def test_aliased_mutations_over_the_limit_write_nothing(client: httpx.AsyncClient) -> None:
    limit = DEFAULTS.max_aliases
    create = "createOutdialtarget(input: $input) { id }"
    document = "mutation($input: CreateOutdialtargetInput!) " + aliased(limit + 1, create)
    refusal(await post(client, document, input=ops.new_input(OUTDIAL)))
    assert await total(client) == 0


async def test_aliases_multiplied_by_fragments_are_refused_at_once(
    client: httpx.AsyncClient,
) -> None:
    # Each fragment spreads the next twice: 2**40 aliased fields, measured without expanding.
    fragments = [f"fragment F{n} on Query {{ ...F{n + 1} ...F{n + 1} }}" for n in range(40)]
    document = "{ ...F0 }\n" + "\n".join([*fragments, "fragment F40 on Query { a: __typename }"])
    response = await asyncio.wait_for(post(client, document), TIMEOUT)
    assert refusal(response)["message"] == f"The operation uses {2**40} aliases; at most 100."


# tokens


async def test_tokens_at_the_limit_run_and_one_more_is_refused_before_any_write(
    client: httpx.AsyncClient,
) -> None:
    limit = DEFAULTS.max_tokens
    over, _ = creating(limit + 1)
    error = refusal(await post(client, over))
    assert error["extensions"]["code"] == "GRAPHQL_PARSE_FAILED"
    assert f"more than {limit} tokens" in error["message"]
    assert await total(client) == 0
    at_limit, created = creating(limit)
    response = await post(client, at_limit)
    assert response.status_code == 200
    assert len(response.json()["data"]["createOutdialtargets"]) == created
    assert await total(client) == created


# request body size


def padded(size: int) -> bytes:
    """A JSON body of exactly `size` bytes that runs `{ __typename }`."""
    head, tail = b'{"query": "{ __typename }", "padding": "', b'"}'
    return head + b"x" * (size - len(head) - len(tail)) + tail


async def test_a_body_at_the_limit_runs_and_one_byte_more_is_413(
    client: httpx.AsyncClient,
) -> None:
    limit = DEFAULTS.max_body_bytes
    headers = {"content-type": "application/json"}
    accepted = await client.post("/graphql", content=padded(limit), headers=headers)
    assert accepted.status_code == 200
    assert accepted.json() == {"data": {"__typename": "Query"}}
    refused = await client.post("/graphql", content=padded(limit + 1), headers=headers)
    assert refused.status_code == 413
    assert refused.json()["errors"][0]["extensions"] == {"code": "BAD_REQUEST"}
    assert f"{limit:,} bytes" in refused.json()["errors"][0]["message"]


async def test_a_streamed_body_is_cut_off_at_the_limit(client: httpx.AsyncClient) -> None:
    sent = 0
    chunk = b"x" * 65536

    async def endless() -> AsyncIterator[bytes]:
        nonlocal sent
        yield b'{"query": "{ __typename }", "padding": "'
        for _ in range(1000):  # 64 MiB, far over the limit
            sent += len(chunk)
            yield chunk

    response = await client.post(
        "/graphql", content=endless(), headers={"content-type": "application/json"}
    )
    assert response.status_code == 413
    assert sent <= DEFAULTS.max_body_bytes + len(chunk)


async def test_the_server_answers_413_before_a_declared_huge_body_arrives() -> None:
    async with served(Settings()) as url:
        host, port = url.removeprefix("http://").split(":")
        reader, writer = await asyncio.open_connection(host, int(port))
        writer.write(
            b"POST /graphql HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\n"
            b"content-length: 1000000000\r\n\r\n{"
        )
        await writer.drain()
        status_line = await asyncio.wait_for(reader.readline(), TIMEOUT)
        writer.close()
    assert status_line.startswith(b"HTTP/1.1 413")


# page sizes and batching


@pytest.mark.parametrize("first, accepted", [(100, True), (101, False), (0, False)])
async def test_first_is_capped_at_100(
    client: httpx.AsyncClient, first: int, accepted: bool
) -> None:
    body = (await post(client, ops.LIST, outdialId=OUTDIAL, first=first)).json()
    if accepted:
        assert body["data"]["outdialtargets"]["edges"] == []
    else:
        assert body["errors"][0]["extensions"] == {"code": "BAD_USER_INPUT", "field": "first"}


@pytest.mark.parametrize("limit, accepted", [(100, True), (101, False), (0, False)])
async def test_limit_is_capped_at_100(
    client: httpx.AsyncClient, limit: int, accepted: bool
) -> None:
    body = (await post(client, ops.AVAILABLE, outdialId=OUTDIAL, max=[1], limit=limit)).json()
    if accepted:
        assert body["data"]["availableOutdialtargets"] == []
    else:
        assert body["errors"][0]["extensions"] == {"code": "BAD_USER_INPUT", "field": "limit"}


async def test_batched_requests_are_refused_and_write_nothing(client: httpx.AsyncClient) -> None:
    operation = {"query": ops.CREATE, "variables": {"input": ops.new_input(OUTDIAL)}}
    response = await client.post("/graphql", json=[operation, operation])
    assert response.status_code == 400
    assert response.json()["errors"][0]["extensions"] == {"code": "BAD_REQUEST"}
    assert await total(client) == 0


# websockets

STATUS = "subscription { outdialtargetStatusChanged { status } }"


def subscribe(protocol: str, operation_id: str) -> dict[str, Any]:
    kind = "subscribe" if protocol == "graphql-transport-ws" else "start"
    return {"id": operation_id, "type": kind, "payload": {"query": STATUS}}


@pytest.mark.parametrize("protocol", ["graphql-transport-ws", "graphql-ws"])
async def test_operations_per_connection_are_capped(protocol: str) -> None:
    async with (
        served(Settings(max_subscriptions_per_connection=2)) as url,
        websocket(url, protocol) as connection,
    ):
        await send(connection, {"type": "connection_init", "payload": {}})
        assert (await receive(connection))["type"] == "connection_ack"
        for operation_id in ("1", "2", "3"):
            await send(connection, subscribe(protocol, operation_id))
        # Messages are handled in order: an error for 1 or 2 would come before the one for 3.
        refused = await receive(connection)
        assert (refused["type"], refused["id"]) == ("error", "3")
        errors = (
            refused["payload"] if isinstance(refused["payload"], list) else [refused["payload"]]
        )
        assert errors[0]["extensions"] == {"code": "BAD_USER_INPUT"}
        assert errors[0]["message"] == "At most 2 operations may run at once on one connection."

        stop = "complete" if protocol == "graphql-transport-ws" else "stop"
        await send(connection, {"id": "1", "type": stop})
        await send(connection, subscribe(protocol, "4"))
        await send(connection, subscribe(protocol, "5"))
        # The legacy protocol confirms a stop with `complete`; nothing else may come first.
        refused = await receive(connection)
        if refused["type"] == "complete":
            assert refused["id"] == "1"
            refused = await receive(connection)
        assert (refused["type"], refused["id"]) == ("error", "5")


@pytest.mark.parametrize("protocol", ["graphql-transport-ws", "graphql-ws"])
async def test_a_connection_without_connection_init_is_closed_in_time(protocol: str) -> None:
    async with (
        served(Settings(connection_init_timeout_ms=200)) as url,
        websocket(url, protocol) as idle,
        websocket(url, protocol) as prompt,
    ):
        await send(prompt, {"type": "connection_init", "payload": {}})
        assert (await receive(prompt))["type"] == "connection_ack"
        assert await close_code(idle) == 4408
        if protocol == "graphql-transport-ws":
            await send(prompt, {"type": "ping"})
            assert (await receive(prompt))["type"] == "pong"


# configuration


def test_limits_are_read_from_the_environment() -> None:
    settings = Settings.from_env(
        {
            "MAX_QUERY_DEPTH": "7",
            "MAX_ALIASES": "3",
            "MAX_TOKENS": "500",
            "MAX_BODY_BYTES": "4096",
            "MAX_SUBSCRIPTIONS_PER_CONNECTION": "5",
            "CONNECTION_INIT_TIMEOUT_MS": "1500",
        }
    )
    assert (settings.max_query_depth, settings.max_aliases, settings.max_tokens) == (7, 3, 500)
    assert settings.max_body_bytes == 4096
    assert settings.max_subscriptions_per_connection == 5
    assert settings.connection_init_timeout_ms == 1500
    assert Settings.from_env({}) == Settings()


@pytest.mark.parametrize(
    "name, value", [("MAX_QUERY_DEPTH", "0"), ("MAX_TOKENS", "many"), ("MAX_BODY_BYTES", "-1")]
)
def test_a_bad_limit_stops_start_up(name: str, value: str) -> None:
    with pytest.raises(SettingsError, match=name):
        Settings.from_env({name: value})
