"""Request budgets: list items a request could return, targets its mutations could create."""

from __future__ import annotations

from collections.abc import Hashable
from typing import Any

import httpx
import pytest
from graphql import build_schema, get_introspection_query, parse

from server.guards import budget
from server.guards.budget import Cost, measure, sizing_variables
from server.settings import Settings, SettingsError
from tests.support import operations as ops
from tests.support.api import OUTDIAL
from tests.support.hardening import (
    GRAPHQL_RESPONSE,
    served,
)
from tests.support.operations import as_params, persisted
from tests.support.ws_client import PROTOCOLS, Frame, GraphQLWebSocket, errors_of

pytestmark = pytest.mark.mock_only  # acts before storage: one tier is enough

ITEMS_LIMIT = "at most 10,000 (MAX_RESULT_ITEMS)"
CREATES_LIMIT = "at most 1,000 in one request (MAX_CREATES_PER_REQUEST)"
ACCEPT = {"accept": GRAPHQL_RESPONSE}


@pytest.fixture
def settings(request: pytest.FixtureRequest) -> Settings:
    # Room for documents of many fields; the token cap has tests of its own.
    return Settings(**({"max_tokens": 100_000} | getattr(request, "param", {})))


async def post(client: httpx.AsyncClient, query: str, **variables: Any) -> dict[str, Any]:
    response = await client.post(
        "/graphql",
        json={"query": query, "variables": variables},
        headers={"accept": GRAPHQL_RESPONSE},
    )
    body: dict[str, Any] = response.json()
    body["status"] = response.status_code
    return body


def refused(body: dict[str, Any], limit: str) -> str:
    assert body["status"] == 400, body
    assert "data" not in body
    [error] = body["errors"]
    assert error["extensions"] == {"code": "GRAPHQL_VALIDATION_FAILED"}
    assert limit in error["message"]
    message: str = error["message"]
    return message


async def total(client: httpx.AsyncClient) -> int:
    body = await post(client, ops.COUNTS, outdialId=OUTDIAL)
    count: int = body["data"]["outdialtargetCounts"]["total"]
    return count


def page(alias: str = "", first: str = "$n", directives: str = "") -> str:
    """A page of targets; unaliased without `alias` (the alias cap allows 100)."""
    field = f"outdialtargets(outdialId: $o, first: {first}) {directives}"
    return f"{alias}{':' if alias else ''} {field} {{ edges {{ node {{ id }} }} }}"


def query(*fields: str, variables: str = "$o: ID!, $n: Int!") -> str:
    return f"query({variables}) {{ {' '.join(fields)} }}"


def hundred_pages() -> list[str]:
    return [page(f"p{n}") for n in range(100)]


# list items


async def test_a_hundred_full_pages_run_and_one_item_more_is_refused(
    client: httpx.AsyncClient,
) -> None:
    at_limit = await post(client, query(*hundred_pages()), o=OUTDIAL, n=100)
    assert at_limit["status"] == 200 and "errors" not in at_limit
    over = query(*hundred_pages(), "outdialtargetCounts(outdialId: $o) { total }", page(first="1"))
    message = refused(await post(client, over, o=OUTDIAL, n=100), ITEMS_LIMIT)
    assert message.startswith("The request could return up to 10,001 list items")


async def test_a_page_without_first_counts_as_its_default_of_100(
    client: httpx.AsyncClient,
) -> None:
    defaults = " ".join(
        f"d{n}: outdialtargets(outdialId: $o) {{ edges {{ cursor }} }}" for n in range(100)
    )
    defaults += " outdialtargets(outdialId: $o) { edges { cursor } }"
    refused(await post(client, query(defaults, variables="$o: ID!"), o=OUTDIAL), ITEMS_LIMIT)


async def test_skipped_fields_are_not_counted(client: httpx.AsyncClient) -> None:
    extra = page(directives="@include(if: $all)")
    document = query(*hundred_pages(), extra, variables="$o: ID!, $n: Int!, $all: Boolean!")
    assert "errors" not in await post(client, document, o=OUTDIAL, n=100, all=False)
    refused(await post(client, document, o=OUTDIAL, n=100, all=True), ITEMS_LIMIT)


