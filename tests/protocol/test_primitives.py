"""Varints of wire-protocol.md §3."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kafkalite.errors import ProtocolViolation
from kafkalite.protocol.primitives import (
    encode_uvarint,
    encode_varint,
    encode_varlong,
    read_uvarint,
    read_varint,
    read_varlong,
    zigzag_decode,
    zigzag_encode,
)

from .values import PHASES

# The examples listed in wire-protocol.md §3.
VARINT_EXAMPLES = [
    (0, "00"),
    (-1, "01"),
    (1, "02"),
    (-2, "03"),
    (63, "7e"),
    (-64, "7f"),
    (64, "80 01"),
    (300, "d8 04"),
]


@pytest.mark.parametrize(("value", "hex_"), VARINT_EXAMPLES)
def test_varint_examples(value: int, hex_: str) -> None:
    raw = bytes.fromhex(hex_)
    assert encode_varint(value) == raw
    assert encode_varlong(value) == raw
    assert read_varint(raw, 0) == (value, len(raw))
    assert read_varlong(raw + b"\xff", 0) == (value, len(raw))


@pytest.mark.parametrize(
    ("value", "hex_"),
    [
        (0, "00"),
        (1, "01"),
        (127, "7f"),
        (128, "80 01"),
        (300, "ac 02"),
        (2**32 - 1, "ff ff ff ff 0f"),
    ],
)
def test_unsigned_varint_examples(value: int, hex_: str) -> None:
    raw = bytes.fromhex(hex_)
    assert encode_uvarint(value) == raw
    assert read_uvarint(raw, 0) == (value, len(raw))


def test_zigzag_mapping() -> None:
    assert [zigzag_encode(n) for n in (0, -1, 1, -2, 2)] == [0, 1, 2, 3, 4]
    assert [zigzag_decode(z) for z in (0, 1, 2, 3, 4)] == [0, -1, 1, -2, 2]


@settings(phases=PHASES)
@given(st.integers(-(2**31), 2**31 - 1))
def test_varint_round_trip(n: int) -> None:
    raw = encode_varint(n)
    assert len(raw) <= 5
    assert read_varint(b"\x00" + raw, 1) == (n, 1 + len(raw))


@settings(phases=PHASES)
@given(st.integers(-(2**63), 2**63 - 1))
def test_varlong_round_trip(n: int) -> None:
    raw = encode_varlong(n)
    assert len(raw) <= 10
    assert read_varlong(raw, 0) == (n, len(raw))


@settings(phases=PHASES)
@given(st.integers(0, 2**32 - 1))
def test_uvarint_round_trip(n: int) -> None:
    raw = encode_uvarint(n)
    assert read_uvarint(raw, 0) == (n, len(raw))


def test_overlong_varints_are_violations() -> None:
    with pytest.raises(ProtocolViolation):
        read_uvarint(b"\xff" * 6, 0)
    with pytest.raises(ProtocolViolation):
        read_uvarint(b"\xff\xff\xff\xff\x7f", 0)  # 5 bytes but above 2**32 - 1
    with pytest.raises(ProtocolViolation):
        read_varlong(b"\xff" * 11, 0)


def test_truncated_varint_raises_index_error() -> None:
    # The codec converts this to ProtocolViolation at its boundary.
    with pytest.raises(IndexError):
        read_uvarint(b"\x80", 0)


def test_out_of_range_encodes_are_rejected() -> None:
    with pytest.raises(ValueError):
        encode_uvarint(-1)
    with pytest.raises(ValueError):
        encode_varint(2**31)
    with pytest.raises(ValueError):
        encode_varlong(-(2**63) - 1)
