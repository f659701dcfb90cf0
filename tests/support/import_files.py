"""Files for `outdial-graphql import`, the command run in-process, and what it stored."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import cli.main as cli
from tests.support.backends import open_backend
from tests.support.documents import stored_document, tid


def document(n: int, **fields: Any) -> dict[str, Any]:
    """The n-th of a run of good import lines (id `tid(n)`), `fields` overriding."""
    phone = {"type": "tel", "target": f"+8211{n:08d}", "target_name": "", "name": "mobile"}
    phone["detail"] = ""
    base = {"name": f"target {n}", "data": '{"crm": 1}', "destination_0": phone}
    return stored_document(tid(n), **(base | fields))


def write_lines(path: Path, lines: list[dict[str, Any] | str]) -> Path:
    """One line each: a document as JSON, a string as it is."""
    path.write_text(
        "".join((line if isinstance(line, str) else json.dumps(line)) + "\n" for line in lines)
    )
    return path


def run(*argv: str) -> int:
    """The command line, in this process (its environment names the data directory)."""
    return cli.main(list(argv))


def stored(data_dir: Path) -> dict[str, dict[str, Any]]:
    """Every document the embedded store in `data_dir` holds, by id, as stored."""

    async def read() -> dict[str, dict[str, Any]]:
        async with open_backend("sqlite", data_dir) as backend:
            return {doc["_id"]: doc for doc in await backend.docs.all()}

    return asyncio.run(read())
