"""The broker's socket server: the only place where client bytes meet trio.

One trio task per connection reads frames, hands each decoded request to the dispatcher and
writes the answer before reading the next one, so requests of one connection are processed
and answered in order (Kafka mutes a channel while a request is in flight). Clients pipeline;
their next requests simply wait in the kernel buffer. When the next request is already
buffered, the answer is held and written together with the next one (fewer system calls for
clients with several requests in flight); a held answer goes out as soon as a later request
has to wait, so it never waits for a parked request.

One exception to one-at-a-time, for acks=all: a Produce whose batches are appended and now wait
for the followers (``DeferredResponse``) lets the connection's next request be processed if it
is a Produce already received. Its batches are appended after the earlier ones, exactly as they
would have been, and the answers still go out in order; but the followers' next fetch carries
both, so a producer with requests in flight is not held to one request per replication round
trip. Any other request waits until the answers before it went out.

Per-request cost matters here (a one-record produce is mostly overhead): plaintext sockets
are read and written directly, without trio's per-call scheduler pass, and the idle timeout
is enforced by one periodic task instead of a timeout scope around every read.

Small requests are read in chunks and cut out of a stream buffer; the rest of a large one
(64 KiB or more still to come) goes straight into its own ``bytearray`` with ``recv_into``,
with ``SO_RCVLOWAT`` holding the wake-up back until a good share of it has arrived. The
produce path hands ``memoryview`` slices of that buffer down to the log, which patches
offsets in place and writes the same bytes out. Response parts that are
:class:`FileRegion` objects (fetched log data) are sent with ``os.sendfile`` from the segment
file, so log bytes never enter Python on the consume path.

A peer that breaks the framing rules (oversized frame, garbage, unknown API key, unsupported
version) gets its connection closed, as Kafka does; other connections are unaffected.

Listeners of the four security protocols: SSL and SASL_SSL connections are wrapped in a TLS
stream after the handshake (a client certificate, when required, gives the principal), so
their log data is read and encrypted instead of ``sendfile``d; SASL_PLAINTEXT and SASL_SSL
connections must authenticate first (``security/authenticator.py``: nothing but ApiVersions
and the SASL exchange is served before, and a failure closes the connection after
``connection.failed.authentication.delay.ms``). Connection limits (``max.connections``,
``max.connections.per.ip[.overrides]``) close a connection as soon as it is accepted;
``connections.max.idle.ms`` closes one that sent nothing for that long.
"""

from __future__ import annotations

import collections
import errno
import logging
import os
import socket as stdsocket
import ssl
import time
import types
from collections.abc import Awaitable, Callable, Sequence

import attrs
import trio

from kafkalite.errors import ProtocolViolation
from kafkalite.protocol.api_keys import ApiKey
from kafkalite.protocol.codec import FileRegion
from kafkalite.protocol.framing import InboundRequest, ServerConnection, raw_frame
from kafkalite.security.authenticator import AuthState, SaslAuthenticator, Step
from kafkalite.security.tls import principal_from_certificate
from kafkalite.server.dispatch import DeferredResponse
from kafkalite.server.request_log import describe_request, request_log
from kafkalite.web.broker_metrics import BrokerMetrics

__all__ = ["ConnectionInfo", "SocketServer", "Session", "ANONYMOUS", "ListenerSecurity",
           "ConnectionLimits"]

log = logging.getLogger(__name__)

_RECV_CHUNK = 256 * 1024
# A request with at least this much still to come is read straight into its own buffer, and
# the socket wakes us once min(what is missing, _LOWAT_MAX) has arrived.
_DIRECT_READ = 64 * 1024
_LOWAT_MAX = 256 * 1024
# A connection whose requests never wait for its socket yields to the other tasks (and writes
# the answers it holds) after this much work. Every yield costs a scheduler pass and a write,
# so not after every few requests: a client with many in flight is answered in larger writes.
_UNYIELDED_S = 0.001
# Produce requests of one connection appended while earlier ones wait for acks=all.
_MAX_DEFERRED = 32
_FETCH = int(ApiKey.FETCH)


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

