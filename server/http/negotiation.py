"""GraphQL over HTTP: media types, content negotiation and status codes.

https://graphql.github.io/graphql-over-http/draft/
"""

from __future__ import annotations

import re

import orjson
from graphql import ExecutionResult, GraphQLError
from starlette.responses import Response
from strawberry.types.graphql import OperationType

from domain.errors import OutdialError
from engine import Lru

GRAPHQL_RESPONSE = "application/graphql-response+json"
JSON = "application/json"
EVENT_STREAM = "text/event-stream"

# A request error (no `data`) answered in the GraphQL response media type: its status by code.
_REQUEST_ERROR_STATUS = {
    "UNAUTHENTICATED": 401,
    "FORBIDDEN": 403,
    "INTERNAL_SERVER_ERROR": 500,
    "SERVICE_UNAVAILABLE": 503,
    # Apollo Client's persisted query link gives up hashing on a 400 or 500, never retrying.
    "PERSISTED_QUERY_NOT_FOUND": 200,
    "PERSISTED_QUERY_NOT_SUPPORTED": 200,
}

# GET only reads; subscriptions stream over the websocket.
OPERATIONS = {
    "GET": frozenset({OperationType.QUERY}),
    "POST": frozenset({OperationType.QUERY, OperationType.MUTATION}),
}

_OFFERED = {GRAPHQL_RESPONSE: GRAPHQL_RESPONSE, JSON: JSON, "*/*": JSON, "application/*": JSON}


class NotAcceptable(Exception):
    pass


def negotiate(accept: str | None) -> str:
    """The response media type for an Accept header; NotAcceptable when none fits.

    Remembered per header text (clients send the same few), up to `_REMEMBERED` of them.

    No Accept means the GraphQL response type (the spec's default since its 2025 watershed);
    wildcards mean application/json, which every GraphQL client reads.
    """
    known = _negotiated.get(accept)
    if known is None:
        known = _negotiate(accept)
        _negotiated.put(accept, known)
    if isinstance(known, NotAcceptable):
        raise NotAcceptable(*known.args)
    return known


_REMEMBERED = 256
_negotiated: Lru[str | None, str | NotAcceptable] = Lru(_REMEMBERED)


def _negotiate(accept: str | None) -> str | NotAcceptable:
    if accept is None or not accept.strip():
        return GRAPHQL_RESPONSE
    candidates = []
    for item in accept.split(","):
        media_type, parameters = _parse(item)
        offered = _OFFERED.get(media_type)
        quality = _quality(parameters.get("q", "1"))
        if offered is not None and quality > 0:
            candidates.append((quality, media_type == offered, offered))
    if not candidates:
        return NotAcceptable(f"This endpoint answers {GRAPHQL_RESPONSE} or {JSON} only.")
    # Higher quality wins, then a named type over a wildcard, then the one listed first.
    return max(candidates, key=lambda candidate: candidate[:2])[2]


def prefers_event_stream(accept: str | None) -> bool:
    """Whether Accept asks for text/event-stream (graphql-sse, server.http.sse) at least as much
    as for anything else."""
    if accept is None or EVENT_STREAM not in accept.lower():
        return False
    qualities: dict[str, float] = {}
    for item in accept.split(","):
        media_type, parameters = _parse(item)
        qualities[media_type] = max(
            qualities.get(media_type, 0.0), _quality(parameters.get("q", "1"))
        )
    wanted = qualities.pop(EVENT_STREAM, 0.0)
    return wanted > 0 and all(wanted >= quality for quality in qualities.values())


def is_json_body(content_type: str | None) -> bool:
    """POST bodies must be JSON in UTF-8, so a plain HTML form can never carry an operation."""
    media_type, parameters = _parse(content_type or "")
    return media_type == JSON and parameters.get("charset", "utf-8") in ("utf-8", "utf8")


def is_json_container(body: bytes) -> bool:
    """Whether a JSON body holds an object or an array (batches), going by its first byte."""
    return _CONTAINER.match(body) is not None


_CONTAINER = re.compile(rb"[ \t\r\n]*[{\[]")


def _parse(header_item: str) -> tuple[str, dict[str, str]]:
    media_type, *parameters = header_item.split(";")
    pairs = (parameter.partition("=") for parameter in parameters)
    return media_type.strip().lower(), {
        name.strip().lower(): value.strip().strip('"').lower() for name, _, value in pairs
    }


def _quality(value: str) -> float:
    try:
        return float(value)
    except ValueError:
        return 0.0


def request_error(error: OutdialError | str) -> ExecutionResult:
    """A request refused before execution: no data, one error (a bare message is a bad document)."""
    if isinstance(error, str):
        return ExecutionResult(
            None, [GraphQLError(error, extensions={"code": "GRAPHQL_VALIDATION_FAILED"})]
        )
    return ExecutionResult(None, [GraphQLError(error.message, extensions=error.extensions)])


def is_request_error(result: ExecutionResult) -> bool:
    """No execution started (parse, validation, variables, auth): no `data` entry at all."""
    return (
        result.data is None
        and bool(result.errors)
        and all(error.path is None for error in result.errors or ())
    )


def request_error_status(result: ExecutionResult) -> int:
    code = (result.errors[0].extensions or {}).get("code") if result.errors else None
    return _REQUEST_ERROR_STATUS.get(str(code), 400)


def error_response(status: int, message: str, media_type: str = JSON) -> Response:
    """A request refused before GraphQL ran, still answered as a GraphQL response."""
    body = {"errors": [{"message": message, "extensions": {"code": "BAD_REQUEST"}}]}
    return Response(orjson.dumps(body), status, media_type=content_type(media_type))


def content_type(media_type: str) -> str:
    return f"{media_type}; charset=utf-8"
