"""Hostile input: generated values for every mutation's arguments, and raw garbage over HTTP and
websockets. Never a 500, never a stack trace, never a write from a refused request, and the
service answers normally afterwards."""

from __future__ import annotations

import asyncio
import json
import logging
import random
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
import pytest_asyncio
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from websockets.exceptions import ConnectionClosed

from domain.models import AddressType
from server.app import create_app
from server.settings import Settings
from tests.support import operations as ops
from tests.support.backends import RawDocuments, open_backend
from tests.support.hardening import (
    GRAPHQL_RESPONSE,
    TIMEOUT,
    receive,
    send,
    served,
    websocket,
)

pytestmark = pytest.mark.asyncio(loop_scope="module")

OUTDIAL = "7d4c1f0e-2b3a-4c5d-8e9f-0a1b2c3d4e5f"
# Codes a refused request may carry; anything else (INTERNAL_SERVER_ERROR) is a bug.
EXPECTED_CODES = {
    "BAD_REQUEST",
    "BAD_USER_INPUT",
    "NOT_FOUND",
    "INVALID_STATE",
    "GRAPHQL_PARSE_FAILED",
    "GRAPHQL_VALIDATION_FAILED",
}
FUZZ = settings(
    max_examples=60,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow],
)


class ErrorLog(logging.Handler):
    """Every ERROR logged while fuzzing: an unexpected exception somewhere in the service."""

    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)

    @property
    def messages(self) -> list[str]:
        return [f"{record.name}: {record.getMessage()}" for record in self.records]


@dataclass
class Service:
    client: httpx.AsyncClient
    docs: RawDocuments
    errors: ErrorLog
    targets: dict[str, str] = field(default_factory=dict)  # status -> id

    async def snapshot(self) -> list[dict[str, Any]]:
        return await self.docs.all()

    async def post(self, body: bytes, **headers: str) -> httpx.Response:
        headers = {"content-type": "application/json", "accept": GRAPHQL_RESPONSE, **headers}
        return await self.client.post("/graphql", content=body, headers=headers)

    async def operation(self, query: str, variables: dict[str, Any]) -> httpx.Response:
        # The standard encoder writes what orjson refuses: huge integers, NaN (not JSON at all).
        return await self.post(json.dumps({"query": query, "variables": variables}).encode())


@pytest.fixture(scope="module")
def error_log() -> Iterator[ErrorLog]:
    handler = ErrorLog()
    root = logging.getLogger()
    root.addHandler(handler)
    try:
        yield handler
    finally:
        root.removeHandler(handler)


@pytest_asyncio.fixture(loop_scope="module", scope="module")
async def service(error_log: ErrorLog) -> AsyncIterator[Service]:
    async with open_backend("mock", Path("unused")) as backend:
        app = create_app(Settings(), storage=backend.opener())
        async with app.router.lifespan_context(app):
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://t") as http:
                service = Service(http, backend.docs, error_log)
                await seed(service)
                yield service


async def seed(service: Service) -> None:
    """One target in each status, and a deleted one, for the mutations that need a target."""

    async def run(query: str, **variables: Any) -> dict[str, Any]:
        body = (await service.operation(query, variables)).json()
        assert "errors" not in body, body
        data: dict[str, Any] = body["data"]
        return data

    for status in ("IDLE", "PROGRESSING", "DONE", "DELETED"):
        created = await run(ops.CREATE, input=ops.new_input(OUTDIAL, destination1=ops.tel()))
        target_id = created["createOutdialtarget"]["id"]
        if status != "IDLE":
            await run(ops.MARK, id=target_id, slot=0)
        if status == "DONE":
            await run(ops.REPORT, id=target_id, status="DONE")
        if status == "DELETED":
            await run(ops.DELETE, id=target_id)
        service.targets[status] = target_id


async def check(service: Service, response: httpx.Response, before: list[dict[str, Any]]) -> None:
    """The properties every answer has, whatever was sent."""
    assert response.status_code in (200, 400, 405, 413, 415), response.text
    assert "Traceback" not in response.text and 'File "' not in response.text
    body = response.json()
    errors = body.get("errors") or []
    assert {error["extensions"]["code"] for error in errors} <= EXPECTED_CODES, body
    if errors:
        assert await service.snapshot() == before, "a refused request wrote"
    assert service.errors.messages == []


# generated values: mostly well typed (so the domain's rules get exercised), sometimes wild

json_scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats()
    | st.text(max_size=40)
)
json_values = st.recursive(
    json_scalars,
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner, max_size=4)
    ),
    max_leaves=10,
)


