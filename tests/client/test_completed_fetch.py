"""Decoding one partition's fetched bytes: offsets, partial batches, control, aborted txns."""

from __future__ import annotations

import pytest

from kafkalite.compression import GZIP
from kafkalite.errors import CorruptMessage
from kafkalite.records.builder import build_batch, build_control_batch
from kafkalite.records.legacy import build_legacy_message_set
from kafkalite.client.completed_fetch import parse_partition_records


def batch(base, values, **kw):
    return build_batch([(None, v, (), 1000 + i) for i, v in enumerate(values)],
                       base_offset=base, **kw)


def values(fetched):
    return [(r.offset, r.value) for r in fetched.records]


def test_plain_batches():
    data = batch(0, [b"a", b"b"]) + batch(2, [b"c"])
    fetched = parse_partition_records("t", 0, data, 0)
    assert values(fetched) == [(0, b"a"), (1, b"b"), (2, b"c")]
    assert fetched.next_offset == 3
    r = fetched.records[0]
    assert (r.topic, r.partition, r.timestamp) == ("t", 0, 1000)
    assert r.timestamp_type_name == "CreateTime"


def test_records_below_the_fetch_offset_are_skipped():
    data = batch(100, [b"x%d" % i for i in range(10)], compression=GZIP)
    fetched = parse_partition_records("t", 0, data, 105)
    assert [o for o, _ in values(fetched)] == [105, 106, 107, 108, 109]
    assert fetched.next_offset == 110


def test_whole_batch_before_the_offset_is_skipped():
    data = batch(0, [b"old"]) + batch(1, [b"new"])
    assert values(parse_partition_records("t", 0, data, 1)) == [(1, b"new")]


def test_trailing_partial_batch_is_ignored():
    data = batch(0, [b"a"]) + batch(1, [b"b"])[:-5]
    fetched = parse_partition_records("t", 0, data, 0)
    assert values(fetched) == [(0, b"a")]
    assert fetched.next_offset == 1


def test_only_a_partial_batch_keeps_the_position():
    fetched = parse_partition_records("t", 0, batch(7, [b"a"])[:20], 7)
    assert fetched.records == [] and fetched.next_offset == 7


@pytest.mark.parametrize("data", [None, b""])
def test_nothing_fetched(data):
    fetched = parse_partition_records("t", 0, data, 42)
    assert fetched.records == [] and fetched.next_offset == 42


def test_control_batches_are_not_delivered_but_advance_the_position():
    data = (batch(0, [b"a"], producer_id=7, producer_epoch=0, base_sequence=0,
                  is_transactional=True)
            + build_control_batch(1, producer_id=7, producer_epoch=0, coordinator_epoch=0,
                                  timestamp_ms=5, base_offset=1))
    fetched = parse_partition_records("t", 0, data, 0)
    assert values(fetched) == [(0, b"a")]
    assert fetched.next_offset == 2


def txn(base, pid, vals):
    return batch(base, vals, producer_id=pid, producer_epoch=0, base_sequence=0,
                 is_transactional=True)


def marker(base, pid, commit):
    return build_control_batch(1 if commit else 0, producer_id=pid, producer_epoch=0,
                               coordinator_epoch=0, timestamp_ms=5, base_offset=base)


def test_read_committed_drops_aborted_transactions():
    data = (txn(0, 1, [b"aborted-1"]) + txn(1, 2, [b"committed"]) + marker(2, 1, commit=False)
            + marker(3, 2, commit=True) + txn(4, 1, [b"later-1"]) + marker(5, 1, commit=True))
    committed = parse_partition_records("t", 0, data, 0, read_committed=True,
                                        aborted_transactions=[(1, 0)])
    assert values(committed) == [(1, b"committed"), (4, b"later-1")]
    assert committed.next_offset == 6
    uncommitted = parse_partition_records("t", 0, data, 0, aborted_transactions=[(1, 0)])
    assert [v for _, v in values(uncommitted)] == [b"aborted-1", b"committed", b"later-1"]


def test_corrupt_batch_raises_unless_crc_checks_are_off():
    data = bytearray(batch(0, [b"hello"]))
    data[data.index(b"hello")] ^= 0x01  # "iello": CRC breaks, structure stays valid
    with pytest.raises(CorruptMessage, match="corrupt"):
        parse_partition_records("t", 3, bytes(data), 0)
    fetched = parse_partition_records("t", 3, bytes(data), 0, check_crcs=False)
    assert len(fetched.records) == 1


def test_headers_and_keys_come_through():
    data = build_batch([(b"k", b"v", [("h1", b"x"), ("h2", None)], 1)])
    [r] = parse_partition_records("t", 0, data, 0).records
    assert r.key == b"k" and r.headers == (("h1", b"x"), ("h2", None))


def test_legacy_message_sets_are_decoded():
    data = build_legacy_message_set([(b"k", b"old", (), 123)], magic=1)
    fetched = parse_partition_records("t", 0, data, 0)
    assert values(fetched) == [(0, b"old")]
    assert fetched.next_offset == 1
