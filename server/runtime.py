"""What one running service holds: storage, the event broker and the domain service."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

from domain.events import Broker
from domain.models import StatusChange
from domain.paging import CursorCodec
from domain.service import ClaimListener, StatusListener, TargetService
from server.settings import Settings
from storage.backend import Storage

logger = logging.getLogger("outdial.server")


@dataclass(frozen=True, slots=True)
class Runtime:
    storage: Storage
    broker: Broker
    service: TargetService

    @classmethod
    @asynccontextmanager
    async def running(
        cls,
        settings: Settings,
        storage: Storage,
        *,
        on_status_change: StatusListener = lambda change: None,
        on_claim: ClaimListener = lambda claimed: None,
    ) -> AsyncIterator[Runtime]:
        """`on_status_change` and `on_claim` hear what this instance does (metrics)."""
        broker = Broker(queue_size=settings.subscription_queue_size)
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
                on_status_change=_both(on_status_change, _ignore if streaming else broker.publish),
                on_claim=on_claim,
                on_outdial_change=_ignore_outdial if streaming else broker.outdial_changed,
            )
            try:
                yield cls(storage, broker, service)
            finally:
                broker.close()


def _ignore(change: StatusChange) -> None:
    pass


def _ignore_outdial(outdial_id: str) -> None:
    pass


def _both(first: StatusListener, second: StatusListener) -> StatusListener:
    def both(change: StatusChange) -> None:
        first(change)
        second(change)

    return both
