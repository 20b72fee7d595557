"""Zig-zag varints as used inside v2 records (protobuf style; wire-protocol.md §3).

``zigzag(n) = (n << 1) ^ (n >> 63)`` maps small magnitudes of either sign to small unsigned
numbers (0→0, -1→1, 1→2, -2→3), which are then written 7 bits per byte, low groups first, with
the high bit marking "more bytes follow". A VARINT takes at most 5 bytes, a VARLONG at most 10;
we decode both with the 10-byte bound and leave range checks to callers.

Only record bodies use these: the batch header is fixed-width.
"""

from __future__ import annotations

from kafkalite.errors import CorruptMessage

__all__ = ["encode_varint", "read_varint", "size_of_varint"]

_MAX_VARINT_BYTES = 10


def encode_varint(value: int) -> bytes:
    """Zig-zag varint encoding of a signed int (int32 or int64 range)."""
    zz = (value << 1) ^ (value >> 63)
    if zz < 0x80:
        return bytes((zz,))
    out = bytearray()
    while zz >= 0x80:
        out.append((zz & 0x7F) | 0x80)
        zz >>= 7
    out.append(zz)
    return bytes(out)


def size_of_varint(value: int) -> int:
    """Number of bytes :func:`encode_varint` writes for ``value``."""
    zz = (value << 1) ^ (value >> 63)
    size = 1
    while zz >= 0x80:
        zz >>= 7
        size += 1
    return size


def read_varint(buf: bytes, pos: int) -> tuple[int, int]:
    """Decode one zig-zag varint at ``pos``; return ``(value, next_pos)``.

    Raises:
        CorruptMessage: the varint runs past the buffer or is longer than 10 bytes.
    """
    try:
        b = buf[pos]
        if b < 0x80:
            return (b >> 1) ^ -(b & 1), pos + 1
        zz = b & 0x7F
        shift = 7
        pos += 1
        while True:
            b = buf[pos]
            zz |= (b & 0x7F) << shift
            pos += 1
            if b < 0x80:
                return (zz >> 1) ^ -(zz & 1), pos
            shift += 7
            if shift >= 7 * _MAX_VARINT_BYTES:
                raise CorruptMessage("varint longer than 10 bytes")
    except IndexError:
        raise CorruptMessage("varint runs past the end of the record data") from None
