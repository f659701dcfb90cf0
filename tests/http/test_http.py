"""The HTTP surface as clients and browsers meet it."""

from __future__ import annotations

import httpx

from server.app import create_app
from server.settings import Settings
from storage.mongo.connection import using_database
from tests.support import operations as ops
from tests.support.api import OUTDIAL, GraphQLClient


async def test_healthz(client: httpx.AsyncClient) -> None:
    response = await client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


async def test_graphiql_page_for_browsers(client: httpx.AsyncClient) -> None:
    response = await client.get("/graphql", headers={"accept": "text/html"})
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    assert "graphiql" in response.text.lower()
    assert "https://" not in response.text and "http://" not in response.text
    asset = await client.get("/graphiql-static/graphiql.min.js")
    assert asset.status_code == 200
    assert len(asset.content) > 100_000


async def test_post_json(client: httpx.AsyncClient) -> None:
    response = await client.post("/graphql", json={"query": "{ __typename }"})
    assert response.status_code == 200
    assert response.json() == {"data": {"__typename": "Query"}}


async def test_query_over_get(client: httpx.AsyncClient) -> None:
    response = await client.get(
        "/graphql",
        params={"query": ops.COUNTS, "variables": f'{{"outdialId": "{OUTDIAL}"}}'},
        headers={"accept": "application/json"},
    )
    assert response.status_code == 200
    assert response.json()["data"]["outdialtargetCounts"]["total"] == 0


async def test_malformed_json_body_is_400_and_writes_nothing(
    client: httpx.AsyncClient, gql: GraphQLClient
) -> None:
    response = await client.post(
        "/graphql",
        content=b'{"query": "mutation { createOutdialtarget(',
        headers={"content-type": "application/json"},
    )
    assert response.status_code == 400
    counts = await gql.data(ops.COUNTS, outdialId=OUTDIAL)
    assert counts["outdialtargetCounts"]["total"] == 0


async def test_mutation_over_get_is_refused_and_writes_nothing(
    client: httpx.AsyncClient, gql: GraphQLClient
) -> None:
    mutation = (
        'mutation { createOutdialtarget(input: {outdialId: "' + OUTDIAL + '", '
        'destination0: {type: TEL, target: "+821100000001"}}) { id } }'
    )
    response = await client.get(
        "/graphql", params={"query": mutation}, headers={"accept": "application/json"}
    )
    assert response.status_code == 405
    counts = await gql.data(ops.COUNTS, outdialId=OUTDIAL)
    assert counts["outdialtargetCounts"]["total"] == 0


class ExplodingCollection:
    """A collection whose reads fail the way a bug or a broken driver would."""

    name = "outdialtargets"

    async def create_indexes(self, indexes: object) -> list[str]:
        return []

    async def find_one(self, *args: object, **kwargs: object) -> None:
        raise RuntimeError("secret detail: password=hunter2")

    find = find_one


class ExplodingDatabase:
    def get_collection(self, name: str, **options: object) -> ExplodingCollection:
        return ExplodingCollection()

    async def command(self, *args: object) -> dict:
        raise NotImplementedError


async def test_unexpected_errors_reach_clients_as_generic_internal_errors(caplog) -> None:
    app = create_app(
        Settings(),
        storage=lambda: using_database(ExplodingDatabase()),  # type: ignore[arg-type]
    )
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
            response = await http.post(
                "/graphql",
                json={"query": ops.MARK, "variables": {"id": OUTDIAL, "slot": 0}},
            )
    body = response.json()
    assert body["errors"][0]["message"] == "Internal server error"
    assert body["errors"][0]["extensions"] == {"code": "INTERNAL_SERVER_ERROR"}
    assert "hunter2" not in response.text and "Traceback" not in response.text
    assert "hunter2" in caplog.text
