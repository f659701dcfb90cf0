"""FastExecutionContext answers byte for byte what graphql-core answers, only sooner.

Three worlds identical but for the execution context: each has its own mongomock database
holding the same targets, a service on the same fixed clock handing out the same new ids,
and a schema from build_schema with the app's extensions. The third answers through the
HTTP endpoint's own path (server.http.execution: prepared documents, compiled plans). Every
operation runs in all three and the JSON responses (data, errors with locations, paths and
extensions) must be the same bytes. Counting graphql-core's own field executions shows the
fast path was taken.
"""

from __future__ import annotations

import asyncio
import random
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, NewType

import graphql
import orjson
import pytest
import strawberry
from graphql import get_introspection_query
from mongomock_motor import AsyncMongoMockClient
from strawberry.extensions import FieldExtension, SchemaExtension
from strawberry.http import GraphQLRequestData
from strawberry.schema.config import StrawberryConfig
from strawberry.schema.schema import StrawberryGraphQLCoreExecutionContext
from strawberry.types import ExecutionResult

from domain import clock
from domain import service as service_module
from domain.errors import DatabaseUnavailable
from domain.events import Broker, Subscription
from domain.models import NOT_DELETED, Address, AddressType, Status, Target
from domain.paging import CursorCodec
from domain.service import TargetService
from engine.direct_query import DirectQuery
from engine.fast_execution import FastExecutionContext
from engine.shared_events import SharedEventExecutionContext
from resolvers import queries
from resolvers.context import Context, Scope
from schema.root import build_schema
from schema.types import Outdialtarget, OutdialtargetConnection, OutdialtargetEdge, PageInfo
from server.guards.auth import ScopeCheck
from server.guards.limits import document_limits
from server.http.execution import Operations
from server.http.persisted import PersistedQueries
from server.observability.metrics import Metrics
from server.observability.requestlog import OperationNames
from server.settings import Settings
from storage.mongo.connection import MongoStorage
from tests.support.operations import (
    CLAIM,
    CREATE,
    CREATE_MANY,
    DELETE,
    GET,
    LIST,
    MARK,
    REPORT,
    TARGET_FIELDS,
    UPDATE,
    new_input,
    tel,
)

OUTDIAL = "3f6a1c52-8d0e-4b7a-9c61-2e5d7f0a4b19"
BROKEN_OUTDIAL = "9b2e4d71-0c3a-4f58-8e16-7a5d3c9f2b40"
NOW = datetime(2025, 5, 1, 12, 0, tzinfo=UTC)
TIMEOUT = 5.0


