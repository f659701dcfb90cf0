"""One status event, many subscribers with the same document: executed once, received by all."""

from __future__ import annotations

import asyncio
from typing import Any

from mongomock_motor import AsyncMongoMockClient

from domain.events import Broker
from domain.models import Address, AddressType, StatusChange
from domain.paging import CursorCodec
from domain.service import TargetService
from engine.shared_events import SharedEventExecutionContext
from resolvers.context import Context
from schema.root import build_schema
from storage.mongo.connection import MongoStorage
from tests.support.documents import status_change

OUTDIAL = "40bea034-1d17-474d-a5de-da00d0861c69"
DOCUMENT = """subscription($outdialId: ID) {
  outdialtargetStatusChanged(outdialId: $outdialId) { previousStatus status target { id name } }
}"""


class CountingContext(SharedEventExecutionContext):
    executions = 0

    def execute_fields(self, *args: Any, **kwargs: Any) -> Any:
        CountingContext.executions += 1
        return super().execute_fields(*args, **kwargs)


def change(name: str, target_id: str) -> StatusChange:
    return status_change(
        target_id,
        OUTDIAL,
        name=name,
        destinations=(Address(AddressType.TEL, "+821100000001"), None, None, None, None),
        tm_create="2022-04-30 17:52:16.484341",
        tm_update="2022-04-30 17:53:51.183345",
    )


async def test_subscribers_with_one_document_share_one_execution_per_event() -> None:
    storage = await MongoStorage.prepare(AsyncMongoMockClient()["shared"])  # type: ignore[arg-type]
    broker = Broker()
    service = TargetService(storage.repository, cursors=CursorCodec(b"k"))
    schema = build_schema()
    schema.execution_context_class = CountingContext
    streams = []
    for variables in [{"outdialId": OUTDIAL}] * 3 + [{"outdialId": None}]:
        context = Context(service=service, broker=broker)
        streams.append(
            await schema.subscribe(DOCUMENT, variable_values=variables, context_value=context)
        )
    firsts = [asyncio.ensure_future(anext(s)) for s in streams]  # type: ignore[arg-type]
    while len(broker) < len(streams):
        await asyncio.sleep(0)
    CountingContext.executions = 0
    broker.publish(change("first", "00000000-0000-4000-8000-000000000001"))
    results = await asyncio.wait_for(asyncio.gather(*firsts), 5)
    payloads = [r.data for r in results]
    expected = {
        "outdialtargetStatusChanged": {
            "previousStatus": "IDLE",
            "status": "PROGRESSING",
            "target": {"id": "00000000-0000-4000-8000-000000000001", "name": "first"},
        }
    }
    assert payloads == [expected] * 4
    assert CountingContext.executions == 2, "one per distinct variables, not per subscriber"
    for stream in streams:
        await stream.aclose()  # type: ignore[attr-defined]
    assert len(broker) == 0
