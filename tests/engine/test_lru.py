"""The bounded caches of prepared and persisted documents forget the one used longest ago."""

from __future__ import annotations

from engine.lru import Lru


def test_the_entry_used_longest_ago_goes_first() -> None:
    cache: Lru[str, int] = Lru(2)
    cache.put("a", 1)
    cache.put("b", 2)
    assert cache.get("a") == 1  # now b is the one used longest ago
    cache.put("c", 3)
    assert (cache.get("a"), cache.get("b"), cache.get("c")) == (1, None, 3)
    cache.put("a", 10)  # replacing counts as a use
    cache.put("d", 4)
    assert (cache.get("a"), cache.get("c"), cache.get("d"), len(cache)) == (10, None, 4, 2)


def test_size_zero_keeps_nothing() -> None:
    cache: Lru[str, int] = Lru(0)
    cache.put("a", 1)
    assert cache.get("a") is None and len(cache) == 0
