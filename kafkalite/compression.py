"""Kafka's record compression codecs, on top of cramjam.

What gets compressed is the records blob of a v2 batch (everything after the 61-byte header) or
the inner message set of a legacy wrapper message. The codec id lives in the low 3 bits of the
batch (or message) attributes.

Interop facts that shape this module (wire-protocol.md §6):

* gzip — an RFC 1952 stream; readers must accept several concatenated members.
* snappy — two framings exist. Java clients and kafka-python write the xerial snappy-java stream::

      82 53 4e 41 50 50 59 00 | int32 version | int32 min compatible version
      then repeated: int32 BE compressed length | raw snappy block

  librdkafka writes one raw snappy block without any framing. Readers sniff the 8-byte magic.
  We write raw snappy, as librdkafka does: every client in scope reads it.
* lz4 — the LZ4 *frame* format. We write it the way Kafka's Java producer does (FLG 0x60: version
  1, independent blocks, no checksums; BD 0x40: 64 KiB blocks) because Kafka's reader rejects
  linked blocks. Kafka before 0.10 computed the frame header checksum over magic + descriptor
  instead of the descriptor alone (KAFKA-3160, KIP-57); :func:`decompress` repairs that header so
  old magic-0 data still decodes.
* zstd — standard zstd frames (KIP-110), possibly several concatenated.

cramjam returns ``Buffer`` objects; this module turns them into ``bytes`` at its boundary so no
caller ever sees a cramjam type. Corrupt input raises :class:`~kafkalite.errors.CorruptMessage`,
an unknown codec id :class:`~kafkalite.errors.UnsupportedCompressionType`. Decompression is
bounded (:func:`inflate_limit`): a payload that would inflate beyond the limit is refused as
corrupt before more than the limit is allocated, so a small "bomb" cannot exhaust memory.
"""

from __future__ import annotations

import struct

import cramjam

from kafkalite.errors import CorruptMessage, UnsupportedCompressionType

__all__ = [
    "NONE",
    "GZIP",
    "SNAPPY",
    "LZ4",
    "ZSTD",
    "CODEC_NAMES",
    "CODEC_NAME_BY_ID",
    "codec_name",
    "compress",
    "decompress",
    "inflate_limit",
    "INFLATE_FLOOR",
    "INFLATE_RATIO",
    "INFLATE_CEILING",
    "xerial_snappy_encode",
    "lz4_frame_encode",
    "xxh32",
]

NONE = 0
GZIP = 1
SNAPPY = 2
LZ4 = 3
ZSTD = 4

CODEC_NAMES: dict[str, int] = {"none": NONE, "gzip": GZIP, "snappy": SNAPPY, "lz4": LZ4, "zstd": ZSTD}
CODEC_NAME_BY_ID: dict[int, str] = {v: k for k, v in CODEC_NAMES.items()}

_XERIAL_MAGIC = b"\x82SNAPPY\x00"
_XERIAL_HEADER = struct.Struct(">8sii")  # magic, version, min compatible version
_XERIAL_BLOCK = 32 * 1024  # xerial snappy-java's default block size
_INT32 = struct.Struct(">i")
_UINT32_LE = struct.Struct("<I")

_LZ4_MAGIC = b"\x04\x22\x4d\x18"

#: Decompression bounds (see :func:`inflate_limit`): every batch may inflate to the floor, a
#: larger one to RATIO times its size, none beyond the ceiling.
INFLATE_FLOOR = 16 << 20
INFLATE_RATIO = 256
INFLATE_CEILING = 64 << 20
_INFLATE_START = 64 << 10
_LZ4_BLOCK = 64 * 1024
_LZ4_UNCOMPRESSED_FLAG = 0x80000000


def codec_name(codec: int) -> str:
    """Kafka's lower-case name of a codec id ("none", "gzip", ...), or "unknown(<id>)"."""
    return CODEC_NAME_BY_ID.get(codec, f"unknown({codec})")


def compress(codec: int, data) -> bytes:
    """Compress ``data`` (any bytes-like object) with Kafka codec ``codec``.

    Args:
        codec: one of NONE, GZIP, SNAPPY, LZ4, ZSTD.
        data: the uncompressed records blob or inner message set.

    Returns:
        The compressed bytes (``bytes(data)`` for NONE).

    Raises:
        UnsupportedCompressionType: unknown codec id.
    """
    if codec == NONE:
        return bytes(data)
    if codec == GZIP:
        return bytes(cramjam.gzip.compress(data))
    if codec == SNAPPY:
        return bytes(cramjam.snappy.compress_raw(data))
    if codec == LZ4:
        return lz4_frame_encode(data)
    if codec == ZSTD:
        return bytes(cramjam.zstd.compress(data, level=3))
    raise UnsupportedCompressionType(f"unknown compression codec id {codec}")


