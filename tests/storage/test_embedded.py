"""The embedded MongoDB-compatible server, exercised with a real driver over the socket."""

from __future__ import annotations

import asyncio
from contextlib import AsyncExitStack
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from tests.support.mongoeco_server import DataDirInUse, EmbeddedMongo
from tests.support.wire import WireServerFailed, mongo_client, wire_server_process

TIMEOUT_S = 10.0

STORED_TARGET = {
    "_id": "target-1",
    "name": "Zoë Ålvarez 電話 ☎",
    "tm_create": "2024-03-05 07:08:09.012345",
    "tm_update": "2024-03-05 07:08:09.012345",
    "detail": "d" * 65_535,
    "data": "€" * 65_535,
}


def _port(uri: str) -> int:
    port = urlsplit(uri).port
    assert port is not None
    return port


@pytest.mark.asyncio
async def test_documents_survive_a_restart_on_the_same_data_dir(tmp_path: Path) -> None:
    async with EmbeddedMongo(tmp_path) as uri, mongo_client(uri) as client:
        await client.outdial.targets.insert_one(dict(STORED_TARGET))

    async with EmbeddedMongo(tmp_path) as uri, mongo_client(uri) as client:
        stored = await client.outdial.targets.find_one({"_id": "target-1"})

    assert stored == STORED_TARGET


@pytest.mark.asyncio
async def test_second_server_on_a_busy_data_dir_is_refused(tmp_path: Path) -> None:
    async with EmbeddedMongo(tmp_path) as uri, mongo_client(uri) as client:
        await client.outdial.targets.insert_one({"_id": "kept"})
        with pytest.raises(DataDirInUse) as refused:
            async with EmbeddedMongo(tmp_path):
                pass
        assert await client.outdial.targets.count_documents({}) == 1

    assert str(tmp_path) in str(refused.value)
    assert "DATA_DIR" in str(refused.value)
    async with EmbeddedMongo(tmp_path) as uri, mongo_client(uri) as client:
        assert await client.outdial.targets.find_one({}) == {"_id": "kept"}


@pytest.mark.asyncio
async def test_data_dir_lock_is_refused_across_processes(tmp_path: Path) -> None:
    async with wire_server_process(tmp_path) as uri:
        with pytest.raises(DataDirInUse) as refused:
            async with EmbeddedMongo(tmp_path):
                pass
        async with mongo_client(uri) as client:
            await client.outdial.targets.insert_one({"_id": "from-child"})

    assert str(tmp_path) in str(refused.value)
    assert refused.value.pid is not None and refused.value.pid > 0
    async with EmbeddedMongo(tmp_path) as uri, mongo_client(uri) as client:
        assert await client.outdial.targets.find_one({}) == {"_id": "from-child"}


@pytest.mark.asyncio
async def test_server_process_on_a_busy_data_dir_exits_with_the_reason(tmp_path: Path) -> None:
    async with EmbeddedMongo(tmp_path):
        with pytest.raises(WireServerFailed) as failed:
            async with wire_server_process(tmp_path):
                pass

    assert "exit 1" in str(failed.value)
    assert f"data directory {tmp_path} is already in use" in str(failed.value)


@pytest.mark.asyncio
async def test_failed_start_releases_the_data_dir(tmp_path: Path) -> None:
    async with EmbeddedMongo(None) as uri:
        with pytest.raises(OSError):
            async with EmbeddedMongo(tmp_path, port=_port(uri)):
                pass

    async with EmbeddedMongo(tmp_path) as uri, mongo_client(uri) as client:
        assert (await client.admin.command("ping"))["ok"] == 1


@pytest.mark.asyncio
async def test_memory_mode_keeps_nothing_on_disk_or_between_runs(tmp_path: Path) -> None:
    async with EmbeddedMongo(None) as uri, mongo_client(uri) as client:
        await client.outdial.targets.insert_one({"_id": "ephemeral", "name": "x"})
        assert await client.outdial.targets.find_one({"_id": "ephemeral"}) == {
            "_id": "ephemeral",
            "name": "x",
        }

    async with EmbeddedMongo(None) as uri, mongo_client(uri) as client:
        assert await client.outdial.targets.count_documents({}) == 0


@pytest.mark.asyncio
@pytest.mark.parametrize("on_disk", [False, True], ids=["memory", "sqlite"])
async def test_find_one_and_update_is_a_compare_and_set(tmp_path: Path, on_disk: bool) -> None:
    callers = 30
    async with (
        EmbeddedMongo(tmp_path if on_disk else None) as uri,
        mongo_client(uri, maxPoolSize=callers) as client,
    ):
        targets = client.outdial.targets
        await targets.insert_one({"_id": "t", "status": "ready", "owner": None})

        async def claim(caller: int) -> object:
            return await targets.find_one_and_update(
                {"_id": "t", "status": "ready"},
                {"$set": {"status": "dialing", "owner": caller}},
            )

        results = await asyncio.wait_for(
            asyncio.gather(*(claim(caller) for caller in range(callers))), TIMEOUT_S
        )
        final = await targets.find_one({"_id": "t"})

    winners = [caller for caller, result in enumerate(results) if result is not None]
    assert len(winners) == 1
    assert results[winners[0]] == {"_id": "t", "status": "ready", "owner": None}
    assert final == {"_id": "t", "status": "dialing", "owner": winners[0]}


@pytest.mark.asyncio
async def test_shutdown_closes_the_port_and_releases_the_lock(tmp_path: Path) -> None:
    async with AsyncExitStack() as stack:
        server = EmbeddedMongo(tmp_path)
        uri = await server.__aenter__()
        stack.push_async_exit(server)
        client = await stack.enter_async_context(mongo_client(uri))
        assert (await client.admin.command("ping"))["ok"] == 1

        # The client still holds an open connection: it must not keep the server up.
        await server.__aexit__(None, None, None)

        with pytest.raises(ConnectionRefusedError):
            await asyncio.wait_for(asyncio.open_connection("127.0.0.1", _port(uri)), TIMEOUT_S)
        assert (tmp_path / "outdial.lock").read_text() == ""


@pytest.mark.asyncio
async def test_server_process_serves_and_persists_across_restarts(tmp_path: Path) -> None:
    async with wire_server_process(tmp_path) as uri, mongo_client(uri) as client:
        await client.outdial.targets.insert_one(dict(STORED_TARGET))
        port = _port(uri)

    with pytest.raises(ConnectionRefusedError):
        await asyncio.wait_for(asyncio.open_connection("127.0.0.1", port), 5)
    async with wire_server_process(tmp_path) as uri, mongo_client(uri) as client:
        assert await client.outdial.targets.find_one({"_id": "target-1"}) == STORED_TARGET


def test_only_loopback_is_accepted() -> None:
    with pytest.raises(ValueError, match="loopback"):
        EmbeddedMongo(None, host="0.0.0.0")
