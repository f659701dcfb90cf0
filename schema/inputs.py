"""Input types of the contract, and their translation into domain drafts."""

from __future__ import annotations

from typing import Annotated

import strawberry

from domain import models, windows
from domain.models import SLOTS
from domain.validation import TargetDraft, TargetPatch
from schema.enums import AddressType

DefaultRegion = Annotated[
    str | None,
    strawberry.argument(
        description="Region (ISO 3166-1 alpha-2, e.g. KR) for a phone number written without +."
    ),
]


@strawberry.input
class AddressInput:
    type: AddressType
    target: str
    target_name: str = ""
    name: str = ""
    detail: str = ""

    def to_domain(self) -> models.Address:
        return models.Address(self.type, self.target, self.target_name, self.name, self.detail)


def _address(value: AddressInput | None) -> models.Address | None:
    return None if value is None or value is strawberry.UNSET else value.to_domain()


@strawberry.input
class CreateOutdialtargetInput:
    id: strawberry.ID | None = strawberry.field(
        default=strawberry.UNSET,
        description=(
            "Chosen by the client (a UUID) to make retries safe; a new random UUID when omitted."
        ),
    )
    outdial_id: strawberry.ID
    name: str = ""
    detail: str = ""
    data: str = ""
    destination_0: AddressInput | None = strawberry.UNSET
    destination_1: AddressInput | None = strawberry.UNSET
    destination_2: AddressInput | None = strawberry.UNSET
    destination_3: AddressInput | None = strawberry.UNSET
    destination_4: AddressInput | None = strawberry.UNSET
    time_zone: str | None = strawberry.field(
        default=strawberry.UNSET,
        description=(
            "IANA time zone; omitted: derived from the first phone destination in exactly one "
            "zone; null: none."
        ),
    )

    def to_domain(self) -> TargetDraft:
        chosen = None if self.id is None or self.id is strawberry.UNSET else str(self.id)
        return TargetDraft(
            id=chosen,
            outdial_id=str(self.outdial_id),
            name=self.name,
            detail=self.detail,
            data=self.data,
            destinations=(
                _address(self.destination_0),
                _address(self.destination_1),
                _address(self.destination_2),
                _address(self.destination_3),
                _address(self.destination_4),
            ),
            time_zone=None if self.time_zone is strawberry.UNSET else self.time_zone,
            zone_given=self.time_zone is not strawberry.UNSET,
        )


@strawberry.input(
    description="Omitted fields stay as they are; an explicit null destination empties that slot."
)
class UpdateOutdialtargetInput:
    name: str | None = strawberry.UNSET
    detail: str | None = strawberry.UNSET
    data: str | None = strawberry.UNSET
    destination_0: AddressInput | None = strawberry.UNSET
    destination_1: AddressInput | None = strawberry.UNSET
    destination_2: AddressInput | None = strawberry.UNSET
    destination_3: AddressInput | None = strawberry.UNSET
    destination_4: AddressInput | None = strawberry.UNSET
    time_zone: str | None = strawberry.field(
        default=strawberry.UNSET,
        description='IANA time zone; "" clears it; omitted or null leaves it.',
    )

    def to_domain(self) -> TargetPatch:
        given = {slot: getattr(self, f"destination_{slot}") for slot in SLOTS}
        return TargetPatch(
            name=_text(self.name),
            detail=_text(self.detail),
            data=_text(self.data),
            destinations={
                slot: _address(value)
                for slot, value in given.items()
                if value is not strawberry.UNSET
            },
            time_zone=_text(self.time_zone),
        )


def _text(value: str | None) -> str | None:
    return None if value is strawberry.UNSET else value


@strawberry.input(description="Local hours in which a target may be called, in its own time zone.")
class CallingWindowInput:
    start: str = strawberry.field(
        description="Local time HH:MM (24-hour) from which calls may start, e.g. 08:00."
    )
    end: str = strawberry.field(
        description=(
            "Local time HH:MM before which calls must start, e.g. 21:00; after start, at most "
            "24:00."
        )
    )
    default_time_zone: str | None = strawberry.field(
        default=strawberry.UNSET,
        description=(
            "Zone of targets whose timeZone is null; without it they are not available under "
            "the window."
        ),
    )

    def to_domain(self) -> windows.WindowDraft:
        return windows.WindowDraft(self.start, self.end, _text(self.default_time_zone))


def window_of(value: CallingWindowInput | None) -> windows.WindowDraft | None:
    """A `callingWindow` argument: None when omitted or null."""
    return None if value is None or value is strawberry.UNSET else value.to_domain()
