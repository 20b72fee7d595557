"""Sans-IO connections: bytes in, requests/responses out (style rule 1, h11's shape).

Frames are ``int32 size`` + payload (wire-protocol.md §1). :class:`FrameReader` splits a byte
stream into payloads. :class:`ServerConnection` turns payloads into decoded requests and
responses into frames; :class:`ClientConnection` is the mirror image used by kafkalite's own
client, tools and tests. Neither touches a socket: the trio shell feeds ``receive_data`` and
writes what ``response_parts`` / ``send_request`` return.

Connection rules enforced here (Kafka's behaviour):

* unknown api key → :class:`UnknownApiKey` — the caller closes the connection, no answer;
* known key, version not advertised → :class:`UnsupportedVersionError`, also closing — except
  ApiVersions, which yields an :class:`InboundRequest` with ``unsupported_version=True`` and no
  body; its response is then encoded as ApiVersions v0 with header v0 (KIP-511), so any client
  can read our supported range and retry;
* undecodable body or header → ProtocolViolation; oversized or negative frame size →
  :class:`FrameTooLarge`.

After raising, a connection stays broken: every later call raises the same error again.
"""

from __future__ import annotations

import struct
from collections.abc import Mapping
from typing import Any

import attrs

from kafkalite.errors import ProtocolViolation
from kafkalite.protocol.api_keys import ApiKey, request_class, response_class
from kafkalite.protocol.codec import (FileRegion, decode, encode, encode_frame,
                                     generated_decoder, slot_builder)
from kafkalite.protocol.header import (
    RequestHeader,
    UnknownApiKey,
    cached_response_header_version,
    decode_request_header,
    decode_response_header,
    encode_request_header,
    encode_response_header,
    response_header_version,
)

__all__ = [
    "FrameTooLarge",
    "UnsupportedVersionError",
    "UnknownApiKey",
    "FrameReader",
    "InboundRequest",
    "ServerConnection",
    "ClientConnection",
    "raw_frame",
]

_SIZE = struct.Struct(">i")
_UNSUPPORTED_VERSION = 35


class FrameTooLarge(ProtocolViolation):
    """A frame's size prefix exceeds the limit (socket.request.max.bytes) or is negative."""


class UnsupportedVersionError(ProtocolViolation):
    """A known API at a version this server does not advertise (not ApiVersions)."""


class FrameReader:
    """Reassembles ``int32 size`` + payload frames from arbitrary chunks of a byte stream.

    A large frame (a produce request of many batches) can be read in place: once its size is
    known, :meth:`receive_buffer` moves what arrived of it into a buffer of its final size and
    hands out the rest of that buffer to read into, so its bytes are not copied again as the
    stream buffer grows and when the frame is cut out of it.
    """

    def __init__(self, max_frame_bytes: int):
        self._max = max_frame_bytes
        self._buf = bytearray()
        self._size: int | None = None   # the first buffered frame's, once read
        self._direct: bytearray | None = None   # that frame's payload, read in place
        self._got = 0                   # bytes of ``_direct`` filled

    def feed(self, data: bytes | bytearray | memoryview) -> None:
        """Append received bytes."""
        direct = self._direct
        if direct is not None:
            take = min(len(data), len(direct) - self._got)
            direct[self._got:self._got + take] = data[:take]
            self._got += take
            if take < len(data):
                self._buf += data[take:]
            return
        self._buf += data

    def receive_buffer(self, threshold: int) -> memoryview | None:
        """Where to read the rest of the current frame, if at least ``threshold`` bytes of it
        are missing (else None: read into a chunk and :meth:`feed` it). Report what was read
        with :meth:`received`; release the view before asking for the next frame.

        Raises:
            FrameTooLarge: the size prefix is negative or above ``max_frame_bytes``.
        """
        direct = self._direct
        if direct is None:
            size = self._frame_size()
            buf = self._buf
            if size is None or 4 + size - len(buf) < threshold:
                return None
            direct = self._direct = bytearray(size)
            direct[:len(buf) - 4] = memoryview(buf)[4:]
            self._got = len(buf) - 4
            self._buf = bytearray()
        elif self._got == len(direct):
            return None
        return memoryview(direct)[self._got:]

    def received(self, n: int) -> None:
        """``n`` bytes were read into the view :meth:`receive_buffer` gave."""
        self._got += n

    def _frame_size(self) -> int | None:
        size = self._size
        if size is not None:
            return size
        if len(self._buf) < 4:
            return None
        (size,) = _SIZE.unpack_from(self._buf, 0)
        if size < 0 or size > self._max:
            raise FrameTooLarge(f"Invalid receive (size = {size}"   # Kafka's wording
                                + (f" larger than {self._max})" if size >= 0 else ")"))
        self._size = size
        return size

    def next_frame(self) -> bytearray | None:
        """The next complete payload (its own writable bytearray), or None if incomplete.

        Raises:
            FrameTooLarge: the size prefix is negative or above ``max_frame_bytes``.
        """
        direct = self._direct
        if direct is not None:
            if self._got < len(direct):
                return None
            self._direct = None
            self._size = None
            return direct
        size = self._frame_size()
        buf = self._buf
        if size is None or len(buf) < 4 + size:
            return None
        self._size = None
        if len(buf) == 4 + size:
            # Exactly one frame buffered (a client waiting for each answer): hand over the
            # buffer itself instead of copying the frame out of it.
            self._buf = bytearray()
            del buf[:4]
            return buf
        frame = buf[4 : 4 + size]
        del buf[: 4 + size]  # O(1) amortized: bytearray trims from the front in place
        return frame

    def needed(self) -> int:
        """Bytes still missing to complete the current frame (0 if one is ready).

        Lets the network layer ``recv_into`` a large frame in one go.
        """
        if self._direct is not None:
            return len(self._direct) - self._got
        size = self._frame_size()
        if size is None:
            return 4 - len(self._buf)
        return max(0, 4 + size - len(self._buf))

    @property
    def buffered(self) -> int:
        """Bytes received but not yet returned as frames."""
        return len(self._buf) + (self._got + 4 if self._direct is not None else 0)


