"""A CSV import on every storage tier (the embedded store's bulk loader, MongoDB's creates on the
mock and the wire tier): the same rows written, the same bad rows refused, and a run again that
writes nothing, not even over the targets dialers and operators changed meanwhile. On the
embedded store, rows are also checked in worker processes, chunk by chunk."""

from __future__ import annotations

import asyncio
import io
from pathlib import Path
from typing import Any

import pytest

from cli.bulk_import import import_into_sqlite
from cli.csv_columns import parse_columns
from cli.csv_rows import CsvRows
from cli.importer import ImportResult
from cli.importing import import_into
from domain.paging import CursorCodec
from domain.service import TargetService
from domain.validation import TargetPatch
from storage.sqlite.storage import open_sqlite
from tests.support.backends import TIERS, open_backend
from tests.support.csv_files import COLUMNS, OUTDIAL, row, write_csv
from tests.support.import_files import stored

KEY = "CustomerId"


def source(path: Path, key: str | None = KEY) -> CsvRows:
    return CsvRows.bind(path, parse_columns(COLUMNS), outdial_id=OUTDIAL, key_column=key)


async def import_on(tier: str, tmp_path: Path, *paths: Path, **options: Any) -> list[Any]:
    """Each file imported in turn into one store of `tier`; after each, the result, what the
    import said, and every stored document by name."""
    outcomes: list[Any] = []
    async with open_backend(tier, tmp_path / "data") as backend:
        service = TargetService(backend.storage.repository, cursors=CursorCodec(b"test"))
        for path in paths:
            said = io.StringIO()
            result = await import_into(
                backend.storage, path, source(path), progress=said, **options
            )
            docs = {doc["name"]: doc for doc in await backend.docs.all()}
            outcomes.append((result, said.getvalue().splitlines(), docs))
            if len(outcomes) == 1 and docs:  # a dialer and an operator at work between runs
                await service.mark_progressing(docs["customer 1"]["id"], 0)
                await service.update(docs["customer 2"]["id"], TargetPatch(name="renamed"))
    return outcomes


@pytest.mark.parametrize("tier", TIERS)
def test_a_run_again_writes_nothing_over_targets_changed_meanwhile(
    tier: str, tmp_path: Path
) -> None:
    path = write_csv(tmp_path / "campaign.csv", *(row(n) for n in range(1, 6)))

    (first, said, _), (again, said_again, after) = asyncio.run(
        import_on(tier, tmp_path, path, path, skip_bad=True)
    )

    assert (first.written, first.bad, said[-1]) == (5, {}, "imported 5 of 5 targets (100%)")
    assert again.written == 0
    assert again.already == {2, 4, 5, 6}, "row 2's target is claimed: still the same target"
    assert list(again.bad) == [3]
    assert again.bad[3].startswith(f"{KEY}: the target of this row (id ")
    assert said_again[0] == f"row 3: {again.bad[3]}"
    assert after["customer 1"]["status"] == "progressing"
    assert after["customer 1"]["try_count_0"] == 1
    assert "renamed" in after and "customer 2" not in after


@pytest.mark.parametrize("tier", TIERS)
def test_one_bad_row_writes_nothing_on_any_tier(tier: str, tmp_path: Path) -> None:
    path = write_csv(
        tmp_path / "campaign.csv", row(1), row(2, Mobile="010-1234"), row(3), row(2, Name="2")
    )

    ((result, said, after),) = asyncio.run(import_on(tier, tmp_path, path))

    assert said == [
        "row 3: Mobile: must be + followed by 7 to 15 digits (E.164)",
        f"row 5: {KEY}: the same key as row 3",
        "2 bad row(s): nothing imported",
    ]
    assert (result.written, after) == (0, {})


def import_sqlite(data_dir: Path, path: Path, **options: Any) -> tuple[ImportResult, list[str]]:
    said = io.StringIO()

    async def load() -> ImportResult:
        async with open_sqlite(data_dir) as storage:
            return await import_into_sqlite(
                path, storage.database.path, source=source(path), progress=said, **options
            )

    return asyncio.run(load()), said.getvalue().splitlines()


def test_workers_reading_chunks_find_what_one_process_finds(tmp_path: Path) -> None:
    """Chunks of 3 rows, rows spanning lines at their edges, bad rows and a repeated key in
    other chunks than the rows they repeat."""
    rows = [row(n, Notes=f'"note {n}\nsecond line"' if n % 3 == 0 else "") for n in range(1, 21)]
    rows[4] = row(5, Mobile="+1")
    rows[10] = row(2)
    rows[13] = row(14, TZ="Nowhere/Else")
    rows.insert(7, ",,,,,,,")
    path = write_csv(tmp_path / "campaign.csv", *rows)

    alone, alone_said = import_sqlite(tmp_path / "one", path, skip_bad=True, workers=1)
    shared, shared_said = import_sqlite(
        tmp_path / "two", path, skip_bad=True, workers=2, chunk_lines=3, batch_size=4
    )

    assert shared.bad == alone.bad
    assert sorted(shared.bad) == [6, 13, 16]
    assert shared.bad[13] == f"{KEY}: the same key as row 3"
    assert shared.written == alone.written == 17
    assert stored(tmp_path / "two").keys() == stored(tmp_path / "one").keys()
    assert [line for line in shared_said if line.startswith("row ")] == [
        line for line in alone_said if line.startswith("row ")
    ]
    notes = sorted(doc["data"] for doc in stored(tmp_path / "two").values() if doc["data"])
    assert notes == sorted(f"note {n}\nsecond line" for n in (3, 6, 9, 12, 15, 18))
