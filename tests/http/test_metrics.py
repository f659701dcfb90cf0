"""/metrics after a known sequence of requests, and the one log line each request leaves."""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncIterator

import httpx
import pytest
from pymongo.errors import ServerSelectionTimeoutError
from starlette.applications import Starlette

from server.app import create_app
from server.observability.logs import JsonFormatter
from server.observability.metrics import MAX_OPERATION_NAMES, Metrics
from server.settings import Settings
from tests.support import operations as ops
from tests.support.api import OTHER_OUTDIAL, OUTDIAL, GraphQLClient
from tests.support.hardening import CREDENTIALS, READ_TOKEN, bearer, mock_storage
from tests.support.metrics import operations, scrape, value

CLAIM = """mutation Claim($outdialId: ID!) {
  claimOutdialtarget(outdialId: $outdialId, maxTryCounts: [1], retryIntervalMs: 0) {
    target { id } } }"""
CREATE_TWO = """mutation CreateTwo($inputs: [CreateOutdialtargetInput!]!) {
  createOutdialtargets(inputs: $inputs) { id } }"""
REPORT = """mutation Report($id: ID!, $status: OutdialtargetStatus!) {
  updateOutdialtargetStatus(id: $id, status: $status) { status } }"""
PAGE = f'outdialtargets(outdialId: "{OUTDIAL}") {{ edges {{ cursor }} }}'
TWO_PAGES = f"query TwoPages {{ {PAGE} again: {PAGE} }}"
COUNTS = "query Counts($outdialId: ID!) { outdialtargetCounts(outdialId: $outdialId) { total } }"


async def test_metrics_count_a_known_sequence_of_requests(
    client: httpx.AsyncClient, gql: GraphQLClient
) -> None:
    inputs = [ops.new_input(OUTDIAL), ops.new_input(OUTDIAL)]
    await gql.data(CREATE_TWO, inputs=inputs)
    first = (await gql.data(CLAIM, outdialId=OUTDIAL))["claimOutdialtarget"]["target"]["id"]
    second = (await gql.data(CLAIM, outdialId=OUTDIAL))["claimOutdialtarget"]["target"]["id"]
    assert (await gql.data(CLAIM, outdialId=OUTDIAL))["claimOutdialtarget"] is None
    await gql.data(REPORT, id=first, status="DONE")
    await gql.data(REPORT, id=second, status="IDLE")
    await gql.error(REPORT, id=first, status="IDLE")  # DONE is final: INVALID_STATE
    await gql.error(COUNTS, outdialId="not-a-uuid")
    await gql.error("{ noSuchField }")

    samples = await scrape(client)

    assert operations(samples, "CreateTwo", "mutation", "ok") == 1
    assert operations(samples, "Claim", "mutation", "ok") == 3
    assert operations(samples, "Report", "mutation", "ok") == 2
    assert operations(samples, "Report", "mutation", "INVALID_STATE") == 1
    assert operations(samples, "Counts", "query", "BAD_USER_INPUT") == 1
    assert operations(samples, "anonymous", "query", "GRAPHQL_VALIDATION_FAILED") == 1
    histogram = "outdial_graphql_operation_duration_seconds_count"
    assert value(samples, histogram, operation="Claim", type="mutation") == 3
    assert value(samples, histogram, operation="Report", type="mutation") == 3
    assert value(samples, "outdial_claims_total", outcome="claimed") == 2
    assert value(samples, "outdial_claims_total", outcome="empty") == 1
    transitions = "outdial_status_transitions_total"
    assert value(samples, transitions, **{"from": "IDLE", "to": "PROGRESSING"}) == 2
    assert value(samples, transitions, **{"from": "PROGRESSING", "to": "DONE"}) == 1
    assert value(samples, transitions, **{"from": "PROGRESSING", "to": "IDLE"}) == 1
    for reason in ("TIMEOUT", "DISK_FULL", "READ_ONLY", "DISK_ERROR", "DAMAGED", "CLOSED"):
        series = ("outdial_database_errors_total", frozenset({("reason", reason)}))
        assert samples[series] == 0  # present before the first, for alerts on its rate
    assert value(samples, "outdial_graphql_operations_executing") == 0


async def test_active_subscriptions_follow_the_broker(
    app: Starlette, client: httpx.AsyncClient
) -> None:
    broker = app.state.runtime.broker
    first = broker.subscribe(outdial_id=OUTDIAL)
    second = broker.subscribe(outdial_id=OTHER_OUTDIAL)
    assert value(await scrape(client), "outdial_subscriptions_active") == 2
    first.close()
    assert value(await scrape(client), "outdial_subscriptions_active") == 1
    second.close()
    assert value(await scrape(client), "outdial_subscriptions_active") == 0


async def test_each_app_counts_only_its_own_requests(
    client: httpx.AsyncClient, gql: GraphQLClient
) -> None:
    await gql.data(COUNTS, outdialId=OUTDIAL)
    other = create_app(Settings(), storage=mock_storage)
    async with other.router.lifespan_context(other):
        transport = httpx.ASGITransport(app=other)
        async with httpx.AsyncClient(transport=transport, base_url="http://other") as http:
            assert operations(await scrape(http), "Counts", "query", "ok") == 0
    assert operations(await scrape(client), "Counts", "query", "ok") == 1


@pytest.fixture
async def mock_app() -> AsyncIterator[Starlette]:
    app = create_app(Settings(), storage=mock_storage)
    async with app.router.lifespan_context(app):
        yield app


