"""Feeds the process's broker from a MongoDB change stream, so every instance sees every change."""

from __future__ import annotations

import asyncio
import copy
import logging
from collections.abc import AsyncIterable, Callable, Mapping
from contextlib import AbstractAsyncContextManager
from typing import Any

from pymongo.errors import OperationFailure

from domain import states
from domain.events import Broker
from domain.models import Status, StatusChange
from storage.documents import UnreadableLog, target_from_document
from storage.mongo.driver import Collection, watch

logger = logging.getLogger("outdial.changes")

ChangeDocument = Mapping[str, Any]
ResumeToken = Mapping[str, Any]
ChangeSource = Callable[
    [ResumeToken | None], AbstractAsyncContextManager[AsyncIterable[ChangeDocument]]
]

# invalidate is listed so that a filter never hides the end of the stream.
STATUS_PIPELINE: list[dict[str, Any]] = [
    {"$match": {"operationType": {"$in": ["insert", "update", "replace", "invalidate"]}}}
]

# The resume token points at history the server no longer has: resuming can never succeed.
UNRESUMABLE_CODES = frozenset({260, 280, 286})


def change_source(collection: Collection) -> ChangeSource:
    """Watch `collection` (of either driver) for the changes that can carry a status."""

    def open_stream(
        token: ResumeToken | None,
    ) -> AbstractAsyncContextManager[AsyncIterable[ChangeDocument]]:
        return watch(
            collection,
            STATUS_PIPELINE,
            full_document="updateLookup",
            full_document_before_change="whenAvailable",
            resume_after=token,
        )

    return open_stream


async def supports_change_streams(database: Any) -> bool:
    """Change streams need a replica set member or a mongos, not a standalone server."""
    try:
        hello = await database.command("hello")
    except NotImplementedError:  # in-process fakes (mongomock) answer no commands
        return False
    return "setName" in hello or hello.get("msg") == "isdbgrid"


class ChangeStreamConsumer:
    def __init__(
        self,
        source: ChangeSource,
        broker: Broker,
        *,
        retry_delay: float = 1.0,
        unreadable: UnreadableLog | None = None,
    ) -> None:
        self._source = source
        self._broker = broker
        self._retry_delay = retry_delay
        # Documents other programs write that break the shape are known as they arrive.
        self._unreadable = unreadable or UnreadableLog()
        self.resume_token: ResumeToken | None = None
        self.published = 0

    async def run(self) -> None:
        """Consume until cancelled, reopening the stream after every failure or end."""
        while True:
            try:
                await self._consume()
            except Exception as error:
                self._forget_token_if_unresumable(error)
                logger.warning(
                    "change stream failed (%s: %s); reopening in %.1fs",
                    type(error).__name__,
                    error,
                    self._retry_delay,
                )
            await asyncio.sleep(self._retry_delay)

    async def _consume(self) -> None:
        async with self._source(self.resume_token) as stream:
            async for change in stream:
                if change.get("operationType") == "invalidate":
                    logger.warning("change stream invalidated (collection dropped?); restarting")
                    self.resume_token = None
                    return
                self._handle(change)
                self.resume_token = change["_id"]
        logger.info("change stream ended; reopening")

    def _handle(self, change: ChangeDocument) -> None:
        written = change.get("fullDocument")
        if isinstance(written, Mapping):
            self._unreadable.read(written)
        outdial_id = created_or_deleted_in(change)
        if outdial_id is not None:
            self._broker.outdial_changed(outdial_id)
        try:
            status_change = status_change_from(change)
        except (KeyError, ValueError, TypeError, AttributeError) as error:
            # A malformed document must not stall the stream: resuming would replay it forever.
            logger.warning("skipping unreadable change of %s: %r", change.get("documentKey"), error)
            return
        if status_change is not None:
            self._broker.publish(status_change)
            self.published += 1

    def _forget_token_if_unresumable(self, error: Exception) -> None:
        if isinstance(error, OperationFailure) and error.code in UNRESUMABLE_CODES:
            logger.error("change stream history lost; restarting from now, events may be missed")
            self.resume_token = None


def created_or_deleted_in(change: ChangeDocument) -> str | None:
    """The outdial whose targets this insert or delete (a tm_delete update) changed."""
    kind = change.get("operationType")
    deleting = kind == "update" and "tm_delete" in change["updateDescription"].get(
        "updatedFields", {}
    )
    document = change.get("fullDocument") or change.get("fullDocumentBeforeChange") or {}
    outdial_id = document.get("outdial_id")
    if (kind == "insert" or deleting) and isinstance(outdial_id, str):
        return outdial_id
    return None


def status_change_from(change: ChangeDocument) -> StatusChange | None:
    """The status change a change event carries, or None when it does not change a status."""
    kind = change.get("operationType")
    if kind == "update":
        updated = change["updateDescription"].get("updatedFields", {})
        if "status" not in updated:
            return None
    elif kind != "replace":
        return None
    before = change.get("fullDocumentBeforeChange")
    after = _document_after(change, before)
    if after is None:
        logger.debug("skipping change of %s: document is gone", change.get("documentKey"))
        return None
    target = target_from_document(after)
    if before is not None:
        previous = Status(before["status"])
        return (
            None
            if previous is target.status
            else StatusChange(target=target, previous_status=previous)
        )
    if kind == "replace":
        logger.debug("skipping replace of %s: no pre-image", change.get("documentKey"))
        return None
    return StatusChange(target=target, previous_status=states.PREVIOUS[target.status])


def _document_after(
    change: ChangeDocument, before: Mapping[str, Any] | None
) -> Mapping[str, Any] | None:
    """The document as this change left it.

    The looked-up fullDocument may already include later changes, so an update is replayed
    over the pre-image when there is one, else over the looked-up document.
    """
    if change["operationType"] == "replace":
        full: Mapping[str, Any] | None = change.get("fullDocument")
        return full
    base = before if before is not None else change.get("fullDocument")
    if base is None:
        return None
    return apply_update(base, change["updateDescription"])


def apply_update(document: Mapping[str, Any], description: Mapping[str, Any]) -> dict[str, Any]:
    result = copy.deepcopy(dict(document))
    for path, value in description.get("updatedFields", {}).items():
        *parents, leaf = path.split(".")
        _container(result, parents)[leaf] = value
    for path in description.get("removedFields", []):
        *parents, leaf = path.split(".")
        _container(result, parents).pop(leaf, None)
    return result


def _container(document: dict[str, Any], path: list[str]) -> dict[str, Any]:
    for key in path:
        child = document.get(key)
        if not isinstance(child, dict):
            child = document[key] = {}
        document = child
    return document
