"""A data directory shared by many processes: start-up one at a time, network filesystems
refused, a program holding it alone still respected."""

from __future__ import annotations

import asyncio
import logging
import sqlite3
from contextlib import AsyncExitStack
from pathlib import Path

import httpx
import orjson
import pytest

from domain.listing import OutdialTargets
from server.app import create_app
from server.settings import Settings
from storage.datadir import (
    START_LOCK_FILE_NAME,
    DataDirInUse,
    DataDirLock,
    NetworkDataDir,
    filesystem_of,
    refuse_network_filesystem,
)
from storage.sqlite import changelog
from storage.sqlite.database import FILE_NAME
from storage.sqlite.migration import PREVIOUS_FILE_NAME
from storage.sqlite.storage import open_sqlite
from tests.support import operations as ops
from tests.support.api import GraphQLClient
from tests.support.documents import stored_document, tid

OUTDIAL = "40bea034-1d17-474d-a5de-da00d0861c69"
MOUNTS = """\
/dev/sda1 / ext4 rw,relatime 0 0
tmpfs /tmp tmpfs rw 0 0
server:/export /srv/shared nfs4 rw,vers=4.2 0 0
//nas/share /mnt/my\\040share cifs rw 0 0
"""


def previous_store(data_dir: Path, count: int) -> None:
    """What version 1 left: mongoeco's documents table in outdial.sqlite3."""
    data_dir.mkdir(parents=True, exist_ok=True)
    connection = sqlite3.connect(data_dir / PREVIOUS_FILE_NAME)
    with connection:
        connection.execute("CREATE TABLE documents (coll_name TEXT, document TEXT)")
        connection.executemany(
            "INSERT INTO documents VALUES ('outdialtargets', ?)",
            [
                (orjson.dumps(stored_document(tid(n), outdial_id=OUTDIAL)).decode(),)
                for n in range(count)
            ],
        )
    connection.close()


async def test_two_processes_starting_at_once_bring_the_previous_store_over_once(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    previous_store(tmp_path, 3)
    started = asyncio.Event()

    async def start() -> int:
        async with open_sqlite(tmp_path) as store:
            started.set()
            await asyncio.sleep(0)
            return await store.repository.total(scope=OutdialTargets(OUTDIAL, None))

    with caplog.at_level(logging.WARNING, "outdial.storage"):
        totals = await asyncio.gather(start(), start())
    assert totals == [3, 3]
    brought = [r for r in caplog.records if "brought 3 target(s) over" in r.getMessage()]
    assert len(brought) == 1
    assert (tmp_path / f"{PREVIOUS_FILE_NAME}.migrated").exists()
    async with open_sqlite(tmp_path) as store:
        assert changelog.head(store.database.reader) == 1, "the creates were logged once"


async def test_start_up_waits_while_another_process_is_starting(tmp_path: Path) -> None:
    previous_store(tmp_path, 2)
    starting = DataDirLock(tmp_path, name=START_LOCK_FILE_NAME)
    starting.acquire()
    async with AsyncExitStack() as stack:
        try:
            opening = asyncio.create_task(stack.enter_async_context(open_sqlite(tmp_path)))
            for _ in range(50):
                await asyncio.sleep(0.001)
            assert not opening.done()
            assert (tmp_path / PREVIOUS_FILE_NAME).exists(), "nothing brought over meanwhile"
        finally:
            starting.release()
        store = await asyncio.wait_for(opening, 10)
        assert await store.repository.total(scope=OutdialTargets(OUTDIAL, None)) == 2


async def test_a_program_holding_the_data_dir_alone_is_still_respected(tmp_path: Path) -> None:
    alone = DataDirLock(tmp_path)
    alone.acquire()
    try:
        with pytest.raises(DataDirInUse, match="already in use"):
            async with open_sqlite(tmp_path):
                pass
    finally:
        alone.release()
    async with open_sqlite(tmp_path), open_sqlite(tmp_path):
        with pytest.raises(DataDirInUse):
            alone.acquire()


def test_the_filesystem_of_a_path_is_that_of_its_deepest_mount() -> None:
    assert filesystem_of(Path("/srv/shared/outdial/data"), MOUNTS) == "nfs4"
    assert filesystem_of(Path("/srv/sharedother"), MOUNTS) == "ext4"
    assert filesystem_of(Path("/tmp/x"), MOUNTS) == "tmpfs"
    assert filesystem_of(Path("/mnt/my share/data"), MOUNTS) == "cifs"


def test_a_data_dir_on_a_network_filesystem_is_refused_in_one_line(tmp_path: Path) -> None:
    mounts = tmp_path / "mounts"
    mounts.write_text(MOUNTS)
    with pytest.raises(NetworkDataDir) as refused:
        refuse_network_filesystem(Path("/srv/shared/data"), mounts)
    message = str(refused.value)
    assert "\n" not in message
    assert message.startswith("data directory /srv/shared/data is on a network filesystem (nfs4)")
    assert "local disk" in message
    refuse_network_filesystem(tmp_path, mounts)  # /tmp: local


async def test_a_write_held_up_by_another_process_answers_service_unavailable_reads_go_on(
    tmp_path: Path,
) -> None:
    app = create_app(Settings(data_dir=tmp_path, db_timeout_ms=300))
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as http,
    ):
        gql = GraphQLClient(http)
        created = await gql.data(ops.CREATE, input=ops.new_input(OUTDIAL))
        target_id = created["createOutdialtarget"]["id"]
        other = sqlite3.connect(tmp_path / FILE_NAME, isolation_level=None)
        try:
            other.execute("BEGIN IMMEDIATE")
            refused = await gql.error(ops.MARK, id=target_id, slot=0)
            assert refused["extensions"]["code"] == "SERVICE_UNAVAILABLE"
            assert "locked by another process" in refused["message"]
            assert (await gql.data(ops.GET, id=target_id))["outdialtarget"]["status"] == "IDLE"
            other.execute("ROLLBACK")
        finally:
            other.close()
        marked = await gql.data(ops.MARK, id=target_id, slot=0)
    assert marked["markOutdialtargetProgressing"]["tryCount0"] == 1, "nothing written before"