_TLS_HANDSHAKE_TIMEOUT_S = 10
_TLS_CHUNK = 256 * 1024


@attrs.frozen
class ListenerSecurity:
    """How one listener authenticates: TLS (``ssl_context``) and/or SASL (``mechanisms`` with
    ``new_sasl_server(mechanism)``), as its security protocol says."""

    protocol: str = "PLAINTEXT"
    ssl_context: ssl.SSLContext | None = None
    mechanisms: tuple[str, ...] = ()
    new_sasl_server: Callable[[str], object] | None = None
    failed_auth_delay_s: float = 0.1

    @property
    def sasl(self) -> bool:
        return self.protocol.startswith("SASL_")


@attrs.frozen
class ConnectionLimits:
    """``max.connections``, ``max.connections.per.ip`` (+ ``.overrides``) and
    ``connections.max.idle.ms``: a connection over a limit is closed as soon as it is
    accepted, an idle one when its idle time runs out."""

    max_connections: int = 2**31 - 1
    max_per_ip: int = 2**31 - 1
    per_ip_overrides: dict[str, int] = attrs.field(factory=dict)
    idle_s: float = 600.0

    def per_ip(self, host: str) -> int:
        return self.per_ip_overrides.get(host, self.max_per_ip)


_IOV_MAX = os.sysconf("SC_IOV_MAX") if hasattr(os, "sysconf") else 1024


def write_now(fd: int, parts: Sequence[bytes | FileRegion]) -> Sequence[bytes | FileRegion]:
    """Write what the socket ``fd`` takes right away: each run of bytes parts with one
    ``writev`` (several held answers, one system call), file regions with ``sendfile``.
    Returns what is left, in order (empty when all went out, as for any small response and
    most fetches): the caller waits for the socket and calls again, or holds the rest."""
    i, count = 0, len(parts)
    while i < count:
        part = parts[i]
        if isinstance(part, FileRegion):
            offset, remaining = part.offset, part.size
            while remaining > 0:
                try:
                    sent = os.sendfile(fd, part.fd, offset, remaining)
                except BlockingIOError:
                    # attrs.evolve keeps the region's class (a PinnedRegion keeps its
                    # segment file open until sent)
                    return [attrs.evolve(part, offset=offset, size=remaining), *parts[i + 1:]]
                if sent == 0:
                    raise trio.BrokenResourceError("file region shorter than announced")
                offset += sent
                remaining -= sent
            i += 1
            continue
        end = i + 1
        while end < count and end - i < _IOV_MAX and not isinstance(parts[end], FileRegion):
            end += 1
        try:
            sent = os.write(fd, part) if end == i + 1 else os.writev(fd, parts[i:end])
        except BlockingIOError:
            sent = 0
        while i < end:
            size = len(parts[i])
            if sent < size:
                return [memoryview(parts[i])[sent:], *parts[i + 1:]]
            sent -= size
            i += 1
    return ()


async def send_parts(sock: trio.socket.SocketType, parts: Sequence[bytes | FileRegion]) -> None:
    """Write a response, waiting for the socket whenever it takes no more (:func:`write_now`
    does the writing)."""
    fd = sock.fileno()
    while parts := write_now(fd, parts):
        await trio.lowlevel.wait_writable(sock)
    await trio.lowlevel.checkpoint_if_cancelled()


async def listening_socket(host: str, port: int, *, backlog: int, what: str):
    """A bound, listening trio socket (empty host: every interface; port 0: a free one); a
    failure names ``what`` and the address, as Kafka's "failed to bind" message does."""
    sock = trio.socket.socket(stdsocket.AF_INET6 if ":" in host else stdsocket.AF_INET)
    sock.setsockopt(stdsocket.SOL_SOCKET, stdsocket.SO_REUSEADDR, 1)
    try:
        await sock.bind((host or "0.0.0.0", port))
    except OSError as e:
        sock.close()
        raise OSError(e.errno, f"{what} failed to bind to {host or '0.0.0.0'}:{port}: "
                               f"{e.strerror}") from None
    sock.listen(backlog)
    return sock


