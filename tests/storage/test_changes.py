import asyncio
import logging
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from typing import Any

import pytest
from mongomock.filtering import filter_applies
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.errors import AutoReconnect, OperationFailure

from domain.events import Broker, Subscription
from domain.models import Status, StatusChange
from storage.documents import UnreadableLog
from storage.mongo.changes import (
    STATUS_PIPELINE,
    ChangeStreamConsumer,
    change_source,
    status_change_from,
    supports_change_streams,
)
from tests.support.documents import stored_document

pytestmark = pytest.mark.asyncio

TIMEOUT = 5
OUTDIAL = "40bea034-1d17-474d-a5de-da00d0861c69"
T1 = "1b3d7a92-7146-466d-90f5-4bc701ada4c0"
T2 = "5e0e3b10-29b1-4d2c-9a3e-8c5a3f8e1f20"
NS = {"db": "outdial", "coll": "outdialtargets"}
ENDS = object()  # the server closed the cursor without an invalidate


def stored(target_id: str, status: str, **changes: Any) -> dict[str, Any]:
    at = "2024-05-01 10:00:00.000000"
    base = {"name": "test destination 0", "status": status, "tm_create": at, "tm_update": at}
    return stored_document(target_id, **(base | changes))


class Recorder:
    """Builds change events with increasing resume tokens, like one collection's history."""

    def __init__(self) -> None:
        self.sequence = 0

    def _event(self, operation: str, target_id: str | None, **fields: Any) -> dict[str, Any]:
        self.sequence += 1
        event: dict[str, Any] = {
            "_id": {"_data": f"8266{self.sequence:08X}000000012B0429296E1404"},
            "operationType": operation,
            "clusterTime": {"$timestamp": {"t": 1714557600, "i": self.sequence}},
            "wallTime": "2024-05-01T10:00:00Z",
        }
        if target_id is not None:
            event["ns"] = NS
            event["documentKey"] = {"_id": target_id}
        event.update(fields)
        return event

    def insert(self, doc: dict[str, Any]) -> dict[str, Any]:
        return self._event("insert", doc["id"], fullDocument=doc)

    def update(
        self,
        after: dict[str, Any] | None,
        updated: dict[str, Any],
        *,
        target_id: str | None = None,
        before: dict[str, Any] | None = None,
        removed: list[str] | None = None,
    ) -> dict[str, Any]:
        key = target_id or (after or before or {})["id"]
        event = self._event(
            "update",
            key,
            updateDescription={
                "updatedFields": updated,
                "removedFields": removed or [],
                "truncatedArrays": [],
            },
            fullDocument=after,
        )
        if before is not None:
            event["fullDocumentBeforeChange"] = before
        return event

    def replace(
        self, after: dict[str, Any], *, before: dict[str, Any] | None = None
    ) -> dict[str, Any]:
        event = self._event("replace", after["id"], fullDocument=after)
        if before is not None:
            event["fullDocumentBeforeChange"] = before
        return event

    def delete(self, target_id: str) -> dict[str, Any]:
        return self._event("delete", target_id)

    def invalidate(self) -> dict[str, Any]:
        return self._event("invalidate", None)


def claim_of(target_id: str, tm: str, try_count: int = 1) -> dict[str, Any]:
    return {"status": "progressing", "try_count_0": try_count, "tm_update": tm}


