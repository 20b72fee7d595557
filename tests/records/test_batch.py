import crc32c
import pytest

from kafkalite.errors import CorruptMessage
from kafkalite.records.batch import (
    HEADER,
    LOG_OVERHEAD,
    MAGIC_V2,
    RECORD_BATCH_OVERHEAD,
    RecordBatchView,
    iter_batches,
    iter_log_entries,
)
from kafkalite.records.builder import build_batch, build_control_batch
from kafkalite.records.legacy import build_legacy_message_set

from .samples import TS, VERIFIED_V2



def writable(data: bytes) -> memoryview:
    return memoryview(bytearray(data))


def test_constants():
    assert RECORD_BATCH_OVERHEAD == 61 == HEADER.size
    assert LOG_OVERHEAD == 12
    assert MAGIC_V2 == 2


def test_crc32c_check_value():
    assert crc32c.crc32c(b"123456789") == 0xE3069283


def test_verified_example_fields():
    view = RecordBatchView(memoryview(VERIFIED_V2))
    assert len(VERIFIED_V2) == 70
    assert view.base_offset == 0
    assert view.batch_length == 0x3A
    assert view.size_in_bytes == 70
    assert view.partition_leader_epoch == 0
    assert view.magic == 2
    assert view.crc == 0xBBCC4115 == view.compute_crc()
    assert view.attributes == 0
    assert view.compression == 0
    assert view.timestamp_type == 0
    assert not view.is_transactional
    assert not view.is_control
    assert not view.has_delete_horizon
    assert view.last_offset_delta == 0
    assert view.base_timestamp == TS
    assert view.max_timestamp == TS
    assert view.producer_id == -1
    assert not view.has_producer_id
    assert view.producer_epoch == -1
    assert view.base_sequence == -1
    assert view.last_sequence == -1
    assert view.records_count == 1
    assert view.last_offset == 0
    assert view.next_offset == 1
    assert view.is_valid()
    assert bytes(view.records_data) == bytes.fromhex("100000000104686900")
    assert bytes(view.buffer) == VERIFIED_V2


def test_view_accepts_bytes_and_cuts_to_declared_size():
    view = RecordBatchView(VERIFIED_V2 + b"trailing")
    assert view.size_in_bytes == 70
    assert view.is_valid()


@pytest.mark.parametrize("data", [VERIFIED_V2[:60], VERIFIED_V2[:69], b""])
def test_view_over_short_buffer_is_corrupt(data):
    with pytest.raises(CorruptMessage):
        RecordBatchView(memoryview(data))


def test_view_with_length_below_header_is_corrupt():
    data = bytearray(VERIFIED_V2)
    data[8:12] = (40).to_bytes(4, "big")
    with pytest.raises(CorruptMessage):
        RecordBatchView(memoryview(data))


def test_attribute_bits():
    batch = build_batch([(b"k", b"v", (), TS)], compression=3, timestamp_type=1,
                        is_transactional=True, producer_id=7, producer_epoch=1, base_sequence=0)
    view = RecordBatchView(batch)
    assert view.attributes == 0x1B
    assert view.compression == 3
    assert view.timestamp_type == 1
    assert view.is_transactional and not view.is_control
    control = RecordBatchView(build_control_batch(1, producer_id=7, producer_epoch=1,
                                                  coordinator_epoch=0, timestamp_ms=TS))
    assert control.is_control and control.is_transactional


def test_set_base_offset_and_leader_epoch_keep_crc_valid():
    view = RecordBatchView(writable(build_batch([(None, b"a", (), TS), (None, b"b", (), TS + 1)])))
    crc = view.crc
    view.set_base_offset(1_234_567_890_123)
    view.set_partition_leader_epoch(42)
    assert view.base_offset == 1_234_567_890_123
    assert view.partition_leader_epoch == 42
    assert view.last_offset == 1_234_567_890_124
    assert view.next_offset == 1_234_567_890_125
    assert view.crc == crc
    assert view.is_valid()