class _SocketTransport:
    """A plaintext connection: ``recv_into`` the frame buffer, ``sendfile`` for log data.

    Reads and writes call the non-blocking socket directly and wait for readiness only when
    the kernel says "would block". trio's socket methods add a scheduler pass after every
    successful call (a cancellation checkpoint); at one small request per round trip those
    passes were a large share of a request's CPU. Fairness and cancellation are kept by the
    connection loop instead: it checkpoints after a millisecond of requests that did not
    wait for the socket (``waited``), so a client that pipelines cannot starve the others.
    """

    def __init__(self, sock):
        self.sock = sock
        self.fd = sock.fileno()
        self.waited = False
        self.lowat = 1

    async def recv_into(self, view: memoryview, lowat: int = 1) -> int:
        """Read into ``view``, waiting if nothing is there. ``lowat`` > 1 (the rest of a large
        frame): the kernel wakes us only once that much has arrived (SO_RCVLOWAT), instead of
        for every segment that comes in while the client is still sending."""
        while True:
            try:
                return os.readv(self.fd, (view,))
            except BlockingIOError:
                self.waited = True
                if lowat != self.lowat:
                    self.sock.setsockopt(stdsocket.SOL_SOCKET, stdsocket.SO_RCVLOWAT, lowat)
                    self.lowat = lowat
                await trio.lowlevel.wait_readable(self.sock)

    def read_now(self, view: memoryview) -> int:
        """Read what already arrived into ``view``, without waiting: the byte count, 0 when
        the peer closed, -1 when nothing is there."""
        try:
            return os.readv(self.fd, (view,))
        except BlockingIOError:
            return -1

    def feed_now(self, conn: ServerConnection, view: memoryview) -> int:
        """Read what already arrived into ``conn``, without waiting: the byte count, 0 when
        the peer closed, -1 when nothing is there.

        The rest of a large frame goes straight into that frame's own buffer, as when we
        wait for it: a client that pipelines produce requests (acks=all keeps several in
        flight) would otherwise have every batch copied into the chunk buffer, then into the
        stream buffer and out of it again."""
        target = conn.receive_buffer(_DIRECT_READ)
        if target is not None:
            try:
                n = self.read_now(target)
            finally:
                target.release()
            if n > 0:
                conn.received(n)
            return n
        n = self.read_now(view)
        if n > 0:
            conn.receive_data(view[:n])
        return n

    def receive_now(self, conn: ServerConnection, view: memoryview) -> bool:
        """:meth:`feed_now`; False if nothing arrived (or the peer closed: the next
        :meth:`recv_into` sees that)."""
        return self.feed_now(conn, view) > 0

    def send_now(self, parts: Sequence[bytes | FileRegion]) -> Sequence[bytes | FileRegion]:
        """What the socket takes right away goes out; returns the rest (see
        :func:`write_now`): no coroutine, no scheduler pass."""
        return write_now(self.fd, parts)

    async def send(self, parts: Sequence[bytes | FileRegion]) -> None:
        parts = write_now(self.fd, parts)
        if parts:
            self.waited = True
            await send_parts(self.sock, parts)


class _TlsTransport:
    """A TLS connection: bytes go through the TLS stream, so file regions are read into
    memory in chunks and encrypted (Kafka does the same: no zero-copy through TLS)."""

    def __init__(self, stream: trio.SSLStream):
        self.stream = stream

    async def recv_into(self, view: memoryview, lowat: int = 1) -> int:
        data = await self.stream.receive_some(len(view))
        view[:len(data)] = data
        return len(data)

    async def send(self, parts: Sequence[bytes | FileRegion]) -> None:
        for part in parts:
            if isinstance(part, FileRegion):
                offset, remaining = part.offset, part.size
                while remaining > 0:
                    chunk = os.pread(part.fd, min(remaining, _TLS_CHUNK), offset)
                    if not chunk:
                        raise trio.BrokenResourceError("file region shorter than announced")
                    await self.stream.send_all(chunk)
                    offset += len(chunk)
                    remaining -= len(chunk)
            else:
                await self.stream.send_all(part)


