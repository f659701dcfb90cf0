"""One process owns a data directory: an exclusive flock held for the store's lifetime."""

from __future__ import annotations

import fcntl
import os
from pathlib import Path

from storage.errors import CannotOpenStorage, from_os_error

LOCK_FILE_NAME = "outdial.lock"


class DataDirInUse(CannotOpenStorage):
    def __init__(self, data_dir: Path, pid: int | None) -> None:
        holder = f"another process (pid {pid})" if pid else "another process"
        super().__init__(
            f"data directory {data_dir} is already in use by {holder}; "
            "stop that process or set DATA_DIR to a different directory"
        )
        self.data_dir = data_dir
        self.pid = pid


class DataDirLock:
    """An exclusive flock on a file in the data dir, held for the server's lifetime."""

    def __init__(self, data_dir: Path) -> None:
        self._data_dir = data_dir
        self._fd: int | None = None

    def acquire(self) -> None:
        """Raises DataDirInUse, or CannotOpenStorage when the directory cannot be written."""
        try:
            self._data_dir.mkdir(parents=True, exist_ok=True)
            fd = os.open(self._data_dir / LOCK_FILE_NAME, os.O_RDWR | os.O_CREAT, 0o644)
        except OSError as error:
            raise from_os_error(self._data_dir, error) from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
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
            os.ftruncate(fd, 0)
            os.close(fd)  # closing the last descriptor drops the flock


def _read_pid(fd: int) -> int | None:
    text = os.pread(fd, 32, 0).decode(errors="replace").strip()
    return int(text) if text.isdigit() else None
