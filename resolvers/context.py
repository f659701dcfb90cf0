"""The per-request context every resolver receives."""

from __future__ import annotations

from dataclasses import dataclass, replace
from functools import cached_property
from typing import Literal

import strawberry
from strawberry.types import Info as StrawberryInfo

from domain.events import Broker
from domain.models import Target
from domain.service import TargetService
from resolvers.loader import Loader, ReadAtOnce, TickLoader

Scope = Literal["read", "write"]


@dataclass
class Context:
    service: TargetService
    broker: Broker
    # What the caller may do (None: not authenticated); checked once per operation.
    scope: Scope | None = None
    # A websocket's connection_init payload; strawberry sets it.
    connection_params: dict[str, object] | None = None
    # False: the request runs one resolver, whose loads have no other load to batch with.
    batch_loads: bool = True

    def for_one_resolver(self) -> Context:
        return replace(self, batch_loads=False)

    @cached_property
    def targets(self) -> Loader[str, Target | None]:
        """Batches the reads of one tick into one query (unless `batch_loads` is False: then
        each read is made at once); made when a resolver first loads.

        No cache: a websocket connection keeps its context for its whole life, and must not
        answer later queries from old reads."""
        if not self.batch_loads:
            return ReadAtOnce(self.service.get_many)
        return TickLoader(load_fn=self.service.get_many, cache=False)


Info = StrawberryInfo[Context, None]


def given[T](value: T | None) -> T | None:
    """An omitted argument (UNSET) reads as None."""
    return None if value is strawberry.UNSET else value