# Answers held for one write (one writev): a client rarely has more in flight.
_MAX_HELD_PARTS = 64


@types.coroutine
def _await_holding(coro, transport: _SocketTransport, pending: list):
    """``await coro``, stepped by hand: if it finishes without blocking (most requests do)
    the held responses stay held; once it blocks they are written first, as they must not
    wait for a request that waits (acks=all, a fetch's max wait, a join)."""
    try:
        trap = coro.send(None)
    except StopIteration as done:
        return done.value
    left = transport.send_now(pending)   # what the socket does not take now stays held,
    pending[:] = left                    # in order, ahead of later answers
    while True:
        try:
            value = yield trap
        except GeneratorExit:
            coro.close()
            raise
        except BaseException as exc:  # cancellation and the like: into the handler
            try:
                trap = coro.throw(exc)
            except StopIteration as done:
                return done.value
        else:
            try:
                trap = coro.send(value)
            except StopIteration as done:
                return done.value


_READABLE = object()


async def _answer_or_readable(later: DeferredResponse, sock) -> object:
    """``later``'s response, or ``_READABLE`` as soon as the client sent more bytes (then
    ``later`` is completed again afterwards, which :class:`DeferredResponse` allows)."""
    response = _READABLE
    async with trio.open_nursery() as nursery:
        async def readable() -> None:
            await trio.lowlevel.wait_readable(sock)
            nursery.cancel_scope.cancel()

        nursery.start_soon(readable)
        response = await later.complete()
        nursery.cancel_scope.cancel()
    return response


class _IdleWatch:
    """One connection as ``_close_idle`` sees it: since when it waits for a request (None
    while it is handling one) and the scope that closes it."""

    __slots__ = ("info", "since", "scope")

    def __init__(self, info: ConnectionInfo):
        self.info = info
        self.since: float | None = None
        self.scope = trio.CancelScope()


