import struct

import crc32c
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kafkalite.compression import xerial_snappy_encode
from kafkalite.errors import CorruptMessage
from kafkalite.records.batch import RecordBatchView
from kafkalite.records.builder import build_batch, build_control_batch, encode_record
from kafkalite.records.legacy import build_legacy_message_set
from kafkalite.records.record import Header, Record, decode_records, iter_records

from .samples import CODECS, TS, VERIFIED_V2, expected, kafka_python_batch, sample_records


def test_decode_verified_example():
    assert decode_records(RecordBatchView(VERIFIED_V2)) == [Record(0, TS, None, b"hi", (), 0)]


def test_record_defaults():
    record = Record(1, TS, None, b"v")
    assert record.headers == ()
    assert record.timestamp_type == 0


@pytest.mark.parametrize("codec", CODECS)
def test_decode_kafka_python_batches(kafka_python, codec):
    records = sample_records()
    data = kafka_python_batch(kafka_python, codec, records)
    view = RecordBatchView(data)
    assert view.compression == codec  # compressible payload: kafka-python kept the codec
    assert view.is_valid()
    assert decode_records(view) == expected(records)


def test_decode_kafka_python_idempotent_transactional_batch(kafka_python):
    data = kafka_python_batch(kafka_python, 1, sample_records(3), producer=(1234, 5, 17),
                              transactional=True)
    view = RecordBatchView(data)
    assert (view.producer_id, view.producer_epoch, view.base_sequence) == (1234, 5, 17)
    assert view.is_transactional
    assert decode_records(view) == expected(sample_records(3))


def test_decode_xerial_snappy_batch_as_java_writes_it():
    records = sample_records(20)
    plain = RecordBatchView(build_batch(records))
    blob = xerial_snappy_encode(bytes(plain.records_data), block_size=256)
    buf = bytearray(bytes(plain.buffer[:61]) + blob)
    struct.pack_into(">i", buf, 8, len(buf) - 12)
    struct.pack_into(">h", buf, 21, 2)
    view = RecordBatchView(buf)
    view.refresh_crc()
    assert decode_records(view) == expected(records)


def test_absolute_offsets_and_log_append_time():
    buf = bytearray(build_batch(sample_records(4)))
    view = RecordBatchView(buf)
    view.set_base_offset(1000)
    view.set_log_append_time(TS + 99_999)
    decoded = decode_records(view)
    assert [r.offset for r in decoded] == [1000, 1001, 1002, 1003]
    assert {r.timestamp for r in decoded} == {TS + 99_999}
    assert {r.timestamp_type for r in decoded} == {1}


def test_explicit_base_timestamp_gives_negative_deltas():
    records = [(None, b"a", (), TS - 10), (None, b"b", (), TS + 10)]
    view = RecordBatchView(build_batch(records, base_timestamp=TS))
    assert view.base_timestamp == TS
    assert view.max_timestamp == TS + 10
    assert [r.timestamp for r in decode_records(view)] == [TS - 10, TS + 10]


def test_control_batch_decodes_as_is():
    view = RecordBatchView(build_control_batch(0, producer_id=3, producer_epoch=1,
                                               coordinator_epoch=9, timestamp_ms=TS))
    assert view.is_control
    [record] = decode_records(view)
    assert record.key == b"\x00\x00\x00\x00"
    assert record.value == b"\x00\x00\x00\x00\x00\x09"


def test_iter_records_skips_control_batches_by_default():
    data = (build_batch([(None, b"a", (), TS)], producer_id=3, producer_epoch=1, base_sequence=0,
                        is_transactional=True)
            + build_control_batch(1, producer_id=3, producer_epoch=1, coordinator_epoch=0,
                                  timestamp_ms=TS, base_offset=1)
            + build_batch([(None, b"b", (), TS)], base_offset=2))
    assert [r.offset for r in iter_records(data)] == [0, 2]
    assert [r.offset for r in iter_records(data, skip_control=False)] == [0, 1, 2]


def test_iter_records_tolerates_trailing_partial_batch():
    first = build_batch([(None, b"a", (), TS)])
    second = build_batch([(None, b"b", (), TS)], base_offset=1)
    assert [r.value for r in iter_records(first + second[:-3])] == [b"a"]


