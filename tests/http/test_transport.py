"""The real server over loopback: slow clients are cut off, oversized websocket messages too."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator

import orjson
import pytest

from server.serving.transport import LINGER_S
from tests.support.hardening import close_code, receive, send, websocket
from tests.support.live_server import LiveService, live_service

MAX_BODY_BYTES = 4096
HEADERS_TIMEOUT_S = 0.5
BODY_TIMEOUT_S = 1.0
PROTOCOLS = ["graphql-transport-ws", "graphql-ws"]


@pytest.fixture(scope="module")
def service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveService]:
    env = {
        "DATA_DIR": str(tmp_path_factory.mktemp("data")),
        "MAX_BODY_BYTES": str(MAX_BODY_BYTES),
        "REQUEST_HEADERS_TIMEOUT_MS": str(int(HEADERS_TIMEOUT_S * 1000)),
        "REQUEST_BODY_TIMEOUT_MS": str(int(BODY_TIMEOUT_S * 1000)),
    }
    with live_service(env) as running:
        yield running


async def connect(service: LiveService) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    host, port = service.url.removeprefix("http://").split(":")
    return await asyncio.open_connection(host, int(port))


async def trickle(writer: asyncio.StreamWriter, data: bytes, every_s: float = 0.1) -> None:
    """Send `data` a byte at a time until it is sent or the server hangs up."""
    for byte in data:
        writer.write(bytes([byte]))
        try:
            await writer.drain()
        except ConnectionError:
            return
        await asyncio.sleep(every_s)


async def answer_and_hang_up(reader: asyncio.StreamReader) -> tuple[bytes, float]:
    """Everything the server sends until it closes, and how long that took."""
    started = time.monotonic()
    try:
        received = await asyncio.wait_for(reader.read(), 10)
    except ConnectionResetError:
        received = b""
    return received, time.monotonic() - started


HEAD = b"POST /graphql HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\n"


# slow clients


async def test_a_connection_that_sends_nothing_is_closed(service: LiveService) -> None:
    reader, writer = await connect(service)
    received, took = await answer_and_hang_up(reader)
    writer.close()
    assert received.startswith(b"HTTP/1.1 408 ")
    assert HEADERS_TIMEOUT_S * 0.8 <= took < HEADERS_TIMEOUT_S + 2


async def test_headers_that_trickle_in_are_cut_off_at_the_deadline(service: LiveService) -> None:
    reader, writer = await connect(service)
    sending = asyncio.create_task(trickle(writer, HEAD + b"x-padding: " + b"y" * 100))
    received, took = await answer_and_hang_up(reader)
    sending.cancel()
    writer.close()
    assert received.startswith(b"HTTP/1.1 408 ")
    assert took < HEADERS_TIMEOUT_S + 2  # the trickle alone would take 15 s


async def test_a_body_that_trickles_in_gets_408_at_the_deadline(service: LiveService) -> None:
    body = b'{"query": "{ __typename }"}'
    reader, writer = await connect(service)
    writer.write(HEAD + b"content-length: %d\r\n\r\n" % len(body))
    sending = asyncio.create_task(trickle(writer, body, every_s=0.2))
    received, took = await answer_and_hang_up(reader)
    sending.cancel()
    writer.close()
    head, _, payload = received.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 408 ")
    assert orjson.loads(payload)["errors"][0]["extensions"] == {"code": "BAD_REQUEST"}
    assert BODY_TIMEOUT_S * 0.8 <= took < BODY_TIMEOUT_S + 2


async def test_prompt_requests_on_one_connection_are_served(service: LiveService) -> None:
    body = b'{"query": "{ __typename }"}'
    request = HEAD + b"content-length: %d\r\n\r\n" % len(body) + body
    reader, writer = await connect(service)
    for _ in range(2):
        await asyncio.sleep(HEADERS_TIMEOUT_S * 0.6)  # together longer than one deadline
        writer.write(request)
        head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 5)
        assert head.startswith(b"HTTP/1.1 200 ")
        length = int(head.lower().split(b"content-length: ")[1].split(b"\r\n")[0])
        assert orjson.loads(await reader.readexactly(length)) == {"data": {"__typename": "Query"}}
    writer.close()


# refusing a client that is still sending


async def read_answer(reader: asyncio.StreamReader) -> bytes:
    """One response with a content-length: its head and its body."""
    head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 10)
    length = int(head.lower().split(b"content-length: ")[1].split(b"\r\n")[0])
    return head + await reader.readexactly(length)


async def keep_sending(writer: asyncio.StreamWriter, times: int) -> None:
    for _ in range(times):
        writer.write(b"x")
        await writer.drain()
        await asyncio.sleep(0.05)


REFUSED_MID_REQUEST = {
    "headers too slow": (HEAD + b"x-padding: y", b"HTTP/1.1 408 "),
    "body too slow": (HEAD + b"content-length: 100\r\n\r\n{", b"HTTP/1.1 408 "),
    "body too large": (HEAD + b"content-length: 1000000\r\n\r\n{", b"HTTP/1.1 413 "),
}


@pytest.mark.parametrize("sent, status", REFUSED_MID_REQUEST.values(), ids=REFUSED_MID_REQUEST)
async def test_a_client_still_sending_after_a_refusal_gets_a_clean_close(
    service: LiveService, sent: bytes, status: bytes
) -> None:
    # Closing with the client's bytes unread would answer them with a reset, and a reset can
    # destroy the refusal before the client reads it.
    reader, writer = await connect(service)
    writer.write(sent)
    answer = await read_answer(reader)
    await keep_sending(writer, times=5)
    assert await asyncio.wait_for(reader.read(), 5) == b""
    writer.close()
    assert answer.startswith(status)


async def test_a_client_that_never_stops_sending_is_cut_off(service: LiveService) -> None:
    reader, writer = await connect(service)
    writer.write(HEAD + b"content-length: 1000000\r\n\r\n{")
    await read_answer(reader)
    started = time.monotonic()
    with pytest.raises(ConnectionError):
        await asyncio.wait_for(keep_sending(writer, times=1000), 10)
    writer.close()
    assert time.monotonic() - started < LINGER_S + 2


# websocket messages


def padded_init(size: int) -> str:
    """A connection_init message of exactly `size` bytes."""
    head, tail = '{"type":"connection_init","payload":{"pad":"', '"}}'
    return head + "x" * (size - len(head) - len(tail)) + tail


@pytest.mark.parametrize("protocol", PROTOCOLS)
async def test_a_message_at_the_body_limit_is_read(service: LiveService, protocol: str) -> None:
    async with websocket(service.url, protocol) as connection:
        await connection.send(padded_init(MAX_BODY_BYTES))
        assert (await receive(connection))["type"] == "connection_ack"


@pytest.mark.parametrize("protocol", PROTOCOLS)
async def test_a_message_over_the_body_limit_closes_with_1009(
    service: LiveService, protocol: str
) -> None:
    async with websocket(service.url, protocol) as connection:
        await send(connection, {"type": "connection_init", "payload": {}})
        assert (await receive(connection))["type"] == "connection_ack"
        await connection.send(padded_init(MAX_BODY_BYTES + 1))
        assert await close_code(connection) == 1009
    assert "Traceback" not in service.log()