class SocketServer:
    """Listens on the configured endpoints and runs one task per connection."""

    def __init__(self, *, handler: Handler, supported: dict[int, tuple[int, int]],
                 max_frame_bytes: int, limits: ConnectionLimits = ConnectionLimits(),
                 metrics: BrokerMetrics | None = None):
        self._handler = handler
        self._metrics = metrics or BrokerMetrics()
        self._supported = supported
        self._max_frame_bytes = max_frame_bytes
        self._limits = limits
        self.bound: dict[str, tuple[str, int]] = {}
        self._listeners: list[trio.socket.SocketType] = []
        self._security: dict[str, ListenerSecurity] = {}
        self.connections = 0
        self._per_ip: dict[str, int] = {}
        self._watches: set[_IdleWatch] = set()

    async def bind(self, endpoints: Sequence[tuple[str, str, int]],
                   security: dict[str, ListenerSecurity] | None = None) -> None:
        """Bind (listener name, host, port); port 0 picks a free one (see ``bound``).
        ``security`` maps listener names to how they authenticate (default PLAINTEXT)."""
        self._security.update(security or {})
        for name, host, port in endpoints:
            sock = await listening_socket(host, port, backlog=1024, what="Socket server")
            self._listeners.append(sock)
            self.bound[name] = (host, sock.getsockname()[1])
            log.info("Awaiting socket connections on %s:%d.", host or "0.0.0.0",
                     self.bound[name][1])

    async def run(self, *, task_status=trio.TASK_STATUS_IGNORED) -> None:
        async with trio.open_nursery() as nursery:
            for sock, name in zip(self._listeners, self.bound):
                nursery.start_soon(self._accept_loop, sock, name, nursery)
            nursery.start_soon(self._close_idle)
            task_status.started()

    async def _close_idle(self) -> None:
        """``connections.max.idle.ms``: close connections that have waited that long for a
        request. One task checks them all a few times per idle period (Kafka's selector
        also checks idle connections periodically), instead of a timeout scope around every
        socket read, which cost each request a cancel scope and a deadline."""
        idle_s = self._limits.idle_s
        period = min(max(idle_s / 10, 0.01), 1.0)
        while True:
            await trio.sleep(period)
            now = time.perf_counter()
            for watch in list(self._watches):
                if watch.since is not None and now - watch.since >= idle_s:
                    log.debug("closing connection from %s:%d: idle for %g s",
                              watch.info.client_host, watch.info.client_port, idle_s)
                    watch.scope.cancel()

    async def _accept_loop(self, sock, listener: str, nursery: trio.Nursery) -> None:
        security = self._security.get(listener, ListenerSecurity())
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
                host = addr[0]
                limits = self._limits
                if self.connections >= limits.max_connections or \
                        self._per_ip.get(host, 0) >= limits.per_ip(host):
                    log.info("closing connection from %s:%d: too many connections "
                             "(max.connections %d, max.connections.per.ip %d)", host, addr[1],
                             limits.max_connections, limits.per_ip(host))
                    conn.close()
                    continue
                conn.setsockopt(stdsocket.IPPROTO_TCP, stdsocket.TCP_NODELAY, 1)
                info = ConnectionInfo(listener, host, addr[1])
                self.connections += 1
                self._per_ip[host] = self._per_ip.get(host, 0) + 1
                nursery.start_soon(self._serve_connection, conn, info, security)

    async def _serve_connection(self, sock, info: ConnectionInfo,
                                security: ListenerSecurity) -> None:
        conn = ServerConnection(max_frame_bytes=self._max_frame_bytes, supported=self._supported)
        watch = _IdleWatch(info)
        self._watches.add(watch)
        try:
            with sock, watch.scope:
                transport = await self._open_transport(sock, info, security)
                if transport is not None:
                    await self._connection_loop(transport, conn, info, security, watch)
        except ProtocolViolation as e:
            log.warning("Unexpected error from /%s; closing connection: %s", info.client_host, e)
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
            log.exception("Unexpected error from /%s (port %d); closing connection",
                          info.client_host, info.client_port)
        finally:
            self._watches.discard(watch)
            self.connections -= 1
            left = self._per_ip.get(info.client_host, 1) - 1
            if left > 0:
                self._per_ip[info.client_host] = left
            else:
                self._per_ip.pop(info.client_host, None)

    async def _open_transport(self, sock, info: ConnectionInfo, security: ListenerSecurity):
        """The connection's transport, after the TLS handshake on SSL listeners (None: the
        handshake failed, e.g. plaintext Kafka frames or HTTP sent to a TLS port)."""
        if security.ssl_context is None:
            return _SocketTransport(sock)
        stream = trio.SSLStream(trio.SocketStream(sock), security.ssl_context, server_side=True,
                                https_compatible=True)
        try:
            with trio.fail_after(_TLS_HANDSHAKE_TIMEOUT_S):
                await stream.do_handshake()
        except (trio.BrokenResourceError, trio.TooSlowError) as e:
            log.info("TLS handshake with %s:%d failed: %s", info.client_host, info.client_port,
                     e.__cause__ or e)
            return None
        principal = principal_from_certificate(stream.getpeercert())
        if principal is not None:
            info.session.principal = principal
            info.session.authenticated = True
        return _TlsTransport(stream)

    async def _connection_loop(self, transport, conn: ServerConnection, info: ConnectionInfo,
                               security: ListenerSecurity, watch: _IdleWatch) -> None:
        buf = bytearray(_RECV_CHUNK)
        view = memoryview(buf)
        auth = SaslAuthenticator(security.mechanisms, security.new_sasl_server) \
            if security.sasl else None
        metrics = self._metrics
        record_request = metrics.record_request
        handler = self._handler
        yields = isinstance(transport, _SocketTransport)
        # Responses held back while the client's next request is already buffered, written
        # together: a client with several requests in flight gets several answers per write.
        # Not on SASL listeners (their handshake answers must not overtake held ones).
        coalesce = yields and auth is None
        pending: list = []
        # (request, DeferredResponse, timing, arrived, started) of appended acks=all produce
        # requests, oldest first; the next request when it was decoded early; a framing
        # error found then (raised once the answers before it went out).
        deferred: collections.deque = collections.deque()
        peeked = violation = None
        request_done = hung_up = False
        debug_log = request_log.isEnabledFor
        clock = time.perf_counter
        arrived = busy_since = clock()
        while True:
            if auth is not None and auth.state is AuthState.RAW:
                token = conn.next_raw_frame()
                if token is None:
                    if not await self._receive(transport, conn, view, watch):
                        return
                    continue
                step = auth.raw_token(token)
                if step.response is not None and not step.close:
                    await transport.send([raw_frame(step.response)])
                if step.close:
                    await self._close_after_failure(step, info, security)
                    return
                if auth.complete:
                    self._authenticated(info, auth)
                continue
            if deferred:
                # Produce requests waiting for acks=all: the next request is processed now
                # only if it is a Produce that is already here (appended after them, as
                # Kafka would); anything else waits until the earlier answers went out.
                if peeked is None and violation is None:
                    try:
                        peeked = conn.next_request()
                        if peeked is None and yields and transport.receive_now(conn, view):
                            peeked = conn.next_request()
                    except ProtocolViolation as e:
                        violation = e
                if peeked is not None and peeked.header.api_key == ApiKey.PRODUCE and \
                        len(deferred) < _MAX_DEFERRED:
                    request, peeked = peeked, None
                    arrived = clock()
                else:
                    request, later, timing, arrived, started = deferred[0]
                    metrics.resume_request(timing)
                    if peeked is None and violation is None and yields and not hung_up and \
                            len(deferred) < _MAX_DEFERRED and not later.ready():
                        # Nothing else is here yet: wait for the followers or for the
                        # client's next request, whichever comes first.
                        if pending:
                            await self._flush(transport, pending)
                        response = await _answer_or_readable(later, transport.sock)
                        if response is _READABLE:
                            hung_up = not transport.receive_now(conn, view)
                            continue
                    elif pending:
                        response = await _await_holding(later.complete(), transport, pending)
                    else:
                        response = await later.complete()
                    deferred.popleft()
                    request_done = True
            elif peeked is not None:
                request, peeked = peeked, None
                arrived = clock()
            else:
                try:
                    if violation is not None:
                        raise violation
                    request = conn.next_request()
                except ProtocolViolation:
                    if pending:  # answers to the requests before the bad one still go out
                        await self._flush(transport, pending)
                    raise
                if request is None:
                    if pending:
                        # Before the held answers go out, read what the client sent while
                        # they were made: more requests are answered with the same write.
                        n = transport.feed_now(conn, view)
                        if n > 0:
                            arrived = clock()
                            continue
                        await self._flush(transport, pending)
                        if n == 0:
                            return
                    if not await self._receive(transport, conn, view, watch):
                        return
                    arrived = clock()
                    continue
            if request_done:
                request_done = False
            else:
                if auth is not None and not auth.complete and \
                        request.header.api_key != ApiKey.API_VERSIONS:
                    step = self._sasl_step(auth, request)
                    if step.response is not None:
                        await transport.send(conn.response_parts(request, step.response))
                    if step.close:
                        await self._close_after_failure(step, info, security)
                        return
                    if auth.complete:
                        self._authenticated(info, auth)
                    continue
                started = clock()
                timing = metrics.start_request()
                if pending:
                    try:
                        response = await _await_holding(handler(info, request), transport,
                                                        pending)
                    except ProtocolViolation:
                        # The connection closes (a failed acks=0 produce): the answers to
                        # the requests before this one still go out first, as from Kafka.
                        if pending:
                            await self._flush(transport, pending)
                        raise
                else:
                    response = await handler(info, request)
                if type(response) is DeferredResponse:
                    deferred.append((request, response, timing, arrived, started))
                    continue
            handled = clock()
            if response is not None:  # None: acks=0 produce, Kafka answers nothing
                parts = conn.response_parts(request, response)
                if coalesce and len(pending) < _MAX_HELD_PARTS and conn.request_ready():
                    # The next request is already here: answer both with one write.
                    pending += parts
                elif yields:
                    if pending:
                        pending += parts
                        parts, pending[:] = pending[:], ()
                    parts = write_now(transport.fd, parts)
                    if parts:
                        transport.waited = True
                        await send_parts(transport.sock, parts)
                else:
                    await transport.send(parts)
            header = request.header
            key = header.api_key
            follower = key == _FETCH and request.body is not None and \
                request.body.replica_id >= 0
            sent = clock()
            record_request(key, follower, header.api_version, timing, arrived, started,
                           handled, sent)
            if debug_log(logging.DEBUG):  # kafka-request.log, off by default
                request_log.debug("Completed request:%s", describe_request(
                    info, header, security_protocol=security.protocol, arrived=arrived,
                    started=started, handled=handled, sent=sent))
            if yields:
                # Requests served without waiting for the socket (pipelined ones already in
                # the buffer, responses the socket took at once) never yield: after a while
                # of them, let other tasks run.
                if transport.waited:
                    transport.waited = False
                    busy_since = sent
                elif sent - busy_since >= _UNYIELDED_S:
                    if pending:
                        await self._flush(transport, pending)
                    await trio.lowlevel.checkpoint()
                    busy_since = clock()

    @staticmethod
    async def _flush(transport: _SocketTransport, pending: list) -> None:
        """Write the held responses (and wait for the socket if it cannot take them)."""
        parts = transport.send_now(pending)
        pending.clear()
        if parts:
            transport.waited = True
            await send_parts(transport.sock, parts)

    @staticmethod
    async def _receive(transport, conn: ServerConnection, view: memoryview,
                       watch: _IdleWatch) -> bool:
        """Read what arrived into ``conn``; False when the peer closed or stayed idle longer
        than ``connections.max.idle.ms`` (``_close_idle`` cancels ``watch.scope`` then)."""
        watch.since = time.perf_counter()
        target = conn.receive_buffer(_DIRECT_READ)
        if target is not None:   # the rest of a large request, read in place
            try:
                n = await transport.recv_into(target, min(len(target), _LOWAT_MAX))
            finally:
                target.release()
        else:
            n = await transport.recv_into(view)
        watch.since = None
        if n == 0 or watch.scope.cancel_called:   # closed, or data just as idleness struck
            return False
        if target is not None:
            conn.received(n)
        else:
            conn.receive_data(view[:n])
        return True

    @staticmethod
    def _sasl_step(auth: SaslAuthenticator, request: InboundRequest) -> Step:
        key = request.header.api_key
        if key == ApiKey.SASL_HANDSHAKE:
            return auth.handshake(request.header.api_version, request.body.mechanism)
        if key == ApiKey.SASL_AUTHENTICATE:
            return auth.authenticate(request.body.auth_bytes)
        return auth.unexpected(ApiKey(key).name)

    @staticmethod
    def _authenticated(info: ConnectionInfo, auth: SaslAuthenticator) -> None:
        info.session.principal = auth.principal
        info.session.authenticated = True

    @staticmethod
    async def _close_after_failure(step: Step, info: ConnectionInfo,
                                   security: ListenerSecurity) -> None:
        if step.failed:
            # connection.failed.authentication.delay.ms: slows down password guessing
            log.info("Failed authentication with /%s (SASL authentication failed)",
                     info.client_host)
            await trio.sleep(security.failed_auth_delay_s)
        else:
            log.info("closing connection from %s:%d: illegal SASL state", info.client_host,
                     info.client_port)