async def test_fragments_count_wherever_they_are_spread(client: httpx.AsyncClient) -> None:
    fragment = "fragment Pages on Query { " + " ".join(hundred_pages()[:50]) + " }"
    document = f"query($o: ID!, $n: Int!) {{ ...Pages __typename ...Pages }} {fragment}"
    # Spread twice with the same response keys: the fields merge, 5,000 items.
    assert "errors" not in await post(client, document, o=OUTDIAL, n=100)
    renamed = fragment.replace("Pages on", "More on").replace(" p", " q")
    both = f"query($o: ID!, $n: Int!) {{ ...Pages ...More {page(first='1')} }} {fragment} {renamed}"
    refused(await post(client, both, o=OUTDIAL, n=100), ITEMS_LIMIT)


@pytest.mark.parametrize("settings", [{"max_result_items": 1}], indirect=True)
async def test_introspection_is_free(client: httpx.AsyncClient) -> None:
    body = await post(client, get_introspection_query(descriptions=True))
    assert body["status"] == 200 and "errors" not in body


async def test_a_page_over_its_own_maximum_still_gets_its_own_error(
    client: httpx.AsyncClient,
) -> None:
    body = await post(client, ops.LIST, outdialId=OUTDIAL, first=20_000)
    assert body["errors"][0]["extensions"] == {"code": "BAD_USER_INPUT", "field": "first"}


async def test_available_targets_count_at_their_limit(client: httpx.AsyncClient) -> None:
    available = "availableOutdialtargets(outdialId: $o, maxTryCounts: [1], limit: $n) { id }"
    fields = [f"a{n}: {available}" for n in range(100)]
    assert "errors" not in await post(client, query(*fields), o=OUTDIAL, n=100)
    refused(await post(client, query(*fields, page(first="1")), o=OUTDIAL, n=100), ITEMS_LIMIT)


@pytest.mark.parametrize("settings", [{"max_result_items": 150}], indirect=True)
async def test_the_item_budget_is_settable(client: httpx.AsyncClient) -> None:
    assert "errors" not in await post(client, query(page("a"), page("b", "50")), o=OUTDIAL, n=100)
    message = refused(
        await post(client, query(page("a"), page("b", "51")), o=OUTDIAL, n=100),
        "at most 150 (MAX_RESULT_ITEMS)",
    )
    assert "up to 151 list items" in message


# targets created


def creates(*sizes: int) -> tuple[str, dict[str, list[dict[str, Any]]]]:
    """A mutation creating `sizes` targets in as many aliased createOutdialtargets; variables."""
    names = [f"$i{n}" for n in range(len(sizes))]
    head = ", ".join(f"{name}: [CreateOutdialtargetInput!]!" for name in names)
    fields = " ".join(
        f"c{n}: createOutdialtargets(inputs: {name}) {{ id }}" for n, name in enumerate(names)
    )
    variables = {
        name[1:]: [ops.new_input(OUTDIAL)] * size for name, size in zip(names, sizes, strict=True)
    }
    return f"mutation({head}) {{ {fields} }}", variables


async def test_mutations_creating_over_1000_in_all_are_refused_and_write_nothing(
    client: httpx.AsyncClient,
) -> None:
    document, variables = creates(600, 401)
    message = refused(await post(client, document, **variables), CREATES_LIMIT)
    assert message.startswith("The request's mutations could create up to 1,001 targets")
    assert await total(client) == 0


