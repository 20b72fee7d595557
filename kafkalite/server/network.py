"""The broker's socket server: the only place where client bytes meet trio.

One trio task per connection reads frames, hands each decoded request to the dispatcher and
writes the answer before reading the next one, so requests of one connection are processed
and answered in order (Kafka mutes a channel while a request is in flight). Clients pipeline;
their next requests simply wait in the kernel buffer.

Reads go straight into a per-frame ``bytearray`` with ``recv_into``: the produce path hands
``memoryview`` slices of that buffer down to the log, which patches offsets in place and
writes the same bytes out. Response parts that are :class:`FileRegion` objects (fetched log
data) are sent with ``os.sendfile`` from the segment file, so log bytes never enter Python on
the consume path.

A peer that breaks the framing rules (oversized frame, garbage, unknown API key, unsupported
version) gets its connection closed, as Kafka does; other connections are unaffected.
"""

from __future__ import annotations

import errno
import logging
import os
import socket as stdsocket
from collections.abc import Awaitable, Callable, Sequence

import attrs
import trio

from kafkalite.errors import ProtocolViolation
from kafkalite.protocol.codec import FileRegion
from kafkalite.protocol.framing import InboundRequest, ServerConnection

__all__ = ["ConnectionInfo", "SocketServer", "Session", "ANONYMOUS"]

log = logging.getLogger(__name__)

_RECV_CHUNK = 256 * 1024


ANONYMOUS = "User:ANONYMOUS"


@attrs.define
class Session:
    """Who is on the other end of one connection: Kafka's principal (``User:ANONYMOUS`` on
    PLAINTEXT; set by SASL authentication or from a TLS client certificate), what the
    handlers authorize requests against."""

    principal: str = ANONYMOUS
    authenticated: bool = False


@attrs.frozen
class ConnectionInfo:
    listener: str
    client_host: str
    client_port: int
    session: Session = attrs.field(factory=Session, eq=False)


Handler = Callable[[ConnectionInfo, InboundRequest], Awaitable[object | None]]


async def send_parts(sock: trio.socket.SocketType, parts: Sequence[bytes | FileRegion]) -> None:
    """Write a response: bytes with send(), file regions with os.sendfile()."""
    fd = sock.fileno()
    for part in parts:
        if isinstance(part, FileRegion):
            offset, remaining = part.offset, part.size
            while remaining > 0:
                try:
                    sent = os.sendfile(fd, part.fd, offset, remaining)
                except BlockingIOError:
                    await trio.lowlevel.wait_writable(sock)
                    continue
                if sent == 0:
                    raise trio.BrokenResourceError("file region shorter than announced")
                offset += sent
                remaining -= sent
        else:
            view = memoryview(part)
            while view:
                sent = await sock.send(view)
                view = view[sent:]
    await trio.lowlevel.checkpoint_if_cancelled()


class SocketServer:
    """Listens on the configured endpoints and runs one task per connection."""

    def __init__(self, *, handler: Handler, supported: dict[int, tuple[int, int]],
                 max_frame_bytes: int):
        self._handler = handler
        self._supported = supported
        self._max_frame_bytes = max_frame_bytes
        self.bound: dict[str, tuple[str, int]] = {}
        self._listeners: list[trio.socket.SocketType] = []
        self.connections = 0

    async def bind(self, endpoints: Sequence[tuple[str, str, int]]) -> None:
        """Bind (listener name, host, port); port 0 picks a free one (see ``bound``)."""
        for name, host, port in endpoints:
            sock = trio.socket.socket(stdsocket.AF_INET6 if ":" in host else stdsocket.AF_INET)
            sock.setsockopt(stdsocket.SOL_SOCKET, stdsocket.SO_REUSEADDR, 1)
            try:
                await sock.bind((host or "0.0.0.0", port))
            except OSError as e:
                sock.close()
                raise OSError(e.errno, f"Socket server failed to bind to {host or '0.0.0.0'}:"
                                       f"{port}: {e.strerror}") from None
            sock.listen(1024)
            self._listeners.append(sock)
            self.bound[name] = (host, sock.getsockname()[1])

    async def run(self, *, task_status=trio.TASK_STATUS_IGNORED) -> None:
        async with trio.open_nursery() as nursery:
            for sock, name in zip(self._listeners, self.bound):
                nursery.start_soon(self._accept_loop, sock, name, nursery)
            task_status.started()

    async def _accept_loop(self, sock, listener: str, nursery: trio.Nursery) -> None:
        with sock:
            while True:
                try:
                    conn, addr = await sock.accept()
                except OSError as e:
                    if e.errno in (errno.EMFILE, errno.ENFILE, errno.ENOMEM, errno.ENOBUFS):
                        log.error("accept failed (%s); backing off", e)
                        await trio.sleep(0.1)
                        continue
                    raise
                conn.setsockopt(stdsocket.IPPROTO_TCP, stdsocket.TCP_NODELAY, 1)
                info = ConnectionInfo(listener, addr[0], addr[1])
                nursery.start_soon(self._serve_connection, conn, info)

    async def _serve_connection(self, sock, info: ConnectionInfo) -> None:
        self.connections += 1
        conn = ServerConnection(max_frame_bytes=self._max_frame_bytes, supported=self._supported)
        try:
            with sock:
                await self._connection_loop(sock, conn, info)
        except ProtocolViolation as e:
            log.info("closing connection from %s:%d: %s", info.client_host, info.client_port, e)
        except (trio.BrokenResourceError, trio.ClosedResourceError, ConnectionError):
            pass
        except OSError as e:
            if e.errno not in (errno.ECONNRESET, errno.EPIPE, errno.ENOTCONN):
                log.exception("I/O error on connection from %s:%d", info.client_host,
                              info.client_port)
        except Exception:
            # A bug or an unavailable dependency while serving one request: log it once with
            # its traceback and drop this connection (clients reconnect and retry); the
            # broker and its other connections keep going.
            log.exception("unexpected error serving %s:%d; closing the connection",
                          info.client_host, info.client_port)
        finally:
            self.connections -= 1

    async def _connection_loop(self, sock, conn: ServerConnection, info: ConnectionInfo) -> None:
        buf = bytearray(_RECV_CHUNK)
        view = memoryview(buf)
        while True:
            request = conn.next_request()
            if request is None:
                n = await sock.recv_into(view)
                if n == 0:
                    return
                conn.receive_data(view[:n])
                continue
            response = await self._handler(info, request)
            if response is None:  # acks=0 produce: Kafka answers nothing
                continue
            await send_parts(sock, conn.response_parts(request, response))