def test_set_log_append_time_recomputes_crc():
    buf = writable(build_batch([(None, b"a", (), TS)]))
    view = RecordBatchView(buf)
    old_crc = view.crc
    view.set_log_append_time(TS + 5000)
    assert view.timestamp_type == 1
    assert view.max_timestamp == TS + 5000
    assert view.base_timestamp == TS
    assert view.crc != old_crc
    assert view.is_valid()
    assert view.crc == crc32c.crc32c(bytes(buf[21:]))


def test_set_log_append_time_keeps_other_attribute_bits():
    batch = build_batch([(None, b"a", (), TS)], compression=1, is_transactional=True,
                        producer_id=1, producer_epoch=0, base_sequence=0)
    view = RecordBatchView(writable(batch))
    view.set_log_append_time(TS)
    assert view.attributes == 0x19
    assert view.is_valid()


def test_mutators_need_a_writable_buffer():
    view = RecordBatchView(memoryview(VERIFIED_V2))
    with pytest.raises(TypeError):
        view.set_base_offset(5)


def test_refresh_crc_after_patching_covered_bytes():
    buf = writable(VERIFIED_V2)
    view = RecordBatchView(buf)
    buf[-2] = ord("o")  # "hi" -> "ho"
    assert not view.is_valid()
    view.refresh_crc()
    assert view.is_valid()


def test_views_read_through_to_the_buffer():
    buf = writable(VERIFIED_V2)
    first = RecordBatchView(buf)
    RecordBatchView(buf).set_base_offset(99)
    assert first.base_offset == 99


def test_is_valid_false_for_wrong_magic():
    buf = writable(VERIFIED_V2)
    buf[16] = 3
    assert not RecordBatchView(buf).is_valid()


@pytest.mark.parametrize(("base", "delta", "last"), [
    (5, 3, 8),
    (0x7FFFFFFE, 3, 1),
    (-1, 3, -1),
])
def test_last_sequence_wraps_like_kafka(base, delta, last):
    records = [(None, b"x", (), TS)] * (delta + 1)
    view = RecordBatchView(build_batch(records, producer_id=1, producer_epoch=0, base_sequence=base))
    assert view.last_sequence == last


def test_iter_batches_yields_positions_and_stops_at_partial_batch():
    first = build_batch([(None, b"a", (), TS)])
    second = build_batch([(None, b"b", (), TS), (None, b"c", (), TS)], base_offset=1)
    data = first + second + second[:40]
    found = list(iter_batches(memoryview(data)))
    assert [pos for pos, _ in found] == [0, len(first)]
    assert [v.base_offset for _, v in found] == [0, 1]
    assert [v.records_count for _, v in found] == [1, 2]


def test_iter_batches_start_and_tiny_tail():
    first = build_batch([(None, b"a", (), TS)])
    data = first + first + b"\x00" * 5
    assert [p for p, _ in iter_batches(memoryview(data), start=len(first))] == [len(first)]
    assert list(iter_batches(memoryview(b""))) == []


def test_iter_batches_skips_legacy_entries():
    legacy = build_legacy_message_set([(None, b"hi", (), TS)], magic=1)
    v2 = build_batch([(None, b"a", (), TS)], base_offset=1)
    found = list(iter_batches(memoryview(legacy + v2 + legacy)))
    assert [pos for pos, _ in found] == [len(legacy)]


def test_iter_log_entries_reports_magic():
    legacy0 = build_legacy_message_set([(None, b"hi", (), TS)], magic=0)
    v2 = build_batch([(None, b"a", (), TS)])
    assert [(p, m, len(e)) for p, m, e in iter_log_entries(memoryview(legacy0 + v2))] == [
        (0, 0, len(legacy0)), (len(legacy0), 2, len(v2)),
    ]


def test_iter_batches_impossible_size_is_corrupt():
    data = bytearray(VERIFIED_V2)
    data[8:12] = (3).to_bytes(4, "big")
    with pytest.raises(CorruptMessage):
        list(iter_batches(memoryview(bytes(data))))


def test_iter_batches_v2_entry_shorter_than_header_is_corrupt():
    data = bytearray(VERIFIED_V2[:40])
    data[8:12] = (28).to_bytes(4, "big")
    with pytest.raises(CorruptMessage):
        list(iter_batches(memoryview(bytes(data))))
