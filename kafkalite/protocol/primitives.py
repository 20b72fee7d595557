"""Variable-length integers of the Kafka protocol (wire-protocol.md §3).

Two families share the LEB128 layout (7 bits per byte, low groups first, high bit = "more"):

* UNSIGNED_VARINT: plain LEB128. Compact lengths (N+1), tag numbers and tag sizes of flexible
  versions (KIP-482). At most 5 bytes (an unsigned 32-bit value).
* VARINT / VARLONG: zig-zag first (``(n << 1) ^ (n >> 31|63)``) so small negatives stay short,
  then LEB128. Used inside record batches. At most 5 / 10 bytes.

Readers take ``(data, pos)`` and return ``(value, new_pos)``; ``data`` is anything indexable to
ints (bytes, bytearray, memoryview of bytes). Truncated input raises ``IndexError`` and over-long
input raises ProtocolViolation; the message codec turns every decoding error into
ProtocolViolation at its boundary.
"""

from __future__ import annotations

from kafkalite.errors import ProtocolViolation

__all__ = [
    "write_uvarint",
    "encode_uvarint",
    "read_uvarint",
    "zigzag_encode",
    "zigzag_decode",
    "encode_varint",
    "read_varint",
    "encode_varlong",
    "read_varlong",
]


def write_uvarint(buf: bytearray, n: int) -> None:
    """Append ``n`` (0 <= n < 2**32) as an UNSIGNED_VARINT."""
    if n < 0 or n > 0xFFFFFFFF:
        raise ValueError(f"unsigned varint out of range: {n}")
    while n >= 0x80:
        buf.append((n & 0x7F) | 0x80)
        n >>= 7
    buf.append(n)


def encode_uvarint(n: int) -> bytes:
    """``n`` as UNSIGNED_VARINT bytes."""
    out = bytearray()
    write_uvarint(out, n)
    return bytes(out)


def _read_leb128(data, pos: int, max_bytes: int) -> tuple[int, int]:
    b = data[pos]
    if b < 0x80:
        return b, pos + 1
    result = b & 0x7F
    shift = 7
    for i in range(1, max_bytes):
        b = data[pos + i]
        result |= (b & 0x7F) << shift
        if b < 0x80:
            return result, pos + i + 1
        shift += 7
    raise ProtocolViolation(f"varint longer than {max_bytes} bytes at offset {pos}")


def read_uvarint(data, pos: int) -> tuple[int, int]:
    """Read an UNSIGNED_VARINT (at most 5 bytes) at ``pos``."""
    b = data[pos]
    if b < 0x80:  # the overwhelmingly common case: a small length or an empty tag section
        return b, pos + 1
    value, end = _read_leb128(data, pos, 5)
    if value > 0xFFFFFFFF:
        raise ProtocolViolation(f"unsigned varint overflows 32 bits at offset {pos}")
    return value, end


def zigzag_encode(n: int, bits: int = 64) -> int:
    """Map signed to unsigned so that small magnitudes stay small: 0→0, -1→1, 1→2, -2→3."""
    return (n << 1) ^ (n >> (bits - 1))


def zigzag_decode(z: int) -> int:
    """Inverse of :func:`zigzag_encode`."""
    return (z >> 1) ^ -(z & 1)


def _leb128(z: int) -> bytes:
    out = bytearray()
    while z >= 0x80:
        out.append((z & 0x7F) | 0x80)
        z >>= 7
    out.append(z)
    return bytes(out)


def encode_varint(n: int) -> bytes:
    """Zig-zag VARINT (signed 32-bit)."""
    if not -(2**31) <= n < 2**31:
        raise ValueError(f"varint out of range: {n}")
    return _leb128(zigzag_encode(n, 32) & 0xFFFFFFFF)


def encode_varlong(n: int) -> bytes:
    """Zig-zag VARLONG (signed 64-bit)."""
    if not -(2**63) <= n < 2**63:
        raise ValueError(f"varlong out of range: {n}")
    return _leb128(zigzag_encode(n, 64) & 0xFFFFFFFFFFFFFFFF)


def read_varint(data, pos: int) -> tuple[int, int]:
    """Read a zig-zag VARINT (at most 5 bytes)."""
    z, end = _read_leb128(data, pos, 5)
    if z > 0xFFFFFFFF:
        raise ProtocolViolation(f"varint overflows 32 bits at offset {pos}")
    return zigzag_decode(z), end


def read_varlong(data, pos: int) -> tuple[int, int]:
    """Read a zig-zag VARLONG (at most 10 bytes)."""
    z, end = _read_leb128(data, pos, 10)
    if z > 0xFFFFFFFFFFFFFFFF:
        raise ProtocolViolation(f"varlong overflows 64 bits at offset {pos}")
    return zigzag_decode(z), end
