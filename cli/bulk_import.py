"""`outdial-graphql import` into the embedded store, at speed and beside a running service.

The same checks as cli.importer, all of them before anything is written, but the lines are read
on every core: worker processes read chunks of the file, check each line, look its id up in the
database and spool the rows each good line will be written as (in the temporary directory, as
standard input is). Then the loader (storage.sqlite.bulk) writes the rows of the lines that
passed, in short transactions.
"""

from __future__ import annotations

import asyncio
import codecs
import marshal
import multiprocessing
import os
import tempfile
import time
from collections.abc import Callable, Container, Iterable, Iterator
from dataclasses import dataclass, field
from itertools import islice
from pathlib import Path
from typing import TextIO

from cli.importer import (
    CHECK_PROGRESS_EVERY,
    BadLine,
    ImportResult,
    Progress,
    UnusableFile,
    target_from_line,
)
from domain import clock
from domain.models import Target
from domain.validation import TargetDraft
from storage.sqlite import bulk
from storage.sqlite.bulk import BatchSizer, BulkLoader, Prepared

# Lines a worker checks at a time, and the file size from which workers are worth starting.
CHUNK_LINES = 5_000
PARALLEL_FROM_BYTES = 8 * 1024 * 1024
_MAX_WORKERS = 8
# Between two transactions the file's write lock is left free this long, so that a service
# waiting for it (it tries again every few milliseconds) takes it before the next one.
PAUSE_S = 0.01


@dataclass(frozen=True, slots=True)
class Chunk:
    """Lines first_number... of the file, bytes start to end."""

    index: int
    start: int
    end: int
    first_number: int


@dataclass(slots=True)
class Checked:
    """What a worker found in one chunk; the good lines' rows are in its spool file."""

    index: int
    lines: int = 0
    bad: list[tuple[int, str]] = field(default_factory=list)
    # (line, id) of every good line, in order, and those of its lines stored already as given.
    ids: list[tuple[int, str]] = field(default_factory=list)
    already: set[int] = field(default_factory=set)


class ChunkChecker:
    """Checks chunks of one file against one database; one per worker process."""

    def __init__(self, path: Path, database: Path, spool: Path, now: str) -> None:
        self._path = path
        self._database = bulk.open_reader(database)
        self._spool = spool
        self._now = now

    def __call__(self, chunk: Chunk) -> Checked:
        checked = Checked(chunk.index)
        good: list[tuple[int, Target]] = []
        for number, text in _lines_of(self._path, chunk):
            checked.lines += 1
            try:
                good.append((number, target_from_line(text, self._now)))
            except BadLine as error:
                checked.bad.append((number, str(error)))
        found = bulk.stored(self._database, [target.id for _, target in good])
        prepared = []
        for number, target in good:
            checked.ids.append((number, target.id))
            if target.id not in found:
                prepared.append((number, bulk.prepare(target)))
                continue
            stored = found[target.id]
            if stored is not None and _draft_of(target).describes(stored):
                checked.already.add(number)
            else:
                checked.bad.append(
                    (number, f"id {target.id} is taken by another target in the database")
                )
        with spool_file(self._spool, chunk.index).open("wb") as out:
            marshal.dump(prepared, out)
        return checked

    def close(self) -> None:
        self._database.close()


def spool_file(spool: Path, index: int) -> Path:
    return spool / f"chunk-{index:07d}"


async def import_into_sqlite(
    path: Path,
    database: Path,
    *,
    skip_bad: bool = False,
    batch_size: int | None = None,
    progress: TextIO,
    workers: int | None = None,
    chunk_lines: int = CHUNK_LINES,
) -> ImportResult:
    """Check every line, then write the good ones unless a bad one forbids it. `batch_size`
    targets a transaction, or as many as take about BatchSizer.SECONDS; `workers` processes
    check the lines (by default one per core for a large file, none for a small one)."""
    with tempfile.TemporaryDirectory(prefix="outdial-import-") as spool_dir:
        spool = Path(spool_dir)
        now = clock.format_time(clock.utc_now())
        count = _worker_count(path) if workers is None else workers
        chunks = _chunks(path, chunk_lines)
        result, spooled = _check(chunks, path, database, spool, now, count, progress)
        if not result.lines:
            raise UnusableFile("is empty: no lines to import")
        if result.bad and not skip_bad:
            progress.write(f"{len(result.bad):,} bad line(s): nothing imported\n")
            return result
        if result.already:
            stored = len(result.already)
            progress.write(f"{stored:,} target(s) stored already, as given: left alone\n")
        rows = _spooled(spool, spooled, result.bad.keys() | result.already)
        good = result.lines - len(result.bad) - len(result.already)
        await _write(rows, database, result, good, BatchSizer(fixed=batch_size), progress)
    return result


