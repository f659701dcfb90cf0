"""`outdial-graphql export`: targets as JSON lines of stored documents, as `import` reads them."""

from __future__ import annotations

from typing import BinaryIO

import orjson

from domain.ports import TargetStore
from storage.documents import target_to_document


async def export_targets(store: TargetStore, out: BinaryIO, outdial_id: str | None) -> int:
    """Every readable target in the store's own order, each in its stored shape; how many."""
    written = 0
    async for target in store.every(outdial_id=outdial_id):
        out.write(orjson.dumps(target_to_document(target)) + b"\n")
        written += 1
    out.flush()
    return written
