"""The plaintext receive path: responses read from a real loopback TCP connection, large
ones in place, a cancelled read resumed where it stopped."""

from __future__ import annotations

import os

import pytest
import trio

from kafkalite.client.connection import _PlainSocket
from kafkalite.errors import ProtocolViolation
from kafkalite.protocol.api_keys import ApiKey
from kafkalite.protocol.framing import ClientConnection, ServerConnection
from kafkalite.protocol.messages.fetch import (
    FetchableTopicResponse, FetchRequest, FetchResponse, PartitionData)

SUPPORTED = {ApiKey.FETCH: (4, 12)}


def exchange(client: ClientConnection, records: bytes) -> tuple[int, bytes, FetchResponse]:
    """(correlation id, response frame, response) of a Fetch answered with ``records``."""
    server = ServerConnection(max_frame_bytes=1 << 20, supported=SUPPORTED)
    corr, frame = client.send_request(FetchRequest(
        replica_id=1, max_wait_ms=0, min_bytes=1, topics=[]), 11)
    server.receive_data(frame)
    request = server.next_request()
    response = FetchResponse(responses=[FetchableTopicResponse(topic="t", partitions=[
        PartitionData(partition_index=0, high_watermark=5, records=records)])])
    data = b"".join(bytes(p) for p in server.response_parts(request, response))
    return corr, data, response


def records_of(resp) -> bytes:
    return bytes(resp.responses[0].partitions[0].records)


async def sendall(sock, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[await sock.send(view):]


async def pair():
    """A loopback TCP connection (SO_RCVLOWAT is a TCP matter): our reader, the peer."""
    listener = trio.socket.socket()
    await listener.bind(("127.0.0.1", 0))
    listener.listen(1)
    client = trio.socket.socket()
    await client.connect(listener.getsockname())
    server, _ = await listener.accept()
    listener.close()
    return _PlainSocket(client), server


async def receive_all(reader: _PlainSocket, client: ClientConnection, count: int) -> list:
    got: list = []
    while len(got) < count:
        got += await reader.receive(client)
    return got


def test_a_large_response_sent_in_pieces_arrives_whole():
    client = ClientConnection(client_id="t")
    records = os.urandom(3 * 1024 * 1024 + 17)
    corr, data, _ = exchange(client, records)

    async def main():
        reader, peer = await pair()
        got = []

        async def read():
            got.extend(await receive_all(reader, client, 1))

        async with trio.open_nursery() as nursery:
            nursery.start_soon(read)
            for i in range(0, len(data), 100_003):
                await sendall(peer, data[i:i + 100_003])
                await trio.sleep(0.001)
        [(c, resp)] = got
        assert c == corr and records_of(resp) == records

    trio.run(main)


def test_small_and_large_responses_read_together_come_out_in_order():
    client = ClientConnection(client_id="t")
    sent = [exchange(client, os.urandom(n)) for n in (0, 5, 170_000, 3, 90_000)]

    async def main():
        reader, peer = await pair()
        async with trio.open_nursery() as nursery:
            nursery.start_soon(sendall, peer, b"".join(d for _, d, _ in sent))
            got = await receive_all(reader, client, len(sent))
        assert [c for c, _ in got] == [c for c, _, _ in sent]
        assert [records_of(r) for _, r in got] == [records_of(r) for _, _, r in sent]

    trio.run(main)


def test_a_cancelled_read_resumes_where_it_stopped():
    client = ClientConnection(client_id="t")
    records = os.urandom(600_000)
    corr, data, _ = exchange(client, records)
    corr2, data2, _ = exchange(client, b"next")

    async def main():
        reader, peer = await pair()
        await sendall(peer, data[:2])           # not even the size yet
        with trio.move_on_after(0.05):
            await receive_all(reader, client, 1)
        await sendall(peer, data[2:100_000])    # part of the body
        with trio.move_on_after(0.05) as scope:
            await receive_all(reader, client, 1)
        assert scope.cancelled_caught
        async with trio.open_nursery() as nursery:
            nursery.start_soon(sendall, peer, data[100_000:] + data2)
            got = await receive_all(reader, client, 2)
        assert [c for c, _ in got] == [corr, corr2]
        assert records_of(got[0][1]) == records and records_of(got[1][1]) == b"next"

    trio.run(main)


def test_end_of_stream_and_a_negative_size():
    async def main():
        client = ClientConnection(client_id="t")
        reader, peer = await pair()
        await sendall(peer, b"\x00\x00\x00\x09abcde")
        peer.close()
        with pytest.raises(EOFError):
            await receive_all(reader, client, 1)
        reader, peer = await pair()
        await sendall(peer, (-5).to_bytes(4, "big", signed=True))
        with pytest.raises(ProtocolViolation, match="size = -5"):
            await receive_all(reader, ClientConnection(client_id="t"), 1)

    trio.run(main)
