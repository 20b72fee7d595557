"""One TCP connection to one broker: version negotiation and pipelined request/response.

Theory of operation
-------------------
The sans-IO ``protocol.framing.ClientConnection`` frames requests and decodes responses; this
module is its trio shell (h11's wrapper shape, style rule 1).

Pipelining without a background task. Kafka brokers answer the requests of one connection in
order, and a client may have many in flight. Instead of a reader task (which would need a
nursery owned by someone, style rule 6), waiting tasks take turns reading:

* sending happens under ``_send_lock``: frame, remember a slot for the correlation id, write;
* a task waiting for its answer takes ``_receive_lock`` (trio locks are FIFO), reads one chunk,
  and hands every completed response to its slot — its own or another task's — then releases the
  lock and checks its slot again.

So one task may be sending while another waits, any number may wait, and nobody reads unless
somebody is waiting. A task cancelled while waiting drops its slot; its response, when it
arrives, is decoded and discarded. A task cancelled *while writing* may have left half a frame
on the wire, so the connection is closed (the broker would otherwise wait for the rest).

Once broken (EOF, socket error, undecodable bytes, cancelled write) the connection stays broken:
every call raises :class:`~kafkalite.client.errors.ConnectionFailed` and the owner (``Cluster``)
opens a new one.

Version negotiation (wire-protocol.md §1, §7): ApiVersions v3 first; a broker that does not
speak v3 answers error 35 with a v0 body listing its ApiVersions range (KIP-511), and we retry
with ``min(3 - 1, broker max)`` as librdkafka and the Java client do. Each later request uses the
highest version both sides support (:meth:`BrokerConnection.pick_version`).
"""

from __future__ import annotations

import math
import os
import socket
import ssl
from collections.abc import Callable
from typing import Any

import attrs
import trio

from kafkalite import __version__
from kafkalite.errors import ProtocolViolation, UnsupportedVersion
from kafkalite.protocol.api_keys import ApiKey
from kafkalite.protocol.framing import ClientConnection
from kafkalite.protocol.messages.api_versions import ApiVersionsRequest
from kafkalite.client.errors import ConnectionFailed, raise_for_code

__all__ = ["BrokerConnection", "ClientSecurity", "CLIENT_VERSIONS"]

#: Versions this client can send, per API: (min, max). The minimum is what the client's code
#: needs (record batch v2 needs Produce 3 / Fetch 4, offsets by timestamp ListOffsets 1, the
#: controller id Metadata 1); the maximum is what it has been written against. APIs not listed
#: use their schema's full range.
CLIENT_VERSIONS: dict[int, tuple[int, int]] = {
    ApiKey.PRODUCE: (3, 9),
    ApiKey.FETCH: (4, 12),
    ApiKey.LIST_OFFSETS: (1, 7),
    ApiKey.METADATA: (1, 9),
    ApiKey.API_VERSIONS: (0, 3),
    ApiKey.CREATE_TOPICS: (0, 5),
    ApiKey.DELETE_TOPICS: (0, 5),
    ApiKey.INIT_PRODUCER_ID: (0, 4),
}

_API_VERSIONS_FIRST = 3
_UNSUPPORTED_VERSION = UnsupportedVersion.code
_RECEIVE_CHUNK = 256 * 1024
_MISSING = object()
# A response with at least this much still to come is read straight into its own buffer,
# and the socket wakes us once min(what is missing, _LOWAT_MAX) has arrived.
_DIRECT_READ = 64 * 1024
_LOWAT_MAX = 256 * 1024