class RecordedSource:
    """A change stream over a fixed history that resumes after a token like the server does.

    `faults` maps a history position to what happens instead of serving it the first time:
    an exception (a dropped connection) or ENDS. Without a token a stream starts "now",
    after everything served so far. Past the end it waits like an idle live stream.
    """

    def __init__(
        self,
        history: list[dict[str, Any]],
        faults: dict[int, object] | None = None,
        *,
        refuse_tokens: Exception | None = None,
    ) -> None:
        self.history = history
        self.faults = dict(faults or {})
        self.refuse_tokens = refuse_tokens
        self.opened_with: list[Mapping[str, Any] | None] = []
        self.open_streams = 0
        self.served_up_to = 0
        self.caught_up = asyncio.Event()

    def __call__(self, token: Mapping[str, Any] | None) -> Any:
        return self._open(token)

    @asynccontextmanager
    async def _open(self, token: Mapping[str, Any] | None) -> AsyncIterator[AsyncIterator[Any]]:
        self.opened_with.append(token)
        if token is not None and self.refuse_tokens is not None:
            raise self.refuse_tokens
        self.open_streams += 1
        try:
            yield self._stream(self._start(token))
        finally:
            self.open_streams -= 1

    def _start(self, token: Mapping[str, Any] | None) -> int:
        if token is None:
            return self.served_up_to
        return 1 + next(n for n, e in enumerate(self.history) if e["_id"] == token)

    async def _stream(self, position: int) -> AsyncIterator[Mapping[str, Any]]:
        while position < len(self.history):
            fault = self.faults.pop(position, None)
            if fault is ENDS:
                return
            if isinstance(fault, Exception):
                raise fault
            self.served_up_to = max(self.served_up_to, position + 1)
            yield self.history[position]
            position += 1
        self.caught_up.set()
        await asyncio.Future()


async def consume_all(
    source: RecordedSource, broker: Broker, unreadable: UnreadableLog | None = None
) -> ChangeStreamConsumer:
    consumer = ChangeStreamConsumer(source, broker, retry_delay=0, unreadable=unreadable)
    task = asyncio.create_task(consumer.run())
    try:
        await asyncio.wait_for(source.caught_up.wait(), TIMEOUT)
    finally:
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
    assert source.open_streams == 0
    return consumer


async def drain(subscription: Subscription) -> list[StatusChange]:
    received = []
    while subscription.pending:
        received.append(await subscription.__anext__())
    return received


def transitions(changes: list[StatusChange]) -> list[tuple[str, Status, Status]]:
    return [(c.target.id, c.previous_status, c.status) for c in changes]


# status_change_from: one recorded event at a time


async def test_insert_delete_and_non_status_updates_are_not_status_changes() -> None:
    r = Recorder()
    idle = stored(T1, "idle")

    assert status_change_from(r.insert(idle)) is None
    assert status_change_from(r.delete(T1)) is None
    renamed = stored(T1, "idle", name="renamed")
    assert status_change_from(r.update(renamed, {"name": "renamed"})) is None
    deleted_soft = {"tm_delete": "2024-05-02 00:00:00.000000"}
    assert status_change_from(r.update(stored(T1, "idle", **deleted_soft), deleted_soft)) is None


async def test_status_update_without_pre_image_takes_this_changes_fields() -> None:
    r = Recorder()
    tm = "2024-05-01 10:05:00.000000"
    # updateLookup ran after a later change had already made the target DONE.
    looked_up = stored(T1, "done", try_count_0=1, tm_update="2024-05-01 10:09:00.000000")

    result = status_change_from(r.update(looked_up, claim_of(T1, tm)))

    assert result is not None
    assert (result.previous_status, result.status) == (Status.IDLE, Status.PROGRESSING)
    assert result.target.id == T1 and result.target.outdial_id == OUTDIAL
    assert result.target.try_counts == (1, 0, 0, 0, 0)
    assert result.target.tm_update == tm


@pytest.mark.parametrize(
    ("new", "previous"),
    [("idle", Status.PROGRESSING), ("done", Status.PROGRESSING), ("progressing", Status.IDLE)],
)
async def test_previous_status_follows_the_state_machine(new: str, previous: Status) -> None:
    event = Recorder().update(
        stored(T1, new), {"status": new, "tm_update": "2024-05-01 11:00:23.000000"}
    )

    result = status_change_from(event)

    assert result is not None and result.previous_status is previous
    assert result.status is Status(new)


async def test_pre_image_gives_the_previous_status_and_the_exact_document() -> None:
    r = Recorder()
    before = stored(T1, "progressing", try_count_0=1)
    updated = {"status": "idle", "tm_update": "2024-05-01 10:06:00.000000"}
    # Another program changed a nested field in the same write.
    updated["destination_0.target"] = "+821100000002"

    result = status_change_from(r.update(None, updated, target_id=T1, before=before))

    assert result is not None
    assert (result.previous_status, result.status) == (Status.PROGRESSING, Status.IDLE)
    assert result.target.try_counts == (1, 0, 0, 0, 0)
    destination = result.target.destinations[0]
    assert destination is not None and destination.target == "+821100000002"
    assert result.target.tm_update == "2024-05-01 10:06:00.000000"


