"""A store that will not open raises CannotOpenStorage, naming the file and what to do, and
leaves what it found as it was."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

import pytest

from domain.listing import OutdialTargets
from server.settings import Settings
from storage.backend import MONGO_DRIVERS, MongoDriver, open_storage
from storage.errors import CannotOpenStorage
from storage.sqlite.migration import PREVIOUS_FILE_NAME
from tests.support.api import OUTDIAL
from tests.support.filesystems import damage_middle_pages, read_only_dir, write_store
from tests.support.live_server import free_port

SECRET = "s3cret-password"


def refused(settings: Settings) -> str:
    async def open_it() -> None:
        async with open_storage(settings):
            pass

    with pytest.raises(CannotOpenStorage) as error:
        asyncio.run(open_it())
    message = str(error.value)
    assert "\n" not in message
    return message


def test_a_read_only_data_directory_is_named(tmp_path: Path) -> None:
    with read_only_dir(tmp_path) as read_only:
        with pytest.raises(OSError):  # the mechanism holds, for root too
            (read_only.data_dir / "probe").mkdir(parents=True)
        message = refused(Settings(data_dir=read_only.data_dir))
    assert message.startswith(f"cannot write to {read_only.data_dir}"), read_only.how
    assert "set DATA_DIR to a directory it may write" in message


def test_a_file_that_is_not_a_database_is_named_and_left_as_it_was(tmp_path: Path) -> None:
    database = tmp_path / "targets.sqlite3"
    garbage = b"these are not the targets you are looking for\n" * 200
    database.write_bytes(garbage)
    message = refused(Settings(data_dir=tmp_path))
    assert message.startswith(f"{database} is not an SQLite database; move it out of {tmp_path}")
    assert database.read_bytes() == garbage


def test_a_damaged_database_is_named_and_left_as_it_was(tmp_path: Path) -> None:
    database = write_store(tmp_path, count=300)
    damage_middle_pages(database)
    damaged = database.read_bytes()
    message = refused(Settings(data_dir=tmp_path))
    assert message.startswith(f"{database} is damaged (")
    assert "put a backup in its place, or move it away" in message
    assert database.read_bytes() == damaged


def test_an_intact_database_opens_after_the_check(tmp_path: Path) -> None:
    write_store(tmp_path, count=300)

    async def count() -> int:
        async with open_storage(Settings(data_dir=tmp_path)) as storage:
            return await storage.repository.total(scope=OutdialTargets(OUTDIAL, None))

    assert asyncio.run(count()) == 300


def test_the_file_is_checked_by_the_first_process_to_start_and_again_once_all_stopped(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """A worker started beside running ones (WORKERS, a restart after a crash, `export`) does
    not read the whole file again: those checked it when they started."""
    database = write_store(tmp_path, count=300)
    settings = Settings(data_dir=tmp_path)

    async def start_beside_a_running_process() -> None:
        async with open_storage(settings):
            damage_middle_pages(database)  # as if it happened after the first check
            async with open_storage(settings):
                pass

    with caplog.at_level(logging.INFO, logger="outdial.storage"):
        asyncio.run(start_beside_a_running_process())
    assert [r.getMessage().rsplit(" (", 1)[1] for r in caplog.records if "store in" in r.msg] == [
        "checked)",
        "checked by the processes already using it)",
    ]
    assert refused(settings).startswith(f"{database} is damaged (")


def test_a_previous_store_that_is_not_a_database_is_named(tmp_path: Path) -> None:
    previous = tmp_path / PREVIOUS_FILE_NAME
    previous.write_bytes(b"\x00garbage" * 1000)
    message = refused(Settings(data_dir=tmp_path))
    assert message.startswith(f"{previous} is not an SQLite database")


@pytest.mark.parametrize("driver", MONGO_DRIVERS)
@pytest.mark.parametrize(
    "url",
    [f"mongodb://user:{SECRET}@db:notaport/", "http://db:27017/", "mongodb://db:99999999/"],
)
def test_a_mongodb_url_that_cannot_be_read_says_how_to_write_it(
    url: str, driver: MongoDriver
) -> None:
    message = refused(Settings(mongodb_url=url, mongodb_driver=driver))
    assert message.startswith("MONGODB_URL cannot be read (")
    assert "write it as mongodb://HOST:PORT/" in message
    assert SECRET not in message


@pytest.mark.parametrize("driver", MONGO_DRIVERS)
def test_a_mongodb_that_does_not_answer_is_named_without_its_password(
    driver: MongoDriver,
) -> None:
    port = free_port()
    url = f"mongodb://user:{SECRET}@127.0.0.1:{port}/?authSource=admin"
    message = refused(Settings(mongodb_url=url, db_timeout_ms=300, mongodb_driver=driver))
    assert message.startswith(f"MongoDB at 127.0.0.1:{port} did not answer within 300 ms (")
    assert f"(127.0.0.1:{port}: [Errno 111] Connection refused)" in message, "as either driver says"
    assert SECRET not in message