class _PlainSocket:
    """Reads responses from a plaintext socket without trio's stream layer.

    A replica fetcher's answers are hundreds of kilobytes. Read in chunks through
    ``receive_some`` they cost a scheduler pass and an epoll wake-up for every chunk that
    happened to be there (often one 64 KiB segment on loopback), and a stream buffer that is
    copied as it grows and again when the frame is cut out of it. Here, once a large frame's
    size is known, the rest of it is read with ``readv`` straight into its own buffer
    (``receive_buffer``), and while we wait ``SO_RCVLOWAT`` holds the wake-up back until a good
    share of it has arrived (the kernel still wakes us at end of stream or on an error). The
    reading state lives in the sans-IO ``ClientConnection``: a reader cancelled while it waits
    resumes where it stopped.
    """

    def __init__(self, sock):
        self.sock = sock
        self.fd = sock.fileno()
        self._lowat = 1

    async def receive(self, protocol: ClientConnection) -> list[tuple[int, Any]]:
        """Read once (waiting if nothing is there); the responses now complete.

        Raises:
            EOFError: the broker closed the connection.
            OSError, ProtocolViolation.
        """
        target = protocol.receive_buffer(_DIRECT_READ)
        if target is None:
            data = await self._read(None, _RECEIVE_CHUNK, 1)
            return protocol.receive_data(data)
        try:
            n = await self._read(target, len(target), min(len(target), _LOWAT_MAX))
        finally:
            target.release()
        return protocol.received(n)

    async def _read(self, into: memoryview | None, limit: int, lowat: int):
        while True:
            try:
                got = os.readv(self.fd, (into,)) if into is not None else os.read(self.fd, limit)
            except BlockingIOError:
                if lowat != self._lowat:
                    self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVLOWAT, lowat)
                    self._lowat = lowat
                await trio.lowlevel.wait_readable(self.sock)
                continue
            if not got:
                raise EOFError
            return got


@attrs.frozen
class ClientSecurity:
    """How to reach a secured listener: ``ssl_context`` for SSL/SASL_SSL (the host name is
    checked when the context says so), and for SASL_* the mechanism plus a factory of client
    mechanisms (``evaluate(challenge) -> response``, ``complete``; the first call gets b"")."""

    ssl_context: ssl.SSLContext | None = None
    sasl_mechanism: str | None = None
    new_sasl_client: Callable[[], Any] | None = None


class _Slot:
    """Where the reading task puts one correlation id's response."""

    __slots__ = ("response",)

    def __init__(self) -> None:
        self.response: Any = _MISSING


