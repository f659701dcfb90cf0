import asyncio
import logging
import random

import pytest

from domain.events import Broker, SubscriberTooSlow, Subscription
from domain.models import Status, StatusChange
from tests.support.documents import status_change

pytestmark = pytest.mark.asyncio

TIMEOUT = 5


def change(
    target_id: str = "t1",
    outdial_id: str = "o1",
    status: Status = Status.PROGRESSING,
    previous: Status = Status.IDLE,
    tm_update: str = "2024-01-01 00:00:00.000000",
) -> StatusChange:
    return status_change(
        target_id, outdial_id, status=status, previous=previous, tm_update=tm_update
    )


async def drain(subscription: Subscription) -> list[StatusChange]:
    """Everything already queued; publish is synchronous, so nothing is in flight."""
    received = []
    while subscription.pending:
        received.append(await subscription.__anext__())
    return received


async def test_each_filter_gets_exactly_its_events() -> None:
    broker = Broker()
    everyone = broker.subscribe()
    outdial = broker.subscribe(outdial_id="o1")
    one = broker.subscribe(target_id="t1")
    both = broker.subscribe(outdial_id="o1", target_id="t1")
    contradicting = broker.subscribe(outdial_id="o2", target_id="t1")
    t1, t2, t3 = change("t1", "o1"), change("t2", "o1"), change("t3", "o2")

    for published in (t1, t2, t3):
        broker.publish(published)

    assert await drain(everyone) == [t1, t2, t3]
    assert await drain(outdial) == [t1, t2]
    assert await drain(one) == [t1]
    assert await drain(both) == [t1]
    assert await drain(contradicting) == []


async def test_random_traffic_reaches_only_matching_filters_in_order() -> None:
    rng = random.Random(7)
    outdials, targets = ["o1", "o2", "o3"], ["t1", "t2", "t3", "t4"]
    broker = Broker()
    filters = [(o, t) for o in [None, *outdials] for t in [None, *targets]]
    subscriptions = {f: broker.subscribe(outdial_id=f[0], target_id=f[1]) for f in filters}
    published = [
        change(rng.choice(targets), rng.choice(outdials), tm_update=f"{n:06}") for n in range(300)
    ]

    for item in published:
        broker.publish(item)

    for (outdial_id, target_id), subscription in subscriptions.items():
        expected = [
            c
            for c in published
            if outdial_id in (None, c.target.outdial_id) and target_id in (None, c.target.id)
        ]
        assert await drain(subscription) == expected, (outdial_id, target_id)


async def test_a_concurrent_reader_sees_one_targets_changes_in_order() -> None:
    broker = Broker()
    steps = [
        change("t1", status=Status.PROGRESSING, previous=Status.IDLE),
        change("t2", status=Status.PROGRESSING, previous=Status.IDLE),
        change("t1", status=Status.IDLE, previous=Status.PROGRESSING),
        change("t1", status=Status.PROGRESSING, previous=Status.IDLE),
        change("t2", status=Status.DONE, previous=Status.PROGRESSING),
        change("t1", status=Status.DONE, previous=Status.PROGRESSING),
    ]

    async def read(subscription: Subscription, count: int) -> list[StatusChange]:
        async with subscription:
            return [await subscription.__anext__() for _ in range(count)]

    reader = asyncio.create_task(read(broker.subscribe(target_id="t1"), 4))
    for step in steps:
        broker.publish(step)
        await asyncio.sleep(0)  # not for correctness: interleaves publishing and reading

    received = await asyncio.wait_for(reader, TIMEOUT)
    assert [(c.previous_status, c.status) for c in received] == [
        (Status.IDLE, Status.PROGRESSING),
        (Status.PROGRESSING, Status.IDLE),
        (Status.IDLE, Status.PROGRESSING),
        (Status.PROGRESSING, Status.DONE),
    ]
    assert len(broker) == 0


async def test_stalled_subscriber_overflows_and_healthy_one_is_not_delayed(
    caplog: pytest.LogCaptureFixture,
) -> None:
    broker = Broker(queue_size=3)
    stalled = broker.subscribe(outdial_id="o1")
    healthy = broker.subscribe(outdial_id="o1")
    published = [change(f"t{n}") for n in range(10)]

    with caplog.at_level(logging.WARNING, logger="outdial.events"):
        for n, item in enumerate(published):
            broker.publish(item)
            # The healthy reader has each event right away, whatever the stalled one does.
            assert await asyncio.wait_for(healthy.__anext__(), TIMEOUT) == item
            assert len(broker) == (2 if n < 3 else 1)

    with pytest.raises(SubscriberTooSlow, match="more than 3 events behind"):
        await asyncio.wait_for(stalled.__anext__(), TIMEOUT)
    with pytest.raises(SubscriberTooSlow):  # still nothing delivered after the gap
        await asyncio.wait_for(stalled.__anext__(), TIMEOUT)
    [record] = [r for r in caplog.records if r.name == "outdial.events"]
    assert record.levelno == logging.WARNING
    assert "outdial_id='o1'" in record.getMessage()
    assert "more than 3 events behind" in record.getMessage()
    stalled.close()
    assert len(broker) == 1


