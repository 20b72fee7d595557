"""The socket server's one write loop: bytes runs with writev, file regions with sendfile, and
whatever the socket does not take handed back in order, however the writes are cut."""

from __future__ import annotations

import os
import socket
import tempfile
import threading

import trio

from kafkalite.protocol.codec import FileRegion
from kafkalite.server.network import send_parts, write_now


def _parts(fd: int) -> tuple[list, bytes]:
    data = os.urandom(300_000)
    os.pwrite(fd, data, 0)
    parts = [b"head", os.urandom(200_000), memoryview(b"xy"), FileRegion(fd, 7, 250_000),
             FileRegion(fd, 0, 5), b"", b"tail" * 1000]
    expected = b"head" + parts[1] + b"xy" + data[7:250_007] + data[:5] + b"tail" * 1000
    return parts, expected


def test_write_now_hands_back_what_the_socket_did_not_take():
    a, b = socket.socketpair()
    a.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4096)
    a.setblocking(False)
    with tempfile.TemporaryFile() as f, a, b:
        parts, expected = _parts(f.fileno())
        got = bytearray()
        rounds = 0
        while parts:
            parts = write_now(a.fileno(), parts)
            rounds += 1
            b.setblocking(False)
            try:
                while True:
                    got += b.recv(1 << 20)
            except BlockingIOError:
                pass
        a.close()
        b.settimeout(5)
        while chunk := b.recv(1 << 20):
            got += chunk
        assert bytes(got) == expected
        assert rounds > 1   # the small send buffer did cut the writes


def test_send_parts_waits_for_the_socket():
    a, b = socket.socketpair()
    a.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4096)
    got = bytearray()

    def read() -> None:
        while chunk := b.recv(1 << 16):
            got.extend(chunk)

    with tempfile.TemporaryFile() as f:
        parts, expected = _parts(f.fileno())
        reader = threading.Thread(target=read)
        reader.start()

        async def main() -> None:
            sock = trio.socket.from_stdlib_socket(a)
            with sock:
                await send_parts(sock, parts)

        trio.run(main)
        reader.join(10)
        b.close()
    assert bytes(got) == expected


def test_write_now_with_nothing_to_write():
    a, b = socket.socketpair()
    with a, b:
        assert not write_now(a.fileno(), [])
        assert not write_now(a.fileno(), [b"", b""])
        b.setblocking(False)
        try:
            b.recv(10)
        except BlockingIOError:
            pass
        else:
            raise AssertionError("something was written")
