"""Reading a text/event-stream response as the HTML spec's EventSource does (httpx streams)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import httpx
import orjson

TIMEOUT = 5.0
EVENT_STREAM = {"accept": "text/event-stream"}


@dataclass(frozen=True)
class Event:
    event: str | None  # None: a comment (`:` line), such as a keep-alive
    data: str

    def json(self) -> Any:
        return orjson.loads(self.data)


class EventReader:
    """The events of one response, in order; comments too, as events named None."""

    def __init__(self, response: httpx.Response) -> None:
        self.response = response
        self._lines: AsyncIterator[str] = response.aiter_lines()

    async def next(self, timeout: float = TIMEOUT) -> Event:
        async with asyncio.timeout(timeout):
            return await self._read()

    async def next_event(self, timeout: float = TIMEOUT) -> Event:
        """The next event that is not a comment."""
        async with asyncio.timeout(timeout):
            while (event := await self._read()).event is None:
                pass
            return event

    async def rest(self, timeout: float = TIMEOUT) -> list[Event]:
        """Every event until the server ends the stream, comments left out."""
        events = []
        async with asyncio.timeout(timeout):
            while True:
                try:
                    event = await self._read()
                except StopAsyncIteration:
                    return events
                if event.event is not None:
                    events.append(event)

    async def _read(self) -> Event:
        name: str | None = None
        data: list[str] = []
        comment = False
        async for line in self._lines:
            if not line:
                if name is not None or data or comment:
                    return Event(name, "\n".join(data))
                continue
            field, _, value = line.partition(":")
            value = value.removeprefix(" ")
            if field == "":
                comment = True
            elif field == "event":
                name = value
            elif field == "data":
                data.append(value)
        raise StopAsyncIteration