class BrokerConnection:
    """A negotiated connection to one broker. Open with :meth:`open`, close with :meth:`aclose`.

    Attributes:
        host, port: the address connected to.
        node_id: the broker id when known (None for bootstrap connections).
        api_versions: api key -> (min, max) the broker advertised.
    """

    def __init__(self, stream: trio.abc.Stream, *, host: str, port: int,
                 client_id: str | None = "kafkalite", node_id: int | None = None):
        self.host = host
        self.port = port
        self.node_id = node_id
        self.api_versions: dict[int, tuple[int, int]] = {}
        self._stream = stream
        self._protocol = ClientConnection(client_id=client_id)
        self._plain = (_PlainSocket(stream.socket)
                       if isinstance(stream, trio.SocketStream) else None)
        self._send_lock = trio.Lock()
        self._receive_lock = trio.Lock()
        self._slots: dict[int, _Slot] = {}
        self._error: ConnectionFailed | None = None

    @classmethod
    async def open(cls, host: str, port: int, *, client_id: str | None = "kafkalite",
                   timeout: float = 10.0, node_id: int | None = None,
                   security: ClientSecurity | None = None) -> BrokerConnection:
        """Connect (TCP_NODELAY, set by trio's SocketStream) and negotiate API versions.

        Args:
            host, port: the broker's address.
            client_id: sent in every request header.
            timeout: seconds allowed for connecting plus the ApiVersions exchange.
            node_id: the broker id, when known from metadata.
            security: TLS and/or SASL for a secured listener (None: PLAINTEXT).

        Raises:
            ConnectionFailed: "could not connect to host:port: <reason>" — refused, unresolvable,
                timed out, or the peer is not a Kafka broker.
            UnsupportedVersion: the broker speaks no ApiVersions version we know.
        """
        where = f"{host}:{port}"
        connection = None
        try:
            with trio.fail_after(timeout if timeout is not None else math.inf):
                try:
                    stream = await trio.open_tcp_stream(host, port)
                except OSError as exc:
                    raise ConnectionFailed(f"could not connect to {where}: {_connect_reason(exc)}",
                                           host=host, port=port) from exc
                if security is not None and security.ssl_context is not None:
                    stream = trio.SSLStream(stream, security.ssl_context,
                                            server_hostname=host, https_compatible=True)
                    try:
                        await stream.do_handshake()
                    except trio.BrokenResourceError as exc:
                        raise ConnectionFailed(
                            f"could not connect to {where}: TLS handshake failed: "
                            f"{exc.__cause__ or exc}", host=host, port=port) from exc
                connection = cls(stream, host=host, port=port, client_id=client_id,
                                 node_id=node_id)
                await connection._negotiate()
                if security is not None and security.sasl_mechanism is not None:
                    await connection._authenticate(security)
        except trio.TooSlowError:
            if connection is not None:
                await connection.aclose()
            raise ConnectionFailed(f"could not connect to {where}: timed out after {timeout:g} s",
                                   host=host, port=port) from None
        except ConnectionFailed as exc:
            if connection is not None:
                await connection.aclose()
            if not exc.message.startswith("could not connect"):
                raise ConnectionFailed(f"could not connect to {where}: {exc.message}",
                                       host=host, port=port) from exc
            raise
        except BaseException:
            if connection is not None:
                await connection.aclose()
            raise
        return connection

    async def _negotiate(self) -> None:
        version = _API_VERSIONS_FIRST
        request = ApiVersionsRequest(client_software_name="kafkalite",
                                     client_software_version=__version__)
        while True:
            response = await self.request(request, version)
            if response.error_code == _UNSUPPORTED_VERSION and version > 0:
                advertised = [k.max_version for k in response.api_keys
                              if k.api_key == ApiKey.API_VERSIONS]
                version = min(version - 1, advertised[0] if advertised else 0)
                if version < 0:
                    break
                continue
            raise_for_code(response.error_code, f"ApiVersions from {self.host}:{self.port}")
            self.api_versions = {k.api_key: (k.min_version, k.max_version)
                                 for k in response.api_keys}
            return
        raise UnsupportedVersion(f"broker {self.host}:{self.port} supports no ApiVersions version")

    async def _authenticate(self, security: ClientSecurity) -> None:
        """SaslHandshake v1 + SaslAuthenticate rounds (KIP-152) until the mechanism is done.

        Raises:
            SaslAuthenticationFailed (or another KafkaError): the broker refused.
        """
        from kafkalite.protocol.messages.sasl_authenticate import SaslAuthenticateRequest
        from kafkalite.protocol.messages.sasl_handshake import SaslHandshakeRequest

        mechanism = security.sasl_mechanism
        response = await self.request(SaslHandshakeRequest(mechanism=mechanism),
                                      self.pick_version(ApiKey.SASL_HANDSHAKE, 1, 1))
        raise_for_code(response.error_code,
                       f"SASL mechanism {mechanism} at {self.host}:{self.port} (enabled: "
                       f"{', '.join(response.mechanisms)})")
        client = security.new_sasl_client()
        token = client.evaluate(b"")
        version = self.pick_version(ApiKey.SASL_AUTHENTICATE)
        while True:
            response = await self.request(SaslAuthenticateRequest(auth_bytes=token), version)
            raise_for_code(response.error_code, response.error_message or
                           f"SASL authentication with {self.host}:{self.port}")
            if client.complete:
                return
            token = client.evaluate(bytes(response.auth_bytes))
            if client.complete and not token:
                return

    # --- versions ------------------------------------------------------------------------------

    def pick_version(self, api_key: int, client_max: int | None = None,
                     client_min: int | None = None) -> int:
        """The highest version of ``api_key`` both this client and the broker support.

        Args:
            api_key: the API.
            client_max, client_min: the client's range; defaults from :data:`CLIENT_VERSIONS`,
                else the schema's range.

        Raises:
            UnsupportedVersion: the broker does not advertise the API, or the ranges are disjoint.
        """
        default_min, default_max = _client_range(api_key)
        lo_c = default_min if client_min is None else client_min
        hi_c = default_max if client_max is None else client_max
        name = _api_name(api_key)
        advertised = self.api_versions.get(api_key)
        if advertised is None:
            raise UnsupportedVersion(f"broker {self.host}:{self.port} does not support {name}")
        lo_b, hi_b = advertised
        version = min(hi_c, hi_b)
        if version < max(lo_c, lo_b):
            raise UnsupportedVersion(
                f"broker {self.host}:{self.port} supports {name} versions {lo_b}-{hi_b}, "
                f"this client needs {lo_c}-{hi_c}"
            )
        return version

    # --- requests ------------------------------------------------------------------------------

    @property
    def closed(self) -> bool:
        """True once the connection is broken or closed; it will not recover."""
        return self._error is not None

    @property
    def in_flight(self) -> int:
        """Requests sent and awaiting an answer (including abandoned ones)."""
        return self._protocol.in_flight

    async def request(self, msg: Any, version: int | None = None) -> Any:
        """Send ``msg`` and wait for its response (None for Produce with acks=0).

        Safe to call from several tasks at once; requests are written in call order of the
        send lock and their answers matched by correlation id.

        Args:
            msg: a request message.
            version: the version to send; by default :meth:`pick_version`.

        Raises:
            ConnectionFailed: the connection is or became broken.
            UnsupportedVersion: no common version (when ``version`` is None).
        """
        if version is None:
            version = self.pick_version(type(msg).API_KEY)
        async with self._send_lock:
            self._check_open()
            correlation_id, frame = self._protocol.send_request(msg, version)
            expects_response = not (type(msg).API_KEY == ApiKey.PRODUCE and msg.acks == 0)
            slot = _Slot()
            if expects_response:
                self._slots[correlation_id] = slot
            try:
                await self._stream.send_all(frame)
            except BaseException as exc:
                self._slots.pop(correlation_id, None)
                self._break(f"connection to {self.host}:{self.port} failed while sending: "
                            f"{_reason(exc)}")
                if isinstance(exc, (trio.BrokenResourceError, trio.ClosedResourceError, OSError)):
                    raise self._error from exc
                raise
        if not expects_response:
            return None
        try:
            while slot.response is _MISSING:
                async with self._receive_lock:
                    if slot.response is not _MISSING:
                        break
                    self._check_open()
                    await self._receive_once()
        finally:
            self._slots.pop(correlation_id, None)
        return slot.response

    async def _receive_once(self) -> None:
        try:
            if self._plain is not None:
                responses = await self._plain.receive(self._protocol)
            else:
                data = await self._stream.receive_some(_RECEIVE_CHUNK)
                if not data:
                    raise EOFError
                responses = self._protocol.receive_data(data)
        except (trio.BrokenResourceError, trio.ClosedResourceError, OSError) as exc:
            self._break(f"connection to {self.host}:{self.port} failed: {_reason(exc)}")
            raise self._error from exc
        except EOFError:
            self._break(f"connection to {self.host}:{self.port} was closed by the broker")
            raise self._error from None
        except ProtocolViolation as exc:
            self._break(f"bad response from {self.host}:{self.port}: {exc}")
            raise self._error from exc
        for correlation_id, response in responses:
            slot = self._slots.get(correlation_id)
            if slot is not None:
                slot.response = response

    def _check_open(self) -> None:
        if self._error is not None:
            raise self._error

    def _break(self, message: str) -> None:
        """Mark broken and close the socket synchronously, waking any blocked reader."""
        if self._error is None:
            self._error = ConnectionFailed(message, host=self.host, port=self.port)
        socket = getattr(self._stream, "socket", None)
        if socket is not None:
            socket.close()

    async def aclose(self) -> None:
        """Close the connection; waiting requests fail with ConnectionFailed."""
        if self._error is None:
            self._error = ConnectionFailed(f"connection to {self.host}:{self.port} was closed",
                                           host=self.host, port=self.port)
        await trio.aclose_forcefully(self._stream)

    def __repr__(self) -> str:
        state = "closed" if self.closed else "open"
        return f"<BrokerConnection {self.host}:{self.port} node={self.node_id} {state}>"