async def test_database_outages_are_counted(
    mock_app: Starlette, monkeypatch: pytest.MonkeyPatch
) -> None:
    def unreachable(*args: object, **kwargs: object) -> None:
        raise ServerSelectionTimeoutError("no server answered")

    collection = mock_app.state.runtime.storage.collection
    monkeypatch.setattr(collection, "find", unreachable)
    monkeypatch.setattr(collection, "find_one", unreachable)
    transport = httpx.ASGITransport(app=mock_app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
        error = await GraphQLClient(http).error(ops.GET, id=OUTDIAL)
        assert error["extensions"]["code"] == "SERVICE_UNAVAILABLE"
        samples = await scrape(http)
    assert value(samples, "outdial_database_errors_total", reason="TIMEOUT") == 1
    assert operations(samples, "anonymous", "query", "SERVICE_UNAVAILABLE") == 1


@pytest.fixture
async def guarded() -> AsyncIterator[httpx.AsyncClient]:
    settings = Settings(auth_tokens=CREDENTIALS, max_body_bytes=4096, max_result_items=100)
    app = create_app(settings, storage=mock_storage)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        headers = {"accept": "application/graphql-response+json"}
        async with httpx.AsyncClient(
            transport=transport, base_url="http://testserver", headers=headers
        ) as http:
            yield http


async def test_each_refusal_is_counted_under_its_own_code(guarded: httpx.AsyncClient) -> None:
    reader = bearer(READ_TOKEN)
    create = {"query": ops.CREATE, "variables": {"input": ops.new_input(OUTDIAL)}}
    named = {"query": COUNTS, "variables": {"outdialId": OUTDIAL}, "operationName": "Counts"}
    json_type = {"content-type": "application/json"}
    answers = [
        await guarded.post("/graphql", json=create, headers=reader),
        await guarded.post("/graphql", json=named),
        await guarded.post("/graphql", content=b"{not json", headers=reader | json_type),
        await guarded.post("/graphql", content=b"{}", headers=reader | {"content-type": "text/x"}),
        await guarded.post("/graphql", content=b" " * 5000, headers=reader | json_type),
        await guarded.post("/graphql", json={"query": "{ nope }"}, headers=reader),
        await guarded.post("/graphql", json={"query": TWO_PAGES}, headers=reader),
        await guarded.get("/graphql?query=mutation{__typename}", headers=reader),
    ]
    assert [a.status_code for a in answers] == [403, 401, 400, 415, 413, 400, 400, 405]
    samples = await scrape(guarded)
    assert operations(samples, "anonymous", "mutation", "FORBIDDEN") == 1
    assert operations(samples, "Counts", "unknown", "UNAUTHENTICATED") == 1
    assert operations(samples, "anonymous", "unknown", "BAD_REQUEST") == 3
    assert operations(samples, "anonymous", "mutation", "BAD_REQUEST") == 1
    assert operations(samples, "anonymous", "query", "GRAPHQL_VALIDATION_FAILED") == 1
    assert operations(samples, "TwoPages", "query", "GRAPHQL_VALIDATION_FAILED") == 1
    refused = [key for key in samples if key[0] == "outdial_graphql_operations_total"]
    assert all(("outcome", "INTERNAL_SERVER_ERROR") not in labels for _, labels in refused)
    assert sum(samples[key] for key in refused) == len(answers)


def test_operation_names_beyond_the_limit_count_as_other() -> None:
    metrics = Metrics()
    names = [f"Op{n}" for n in range(MAX_OPERATION_NAMES)]
    assert [metrics.operation_label(name) for name in names] == names
    assert metrics.operation_label("OneTooMany") == "other"
    assert metrics.operation_label("Op7") == "Op7"
    assert metrics.operation_label(None) == "anonymous"


# The request log


def request_lines(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.name == "outdial.requests"]


async def test_one_log_line_per_request_with_its_id(
    mock_app: Starlette, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="outdial.requests")
    transport = httpx.ASGITransport(app=mock_app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
        chosen = await http.post(
            "/graphql",
            json={"query": COUNTS, "variables": {"outdialId": OUTDIAL}},
            headers={"X-Request-ID": "dialer-7:batch-42"},
        )
        generated = await http.get("/healthz")
        refused = await http.get("/healthz", headers={"X-Request-ID": "x" * 200})

    assert chosen.headers["x-request-id"] == "dialer-7:batch-42"
    assert len(generated.headers["x-request-id"]) == 32
    assert len(refused.headers["x-request-id"]) == 32
    assert refused.headers["x-request-id"] != generated.headers["x-request-id"]

    first, second, third = request_lines(caplog)
    expected = {
        "request_id": "dialer-7:batch-42",
        "method": "POST",
        "path": "/graphql",
        "status": 200,
        "operation": "Counts",
    }
    assert {key: first.__dict__[key] for key in expected} == expected
    assert first.__dict__["duration_ms"] >= 0
    assert "POST /graphql 200" in first.getMessage() and "op=Counts" in first.getMessage()
    assert (second.__dict__["path"], second.__dict__["operation"]) == ("/healthz", None)
    assert third.__dict__["request_id"] == refused.headers["x-request-id"]

    entry = json.loads(JsonFormatter().format(first))
    assert entry["request_id"] == "dialer-7:batch-42"
    assert entry["operation"] == "Counts"
    assert entry["status"] == 200
    assert entry["message"].startswith("POST /graphql 200")
