"""Loaders of targets by id: a DataLoader whose batch costs one event-loop turn, not three,
and, for a request that runs one resolver, reads with nothing to wait for.

Strawberry's DataLoader waits one turn for the loads of the current tick (`call_soon`),
then creates the batch's task, which starts a turn later, and the loads' futures wake their
resolvers a turn after that. Here the batch still waits the same one turn for every load of
its tick, but its task starts eagerly inside that callback: a store that answers without
suspending (the embedded SQLite store reads on the event loop's thread) has finished the
batch before the callback returns, and the resolvers wake in the next turn. Batching,
results, errors and cancellation are strawberry's own (`dispatch_batch`, `Batch`).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from typing import Protocol

from strawberry.dataloader import Batch, DataLoader, dispatch_batch, should_create_new_batch


class Loader[K, T](Protocol):
    def load(self, key: K) -> Awaitable[T]: ...


class TickLoader[K, T](DataLoader[K, T]):
    def load(self, key: K) -> Awaitable[T]:
        if self.cache:
            cached = self.cache_map.get(key)
            if cached and not cached.cancelled():
                return cached
        future: asyncio.Future[T] = self.loop.create_future()
        if self.cache:
            self.cache_map.set(key, future)
        batch = self.batch
        if batch is None or not batch.tasks or should_create_new_batch(self, batch):
            batch = self.batch = Batch()
            self.loop.call_soon(_dispatch, self, batch)
        batch.add_task(key, future)
        return future


def _dispatch[K, T](loader: TickLoader[K, T], batch: Batch[K, T]) -> None:
    task = asyncio.Task(dispatch_batch(loader, batch), loop=loader.loop, eager_start=True)
    if not task.done():  # the store suspended: cancellable like strawberry's own task
        batch._dispatch_task = task
        task.add_done_callback(lambda _: setattr(batch, "_dispatch_task", None))


class ReadAtOnce[K, T]:
    """Each load is its own read, at once: a request that runs one resolver
    (server/http/execution.py, engine.direct_query) has no other load to share a batch with,
    so waiting a turn for one buys nothing. Values and errors as strawberry's batch gives
    them to a lone load."""

    def __init__(self, load_fn: Callable[[Sequence[K]], Awaitable[Sequence[T | BaseException]]]):
        self._load_fn = load_fn

    async def load(self, key: K) -> T:
        (value,) = await self._load_fn([key])
        if isinstance(value, BaseException):
            raise value
        return value