def inflate_limit(compressed_size: int) -> int:
    """The most bytes :func:`decompress` lets ``compressed_size`` bytes inflate to.

    Kafka streams records out of a compressed batch and sets no bound; a broker that
    decompresses a batch whole (compacted topics, the log cleaner, timestamp lookups) must not
    let a few kilobytes of zstd become gigabytes in memory. Legitimate batches stay far below
    both the floor (:data:`INFLATE_FLOOR`, larger than any client's batch) and the ratio
    (:data:`INFLATE_RATIO`, beyond what real record data compresses to); a "bomb" exceeds both
    and is refused with CORRUPT_MESSAGE, costing at most the limit in memory, briefly.
    """
    return min(INFLATE_CEILING, max(INFLATE_FLOOR, INFLATE_RATIO * compressed_size))


def decompress(codec: int, data, *, max_size: int | None = None) -> bytes:
    """Decompress ``data`` written by any Kafka client with codec ``codec``.

    Args:
        codec: one of NONE, GZIP, SNAPPY, LZ4, ZSTD.
        data: the compressed bytes (any bytes-like object).
        max_size: the largest output accepted; default :func:`inflate_limit` of the input.

    Returns:
        The uncompressed bytes.

    Raises:
        CorruptMessage: the data is not valid for the codec, or would inflate beyond
            ``max_size`` (a decompression bomb; nothing larger is ever allocated).
        UnsupportedCompressionType: unknown codec id.
    """
    limit = inflate_limit(len(data)) if max_size is None else max_size
    try:
        if codec == NONE:
            return bytes(data)
        if codec == GZIP:
            return _inflate(cramjam.gzip.decompress_into, data, limit, codec)
        if codec == SNAPPY:
            if bytes(data[:8]) == _XERIAL_MAGIC:
                return _xerial_snappy_decode(memoryview(data), limit)
            _check_snappy_length(data, limit)
            return bytes(cramjam.snappy.decompress_raw(data))
        if codec == LZ4:
            return _lz4_frame_decode(data, limit)
        if codec == ZSTD:
            return _inflate(cramjam.zstd.decompress_into, data, limit, codec)
    except cramjam.DecompressionError as exc:
        raise CorruptMessage(f"invalid {codec_name(codec)} data: {exc}") from None
    raise UnsupportedCompressionType(f"unknown compression codec id {codec}")


def _too_big(codec: int, limit: int) -> CorruptMessage:
    return CorruptMessage(f"{codec_name(codec)} data inflates beyond {limit} bytes "
                          f"(a decompression bomb?)")


def _inflate(decompress_into, data, limit: int, codec: int) -> bytes:
    """Decompress into a buffer that grows 4x at a time up to ``limit`` + 1 bytes: output
    that fills ``limit`` + 1 bytes is too big. The buffer starts small, so ordinary batches
    cost one pass."""
    size = min(limit + 1, max(_INFLATE_START, 4 * len(data)))
    while True:
        out = bytearray(size)
        try:
            n = decompress_into(data, out)
        except cramjam.DecompressionError as exc:
            if "whole buffer" not in str(exc):
                raise
            if size > limit:
                raise _too_big(codec, limit) from None
            del out
            size = min(limit + 1, size * 4)
            continue
        if n > limit:   # it filled the limit + 1 bytes
            raise _too_big(codec, limit)
        del out[n:]
        return bytes(out)


def _check_snappy_length(block, limit: int) -> None:
    # A raw snappy block starts with its uncompressed length: check it before allocating.
    if cramjam.snappy.decompress_raw_len(block) > limit:
        raise _too_big(SNAPPY, limit)


def xerial_snappy_encode(data, *, block_size: int = _XERIAL_BLOCK) -> bytes:
    """The xerial snappy-java framing Java clients write (header + length-prefixed raw blocks).

    Not used by :func:`compress`; kept for tests and for peers that want the Java layout.
    """
    view = memoryview(data)
    out = [_XERIAL_HEADER.pack(_XERIAL_MAGIC, 1, 1)]
    for start in range(0, len(view), block_size):
        block = bytes(cramjam.snappy.compress_raw(view[start:start + block_size]))
        out.append(_INT32.pack(len(block)))
        out.append(block)
    return b"".join(out)


def _xerial_snappy_decode(view: memoryview, limit: int) -> bytes:
    # The version fields are ignored: some producers write them little-endian.
    pos = _XERIAL_HEADER.size
    end = len(view)
    out = []
    total = 0
    while pos < end:
        if pos + 4 > end:
            raise CorruptMessage("truncated xerial snappy block length")
        (length,) = _INT32.unpack_from(view, pos)
        pos += 4
        if length < 0 or pos + length > end:
            raise CorruptMessage(f"xerial snappy block of {length} bytes overruns the data")
        block = view[pos:pos + length]
        total += cramjam.snappy.decompress_raw_len(block)
        if total > limit:
            raise _too_big(SNAPPY, limit)
        out.append(bytes(cramjam.snappy.decompress_raw(block)))
        pos += length
    return b"".join(out)