def or_wild(values: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    return st.one_of(values, values, values, json_values)


uuids = st.uuids().map(str)
texts = st.text(max_size=300) | st.integers(65_530, 65_540).map(lambda size: "a" * size)
address_targets = (
    st.from_regex(r"\+[0-9]{5,17}", fullmatch=True)
    | st.emails()
    | st.from_regex(r"(sip:)?[a-z0-9]{0,5}@[a-zA-Z0-9.]{0,8}", fullmatch=True)
    | uuids
    | uuids.map(str.upper)
    | st.text(max_size=300)
)
addresses = st.fixed_dictionaries(
    {"type": st.sampled_from([kind.name for kind in AddressType]), "target": address_targets},
    optional={"targetName": texts, "name": texts, "detail": texts},
)
destinations = {f"destination{slot}": st.none() | or_wild(addresses) for slot in range(5)}
create_inputs = or_wild(
    st.fixed_dictionaries(
        {"outdialId": st.one_of(st.just(OUTDIAL), uuids, st.text(max_size=40))},
        optional={"name": texts, "detail": texts, "data": texts, **destinations},
    )
)
update_inputs = or_wild(
    st.fixed_dictionaries(
        {}, optional={"name": st.none() | texts, "detail": texts, "data": texts, **destinations}
    )
)
counts = or_wild(st.integers(min_value=-3, max_value=8) | st.integers())


def ids(service: Service) -> st.SearchStrategy[Any]:
    seeded = st.sampled_from(sorted(service.targets.values()))
    return or_wild(seeded | seeded.map(str.upper) | uuids | st.text(max_size=40))


def variables(service: Service) -> st.SearchStrategy[tuple[str, dict[str, Any]]]:
    def operation(query: str, **arguments: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
        return st.tuples(st.just(query), st.fixed_dictionaries(arguments))

    target_ids = ids(service)
    statuses = or_wild(st.sampled_from(["IDLE", "PROGRESSING", "DONE", "done", "DON"]))
    return st.one_of(
        operation(ops.CREATE, input=create_inputs),
        operation(ops.CREATE_MANY, inputs=or_wild(st.lists(create_inputs, max_size=4))),
        operation(ops.UPDATE, id=target_ids, input=update_inputs),
        operation(ops.DELETE, id=target_ids),
        operation(ops.MARK, id=target_ids, slot=counts),
        operation(ops.REPORT, id=target_ids, status=statuses),
        operation(
            ops.CLAIM,
            outdialId=or_wild(st.just(OUTDIAL) | uuids),
            max=or_wild(st.lists(counts, max_size=7)),
            retry=counts,
        ),
    )


@pytest.fixture(scope="module")
def operations(service: Service) -> st.SearchStrategy[tuple[str, dict[str, Any]]]:
    return variables(service)


@FUZZ
@given(data=st.data())
async def test_every_mutation_survives_generated_arguments(
    service: Service,
    operations: st.SearchStrategy[tuple[str, dict[str, Any]]],
    data: st.DataObject,
) -> None:
    query, arguments = data.draw(operations)
    before = await service.snapshot()
    await check(service, await service.operation(query, arguments), before)


# raw HTTP

printable_headers = st.text(st.characters(min_codepoint=32, max_codepoint=126), max_size=60)
LITERAL_CREATE = (
    f'mutation {{ createOutdialtarget(input: {{outdialId: "{OUTDIAL}", name: "", '
    'destination0: {type: TEL, target: "+821100000001"}}) { id } }'
)
CREATE_BODY = json.dumps({"query": ops.CREATE, "variables": {"input": ops.new_input(OUTDIAL)}})


@FUZZ
@given(body=st.binary(max_size=3000))
async def test_random_bytes_as_a_body(service: Service, body: bytes) -> None:
    before = await service.snapshot()
    await check(service, await service.post(body), before)


@FUZZ
@given(body=json_values)
async def test_any_json_document_as_a_body(service: Service, body: Any) -> None:
    before = await service.snapshot()
    await check(service, await service.post(json.dumps(body).encode()), before)


@FUZZ
@given(query=st.text(max_size=400), arguments=json_values)
async def test_any_text_as_a_document_with_any_variables(
    service: Service, query: str, arguments: Any
) -> None:
    before = await service.snapshot()
    body = json.dumps({"query": query, "variables": arguments}).encode()
    await check(service, await service.post(body), before)


@FUZZ
@given(accept=printable_headers, content_type=printable_headers)
async def test_any_accept_and_content_type(
    service: Service, accept: str, content_type: str
) -> None:
    before = await service.snapshot()
    response = await service.post(
        CREATE_BODY.encode(), accept=accept, **{"content-type": content_type}
    )
    assert response.status_code != 500
    if response.status_code == 406:
        assert await service.snapshot() == before
    else:
        await check(service, response, before)


@FUZZ
@given(
    params=st.dictionaries(
        st.sampled_from(["query", "variables", "operationName", "extensions"])
        | st.text(max_size=8),
        st.text(max_size=200) | st.just(ops.CREATE) | st.just("{ __typename }"),
        max_size=4,
    )
)
async def test_any_query_parameters_over_get(service: Service, params: dict[str, str]) -> None:
    before = await service.snapshot()
    response = await service.client.get(
        "/graphql", params=params, headers={"accept": GRAPHQL_RESPONSE}
    )
    await check(service, response, before)


def nested_list(depth: int) -> Any:
    value: Any = 1
    for _ in range(depth):
        value = [value]
    return value


HOSTILE = [
    pytest.param(b'{"query": "{ __typename }", "variables": {"a": "\xff\xfe"}}', id="invalid-utf8"),
    pytest.param(b'{"query": "{ __typename \xc3\x28 }"}', id="invalid-utf8-in-document"),
    pytest.param(
        b'{"query": "{ __typename }", "variables": {"a": "\\ud800"}}', id="lone-surrogate"
    ),
    pytest.param(
        json.dumps(
            {
                "query": ops.CREATE,
                "variables": {"input": {**ops.new_input(OUTDIAL), "name": "a\ud800"}},
            }
        ).encode(),
        id="lone-surrogate-in-a-name",
    ),
    pytest.param(
        json.dumps({"query": LITERAL_CREATE.replace('name: ""', 'name: "\\ud800"')}).encode(),
        id="lone-surrogate-escape-in-a-literal",
    ),
    pytest.param(b'{"query": "{ __typename }", "variables": {"a": "a\x00b"}}', id="raw-nul"),
    pytest.param(b"[" * 100_000, id="deep-json"),
    pytest.param(
        json.dumps({"query": "{ __typename }", "variables": {"v": nested_list(5000)}}).encode(),
        id="deep-variables",
    ),
    pytest.param(
        json.dumps(
            {"query": ops.CLAIM, "variables": {"outdialId": OUTDIAL, "max": nested_list(900)}}
        ).encode(),
        id="deep-variable-for-a-list",
    ),
    pytest.param(json.dumps({"query": "{" * 5000 + "}" * 5000}).encode(), id="deep-document"),
    pytest.param(
        json.dumps({"query": "{ a" + " { a" * 900 + " }" * 901}).encode(),
        id="deep-document-under-the-token-cap",
    ),
    pytest.param(
        json.dumps(
            {"query": "{ __type(name: " + "[" * 900 + '"x"' + "]" * 900 + ") { name } }"}
        ).encode(),
        id="deep-list-literal",
    ),
    pytest.param(
        json.dumps({"query": "{" + " __typename" * 1500 + " }"}).encode(),
        id="many-identical-fields",
    ),
    pytest.param(
        json.dumps({"query": "{" + "".join(f" f{n}" for n in range(1500)) + " }"}).encode(),
        id="many-unknown-fields",
    ),
    pytest.param(
        json.dumps({"query": "{ __typename }" + " " * 1_500_000}).encode(), id="huge-whitespace"
    ),
    pytest.param(
        json.dumps({"query": '{ __type(name: "' + "a" * 1_500_000 + '") { name } }'}).encode(),
        id="huge-string-literal",
    ),
    pytest.param(json.dumps({"query": "{ " + "a" * 1_500_000 + " }"}).encode(), id="huge-name"),
    pytest.param(
        json.dumps(
            {
                "query": ops.CREATE,
                "variables": {"input": ops.new_input(OUTDIAL, name="n" * 1_500_000)},
            }
        ).encode(),
        id="huge-variable",
    ),
    pytest.param(
        json.dumps(
            {"query": ops.CREATE_MANY, "variables": {"inputs": [ops.new_input(OUTDIAL)] * 1001}}
        ).encode(),
        id="too-many-inputs",
    ),
    pytest.param(
        json.dumps({"query": ops.MARK, "variables": {"id": "1" * 100, "slot": 2**31}}).encode(),
        id="int-overflow",
    ),
    pytest.param(
        json.dumps({"query": ops.MARK, "variables": {"id": OUTDIAL, "slot": 1.5}}).encode(),
        id="float-for-int",
    ),
    pytest.param(b'{"query": "{ __typename }", "variables": {"a": 1e400}}', id="float-overflow"),
    pytest.param(
        b'{"query": "{ __typename }", "variables": {"a": 123456789012345678901234567890}}',
        id="bigint",
    ),
    pytest.param(
        b'{"query": "{ __typename }", "query": "mutation { deleteOutdialtarget(id: 1) { id } }"}',
        id="duplicate-keys",
    ),
]


@pytest.mark.parametrize("body", HOSTILE)
async def test_hostile_bodies(service: Service, body: bytes) -> None:
    before = await service.snapshot()
    await check(service, await service.post(body), before)


async def test_the_service_answers_normally_afterwards(service: Service) -> None:
    response = await service.operation(ops.CREATE, {"input": ops.new_input(OUTDIAL)})
    assert response.status_code == 200
    created = response.json()["data"]["createOutdialtarget"]
    assert created["status"] == "IDLE"
    assert service.errors.messages == []


# the real server: garbage on the wire


async def test_raw_garbage_on_the_socket_leaves_the_server_answering(
    error_log: ErrorLog,
) -> None:
    generator = random.Random(20261128)
    garbage = [
        b"\x00\xff\xfe garbage\r\n\r\n",
        b"GET /graphql HTTP/9.9\r\n\r\n",
        b"POST /graphql HTTP/1.1\r\nhost: x\r\ncontent-length: -5\r\n\r\n",
        b"POST /graphql HTTP/1.1\r\nhost: x\r\ncontent-length: 10\r\ncontent-length: 2\r\n\r\n{}",
        b"POST /graphql HTTP/1.1\r\nhost: x\r\ntransfer-encoding: chunked\r\n\r\nzz\r\n",
        b"GET /graphql?query=%ff%fe HTTP/1.1\r\nhost: x\r\naccept: application/json\r\n\r\n",
        b"GET /" + b"a" * 70_000 + b" HTTP/1.1\r\nhost: x\r\n\r\n",
        *(generator.randbytes(generator.randint(1, 4000)) for _ in range(20)),
    ]
    async with served(Settings()) as url:
        host, port = url.removeprefix("http://").split(":")
        for blob in garbage:
            reader, writer = await asyncio.open_connection(host, int(port))
            writer.write(blob)
            await writer.drain()
            answer = await asyncio.wait_for(reader.read(200), TIMEOUT)
            writer.close()
            assert not answer.startswith(b"HTTP/1.1 500"), (blob[:60], answer)
        async with httpx.AsyncClient(base_url=url) as http:
            response = await http.post("/graphql", json={"query": "{ __typename }"})
    assert response.json() == {"data": {"__typename": "Query"}}
    assert error_log.messages == []


WS_GARBAGE = [
    "not json",
    "[1, 2]",
    '"a string"',
    "null",
    '{"type": 5}',
    '{"id": "1"}',
    '{"type": "subscribe", "payload": {"query": "{ __typename }"}}',
    '{"id": 1, "type": "subscribe", "payload": {"query": "{ __typename }"}}',
    '{"id": "1", "type": "subscribe", "payload": "query"}',
    '{"id": "1", "type": "subscribe", "payload": {"query": 1}}',
    '{"id": "1", "type": "subscribe", "payload": {"query": "{ __typename }", "variables": []}}',
    '{"id": "1", "type": "subscribe", "payload": {"query": "' + "x" * 500 + '"}}',
    '{"id": "1", "type": "start", "payload": null}',
    '{"id": "1", "type": "start"}',
    '{"type": "stop"}',
    '{"type": "complete"}',
    b"\x00\x01binary",
]


BARRIER = {
    # Each gets an answer from a connection that is still open, after whatever came before.
    "graphql-transport-ws": {"type": "ping"},
    "graphql-ws": {"id": "barrier", "type": "start", "payload": {"query": "{"}},
}


@pytest.mark.parametrize("protocol", ["graphql-transport-ws", "graphql-ws"])
async def test_garbage_websocket_messages_close_cleanly(protocol: str, error_log: ErrorLog) -> None:
    async with served(Settings()) as url:
        for message in WS_GARBAGE:
            async with websocket(url, protocol) as connection:
                await send(connection, {"type": "connection_init", "payload": {}})
                assert (await receive(connection))["type"] == "connection_ack"
                await connection.send(message)
                await send(connection, BARRIER[protocol])
                code = await close_code_or_barrier(connection)
                assert code in (None, 1002, 4400), (message, code)
        async with websocket(url, protocol) as connection:
            await send(connection, {"type": "connection_init", "payload": {}})
            assert (await receive(connection))["type"] == "connection_ack"
    assert error_log.messages == []


async def close_code_or_barrier(connection: Any) -> int | None:
    """The close code if the server closed; None if it answered the barrier instead."""
    try:
        while True:
            answer = json.loads(await asyncio.wait_for(connection.recv(), TIMEOUT))
            if answer.get("type") == "pong" or answer.get("id") == "barrier":
                return None
            assert answer.get("type") in ("error", "connection_error", "ka", "complete"), answer
    except ConnectionClosed as closed:
        return closed.rcvd.code if closed.rcvd else None
