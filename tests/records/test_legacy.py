import struct
import zlib

import pytest

from kafkalite.compression import GZIP, LZ4, NONE, SNAPPY, lz4_frame_encode
from kafkalite.errors import CorruptMessage
from kafkalite.records.legacy import build_legacy_message_set, decode_legacy_entry, encode_message
from kafkalite.records.record import Record, iter_records

from .samples import TS, VERIFIED_V0, VERIFIED_V1

LEGACY_CODECS = [NONE, GZIP, SNAPPY, LZ4]


def plain(n=5):
    return [(b"k%d" % i if i % 2 else None, b"value %d " % i * 10, (), TS + i) for i in range(n)]


def test_verified_examples_are_byte_exact():
    assert build_legacy_message_set([(None, b"hi", (), TS)], magic=0) == VERIFIED_V0
    assert build_legacy_message_set([(None, b"hi", (), TS)], magic=1) == VERIFIED_V1
    assert len(VERIFIED_V0) == 28 and len(VERIFIED_V1) == 36


def test_decode_verified_examples():
    assert decode_legacy_entry(memoryview(VERIFIED_V0), check_crc=True) == [Record(0, -1, None, b"hi")]
    assert decode_legacy_entry(memoryview(VERIFIED_V1), check_crc=True) == [Record(0, TS, None, b"hi")]


@pytest.mark.parametrize("magic", [0, 1])
@pytest.mark.parametrize("codec", LEGACY_CODECS)
def test_round_trip(magic, codec):
    records = plain()
    data = build_legacy_message_set(records, magic=magic, compression=codec, base_offset=100)
    decoded = list(iter_records(data, check_crc=True))
    assert [r.offset for r in decoded] == [100, 101, 102, 103, 104]
    assert [(r.key, r.value) for r in decoded] == [(k, v) for k, v, _h, _t in records]
    assert [r.timestamp for r in decoded] == ([-1] * 5 if magic == 0 else [t for *_x, t in records])


def test_magic1_wrapper_offsets_are_relative_to_the_last_inner_message():
    data = build_legacy_message_set(plain(3), magic=1, compression=GZIP, base_offset=10)
    assert struct.unpack_from(">q", data, 0)[0] == 12  # wrapper carries the last offset
    assert [r.offset for r in iter_records(data)] == [10, 11, 12]


def test_magic0_lz4_uses_pre_0_10_header_checksum_and_still_decodes():
    data = build_legacy_message_set(plain(3), magic=0, compression=LZ4)
    value_at = 12 + 4 + 2 + 4 + 4
    assert data[value_at:value_at + 7] != lz4_frame_encode(b"")[:7]
    assert [r.offset for r in iter_records(data)] == [0, 1, 2]


def test_magic1_log_append_time_applies_wrapper_timestamp():
    data = build_legacy_message_set(plain(3), magic=1, compression=GZIP, timestamp_type=1)
    decoded = list(iter_records(data))
    assert {r.timestamp for r in decoded} == {TS + 2}
    assert {r.timestamp_type for r in decoded} == {1}


def test_headers_rejected_by_encoder():
    with pytest.raises(ValueError):
        build_legacy_message_set([(None, b"v", [("h", b"x")], TS)], magic=1)
    with pytest.raises(ValueError):
        build_legacy_message_set([], magic=2)


def test_crc_mismatch():
    data = bytearray(VERIFIED_V1)
    data[-1] ^= 1
    assert decode_legacy_entry(memoryview(bytes(data)))[0].value == b"hh"
    with pytest.raises(CorruptMessage, match="crc"):
        decode_legacy_entry(memoryview(bytes(data)), check_crc=True)


@pytest.mark.parametrize("cut", [1, 3, 6])
def test_truncated_message_is_corrupt(cut):
    data = bytearray(VERIFIED_V1[:-cut])
    struct.pack_into(">i", data, 8, len(data) - 12)
    with pytest.raises(CorruptMessage):
        decode_legacy_entry(memoryview(bytes(data)))


def test_trailing_bytes_inside_message_are_corrupt():
    data = bytearray(VERIFIED_V0 + b"\x00")
    struct.pack_into(">i", data, 8, len(data) - 12)
    with pytest.raises(CorruptMessage):
        decode_legacy_entry(memoryview(bytes(data)))


def test_nested_compression_is_corrupt():
    inner = build_legacy_message_set(plain(2), magic=1, compression=GZIP)
    from kafkalite.compression import compress

    wrapper = encode_message(1, 1, GZIP, TS, None, compress(GZIP, inner))
    with pytest.raises(CorruptMessage, match="nested"):
        list(iter_records(wrapper))


def test_wrapper_with_null_value_or_truncated_inner_set_is_corrupt():
    with pytest.raises(CorruptMessage):
        decode_legacy_entry(memoryview(encode_message(0, 1, GZIP, TS, None, None)))
    inner = build_legacy_message_set(plain(2), magic=1)
    from kafkalite.compression import compress

    wrapper = encode_message(1, 1, GZIP, TS, None, compress(GZIP, inner[:-3]))
    with pytest.raises(CorruptMessage):
        decode_legacy_entry(memoryview(wrapper))


def test_encode_message_crc_is_ieee():
    entry = encode_message(0, 0, 0, 0, None, b"hi")
    assert struct.unpack_from(">I", entry, 12)[0] == zlib.crc32(entry[16:]) == 0xFD6EBDDB


def kafka_python_legacy(kp, magic, codec, records):
    builder = kp.LegacyRecordBatchBuilder(magic=magic, compression_type=codec, batch_size=1 << 20)
    for offset, (key, value, _headers, ts) in enumerate(records):
        builder.append(offset, ts, key, value)
    data = bytearray(builder.build())
    if codec and magic == 1:
        struct.pack_into(">q", data, 0, len(records) - 1)  # what a broker assigns the wrapper
    return bytes(data)


@pytest.mark.parametrize("magic", [0, 1])
@pytest.mark.parametrize("codec", LEGACY_CODECS)
def test_decode_kafka_python_legacy(kafka_python, magic, codec):
    records = plain()
    data = kafka_python_legacy(kafka_python, magic, codec, records)
    decoded = list(iter_records(data, check_crc=True))
    assert [(r.offset, r.key, r.value) for r in decoded] == [
        (i, k, v) for i, (k, v, _h, _t) in enumerate(records)
    ]
    if magic == 1:
        assert [r.timestamp for r in decoded] == [t for *_x, t in records]


@pytest.mark.parametrize("magic", [0, 1])
@pytest.mark.parametrize("codec", [NONE, GZIP, SNAPPY, LZ4])
def test_kafka_python_decodes_ours(kafka_python, magic, codec):
    records = plain()
    data = build_legacy_message_set(records, magic=magic, compression=codec)
    theirs = [(r.offset, r.key, r.value)
              for batch in kafka_python.MemoryRecords(data) for r in batch]
    assert theirs == [(i, k, v) for i, (k, v, _h, _t) in enumerate(records)]
