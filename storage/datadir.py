"""The data directory of the embedded store: shared by any number of processes on one machine.

Every process holds a shared flock on `outdial.lock` while it runs, so that a program holding
the directory alone (version 1's embedded store, the test server of tests.support) and this one
never run together; start-up (checking the file, creating the schema, the one-time migration)
runs under a short exclusive flock on `outdial.start.lock`, one process at a time. A process
that has started holds a shared flock on `outdial.running.lock`, so one that starts later knows
whether the file is already in use by processes that checked it when they started. A directory
on a network filesystem is refused: SQLite's WAL needs every process on one machine, sharing
memory.
"""

from __future__ import annotations

import asyncio
import fcntl
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from storage.errors import CannotOpenStorage, from_os_error

LOCK_FILE_NAME = "outdial.lock"
START_LOCK_FILE_NAME = "outdial.start.lock"
RUNNING_LOCK_FILE_NAME = "outdial.running.lock"
MOUNTS = Path("/proc/mounts")
# Filesystems shared between machines (or reached through a network protocol), where SQLite's
# locks and WAL's shared memory do not hold.
NETWORK_FILESYSTEMS = frozenset(
    {
        "nfs",
        "nfs4",
        "cifs",
        "smb3",
        "smbfs",
        "ncpfs",
        "afs",
        "9p",
        "sshfs",
        "fuse.sshfs",
        "glusterfs",
        "fuse.glusterfs",
        "ceph",
        "fuse.ceph",
        "cephfs",
        "lustre",
        "gpfs",
        "beegfs",
        "ocfs2",
        "gfs2",
        "davfs",
        "fuse.davfs2",
        "fuse.s3fs",
        "fuse.rclone",
        "fuse.gcsfuse",
    }
)


class DataDirInUse(CannotOpenStorage):
    def __init__(self, data_dir: Path, pid: int | None) -> None:
        holder = f"another process (pid {pid})" if pid else "another process"
        super().__init__(
            f"data directory {data_dir} is already in use by {holder}; "
            "stop that process or set DATA_DIR to a different directory"
        )
        self.data_dir = data_dir
        self.pid = pid


class NetworkDataDir(CannotOpenStorage):
    def __init__(self, data_dir: Path, filesystem: str) -> None:
        super().__init__(
            f"data directory {data_dir} is on a network filesystem ({filesystem}), where "
            "SQLite cannot keep its writes safe; set DATA_DIR to a directory on a local disk "
            "or use MongoDB (MONGODB_URL)"
        )
        self.data_dir = data_dir
        self.filesystem = filesystem


class DataDirLock:
    """A flock on a file in the data dir: exclusive (one holder) or shared (many)."""

    def __init__(self, data_dir: Path, *, shared: bool = False, name: str = LOCK_FILE_NAME) -> None:
        self._data_dir = data_dir
        self._shared = shared
        self._name = name
        self._fd: int | None = None

    def acquire(self, *, wait: bool = False) -> None:
        """Raises DataDirInUse when it cannot be had at once (unless `wait`), or
        CannotOpenStorage when the directory cannot be written."""
        try:
            self._data_dir.mkdir(parents=True, exist_ok=True)
            fd = os.open(self._data_dir / self._name, os.O_RDWR | os.O_CREAT, 0o644)
        except OSError as error:
            raise from_os_error(self._data_dir, error) from None
        mode = fcntl.LOCK_SH if self._shared else fcntl.LOCK_EX
        try:
            fcntl.flock(fd, mode if wait else mode | fcntl.LOCK_NB)
            if not self._shared:
                os.ftruncate(fd, 0)
                os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        except BlockingIOError:
            holder = _read_pid(fd)
            os.close(fd)
            raise DataDirInUse(self._data_dir, holder) from None
        except OSError as error:
            os.close(fd)
            raise from_os_error(self._data_dir, error) from None
        except BaseException:
            os.close(fd)
            raise
        self._fd = fd

    def release(self) -> None:
        fd, self._fd = self._fd, None
        if fd is not None:
            if not self._shared:
                os.ftruncate(fd, 0)
            os.close(fd)  # closing the last descriptor drops the flock


def refuse_network_filesystem(data_dir: Path, mounts_file: Path = MOUNTS) -> None:
    try:
        mounts = mounts_file.read_text()
    except OSError:  # not Linux: nothing to read it from
        return
    filesystem = filesystem_of(data_dir.resolve(), mounts)
    if filesystem in NETWORK_FILESYSTEMS:
        raise NetworkDataDir(data_dir, filesystem)


def filesystem_of(path: Path, mounts: str) -> str | None:
    """The type of the filesystem holding `path` (absolute), from the text of /proc/mounts."""
    found: tuple[int, str] | None = None
    for line in mounts.splitlines():
        fields = line.split()
        if len(fields) < 3:
            continue
        mount_point = Path(_unescape(fields[1]))
        if path.is_relative_to(mount_point):
            depth = len(mount_point.parts)
            if found is None or depth >= found[0]:
                found = (depth, fields[2])
    return None if found is None else found[1]


@asynccontextmanager
async def starting_alone(data_dir: Path) -> AsyncIterator[bool]:
    """While inside, no other process of this program is starting on `data_dir`; gives whether
    none has started and still runs either (the first to start, or the first since all
    stopped). Once out, this process counts as started until `running.release()`."""
    lock = DataDirLock(data_dir, name=START_LOCK_FILE_NAME)
    await asyncio.to_thread(lock.acquire, wait=True)
    try:
        yield _none_running(data_dir)
    finally:
        lock.release()


def running(data_dir: Path) -> DataDirLock:
    """The lock a started process holds while it runs (acquire it inside `starting_alone`)."""
    return DataDirLock(data_dir, shared=True, name=RUNNING_LOCK_FILE_NAME)


def _none_running(data_dir: Path) -> bool:
    probe = DataDirLock(data_dir, name=RUNNING_LOCK_FILE_NAME)
    try:
        probe.acquire()
    except DataDirInUse:
        return False
    probe.release()
    return True


def _unescape(field: str) -> str:
    """/proc/mounts writes space, tab, newline and backslash as octal escapes."""
    for escaped, plain in (("\\040", " "), ("\\011", "\t"), ("\\012", "\n"), ("\\134", "\\")):
        field = field.replace(escaped, plain)
    return field


def _read_pid(fd: int) -> int | None:
    text = os.pread(fd, 32, 0).decode(errors="replace").strip()
    return int(text) if text.isdigit() else None
