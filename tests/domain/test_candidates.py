"""The claim's candidate walk (domain.candidates): which lookups, in which order, merged how."""

from __future__ import annotations

import pytest

from domain.candidates import CandidateWalk, NeverTried, NextTries, Step, Tried
from domain.claim import ClaimKey, policy

OUTDIAL = "40bea034-1d17-474d-a5de-da00d0861c69"


def run(max_try_counts: list[int], present: dict[int, list[int]]) -> list[Step]:
    """The steps of a walk whose store holds, per slot, tried targets at the `present` counts."""
    walk = CandidateWalk(policy(OUTDIAL, max_try_counts, 0))
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
    assert CandidateWalk(policy(OUTDIAL, max_try_counts, 0)).step is None


def test_the_lookups_merge_into_claim_order_once_each_up_to_the_limit() -> None:
    walk = CandidateWalk(policy(OUTDIAL, [2], 0))
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
    walk = CandidateWalk(policy(OUTDIAL, [3], 0))
    walk.found([])
    with pytest.raises(ValueError, match="answered with 3"):
        walk.tries_found(3)


def test_each_step_takes_its_own_kind_of_answer() -> None:
    walk = CandidateWalk(policy(OUTDIAL, [3], 0))
    with pytest.raises(TypeError):
        walk.tries_found(1)
    walk.found([])
    with pytest.raises(TypeError):
        walk.found([])
