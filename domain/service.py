"""The operations of the API: validation, then the rules, then one conditional write."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, replace

from domain import claim, clock, destinations, leases, listing, phones, states, validation
from domain.errors import BadUserInput, ClaimLost, Conflict, IdsTaken, NotFound, UnreadableTarget
from domain.listing import DestinationTargets, ListScope, OutdialTargets, TargetPage
from domain.locks import KeyedLocks
from domain.models import (
    MAX_TRY_COUNT,
    SLOTS,
    AddressType,
    Status,
    StatusChange,
    Target,
)
from domain.paging import Cursor, CursorCodec
from domain.ports import TargetStore
from domain.validation import TargetDraft, TargetPatch
from domain.windows import WindowDraft

StatusListener = Callable[[StatusChange], None]
# Targets of the outdial were created or deleted (status changes go to the StatusListener).
OutdialListener = Callable[[str], None]

_WRITE_ATTEMPTS = 8
_SWEEP_BATCH = 100


@dataclass(frozen=True, slots=True)
class OutdialPage:
    outdials: list[str]
    has_next_page: bool
    has_previous_page: bool


@dataclass(frozen=True, slots=True)
class Claimed:
    target: Target
    slot: int

    @property
    def token(self) -> str:
        assert self.target.claim_token is not None, "every claim carries a token"
        return self.target.claim_token


ClaimListener = Callable[[Claimed | None], None]


class TargetService:
    def __init__(
        self,
        store: TargetStore,
        *,
        cursors: CursorCodec,
        on_status_change: StatusListener = lambda change: None,
        on_claim: ClaimListener = lambda claimed: None,
        now: clock.Clock = clock.utc_now,
        on_outdial_change: OutdialListener = lambda outdial_id: None,
    ) -> None:
        self._on_outdial_change = on_outdial_change
        self._store = store
        self._cursors = cursors
        self._on_status_change = on_status_change
        self._on_claim = on_claim
        self._now = now
        self._locks = KeyedLocks()

    # queries

    async def get_many(self, target_ids: Sequence[str]) -> list[Target | UnreadableTarget | None]:
        """For a DataLoader: ids must already be validated; an unreadable one fails alone."""
        found = await self._store.get_many(target_ids=target_ids)
        return [found.get(target_id) for target_id in target_ids]

    def outdial_scope(self, outdial_id: str, status: Status | None) -> OutdialTargets:
        return OutdialTargets(validation.uuid_arg(outdial_id, "outdialId"), status)

    def destination_scope(
        self, kind: AddressType, target: str, default_region: str | None = None
    ) -> DestinationTargets:
        return destinations.lookup(kind, target, default_region)

    async def page(
        self,
        scope: ListScope,
        first: int | None,
        after: str | None,
        last: int | None = None,
        before: str | None = None,
    ) -> TargetPage:
        wanted = listing.request(first, after, last, before, self._cursors)

        async def fetch(cursor: Cursor | None, newest_first: bool, limit: int) -> list[Target]:
            return await self._store.page(
                scope=scope, after=cursor, newest_first=newest_first, limit=limit
            )

        return await listing.read(wanted, fetch)

    async def total(self, scope: ListScope) -> int:
        return await self._store.total(scope=scope)

    def cursor(self, target: Target) -> str:
        return self._cursors.encode(Cursor.after(target))

    async def counts(self, outdial_id: str) -> dict[Status, int]:
        checked = validation.uuid_arg(outdial_id, "outdialId")
        found = await self._store.count_by_status(outdial_id=checked)
        return {status: found.get(status, 0) for status in Status}

    async def outdials(self, first: int, after: str | None) -> OutdialPage:
        limit = validation.int_range(first, "first", 1, listing.MAX_PAGE)
        cursor = None if after is None else self._cursors.for_outdials().decode_outdial(after)
        found = await self._store.outdials(after=cursor, ascending=True, limit=limit + 1)
        page = found[:limit]
        earlier = cursor is not None and bool(
            await self._store.outdials(after=page[0] if page else cursor, ascending=False, limit=1)
        )
        return OutdialPage(page, len(found) > limit, earlier)

    async def counts_of(self, outdial_ids: Sequence[str]) -> list[dict[Status, int]]:
        return list(await asyncio.gather(*(self.counts(outdial_id) for outdial_id in outdial_ids)))

    def outdial_cursor(self, outdial_id: str) -> str:
        return self._cursors.for_outdials().encode_outdial(outdial_id)

    async def available(
        self,
        outdial_id: str,
        max_try_counts: Sequence[int],
        retry_interval_ms: int,
        limit: int,
        calling_window: WindowDraft | None = None,
    ) -> list[Target]:
        rules = claim.policy(outdial_id, max_try_counts, retry_interval_ms, calling_window)
        checked_limit = claim.limit(limit)
        return await self._store.available(rules=rules, now=self._now(), limit=checked_limit)

    # writes

    async def create(self, value: TargetDraft, *, default_region: str | None = None) -> Target:
        region = phones.default_region(default_region)
        checked = validation.draft(value, "input", default_region=region)
        (created,) = await self._create_all([checked], lambda index: "input.id")
        return created

    async def create_many(
        self, values: Sequence[TargetDraft], *, default_region: str | None = None
    ) -> list[Target]:
        region = phones.default_region(default_region)
        checked = validation.drafts(values, default_region=region)
        return await self._create_all(checked, lambda i: f"inputs[{i}].id")

    async def _create_all(
        self, drafts: list[TargetDraft], id_field: Callable[[int], str]
    ) -> list[Target]:
        """All or nothing. A draft whose id a stored target has is a retry when that target is
        what it asks for (returned as stored, nothing written), else the id is taken."""
        for _ in range(_WRITE_ATTEMPTS):
            now = clock.format_time(self._now())
            stored = await self._stored_with_ids(drafts, id_field)
            targets = [
                stored.get(d.id or "") or d.new_target(d.id or str(uuid.uuid4()), now)
                for d in drafts
            ]
            new = [target for target in targets if target.id not in stored]
            try:
                if new:
                    await self._store.create(targets=new)
            except IdsTaken:
                continue  # a concurrent create took one of the ids: judge them again
            for outdial_id in dict.fromkeys(target.outdial_id for target in new):
                self._on_outdial_change(outdial_id)
            return targets
        raise Conflict("the ids of this create kept being taken meanwhile; try again")

    async def _stored_with_ids(
        self, drafts: list[TargetDraft], id_field: Callable[[int], str]
    ) -> dict[str, Target]:
        chosen = [d.id for d in drafts if d.id is not None]
        if not chosen:
            return {}
        found = await self._store.get_many(target_ids=chosen)
        for index, value in enumerate(drafts):
            stored = found.get(value.id or "")
            if isinstance(stored, UnreadableTarget):
                raise stored
            if stored is not None and not value.describes(stored):
                raise BadUserInput(id_field(index), f"{value.id} is taken by another target")
        return {target_id: t for target_id, t in found.items() if isinstance(t, Target)}

    async def update(
        self, target_id: str, value: TargetPatch, *, default_region: str | None = None
    ) -> Target:
        checked_id = validation.uuid_arg(target_id, "id")
        region = phones.default_region(default_region)
        checked = validation.patch(value, default_region=region)

        def change(current: Target, now: str) -> Target:
            if checked.destinations:
                states.check_destinations_editable(current.status)
                _check_leaves_destination(current, checked)
            return _patched(current, checked, now)

        return await self._rewrite(checked_id, change)

    async def delete(self, target_id: str) -> Target:
        checked_id = validation.uuid_arg(target_id, "id")
        for _ in range(_WRITE_ATTEMPTS):
            current = await self._store.get(target_id=checked_id)
            if current is None:
                raise NotFound(checked_id)
            if current.deleted:
                return current
            now = self._next_update(current)
            deleted = replace(current, tm_delete=now, tm_update=now)
            if await self._store.replace(current=current, after=deleted) is not None:
                self._on_outdial_change(deleted.outdial_id)
                return deleted
        raise _contended(checked_id)

    async def mark_progressing(self, target_id: str, slot: int) -> Target:
        checked_id = validation.uuid_arg(target_id, "id")
        checked_slot = validation.slot_index(slot)

        def check(current: Target, now: str) -> None:
            states.check_transition(
                current.status, Status.PROGRESSING, "markOutdialtargetProgressing"
            )
            if not current.has_destination(checked_slot):
                raise BadUserInput("destinationIndex", f"slot {checked_slot} holds no destination")
            if current.try_counts[checked_slot] >= MAX_TRY_COUNT:
                raise BadUserInput(
                    "destinationIndex", f"slot {checked_slot} has the most tries a target counts"
                )

        def change(current: Target, now: str) -> Target:
            return claim.after_claim(current, checked_slot, now)

        return await self._transition(checked_id, check, change)

    async def report_status(
        self, target_id: str, status: Status, claim_token: str | None = None
    ) -> Target:
        checked_id = validation.uuid_arg(target_id, "id")
        token = validation.optional_uuid_arg(claim_token, "claimToken")

        def check(current: Target, now: str) -> None:
            if token is not None and not leases.holds(current, token, now):
                raise ClaimLost(checked_id)
            states.check_reported_status(current.status, status)

        def change(current: Target, now: str) -> Target:
            return states.after_report(current, status, now)

        return await self._transition(checked_id, check, change)

    async def renew(self, target_id: str, claim_token: str, lease_ms: int) -> Target:
        checked_id = validation.uuid_arg(target_id, "id")
        token = validation.uuid_arg(claim_token, "claimToken")
        lease = leases.lease_ms(lease_ms)
        assert lease is not None

        def change(current: Target, now: str) -> Target:
            if not leases.holds(current, token, now):
                raise ClaimLost(checked_id)
            return leases.after_renewal(current, now, lease)

        return await self._rewrite(checked_id, change)

    async def release(self, outdial_id: str, progressing_for_ms: int) -> int:
        """PROGRESSING targets of the outdial unchanged for that long go back to IDLE."""
        checked = validation.uuid_arg(outdial_id, "outdialId")
        age = validation.int_range(progressing_for_ms, "progressingForMs", 0)
        cutoff = clock.earlier(self._now(), age)

        async def found() -> list[Target]:
            return await self._store.progressing_since(
                outdial_id=checked, cutoff=cutoff, limit=_SWEEP_BATCH
            )

        return await self._move_back(found, lambda target, now: target.tm_update <= cutoff)

    async def lapse_expired(self) -> int:
        """Move every target whose lease has passed back to IDLE; how many this call moved."""
        moment = clock.format_time(self._now())

        async def found() -> list[Target]:
            return await self._store.lapsed(now=moment, limit=_SWEEP_BATCH)

        return await self._move_back(found, leases.has_lapsed)

    async def _move_back(
        self, found: Callable[[], Awaitable[list[Target]]], still: Callable[[Target, str], bool]
    ) -> int:
        moved = 0
        while batch := await found():
            won = 0
            for target in batch:
                won += await self._lapse_one(target, still)
            moved += won
            if won == 0:
                break  # every one of them was moved by another instance meanwhile
        return moved

    async def _lapse_one(self, target: Target, still: Callable[[Target, str], bool]) -> int:
        async with self._locks.held(target.id):
            now = self._next_update(target)
            # The rule itself, not only the store's query: the mongoeco test server, for one,
            # finds a null lease by `$lte`.
            if not still(target, now):
                return 0
            after = leases.after_release(target, now)
            if await self._store.replace(current=target, after=after) is None:
                return 0
            self._on_status_change(StatusChange(after, previous_status=Status.PROGRESSING))
            return 1

    async def claim(
        self,
        outdial_id: str,
        max_try_counts: Sequence[int],
        retry_interval_ms: int,
        lease_ms: int | None = None,
        calling_window: WindowDraft | None = None,
    ) -> Claimed | None:
        claimed = await self.claim_many(
            outdial_id, max_try_counts, retry_interval_ms, lease_ms, calling_window=calling_window
        )
        return claimed[0] if claimed else None

    async def claim_many(
        self,
        outdial_id: str,
        max_try_counts: Sequence[int],
        retry_interval_ms: int,
        lease_ms: int | None = None,
        limit: int = 1,
        calling_window: WindowDraft | None = None,
    ) -> list[Claimed]:
        rules = claim.policy(outdial_id, max_try_counts, retry_interval_ms, calling_window)
        lease = leases.lease_ms(lease_ms)
        count = claim.limit(limit)
        won = await self._store.claim(rules=rules, now=self._now(), limit=count, lease_ms=lease)
        claimed = [Claimed(target, slot) for target, slot in won]
        for one in claimed:
            self._on_status_change(StatusChange(one.target, previous_status=Status.IDLE))
            self._on_claim(one)
        if len(claimed) < count:
            self._on_claim(None)
        return claimed

    async def _transition(
        self,
        target_id: str,
        check: Callable[[Target, str], None],
        change: Callable[[Target, str], Target],
    ) -> Target:
        def checked_change(current: Target, now: str) -> Target:
            check(current, now)
            return change(current, now)

        def published(before: Target, after: Target) -> None:
            self._on_status_change(StatusChange(after, previous_status=before.status))

        return await self._rewrite(target_id, checked_change, published)

    async def _rewrite(
        self,
        target_id: str,
        change: Callable[[Target, str], Target],
        on_written: Callable[[Target, Target], None] = lambda before, after: None,
    ) -> Target:
        """Read the live target, apply the rule, write it back only if nobody wrote between.

        Writes of one target through this instance take turns, so their events are published
        in the order of the writes."""
        async with self._locks.held(target_id):
            for _ in range(_WRITE_ATTEMPTS):
                current = await self._live(target_id)
                after = change(current, self._next_update(current))
                written = await self._store.replace(current=current, after=after)
                if written is not None:
                    on_written(current, written)
                    return written
        raise _contended(target_id)

    def _next_update(self, current: Target) -> str:
        return clock.next_update(current.tm_update, clock.format_time(self._now()))

    async def _live(self, target_id: str) -> Target:
        current = await self._store.get(target_id=target_id)
        if current is None or current.deleted:
            raise NotFound(target_id)
        return current


def _check_leaves_destination(current: Target, patch: TargetPatch) -> None:
    after = [patch.destinations.get(slot, current.destinations[slot]) for slot in SLOTS]
    if all(destination is None for destination in after):
        raise BadUserInput("input", "an update must leave at least one destination")


def _patched(current: Target, patch: TargetPatch, now: str) -> Target:
    destinations = tuple(patch.destinations.get(slot, current.destinations[slot]) for slot in SLOTS)
    return replace(
        current,
        name=current.name if patch.name is None else patch.name,
        detail=current.detail if patch.detail is None else patch.detail,
        data=current.data if patch.data is None else patch.data,
        destinations=destinations,  # type: ignore[arg-type]
        time_zone=current.time_zone if patch.time_zone is None else patch.time_zone or None,
        tm_update=now,
    )


def _contended(target_id: str) -> Conflict:
    return Conflict(f"target {target_id} kept changing while being written; try again")
