import gzip
import importlib.util
import random
import struct

import cramjam
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kafkalite import compression
from kafkalite.compression import (
    CODEC_NAME_BY_ID,
    CODEC_NAMES,
    GZIP,
    LZ4,
    NONE,
    SNAPPY,
    ZSTD,
    compress,
    decompress,
    lz4_frame_encode,
    xerial_snappy_encode,
    xxh32,
)
from kafkalite.errors import CorruptMessage, UnsupportedCompressionType

ALL_CODECS = [NONE, GZIP, SNAPPY, LZ4, ZSTD]
PAYLOAD = b"".join(b"record %d, some repetitive value text; " % i for i in range(5000))


def test_codec_ids_and_names():
    assert (NONE, GZIP, SNAPPY, LZ4, ZSTD) == (0, 1, 2, 3, 4)
    assert CODEC_NAMES == {"none": 0, "gzip": 1, "snappy": 2, "lz4": 3, "zstd": 4}
    assert CODEC_NAME_BY_ID == {0: "none", 1: "gzip", 2: "snappy", 3: "lz4", 4: "zstd"}
    assert compression.codec_name(7) == "unknown(7)"


@pytest.mark.parametrize("codec", ALL_CODECS)
@pytest.mark.parametrize("data", [b"", b"x", PAYLOAD])
def test_round_trip_returns_bytes(codec, data):
    packed = compress(codec, memoryview(data))
    assert type(packed) is bytes
    out = decompress(codec, memoryview(packed))
    assert type(out) is bytes
    assert out == data


@settings(max_examples=50, deadline=None)
@given(codec=st.sampled_from(ALL_CODECS), data=st.binary(max_size=3000))
def test_round_trip_property(codec, data):
    assert decompress(codec, compress(codec, data)) == data


def test_unknown_codec():
    with pytest.raises(UnsupportedCompressionType):
        compress(5, b"x")
    with pytest.raises(UnsupportedCompressionType):
        decompress(7, b"x")


@pytest.mark.parametrize("codec", [GZIP, SNAPPY, LZ4, ZSTD])
def test_garbage_is_corrupt_message(codec):
    with pytest.raises(CorruptMessage):
        decompress(codec, b"\x01\x02garbage that is not compressed data")


@pytest.mark.parametrize("codec", [GZIP, LZ4, ZSTD])
def test_truncated_is_corrupt_message(codec):
    packed = compress(codec, PAYLOAD)
    with pytest.raises(CorruptMessage):
        decompress(codec, packed[: len(packed) // 2])


def test_gzip_reads_multiple_members():
    assert decompress(GZIP, gzip.compress(b"abc") + gzip.compress(b"def")) == b"abcdef"


def test_gzip_reads_stdlib_output():
    assert decompress(GZIP, gzip.compress(PAYLOAD, compresslevel=9)) == PAYLOAD


def test_snappy_writes_raw_block_like_librdkafka():
    packed = compress(SNAPPY, PAYLOAD)
    assert not packed.startswith(b"\x82SNAPPY\x00")
    assert bytes(cramjam.snappy.decompress_raw(packed)) == PAYLOAD


def test_snappy_reads_xerial_framing():
    framed = xerial_snappy_encode(PAYLOAD, block_size=1024)
    assert framed[:16] == b"\x82SNAPPY\x00" + struct.pack(">ii", 1, 1)
    assert decompress(SNAPPY, framed) == PAYLOAD


def test_snappy_reads_hand_built_xerial_stream_with_little_endian_versions():
    # Some producers write the version fields little-endian; only the magic matters.
    blocks = [b"first block ", b"second block"]
    stream = b"\x82SNAPPY\x00" + struct.pack("<ii", 1, 1)
    for block in blocks:
        raw = bytes(cramjam.snappy.compress_raw(block))
        stream += struct.pack(">i", len(raw)) + raw
    assert decompress(SNAPPY, stream) == b"".join(blocks)


def test_snappy_xerial_truncated_block_is_corrupt():
    framed = xerial_snappy_encode(PAYLOAD)
    with pytest.raises(CorruptMessage):
        decompress(SNAPPY, framed[:-3])


def test_lz4_frame_header_is_kafkas():
    packed = compress(LZ4, PAYLOAD)
    # magic, FLG 0x60 (v1, independent blocks, no checksums), BD 0x40 (64 KiB), HC
    assert packed[:7] == bytes.fromhex("04224d18604082")
    assert packed.endswith(b"\x00\x00\x00\x00")


def test_lz4_incompressible_block_is_stored():
    data = random.Random(1).randbytes(5000)
    packed = lz4_frame_encode(data)
    (block_size,) = struct.unpack_from("<I", packed, 7)
    assert block_size == 0x80000000 | len(data)
    assert decompress(LZ4, packed) == data


def test_lz4_frame_readable_by_reference_library():
    lz4_frame = pytest.importorskip("lz4.frame")
    assert lz4_frame.decompress(compress(LZ4, PAYLOAD)) == PAYLOAD


def test_lz4_reads_other_frame_layouts():
    # cramjam's own frames: linked blocks, block and content checksums.
    assert decompress(LZ4, bytes(cramjam.lz4.compress(PAYLOAD))) == PAYLOAD


def test_lz4_tolerates_pre_0_10_kafka_header_checksum():
    broken = lz4_frame_encode(PAYLOAD, broken_header_checksum=True)
    assert broken[6] == (xxh32(bytes.fromhex("04224d186040")) >> 8) & 0xFF
    assert broken[6] != 0x82
    assert decompress(LZ4, broken) == PAYLOAD


def test_lz4_wrong_header_checksum_that_is_not_kafkas_stays_corrupt():
    packed = bytearray(compress(LZ4, PAYLOAD))
    packed[6] ^= 0x55
    with pytest.raises(CorruptMessage):
        decompress(LZ4, bytes(packed))


def test_zstd_reads_concatenated_frames():
    two = bytes(cramjam.zstd.compress(b"abc")) + bytes(cramjam.zstd.compress(b"def"))
    assert decompress(ZSTD, two) == b"abcdef"


@pytest.mark.skipif(importlib.util.find_spec("zstandard") is None, reason="zstandard not installed")
def test_zstd_reads_frames_without_content_size():
    import zstandard

    packed = zstandard.ZstdCompressor(write_content_size=False).compress(PAYLOAD)
    assert decompress(ZSTD, packed) == PAYLOAD


def test_xxh32_reference_vectors():
    assert xxh32(b"") == 0x02CC5D05
    assert xxh32(b"a") == 0x550D7456
    assert xxh32(b"abc") == 0x32D153FF
    assert xxh32(b"Nobody inspects the spammish repetition") == 0xE2293B2F
