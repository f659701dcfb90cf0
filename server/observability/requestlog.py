"""One log line per request (a websocket counts as one), each with a request id."""

from __future__ import annotations

import logging
import re
import time
import uuid
from collections.abc import Iterator
from contextvars import ContextVar
from dataclasses import dataclass, field

from starlette.types import ASGIApp, Message, Receive, Scope, Send
from strawberry.extensions import SchemaExtension

logger = logging.getLogger("outdial.requests")

REQUEST_ID_HEADER = b"x-request-id"
MAX_OPERATIONS_NOTED = 20

# Ids a client may choose: short, printable, nothing that could forge a log line.
_SANE_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:/+=@-]{0,127}")


@dataclass
class RequestRecord:
    request_id: str
    operations: list[str] = field(default_factory=list)

    def note_operation(self, name: str) -> None:
        if name not in self.operations and len(self.operations) < MAX_OPERATIONS_NOTED:
            self.operations.append(name)


_current: ContextVar[RequestRecord | None] = ContextVar("outdial_request", default=None)


def note_operation(name: str | None) -> None:
    """Tells the request log that the current request ran this operation."""
    record = _current.get()
    if record is not None:
        record.note_operation(name or "anonymous")


def current_request_id() -> str | None:
    record = _current.get()
    return None if record is None else record.request_id


class RequestIdFilter(logging.Filter):
    """Gives records logged while serving a request that request's id."""

    def filter(self, record: logging.LogRecord) -> bool:
        request_id = current_request_id()
        if request_id is not None and not hasattr(record, "request_id"):
            record.request_id = request_id
        return True


class OperationNames(SchemaExtension):
    """Tells the request log which GraphQL operations a request ran."""

    def on_operation(self) -> Iterator[None]:
        try:
            yield
        finally:
            note_operation(self.execution_context.operation_name)


class RequestLog:
    """Pure ASGI middleware, so streaming responses and websockets pass through untouched."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        record = RequestRecord(_request_id(scope))
        outcome = _Outcome()
        header = (REQUEST_ID_HEADER, record.request_id.encode())

        async def receive_noting_close() -> Message:
            message = await receive()
            if message["type"] == "websocket.disconnect":
                outcome.close_code = outcome.close_code or message.get("code", 1000)
            return message

        async def send_with_id(message: Message) -> None:
            kind = message["type"]
            if kind in ("http.response.start", "websocket.accept"):
                message = {**message, "headers": [*message.get("headers", ()), header]}
            outcome.saw(message)
            await send(message)

        token = _current.set(record)
        started = time.perf_counter()
        try:
            await self.app(scope, receive_noting_close, send_with_id)
        except BaseException:
            outcome.status = outcome.status or 500
            raise
        finally:
            _current.reset(token)
            _log(scope, record, outcome, time.perf_counter() - started)


@dataclass
class _Outcome:
    status: int | None = None
    close_code: int | None = None

    def saw(self, message: Message) -> None:
        kind = message["type"]
        if kind in ("http.response.start", "websocket.http.response.start"):
            self.status = message["status"]
        elif kind == "websocket.accept":
            self.status = 101
        elif kind == "websocket.close":
            # Closing before accepting refuses the handshake with 403.
            self.status = self.status or 403
            self.close_code = self.close_code or message.get("code", 1000)


def _request_id(scope: Scope) -> str:
    for name, value in scope["headers"]:
        if name == REQUEST_ID_HEADER:
            given: str = value.decode("latin-1")
            if _SANE_ID.fullmatch(given):
                return given
    return uuid.uuid4().hex


def _log(scope: Scope, record: RequestRecord, outcome: _Outcome, seconds: float) -> None:
    method = "WS" if scope["type"] == "websocket" else scope["method"]
    operation = ",".join(record.operations) or None
    duration_ms = round(seconds * 1000, 1)
    fields: dict[str, object] = {
        "request_id": record.request_id,
        "method": method,
        "path": scope["path"],
        "status": outcome.status,
        "duration_ms": duration_ms,
        "operation": operation,
    }
    client = scope.get("client")
    if client:
        fields["client"] = client[0]
    if outcome.close_code is not None:
        fields["close_code"] = outcome.close_code
    text = f"{method} {scope['path']} {outcome.status} {duration_ms}ms"
    if operation:
        text += f" op={operation}"
    if outcome.close_code is not None:
        text += f" close={outcome.close_code}"
    logger.info("%s id=%s", text, record.request_id, extra=fields)
