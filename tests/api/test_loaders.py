"""The loaders resolvers read targets through: batched by tick, or at once for one resolver."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

import pytest

from domain.errors import UnreadableTarget
from resolvers.loader import ReadAtOnce, TickLoader

BROKEN = UnreadableTarget("t-broken")
STORED: dict[str, str | BaseException] = {"a": "target a", "b": "target b", "t-broken": BROKEN}


class Store:
    def __init__(self) -> None:
        self.calls: list[list[str]] = []

    async def get_many(self, ids: Sequence[str]) -> list[str | BaseException | None]:
        self.calls.append(list(ids))
        return [STORED.get(i) for i in ids]


async def test_loads_of_one_tick_share_one_read() -> None:
    store = Store()
    loader = TickLoader(load_fn=store.get_many, cache=False)
    found = await asyncio.gather(loader.load("a"), loader.load("b"), loader.load("t-none"))
    assert found == ["target a", "target b", None]
    assert store.calls == [["a", "b", "t-none"]]
    with pytest.raises(UnreadableTarget):
        await loader.load("t-broken")


async def test_a_lone_resolver_reads_at_once_with_the_same_values_and_errors() -> None:
    store = Store()
    loader = ReadAtOnce(store.get_many)
    assert await loader.load("a") == "target a"
    assert await loader.load("t-none") is None
    with pytest.raises(UnreadableTarget):
        await loader.load("t-broken")
    assert store.calls == [["a"], ["t-none"], ["t-broken"]]