async def test_removed_fields_read_leniently() -> None:
    r = Recorder()
    before = stored(T1, "idle")
    after = stored(T1, "progressing")
    del after["data"]

    result = status_change_from(
        r.update(after, {"status": "progressing"}, before=before, removed=["data"])
    )

    assert result is not None and result.target.data == ""


async def test_status_written_again_unchanged_is_not_an_event() -> None:
    r = Recorder()
    before = stored(T1, "idle")
    event = r.update(
        stored(T1, "idle"),
        {"status": "idle", "tm_update": "2024-05-01 11:00:23.000000"},
        before=before,
    )

    assert status_change_from(event) is None


async def test_replace_is_an_event_only_when_the_pre_image_shows_a_status_change() -> None:
    r = Recorder()
    idle, progressing = stored(T1, "idle"), stored(T1, "progressing", try_count_0=1)

    changed = status_change_from(r.replace(progressing, before=idle))
    assert changed is not None
    assert (changed.previous_status, changed.status) == (Status.IDLE, Status.PROGRESSING)
    assert status_change_from(r.replace(stored(T1, "idle", name="x"), before=idle)) is None
    # Without a pre-image nothing tells whether the status changed.
    assert status_change_from(r.replace(progressing)) is None


async def test_update_of_a_document_deleted_meanwhile_is_skipped(
    caplog: pytest.LogCaptureFixture,
) -> None:
    event = Recorder().update(None, {"status": "done"}, target_id=T1)

    with caplog.at_level(logging.DEBUG, logger="outdial.changes"):
        assert status_change_from(event) is None

    assert any("document is gone" in r.getMessage() for r in caplog.records)


# ChangeStreamConsumer: whole recorded streams through the seam


async def test_consumer_publishes_each_status_change_once_in_order() -> None:
    r = Recorder()
    history = [
        r.insert(stored(T1, "idle")),
        r.insert(stored(T2, "idle")),
        r.update(
            stored(T1, "progressing", try_count_0=1), claim_of(T1, "2024-05-01 11:00:00.000000")
        ),
        r.update(
            stored(T1, "progressing", name="n"),
            {"name": "n", "tm_update": "2024-05-01 11:00:01.000000"},
        ),
        r.update(
            stored(T2, "progressing", try_count_0=1), claim_of(T2, "2024-05-01 11:00:02.000000")
        ),
        r.update(stored(T1, "idle"), {"status": "idle", "tm_update": "2024-05-01 11:00:03.000000"}),
        r.delete(T2),
        r.update(
            stored(T1, "progressing", try_count_0=2), claim_of(T1, "2024-05-01 11:00:04.000000", 2)
        ),
        r.update(stored(T1, "done"), {"status": "done", "tm_update": "2024-05-01 11:00:05.000000"}),
    ]
    broker = Broker()
    everyone, only_t2 = broker.subscribe(), broker.subscribe(target_id=T2)

    consumer = await consume_all(RecordedSource(history), broker)

    assert transitions(await drain(everyone)) == [
        (T1, Status.IDLE, Status.PROGRESSING),
        (T2, Status.IDLE, Status.PROGRESSING),
        (T1, Status.PROGRESSING, Status.IDLE),
        (T1, Status.IDLE, Status.PROGRESSING),
        (T1, Status.PROGRESSING, Status.DONE),
    ]
    assert transitions(await drain(only_t2)) == [(T2, Status.IDLE, Status.PROGRESSING)]
    assert consumer.published == 5
    assert consumer.resume_token == history[-1]["_id"]


