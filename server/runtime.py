"""What one running service holds: storage, the event broker and the domain service."""

from __future__ import annotations

from dataclasses import dataclass

from domain.events import Broker
from domain.paging import CursorCodec
from domain.service import TargetService
from server.settings import Settings
from storage.connection import Storage


@dataclass(frozen=True, slots=True)
class Runtime:
    storage: Storage
    broker: Broker
    service: TargetService

    @classmethod
    def build(cls, settings: Settings, storage: Storage) -> Runtime:
        broker = Broker()
        service = TargetService(
            storage.repository,
            cursors=CursorCodec(settings.cursor_secret.encode()),
            on_status_change=broker.publish,
        )
        return cls(storage, broker, service)
