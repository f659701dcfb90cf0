"""In-process fan-out of status changes to subscribers, each with its own bounded queue."""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from types import TracebackType

from domain.counts_feed import CountsFeed
from domain.errors import OutdialError
from domain.models import StatusChange

logger = logging.getLogger("outdial.events")


class SubscriberTooSlow(OutdialError):
    """Ends the subscription; the client may subscribe again and re-read what it missed."""

    code = "SUBSCRIBER_TOO_SLOW"

    def __init__(self, queue_size: int, *, server_behind: bool = False) -> None:
        super().__init__(
            "subscription ended: this server fell behind the database's change log; "
            "subscribe again and re-read what you missed"
            if server_behind
            else f"subscription ended: the client fell more than {queue_size} events behind"
        )
        self.queue_size = queue_size


class Subscription:
    """Status changes matching both filters, in publish order, until closed or overflowed."""

    def __init__(
        self, broker: Broker, *, outdial_id: str | None, target_id: str | None, queue_size: int
    ) -> None:
        self.outdial_id = outdial_id
        self.target_id = target_id
        self._broker = broker
        self._queue_size = queue_size
        # Only while events wait: an empty deque takes 600 bytes, and thousands of subscribers
        # wait with none.
        self._items: deque[StatusChange] | None = None
        self._waiter: asyncio.Future[None] | None = None
        self._closed = False
        self._too_slow = False
        self._server_behind = False

    @property
    def active(self) -> bool:
        return not (self._closed or self._too_slow)

    @property
    def pending(self) -> int:
        """Events queued and not yet read."""
        return len(self._items) if self._items is not None else 0

    def close(self) -> None:
        self._broker._unregister(self)
        self._end(too_slow=False)

    def _offer(self, change: StatusChange) -> bool:
        """Queue the change; False when the queue was full and the subscription overflowed."""
        if self._items is None:
            self._items = deque()
        elif len(self._items) >= self._queue_size:
            self._end(too_slow=True)
            return False
        self._items.append(change)
        self._wake()
        return True

    def _end(self, *, too_slow: bool) -> None:
        if self.active:
            self._too_slow = too_slow
            self._closed = not too_slow
        self._items = None
        self._wake()

    def _wake(self) -> None:
        if self._waiter is not None and not self._waiter.done():
            self._waiter.set_result(None)

    def __aiter__(self) -> Subscription:
        return self

    async def __anext__(self) -> StatusChange:
        while True:
            if self._too_slow:
                raise SubscriberTooSlow(self._queue_size, server_behind=self._server_behind)
            if self._closed:
                raise StopAsyncIteration
            if self._items:
                change = self._items.popleft()
                if not self._items:
                    self._items = None
                return change
            self._waiter = asyncio.get_running_loop().create_future()
            try:
                await self._waiter
            finally:
                self._waiter = None

    async def __aenter__(self) -> Subscription:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"Subscription(outdial_id={self.outdial_id!r}, id={self.target_id!r})"


class Broker:
    """One per process. Subscribers are indexed so publish touches only those that may match."""

    def __init__(self, *, queue_size: int = 1000) -> None:
        if queue_size < 1:
            raise ValueError("queue_size must be at least 1")
        self._queue_size = queue_size
        self._by_target: dict[str, set[Subscription]] = {}
        self._by_outdial: dict[str, set[Subscription]] = {}
        self._everyone: set[Subscription] = set()
        self._count = 0
        self._closed = False
        self.counts = CountsFeed()

    def __len__(self) -> int:
        return self._count

    def subscribe(
        self, *, outdial_id: str | None = None, target_id: str | None = None
    ) -> Subscription:
        subscription = Subscription(
            self, outdial_id=outdial_id, target_id=target_id, queue_size=self._queue_size
        )
        if self._closed:
            subscription._end(too_slow=False)
            return subscription
        self._register(subscription)
        return subscription

    def outdial_changed(self, outdial_id: str) -> None:
        """Targets of the outdial were created, deleted or changed status."""
        self.counts.outdial_changed(outdial_id)

    def publish(self, change: StatusChange) -> None:
        target = change.target
        self.outdial_changed(target.outdial_id)
        overflowed = [s for s in self._everyone if not s._offer(change)]
        overflowed += [
            s for s in self._by_outdial.get(target.outdial_id, ()) if not s._offer(change)
        ]
        overflowed += [
            s
            for s in self._by_target.get(target.id, ())
            if s.outdial_id in (None, target.outdial_id) and not s._offer(change)
        ]
        for subscription in overflowed:
            self._unregister(subscription)
            logger.warning(
                "%r ended: the client fell more than %d events behind",
                subscription,
                self._queue_size,
            )

    def lost_changes(self) -> None:
        """Changes were lost before reaching this broker (its process fell behind the database's
        change log): every subscription ends as too slow, and live counts are read again."""
        for subscription in self._take_everyone():
            subscription._server_behind = True
            subscription._end(too_slow=True)
        self.counts.recount_all()

    def close(self) -> None:
        """Server shutdown: end every subscription; their iterators stop."""
        self._closed = True
        self.counts.close()
        for subscription in self._take_everyone():
            subscription._end(too_slow=False)

    def _take_everyone(self) -> list[Subscription]:
        everyone = [*self._everyone]
        for bucket in (*self._by_outdial.values(), *self._by_target.values()):
            everyone.extend(bucket)
        self._everyone.clear()
        self._by_outdial.clear()
        self._by_target.clear()
        self._count = 0
        return everyone

    def _register(self, subscription: Subscription) -> None:
        slot = self._slot_of(subscription)
        if slot is None:
            self._everyone.add(subscription)
        else:
            index, key = slot
            index.setdefault(key, set()).add(subscription)
        self._count += 1

    def _unregister(self, subscription: Subscription) -> None:
        slot = self._slot_of(subscription)
        bucket = self._everyone if slot is None else slot[0].get(slot[1], set())
        if subscription not in bucket:
            return
        bucket.remove(subscription)
        self._count -= 1
        if slot is not None and not bucket:
            del slot[0][slot[1]]

    def _slot_of(
        self, subscription: Subscription
    ) -> tuple[dict[str, set[Subscription]], str] | None:
        # The target id is the more selective key, so a subscriber with both filters lives there.
        if subscription.target_id is not None:
            return self._by_target, subscription.target_id
        if subscription.outdial_id is not None:
            return self._by_outdial, subscription.outdial_id
        return None