def _check(
    chunks: Iterator[Chunk],
    path: Path,
    database: Path,
    spool: Path,
    now: str,
    workers: int,
    progress: TextIO,
) -> tuple[ImportResult, int]:
    """What every line is (bad, stored already, or to write), and how many chunks were spooled."""
    result = ImportResult()
    first_seen: dict[str, int] = {}
    spooled = 0
    shown = 0
    with _Checking(path, database, spool, now, workers) as check:
        for checked in check(chunks):
            spooled += 1
            result.lines += checked.lines
            rejected = dict(checked.bad)
            for number, target_id in checked.ids:
                if target_id in first_seen:
                    rejected[number] = f"id {target_id} already on line {first_seen[target_id]}"
                else:
                    first_seen[target_id] = number
            for number in sorted(rejected):
                result.bad[number] = rejected[number]
                progress.write(f"line {number}: {rejected[number]}\n")
            result.already |= checked.already - rejected.keys()
            while result.lines - shown >= CHECK_PROGRESS_EVERY:
                shown += CHECK_PROGRESS_EVERY
                progress.write(f"checked {shown:,} lines\n")
    return result, spooled


class _Checking:
    """A function checking chunks in order: in worker processes, or here for a small file."""

    def __init__(self, path: Path, database: Path, spool: Path, now: str, workers: int) -> None:
        self._arguments = (path, database, spool, now)
        self._workers = workers
        self._pool: multiprocessing.pool.Pool | None = None
        self._checker: ChunkChecker | None = None

    def __enter__(self) -> Callable[[Iterable[Chunk]], Iterator[Checked]]:
        if self._workers <= 1:
            checker = self._checker = ChunkChecker(*self._arguments)
            return lambda chunks: map(checker, chunks)
        # Started afresh (not forked): this process runs threads, and fork copies their locks.
        context = multiprocessing.get_context("spawn")
        pool = context.Pool(self._workers, _start_worker, self._arguments)
        self._pool = pool
        return lambda chunks: pool.imap(_check_in_worker, chunks)

    def __exit__(self, *_: object) -> None:
        if self._checker is not None:
            self._checker.close()
        if self._pool is not None:
            self._pool.terminate()
            self._pool.join()


_worker_checker: ChunkChecker | None = None


def _start_worker(path: Path, database: Path, spool: Path, now: str) -> None:
    global _worker_checker  # one checker per worker process
    _worker_checker = ChunkChecker(path, database, spool, now)


def _check_in_worker(chunk: Chunk) -> Checked:
    assert _worker_checker is not None
    return _worker_checker(chunk)


def _worker_count(path: Path) -> int:
    if path.stat().st_size < PARALLEL_FROM_BYTES:
        return 1
    return max(1, min(_MAX_WORKERS, os.process_cpu_count() or 1))


def _chunks(path: Path, size: int) -> Iterator[Chunk]:
    """The file cut into chunks of `size` lines, found by one quick pass."""
    index = start = offset = 0
    first = number = 1
    with path.open("rb") as lines:
        for number, text in enumerate(lines, start=1):
            offset += len(text)
            if number - first + 1 == size:
                yield Chunk(index, start, offset, first)
                index, start, first = index + 1, offset, number + 1
    if offset > start:
        yield Chunk(index, start, offset, first)


def _lines_of(path: Path, chunk: Chunk) -> Iterator[tuple[int, bytes]]:
    """The chunk's non-blank lines with their 1-based line numbers (a UTF-8 byte order mark
    left out), as cli.importer reads the file."""
    with path.open("rb") as file:
        file.seek(chunk.start)
        text = file.read(chunk.end - chunk.start)
    # Lines end at b"\n" alone, as when the file is read line by line (a lone b"\r" is text).
    for number, line in enumerate(text.split(b"\n"), start=chunk.first_number):
        if number == 1:
            line = line.removeprefix(codecs.BOM_UTF8)
        if line.strip():
            yield number, line


def _spooled(spool: Path, chunks: int, left_out: Container[int]) -> Iterator[tuple[int, Prepared]]:
    for index in range(chunks):
        with spool_file(spool, index).open("rb") as rows:
            prepared: list[tuple[int, Prepared]] = marshal.load(rows)
        yield from ((number, row) for number, row in prepared if number not in left_out)


async def _write(
    rows: Iterator[tuple[int, Prepared]],
    database: Path,
    result: ImportResult,
    good: int,
    sizer: BatchSizer,
    progress: TextIO,
) -> None:
    """Each batch written on a thread while the next one is read from the spool."""
    loader = BulkLoader(database)
    reporting = Progress(progress, result, good)
    try:
        batch = list(islice(rows, sizer.size))
        while batch:
            writing = asyncio.create_task(asyncio.to_thread(_timed, loader.write, batch))
            following = list(islice(rows, sizer.size))
            with reporting.batch(batch[0][0]):
                seconds = await writing
            sizer.ran(len(batch), seconds)
            reporting.written(len(batch))
            batch = following
            await asyncio.sleep(PAUSE_S)
    finally:
        loader.close()


def _timed(write: Callable[[list[Prepared]], None], batch: list[tuple[int, Prepared]]) -> float:
    start = time.perf_counter()
    write([prepared for _, prepared in batch])
    return time.perf_counter() - start


def _draft_of(target: Target) -> TargetDraft:
    return TargetDraft(
        target.outdial_id, target.name, target.detail, target.data, target.destinations
    )
