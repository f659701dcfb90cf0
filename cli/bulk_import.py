"""`outdial-graphql import` into the embedded store, at speed and beside a running service.

The same checks as cli.importer, all of them before anything is written, but the records are read
on every core: worker processes read chunks of the file, check each record, look its id up in the
database and spool the rows each good record will be written as (in the temporary directory, as
standard input is). Then the loader (storage.sqlite.bulk) writes the rows of the records that
passed, in short transactions.
"""

from __future__ import annotations

import asyncio
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

from cli.importer import Checking, ImportResult, Progress, UnusableFile
from cli.sources import JSON_LINES, Chunk, Incoming, Refused, Source
from domain import clock
from storage.sqlite import bulk
from storage.sqlite.bulk import BatchSizer, BulkLoader, Prepared

# Records a worker checks at a time.
CHUNK_LINES = 5_000
_MAX_WORKERS = 8
# Between two transactions the file's write lock is left free this long, so that a service
# waiting for it (it tries again every few milliseconds) takes it before the next one.
PAUSE_S = 0.01


@dataclass(slots=True)
class Checked:
    """What a worker found in one chunk; the good lines' rows are in its spool file."""

    index: int
    lines: int = 0
    bad: list[tuple[int, str]] = field(default_factory=list)
    # (number, id) of every record with an id, in order, and those of its records stored
    # already.
    ids: list[tuple[int, str]] = field(default_factory=list)
    already: set[int] = field(default_factory=set)


class ChunkChecker:
    """Checks chunks of one file against one database; one per worker process."""

    def __init__(self, path: Path, source: Source, database: Path, spool: Path, now: str) -> None:
        self._path = path
        self._source = source
        self._database = bulk.open_reader(database)
        self._spool = spool
        self._now = now

    def __call__(self, chunk: Chunk) -> Checked:
        checked = Checked(chunk.index)
        good: list[tuple[int, Incoming]] = []
        for number, record in self._source.records(self._path, chunk, self._now):
            checked.lines += 1
            if isinstance(record, Refused):
                checked.bad.append((number, record.reason))
                if record.target_id is not None:
                    checked.ids.append((number, record.target_id))
            else:
                good.append((number, record))
                checked.ids.append((number, record.target.id))
        found = bulk.stored(self._database, [incoming.target.id for _, incoming in good])
        prepared = []
        for number, incoming in good:
            target_id = incoming.target.id
            if target_id not in found:
                prepared.append((number, bulk.prepare(incoming.target)))
                continue
            stored = found[target_id]
            if stored is not None and incoming.describes(stored):
                checked.already.add(number)
            else:
                checked.bad.append((number, self._source.taken(target_id)))
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
    source: Source = JSON_LINES,
    skip_bad: bool = False,
    batch_size: int | None = None,
    progress: TextIO,
    workers: int | None = None,
    chunk_lines: int = CHUNK_LINES,
) -> ImportResult:
    """Check every record, then write the good ones unless a bad one forbids it. `batch_size`
    targets a transaction, or as many as take about BatchSizer.SECONDS; `workers` processes
    check the records (by default one per core for a large file, none for a small one)."""
    with tempfile.TemporaryDirectory(prefix="outdial-import-") as spool_dir:
        spool = Path(spool_dir)
        now = clock.format_time(clock.utc_now())
        count = _worker_count(path, source) if workers is None else workers
        checker = (path, source, database, spool, now)
        chunks = source.chunks(path, chunk_lines)
        result, spooled = _check(chunks, checker, count, source, progress)
        if not result.lines:
            raise UnusableFile(f"is empty: no {source.noun}s to import")
        if result.bad and not skip_bad:
            progress.write(f"{len(result.bad):,} bad {source.noun}(s): nothing imported\n")
            return result
        if result.already:
            stored = len(result.already)
            progress.write(f"{stored:,} target(s) stored already, as given: left alone\n")
        rows = _spooled(spool, spooled, result.bad.keys() | result.already)
        good = result.lines - len(result.bad) - len(result.already)
        reporting = Progress(progress, result, good, source.noun)
        await _write(rows, database, reporting, BatchSizer(fixed=batch_size))
    return result


_CheckerArguments = tuple[Path, Source, Path, Path, str]


def _check(
    chunks: Iterator[Chunk],
    checker: _CheckerArguments,
    workers: int,
    source: Source,
    progress: TextIO,
) -> tuple[ImportResult, int]:
    """What every record is (bad, stored already, or to write), and how many chunks were
    spooled."""
    checking = Checking(source, progress)
    result = checking.result
    spooled = 0
    with _Checking(checker, workers) as check:
        for checked in check(chunks):
            spooled += 1
            rejected = dict(checked.bad)
            for number, target_id in checked.ids:
                repeated = checking.repeated(number, target_id)
                if repeated is not None:
                    rejected[number] = repeated
            for number in sorted(rejected):
                checking.reject(number, rejected[number])
            result.already |= checked.already - rejected.keys()
            checking.counted(checked.lines)
    return result, spooled


class _Checking:
    """A function checking chunks in order: in worker processes, or here for a small file."""

    def __init__(self, arguments: _CheckerArguments, workers: int) -> None:
        self._arguments = arguments
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


def _start_worker(path: Path, source: Source, database: Path, spool: Path, now: str) -> None:
    global _worker_checker  # one checker per worker process
    _worker_checker = ChunkChecker(path, source, database, spool, now)


def _check_in_worker(chunk: Chunk) -> Checked:
    assert _worker_checker is not None
    return _worker_checker(chunk)


def _worker_count(path: Path, source: Source) -> int:
    if path.stat().st_size < source.parallel_from_bytes:
        return 1
    return max(1, min(_MAX_WORKERS, os.process_cpu_count() or 1))


def _spooled(spool: Path, chunks: int, left_out: Container[int]) -> Iterator[tuple[int, Prepared]]:
    for index in range(chunks):
        with spool_file(spool, index).open("rb") as rows:
            prepared: list[tuple[int, Prepared]] = marshal.load(rows)
        yield from ((number, row) for number, row in prepared if number not in left_out)


async def _write(
    rows: Iterator[tuple[int, Prepared]], database: Path, reporting: Progress, sizer: BatchSizer
) -> None:
    """Each batch written on a thread while the next one is read from the spool."""
    loader = BulkLoader(database)
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
