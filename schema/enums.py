"""The contract's enums are the domain's enums, shown under their GraphQL names."""

from __future__ import annotations

import strawberry

from domain.models import AddressType, Status

strawberry.enum(
    AddressType,
    name="AddressType",
    description="Kind of an address. NONE stands for the empty type string of the resource.",
)
strawberry.enum(Status, name="OutdialtargetStatus")

OutdialtargetStatus = Status

__all__ = ["AddressType", "OutdialtargetStatus"]