def test_iter_records_mixed_legacy_and_v2():
    data = (build_legacy_message_set([(None, b"m0", (), TS)], magic=0)
            + build_legacy_message_set([(b"k", b"m1", (), TS)], magic=1, base_offset=1)
            + build_batch([(None, b"v2", (), TS)], base_offset=2))
    assert [(r.offset, r.value, r.timestamp) for r in iter_records(data, check_crc=True)] == [
        (0, b"m0", -1), (1, b"m1", TS), (2, b"v2", TS),
    ]


def test_iter_records_check_crc():
    data = bytearray(build_batch([(None, b"a", (), TS)]))
    data[-2] ^= 1
    assert len(list(iter_records(bytes(data)))) == 1
    with pytest.raises(CorruptMessage, match="crc"):
        list(iter_records(bytes(data), check_crc=True))


def test_iter_records_unknown_magic():
    data = bytearray(VERIFIED_V2)
    data[16] = 7
    with pytest.raises(CorruptMessage, match="magic"):
        list(iter_records(bytes(data)))


def test_header_key_with_invalid_utf8_is_replaced_like_java():
    body = encode_record(0, 0, None, b"v", [(b"\xff\xfe", b"x")])
    view = rebuilt_with_records(body, count=1)
    [record] = decode_records(view)
    assert record.headers == (Header("\ufffd\ufffd", b"x"),)


def rebuilt_with_records(blob: bytes, *, count: int, last_offset_delta: int | None = None) -> RecordBatchView:
    """A valid uncompressed batch header around arbitrary record bytes."""
    header = bytearray(build_batch([])[:61])
    buf = header + blob
    struct.pack_into(">i", buf, 8, len(buf) - 12)
    struct.pack_into(">i", buf, 23, count - 1 if last_offset_delta is None else last_offset_delta)
    struct.pack_into(">i", buf, 57, count)
    buf[17:21] = crc32c.crc32c(bytes(buf[21:])).to_bytes(4, "big")
    return RecordBatchView(buf)


@pytest.mark.parametrize(("blob", "count"), [
    (encode_record(0, 0, b"k", b"v"), 2),                       # fewer records than declared
    (encode_record(0, 0, b"k", b"v") * 2, 1),                   # trailing bytes
    (encode_record(0, 0, b"k", b"v")[:-1], 1),                  # record overruns the data
    (b"\x00", 1),                                               # zero record length
    (b"\x0c\x00\x00\x00\x20kk\x02v\x00\x00\x00", 1),            # key length overruns record
    (b"\x08\x00\x00\x00\x01\x01\x03", 1),                       # negative header count
    (b"\x0a\x00\x00\x00\x01\x01\x02\x01\x01", 1),               # null header key
    (b"\x10\x00" + b"\xff" * 12, 1),                            # varint too long
    (encode_record(0, 0, b"k", b"v")[:1] + b"\x00\x00\x00\x02k\x02v\x00\x00", 1),  # length mismatch
])
def test_malformed_records_are_corrupt_message(blob, count):
    with pytest.raises(CorruptMessage):
        decode_records(rebuilt_with_records(blob, count=count))


def test_negative_count_is_corrupt():
    with pytest.raises(CorruptMessage):
        decode_records(rebuilt_with_records(b"", count=-1, last_offset_delta=0))


def test_compressed_garbage_is_corrupt():
    view = rebuilt_with_records(b"not gzip at all", count=1)
    view.buffer[22] = 1  # gzip
    with pytest.raises(CorruptMessage):
        decode_records(view)


def test_decode_refuses_non_v2():
    buf = bytearray(VERIFIED_V2)
    buf[16] = 1
    with pytest.raises(CorruptMessage):
        decode_records(RecordBatchView(buf))


record_strategy = st.tuples(
    st.none() | st.binary(max_size=40),
    st.none() | st.binary(max_size=200),
    st.lists(st.tuples(st.text(max_size=10), st.none() | st.binary(max_size=20)), max_size=3),
    st.integers(0, 2**41),
)


@settings(max_examples=150, deadline=None)
@given(records=st.lists(record_strategy, min_size=1, max_size=20), codec=st.sampled_from(CODECS),
       base_offset=st.integers(0, 2**62))
def test_round_trip_property(records, codec, base_offset):
    data = build_batch(records, compression=codec, base_offset=base_offset)
    view = RecordBatchView(data)
    assert view.is_valid()
    assert decode_records(view) == expected(records, base_offset)
    assert list(iter_records(data)) == expected(records, base_offset)