def lz4_frame_encode(data, *, broken_header_checksum: bool = False) -> bytes:
    """One LZ4 frame laid out as Kafka's Java producer writes it.

    Frame: magic ``04 22 4d 18`` | FLG 0x60 | BD 0x40 | HC | blocks | end mark ``00000000``.
    Each block is ``uint32 LE size`` (high bit set = stored uncompressed) + at most 64 KiB of
    input compressed independently.

    Args:
        broken_header_checksum: write the pre-0.10 Kafka header checksum (over magic + descriptor)
            — only to produce test data for legacy magic-0 readers.
    """
    view = memoryview(data)
    descriptor = b"\x60\x40"
    hc_input = _LZ4_MAGIC + descriptor if broken_header_checksum else descriptor
    out = [_LZ4_MAGIC, descriptor, bytes(((xxh32(hc_input) >> 8) & 0xFF,))]
    for start in range(0, len(view), _LZ4_BLOCK):
        chunk = view[start:start + _LZ4_BLOCK]
        block = bytes(cramjam.lz4.compress_block(chunk, store_size=False))
        if len(block) >= len(chunk):
            out.append(_UINT32_LE.pack(len(chunk) | _LZ4_UNCOMPRESSED_FLAG))
            out.append(bytes(chunk))
        else:
            out.append(_UINT32_LE.pack(len(block)))
            out.append(block)
    out.append(b"\x00\x00\x00\x00")
    return b"".join(out)


def _lz4_frame_decode(data, limit: int) -> bytes:
    try:
        return _inflate(cramjam.lz4.decompress_into, data, limit, LZ4)
    except cramjam.DecompressionError:
        repaired = _repair_kafka_lz4_header(bytes(data))
        if repaired is None:
            raise
        return _inflate(cramjam.lz4.decompress_into, repaired, limit, LZ4)


def _repair_kafka_lz4_header(frame: bytes) -> bytes | None:
    """Fix the header checksum pre-0.10 Kafka wrote over magic + descriptor (KAFKA-3160).

    Returns the frame with a correct HC byte, or None when the HC is not that broken one (so the
    original error stands). The descriptor is FLG, BD, then an 8-byte content size if FLG bit 3 is
    set and a 4-byte dictionary id if FLG bit 0 is set; HC follows it.
    """
    if len(frame) < 7 or frame[:4] != _LZ4_MAGIC:
        return None
    flg = frame[4]
    hc_pos = 6 + (8 if flg & 0x08 else 0) + (4 if flg & 0x01 else 0)
    if hc_pos >= len(frame):
        return None
    if frame[hc_pos] != (xxh32(frame[:hc_pos]) >> 8) & 0xFF:
        return None
    correct = (xxh32(frame[4:hc_pos]) >> 8) & 0xFF
    return frame[:hc_pos] + bytes((correct,)) + frame[hc_pos + 1:]


_P1 = 2654435761
_P2 = 2246822519
_P3 = 3266489917
_P4 = 668265263
_P5 = 374761393
_M32 = 0xFFFFFFFF


def _rotl(x: int, r: int) -> int:
    return ((x << r) | (x >> (32 - r))) & _M32


def xxh32(data: bytes, seed: int = 0) -> int:
    """XXH32 of a short input — only used for LZ4 frame header checksums (a few bytes)."""
    n = len(data)
    pos = 0
    if n >= 16:
        v1 = (seed + _P1 + _P2) & _M32
        v2 = (seed + _P2) & _M32
        v3 = seed & _M32
        v4 = (seed - _P1) & _M32
        while pos + 16 <= n:
            l1, l2, l3, l4 = struct.unpack_from("<4I", data, pos)
            v1 = (_rotl((v1 + l1 * _P2) & _M32, 13) * _P1) & _M32
            v2 = (_rotl((v2 + l2 * _P2) & _M32, 13) * _P1) & _M32
            v3 = (_rotl((v3 + l3 * _P2) & _M32, 13) * _P1) & _M32
            v4 = (_rotl((v4 + l4 * _P2) & _M32, 13) * _P1) & _M32
            pos += 16
        acc = (_rotl(v1, 1) + _rotl(v2, 7) + _rotl(v3, 12) + _rotl(v4, 18)) & _M32
    else:
        acc = (seed + _P5) & _M32
    acc = (acc + n) & _M32
    while pos + 4 <= n:
        (lane,) = _UINT32_LE.unpack_from(data, pos)
        acc = (_rotl((acc + lane * _P3) & _M32, 17) * _P4) & _M32
        pos += 4
    while pos < n:
        acc = (_rotl((acc + data[pos] * _P5) & _M32, 11) * _P1) & _M32
        pos += 1
    acc ^= acc >> 15
    acc = (acc * _P2) & _M32
    acc ^= acc >> 13
    acc = (acc * _P3) & _M32
    acc ^= acc >> 16
    return acc
