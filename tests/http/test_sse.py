"""GraphQL over Server-Sent Events (graphql-sse), both modes, over a real uvicorn on loopback.

Subscriptions are registered when /metrics counts them (`outdial_subscriptions_active`): no
event acknowledges one."""

from __future__ import annotations

import asyncio
import socket
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
import orjson
import pytest

from server.settings import Settings
from tests.support import operations as ops
from tests.support.hardening import (
    CREDENTIALS,
    GRAPHQL_RESPONSE,
    READ_TOKEN,
    WRITE_TOKEN,
    bearer,
    served,
)
from tests.support.metrics import operations, scrape, value
from tests.support.sse_client import EVENT_STREAM, EventReader

pytestmark = pytest.mark.mock_only  # a transport: what it carries is tested on every tier

TOKEN = "x-graphql-event-stream-token"
ACTIVE = "outdial_subscriptions_active"
WATCH = """subscription Watch($outdialId: ID) {
  outdialtargetStatusChanged(outdialId: $outdialId) { previousStatus status target { id } } }"""
MARK = """mutation Mark($id: ID!) {
  markOutdialtargetProgressing(id: $id, destinationIndex: 0) { status } }"""
CREATE = """mutation Create($input: CreateOutdialtargetInput!) {
  createOutdialtarget(input: $input) { id } }"""
COUNT = "query Count($outdialId: ID!) { outdialtargetCounts(outdialId: $outdialId) { total } }"


@pytest.fixture
def settings() -> Settings:
    return Settings(auth_tokens=CREDENTIALS, keep_alive_interval_s=1)


