"""Request and response headers (wire-protocol.md §2).

Header versions:

* request v0 = api_key int16, api_version int16, correlation_id int32 — only for
  ControlledShutdown v0;
* request v1 = v0 + client_id (classic NULLABLE_STRING) — every non-flexible request version;
* request v2 = v1 + TAGGED_FIELDS — every flexible request version. The client id stays a
  classic int16-length string even here (its field is non-flexible in Kafka's spec);
* response v0 = correlation_id; response v1 = v0 + TAGGED_FIELDS (flexible versions).
  ApiVersions responses always use v0, so a client that does not yet know whether the broker
  speaks flexible versions can read the answer (KIP-511).

A request for a version above our schema's maximum cannot be parsed by schema, so its header
is read as v1, except ApiVersions v3+ which clients send with the v2 header (KIP-511): the
broker must still find the correlation id to answer with its supported range.
"""

from __future__ import annotations

import struct

import attrs

from kafkalite.errors import ProtocolViolation
from kafkalite.protocol.api_keys import ApiKey, request_class, response_class
from kafkalite.protocol.codec import slot_builder
from kafkalite.protocol.primitives import read_uvarint

__all__ = [
    "RequestHeader",
    "UnknownApiKey",
    "request_header_version",
    "response_header_version",
    "cached_response_header_version",
    "decode_request_header",
    "encode_request_header",
    "encode_response_header",
    "decode_response_header",
]

_KEY_VERSION_CORR = struct.Struct(">hhi")
_I16 = struct.Struct(">h")
_I32 = struct.Struct(">i")


class UnknownApiKey(ProtocolViolation):
    """The request names an API key we have no schema for; Kafka closes the connection."""


@attrs.frozen
class RequestHeader:
    """The decoded request header (the fields of all versions; client_id None in v0)."""

    api_key: int
    api_version: int
    correlation_id: int
    client_id: str | None


# one per request: without the frozen class's __init__ (codec.slot_builder)
_new_header = slot_builder(RequestHeader)


def request_header_version(api_key: int, api_version: int) -> int:
    """Header version of a request (0, 1 or 2).

    Raises:
        KeyError: no request schema is registered for ``api_key``.
    """
    if api_key == ApiKey.CONTROLLED_SHUTDOWN and api_version == 0:
        return 0
    cls = request_class(api_key)
    if api_version > cls.MAX_VERSION:
        return 2 if api_key == ApiKey.API_VERSIONS and api_version >= 3 else 1
    return 2 if cls.is_flexible(api_version) else 1


def response_header_version(api_key: int, api_version: int) -> int:
    """Header version of a response (0 or 1); always 0 for ApiVersions.

    Raises:
        KeyError: no response schema is registered for ``api_key``.
    """
    if api_key == ApiKey.API_VERSIONS:
        return 0
    cls = response_class(api_key)
    if api_version > cls.MAX_VERSION:
        return 0
    return 1 if cls.is_flexible(api_version) else 0


# (api key, api version) -> header version; filled on first use. The registry is fixed once the
# message modules are imported, so the answers never change.
_REQUEST_HEADER_VERSIONS: dict[tuple[int, int], int] = {}
_RESPONSE_HEADER_VERSIONS: dict[tuple[int, int], int] = {}


def decode_request_header(frame: bytes | bytearray | memoryview) -> tuple[RequestHeader, int]:
    """Parse the header at the start of a request frame (size prefix already removed).

    Returns:
        The header and the offset of the body within ``frame``.

    Raises:
        UnknownApiKey: no request schema for the api key.
        ProtocolViolation: the header is truncated or malformed.
    """
    try:
        api_key, api_version, correlation_id = _KEY_VERSION_CORR.unpack_from(frame, 0)
    except struct.error as exc:
        raise ProtocolViolation(f"request header truncated ({len(frame)} bytes)") from exc
    header_version = _REQUEST_HEADER_VERSIONS.get((api_key, api_version))
    if header_version is None:
        try:
            header_version = request_header_version(api_key, api_version)
        except KeyError:
            raise UnknownApiKey(f"unknown api key {api_key} (version {api_version})") from None
        _REQUEST_HEADER_VERSIONS[(api_key, api_version)] = header_version
    pos = 8
    client_id = None
    try:
        if header_version >= 1:
            (n,) = _I16.unpack_from(frame, pos)
            pos += 2
            if n >= 0:
                end = pos + n
                if end > len(frame):
                    raise ProtocolViolation("request header client_id truncated")
                client_id = str(frame[pos:end], "utf-8")
                pos = end
            elif n != -1:
                raise ProtocolViolation(f"bad client_id length {n}")
        if header_version >= 2:
            if frame[pos] == 0:   # no tagged fields: the usual case
                pos += 1
            else:
                pos = _skip_tagged_fields(frame, pos)
    except (struct.error, IndexError, ValueError) as exc:  # ValueError: bad UTF-8
        raise ProtocolViolation(f"malformed request header: {exc}") from exc
    return _new_header(api_key, api_version, correlation_id, client_id), pos


def _skip_tagged_fields(data, pos: int) -> int:
    # Header tagged fields carry nothing we use (Kafka defines none for requests we serve).
    count, pos = read_uvarint(data, pos)
    for _ in range(count):
        _tag, pos = read_uvarint(data, pos)
        size, pos = read_uvarint(data, pos)
        pos += size
    if pos > len(data):
        raise ProtocolViolation("header tagged fields truncated")
    return pos


def encode_request_header(header: RequestHeader) -> bytes:
    """Encode ``header`` in the version its api key/version call for.

    Raises:
        KeyError: no request schema is registered for the api key.
    """
    version = request_header_version(header.api_key, header.api_version)
    out = bytearray(
        _KEY_VERSION_CORR.pack(header.api_key, header.api_version, header.correlation_id)
    )
    if version >= 1:
        if header.client_id is None:
            out += _I16.pack(-1)
        else:
            raw = header.client_id.encode("utf-8")
            out += _I16.pack(len(raw))
            out += raw
    if version >= 2:
        out.append(0)
    return bytes(out)


def cached_response_header_version(api_key: int, api_version: int) -> int:
    """:func:`response_header_version`, remembered per (api key, version)."""
    version = _RESPONSE_HEADER_VERSIONS.get((api_key, api_version))
    if version is None:
        version = _RESPONSE_HEADER_VERSIONS[(api_key, api_version)] = \
            response_header_version(api_key, api_version)
    return version


def encode_response_header(correlation_id: int, header_version: int) -> bytes:
    """Response header bytes: the correlation id, plus an empty tag section in v1."""
    if header_version == 0:
        return _I32.pack(correlation_id)
    return _I32.pack(correlation_id) + b"\x00"


def decode_response_header(frame, header_version: int) -> tuple[int, int]:
    """Parse a response header; returns (correlation_id, body offset).

    Raises:
        ProtocolViolation: the header is truncated or malformed.
    """
    try:
        (correlation_id,) = _I32.unpack_from(frame, 0)
        pos = 4
        if header_version >= 1:
            pos = _skip_tagged_fields(frame, pos)
    except (struct.error, IndexError) as exc:
        raise ProtocolViolation(f"malformed response header: {exc}") from exc
    return correlation_id, pos
