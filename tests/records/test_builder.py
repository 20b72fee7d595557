import cramjam
import pytest

from kafkalite.errors import InvalidRecord, UnsupportedCompressionType
from kafkalite.records.batch import RecordBatchView
from kafkalite.records.builder import build_batch, build_control_batch, encode_record
from kafkalite.records.control import ControlType, parse_control_record
from kafkalite.records.record import Header, decode_records
from kafkalite.records.validate import validate_batches

from .samples import CODECS, TS, VERIFIED_V2, expected, kafka_python_batch, sample_records


def test_verified_example_is_byte_exact():
    # The §4 example was produced with partitionLeaderEpoch 0; the field is outside the CRC.
    assert build_batch([(None, b"hi", (), TS)], partition_leader_epoch=0) == VERIFIED_V2


def test_defaults_are_a_producers():
    view = RecordBatchView(build_batch([(None, b"hi", (), TS)]))
    assert view.partition_leader_epoch == -1
    assert (view.producer_id, view.producer_epoch, view.base_sequence) == (-1, -1, -1)
    assert view.crc == 0xBBCC4115  # same CRC as the verified example
    assert view.is_valid()


def test_encode_record_matches_verified_record():
    assert encode_record(0, 0, None, b"hi") == bytes.fromhex("100000000104686900")


def test_header_objects_and_pairs_encode_alike():
    as_pairs = encode_record(1, 5, b"k", b"v", [("h", b"1"), ("n", None)])
    as_objects = encode_record(1, 5, b"k", b"v", [Header("h", b"1"), Header("n", None)])
    assert as_pairs == as_objects


def test_fields_and_attributes():
    records = [(None, b"a", (), TS + 3), (None, b"b", (), TS), (None, b"c", (), TS + 9)]
    view = RecordBatchView(build_batch(
        records, base_offset=500, compression=1, producer_id=77, producer_epoch=4,
        base_sequence=10, partition_leader_epoch=6, timestamp_type=1, is_transactional=True))
    assert view.base_offset == 500
    assert view.partition_leader_epoch == 6
    assert view.attributes == 0x19
    assert view.last_offset_delta == 2
    assert view.records_count == 3
    assert view.base_timestamp == TS + 3
    assert view.max_timestamp == TS + 9
    assert (view.producer_id, view.producer_epoch, view.base_sequence) == (77, 4, 10)
    assert view.last_sequence == 12
    assert view.is_valid()


def test_empty_batch():
    view = RecordBatchView(build_batch([]))
    assert view.size_in_bytes == 61
    assert (view.records_count, view.last_offset_delta) == (0, -1)
    assert (view.base_timestamp, view.max_timestamp) == (-1, -1)
    assert view.is_valid()
    assert decode_records(view) == []


def test_uncompressed_bytes_equal_kafka_pythons(kafka_python):
    records = sample_records(30)
    theirs = kafka_python_batch(kafka_python, 0, records, producer=(5, 1, 100))
    ours = build_batch(records, partition_leader_epoch=0, producer_id=5, producer_epoch=1,
                       base_sequence=100)
    assert ours == theirs


@pytest.mark.parametrize("codec", CODECS)
def test_kafka_python_decodes_ours(kafka_python, codec):
    records = sample_records()
    data = build_batch(records, compression=codec, producer_id=9, producer_epoch=2,
                       base_sequence=0, base_offset=40)
    batch = kafka_python.DefaultRecordBatch(data)
    assert batch.validate_crc()
    assert batch.compression_type == codec
    assert (batch.producer_id, batch.producer_epoch, batch.base_sequence) == (9, 2, 0)
    decoded = [(r.offset, r.timestamp, r.key, r.value, [tuple(h) for h in r.headers])
               for r in batch]
    assert decoded == [(40 + i, ts, key, value, list(headers))
                       for i, (key, value, headers, ts) in enumerate(records)]


@pytest.mark.parametrize("codec", CODECS)
def test_round_trip_through_validate_and_decode(codec):
    records = sample_records(10)
    [view] = validate_batches(build_batch(records, compression=codec), max_batch_bytes=1 << 20,
                              require_single_batch=True)
    assert decode_records(view) == expected(records)


def test_raw_snappy_blob_like_librdkafka(kafka_python):
    records = sample_records(10)
    data = build_batch(records, compression=2)
    blob = bytes(RecordBatchView(data).records_data)
    assert not blob.startswith(b"\x82SNAPPY")
    plain = bytes(RecordBatchView(build_batch(records)).records_data)
    assert bytes(cramjam.snappy.decompress_raw(blob)) == plain
    assert [r.value for r in kafka_python.DefaultRecordBatch(data)] == [r[1] for r in records]


@pytest.mark.parametrize("control_type", [ControlType.COMMIT, ControlType.ABORT])
def test_control_batch(control_type):
    data = build_control_batch(control_type, producer_id=1234, producer_epoch=3,
                               coordinator_epoch=17, timestamp_ms=TS, base_offset=8,
                               partition_leader_epoch=2)
    view = RecordBatchView(data)
    assert view.is_valid()
    assert view.is_control and view.is_transactional
    assert view.attributes == 0x30
    assert (view.producer_id, view.producer_epoch, view.base_sequence) == (1234, 3, -1)
    assert (view.base_offset, view.partition_leader_epoch, view.records_count) == (8, 2, 1)
    [record] = decode_records(view)
    assert record.key == b"\x00\x00" + int(control_type).to_bytes(2, "big")
    assert record.value == b"\x00\x00" + (17).to_bytes(4, "big")
    marker = parse_control_record(record)
    assert (marker.version, marker.type, marker.coordinator_epoch) == (0, control_type, 17)
    with pytest.raises(InvalidRecord):
        validate_batches(data, max_batch_bytes=1 << 20)


def test_kafka_python_reads_our_control_batch(kafka_python):
    data = build_control_batch(ControlType.ABORT, producer_id=1, producer_epoch=0,
                               coordinator_epoch=5, timestamp_ms=TS)
    batch = kafka_python.DefaultRecordBatch(data)
    assert batch.is_control_batch
    [record] = list(batch)
    assert record.abort and not record.commit


@pytest.mark.parametrize("codec", [5, 8, -1])
def test_unknown_codec_is_refused(codec):
    with pytest.raises(UnsupportedCompressionType):
        build_batch([(None, b"x", (), TS)], compression=codec)


def test_unknown_codec_in_attributes_is_refused_on_decode():
    buf = bytearray(build_batch([(None, b"x", (), TS)]))
    view = RecordBatchView(buf)
    buf[22] = 6
    with pytest.raises(UnsupportedCompressionType):
        decode_records(view)