@pytest.fixture
async def http(settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    async with served(settings) as url, httpx.AsyncClient(base_url=url, timeout=5) as client:
        yield client


def writer(**headers: str) -> dict[str, str]:
    return bearer(WRITE_TOKEN) | headers


@asynccontextmanager
async def distinct(
    http: httpx.AsyncClient, body: dict[str, Any], headers: dict[str, str] | None = None
) -> AsyncIterator[EventReader]:
    headers = headers if headers is not None else writer()
    request = http.build_request("POST", "/graphql", json=body, headers=headers | EVENT_STREAM)
    response = await http.send(request, stream=True)
    try:
        yield EventReader(response)
    finally:
        await response.aclose()


async def active(http: httpx.AsyncClient) -> float:
    return value(await scrape(http), ACTIVE)


async def until_active(http: httpx.AsyncClient, count: int) -> None:
    async def reached() -> bool:
        return await active(http) == count

    async with asyncio.timeout(5):
        while not await reached():
            await asyncio.sleep(0.01)


async def new_target(http: httpx.AsyncClient, outdial: str) -> str:
    answer = await http.post(
        "/graphql",
        json={"query": CREATE, "variables": {"input": ops.new_input(outdial)}},
        headers=writer(),
    )
    target: str = answer.json()["data"]["createOutdialtarget"]["id"]
    return target


async def mark(http: httpx.AsyncClient, target: str) -> None:
    answer = await http.post(
        "/graphql", json={"query": MARK, "variables": {"id": target}}, headers=writer()
    )
    assert answer.json() == {"data": {"markOutdialtargetProgressing": {"status": "PROGRESSING"}}}


# distinct connections


async def test_a_subscription_streams_status_changes_and_closing_it_frees_the_subscription(
    http: httpx.AsyncClient,
) -> None:
    outdial = str(uuid.uuid4())
    target = await new_target(http, outdial)
    body = {"query": WATCH, "variables": {"outdialId": outdial}}
    async with distinct(http, body) as stream:
        headers = stream.response.headers
        assert stream.response.status_code == 200
        assert headers["content-type"] == "text/event-stream; charset=utf-8"
        assert (headers["cache-control"], headers["x-accel-buffering"]) == ("no-cache", "no")
        await until_active(http, 1)
        await mark(http, target)
        event = await stream.next_event()
        assert event.event == "next"
        assert event.json() == {
            "data": {
                "outdialtargetStatusChanged": {
                    "previousStatus": "IDLE",
                    "status": "PROGRESSING",
                    "target": {"id": target},
                }
            }
        }
    await until_active(http, 0)  # the client closed: the server let go at once


async def test_an_idle_stream_gets_keep_alive_comments(http: httpx.AsyncClient) -> None:
    body = {"query": WATCH, "variables": {"outdialId": str(uuid.uuid4())}}
    async with distinct(http, body) as stream:
        comments = [await stream.next(), await stream.next(), await stream.next()]
    assert [(c.event, c.data) for c in comments] == [(None, "")] * 3


async def test_a_query_and_a_mutation_answer_once_then_complete_and_end(
    http: httpx.AsyncClient,
) -> None:
    outdial = str(uuid.uuid4())
    create = {"query": CREATE, "variables": {"input": ops.new_input(outdial)}}
    async with distinct(http, create) as stream:
        created = await stream.rest()
    assert [e.event for e in created] == ["next", "complete"]
    assert set(created[0].json()["data"]["createOutdialtarget"]) == {"id"}
    assert created[1].data == ""
    params = {"query": COUNT, "variables": f'{{"outdialId": "{outdial}"}}'}
    async with http.stream("GET", "/graphql", params=params, headers=writer(**EVENT_STREAM)) as got:
        counted = await EventReader(got).rest()
    assert [(e.event, e.data and e.json()) for e in counted] == [
        ("next", {"data": {"outdialtargetCounts": {"total": 1}}}),
        ("complete", ""),
    ]
    samples = await scrape(http)
    assert operations(samples, "Create", "mutation", "ok") == 1
    assert operations(samples, "Count", "query", "ok") == 1


async def test_validation_errors_come_in_the_stream(http: httpx.AsyncClient) -> None:
    async with distinct(http, {"query": "subscription { noSuchField }"}) as stream:
        assert stream.response.status_code == 200
        events = await stream.rest()
    assert [e.event for e in events] == ["next", "complete"]
    (error,) = events[0].json()["errors"]
    assert "data" not in events[0].json()
    assert error["extensions"]["code"] == "GRAPHQL_VALIDATION_FAILED"
    assert "noSuchField" in error["message"]


async def test_budgets_hold(http: httpx.AsyncClient) -> None:
    too_many = "query($o: ID!) { outdialtargets(outdialId: $o, first: 100000) { totalCount } }"
    body = {"query": too_many, "variables": {"o": str(uuid.uuid4())}}
    async with distinct(http, body) as stream:
        events = await stream.rest()
    (error,) = events[0].json()["errors"]
    assert error["extensions"]["code"] == "BAD_USER_INPUT"


@pytest.mark.parametrize("headers", [{}, bearer("not-a-token")], ids=["none", "unknown"])
async def test_without_a_valid_token_the_answer_is_401(
    http: httpx.AsyncClient, headers: dict[str, str]
) -> None:
    async with distinct(http, {"query": WATCH}, headers) as stream:
        await stream.response.aread()
    assert stream.response.status_code == 401
    assert stream.response.headers["www-authenticate"] == "Bearer"
    assert stream.response.json()["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"


async def test_a_read_token_subscribes_but_may_not_mutate(http: httpx.AsyncClient) -> None:
    outdial = str(uuid.uuid4())
    target = await new_target(http, outdial)
    body = {"query": MARK, "variables": {"id": target}}
    async with distinct(http, body, bearer(READ_TOKEN)) as stream:
        await stream.response.aread()
    assert stream.response.status_code == 403
    assert stream.response.json()["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    watch = {"query": WATCH, "variables": {"outdialId": outdial}}
    async with distinct(http, watch, bearer(READ_TOKEN)) as stream:
        await until_active(http, 1)
        await mark(http, target)
        assert (await stream.next_event()).json()["data"]["outdialtargetStatusChanged"]["status"]


async def test_a_mutation_over_get_is_405(http: httpx.AsyncClient) -> None:
    params = {"query": MARK, "variables": '{"id": "x"}'}
    answer = await http.get("/graphql", params=params, headers=writer(**EVENT_STREAM))
    assert (answer.status_code, answer.headers["allow"]) == (405, "POST")


async def test_persisted_queries_register_and_hit(http: httpx.AsyncClient) -> None:
    outdial = str(uuid.uuid4())
    by_hash = ops.persisted(COUNT, outdialId=outdial)
    async with distinct(http, by_hash) as stream:
        missed = await stream.rest()
    assert missed[0].json()["errors"][0]["extensions"]["code"] == "PERSISTED_QUERY_NOT_FOUND"
    for body in (ops.persisted(COUNT, text=True, outdialId=outdial), by_hash):
        async with distinct(http, body) as stream:
            answered = await stream.rest()
        assert answered[0].json() == {"data": {"outdialtargetCounts": {"total": 0}}}


async def test_plain_graphql_over_http_is_unchanged(http: httpx.AsyncClient) -> None:
    body = {"query": COUNT, "variables": {"outdialId": str(uuid.uuid4())}}
    answer = await http.post("/graphql", json=body, headers=writer(accept=GRAPHQL_RESPONSE))
    assert answer.headers["content-type"].startswith(GRAPHQL_RESPONSE)
    assert answer.json() == {"data": {"outdialtargetCounts": {"total": 0}}}


# single connection


async def reserve(http: httpx.AsyncClient) -> str:
    reserved = await http.put("/graphql", headers=writer())
    assert reserved.status_code == 201
    assert reserved.headers["content-type"].startswith("text/plain")
    return reserved.text


@asynccontextmanager
async def opened(http: httpx.AsyncClient, token: str) -> AsyncIterator[EventReader]:
    request = http.build_request("GET", "/graphql", headers={TOKEN: token} | EVENT_STREAM)
    response = await http.send(request, stream=True)
    try:
        assert response.status_code == 200
        yield EventReader(response)
    finally:
        await response.aclose()


async def start(
    http: httpx.AsyncClient, token: str, operation_id: str | None, query: str, **variables: Any
) -> httpx.Response:
    extensions = {"operationId": operation_id} if operation_id else {}
    body = {"query": query, "variables": variables, "extensions": extensions}
    return await http.post("/graphql", json=body, headers=writer(**{TOKEN: token}))


async def test_one_stream_carries_many_operations_by_id(http: httpx.AsyncClient) -> None:
    outdial = str(uuid.uuid4())
    target = await new_target(http, outdial)
    token = await reserve(http)
    async with opened(http, token) as stream:
        assert (await start(http, token, "w", WATCH, outdialId=outdial)).status_code == 202
        await until_active(http, 1)
        assert (await start(http, token, "m", MARK, id=target)).status_code == 202
        events = [(await stream.next_event()).json() for _ in range(3)]
        assert sorted(events, key=lambda e: e["id"]) == [
            {
                "id": "m",
                "payload": {"data": {"markOutdialtargetProgressing": {"status": "PROGRESSING"}}},
            },
            {"id": "m"},  # its complete
            {
                "id": "w",
                "payload": {
                    "data": {
                        "outdialtargetStatusChanged": {
                            "previousStatus": "IDLE",
                            "status": "PROGRESSING",
                            "target": {"id": target},
                        }
                    }
                },
            },
        ]
        stopped = await http.delete("/graphql", params={"operationId": "w"}, headers={TOKEN: token})
        assert stopped.status_code == 200
        await until_active(http, 0)
        assert (await start(http, token, "c", COUNT, outdialId=outdial)).status_code == 202
        counted = await stream.next_event()
        assert (counted.event, counted.json()) == (
            "next",
            {"id": "c", "payload": {"data": {"outdialtargetCounts": {"total": 1}}}},
        )


async def test_closing_the_stream_frees_its_subscriptions_and_its_token(
    http: httpx.AsyncClient,
) -> None:
    token = await reserve(http)
    async with opened(http, token):
        for n in range(3):
            started = await start(http, token, f"w{n}", WATCH, outdialId=str(uuid.uuid4()))
            assert started.status_code == 202
        await until_active(http, 3)
    await until_active(http, 0)
    gone = await start(http, token, "again", WATCH, outdialId=str(uuid.uuid4()))
    assert gone.status_code == 404


async def test_reservation_errors(http: httpx.AsyncClient) -> None:
    assert (await http.put("/graphql")).status_code == 401
    assert (await start(http, "no-such-token", "a", COUNT, outdialId="x")).status_code == 404
    token = await reserve(http)
    outdial = str(uuid.uuid4())
    async with opened(http, token):
        again = await http.get("/graphql", headers={TOKEN: token} | EVENT_STREAM)
        assert again.status_code == 409
        assert (await start(http, token, None, COUNT, outdialId=outdial)).status_code == 400
        assert (await start(http, token, "w", WATCH, outdialId=outdial)).status_code == 202
        assert (await start(http, token, "w", WATCH, outdialId=outdial)).status_code == 409
        unknown = await http.delete("/graphql", params={"operationId": "x"}, headers={TOKEN: token})
        assert unknown.status_code == 404
        invalid = await start(http, token, "v", "{ noSuchField }")
        assert invalid.status_code == 400
        assert invalid.json()["errors"][0]["extensions"]["code"] == "GRAPHQL_VALIDATION_FAILED"
        anonymous = await http.post(
            "/graphql",
            json={
                "query": COUNT,
                "variables": {"outdialId": outdial},
                "extensions": {"operationId": "z"},
            },
            headers={TOKEN: token},
        )
        assert anonymous.status_code == 401
        forbidden = await http.post(
            "/graphql",
            json={"query": MARK, "variables": {"id": "x"}, "extensions": {"operationId": "y"}},
            headers=bearer(READ_TOKEN) | {TOKEN: token},
        )
        assert forbidden.status_code == 403


async def test_operations_per_stream_are_capped(settings: Settings) -> None:
    settings = Settings(auth_tokens=CREDENTIALS, max_subscriptions_per_connection=2)
    async with served(settings) as url, httpx.AsyncClient(base_url=url, timeout=5) as http:
        token = await reserve(http)
        async with opened(http, token):
            statuses = [
                (await start(http, token, f"w{n}", WATCH, outdialId=str(uuid.uuid4()))).status_code
                for n in range(3)
            ]
    assert statuses == [202, 202, 400]


async def test_eventsource_opens_a_reservation_by_its_token_in_the_url(
    http: httpx.AsyncClient,
) -> None:
    outdial = str(uuid.uuid4())
    token = await reserve(http)
    params = {"token": token}
    async with http.stream("GET", "/graphql", params=params, headers=EVENT_STREAM) as got:
        assert (await start(http, token, "c", COUNT, outdialId=outdial)).status_code == 202
        counted = await EventReader(got).next_event()
    assert counted.json() == {"id": "c", "payload": {"data": {"outdialtargetCounts": {"total": 0}}}}


@pytest.mark.parametrize(
    ("accept", "streams"),
    [
        ("text/event-stream", True),
        ("text/event-stream, application/json", True),
        ("application/json;q=0.5, text/event-stream", True),
        ("application/json, text/event-stream;q=0.5", False),
        (GRAPHQL_RESPONSE, False),
        ("*/*", False),
    ],
)
async def test_the_event_stream_is_chosen_by_accept(
    http: httpx.AsyncClient, accept: str, streams: bool
) -> None:
    body = {"query": COUNT, "variables": {"outdialId": str(uuid.uuid4())}}
    answer = await http.post("/graphql", json=body, headers=writer(accept=accept))
    assert answer.headers["content-type"].startswith("text/event-stream") is streams


BIG_EVENTS = """subscription($outdialId: ID) {
  outdialtargetStatusChanged(outdialId: $outdialId) { status target { id data } } }"""
SMALL_EVENTS = """subscription($outdialId: ID) {
  outdialtargetStatusChanged(outdialId: $outdialId) { status } }"""
SLOW_QUEUE = 300  # each round publishes 100 events in one go, so more than that


async def stalled_stream(
    url: str, body: dict[str, Any]
) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    """An SSE request from a client that reads nothing: a small receive buffer, left alone
    (the writer is kept: dropping it would close the connection)."""
    host, port = url.removeprefix("http://").split(":")
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.setblocking(False)
    await asyncio.get_running_loop().sock_connect(sock, (host, int(port)))
    reader, writer = await asyncio.open_connection(sock=sock, limit=4096)
    payload = orjson.dumps(body)
    head = (
        f"POST /graphql HTTP/1.1\r\nhost: {host}\r\nauthorization: Bearer {WRITE_TOKEN}\r\n"
        f"accept: text/event-stream\r\ncontent-type: application/json\r\n"
        f"content-length: {len(payload)}\r\n\r\n"
    )
    writer.write(head.encode() + payload)
    await writer.drain()
    return reader, writer


async def attempts(http: httpx.AsyncClient, targets: list[str], count: int) -> None:
    """`count` failed attempts, round robin over the targets: 2 * count status changes."""
    fields = []
    for n in range(count):
        target = targets[n % len(targets)]
        fields.append(
            f'm{n}: markOutdialtargetProgressing(id: "{target}", destinationIndex: 0) {{ id }}'
        )
        fields.append(f'r{n}: updateOutdialtargetStatus(id: "{target}", status: IDLE) {{ id }}')
    answer = await http.post(
        "/graphql", json={"query": "mutation {" + " ".join(fields) + "}"}, headers=writer()
    )
    assert "errors" not in answer.json()


async def test_a_stalled_subscriber_is_ended_too_slow_and_delays_no_one() -> None:
    settings = Settings(auth_tokens=CREDENTIALS, subscription_queue_size=SLOW_QUEUE)
    outdial = str(uuid.uuid4())
    async with served(settings) as url, httpx.AsyncClient(base_url=url, timeout=30) as http:
        inputs = [ops.new_input(outdial, data="x" * 16_000) for _ in range(10)]
        created = await http.post(
            "/graphql",
            json={"query": ops.CREATE_MANY, "variables": {"inputs": inputs}},
            headers=writer(),
        )
        targets = [t["id"] for t in created.json()["data"]["createOutdialtargets"]]
        stalled, kept = await stalled_stream(
            url, {"query": BIG_EVENTS, "variables": {"outdialId": outdial}}
        )
        small = {"query": SMALL_EVENTS, "variables": {"outdialId": outdial}}
        async with distinct(http, small) as healthy:
            await until_active(http, 2)
            heard: list[str] = []

            async def hear() -> None:
                while True:
                    event = await healthy.next_event(30)
                    heard.append(event.json()["data"]["outdialtargetStatusChanged"]["status"])

            hearing = asyncio.create_task(hear())
            published = 0
            while await active(http) == 2:
                assert published < 5000, "the stalled subscriber was never ended"
                await attempts(http, targets, 50)
                published += 100
            assert await active(http) == 1  # the healthy one goes on
            await attempts(http, targets, 50)
            published += 100
            async with asyncio.timeout(10):
                while len(heard) < published:
                    await asyncio.sleep(0.01)
            hearing.cancel()
        assert published > SLOW_QUEUE
        assert heard == ["PROGRESSING", "IDLE"] * (published // 2)
        async with asyncio.timeout(10):
            rest = b""
            while not rest.endswith(b"0\r\n\r\n"):  # the end of its chunked body
                rest += await stalled.read(65536)
        kept.close()
    assert b'"code":"SUBSCRIBER_TOO_SLOW"' in rest
    assert rest.count(b"event: complete") == 1
