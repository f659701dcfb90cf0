"""`import` into the embedded store: lines checked in worker processes, chunk by chunk, and
written in batches, with the same outcome as one process reading the file line by line."""

from __future__ import annotations

import asyncio
import io
from pathlib import Path
from typing import Any

import pytest

from cli.bulk_import import import_into_sqlite
from cli.importer import ImportResult
from storage.sqlite import bulk
from storage.sqlite.database import FILE_NAME
from storage.sqlite.storage import open_sqlite
from tests.support.documents import tid
from tests.support.import_files import document, run, stored, write_lines

Lines = list[dict[str, Any] | str]


def import_lines(
    tmp_path: Path, data_dir: Path, lines: Lines, **options: Any
) -> tuple[ImportResult, list[str]]:
    """import_into_sqlite on a file of `lines`: its result and its progress lines."""
    path = write_lines(tmp_path / "in.jsonl", lines)
    progress = io.StringIO()

    async def load() -> ImportResult:
        async with open_sqlite(data_dir) as storage:
            return await import_into_sqlite(
                path, storage.database.path, progress=progress, **options
            )

    result = asyncio.run(load())
    return result, progress.getvalue().splitlines()


def test_batches_end_where_their_size_says_and_progress_counts_them(
    tmp_path: Path, data_dir: Path
) -> None:
    lines: Lines = [document(n) for n in range(1, 8)]

    result, progress = import_lines(tmp_path, data_dir, lines, batch_size=3)

    assert result.written == 7
    assert progress == [
        "imported 3 of 7 targets (42%)",
        "imported 6 of 7 targets (85%)",
        "imported 7 of 7 targets (100%)",
    ]
    assert sorted(stored(data_dir)) == [tid(n) for n in range(1, 8)]


def test_workers_find_what_one_process_finds_and_write_the_same(
    tmp_path: Path, data_dir: Path
) -> None:
    lines: Lines = [document(n) for n in range(1, 48)]
    lines[4] = "{not json"
    lines[30] = document(3)  # line 31: the id of line 3, in another chunk
    lines[44] = document(45, status="ringing")
    lines.insert(20, "")

    alone, alone_said = import_lines(tmp_path, tmp_path / "one", lines, skip_bad=True, workers=1)
    shared, shared_said = import_lines(
        tmp_path, data_dir, lines, skip_bad=True, workers=2, chunk_lines=10, batch_size=8
    )

    assert shared.bad == alone.bad
    assert sorted(shared.bad) == [5, 32, 46]
    assert shared.bad[32] == f"id {tid(3)} already on line 3"
    assert shared.written == alone.written == 44
    assert stored(data_dir) == stored(tmp_path / "one")
    assert [line for line in shared_said if line.startswith("line ")] == [
        line for line in alone_said if line.startswith("line ")
    ]
    assert shared_said[-1] == "imported 44 of 44 targets (100%)"


def test_a_bad_line_in_the_last_chunk_writes_nothing(tmp_path: Path, data_dir: Path) -> None:
    lines: Lines = [document(n) for n in range(1, 41)]
    lines[38] = document(39, try_count_0=-1)

    result, progress = import_lines(
        tmp_path, data_dir, lines, workers=2, chunk_lines=10, batch_size=5
    )

    assert list(result.bad) == [39]
    assert result.written == 0
    assert progress == [
        "line 39: try_count_0: must be a whole number from 0 to 2147483647",
        "1 bad line(s): nothing imported",
    ]
    assert stored(data_dir) == {}


def test_importing_a_file_again_writes_nothing(tmp_path: Path, data_dir: Path) -> None:
    lines: Lines = [document(n) for n in range(1, 26)]
    import_lines(tmp_path, data_dir, lines, chunk_lines=10)
    database = data_dir / FILE_NAME
    before = stored(data_dir), database.stat().st_mtime_ns

    again, progress = import_lines(tmp_path, data_dir, lines, chunk_lines=10)

    assert (again.written, len(again.already), again.bad) == (0, 25, {})
    assert progress == ["25 target(s) stored already, as given: left alone"]
    assert (stored(data_dir), database.stat().st_mtime_ns) == before


def test_an_id_stored_for_another_target_is_a_bad_line(tmp_path: Path, data_dir: Path) -> None:
    import_lines(tmp_path, data_dir, [document(1), document(2)])
    changed = document(2, name="someone else")

    result, progress = import_lines(tmp_path, data_dir, [document(1), changed, document(3)])

    assert result.bad == {2: f"id {tid(2)} is taken by another target in the database"}
    assert result.written == 0
    assert stored(data_dir)[tid(2)]["name"] == "target 2"


def test_the_command_checks_a_large_file_in_worker_processes(
    tmp_path: Path, data_dir: Path
) -> None:
    """The command starts workers for a file of PARALLEL_FROM_BYTES or more; a bad line near
    the end is found and nothing is written."""
    padding = "x" * 4000
    lines: Lines = [document(n, detail=padding) for n in range(1, 2200)]
    lines[-3] = document(2197, status="ringing")
    path = write_lines(tmp_path / "big.jsonl", lines)
    assert path.stat().st_size >= 8 * 1024 * 1024

    assert run("import", str(path)) == 1
    assert stored(data_dir) == {}


def test_an_id_another_writer_stores_between_check_and_write_is_one_line(
    tmp_path: Path,
    data_dir: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """The race itself cannot be timed from here: the check is made to miss the target that a
    service stores meanwhile, and the write then meets it in the database."""
    write_lines(tmp_path / "first.jsonl", [document(7, name="the service's")])
    assert run("import", str(tmp_path / "first.jsonl")) == 0
    monkeypatch.setattr(bulk, "stored", lambda connection, ids: {})
    write_lines(tmp_path / "in.jsonl", [document(1), document(7, name="the file's")])
    capsys.readouterr()
    assert run("import", str(tmp_path / "in.jsonl")) == 1
    err = capsys.readouterr().err
    assert "Traceback" not in err
    assert err.splitlines()[-1].startswith(f"outdial-graphql: {tmp_path / 'in.jsonl'}: another")
    assert err.splitlines()[-1].endswith(
        "run the same import again, which checks them as it checks every line"
    )
    assert {doc["name"] for doc in stored(data_dir).values()} == {"the service's"}