def _client_range(api_key: int) -> tuple[int, int]:
    if api_key in CLIENT_VERSIONS:
        return CLIENT_VERSIONS[api_key]
    from kafkalite.protocol.api_keys import request_class

    cls = request_class(api_key)
    return cls.MIN_VERSION, cls.MAX_VERSION


def _api_name(api_key: int) -> str:
    try:
        return ApiKey(api_key).name
    except ValueError:
        return f"api key {api_key}"


def _connect_reason(exc: OSError) -> str:
    """The first underlying reason of a failed connect.

    trio's happy-eyeballs connect raises "all attempts to connect to ... failed" from a group of
    per-address errors; the first of those ("Connection refused") is what a user needs.
    """
    cause = exc.__cause__
    while isinstance(cause, BaseExceptionGroup) and cause.exceptions:
        cause = cause.exceptions[0]
    if isinstance(cause, OSError):
        return _reason(cause)
    return _reason(exc)


def _reason(exc: BaseException) -> str:
    """A short human reason for a socket-level failure."""
    if isinstance(exc, OSError) and isinstance(exc.errno, int) and exc.errno > 0 \
            and not isinstance(exc, socket.gaierror):
        return os.strerror(exc.errno)
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror
    if isinstance(exc, trio.Cancelled):
        return "cancelled"
    text = str(exc)
    if isinstance(exc, OSError) and not text:
        return type(exc).__name__
    return text or type(exc).__name__