async def test_1001_inputs_to_one_create_get_bad_user_input(client: httpx.AsyncClient) -> None:
    document, variables = creates(1001)
    body = await post(client, document, **variables)
    assert body["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"
    assert await total(client) == 0


@pytest.mark.parametrize("settings", [{"max_creates_per_request": 3}], indirect=True)
async def test_single_and_bulk_creates_add_up(client: httpx.AsyncClient) -> None:
    single = "createOutdialtarget(input: $one) { id }"
    bulk = "createOutdialtargets(inputs: $many) { id }"
    head = "mutation($one: CreateOutdialtargetInput!, $many: [CreateOutdialtargetInput!]!)"
    target = ops.new_input(OUTDIAL)
    over = await post(client, f"{head} {{ s: {single} {bulk} }}", one=target, many=[target] * 3)
    refused(over, "at most 3 in one request (MAX_CREATES_PER_REQUEST)")
    assert await total(client) == 0
    fits = await post(client, f"{head} {{ s: {single} {bulk} }}", one=target, many=[target] * 2)
    assert fits["status"] == 200 and "errors" not in fits
    assert await total(client) == 3


async def test_inline_inputs_count_like_variables(client: httpx.AsyncClient) -> None:
    target = f'{{outdialId: "{OUTDIAL}", destination0: {{type: TEL, target: "+821100000001"}}}}'
    inline = ", ".join([target] * 11)
    fields = " ".join(f"c{n}: createOutdialtargets(inputs: [{inline}]) {{ id }}" for n in range(91))
    refused(await post(client, f"mutation {{ {fields} }}"), CREATES_LIMIT)
    assert await total(client) == 0


# the walker, on a schema of the shape version 2 adds


V2 = build_schema(
    """
    type Query {
      outdials(first: Int! = 100, after: String): OutdialConnection!
      outdialtargets(outdialId: ID!, first: Int, last: Int): TargetConnection!
      outdialtargetsByDestination(target: String!, first: Int! = 100): TargetConnection!
    }
    type Mutation {
      claimOutdialtargets(outdialId: ID!, limit: Int! = 1): [Claimed!]!
      createOutdialtargets(inputs: [String!]!): [Target!]!
    }
    type OutdialConnection { edges: [OutdialEdge!]! }
    type OutdialEdge { node: Outdial! }
    type Outdial { id: ID! targets(first: Int): TargetConnection! }
    type TargetConnection { edges: [TargetEdge!]! totalCount: Int! }
    type TargetEdge { node: Target! }
    type Target { id: ID! }
    type Claimed { target: Target! }
    """
)


def cost(document: str, **variables: Any) -> Cost | None:
    return measure(V2, parse(document), variables)


def test_sizes_multiply_along_the_path() -> None:
    targets = "targets(first: 30) { edges { node { id } } }"
    nested = f"{{ outdials(first: 20) {{ edges {{ node {{ {targets} }} }} }} }}"
    assert cost(nested) == Cost(items=20 + 20 * 30, creates=0)
    assert cost("{ outdials { edges { node { targets { totalCount } } } } }") == Cost(100, 0)


def test_every_paging_argument_counts() -> None:
    assert cost('{ outdialtargets(outdialId: "x", last: 7) { edges { node { id } } } }') == Cost(
        7, 0
    )
    assert cost('{ outdialtargets(outdialId: "x") { edges { node { id } } } }') == Cost(100, 0)
    by_destination = (
        '{ outdialtargetsByDestination(target: "+8210", first: 3) { edges { node { id } } } }'
    )
    assert cost(by_destination) == Cost(3, 0)
    claims = (
        'mutation($n: Int!) { claimOutdialtargets(outdialId: "x", limit: $n) { target { id } } }'
    )
    assert cost(claims, n=40) == Cost(40, 0)
    assert cost(claims, n=5000) == Cost(100, 0)  # over its own maximum: counted as 100


def test_creates_count_their_inputs_up_to_the_maximum_of_one_call() -> None:
    bulk = """mutation($i: [String!]!) {
      a: createOutdialtargets(inputs: $i) { id } b: createOutdialtargets(inputs: ["x"]) { id } }"""
    assert cost(bulk, i=["x"] * 5) == Cost(items=6, creates=6)
    assert cost(bulk, i=["x"] * 5000) == Cost(items=1001, creates=1001)


def test_variables_that_do_not_fit_are_left_to_execution() -> None:
    assert (
        cost("query($n: Int!) { outdials(first: $n) { edges { node { id } } } }", n="many") is None
    )


def test_only_variables_of_sizes_and_directives_can_change_a_cost() -> None:
    document = parse("""
      query($o: ID!, $n: Int, $t: String!, $all: Boolean!, $x: Int) {
        outdialtargets(outdialId: $o, first: $n) @include(if: $all) { totalCount }
        outdialtargetsByDestination(target: $t) { ...Page } }
      fragment Page on TargetConnection { edges { node { id } } }
      mutation($i: [String!]!, $limit: Int!, $o: ID!) {
        createOutdialtargets(inputs: $i) { id } claimOutdialtargets(outdialId: $o, limit: $limit) {
          target { id } } }""")
    assert sizing_variables(V2, document, {}) == {"n", "all", "i", "limit"}
    memo: dict[Hashable, object] = {}
    assert sizing_variables(V2, parse("{ outdials { edges { node { id } } } }"), memo) == set()
    assert memo  # worked out once per document


async def test_a_cost_no_variable_changes_is_measured_once_per_document(
    client: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    measured: list[object] = []

    def counting(*arguments: Any) -> Cost | None:
        measured.append(arguments)
        return measure(*arguments)

    monkeypatch.setattr(budget, "measure", counting)
    fixed = query(page(first="100"), variables="$o: ID!")
    for _ in range(3):
        assert "errors" not in await post(client, fixed, o=OUTDIAL)
    sized = query(page(), page("b"))
    for n in (50, 50, 100):
        await post(client, sized, o=OUTDIAL, n=n)
    assert len(measured) == 1 + 3


# configuration


def test_budgets_are_read_from_the_environment() -> None:
    settings = Settings.from_env({"MAX_RESULT_ITEMS": "500", "MAX_CREATES_PER_REQUEST": "20"})
    assert (settings.max_result_items, settings.max_creates_per_request) == (500, 20)
    assert (Settings().max_result_items, Settings().max_creates_per_request) == (10_000, 1000)
    with pytest.raises(SettingsError, match="MAX_RESULT_ITEMS"):
        Settings.from_env({"MAX_RESULT_ITEMS": "0"})


# every way in: persisted queries over HTTP, both websocket protocols


async def test_a_persisted_query_is_measured_with_each_requests_variables(
    client: httpx.AsyncClient,
) -> None:
    document = query(*hundred_pages(), page())  # 101 pages of $n items
    fits = persisted(document, text=True, o=OUTDIAL, n=99)
    registered = await client.post("/graphql", json=fits)
    assert registered.status_code == 200 and "errors" not in registered.json()
    over = persisted(document, o=OUTDIAL, n=100)
    for method in ("POST", "GET"):
        if method == "POST":
            response = await client.post("/graphql", json=over, headers=ACCEPT)
        else:
            response = await client.get("/graphql", params=as_params(over), headers=ACCEPT)
        body = response.json() | {"status": response.status_code}
        assert "up to 10,100 list items" in refused(body, ITEMS_LIMIT)


async def ws_answer(protocol: str, url: str, payload: dict[str, Any]) -> Frame:
    async with GraphQLWebSocket.connect(f"{url.replace('http', 'ws')}/graphql", protocol) as ws:
        return await (await ws.start(payload)).frame()


def ws_refused(frame: Frame, limit: str) -> str:
    """Refused before execution: no data, one GRAPHQL_VALIDATION_FAILED naming the limit."""
    assert frame.kind == "error" or frame.payload.get("data") is None, frame
    [error] = errors_of(frame)
    assert error["extensions"] == {"code": "GRAPHQL_VALIDATION_FAILED"}, frame
    assert limit in error["message"]
    message: str = error["message"]
    return message


@pytest.mark.parametrize("protocol", PROTOCOLS)
async def test_websocket_queries_and_mutations_are_held_to_the_same_budgets(
    protocol: str,
) -> None:
    settings = Settings(max_tokens=100_000, max_result_items=150, max_creates_per_request=3)
    async with served(settings) as url:
        pages = {"query": query(page("a"), page("b", "51"))}
        over = await ws_answer(protocol, url, pages | {"variables": {"o": OUTDIAL, "n": 100}})
        assert "up to 151 list items" in ws_refused(over, "at most 150 (MAX_RESULT_ITEMS)")
        fits = await ws_answer(protocol, url, pages | {"variables": {"o": OUTDIAL, "n": 99}})
        assert fits.kind == "next" and "errors" not in fits.payload, fits
        document, variables = creates(2, 2)
        over = await ws_answer(protocol, url, {"query": document, "variables": variables})
        ws_refused(over, "at most 3 in one request (MAX_CREATES_PER_REQUEST)")
        async with httpx.AsyncClient(base_url=url) as http:
            assert await total(http) == 0