@attrs.frozen
class InboundRequest:
    """One decoded request. ``body`` is None only when ``unsupported_version`` (ApiVersions)."""

    header: RequestHeader
    body: Any
    unsupported_version: bool = False


_new_request = slot_builder(InboundRequest)   # one per request: see codec.slot_builder


class ServerConnection:
    """Broker side of one client connection.

    Args:
        max_frame_bytes: largest request accepted (``socket.request.max.bytes``).
        supported: api key → (min, max) versions this server advertises.
    """

    def __init__(self, *, max_frame_bytes: int, supported: Mapping[int, tuple[int, int]]):
        self._reader = FrameReader(max_frame_bytes)
        self._supported = dict(supported)
        self._error: ProtocolViolation | None = None
        # (api key, version) -> request class, for versions both advertised and in the schema
        self._servable: dict[tuple[int, int], type] = {}

    def receive_data(self, data: bytes | bytearray | memoryview) -> None:
        """Feed bytes read from the socket."""
        if self._error is not None:
            raise self._error
        self._reader.feed(data)

    def needed(self) -> int:
        """Bytes still missing for the frame being received (see FrameReader.needed)."""
        return self._reader.needed()

    def receive_buffer(self, threshold: int) -> memoryview | None:
        """Where to read the rest of a large frame in place (see FrameReader.receive_buffer);
        None when it is small or not begun."""
        if self._error is not None:
            return None
        try:
            return self._reader.receive_buffer(threshold)
        except ProtocolViolation:
            return None   # next_request reports it

    def received(self, n: int) -> None:
        """``n`` bytes were read into the view :meth:`receive_buffer` gave."""
        self._reader.received(n)

    def request_ready(self) -> bool:
        """Whether a whole frame is already buffered (the client pipelines): the caller may
        then hold a response back and write it together with the next one."""
        if self._error is not None:
            return False
        try:
            return self._reader.needed() == 0
        except ProtocolViolation:
            return False   # next_request reports it

    def next_raw_frame(self) -> bytearray | None:
        """The next frame's payload as is, not decoded as a request: SaslHandshake v0 makes
        the client send its SASL tokens this way (size-prefixed, no Kafka header)."""
        if self._error is not None:
            raise self._error
        try:
            return self._reader.next_frame()
        except ProtocolViolation as exc:
            self._error = exc
            raise

    def next_request(self) -> InboundRequest | None:
        """The next complete request, or None until more data arrives.

        Raises:
            UnknownApiKey, UnsupportedVersionError, FrameTooLarge, ProtocolViolation: the peer
                broke the protocol; close the connection without answering.
        """
        if self._error is not None:
            raise self._error
        try:
            return self._next_request()
        except ProtocolViolation as exc:
            self._error = exc
            raise

    def _next_request(self) -> InboundRequest | None:
        frame = self._reader.next_frame()
        if frame is None:
            return None
        header, offset = decode_request_header(frame)
        key, version = header.api_key, header.api_version
        servable = self._servable.get((key, version))
        if servable is None:
            lo, hi = self._supported.get(key, (0, -1))
            cls = request_class(key)
            if not (lo <= version <= hi and cls.MIN_VERSION <= version <= cls.MAX_VERSION):
                if key == ApiKey.API_VERSIONS:
                    return InboundRequest(header=header, body=None, unsupported_version=True)
                raise UnsupportedVersionError(
                    f"{ApiKey(key).name} v{version} not supported (advertised {lo}-{hi}, "
                    f"schema {cls.MIN_VERSION}-{cls.MAX_VERSION})"
                )
            servable = self._servable[(key, version)] = cls, generated_decoder(cls, version)
        cls, fast = servable
        try:   # frames are bytearrays: the generated decoder straight away
            body = fast(memoryview(frame), offset)[0]
        except Exception:
            body = decode(cls, version, frame, offset)   # the precise ProtocolViolation
        return _new_request(header, body, False)

    def response_parts(self, request: InboundRequest, response: Any) -> list[bytes | FileRegion]:
        """The whole response frame (size + header + body) as parts ready to write.

        Raises:
            ValueError: ``response`` is not the response type of ``request``'s API.
        """
        key = request.header.api_key
        if getattr(response, "KIND", None) != "response" or response.API_KEY != key:
            raise ValueError(f"{type(response).__name__} does not answer api key {key}")
        if request.unsupported_version:
            version, header_version = 0, 0
        else:
            version = request.header.api_version
            header_version = cached_response_header_version(key, version)
        header = encode_response_header(request.header.correlation_id, header_version)
        return encode_frame(response, version, header)