async def test_dropped_connection_resumes_after_the_last_token_without_gaps_or_repeats(
    caplog: pytest.LogCaptureFixture,
) -> None:
    r = Recorder()
    history = [
        r.update(stored(T1, "progressing"), claim_of(T1, "2024-05-01 11:00:00.000000")),
        r.update(stored(T2, "progressing"), claim_of(T2, "2024-05-01 11:00:01.000000")),
        r.update(stored(T1, "idle"), {"status": "idle", "tm_update": "2024-05-01 11:00:02.000000"}),
        r.update(stored(T2, "done"), {"status": "done", "tm_update": "2024-05-01 11:00:03.000000"}),
    ]
    source = RecordedSource(history, {2: AutoReconnect("connection reset by peer")})
    broker = Broker()
    subscription = broker.subscribe()

    with caplog.at_level(logging.WARNING, logger="outdial.changes"):
        consumer = await consume_all(source, broker)

    assert source.opened_with == [None, history[1]["_id"]]
    assert transitions(await drain(subscription)) == [
        (T1, Status.IDLE, Status.PROGRESSING),
        (T2, Status.IDLE, Status.PROGRESSING),
        (T1, Status.PROGRESSING, Status.IDLE),
        (T2, Status.PROGRESSING, Status.DONE),
    ]
    assert consumer.published == 4
    assert any("AutoReconnect" in r.getMessage() for r in caplog.records)


async def test_stream_that_just_ends_is_reopened_from_the_last_token() -> None:
    r = Recorder()
    history = [
        r.update(stored(T1, "progressing"), claim_of(T1, "2024-05-01 11:00:00.000000")),
        r.update(stored(T1, "idle"), {"status": "idle", "tm_update": "2024-05-01 11:00:01.000000"}),
    ]
    source = RecordedSource(history, {1: ENDS})
    broker = Broker()
    subscription = broker.subscribe(outdial_id=OUTDIAL)

    await consume_all(source, broker)

    assert source.opened_with == [None, history[0]["_id"]]
    assert len(await drain(subscription)) == 2


async def test_invalidate_restarts_without_a_token() -> None:
    r = Recorder()
    history = [
        r.update(stored(T1, "progressing"), claim_of(T1, "2024-05-01 11:00:00.000000")),
        {**r._event("drop", T1), "documentKey": None},
        r.invalidate(),
        r.insert(stored(T2, "idle")),
        r.update(stored(T2, "progressing"), claim_of(T2, "2024-05-01 11:00:01.000000")),
    ]
    source = RecordedSource(history)
    broker = Broker()
    subscription = broker.subscribe()

    consumer = await consume_all(source, broker)

    assert source.opened_with == [None, None]
    assert transitions(await drain(subscription)) == [
        (T1, Status.IDLE, Status.PROGRESSING),
        (T2, Status.IDLE, Status.PROGRESSING),
    ]
    assert consumer.resume_token == history[-1]["_id"]


async def test_lost_history_drops_the_token_instead_of_retrying_it_forever(
    caplog: pytest.LogCaptureFixture,
) -> None:
    r = Recorder()
    history = [
        r.update(stored(T1, "progressing"), claim_of(T1, "2024-05-01 11:00:00.000000")),
        r.update(stored(T1, "idle"), {"status": "idle", "tm_update": "2024-05-01 11:00:01.000000"}),
    ]
    lost = OperationFailure("resume point may no longer be in the oplog", code=286)
    source = RecordedSource(history, {1: AutoReconnect("gone")}, refuse_tokens=lost)

    with caplog.at_level(logging.ERROR, logger="outdial.changes"):
        await consume_all(source, Broker())

    assert source.opened_with == [None, history[0]["_id"], None]
    assert any("history lost" in r.getMessage() for r in caplog.records)


async def test_an_unreadable_document_is_skipped_and_the_stream_goes_on(
    caplog: pytest.LogCaptureFixture,
) -> None:
    r = Recorder()
    history = [
        r.update(stored(T1, "paused"), {"status": "paused"}),
        r.update(stored(T2, "progressing"), claim_of(T2, "2024-05-01 11:00:01.000000")),
    ]
    source = RecordedSource(history)
    broker = Broker()
    subscription = broker.subscribe()

    with caplog.at_level(logging.WARNING, logger="outdial.changes"):
        await consume_all(source, broker)

    assert source.opened_with == [None]
    assert transitions(await drain(subscription)) == [(T2, Status.IDLE, Status.PROGRESSING)]
    assert any("skipping unreadable change" in r.getMessage() for r in caplog.records)


# The MongoDB side of the seam


