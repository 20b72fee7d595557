"""The coordinator's one-pass batch builder writes exactly what the general builder writes."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from kafkalite.coordinator.offsets_batch import offsets_batch
from kafkalite.coordinator.offsets_topic import (
    OffsetValue, decode_offset_value, encode_offset_commit, encode_offset_value)
from kafkalite.records.batch import RecordBatchView
from kafkalite.records.builder import build_batch
from kafkalite.records.record import decode_records

_records = st.lists(st.tuples(st.binary(min_size=1, max_size=300),
                              st.none() | st.binary(max_size=300)), max_size=80)


@given(_records, st.integers(0, 2**41))
def test_same_bytes_as_build_batch(records, ts):
    built = offsets_batch(records, ts)
    assert isinstance(built, bytearray)
    assert bytes(built) == build_batch([(k, v, (), ts) for k, v in records])


@given(_records, st.integers(0, 2**41), st.integers(0, 2**40), st.integers(0, 2**15 - 1))
def test_transactional_same_bytes_as_build_batch(records, ts, pid, epoch):
    built = offsets_batch(records, ts, producer_id=pid, producer_epoch=epoch,
                          transactional=True)
    assert bytes(built) == build_batch([(k, v, (), ts) for k, v in records], producer_id=pid,
                                       producer_epoch=epoch, base_sequence=0,
                                       is_transactional=True)


def test_batch_parses_back():
    records = [(b"k1", b"v1"), (b"k2", None), (b"k" * 200, b"v" * 5000)]
    view = RecordBatchView(memoryview(offsets_batch(records, 1234)))
    assert view.crc == view.compute_crc()
    assert [(bytes(r.key), None if r.value is None else bytes(r.value))
            for r in decode_records(view)] == records


@given(st.integers(-2**63, 2**63 - 1), st.integers(-2**31, 2**31 - 1),
       st.text(max_size=50), st.integers(-1, 2**50), st.none() | st.integers(0, 2**50))
def test_encode_offset_commit_matches_value_encoder(offset, epoch, metadata, ts, expire):
    data = encode_offset_commit(offset, epoch, metadata, ts, expire)
    value = OffsetValue(offset=offset, leader_epoch=epoch, metadata=metadata,
                        commit_timestamp=ts, expire_timestamp=expire)
    assert data == encode_offset_value(value)
    back = decode_offset_value(data)
    assert (back.offset, back.metadata, back.commit_timestamp) == (offset, metadata, ts)
