"""The claim's candidate walk: which index lookups find the available targets, written once.

A claim's cost must not grow with the targets that are not available, so no store reads them:
it looks up the never-tried targets (no retry interval holds them back), then, per open slot,
the tried ones one try count at a time, skipping along the slot's index from one try count
present under the slot's maximum to the next. Each lookup gives its first targets in claim
order (tm_update, then id); merged, the first `limit` of them are the first `limit` available
targets. A store says only how to run one step on its own indexes:

    walk = CandidateWalk(rules)
    while (step := walk.step) is not None:
        if isinstance(step, NextTries):
            walk.tries_found(<the least try count in the step's range, or None>)
        else:
            walk.found(<the first `limit` claim keys of the lookup>)
    first = walk.first(limit)

With a calling window the walk first asks which zones the outdial's idle targets have
(ZonesPresent, one index seek per zone), then runs the steps above once per zone open at `now`,
each restricted to that zone (InZone): the targets of closed zones are never read.

    walk = CandidateWalk(rules, now)
    ...
        if isinstance(step, ZonesPresent):
            walk.zones_found(<the distinct zones present, None for no zone>)
"""

from __future__ import annotations

from collections.abc import Generator, Iterable
from dataclasses import dataclass
from datetime import datetime

from domain import windows
from domain.claim import ClaimKey, ClaimPolicy


@dataclass(frozen=True, slots=True)
class InZone:
    """A lookup's restriction to the targets whose zone is `name` (None: targets without one)."""

    name: str | None


@dataclass(frozen=True, slots=True)
class ZonesPresent:
    """The distinct zones (None for no zone) of the outdial's idle live targets holding a
    destination in one of `slots`; a store may answer more zones than are present, never
    fewer."""

    slots: tuple[int, ...]


@dataclass(frozen=True, slots=True)
class NeverTried:
    """Idle live targets of the outdial, every try count 0, holding a destination in one of
    `slots` (in `zone` when given)."""

    slots: tuple[int, ...]
    zone: InZone | None = None


@dataclass(frozen=True, slots=True)
class Tried:
    """Idle live targets of the outdial holding a destination in `slot` with `tries` tries on
    it, last changed at or before the retry cutoff (in `zone` when given). A store may leave out
    the never-tried ones: NeverTried finds them."""

    slot: int
    tries: int
    zone: InZone | None = None


@dataclass(frozen=True, slots=True)
class NextTries:
    """The least try count from `at_least` up to under `below` that an idle live target of the
    outdial holding a destination in `slot` has there (a store may leave out never-tried
    targets), or None; in `zone` when given."""

    slot: int
    at_least: int
    below: int
    zone: InZone | None = None


Lookup = NeverTried | Tried
Step = Lookup | NextTries | ZonesPresent


def steps(rules: ClaimPolicy, zone: InZone | None = None) -> Generator[Step, int | None]:
    """The walk itself; each NextTries is sent the try count found, every other step None."""
    open_slots = tuple(rules.open_slots())
    if not open_slots:
        return
    yield NeverTried(open_slots, zone)
    for slot in open_slots:
        tries = 0
        while (found := (yield NextTries(slot, tries, rules.max_tries(slot), zone))) is not None:
            yield Tried(slot, found, zone)
            tries = found + 1


def zoned_steps(
    rules: ClaimPolicy, open_zones: Iterable[str | None]
) -> Generator[Step, int | None]:
    """The walk once per open zone, each step restricted to it."""
    for name in open_zones:
        yield from steps(rules, InZone(name))


class CandidateWalk:
    """One run of the walk by a store, step by step, gathering what its lookups found. `now`
    judges the calling window, the same instant as the retry interval's cutoff."""

    def __init__(self, rules: ClaimPolicy, now: datetime) -> None:
        self._rules = rules
        self._now = now
        self._found: set[ClaimKey] = set()
        self._steps = steps(rules)
        self.step: Step | None
        if rules.window is None:
            self.step = next(self._steps, None)
        else:
            open_slots = tuple(rules.open_slots())
            self.step = ZonesPresent(open_slots) if open_slots else None

    def zones_found(self, present: Iterable[str | None]) -> None:
        """The answer to ZonesPresent: the walk goes on in the zones open at `now`."""
        window = self._rules.window
        if not isinstance(self.step, ZonesPresent) or window is None:
            raise TypeError(f"{self.step!r} asks for no zones")
        self._steps = zoned_steps(self._rules, windows.open_zones(present, window, self._now))
        self.step = next(self._steps, None)

    def found(self, keys: Iterable[ClaimKey]) -> None:
        """What the current lookup found: its first targets' claim keys."""
        if not isinstance(self.step, NeverTried | Tried):
            raise TypeError(f"{self.step!r} is not a lookup")
        self._found.update(keys)
        self._advance(None)

    def tries_found(self, tries: int | None) -> None:
        """The answer to the current NextTries."""
        step = self.step
        if not isinstance(step, NextTries):
            raise TypeError(f"{step!r} asks for no try count")
        if tries is not None and not step.at_least <= tries < step.below:
            raise ValueError(f"{step!r} answered with {tries}")
        self._advance(tries)

    def first(self, limit: int) -> list[ClaimKey]:
        """The first `limit` targets found, in claim order."""
        return sorted(self._found)[:limit]

    def _advance(self, answer: int | None) -> None:
        try:
            self.step = self._steps.send(answer)
        except StopIteration:
            self.step = None
