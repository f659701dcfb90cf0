"""What one running service holds: storage, the event broker and the domain service."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

from domain.events import Broker
from domain.models import StatusChange
from domain.paging import CursorCodec
from domain.service import TargetService
from server.settings import Settings
from storage.connection import Storage

logger = logging.getLogger("outdial.server")


@dataclass(frozen=True, slots=True)
class Runtime:
    storage: Storage
    broker: Broker
    service: TargetService

    @classmethod
    @asynccontextmanager
    async def running(cls, settings: Settings, storage: Storage) -> AsyncIterator[Runtime]:
        broker = Broker()
        async with storage.feed_changes(broker) as streaming:
            if not streaming:
                logger.warning(
                    "MongoDB offers no change streams (not a replica set): "
                    "subscriptions see only the changes made through this instance"
                )
            service = TargetService(
                storage.repository,
                cursors=CursorCodec(settings.cursor_secret.encode()),
                # With a change stream every change, ours included, arrives through it.
                on_status_change=_ignore if streaming else broker.publish,
            )
            try:
                yield cls(storage, broker, service)
            finally:
                broker.close()


def _ignore(change: StatusChange) -> None:
    pass
