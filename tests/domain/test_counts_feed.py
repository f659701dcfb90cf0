"""Live counts: a recount that finds what the subscriber already has sends nothing."""

from __future__ import annotations

import asyncio

from domain.counts_feed import Counts, CountsFeed
from domain.models import Status

OUTDIAL = "40bea034-1d17-474d-a5de-da00d0861c69"


def counts(idle: int) -> Counts:
    return {Status.IDLE: idle, Status.PROGRESSING: 0, Status.DONE: 0}


async def test_the_same_counts_again_are_not_sent_and_new_ones_are() -> None:
    feed = CountsFeed(interval=0)
    stored = counts(1)
    recounted = asyncio.Event()

    async def recount(outdial_id: str) -> Counts:
        recounted.set()
        return dict(stored)

    stream = aiter(feed.stream(OUTDIAL, recount))
    assert await anext(stream) == counts(1)
    recounted.clear()
    feed.outdial_changed(OUTDIAL)  # a notice of a change the first count already saw
    await recounted.wait()
    stored[Status.IDLE] = 2
    recounted.clear()
    feed.outdial_changed(OUTDIAL)
    assert await asyncio.wait_for(anext(stream), 5) == counts(2)
    feed.close()