def seed() -> list[Target]:
    """120 targets: every status and address type, null destinations, one deleted."""
    ids = random.Random(20250501)
    kinds = [kind for kind in AddressType if kind is not AddressType.NONE]  # NONE reads as null
    targets = []
    for n in range(120):
        created = clock.format_time(NOW - timedelta(days=1, seconds=n))
        targets.append(
            Target(
                id=str(uuid.UUID(int=ids.getrandbits(128), version=4)),
                outdial_id=OUTDIAL,
                name=f"Customer {n}",
                detail="" if n % 5 else f"row {n}",
                data=orjson.dumps({"n": n}).decode(),
                status=list(Status)[n % 3],
                destinations=tuple(
                    None
                    if (n // 3 + slot) % 4 == 0
                    else Address(kinds[(n + slot) % len(kinds)], f"+8211{n:04d}{slot}", f"n{slot}")
                    for slot in range(5)
                ),
                try_counts=(n % 3, n % 2, 0, 1, n % 5),
                tm_create=created,
                tm_update=created,
                tm_delete=created if n == 7 else NOT_DELETED,
            )
        )
    return targets


TARGETS = seed()
IDLE_WITH_DESTINATION0 = next(
    t for t in TARGETS if t.status is Status.IDLE and t.destinations[0] and not t.deleted
)

# What a resolver bug could bring. How graphql-core answers must not change, whether it
# reports an error or coerces the value.
BREAKAGES: dict[str, Callable[[Any], None]] = {
    "null in a non-null field": lambda t: setattr(t, "name", None),
    "no member of the enum": lambda t: setattr(t, "status", "weird"),
    "the enum's value, not its member": lambda t: setattr(t, "status", "idle"),
    "int beyond 32 bits": lambda t: setattr(t, "try_count_0", 2**40),
    "bool as int": lambda t: setattr(t, "try_count_1", True),
    "int as string": lambda t: setattr(t, "detail", 42),
    "bad enum in a nullable object": lambda t: setattr(t.destination_1, "type", "bogus"),
    "null in a nullable object's field": lambda t: setattr(t.destination_2, "target", None),
    "exception as object": lambda t: setattr(t, "destination_3", ValueError("boom")),
    "foreign object": lambda t: setattr(t, "destination_4", {"type": AddressType.TEL}),
}
COERCED = {"the enum's value, not its member", "bool as int", "int as string"}
BROKEN_TARGETS = [
    Target(
        id=str(uuid.UUID(int=n + 1, version=4)),
        outdial_id=BROKEN_OUTDIAL,
        name=name,
        detail="",
        data="{}",
        status=Status.IDLE,
        destinations=(Address(AddressType.TEL, "+821100000001"),) * 5,
        try_counts=(0, 0, 0, 0, 0),
        tm_create=clock.format_time(NOW - timedelta(seconds=n)),
        tm_update=clock.format_time(NOW - timedelta(seconds=n)),
        tm_delete=NOT_DELETED,
    )
    for n, name in enumerate(BREAKAGES)
]


class Ids:
    """Stands in for domain.service's uuid module: both worlds get the same new ids."""

    def __init__(self) -> None:
        self._random = random.Random()

    def restart(self, seed: int) -> None:
        self._random.seed(seed)

    def uuid4(self) -> uuid.UUID:
        return uuid.UUID(int=self._random.getrandbits(128), version=4)


class SignallingBroker(Broker):
    """Lets a test wait until a subscription is registered before publishing."""

    def __init__(self) -> None:
        super().__init__()
        self.subscribed = asyncio.Event()

    def subscribe(
        self, *, outdial_id: str | None = None, target_id: str | None = None
    ) -> Subscription:
        subscription = super().subscribe(outdial_id=outdial_id, target_id=target_id)
        self.subscribed.set()
        return subscription


class Hooks(SchemaExtension):
    """Records which operation hooks ran, into the list its factory was given."""

    def __init__(self, seen: list[str]) -> None:
        self.seen = seen

    def on_operation(self) -> Iterator[None]:
        self.seen.append("operation")
        yield

    def on_parse(self) -> Iterator[None]:
        self.seen.append("parse")
        yield

    def on_validate(self) -> Iterator[None]:
        self.seen.append("validate")
        yield

    def on_execute(self) -> Iterator[None]:
        self.seen.append("execute")
        yield


class ResolveHook(SchemaExtension):
    """An extension with a resolve hook, which must still see every field."""

    def __init__(self, seen: list[str]) -> None:
        self.seen = seen

    def resolve(self, _next: Any, root: Any, info: Any, *args: Any, **kwargs: Any) -> Any:
        self.seen.append(".".join(map(str, info.path.as_list())))
        return _next(root, info, *args, **kwargs)


def is_query(query: str) -> bool:
    try:
        document = graphql.parse(query)
    except graphql.GraphQLError:
        return False
    kinds = {
        definition.operation
        for definition in document.definitions
        if isinstance(definition, graphql.OperationDefinitionNode)
    }
    return kinds == {graphql.OperationType.QUERY}


def response(result: ExecutionResult) -> bytes:
    """The body the HTTP endpoint would send."""
    body: dict[str, Any] = {"data": result.data}
    if result.errors:
        body["errors"] = [error.formatted for error in result.errors]
    if result.extensions:
        body["extensions"] = result.extensions
    return orjson.dumps(body)


@dataclass
class World:
    schema: strawberry.Schema
    service: TargetService
    broker: SignallingBroker
    hooks: list[str] = field(default_factory=list)
    resolved: list[str] = field(default_factory=list)
    operations: Operations | None = None  # set: answers as the HTTP endpoint does

    def context(self, scope: Scope | None = "write") -> Context:
        return Context(service=self.service, broker=self.broker, scope=scope)

    async def respond(
        self,
        query: str,
        variables: dict[str, Any] | None,
        scope: Scope | None,
        operation_name: str | None = None,
    ) -> bytes:
        if self.operations is not None:
            request = GraphQLRequestData(query, variables, operation_name, None)
            answer = await self.operations.run(request, self.context(scope), "POST")
            return response(answer.result)
        result = await self.schema.execute(
            query, variables, context_value=self.context(scope), operation_name=operation_name
        )
        return response(result)


class HTTPExecutionContext(SharedEventExecutionContext):
    """The app's execution context, counted apart: the world answering over the HTTP path."""


@dataclass
class Worlds:
    slow: World
    fast: World
    http: World
    ids: Ids
    fields_run: Counter[type]  # graphql-core's execute_field calls, by execution context
    operations: int = 0
    repeated: int | None = None  # those calls when the HTTP path answered a query again
    http_fields: int = 0  # those calls in the HTTP path's answer (a mutation runs once)

    async def same(
        self,
        query: str,
        variables: dict[str, Any] | None = None,
        scope: Scope | None = "write",
        operation_name: str | None = None,
    ) -> dict[str, Any]:
        """The response every world gives, after checking they give the same bytes.

        A query runs twice over the HTTP path, the second time with the plans its first
        run made, so that engine.direct_query answers it where it can."""
        self.operations += 1
        answers = []
        for world in (self.slow, self.fast, self.http):
            self.ids.restart(self.operations)
            self.fields_run.pop(HTTPExecutionContext, None)
            answers.append(await world.respond(query, variables, scope, operation_name))
        self.http_fields = self.fields_run.pop(HTTPExecutionContext, 0)
        assert answers[1] == answers[0]
        assert answers[2] == answers[0]
        if is_query(query):
            self.fields_run.pop(HTTPExecutionContext, None)
            again = await self.http.respond(query, variables, scope, operation_name)
            assert again == answers[0]
            self.repeated = self.fields_run.pop(HTTPExecutionContext, 0)
        body: dict[str, Any] = orjson.loads(answers[0])
        return body

    def graphql_core_fields(self) -> tuple[int, int]:
        """(slow, fast) fields graphql-core executed itself since the last call."""
        counts = (
            self.fields_run[StrawberryGraphQLCoreExecutionContext],
            self.fields_run[FastExecutionContext],
        )
        self.fields_run.clear()
        return counts


async def make_world(
    context_class: type[StrawberryGraphQLCoreExecutionContext], resolve_hook: bool
) -> World:
    storage = await MongoStorage.prepare(AsyncMongoMockClient()[f"fast_{uuid.uuid4().hex}"])
    await storage.repository.create(targets=[*TARGETS, *BROKEN_TARGETS])
    broker = SignallingBroker()
    service = TargetService(
        storage.repository,
        cursors=CursorCodec(b"the same secret"),
        on_status_change=broker.publish,
        now=lambda: NOW,
    )
    hooks: list[str] = []
    resolved: list[str] = []
    extra = [lambda: ResolveHook(resolved)] if resolve_hook else []
    built = build_schema(
        extensions=[
            lambda: Hooks(hooks),
            *extra,
            Metrics().extension(),
            OperationNames,
            ScopeCheck,
        ],
        rules=document_limits(Settings()),
    )
    assert issubclass(built.execution_context_class, FastExecutionContext)
    built.execution_context_class = context_class
    world = World(built, service, broker, hooks, resolved)
    if context_class is HTTPExecutionContext:
        persisted = PersistedQueries(built.documents, cache_size=16)
        world.operations = Operations(built, persisted, Metrics())
    return world


async def make_worlds(monkeypatch: pytest.MonkeyPatch, *, resolve_hook: bool = False) -> Worlds:
    ids = Ids()
    monkeypatch.setattr(service_module, "uuid", ids)
    fields_run: Counter[type] = Counter()
    execute_field = StrawberryGraphQLCoreExecutionContext.execute_field

    def counting(self: StrawberryGraphQLCoreExecutionContext, *args: Any) -> Any:
        fields_run[type(self)] += 1
        return execute_field(self, *args)

    monkeypatch.setattr(StrawberryGraphQLCoreExecutionContext, "execute_field", counting)
    slow = await make_world(StrawberryGraphQLCoreExecutionContext, resolve_hook)
    fast = await make_world(FastExecutionContext, resolve_hook)
    http = await make_world(HTTPExecutionContext, resolve_hook)
    return Worlds(slow, fast, http, ids, fields_run)


@pytest.fixture
async def worlds(monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[Worlds]:
    yield await make_worlds(monkeypatch)


def test_the_app_schema_executes_with_it() -> None:
    assert issubclass(build_schema().execution_context_class, FastExecutionContext)


async def test_every_field_of_a_target_skips_graphql_cores_per_field_work(worlds: Worlds) -> None:
    for target in (TARGETS[0], TARGETS[1], TARGETS[7], IDLE_WITH_DESTINATION0):
        body = await worlds.same(GET, {"id": target.id})
        assert body["data"]["outdialtarget"]["id"] == target.id
        present = sum(1 for destination in target.destinations if destination)
        assert worlds.graphql_core_fields() == (1 + 19 + 5 * present, 1)
        assert worlds.repeated == 0  # answered again by engine.direct_query


async def test_pages_of_100(worlds: Worlds) -> None:
    first = await worlds.same(LIST, {"outdialId": OUTDIAL, "first": 100})
    edges = first["data"]["outdialtargets"]["edges"]
    assert len(edges) == 100
    slow, fast = worlds.graphql_core_fields()
    assert slow > 3000 and fast == 1
    assert worlds.repeated == 0
    after = first["data"]["outdialtargets"]["pageInfo"]["endCursor"]
    rest = await worlds.same(LIST, {"outdialId": OUTDIAL, "after": after})
    assert len(rest["data"]["outdialtargets"]["edges"]) == 19  # 120 minus the deleted one


async def test_enum_values_and_null_destinations(worlds: Worlds) -> None:
    body = await worlds.same(LIST, {"outdialId": OUTDIAL})
    nodes = [edge["node"] for edge in body["data"]["outdialtargets"]["edges"]]
    destinations = [node[f"destination{slot}"] for node in nodes for slot in range(5)]
    assert {node["status"] for node in nodes} == {s.name for s in Status}
    assert {d["type"] for d in destinations if d} == {k.name for k in AddressType} - {"NONE"}
    assert None in destinations
    for status in Status:
        await worlds.same(LIST, {"outdialId": OUTDIAL, "status": status.name, "first": 7})


async def test_aliases_fragments_and_typename(worlds: Worlds) -> None:
    query = """query($o: ID!, $id: ID!) {
      __typename
      page: outdialtargets(outdialId: $o, first: 30) {
        __typename
        list: edges { c: cursor __typename node { ...Target ... on Outdialtarget { status } } }
        pageInfo { ... on PageInfo { more: hasNextPage } endCursor }
      }
      one: outdialtarget(id: $id) { ...Target again: id first: destination0 { kind: type } }
      two: outdialtarget(id: $id) { id t: __typename }
    }
    fragment Target on Outdialtarget {
      id __typename name
      destination0 { ...Where __typename }
      d1: destination1 { ...Where target }
    }
    fragment Where on Address { type target targetName }"""
    body = await worlds.same(query, {"o": OUTDIAL, "id": TARGETS[2].id})
    assert body["data"]["one"]["again"] == TARGETS[2].id
    assert worlds.graphql_core_fields()[1] == 4  # the root fields only


SKIP_INCLUDE = """query($o: ID!, $yes: Boolean!, $no: Boolean!) {
  outdialtargets(outdialId: $o, first: 20) { edges { node {
    id name @skip(if: $yes) detail @include(if: $yes) status @include(if: true) data @skip(if: true)
    destination0 @include(if: $no) { type }
    destination1 { type @skip(if: $no) target }
    ... on Outdialtarget @include(if: $yes) { tryCount0 }
    ...Counts @skip(if: $no)
  } } } }
fragment Counts on Outdialtarget { tryCount1 tryCount2 @include(if: $no) }"""


async def test_skip_and_include_follow_each_requests_variables(worlds: Worlds) -> None:
    answers = {}
    for yes, no in [(True, False), (False, True), (True, False), (True, True), (False, False)]:
        body = await worlds.same(SKIP_INCLUDE, {"o": OUTDIAL, "yes": yes, "no": no})
        node = body["data"]["outdialtargets"]["edges"][0]["node"]
        answers[yes, no] = set(node)
    assert answers[True, False] == {"id", "detail", "status", "destination1", "tryCount0"} | {
        "tryCount1"
    }
    assert answers[False, True] == {"id", "name", "status", "destination0", "destination1"}


async def test_plans_shared_between_requests_follow_their_arguments(worlds: Worlds) -> None:
    query = """query($o: ID!, $first: Int!, $status: OutdialtargetStatus) {
      outdialtargets(outdialId: $o, first: $first, status: $status) {
        edges { node { id status destination2 { type } } } } }"""
    for first, status in [(3, None), (30, "DONE"), (3, None), (1, "IDLE")]:
        body = await worlds.same(query, {"o": OUTDIAL, "first": first, "status": status})
        assert len(body["data"]["outdialtargets"]["edges"]) == first


async def test_root_lists_and_counts(worlds: Worlds) -> None:
    available = """query($o: ID!) {
      availableOutdialtargets(outdialId: $o, maxTryCounts: [5, 5, 5, 5, 5], limit: 40) {
        id status tryCount0 destination0 { type target } } }"""
    body = await worlds.same(available, {"o": OUTDIAL})
    assert len(body["data"]["availableOutdialtargets"]) == 40
    assert worlds.repeated == 0
    counts = "query($o: ID!) { outdialtargetCounts(outdialId: $o) { idle progressing done total } }"
    await worlds.same(counts, {"o": OUTDIAL})
    assert worlds.repeated == 0
    for listing in (
        "{ outdials { edges { cursor node { outdialId } } pageInfo { hasNextPage } } }",
        "{ outdials { edges { node { outdialId ...C } } } } fragment C on OutdialSummary {"
        " counts { idle progressing done total } }",
    ):
        body = await worlds.same(listing)
        assert len(body["data"]["outdials"]["edges"]) == 2
        assert worlds.repeated == 0


async def test_errors_from_resolvers(worlds: Worlds) -> None:
    query = """query($bad: ID!, $id: ID!) {
      a: outdialtarget(id: $bad) { id } b: outdialtarget(id: $id) { id name } }"""
    body = await worlds.same(query, {"bad": "not-a-uuid", "id": TARGETS[3].id})
    assert body["data"]["b"]["id"] == TARGETS[3].id
    assert body["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"
    assert worlds.repeated == 2  # two root fields: graphql-core runs them together
    body = await worlds.same(LIST, {"outdialId": OUTDIAL, "first": 0})
    assert body["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"
    missing = str(uuid.UUID(int=999, version=4))
    body = await worlds.same(MARK, {"id": missing, "slot": 0})
    assert body["errors"][0]["extensions"]["code"] == "NOT_FOUND"
    body = await worlds.same("{ outdialtarget(id: 1) { id nope } }")
    assert body["errors"][0]["extensions"]["code"] == "GRAPHQL_VALIDATION_FAILED"


async def test_scope_checks_still_run_before_execution(worlds: Worlds) -> None:
    body = await worlds.same(MARK, {"id": TARGETS[0].id, "slot": 1}, scope="read")
    assert body["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    body = await worlds.same(GET, {"id": TARGETS[0].id}, scope=None)
    assert body["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"


async def test_introspection(worlds: Worlds) -> None:
    full = get_introspection_query(
        descriptions=True,
        specified_by_url=True,
        directive_is_repeatable=True,
        schema_description=True,
        input_value_deprecation=True,
    )
    body = await worlds.same(full)
    assert body["data"]["__schema"]["queryType"]["name"] == "Query"
    typed = """{ __type(name: "Outdialtarget") { name kind fields { name type {
      name kind ofType { name kind } } } } }"""
    await worlds.same(typed)


async def test_mutations(worlds: Worlds) -> None:
    created = await worlds.same(CREATE, {"input": new_input(OUTDIAL, name="new")})
    new_id = created["data"]["createOutdialtarget"]["id"]
    inputs = [new_input(OUTDIAL, name=f"many {n}", destination2=tel(detail="x")) for n in range(3)]
    await worlds.same(CREATE_MANY, {"inputs": inputs})
    renamed = {"name": "renamed", "destination1": tel("+821199999999")}
    await worlds.same(UPDATE, {"id": new_id, "input": renamed})
    await worlds.same(MARK, {"id": new_id, "slot": 1})
    await worlds.same(REPORT, {"id": new_id, "status": "DONE"})
    # Each world's claim gets its own random token: compare everything but the token.
    untokened = CLAIM.replace("claimToken ", "")
    claimed = await worlds.same(untokened, {"outdialId": OUTDIAL, "max": [3, 3, 3, 3, 3]})
    assert claimed["data"]["claimOutdialtarget"]["target"]["status"] == "PROGRESSING"
    await worlds.same(DELETE, {"id": new_id})
    assert "errors" not in await worlds.same(GET, {"id": new_id})


async def test_a_subscription_event(worlds: Worlds) -> None:
    query = f"""subscription($o: ID!) {{ outdialtargetStatusChanged(outdialId: $o) {{
      __typename previousStatus status target {{ {TARGET_FIELDS} }} }} }}"""
    events = []
    for world in (worlds.slow, worlds.fast):
        stream = await world.schema.subscribe(query, {"o": OUTDIAL}, context_value=world.context())
        assert not isinstance(stream, ExecutionResult), stream
        event = asyncio.ensure_future(anext(stream))
        await asyncio.wait_for(world.broker.subscribed.wait(), TIMEOUT)
        await world.respond(MARK, {"id": IDLE_WITH_DESTINATION0.id, "slot": 0}, "write")
        events.append(response(await asyncio.wait_for(event, TIMEOUT)))
        await stream.aclose()
    assert events[1] == events[0]
    change = orjson.loads(events[0])["data"]["outdialtargetStatusChanged"]
    assert (change["previousStatus"], change["status"]) == ("IDLE", "PROGRESSING")


@pytest.fixture
def broken(monkeypatch: pytest.MonkeyPatch) -> None:
    of = Outdialtarget.of.__func__

    def broken_of(cls: type[Outdialtarget], target: Target) -> Outdialtarget:
        built = of(cls, target)
        if target.name in BREAKAGES:
            BREAKAGES[target.name](built)
        return built

    monkeypatch.setattr(Outdialtarget, "of", classmethod(broken_of))


@pytest.mark.usefixtures("broken")
@pytest.mark.parametrize("breakage", BREAKAGES)
async def test_broken_data_is_reported_as_graphql_core_reports_it(
    worlds: Worlds, breakage: str
) -> None:
    target = next(t for t in BROKEN_TARGETS if t.name == breakage)
    body = await worlds.same(GET, {"id": target.id})
    assert ("errors" in body) is (breakage not in COERCED)
    if "errors" in body:
        assert worlds.graphql_core_fields()[1] > 1  # the fast path handed the object back
    assert (worlds.repeated == 0) is (breakage in COERCED)  # else graphql-core completed it


@pytest.mark.usefixtures("broken")
async def test_a_page_with_broken_targets(worlds: Worlds) -> None:
    page = """query($o: ID!) { outdialtargets(outdialId: $o) {
      edges { node { id destination1 { type } destination2 { target } } } } }"""
    body = await worlds.same(page, {"o": BROKEN_OUTDIAL})
    paths = [error["path"] for error in body["errors"]]
    assert ["outdialtargets", "edges", 6, "node", "destination1", "type"] in paths
    assert len(body["data"]["outdialtargets"]["edges"]) == len(BROKEN_TARGETS)
    await worlds.same(LIST, {"outdialId": BROKEN_OUTDIAL})
    available = """query($o: ID!) { availableOutdialtargets(outdialId: $o, maxTryCounts: [1, 1,
      1, 1, 1], limit: 20) { id name status tryCount0 tryCount1 detail } }"""
    await worlds.same(available, {"o": BROKEN_OUTDIAL})


@pytest.mark.usefixtures("broken")
async def test_typename_alone_on_a_broken_object(worlds: Worlds) -> None:
    query = """query($o: ID!) { outdialtargets(outdialId: $o) { edges { node {
      id destination3 { __typename } destination4 { __typename } } } } }"""
    body = await worlds.same(query, {"o": BROKEN_OUTDIAL})
    assert [error["path"][-1] for error in body["errors"]] == ["destination3"]


@pytest.mark.usefixtures("broken")
async def test_an_iterator_is_read_once_even_when_the_fast_path_gives_up(
    worlds: Worlds, monkeypatch: pytest.MonkeyPatch
) -> None:
    def connection(
        edges: list[OutdialtargetEdge], page_info: PageInfo, count_all: Any
    ) -> OutdialtargetConnection:
        return OutdialtargetConnection(
            edges=iter(edges),  # type: ignore[arg-type]
            page_info=page_info,
            count_all=count_all,
        )

    monkeypatch.setattr(queries, "OutdialtargetConnection", connection)
    query = """query($o: ID!) { outdialtargets(outdialId: $o) { edges { node {
      id destination1 { type } } } } }"""
    body = await worlds.same(query, {"o": BROKEN_OUTDIAL})
    assert len(body["data"]["outdialtargets"]["edges"]) == len(BROKEN_TARGETS)
    assert len(body["errors"]) == 1


async def test_a_query_of_one_root_field_is_answered_directly(worlds: Worlds) -> None:
    aliased = """query One($id: ID!) { it: outdialtarget(id: $id) { ...T __typename } }
    fragment T on Outdialtarget { id status destination0 { type target } tmDelete }"""
    unknown = str(uuid.UUID(int=12345, version=4))
    for query, variables in [
        (aliased, {"id": TARGETS[4].id}),
        (aliased, {"id": TARGETS[7].id}),  # soft-deleted
        (GET, {"id": TARGETS[5].id}),
        (GET, {"id": unknown}),  # null (planned by the one before: null makes no plan)
        (LIST, {"outdialId": OUTDIAL}),  # $first from its default
        (LIST, {"outdialId": OUTDIAL, "status": "DONE", "first": 5}),
    ]:
        body = await worlds.same(query, variables)
        assert "errors" not in body
        assert worlds.repeated == 0, query
    assert body["data"]["outdialtargets"]["edges"][0]["node"]["status"] == "DONE"
    both = """query Counts($o: ID!) { outdialtargetCounts(outdialId: $o) { idle total } }
    query Target($id: ID!) { outdialtarget(id: $id) { id name } }"""
    for name, variables, root_field in [
        ("Counts", {"o": OUTDIAL}, "outdialtargetCounts"),
        ("Target", {"id": TARGETS[9].id}, "outdialtarget"),
    ]:
        body = await worlds.same(both, variables, operation_name=name)
        assert list(body["data"]) == [root_field]
        assert worlds.repeated == 0, name


async def test_a_mutation_of_one_root_field_is_answered_directly(worlds: Worlds) -> None:
    idle = [t for t in TARGETS if t.status is Status.IDLE and t.destinations[0] and not t.deleted]
    for n, target in enumerate(idle[:3]):
        marked = await worlds.same(MARK, {"id": target.id, "slot": 0})
        assert marked["data"]["markOutdialtargetProgressing"]["status"] == "PROGRESSING"
        assert (worlds.http_fields == 0) is (n > 0)  # the first one made the plan
        reported = await worlds.same(REPORT, {"id": target.id, "status": "IDLE"})
        assert (
            reported["data"]["updateOutdialtargetStatus"]["tryCount0"] == target.try_counts[0] + 1
        )
        assert (worlds.http_fields == 0) is (n > 0)
    refused = await worlds.same(REPORT, {"id": idle[0].id, "status": "DONE"})  # IDLE: no attempt
    assert refused["errors"][0]["extensions"]["code"] == "INVALID_STATE"
    assert worlds.http_fields == 0
    renamed = {"input": {"name": "renamed", "destination1": tel("+821199999999")}}
    for target in idle[3:5]:
        await worlds.same(UPDATE, {"id": target.id, **renamed})
    assert worlds.http_fields == 0


@pytest.mark.usefixtures("broken")
async def test_a_mutation_whose_value_the_plan_refuses_still_runs_once(worlds: Worlds) -> None:
    await worlds.same(MARK, {"id": IDLE_WITH_DESTINATION0.id, "slot": 0})  # makes the plan
    for target in BROKEN_TARGETS:
        # Running the resolver again would answer "already PROGRESSING" instead.
        body = await worlds.same(MARK, {"id": target.id, "slot": 0})
        assert ("errors" in body) is (target.name not in COERCED)
        assert (worlds.http_fields > 0) is (target.name not in COERCED), target.name
        (stored,) = await worlds.http.service.get_many([target.id])
        assert isinstance(stored, Target) and stored.status is Status.PROGRESSING


class Unavailable:
    """A store that is down: every read fails, as a database that does not answer."""

    def __init__(self) -> None:
        self.reads = 0

    async def get_many(self, *, target_ids: Any) -> Any:
        self.reads += 1
        raise DatabaseUnavailable("the database did not answer in time")

    async def page(self, **_: Any) -> Any:
        self.reads += 1
        raise DatabaseUnavailable("the database did not answer in time")


async def test_a_resolver_that_raises_runs_once(worlds: Worlds) -> None:
    await worlds.same(GET, {"id": TARGETS[0].id})
    await worlds.same(LIST, {"outdialId": OUTDIAL})
    body = await worlds.same(GET, {"id": "not-a-uuid"})
    assert body["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"
    assert body["data"] == {"outdialtarget": None}
    assert worlds.repeated == 0
    stores = {}
    for world in (worlds.slow, worlds.fast, worlds.http):
        stores[world.schema] = store = Unavailable()
        world.service = TargetService(store, cursors=CursorCodec(b"the same secret"))  # type: ignore[arg-type]
    for query, variables in [(GET, {"id": TARGETS[1].id}), (LIST, {"outdialId": OUTDIAL})]:
        body = await worlds.same(query, variables)
        assert body["errors"][0]["extensions"]["code"] == "SERVICE_UNAVAILABLE"
    assert body["data"] is None  # outdialtargets is non-null
    assert stores[worlds.slow.schema].reads == 2
    assert stores[worlds.http.schema].reads == 2 * 2  # answered twice, each with one read


async def test_what_the_direct_path_leaves_to_graphql_core(worlds: Worlds) -> None:
    await worlds.same(GET, {"id": TARGETS[0].id})  # planned: what follows could go direct
    assert worlds.repeated == 0
    body = await worlds.same(GET, {"id": None})  # variables that do not coerce
    assert "non-null type 'ID!' not to be None" in body["errors"][0]["message"]
    assert worlds.repeated == 0  # answered directly, as graphql-core answers them
    counted = """query($o: ID!) { outdialtargets(outdialId: $o, first: 2) {
      totalCount edges { node { id } } } }"""  # a resolver below the root: no plan completes it
    body = await worlds.same(counted, {"o": OUTDIAL})
    assert body["data"]["outdialtargets"]["totalCount"] == 119
    assert worlds.repeated and worlds.repeated > 1
    await worlds.same(SKIP_INCLUDE, {"o": OUTDIAL, "yes": True, "no": False})  # directives
    assert worlds.repeated == 1  # the root field (below it, plans made for this request)


async def test_operation_hooks_still_run(worlds: Worlds) -> None:
    await worlds.same(GET, {"id": TARGETS[0].id})
    assert worlds.fast.hooks == worlds.slow.hooks
    assert set(worlds.fast.hooks) == {"operation", "parse", "validate", "execute"}


async def test_a_resolve_hook_still_sees_every_field(monkeypatch: pytest.MonkeyPatch) -> None:
    worlds = await make_worlds(monkeypatch, resolve_hook=True)
    await worlds.same(LIST, {"outdialId": OUTDIAL, "first": 10})
    assert worlds.fast.resolved == worlds.slow.resolved
    assert "outdialtargets.edges.9.node.tmDelete" in worlds.fast.resolved


class Shout(FieldExtension):
    def resolve(self, next_: Any, source: Any, info: Any, **kwargs: Any) -> Any:
        return str(next_(source, info, **kwargs)).upper()


@strawberry.type
class Greeting:
    plain: str
    loud: str = strawberry.field(extensions=[Shout()])


@strawberry.type
class GreetingQuery:
    @strawberry.field
    def greeting(self) -> Greeting:
        return Greeting(plain="hi", loud="hi")


Lenient = NewType("Lenient", str)
LENIENT = strawberry.scalar(name="Lenient", serialize=lambda value: f"<{value}>", parse_value=str)


@strawberry.type
class Odd:
    required: Lenient
    optional: Lenient | None


@strawberry.type
class OddQuery:
    @strawberry.field
    def odd(self) -> Odd | None:
        return Odd(required=None, optional=None)  # type: ignore[arg-type]

    @strawberry.field
    def fine(self) -> Odd:
        return Odd(required=Lenient("a"), optional=None)


def test_a_custom_scalar_never_sees_null() -> None:
    answers = []
    for context_class in (StrawberryGraphQLCoreExecutionContext, FastExecutionContext):
        odd = strawberry.Schema(
            OddQuery,
            config=StrawberryConfig(scalar_map={Lenient: LENIENT}),
            execution_context_class=context_class,
        )
        result = odd.execute_sync("{ odd { required optional } fine { required optional } }")
        answers.append(response(result))
    assert answers[1] == answers[0]
    assert orjson.loads(answers[0])["data"] == {
        "odd": None,
        "fine": {"required": "<a>", "optional": None},
    }


@strawberry.type
class RootQuery:
    loud: str = strawberry.field(resolver=lambda: "hi", extensions=[Shout()])

    @strawberry.field
    def greeting(self) -> Greeting:
        return Greeting(plain="hi", loud="hi")


@strawberry.type
class RootMutation:
    @strawberry.mutation
    def greet(self) -> Greeting:
        return Greeting(plain="hi", loud="hi")


@pytest.mark.parametrize(
    ("query", "direct"),
    [
        ("{ greeting { plain } }", True),
        ("query Named { hello: greeting { ...G } } fragment G on Greeting { plain }", True),
        ("{ loud }", False),  # a field extension
        ("{ a: greeting { plain } b: greeting { plain } }", False),
        ("{ __typename }", False),
        ("{ ... on RootQuery { greeting { plain } } }", False),
        ("mutation { greet { plain } }", True),
        ("mutation { a: greet { plain } b: greet { plain } }", False),
    ],
)
def test_which_operations_can_take_the_direct_path(query: str, direct: bool) -> None:
    built = strawberry.Schema(RootQuery, RootMutation)
    document = graphql.parse(query)
    operation = next(
        d for d in document.definitions if isinstance(d, graphql.OperationDefinitionNode)
    )
    found = DirectQuery.of(built, document, operation, {})  # type: ignore[arg-type]
    assert (found is not None) is direct
    assert DirectQuery.of(built, document, operation, None) is None  # directives: no plans


def test_a_field_extension_on_a_plain_attribute_still_runs() -> None:
    quick = strawberry.Schema(GreetingQuery, execution_context_class=FastExecutionContext)
    result = quick.execute_sync("{ greeting { plain loud } }")
    assert result.data == {"greeting": {"plain": "hi", "loud": "HI"}}


async def test_plans_live_with_their_prepared_document(worlds: Worlds) -> None:
    documents = worlds.http.schema.documents  # type: ignore[attr-defined]
    query = "query($o: ID!) { outdialtargets(outdialId: $o, first: 3) { edges { node { id } } } }"
    await worlds.same(query, {"o": OUTDIAL})
    plans = documents.get(query).plans
    assert plans  # made by the first request, kept with the document
    await worlds.same(query, {"o": OUTDIAL})
    assert documents.get(query).plans is plans


async def test_strawberrys_own_execution_plans_with_the_prepared_document(worlds: Worlds) -> None:
    query = "query($o: ID!) { outdialtargets(outdialId: $o, first: 2) { edges { node { id } } } }"
    await worlds.fast.respond(query, {"o": OUTDIAL}, "write")  # as over a websocket
    prepared = worlds.fast.schema.documents.get(query)  # type: ignore[attr-defined]
    assert prepared.plans, "made by strawberry's execution, kept with the document"
    worlds.graphql_core_fields()
    await worlds.fast.respond(query, {"o": OUTDIAL}, "write")
    assert worlds.graphql_core_fields() == (0, 1)  # the root field; its plan completed the rest
