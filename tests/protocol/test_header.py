"""Request/response headers (wire-protocol.md §2)."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kafkalite.errors import ProtocolViolation
from kafkalite.protocol.api_keys import ApiKey
from kafkalite.protocol.header import (
    RequestHeader,
    UnknownApiKey,
    decode_request_header,
    decode_response_header,
    encode_request_header,
    encode_response_header,
    request_header_version,
    response_header_version,
)

from .values import PHASES


@pytest.mark.parametrize(
    ("key", "version", "expected"),
    [
        (ApiKey.CONTROLLED_SHUTDOWN, 0, 0),
        (ApiKey.CONTROLLED_SHUTDOWN, 1, 1),
        (ApiKey.CONTROLLED_SHUTDOWN, 3, 2),
        (ApiKey.PRODUCE, 8, 1),
        (ApiKey.PRODUCE, 9, 2),
        (ApiKey.METADATA, 8, 1),
        (ApiKey.METADATA, 9, 2),
        (ApiKey.METADATA, 13, 1),  # above our schema: parse as v1
        (ApiKey.API_VERSIONS, 2, 1),
        (ApiKey.API_VERSIONS, 3, 2),
        (ApiKey.API_VERSIONS, 4, 2),  # KIP-511: newer ApiVersions still use the v2 header
        (ApiKey.API_VERSIONS, 99, 2),
        (ApiKey.SASL_HANDSHAKE, 1, 1),  # never flexible
    ],
)
def test_request_header_version(key: int, version: int, expected: int) -> None:
    assert request_header_version(key, version) == expected


@pytest.mark.parametrize(
    ("key", "version", "expected"),
    [
        (ApiKey.API_VERSIONS, 0, 0),
        (ApiKey.API_VERSIONS, 3, 0),  # always v0
        (ApiKey.METADATA, 8, 0),
        (ApiKey.METADATA, 9, 1),
        (ApiKey.FETCH, 12, 1),
        (ApiKey.CONTROLLED_SHUTDOWN, 3, 1),
    ],
)
def test_response_header_version(key: int, version: int, expected: int) -> None:
    assert response_header_version(key, version) == expected


def test_verified_api_versions_v3_request_header() -> None:
    frame = bytes.fromhex("00 12 00 03 00 00 00 01 00 01 63 00 03 6b 6c 02 31 00")
    header, offset = decode_request_header(frame)
    assert header == RequestHeader(api_key=18, api_version=3, correlation_id=1, client_id="c")
    assert offset == 12
    assert encode_request_header(header) == frame[:12]


def test_controlled_shutdown_v0_has_no_client_id() -> None:
    header = RequestHeader(ApiKey.CONTROLLED_SHUTDOWN, 0, 5, "ignored")
    raw = encode_request_header(header)
    assert raw == bytes.fromhex("0007 0000 00000005")
    assert decode_request_header(raw + b"\x00\x00\x00\x01") == (
        RequestHeader(ApiKey.CONTROLLED_SHUTDOWN, 0, 5, None),
        8,
    )


@pytest.mark.parametrize("client_id", [None, "", "rdkafka", "ünïcode-id"])
@pytest.mark.parametrize(("key", "version"), [(ApiKey.METADATA, 1), (ApiKey.METADATA, 9)])
def test_request_header_round_trip(client_id, key: int, version: int) -> None:
    header = RequestHeader(key, version, 2**31 - 1, client_id)
    raw = encode_request_header(header)
    assert decode_request_header(raw + b"body") == (header, len(raw))


def test_client_id_is_classic_string_even_in_header_v2() -> None:
    raw = encode_request_header(RequestHeader(ApiKey.METADATA, 9, 7, None))
    assert raw == bytes.fromhex("0003 0009 00000007 ffff 00")


def test_header_v2_unknown_tags_are_skipped() -> None:
    raw = bytes.fromhex("0003 0009 00000007 0001 41") + bytes.fromhex("01 05 02 aabb")
    header, offset = decode_request_header(raw + b"\x99")
    assert header.client_id == "A"
    assert offset == len(raw)


@pytest.mark.parametrize("key", [-1, 38, 999, 32767])  # 38 CreateDelegationToken: no schema
def test_unknown_api_key(key: int) -> None:
    raw = key.to_bytes(2, "big", signed=True) + bytes.fromhex("0000 00000001 ffff")
    with pytest.raises(UnknownApiKey):
        decode_request_header(raw)
    assert issubclass(UnknownApiKey, ProtocolViolation)


@pytest.mark.parametrize(
    "raw",
    [
        b"",
        bytes.fromhex("0003 0001 0000"),  # truncated before correlation id ends
        bytes.fromhex("0003 0001 00000001 00"),  # truncated client id length
        bytes.fromhex("0003 0001 00000001 0005 6162"),  # client id shorter than its length
        bytes.fromhex("0003 0001 00000001 fffe"),  # negative length other than -1
        bytes.fromhex("0003 0009 00000001 ffff 01 05 09 aa"),  # tag overruns the frame
        bytes.fromhex("0003 0001 00000001 0002 fffe"),  # invalid UTF-8
    ],
)
def test_malformed_request_headers(raw: bytes) -> None:
    with pytest.raises(ProtocolViolation):
        decode_request_header(raw)


@settings(max_examples=300, deadline=None, phases=PHASES)
@given(st.binary(max_size=40))
def test_garbage_headers_raise_only_protocol_violation(raw: bytes) -> None:
    try:
        decode_request_header(raw)
    except ProtocolViolation:
        pass


def test_response_headers() -> None:
    assert encode_response_header(1, 0) == b"\x00\x00\x00\x01"
    assert encode_response_header(1, 1) == b"\x00\x00\x00\x01\x00"
    assert decode_response_header(b"\x00\x00\x00\x02\x00rest", 1) == (2, 5)
    assert decode_response_header(b"\x00\x00\x00\x02\x00rest", 0) == (2, 4)
    with pytest.raises(ProtocolViolation):
        decode_response_header(b"\x00\x00", 0)
    with pytest.raises(ProtocolViolation):
        decode_response_header(b"\x00\x00\x00\x02", 1)
