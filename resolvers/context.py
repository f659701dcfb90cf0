"""The per-request context every resolver receives."""

from __future__ import annotations

from dataclasses import dataclass, field

import strawberry
from strawberry.dataloader import DataLoader
from strawberry.types import Info as StrawberryInfo

from domain.events import Broker
from domain.models import Target
from domain.service import TargetService


@dataclass
class Context:
    service: TargetService
    broker: Broker
    targets: DataLoader[str, Target | None] = field(init=False)

    def __post_init__(self) -> None:
        self.targets = DataLoader(load_fn=self.service.get_many)


Info = StrawberryInfo[Context, None]


def given[T](value: T | None) -> T | None:
    """An omitted argument (UNSET) reads as None."""
    return None if value is strawberry.UNSET else value
