"""The claim's candidate walk (domain.candidates): which lookups, in which order, merged how."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from domain.candidates import (
    CandidateWalk,
    InZone,
    NeverTried,
    NextTries,
    Step,
    Tried,
    ZonesPresent,
)
from domain.claim import ClaimKey, policy
from domain.windows import WindowDraft

OUTDIAL = "40bea034-1d17-474d-a5de-da00d0861c69"
NOW = datetime(2026, 7, 1, 3, 0, tzinfo=UTC)  # 12:00 in Seoul, 23:00 the day before in New York


def run(max_try_counts: list[int], present: dict[int, list[int]]) -> list[Step]:
    """The steps of a walk whose store holds, per slot, tried targets at the `present` counts."""
    walk = CandidateWalk(policy(OUTDIAL, max_try_counts, 0), NOW)
    seen: list[Step] = []
    while (step := walk.step) is not None:
        seen.append(step)
        if isinstance(step, NextTries):
            counts = [n for n in present.get(step.slot, []) if step.at_least <= n < step.below]
            walk.tries_found(min(counts, default=None))
        else:
            walk.found([])
    return seen


def test_never_tried_first_then_each_open_slot_one_present_try_count_at_a_time() -> None:
    steps = run([3, 0, 2], {0: [0, 2, 5], 2: [1]})
    assert steps == [
        NeverTried((0, 2)),
        NextTries(0, 0, 3),
        Tried(0, 0),
        NextTries(0, 1, 3),
        Tried(0, 2),
        NextTries(0, 3, 3),
        NextTries(2, 0, 2),
        Tried(2, 1),
        NextTries(2, 2, 2),
    ]


def test_a_slot_without_tried_targets_costs_one_step() -> None:
    assert run([1, 1], {}) == [NeverTried((0, 1)), NextTries(0, 0, 1), NextTries(1, 0, 1)]


@pytest.mark.parametrize("max_try_counts", [[], [0], [0, 0, 0, 0, 0]])
def test_no_open_slot_looks_nothing_up(max_try_counts: list[int]) -> None:
    assert CandidateWalk(policy(OUTDIAL, max_try_counts, 0), NOW).step is None


def test_the_lookups_merge_into_claim_order_once_each_up_to_the_limit() -> None:
    walk = CandidateWalk(policy(OUTDIAL, [2], 0), NOW)
    early: ClaimKey = ("2024-01-01 00:00:01.000000", "c")
    tie_a: ClaimKey = ("2024-01-01 00:00:02.000000", "a")
    tie_b: ClaimKey = ("2024-01-01 00:00:02.000000", "b")
    late: ClaimKey = ("2024-01-01 00:00:03.000000", "d")
    walk.found([tie_b, late])  # never tried
    walk.tries_found(0)
    walk.found([early, tie_a, tie_b])  # tried 0 times: tie_b is found twice
    walk.tries_found(None)
    assert walk.step is None
    assert walk.first(3) == [early, tie_a, tie_b]
    assert walk.first(100) == [early, tie_a, tie_b, late]


def test_a_try_count_outside_the_asked_range_is_refused() -> None:
    walk = CandidateWalk(policy(OUTDIAL, [3], 0), NOW)
    walk.found([])
    with pytest.raises(ValueError, match="answered with 3"):
        walk.tries_found(3)


def test_each_step_takes_its_own_kind_of_answer() -> None:
    walk = CandidateWalk(policy(OUTDIAL, [3], 0), NOW)
    with pytest.raises(TypeError):
        walk.tries_found(1)
    walk.found([])
    with pytest.raises(TypeError):
        walk.found([])


def test_a_window_asks_for_the_zones_then_walks_each_open_zone_alone() -> None:
    rules = policy(OUTDIAL, [2, 1], 0, WindowDraft("09:00", "21:00", "Asia/Seoul"))
    walk = CandidateWalk(rules, NOW)
    assert walk.step == ZonesPresent((0, 1))
    walk.zones_found(["America/New_York", "Asia/Seoul", None, "Mars/Olympus", "Asia/Tokyo"])
    seen: list[Step] = []
    while (step := walk.step) is not None:
        seen.append(step)
        if isinstance(step, NextTries):
            walk.tries_found(None)
        else:
            walk.found([])
    per_zone = [
        [
            NeverTried((0, 1), InZone(name)),
            NextTries(0, 0, 2, InZone(name)),
            NextTries(1, 0, 1, InZone(name)),
        ]
        for name in (None, "Asia/Seoul", "Asia/Tokyo")
    ]
    assert seen == [step for steps in per_zone for step in steps]


def test_a_window_with_no_zone_open_looks_nothing_up() -> None:
    walk = CandidateWalk(policy(OUTDIAL, [1], 0, WindowDraft("09:00", "17:00")), NOW)
    walk.zones_found(["America/New_York", None])
    assert walk.step is None
    assert walk.first(10) == []


def test_the_zones_step_takes_only_zones() -> None:
    walk = CandidateWalk(policy(OUTDIAL, [1], 0, WindowDraft("09:00", "17:00")), NOW)
    with pytest.raises(TypeError):
        walk.found([])
    unwindowed = CandidateWalk(policy(OUTDIAL, [1], 0), NOW)
    with pytest.raises(TypeError):
        unwindowed.zones_found([None])
