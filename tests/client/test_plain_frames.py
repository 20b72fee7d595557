"""The plaintext receive path: whole frames read from a real socket pair, resumable."""

from __future__ import annotations

import os
import struct

import pytest
import trio

from kafkalite.client.connection import _PlainFrameReader
from kafkalite.errors import ProtocolViolation


def frame(payload: bytes) -> bytes:
    return struct.pack(">i", len(payload)) + payload


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
    return _PlainFrameReader(client), server


def test_a_large_frame_sent_in_pieces_arrives_whole():
    payload = os.urandom(3 * 1024 * 1024 + 17)
    data = frame(payload)

    async def main():
        reader, peer = await pair()
        got = []

        async def read():
            got.append(await reader.read_frame())

        async with trio.open_nursery() as nursery:
            nursery.start_soon(read)
            for i in range(0, len(data), 100_003):
                await sendall(peer, data[i:i + 100_003])
                await trio.sleep(0.001)
        assert bytes(got[0]) == data

    trio.run(main)


def test_frames_read_together_are_returned_one_by_one():
    frames = [frame(b"x" * n) for n in (0, 5, 70_000, 3)]

    async def main():
        reader, peer = await pair()
        await sendall(peer, b"".join(frames))
        for f in frames:
            assert bytes(await reader.read_frame()) == f

    trio.run(main)


def test_a_cancelled_read_resumes_where_it_stopped():
    payload = os.urandom(600_000)
    data = frame(payload)

    async def main():
        reader, peer = await pair()
        await peer.send(data[:2])          # not even the size yet
        with trio.move_on_after(0.05):
            await reader.read_frame()
        await sendall(peer, data[2:100_000])   # part of the body
        with trio.move_on_after(0.05) as scope:
            await reader.read_frame()
        assert scope.cancelled_caught
        async with trio.open_nursery() as nursery:
            nursery.start_soon(sendall, peer, data[100_000:] + frame(b"next"))
            assert bytes(await reader.read_frame()) == data
        assert bytes(await reader.read_frame()) == frame(b"next")

    trio.run(main)


def test_end_of_stream_and_a_negative_size():
    async def main():
        reader, peer = await pair()
        await peer.send(frame(b"abc")[:5])
        peer.close()
        with pytest.raises(EOFError):
            await reader.read_frame()
        reader, peer = await pair()
        await peer.send(struct.pack(">i", -5))
        with pytest.raises(ProtocolViolation, match="size = -5"):
            await reader.read_frame()

    trio.run(main)
