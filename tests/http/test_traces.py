"""OpenTelemetry traces over real HTTP and real websockets (uvicorn on 127.0.0.1), spans caught
by the SDK's in-memory exporter: one span per operation, the store calls under it naming the
backend, the caller's traceparent continued, and no variable's value anywhere."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import pytest
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind, StatusCode

from server.observability.traces.tracing import Tracing
from tests.support.api import OUTDIAL
from tests.support.backends import Backend
from tests.support.in_process import InProcessServer, in_process_server, until
from tests.support.operations import CLAIM, CREATE, GET, new_input, tel
from tests.support.sse_client import EVENT_STREAM, EventReader
from tests.support.ws_client import PROTOCOLS, GraphQLWebSocket, errors_of

TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736"
CALLER_SPAN = "00f067aa0ba902b7"
TRACEPARENT = f"00-{TRACE_ID}-{CALLER_SPAN}-01"
TRANSPORTS = ["http", "sse", *PROTOCOLS]

# Values only the variables carry: none may reach a span.
SECRETS = {
    "name": "Secret Name Qx7",
    "detail": "secret detail Zq9",
    "data": '{"secret":"Vw3"}',
    "number": "+821155501234",
}


@pytest.fixture
def exporter() -> InMemorySpanExporter:
    return InMemorySpanExporter()


@pytest.fixture
async def server(
    backend: Backend, exporter: InMemorySpanExporter
) -> AsyncIterator[InProcessServer]:
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    async with in_process_server(backend.opener(), tracing=lambda: Tracing(provider)) as running:
        yield running


async def run(
    server: InProcessServer,
    transport: str,
    query: str,
    variables: dict[str, Any],
    headers: dict[str, str] | None = None,
) -> dict[str, Any]:
    """One operation over `transport`: the answer's data, or its errors."""
    if transport == "http":
        url = f"http://127.0.0.1:{server.port}/graphql"
        async with httpx.AsyncClient(headers=headers) as client:
            body = {"query": query, "variables": variables}
            answer: dict[str, Any] = (await client.post(url, json=body)).json()
            return answer
    if transport == "sse":
        url = f"http://127.0.0.1:{server.port}/graphql"
        body = {"query": query, "variables": variables}
        async with (
            httpx.AsyncClient(headers=(headers or {}) | EVENT_STREAM) as client,
            client.stream("POST", url, json=body) as response,
        ):
            result: dict[str, Any] = (await EventReader(response).next_event()).json()
            return result
    async with GraphQLWebSocket.connect(
        server.ws_url, transport, additional_headers=headers or {}
    ) as ws:
        operation = await ws.start({"query": query, "variables": variables})
        frame = await operation.frame()
        if frame.kind == "next" and "errors" not in frame.payload:
            return {"data": frame.payload["data"]}
        return {"errors": errors_of(frame)}


def ended(exporter: InMemorySpanExporter) -> list[ReadableSpan]:
    """The operation spans that have ended."""
    return [s for s in exporter.get_finished_spans() if s.kind is SpanKind.SERVER]


async def operation_spans(exporter: InMemorySpanExporter, count: int) -> list[ReadableSpan]:
    """The operation spans, once `count` have ended (a websocket's may end after its answer)."""
    await until(lambda: len(ended(exporter)) >= count)
    return ended(exporter)


def children(exporter: InMemorySpanExporter, parent: ReadableSpan) -> list[ReadableSpan]:
    assert parent.context is not None
    return [
        span
        for span in exporter.get_finished_spans()
        if span.parent is not None and span.parent.span_id == parent.context.span_id
    ]


def everything_in(spans: list[ReadableSpan]) -> Iterator[str]:
    for span in spans:
        yield span.to_json()


@pytest.mark.parametrize("transport", TRANSPORTS)
async def test_each_operation_is_one_span_with_its_store_calls_naming_the_backend(
    server: InProcessServer, exporter: InMemorySpanExporter, backend: Backend, transport: str
) -> None:
    created = await run(server, transport, CREATE, {"input": new_input(OUTDIAL)})
    claimed = await run(server, transport, CLAIM, {"outdialId": OUTDIAL, "max": [3]})
    assert "errors" not in created and claimed["data"]["claimOutdialtarget"] is not None

    create, claim = await operation_spans(exporter, 2)
    assert (create.name, claim.name) == ("mutation", "mutation")
    for span, field in ((create, "create"), (claim, "claim")):
        assert span.attributes is not None
        assert span.attributes["graphql.operation.type"] == "mutation"
        assert span.attributes["outdial.graphql.outcome"] == "ok"
        assert span.status.status_code is StatusCode.UNSET
        store_calls = children(exporter, span)
        assert f"store.{field}" in [call.name for call in store_calls]
        system = "sqlite" if backend.tier == "sqlite" else "mongodb"
        for call in store_calls:
            assert call.kind is SpanKind.CLIENT
            assert call.attributes is not None
            assert call.attributes["db.system"] == system
            assert call.attributes["db.system.name"] == system
    claim_call = next(c for c in children(exporter, claim) if c.name == "store.claim")
    assert claim_call.attributes is not None
    assert claim_call.attributes["db.response.returned_rows"] == 1


