"""Every command meets a store that will not open with one line on stderr and exit status 1.

Each case runs the real command in a child process, on a directory the system really refuses
(tests.support.filesystems) or a file that really is not a sound database.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.support.documents import stored_document, tid
from tests.support.filesystems import (
    PAGE,
    Refusing,
    damage_middle_pages,
    full_disk,
    read_only_dir,
    write_store,
)
from tests.support.live_server import REPO_ROOT, free_port

SECRET = "s3cret-password"
PREFIX = "outdial-graphql: error: "


@dataclass(frozen=True, slots=True)
class Case:
    env: dict[str, str]
    words: tuple[str, ...]  # what the line must say
    command_prefix: tuple[str, ...] = ()


def read_only(tmp_path: Path) -> AbstractContextManager[Case]:
    return _refusing(read_only_dir(tmp_path), "cannot write to")


def disk_full(tmp_path: Path) -> AbstractContextManager[Case]:
    return _refusing(full_disk(tmp_path), "no space left on the disk holding")


def disk_full_but_for_the_lock(tmp_path: Path) -> AbstractContextManager[Case]:
    """Room for the lock file's one page: SQLite is the one that finds the disk full."""
    return _refusing(full_disk(tmp_path, room=PAGE), "no space left on the disk holding")


@contextmanager
def not_a_database(tmp_path: Path) -> Iterator[Case]:
    database = tmp_path / "targets.sqlite3"
    database.write_bytes(b"id,name\n1,not a database\n" * 400)
    yield Case({"DATA_DIR": str(tmp_path)}, (f"{database} is not an SQLite database",))


@contextmanager
def damaged(tmp_path: Path) -> Iterator[Case]:
    database = write_store(tmp_path / "data", count=300)
    damage_middle_pages(database)
    yield Case({"DATA_DIR": str(database.parent)}, (f"{database} is damaged",))


@contextmanager
def unreadable_mongodb_url(tmp_path: Path) -> Iterator[Case]:
    yield Case(
        {"MONGODB_URL": f"mongodb://user:{SECRET}@db:port/"}, ("MONGODB_URL cannot be read",)
    )


@contextmanager
def unreachable_mongodb(tmp_path: Path, driver: str = "motor") -> Iterator[Case]:
    port = free_port()
    env = {"MONGODB_URL": f"mongodb://user:{SECRET}@127.0.0.1:{port}/", "DB_TIMEOUT_MS": "300"}
    yield Case(
        env | {"MONGODB_DRIVER": driver},
        (f"MongoDB at 127.0.0.1:{port} did not answer within 300 ms", "Connection refused"),
    )


def unreachable_mongodb_by_pymongo(tmp_path: Path) -> AbstractContextManager[Case]:
    return unreachable_mongodb(tmp_path, driver="pymongo")


CASES: dict[str, Callable[[Path], AbstractContextManager[Case]]] = {
    "read-only DATA_DIR": read_only,
    "full disk": disk_full,
    "full disk, SQLite's write": disk_full_but_for_the_lock,
    "not a database": not_a_database,
    "damaged database": damaged,
    "unreadable MONGODB_URL": unreadable_mongodb_url,
    "unreachable MongoDB": unreachable_mongodb,
    "unreachable MongoDB, PyMongo's client": unreachable_mongodb_by_pymongo,
}


# serve and export meet every case; import and demo open storage the same way (cli.main's
# _storage), so one case of each kind shows they report it the same way.
RUNS = [(command, name) for command in ("serve", "export") for name in CASES] + [
    (command, name)
    for command in ("import", "demo")
    for name in ("read-only DATA_DIR", "not a database", "unreachable MongoDB")
]


@pytest.mark.parametrize(
    ("command", "case"),
    [pytest.param(command, CASES[name], id=f"{command}: {name}") for command, name in RUNS],
)
def test_a_store_that_will_not_open_ends_the_command_in_one_line(
    tmp_path: Path, command: str, case: Callable[[Path], AbstractContextManager[Case]]
) -> None:
    lines = tmp_path / "targets.jsonl"
    lines.write_text(json.dumps(stored_document(tid(1))) + "\n")
    argv = {"serve": ["serve"], "import": ["import", str(lines)], "export": ["export"]}
    with case(tmp_path) as meeting:
        result = subprocess.run(
            [*meeting.command_prefix, sys.executable, "-m", "cli"]
            + argv.get(command, ["demo", "--count", "3"]),
            cwd=REPO_ROOT,
            env=_environment(meeting.env),
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=60,
        )
    assert result.returncode == 1, result.stderr
    assert result.stdout == ""
    [line] = result.stderr.splitlines()
    assert line.startswith(PREFIX), line
    for words in meeting.words:
        assert words in line
    assert SECRET not in line


def _refusing(
    refusing: AbstractContextManager[Refusing], words: str
) -> AbstractContextManager[Case]:
    @contextmanager
    def case() -> Iterator[Case]:
        with refusing as refused:
            # Without a mount, the full disk is a file-size limit: the line need only name it.
            expected = (words,) if not refused.command_prefix else ()
            env = {"DATA_DIR": str(refused.data_dir)}
            yield Case(env, (*expected, str(refused.data_dir)), refused.command_prefix)

    return case()


def _environment(extra: dict[str, str]) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("MONGODB_URL", "DATA_DIR")}
    return env | {"PYTHONPATH": str(REPO_ROOT), "HOST": "127.0.0.1", "PORT": "0"} | extra


def test_a_disk_that_fills_during_an_import_ends_it_without_a_traceback(tmp_path: Path) -> None:
    """Room to open the store, not to store 1,000 targets: SQLite's write is refused."""
    lines = tmp_path / "targets.jsonl"
    lines.write_text(
        "".join(json.dumps(stored_document(tid(n), data="x" * 1000)) + "\n" for n in range(1000))
    )
    with full_disk(tmp_path, size=128 * PAGE, room=32 * PAGE) as disk:
        result = subprocess.run(
            [*disk.command_prefix, sys.executable, "-m", "cli", "import", str(lines)],
            cwd=REPO_ROOT,
            env=_environment({"DATA_DIR": str(disk.data_dir)}),
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=60,
        )
    assert result.returncode == 1, result.stderr
    assert "Traceback" not in result.stderr
    last = result.stderr.splitlines()[-1]
    assert last.startswith("outdial-graphql: "), result.stderr
    assert str(disk.data_dir) in last
    if not disk.command_prefix:
        assert f"no space left on the disk holding {disk.data_dir / 'targets.sqlite3'}" in last
