"""A GraphQL request read from a GET query string or a JSON POST body, checked for shape."""

from __future__ import annotations

from typing import Any

import orjson
from cross_web import HTTPException
from starlette.requests import ClientDisconnect, Request
from strawberry.http import GraphQLRequestData

from server.http import negotiation as http

_NOT_JSON = "Unable to parse request body as JSON"


async def read_request(request: Request) -> GraphQLRequestData:
    """The request's operation; HTTPException(400) names what is wrong with it."""
    if request.method == "GET":
        data: Any = dict(request.query_params)
        for name in ("variables", "extensions"):
            if data.get(name):
                data[name] = _json(data[name])
    else:
        body = await _body(request)
        if not http.is_json_container(body):
            raise HTTPException(400, "The request body must be a JSON object.")
        data = _json(body)
        if isinstance(data, list):
            raise HTTPException(400, "Batching is not enabled")
    return _checked(data)


async def _body(request: Request) -> bytes:
    """The whole body, as `Request.body()` reads it, without its stream generator."""
    chunks: list[bytes] = []
    while True:
        message = await request.receive()
        if message["type"] == "http.request":
            chunks.append(message.get("body", b""))
            if not message.get("more_body", False):
                break
        elif message["type"] == "http.disconnect":
            raise ClientDisconnect
    body = chunks[0] if len(chunks) == 1 else b"".join(chunks)
    request._body = body  # as Request.body() keeps it, for anything that reads it again
    return body


def _json(raw: str | bytes) -> Any:
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError as error:
        raise HTTPException(400, _NOT_JSON) from error


def _checked(data: dict[str, Any]) -> GraphQLRequestData:
    query, variables = data.get("query"), data.get("variables")
    extensions, operation_name = data.get("extensions"), data.get("operationName")
    if not isinstance(query, str | None):
        raise HTTPException(400, _refusal("query", "a string or null, if provided"))
    if not isinstance(variables, dict | None):
        raise HTTPException(400, _refusal("variables", "an object or null, if provided"))
    if not isinstance(extensions, dict | None):
        raise HTTPException(400, _refusal("extensions", "an object or null, if provided"))
    if not isinstance(operation_name, str | None):
        raise HTTPException(400, _refusal("operationName", "a string"))
    return GraphQLRequestData(query, variables, operation_name, extensions)


def _refusal(name: str, expected: str) -> str:
    return f"The GraphQL operation's `{name}` must be {expected}."