async def test_overflow_ends_an_iterating_consumer_with_the_error() -> None:
    broker = Broker(queue_size=2)
    subscription = broker.subscribe()
    for n in range(3):
        broker.publish(change(f"t{n}"))

    with pytest.raises(SubscriberTooSlow):
        async for _ in subscription:
            pytest.fail("an overflowed subscription must not deliver anything")


async def test_a_thousand_dropped_subscriptions_leave_the_broker_empty() -> None:
    broker = Broker()
    listening = 0
    all_listening = asyncio.Event()

    async def listen(n: int) -> None:
        nonlocal listening
        target_id = f"t{n % 3}" if n % 2 else None
        async with broker.subscribe(outdial_id=f"o{n % 7}", target_id=target_id) as subscription:
            listening += 1
            if listening == 500:
                all_listening.set()
            async for _ in subscription:
                pass

    listeners = [asyncio.create_task(listen(n)) for n in range(500)]
    closed_by_hand = [broker.subscribe(target_id=f"t{n}") for n in range(250)]
    await asyncio.wait_for(all_listening.wait(), TIMEOUT)
    for n in range(250):
        async with broker.subscribe() as subscription:
            broker.publish(change(f"t{n}", "o-other"))
            assert await subscription.__anext__() == change(f"t{n}", "o-other")
    assert len(broker) == 750

    for task in listeners:
        task.cancel()
    for subscription in closed_by_hand:
        subscription.close()
        subscription.close()
    await asyncio.wait_for(asyncio.gather(*listeners, return_exceptions=True), TIMEOUT)

    assert len(broker) == 0
    assert not (broker._everyone or broker._by_outdial or broker._by_target)
    assert all(task.cancelled() for task in listeners)
    assert asyncio.all_tasks() == {asyncio.current_task()}


async def test_close_ends_every_iterator_and_later_subscriptions() -> None:
    broker = Broker()
    subscriptions = [
        broker.subscribe(),
        broker.subscribe(outdial_id="o1"),
        broker.subscribe(target_id="t1"),
    ]
    first = change("t1", "o1")
    received: list[list[StatusChange]] = [[], [], []]
    got_first = [asyncio.Event() for _ in subscriptions]

    async def consume(n: int) -> None:
        async for item in subscriptions[n]:
            received[n].append(item)
            got_first[n].set()

    readers = [asyncio.create_task(consume(n)) for n in range(3)]
    broker.publish(first)
    for event in got_first:
        await asyncio.wait_for(event.wait(), TIMEOUT)

    broker.close()

    await asyncio.wait_for(asyncio.gather(*readers), TIMEOUT)
    assert received == [[first], [first], [first]]
    assert len(broker) == 0
    late = broker.subscribe()
    broker.publish(change())
    assert [c async for c in late] == []
    assert len(broker) == 0


async def test_closing_from_another_task_stops_the_reader() -> None:
    broker = Broker()
    subscription = broker.subscribe(target_id="t1")
    parked = asyncio.Event()

    async def read() -> StatusChange | None:
        parked.set()
        return await anext(subscription, None)

    reader = asyncio.create_task(read())
    await asyncio.wait_for(parked.wait(), TIMEOUT)

    subscription.close()
    broker.publish(change("t1"))

    assert await asyncio.wait_for(reader, TIMEOUT) is None
    assert len(broker) == 0


async def test_queue_size_must_hold_an_event() -> None:
    with pytest.raises(ValueError):
        Broker(queue_size=0)


async def test_lost_changes_end_every_subscriber_and_counts_are_read_again() -> None:
    broker = Broker()
    by_target, by_outdial, everyone = (
        broker.subscribe(target_id="t1"),
        broker.subscribe(outdial_id="o1"),
        broker.subscribe(),
    )
    recounts = 0

    async def recount(outdial_id: str) -> dict[Status, int]:
        nonlocal recounts
        recounts += 1
        return {status: recounts for status in Status}

    counts = broker.counts.stream("o1", recount)
    assert (await anext(counts))[Status.IDLE] == 1
    broker.lost_changes()
    for subscription in (by_target, by_outdial, everyone):
        with pytest.raises(SubscriberTooSlow, match="server fell behind"):
            await asyncio.wait_for(anext(subscription), TIMEOUT)
    assert len(broker) == 0
    assert (await asyncio.wait_for(anext(counts), TIMEOUT))[Status.IDLE] == 2
    await counts.aclose()
    later = broker.subscribe()
    broker.publish(change())
    assert later.pending == 1, "the broker goes on for new subscribers"