def raw_frame(payload: bytes) -> bytes:
    """``int32 size`` + payload: a raw SASL token frame (SaslHandshake v0)."""
    return _SIZE.pack(len(payload)) + payload


class ClientConnection:
    """Client side of one connection: frames requests, matches and decodes responses.

    Correlation ids count up from 0 (wrapping at 2**31). Produce requests with ``acks=0`` get
    no response from a broker, so they are not remembered.

    Args:
        client_id: sent in every request header (None is sent as a null string).
        max_frame_bytes: largest response accepted.
    """

    def __init__(self, *, client_id: str | None, max_frame_bytes: int = 0x7FFFFFFF):
        self.client_id = client_id
        self._reader = FrameReader(max_frame_bytes)
        self._next_correlation_id = 0
        self._pending: dict[int, tuple[int, int]] = {}

    def send_request(self, msg: Any, version: int) -> tuple[int, bytes]:
        """Frame ``msg`` at ``version``; returns (correlation id, bytes to write)."""
        cls = type(msg)
        if getattr(cls, "KIND", None) != "request":
            raise ValueError(f"{cls.__name__} is not a request message")
        correlation_id = self._next_correlation_id
        self._next_correlation_id = (correlation_id + 1) & 0x7FFFFFFF
        body = encode(msg, version)
        header = encode_request_header(
            RequestHeader(cls.API_KEY, version, correlation_id, self.client_id)
        )
        if not (cls.API_KEY == ApiKey.PRODUCE and msg.acks == 0):
            self._pending[correlation_id] = (cls.API_KEY, version)
        return correlation_id, _SIZE.pack(len(header) + len(body)) + header + body

    @property
    def in_flight(self) -> int:
        """Requests sent and not yet answered."""
        return len(self._pending)

    def receive_data(self, data: bytes | bytearray | memoryview) -> list[tuple[int, Any]]:
        """Feed received bytes; returns the (correlation id, response) pairs now complete.

        Raises:
            ProtocolViolation: unknown correlation id, bad frame, or undecodable response.
        """
        self._reader.feed(data)
        return self._responses()

    def receive_buffer(self, threshold: int) -> memoryview | None:
        """Where to read the rest of a large response in place (see
        FrameReader.receive_buffer); None when it is small or not begun.

        Raises:
            ProtocolViolation: the size prefix is negative.
        """
        return self._reader.receive_buffer(threshold)

    def received(self, n: int) -> list[tuple[int, Any]]:
        """``n`` bytes were read into the view :meth:`receive_buffer` gave; returns the
        (correlation id, response) pairs now complete, as :meth:`receive_data` does."""
        self._reader.received(n)
        return self._responses()

    def _responses(self) -> list[tuple[int, Any]]:
        out = []
        while (frame := self._reader.next_frame()) is not None:
            out.append(self._decode_response(frame))
        return out

    def _decode_response(self, frame: bytearray) -> tuple[int, Any]:
        if len(frame) < 4:
            raise ProtocolViolation("response frame shorter than its header")
        (correlation_id,) = _SIZE.unpack_from(frame, 0)
        try:
            key, version = self._pending.pop(correlation_id)
        except KeyError:
            raise ProtocolViolation(
                f"response for unknown correlation id {correlation_id}"
            ) from None
        _, offset = decode_response_header(frame, response_header_version(key, version))
        cls = response_class(key)
        if key == ApiKey.API_VERSIONS and version > 0:
            return correlation_id, self._decode_api_versions(cls, version, frame, offset)
        return correlation_id, decode(cls, version, frame, offset)

    @staticmethod
    def _decode_api_versions(cls: type, version: int, frame: bytearray, offset: int) -> Any:
        # A broker that does not support our ApiVersions version answers with a v0 body and
        # error 35 (KIP-511); older brokers too. Read those as v0, as Kafka's client does.
        if frame[offset : offset + 2] == _SIZE.pack(_UNSUPPORTED_VERSION)[2:]:
            return decode(cls, 0, frame, offset)
        try:
            return decode(cls, version, frame, offset)
        except ProtocolViolation:
            return decode(cls, 0, frame, offset)