@pytest.mark.mock_only
@pytest.mark.parametrize("transport", TRANSPORTS)
async def test_the_span_names_the_operation_and_its_error_code(
    server: InProcessServer, exporter: InMemorySpanExporter, transport: str
) -> None:
    named = "query Lookup($id: ID!) { outdialtarget(id: $id) { id } }"
    answer = await run(server, transport, named, {"id": "not a uuid"})
    assert answer["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"

    (span,) = await operation_spans(exporter, 1)
    assert span.name == "query"
    assert span.attributes is not None
    assert span.attributes["graphql.operation.name"] == "Lookup"
    assert span.attributes["graphql.operation.type"] == "query"
    assert span.attributes["outdial.graphql.outcome"] == "BAD_USER_INPUT"
    assert span.attributes["error.type"] == "BAD_USER_INPUT"
    assert span.status.status_code is StatusCode.ERROR


@pytest.mark.parametrize("transport", TRANSPORTS)
async def test_no_span_holds_a_value_of_the_variables(
    server: InProcessServer, exporter: InMemorySpanExporter, transport: str
) -> None:
    fields = {"name": SECRETS["name"], "detail": SECRETS["detail"], "data": SECRETS["data"]}
    target = new_input(OUTDIAL, destination0=tel(SECRETS["number"]), **fields)
    created = await run(server, transport, CREATE, {"input": target})
    target_id = created["data"]["createOutdialtarget"]["id"]
    await run(server, transport, GET, {"id": target_id})
    not_an_int = {"outdialId": OUTDIAL, "max": [SECRETS["name"]]}
    refused = await run(server, transport, CLAIM, not_an_int)  # graphql-core quotes the value
    assert SECRETS["name"] in str(refused["errors"])

    await operation_spans(exporter, 3)
    exported = "\n".join(everything_in(list(exporter.get_finished_spans())))
    for secret in [*SECRETS.values(), target_id]:
        assert secret not in exported


@pytest.mark.mock_only
@pytest.mark.parametrize("transport", TRANSPORTS)
async def test_a_traceparent_on_the_request_or_the_upgrade_continues_the_callers_trace(
    server: InProcessServer, exporter: InMemorySpanExporter, transport: str
) -> None:
    await run(server, transport, GET, {"id": OUTDIAL}, headers={"traceparent": TRACEPARENT})
    await run(server, transport, GET, {"id": OUTDIAL})

    continued, own = await operation_spans(exporter, 2)
    assert continued.parent is not None and continued.context is not None
    assert f"{continued.context.trace_id:032x}" == TRACE_ID
    assert f"{continued.parent.span_id:016x}" == CALLER_SPAN
    assert continued.parent.is_remote
    assert own.parent is None and own.context is not None
    assert f"{own.context.trace_id:032x}" != TRACE_ID
    (store_call,) = children(exporter, continued)
    assert store_call.context is not None
    assert f"{store_call.context.trace_id:032x}" == TRACE_ID


@pytest.mark.mock_only
@pytest.mark.parametrize("transport", PROTOCOLS)
async def test_a_subscription_is_one_span_until_it_completes(
    server: InProcessServer, exporter: InMemorySpanExporter, transport: str
) -> None:
    statuses = """subscription Watch($outdialId: ID) {
      outdialtargetStatusChanged(outdialId: $outdialId) { status } }"""
    async with GraphQLWebSocket.connect(server.ws_url, transport) as ws:
        watching = await ws.subscribe(statuses, outdialId=OUTDIAL)
        await until(lambda: len(server.broker) == 1)
        assert ended(exporter) == []
        await watching.complete()

        (span,) = await operation_spans(exporter, 1)
    assert span.name == "subscription"
    assert span.attributes is not None
    assert span.attributes["graphql.operation.name"] == "Watch"
    assert span.attributes["outdial.graphql.outcome"] == "ok"


@pytest.mark.mock_only
async def test_an_sse_request_refused_before_it_runs_is_a_span_too(
    server: InProcessServer, exporter: InMemorySpanExporter
) -> None:
    url = f"http://127.0.0.1:{server.port}/graphql"
    params = {"query": 'mutation { deleteOutdialtarget(id: "x") { id } }'}
    async with httpx.AsyncClient(headers=EVENT_STREAM) as client:
        refused = await client.get(url, params=params)
    assert refused.status_code == 405

    (span,) = await operation_spans(exporter, 1)
    assert span.attributes is not None
    assert span.attributes["outdial.graphql.outcome"] not in ("", "ok")
    assert span.status.status_code is StatusCode.ERROR
