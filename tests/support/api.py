"""Talking to the API as a frontend does: the outdials tests use, and a client."""

from __future__ import annotations

from typing import Any

import httpx

OUTDIAL = "40bea034-1d17-474d-a5de-da00d0861c69"
OTHER_OUTDIAL = "5c1f3f4e-9a2b-4c3d-8e7f-0a1b2c3d4e5f"


class GraphQLClient:
    """Posts operations the way a frontend does, and unpacks the answers."""

    def __init__(self, http: httpx.AsyncClient) -> None:
        self.http = http

    async def execute(self, query: str, **variables: Any) -> dict[str, Any]:
        response = await self.http.post("/graphql", json={"query": query, "variables": variables})
        body: dict[str, Any] = response.json()
        return body

    async def data(self, query: str, **variables: Any) -> dict[str, Any]:
        body = await self.execute(query, **variables)
        assert "errors" not in body, body
        result: dict[str, Any] = body["data"]
        return result

    async def error(self, query: str, **variables: Any) -> dict[str, Any]:
        body = await self.execute(query, **variables)
        assert body.get("errors"), body
        error: dict[str, Any] = body["errors"][0]
        return error
