"""Records of __transaction_state, byte for byte (Kafka's TransactionLogKey/Value)."""

import struct

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kafkalite.coordinator.transaction.log import (
    SchemaError, TxnLogValue, decode_key, decode_value, encode_key, encode_value, format_key,
    format_value)
from kafkalite.coordinator.transaction.state import TxnState
from kafkalite.model import TopicPartition

S = TxnState
A0, A1, B0 = TopicPartition("a", 0), TopicPartition("a", 1), TopicPartition("b", 0)


def q(n):
    return struct.pack(">q", n)


def i(n):
    return struct.pack(">i", n)


HEAD_EMPTY = b"\x00\x00" + q(1000) + b"\x00\x02" + i(60000) + b"\x00"
EMPTY_V0 = HEAD_EMPTY + b"\xff\xff\xff\xff" + q(1234) + q(-1)
ONGOING_V0 = (b"\x00\x00" + q(1000) + b"\x00\x02" + i(60000) + b"\x01"
              + i(2) + b"\x00\x01a" + i(2) + i(0) + i(1) + b"\x00\x01b" + i(1) + i(0)
              + q(1234) + q(1200))


def test_key_bytes():
    assert encode_key("my-txn") == b"\x00\x00\x00\x06my-txn"
    assert decode_key(b"\x00\x00\x00\x06my-txn") == "my-txn"
    with pytest.raises(SchemaError, match="key version 1"):
        decode_key(b"\x00\x01\x00\x06my-txn")


def test_empty_value_writes_null_partitions():
    v = TxnLogValue(producer_id=1000, producer_epoch=2, timeout_ms=60000, state=S.EMPTY,
                    last_update_ms=1234, start_ms=-1)
    assert encode_value(v) == EMPTY_V0
    assert decode_value(EMPTY_V0) == v
    with pytest.raises(ValueError):
        encode_value(TxnLogValue(producer_id=1, producer_epoch=0, timeout_ms=1, state=S.EMPTY,
                                 partitions=(A0,), last_update_ms=0, start_ms=-1))


def test_ongoing_value_groups_partitions_by_topic():
    v = TxnLogValue(producer_id=1000, producer_epoch=2, timeout_ms=60000, state=S.ONGOING,
                    partitions=(A0, A1, B0), last_update_ms=1234, start_ms=1200)
    assert encode_value(v) == ONGOING_V0
    assert decode_value(ONGOING_V0) == v
    # A complete transaction has an empty (not null) array.
    done = TxnLogValue(producer_id=1, producer_epoch=0, timeout_ms=1,
                       state=S.COMPLETE_COMMIT, last_update_ms=5, start_ms=3)
    assert encode_value(done)[17:21] == i(0)


def test_partitions_of_an_empty_record_are_ignored():
    data = HEAD_EMPTY + i(1) + b"\x00\x01a" + i(1) + i(0) + q(1) + q(-1)
    assert decode_value(data).partitions == ()


def test_tombstone():
    assert decode_value(None) is None
    assert format_value(None) == "<DELETE>"


def test_flexible_v1_with_tagged_fields():
    data = (b"\x00\x01" + q(1000) + b"\x00\x02" + i(60000) + b"\x02"
            + b"\x02" + b"\x02a" + b"\x03" + i(0) + i(1) + b"\x00"   # one topic, no tags
            + q(1234) + q(1200)
            + b"\x04" + b"\x00\x08" + q(999) + b"\x01\x08" + q(1001)
            + b"\x02\x02\x00\x02" + b"\x07\x03xyz")                  # tag 7 is unknown
    assert decode_value(data) == TxnLogValue(
        producer_id=1000, producer_epoch=2, timeout_ms=60000, state=S.PREPARE_COMMIT,
        partitions=(A0, A1), last_update_ms=1234, start_ms=1200, previous_producer_id=999,
        next_producer_id=1001, client_transaction_version=2)
    empty = b"\x00\x01" + q(7) + b"\x00\x00" + i(100) + b"\x00" + b"\x00" + q(5) + q(-1) + b"\x00"
    assert decode_value(empty) == TxnLogValue(producer_id=7, producer_epoch=0, timeout_ms=100,
                                              state=S.EMPTY, last_update_ms=5, start_ms=-1)


@pytest.mark.parametrize("data, message", [
    (b"\x00\x02" + ONGOING_V0[2:], "value version 2"),
    (ONGOING_V0[:-3], "truncated"),
    (HEAD_EMPTY[:-1] + b"\x09" + b"\xff\xff\xff\xff" + q(0) + q(0), "state byte 9"),
    (b"\x00\x01" + q(7) + b"\x00\x00" + i(100) + b"\x00" + b"\x00" + q(5) + q(-1)
     + b"\x01\x00\x08\x00", "truncated"),
])
def test_malformed_values(data, message):
    with pytest.raises(SchemaError, match=message):
        decode_value(data)


def test_dump_log_format():
    assert format_key(encode_key("my-txn")) == "transaction_metadata::transactionalId=my-txn"
    assert format_value(ONGOING_V0) == (
        "producerId:1000,producerEpoch:2,state=Ongoing,partitions=[a-0,a-1,b-0],"
        "txnLastUpdateTimestamp=1234,txnTimeoutMs=60000")
    assert format_value(EMPTY_V0) == (
        "producerId:1000,producerEpoch:2,state=Empty,partitions=[],"
        "txnLastUpdateTimestamp=1234,txnTimeoutMs=60000")


partitions = st.lists(st.builds(TopicPartition, st.text("abc", min_size=1, max_size=3),
                                st.integers(0, 2**31 - 1)), unique=True, max_size=6)


@given(st.sampled_from([s for s in TxnState if s is not S.EMPTY]), partitions,
       st.integers(-1, 2**63 - 1), st.integers(-1, 32767), st.integers(1, 2**31 - 1),
       st.integers(-1, 2**63 - 1))
def test_round_trip(state, parts, pid, epoch, timeout, ts):
    # Record order groups partitions by topic (first appearance order).
    grouped = tuple(sorted(parts, key=lambda tp: [p.topic for p in parts].index(tp.topic)))
    v = TxnLogValue(producer_id=pid, producer_epoch=epoch, timeout_ms=timeout, state=state,
                    partitions=grouped, last_update_ms=ts, start_ms=ts)
    assert decode_value(encode_value(v)) == v