async def test_pipeline_passes_only_changes_that_can_carry_a_status() -> None:
    r = Recorder()
    match = STATUS_PIPELINE[0]["$match"]
    kept = [
        r.insert(stored(T1, "idle")),
        r.update(stored(T1, "done"), {"status": "done"}),
        r.replace(stored(T1, "idle")),
        r.invalidate(),
    ]
    dropped = [r.delete(T1), r._event("drop", None), r._event("rename", None)]

    assert [filter_applies(match, e) for e in kept] == [True] * len(kept)
    assert [filter_applies(match, e) for e in dropped] == [False] * len(dropped)


class FakeStream:
    def __init__(self, events: list[dict[str, Any]]) -> None:
        self.events = events
        self.closed = False

    async def __aenter__(self) -> "FakeStream":
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        self.closed = True

    def __aiter__(self) -> AsyncIterator[dict[str, Any]]:
        return self._iterate()

    async def _iterate(self) -> AsyncIterator[dict[str, Any]]:
        for event in self.events:
            yield event


class FakeMotorCollection:
    """Motor's watch returns the stream, opened on first use."""

    def __init__(self, events: list[dict[str, Any]]) -> None:
        self.stream = FakeStream(events)
        self.calls: list[tuple[tuple[Any, ...], dict[str, Any]]] = []

    def watch(self, *args: Any, **kwargs: Any) -> FakeStream:
        self.calls.append((args, kwargs))
        return self.stream


class FakePyMongoCollection(AsyncCollection[dict[str, Any]]):
    """PyMongo's async watch is a coroutine returning the stream (no server: only watch)."""

    def __init__(self, events: list[dict[str, Any]]) -> None:
        self.stream = FakeStream(events)
        self.calls: list[tuple[tuple[Any, ...], dict[str, Any]]] = []

    async def watch(self, *args: Any, **kwargs: Any) -> FakeStream:  # type: ignore[override]
        self.calls.append((args, kwargs))
        return self.stream


@pytest.mark.parametrize(
    "shaped_like", [FakeMotorCollection, FakePyMongoCollection], ids=["motor", "pymongo"]
)
async def test_change_source_watches_with_pre_images_and_the_token(shaped_like: Any) -> None:
    event = Recorder().update(stored(T1, "done"), {"status": "done"})
    collection = shaped_like([event])
    token = {"_data": "8266000000"}

    async with change_source(collection)(token) as stream:
        received = [e async for e in stream]

    assert received == [event]
    assert collection.stream.closed
    [(args, kwargs)] = collection.calls
    assert args == (STATUS_PIPELINE,)
    assert kwargs == {
        "full_document": "updateLookup",
        "full_document_before_change": "whenAvailable",
        "resume_after": token,
    }


class FakeDatabase:
    def __init__(self, hello: dict[str, Any]) -> None:
        self.hello = hello
        self.commands: list[str] = []

    async def command(self, name: str) -> dict[str, Any]:
        self.commands.append(name)
        return self.hello


@pytest.mark.parametrize(
    ("hello", "supported"),
    [
        ({"isWritablePrimary": True, "setName": "rs0", "hosts": ["127.0.0.1:27017"]}, True),
        ({"isWritablePrimary": False, "secondary": True, "setName": "rs0"}, True),
        ({"isWritablePrimary": True, "msg": "isdbgrid"}, True),
        ({"isWritablePrimary": True, "maxWireVersion": 21}, False),
    ],
    ids=["primary", "secondary", "mongos", "standalone"],
)
async def test_change_streams_need_a_replica_set_or_mongos(
    hello: dict[str, Any], supported: bool
) -> None:
    database = FakeDatabase(hello)

    assert await supports_change_streams(database) is supported
    assert database.commands == ["hello"]


async def test_documents_other_programs_write_unreadable_are_known_as_they_arrive() -> None:
    """So MongoDB's index-only counts leave them out at once on a replica set."""
    r = Recorder()
    history = [
        r.insert(stored(T1, "idle", name=["not", "a", "string"])),
        r.insert(stored(T2, "idle")),
    ]
    unreadable = UnreadableLog()
    await consume_all(RecordedSource(history), Broker(), unreadable)
    assert unreadable.ids == {T1}
