"""Why a store will not open, in words for whoever starts the service."""

from __future__ import annotations

import errno
from pathlib import Path

_NO_SPACE = (errno.ENOSPC, errno.EDQUOT)
_NOT_WRITABLE = (errno.EROFS, errno.EACCES, errno.EPERM)


class CannotOpenStorage(RuntimeError):
    """The store cannot be opened: the message names the file or server and what to do.

    Raised where the cause is known; the command line reports it in one line and exits 1.
    """


def disk_full(path: Path) -> CannotOpenStorage:
    return CannotOpenStorage(
        f"no space left on the disk holding {path}; free some space "
        "or set DATA_DIR to a directory on another disk"
    )


def not_writable(path: Path, reason: str) -> CannotOpenStorage:
    return CannotOpenStorage(
        f"cannot write to {path} ({reason}); make it writable by this user "
        "or set DATA_DIR to a directory it may write"
    )


def from_os_error(data_dir: Path, error: OSError) -> CannotOpenStorage:
    """`error` met while preparing the data directory `data_dir`."""
    path = Path(error.filename) if error.filename else data_dir
    reason = error.strerror or str(error)
    if error.errno in _NO_SPACE:
        return disk_full(path)
    if error.errno in _NOT_WRITABLE:
        return not_writable(path, reason)
    return CannotOpenStorage(
        f"cannot use {path} as the data directory ({reason}); "
        "set DATA_DIR to a directory this user may create and write"
    )
