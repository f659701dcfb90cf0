"""What one running service holds: storage, the event broker and the domain service."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

from domain import clock
from domain.errors import DatabaseUnavailable
from domain.events import Broker
from domain.models import StatusChange
from domain.paging import CursorCodec
from domain.ports import TargetStore
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
        now: clock.Clock = clock.utc_now,
        store: TargetStore | None = None,
    ) -> AsyncIterator[Runtime]:
        """`on_status_change` and `on_claim` hear what this instance does (metrics); `store`
        is what the service calls instead of `storage.repository` (traced)."""
        broker = Broker(queue_size=settings.subscription_queue_size)
        async with storage.feed_changes(broker) as streaming:
            service = TargetService(
                storage.repository if store is None else store,
                cursors=CursorCodec(settings.cursor_secret.encode()),
                # With a change stream every change, ours included, arrives through it.
                on_status_change=_both(on_status_change, _ignore if streaming else broker.publish),
                on_claim=on_claim,
                on_outdial_change=_ignore_outdial if streaming else broker.outdial_changed,
                now=now,
            )
            sweeper = asyncio.create_task(
                sweep_lapsed_leases(service, settings.lease_sweep_interval_ms / 1000),
                name="lease-sweep",
            )
            try:
                yield cls(storage, broker, service)
            finally:
                sweeper.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await sweeper
                broker.close()


async def sweep_lapsed_leases(service: TargetService, interval_s: float) -> None:
    """Every instance sweeps; each lapse is one conditional write, so each target moves once."""
    while True:
        try:
            await service.lapse_expired()
        except DatabaseUnavailable as error:  # the answers to writes and /readyz tell the rest
            logger.warning(
                "lease sweep failed (%s); trying again in %.1fs", error.reason, interval_s
            )
        except Exception:
            logger.exception("lease sweep failed; trying again in %.1fs", interval_s)
        await asyncio.sleep(interval_s)


def _ignore(change: StatusChange) -> None:
    pass


def _ignore_outdial(outdial_id: str) -> None:
    pass


def _both(first: StatusListener, second: StatusListener) -> StatusListener:
    def both(change: StatusChange) -> None:
        first(change)
        second(change)

    return both
