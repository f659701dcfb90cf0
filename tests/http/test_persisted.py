"""Persisted operations as clients meet them: APQ, trusted documents, caching over GET."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
import pytest

from server.app import create_app
from server.settings import Settings, SettingsError
from tests.support import operations as ops
from tests.support.api import OUTDIAL
from tests.support.hardening import (
    GRAPHQL_RESPONSE,
    mock_storage,
    served,
)
from tests.support.metrics import operations, scrape, value
from tests.support.operations import as_params, persisted, sha256
from tests.support.ws_client import PROTOCOLS, Frame, GraphQLWebSocket, Operation, errors_of

pytestmark = pytest.mark.mock_only  # acts before storage: one tier is enough

COUNTS = "query Counts($outdialId: ID!) { outdialtargetCounts(outdialId: $outdialId) { total } }"
CREATE = """mutation Create($input: CreateOutdialtargetInput!) {
  createOutdialtarget(input: $input) { id } }"""
PERSISTED_TOTAL = "outdial_persisted_queries_total"


async def post(client: httpx.AsyncClient, body: dict[str, Any]) -> httpx.Response:
    return await client.post("/graphql", json=body, headers={"accept": GRAPHQL_RESPONSE})


def code(response: httpx.Response) -> str:
    errors = response.json()["errors"]
    assert len(errors) == 1 and "data" not in response.json(), response.json()
    found: str = errors[0]["extensions"]["code"]
    return found


@pytest.fixture
def settings(request: pytest.FixtureRequest) -> Settings:
    return Settings(**getattr(request, "param", {}))


# automatic persisted queries


async def test_an_unknown_hash_is_a_miss_then_the_text_registers_it_and_the_hash_hits(
    client: httpx.AsyncClient,
) -> None:
    miss = await post(client, persisted(COUNTS))
    assert miss.status_code == 200  # Apollo Client stops hashing for good on a 400
    assert code(miss) == "PERSISTED_QUERY_NOT_FOUND"
    assert miss.json()["errors"][0]["message"] == "PersistedQueryNotFound"
    registered = await post(client, persisted(COUNTS, text=True))
    assert registered.json() == {"data": {"outdialtargetCounts": {"total": 0}}}
    hit = await post(client, persisted(COUNTS))
    assert hit.json() == registered.json()
    samples = await scrape(client)
    for outcome in ("miss", "registered", "hit"):
        assert value(samples, PERSISTED_TOTAL, outcome=outcome) == 1
    assert operations(samples, "Counts", "query", "ok") == 2


@pytest.mark.parametrize(
    "extensions, query",
    [
        pytest.param(
            {"persistedQuery": {"version": 1, "sha256Hash": sha256("{ x }")}},
            COUNTS,
            id="hash-mismatch",
        ),
        pytest.param(
            {"persistedQuery": {"version": 2, "sha256Hash": sha256(COUNTS)}}, None, id="version"
        ),
        pytest.param({"persistedQuery": {"version": 1, "sha256Hash": 7}}, None, id="hash-type"),
        pytest.param({"persistedQuery": "yes"}, None, id="not-an-object"),
    ],
)
async def test_malformed_persisted_queries_are_bad_requests_without_a_trace(
    client: httpx.AsyncClient, extensions: dict[str, Any], query: str | None
) -> None:
    body = {"query": query, "extensions": extensions, "variables": {"outdialId": OUTDIAL}}
    response = await post(client, body)
    assert response.status_code == 400
    assert code(response) == "BAD_REQUEST"
    assert "Traceback" not in response.text


async def test_an_invalid_operation_is_not_registered(client: httpx.AsyncClient) -> None:
    invalid = "query Nope { noSuchField }"
    first = await post(client, persisted(invalid, text=True))
    assert code(first) == "GRAPHQL_VALIDATION_FAILED"
    assert code(await post(client, persisted(invalid))) == "PERSISTED_QUERY_NOT_FOUND"


def counts_named(n: int) -> str:
    return COUNTS.replace("Counts", f"Counts{n}", 1)


@pytest.mark.parametrize("settings", [{"persisted_queries_cache_size": 2}], indirect=True)
async def test_the_cache_keeps_the_operations_used_last(client: httpx.AsyncClient) -> None:
    for n in (1, 2):
        await post(client, persisted(counts_named(n), text=True))
    assert "data" in (await post(client, persisted(counts_named(1)))).json()
    await post(client, persisted(counts_named(3), text=True))
    assert code(await post(client, persisted(counts_named(2)))) == "PERSISTED_QUERY_NOT_FOUND"
    for n in (1, 3):
        assert "data" in (await post(client, persisted(counts_named(n)))).json()


@pytest.mark.parametrize("settings", [{"persisted_queries_cache_size": 0}], indirect=True)
async def test_with_no_cache_clients_are_told_to_stop_hashing(client: httpx.AsyncClient) -> None:
    assert code(await post(client, persisted(COUNTS))) == "PERSISTED_QUERY_NOT_SUPPORTED"
    assert "data" in (await post(client, persisted(COUNTS, text=True))).json()


async def test_strangers_can_neither_register_nor_probe(tmp_path: Path) -> None:
    token = "t" * 32
    settings = Settings.from_env({"AUTH_TOKENS": f"read:{sha256(token)}"})
    async with served(settings) as url, httpx.AsyncClient(base_url=url) as client:
        stranger = await post(client, persisted(COUNTS, text=True))
        assert stranger.status_code == 401 and code(stranger) == "UNAUTHENTICATED"
        reader = {"authorization": f"Bearer {token}", "accept": GRAPHQL_RESPONSE}
        answer = await client.post("/graphql", json=persisted(COUNTS), headers=reader)
        assert code(answer) == "PERSISTED_QUERY_NOT_FOUND"


# GET and Cache-Control


@pytest.mark.parametrize(
    "settings", [{"persisted_query_cache_control": "public, max-age=60"}], indirect=True
)
async def test_persisted_queries_over_get_carry_the_configured_cache_control(
    client: httpx.AsyncClient,
) -> None:
    miss = await client.get("/graphql", params=as_params(persisted(COUNTS)))
    assert code(miss) == "PERSISTED_QUERY_NOT_FOUND"
    assert miss.headers["cache-control"] == "no-store"
    registered = await client.get("/graphql", params=as_params(persisted(COUNTS, text=True)))
    assert registered.headers["cache-control"] == "public, max-age=60"
    hit = await client.get("/graphql", params=as_params(persisted(COUNTS)))
    assert hit.json() == {"data": {"outdialtargetCounts": {"total": 0}}}
    assert hit.headers["cache-control"] == "public, max-age=60"
    failed = await client.get("/graphql", params=as_params(persisted(COUNTS, outdialId="x")))
    assert failed.headers["cache-control"] == "no-store"
    plain = await client.get("/graphql", params={"query": "{ __typename }"})
    assert "cache-control" not in plain.headers


@pytest.mark.parametrize(
    "settings", [{"persisted_query_cache_control": "public, max-age=60"}], indirect=True
)
async def test_a_persisted_mutation_is_never_run_or_cached_over_get(
    client: httpx.AsyncClient,
) -> None:
    mutation = persisted(CREATE, input=ops.new_input(OUTDIAL))
    assert "data" in (await post(client, mutation | {"query": CREATE})).json()
    over_get = await client.get("/graphql", params=as_params(mutation))
    assert over_get.status_code == 405
    assert "public" not in over_get.headers.get("cache-control", "")
    counted = await post(client, {"query": COUNTS, "variables": {"outdialId": OUTDIAL}})
    assert counted.json()["data"]["outdialtargetCounts"]["total"] == 1
    assert operations(await scrape(client), "Create", "mutation", "BAD_REQUEST") == 1


def test_persisted_query_settings_are_read_and_checked() -> None:
    settings = Settings.from_env(
        {
            "PERSISTED_QUERIES_CACHE_SIZE": "50",
            "PERSISTED_QUERY_CACHE_CONTROL": "public, max-age=300",
        }
    )
    assert settings.persisted_queries_cache_size == 50
    assert settings.persisted_query_cache_control == "public, max-age=300"
    assert Settings.from_env({}).persisted_query_cache_control == "no-store"
    with pytest.raises(SettingsError, match="PERSISTED_QUERY_CACHE_CONTROL"):
        Settings.from_env({"PERSISTED_QUERY_CACHE_CONTROL": "public\r\nSet-Cookie: x=1"})
    with pytest.raises(SettingsError, match="PERSISTED_QUERIES_CACHE_SIZE"):
        Settings.from_env({"PERSISTED_QUERIES_CACHE_SIZE": "-1"})


# trusted documents

WATCH = "subscription Watch { outdialtargetStatusChanged { status } }"


def apollo_manifest(*bodies: str) -> dict[str, Any]:
    operations_ = [
        {"id": sha256(body), "name": body.split()[1], "type": body.split()[0], "body": body}
        for body in bodies
    ]
    return {"format": "apollo-persisted-query-manifest", "version": 1, "operations": operations_}


def trusted_settings(tmp_path: Path, manifest: object, **env: str) -> Settings:
    path = tmp_path / "manifest.json"
    path.write_text(json.dumps(manifest))
    return Settings.from_env({"TRUSTED_DOCUMENTS_FILE": str(path), **env})


@pytest.mark.parametrize("apollo", [True, False], ids=["apollo", "codegen"])
def test_both_manifest_formats_are_read(tmp_path: Path, apollo: bool) -> None:
    manifest = apollo_manifest(COUNTS, WATCH) if apollo else {sha256(COUNTS): COUNTS, "w1": WATCH}
    settings = trusted_settings(tmp_path, manifest, TRUSTED_DOCUMENTS_ONLY="1")
    assert [doc.body for doc in settings.trusted_documents] == [COUNTS, WATCH]
    assert settings.trusted_documents_only


@pytest.mark.parametrize(
    "manifest, message",
    [
        ({"format": "apollo-persisted-query-manifest", "version": 2}, "version 1"),
        ({"abc": 1}, "the body must be a GraphQL document"),
        ([COUNTS], "expected a JSON object"),
        ({}, "lists no operation"),
    ],
)
def test_a_bad_manifest_stops_start_up(tmp_path: Path, manifest: object, message: str) -> None:
    with pytest.raises(SettingsError, match=message):
        trusted_settings(tmp_path, manifest)


def test_a_manifest_operation_the_schema_refuses_stops_start_up(tmp_path: Path) -> None:
    settings = trusted_settings(tmp_path, {"bad": "query { noSuchField }"})
    with pytest.raises(SettingsError, match="bad: Cannot query field 'noSuchField'"):
        create_app(settings, storage=mock_storage)
    with pytest.raises(SettingsError, match="TRUSTED_DOCUMENTS_FILE"):
        Settings.from_env({"TRUSTED_DOCUMENTS_ONLY": "1"})


async def test_in_trusted_mode_listed_operations_run_and_others_are_refused(
    tmp_path: Path,
) -> None:
    settings = trusted_settings(tmp_path, apollo_manifest(COUNTS), TRUSTED_DOCUMENTS_ONLY="1")
    async with served(settings) as url, httpx.AsyncClient(base_url=url) as client:
        assert "data" in (await post(client, persisted(COUNTS))).json()
        by_text = await post(client, {"query": COUNTS, "variables": {"outdialId": OUTDIAL}})
        assert "data" in by_text.json()
        for body in (
            {"query": CREATE, "variables": {"input": ops.new_input(OUTDIAL)}},
            persisted(CREATE, text=True, input=ops.new_input(OUTDIAL)),
            {"query": "{ __schema { types { name } } }"},
        ):
            refused = await post(client, body)
            assert refused.status_code == 400 and code(refused) == "PERSISTED_QUERY_NOT_ALLOWED"
            assert "trusted documents only" in refused.json()["errors"][0]["message"]
        assert code(await post(client, persisted(CREATE))) == "PERSISTED_QUERY_NOT_FOUND"
        samples = await scrape(client)
        assert operations(samples, "anonymous", "unknown", "PERSISTED_QUERY_NOT_ALLOWED") == 3
        assert value(samples, PERSISTED_TOTAL, outcome="refused") == 3
        page = await client.get("/graphql", headers={"accept": "text/html"})
        assert "TRUSTED DOCUMENTS ONLY" in page.text


MARK = """mutation Mark($id: ID!) {
  markOutdialtargetProgressing(id: $id, destinationIndex: 0) { status } }"""
IDLE = """mutation Idle($id: ID!) {
  updateOutdialtargetStatus(id: $id, status: IDLE) { status } }"""
WATCH_ONE = """subscription WatchOne($id: ID) {
  outdialtargetStatusChanged(id: $id) { status } }"""


async def first_event(client: httpx.AsyncClient, watching: Operation, target_id: str) -> Any:
    """Changes the target until the subscription sees it (the first change may beat it)."""
    for _ in range(5):
        for mutation in (MARK, IDLE):
            await post(client, persisted(mutation, text=True, id=target_id))
            try:
                return await watching.next(0.5)
            except TimeoutError:
                continue
    pytest.fail("the subscription saw no status change")


def error_code(frame: Frame) -> str:
    assert frame.kind == "error", frame
    found: str = errors_of(frame)[0]["extensions"]["code"]
    return found


@pytest.mark.parametrize("protocol", PROTOCOLS)
async def test_in_trusted_mode_websockets_run_listed_operations_only(
    tmp_path: Path, protocol: str
) -> None:
    manifest = apollo_manifest(CREATE, MARK, IDLE, WATCH_ONE)
    settings = trusted_settings(tmp_path, manifest, TRUSTED_DOCUMENTS_ONLY="1")
    async with served(settings) as url, httpx.AsyncClient(base_url=url) as client:
        created = await post(client, persisted(CREATE, input=ops.new_input(OUTDIAL)))
        target_id = created.json()["data"]["createOutdialtarget"]["id"]
        async with GraphQLWebSocket.connect(f"{url.replace('http', 'ws')}/graphql", protocol) as ws:
            refused = await (await ws.start({"query": WATCH})).frame()
            assert error_code(refused) == "PERSISTED_QUERY_NOT_ALLOWED"
            watching = await ws.start(persisted(WATCH_ONE, id=target_id))
            event = await first_event(client, watching, target_id)
            assert event["outdialtargetStatusChanged"]["status"] in ("PROGRESSING", "IDLE")


@pytest.mark.parametrize("protocol", PROTOCOLS)
async def test_websockets_speak_automatic_persisted_queries(protocol: str) -> None:
    async with served(Settings()) as url, httpx.AsyncClient(base_url=url) as client:
        created = await post(
            client, {"query": CREATE, "variables": {"input": ops.new_input(OUTDIAL)}}
        )
        target_id = created.json()["data"]["createOutdialtarget"]["id"]
        async with GraphQLWebSocket.connect(f"{url.replace('http', 'ws')}/graphql", protocol) as ws:
            miss = await (await ws.start(persisted(WATCH_ONE, id=target_id))).frame()
            assert error_code(miss) == "PERSISTED_QUERY_NOT_FOUND"
            registering = await ws.start(persisted(WATCH_ONE, text=True, id=target_id))
            await first_event(client, registering, target_id)
            hitting = await ws.start(persisted(WATCH_ONE, id=target_id))
            await first_event(client, hitting, target_id)
