"""Data directories the system really refuses: read-only, on a full disk, holding bad files.

Root ignores file modes, so a read-only directory is a read-only tmpfs mount, else an
immutable directory (chattr +i), else a directory root cannot create (/sys refuses mkdir);
a full disk is a small tmpfs filled to the last page, else (no mount allowed) a command run
with a file-size limit of 0, whose writes the system refuses in the same way.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import os
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from tests.support.backends import open_backend
from tests.support.documents import stored_document, tid

PAGE = 4096
TMPFS_SIZE = 64 * 1024


@dataclass(frozen=True, slots=True)
class Refusing:
    """A DATA_DIR the system refuses to write, and how a command must start to meet it."""

    data_dir: Path
    how: str  # the mechanism, for test ids and failure messages
    command_prefix: tuple[str, ...] = ()


@contextmanager
def read_only_dir(tmp_path: Path) -> Iterator[Refusing]:
    directory = tmp_path / "read-only"
    directory.mkdir()
    if os.geteuid() != 0:
        directory.chmod(0o555)
        try:
            yield Refusing(directory, "chmod 0o555")
        finally:
            directory.chmod(0o755)
    elif _mount_tmpfs(directory, "ro,size=1m"):
        try:
            yield Refusing(directory, "read-only tmpfs")
        finally:
            _unmount(directory)
    elif _succeeds("chattr", "+i", str(directory)):
        try:
            yield Refusing(directory, "chattr +i")
        finally:
            _succeeds("chattr", "-i", str(directory))
    else:
        yield Refusing(Path("/sys/outdial-graphql-test"), "under /sys")


@contextmanager
def full_disk(
    tmp_path: Path, *, room: int = 0, size: int = TMPFS_SIZE, populated: bool = False
) -> Iterator[Refusing]:
    """A data directory on a disk of `size` bytes with `room` left (after a store, if
    `populated`)."""
    directory = tmp_path / "full"
    directory.mkdir()
    if not _mount_tmpfs(directory, f"size={size}"):
        yield Refusing(
            directory, "file-size limit 0", ("sh", "-c", 'ulimit -f 0 && exec "$@"', "sh")
        )
        return
    try:
        if populated:
            write_store(directory, count=5)
        _fill(directory / "filler", leave=room)
        yield Refusing(directory, "full tmpfs")
    finally:
        _unmount(directory)


@contextmanager
def small_disk(tmp_path: Path, *, size: int) -> Iterator[Path]:
    """A directory on a tmpfs of `size` bytes, for a service to fill while it runs."""
    directory = tmp_path / "small"
    directory.mkdir()
    assert _mount_tmpfs(directory, f"size={size}"), "a full disk while serving needs a tmpfs (root)"
    try:
        yield directory
    finally:
        _unmount(directory)


def fill(path: Path, *, leave: int = 0) -> None:
    """Write `path` until its disk has only `leave` bytes of room left."""
    _fill(path, leave=leave)


def write_store(data_dir: Path, *, count: int) -> Path:
    """A real embedded store of `count` targets, closed (its WAL folded into the file)."""

    async def write() -> None:
        async with open_backend("sqlite", data_dir) as backend:
            await backend.docs.insert(
                *(stored_document(tid(n), data="x" * 500) for n in range(count))
            )

    asyncio.run(write())
    database = data_dir / "targets.sqlite3"
    assert not database.with_name(database.name + "-wal").exists()
    return database


def damage_middle_pages(database: Path, *, pages: int = 4) -> None:
    """Overwrite `pages` pages in the middle of `database`; its header stays valid."""
    count = database.stat().st_size // PAGE
    assert count > pages + 2, f"{database} has only {count} pages"
    with database.open("r+b") as file:
        file.seek(PAGE * (count // 2))
        file.write(b"\xa5" * (PAGE * pages))


def _fill(path: Path, *, leave: int) -> None:
    with path.open("wb", buffering=0) as file, contextlib.suppress(OSError):
        while file.write(b"\0" * PAGE):
            pass
    if leave:
        os.truncate(path, max(0, path.stat().st_size - leave))


def _mount_tmpfs(directory: Path, options: str) -> bool:
    return _succeeds("mount", "-t", "tmpfs", "-o", options, "tmpfs", str(directory))


def _unmount(directory: Path) -> None:
    subprocess.run(["umount", str(directory)], check=True, capture_output=True)


def _succeeds(*command: str) -> bool:
    try:
        return subprocess.run(command, capture_output=True).returncode == 0
    except OSError as error:  # the tool is not installed
        assert error.errno == errno.ENOENT, error
        return False
