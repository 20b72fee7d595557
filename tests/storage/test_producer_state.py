import struct

import pytest

from kafkalite.errors import (
    DuplicateSequenceNumber, InvalidProducerEpoch, InvalidTxnState, OutOfOrderSequenceNumber,
    TransactionCoordinatorFenced,
)
from kafkalite.records.builder import build_control_batch
from kafkalite.storage import Duplicate, Log, ProducerStateManager
from kafkalite.storage.producer_snapshot import (
    CorruptSnapshot, list_snapshots, read_snapshot, snapshot_path, write_snapshot,
)
from kafkalite.storage.producer_state import (
    ABORT, COMMIT, AppendOrigin, ProducerBatch,
)
from kafkalite.storage.txn_index import AbortedTxn, TransactionIndex

from .batches import TS, header, make_batch

MAX = 2**31 - 1
TXN = 0x10


def data(pid, epoch, seq, first, last, *, txn=False, ts=TS):
    return ProducerBatch(pid, epoch, seq, seq + last - first if seq >= 0 else -1, first, last,
                         ts, is_transactional=txn)


def marker(pid, epoch, offset, kind, coordinator_epoch=0, ts=TS):
    return ProducerBatch(pid, epoch, -1, -1, offset, offset, ts, is_transactional=True,
                         is_control=True, marker=(kind, coordinator_epoch))


def apply(state, *batches, origin=AppendOrigin.CLIENT):
    end = max(b.last_offset for b in batches) + 1
    return state.apply(state.prepare(batches, origin, end))


# -- idempotence --------------------------------------------------------------------------


def test_unknown_producer_may_start_at_any_sequence():
    # Kafka 2.5+ (KIP-360): its earlier batches may have been removed by retention.
    state = ProducerStateManager()
    apply(state, data(2, 0, 5, 0, 4))
    assert state.get(2).last_seq == 9
    assert state.check(-1, -1, -1, -1) is None  # not idempotent


def test_duplicates_of_the_last_five_batches():
    state = ProducerStateManager()
    for i in range(7):
        state.update(1, 0, i * 2, i * 2 + 1, 100 + i * 2, 101 + i * 2, TS + i)
    for i in range(2, 7):
        assert state.check(1, 0, i * 2, i * 2 + 1) == Duplicate(100 + i * 2, 101 + i * 2, TS + i)
    assert state.check(1, 0, 0, 1) is None  # too old to be recognised as a duplicate
    with pytest.raises(OutOfOrderSequenceNumber):
        state.validate_append([(1, 0, 0, 1)])
    with pytest.raises(OutOfOrderSequenceNumber):
        state.validate_append([(1, 0, 4, 4)])  # overlapping but not the same batch
    state.validate_append([(1, 0, 14, 20)])


def test_gaps_and_epochs():
    state = ProducerStateManager()
    state.update(1, 3, 0, 9, 0, 9)
    with pytest.raises(OutOfOrderSequenceNumber):
        state.validate_append([(1, 3, 11, 12)])
    with pytest.raises(InvalidProducerEpoch):
        state.validate_append([(1, 2, 10, 12)])
    with pytest.raises(OutOfOrderSequenceNumber):
        state.validate_append([(1, 4, 10, 12)])  # a new epoch starts at 0
    state.validate_append([(1, 4, 0, 0)])
    state.update(1, 4, 0, 0, 10, 10)
    assert len(state.get(1).batches) == 1 and state.get(1).producer_epoch == 4
    with pytest.raises(InvalidProducerEpoch):
        state.validate_append([(1, 3, 0, 9)])  # a batch of the old epoch is no duplicate


def test_sequence_wraps():
    state = ProducerStateManager()
    state.update(1, 0, 0, MAX - 2, 0, MAX - 2)
    state.validate_append([(1, 0, MAX - 1, 1)])  # wraps inside the batch
    state.update(1, 0, MAX - 1, 1, MAX - 1, MAX + 1)
    state.validate_append([(1, 0, 2, 5)])
    state2 = ProducerStateManager()
    state2.update(1, 0, 0, MAX, 0, MAX)
    state2.validate_append([(1, 0, 0, 3)])


def test_validate_append_sees_earlier_batches_of_the_same_append():
    state = ProducerStateManager()
    state.validate_append([(1, 0, 0, 4), (1, 0, 5, 9), (2, 0, 0, 0), (-1, -1, -1, -1)])
    assert len(state) == 0  # nothing changed
    with pytest.raises(OutOfOrderSequenceNumber):
        state.validate_append([(1, 0, 0, 4), (1, 0, 6, 9)])
    with pytest.raises(DuplicateSequenceNumber):
        state.validate_append([(1, 0, 0, 4), (1, 0, 0, 4)])


def test_expiry_spares_producers_with_open_transactions():
    state = ProducerStateManager()
    apply(state, data(1, 0, 0, 0, 0, ts=1000), data(2, 0, 0, 1, 1, txn=True, ts=1000),
          data(3, 0, 0, 2, 2, ts=5000))
    assert sorted(state.remove_expired(now_ms=7000, expiration_ms=5000)) == [1]
    assert state.get(2) is not None and state.get(3) is not None


# -- transactions ---------------------------------------------------------------------------


def test_transaction_opens_and_completes_and_the_lso_follows_the_high_watermark():
    state = ProducerStateManager()
    apply(state, data(1, 0, 0, 10, 12, txn=True))
    apply(state, data(2, 0, 0, 13, 13))
    assert state.first_unstable_offset == 10
    assert state.last_stable_offset(high_watermark=14) == 10
    assert state.last_stable_offset(high_watermark=5) == 5
    apply(state, data(1, 0, 3, 14, 15, txn=True))  # the same transaction goes on
    assert state.get(1).current_txn_first_offset == 10
    aborted = apply(state, marker(1, 0, 16, COMMIT), origin=AppendOrigin.COORDINATOR)
    assert aborted == []
    # decided, but the marker is not below the high watermark yet
    assert state.last_stable_offset(high_watermark=16) == 10
    state.on_high_watermark_updated(17)
    assert state.first_unstable_offset is None
    assert state.last_stable_offset(high_watermark=17) == 17
    assert state.get(1).current_txn_first_offset == -1


def test_abort_records_the_lso_after_it_for_the_transaction_index():
    state = ProducerStateManager()
    apply(state, data(1, 0, 0, 0, 1, txn=True))
    apply(state, data(2, 0, 0, 2, 2, txn=True))
    # producer 2's transaction is still open: the LSO after 1's abort stops at its start
    assert apply(state, marker(1, 0, 3, ABORT, 5), origin=AppendOrigin.COORDINATOR) == \
        [AbortedTxn(1, 0, 3, 2)]
    assert apply(state, marker(2, 0, 4, ABORT, 5), origin=AppendOrigin.COORDINATOR) == \
        [AbortedTxn(2, 2, 4, 5)]
    assert state.get(2).coordinator_epoch == 5
    assert state.ongoing_transactions == []


def test_transaction_rules_by_origin():
    state = ProducerStateManager()
    apply(state, data(1, 0, 0, 0, 0, txn=True))
    with pytest.raises(InvalidTxnState):
        state.prepare([data(1, 0, 1, 1, 1)], AppendOrigin.CLIENT, 2)
    apply(state, marker(1, 0, 1, COMMIT, coordinator_epoch=3), origin=AppendOrigin.COORDINATOR)
    with pytest.raises(TransactionCoordinatorFenced):
        state.prepare([marker(1, 0, 2, ABORT, coordinator_epoch=2)], AppendOrigin.COORDINATOR, 3)
    with pytest.raises(InvalidProducerEpoch):
        state.prepare([marker(1, -1, 2, ABORT, coordinator_epoch=3)], AppendOrigin.COORDINATOR, 3)
    # a fencing marker (the coordinator bumped the epoch) fences the old epoch
    apply(state, marker(1, 1, 2, ABORT, coordinator_epoch=3), origin=AppendOrigin.COORDINATOR)
    with pytest.raises(InvalidProducerEpoch):
        state.prepare([data(1, 0, 2, 3, 3, txn=True)], AppendOrigin.CLIENT, 4)
    # the coordinator's own transactional writes are not sequence-checked
    apply(state, data(1, 1, 0, 3, 3, txn=True), data(1, 1, 0, 4, 4, txn=True),
          origin=AppendOrigin.COORDINATOR)
    # replication trusts the leader
    apply(state, data(1, 0, 9, 5, 5), origin=AppendOrigin.REPLICATION)
    assert state.get(1).producer_epoch == 0


# -- snapshots ------------------------------------------------------------------------------


def test_snapshot_round_trip_and_golden_bytes(tmp_path):
    state = ProducerStateManager()
    apply(state, data(7, 3, 10, 40, 44, txn=True))
    entry = state.get(7)
    entry.coordinator_epoch = 2
    path = snapshot_path(tmp_path, 45)
    assert path.name == "00000000000000000045.snapshot"
    write_snapshot(path, [entry])
    raw = path.read_bytes()
    assert raw[:2] == b"\x00\x01" and struct.unpack(">i", raw[6:10]) == (1,)
    assert struct.unpack(">qhiqiqiq", raw[10:]) == (7, 3, 14, 44, 4, TS, 2, 40)
    (loaded,) = read_snapshot(path)
    assert (loaded.producer_id, loaded.producer_epoch, loaded.last_seq, loaded.last_offset,
            loaded.coordinator_epoch, loaded.current_txn_first_offset) == (7, 3, 14, 44, 2, 40)
    assert loaded.batches[0].first_seq == 10 and loaded.batches[0].first_offset == 40
    assert list(list_snapshots(tmp_path)) == [45]
    path.write_bytes(raw[:-1] + bytes([raw[-1] ^ 1]))
    with pytest.raises(CorruptSnapshot):
        read_snapshot(path)


def test_snapshot_of_a_wrapped_batch(tmp_path):
    state = ProducerStateManager()
    state.update(1, 0, MAX - 1, 1, 0, 3)
    write_snapshot(tmp_path / "s.snapshot", list(state.producers.values()))
    (loaded,) = read_snapshot(tmp_path / "s.snapshot")
    assert (loaded.batches[0].first_seq, loaded.batches[0].last_seq) == (MAX - 1, 1)


# -- the log --------------------------------------------------------------------------------


def idempotent(seq, count=2, epoch=0, pid=42, txn=False):
    return make_batch(count, 20, producer_id=pid, producer_epoch=epoch, base_sequence=seq,
                      attributes=TXN if txn else 0)


def append(log, batch, *, origin=AppendOrigin.CLIENT):
    count = header(batch)["last_offset_delta"] + 1
    return log.append_as_leader([(memoryview(bytearray(batch)), count)], leader_epoch=0,
                                now_ms=TS, origin=origin)


def end_txn(log, pid, kind, epoch=0, coordinator_epoch=0):
    return append(log, build_control_batch(kind, producer_id=pid, producer_epoch=epoch,
                                           coordinator_epoch=coordinator_epoch, timestamp_ms=TS),
                  origin=AppendOrigin.COORDINATOR)


def test_log_integration_and_rebuild_on_open(log_dir, config):
    log = Log.open(log_dir, config)
    first = idempotent(0)
    log.append_as_leader([(memoryview(first), 2)], leader_epoch=0, now_ms=TS)
    retry = idempotent(0)
    h = header(retry)
    assert log.check_duplicate(42, 0, 0, h["base_sequence"] + h["last_offset_delta"]) == \
        Duplicate(0, 1, TS)
    with pytest.raises(DuplicateSequenceNumber):
        log.append_as_leader([(memoryview(retry), 2)], leader_epoch=0, now_ms=TS)
    with pytest.raises(OutOfOrderSequenceNumber):
        log.append_as_leader([(memoryview(idempotent(5)), 2)], leader_epoch=0, now_ms=TS)
    assert log.log_end_offset == 2  # rejected batches are not written
    log.append_as_leader([(memoryview(make_batch(3, 5)), 3)], leader_epoch=0, now_ms=TS)
    log.append_as_leader([(memoryview(idempotent(2, count=3)), 3)], leader_epoch=0, now_ms=TS)
    log.close()
    log = Log.open(log_dir, config, clean_shutdown=False)
    assert log.check_duplicate(42, 0, 2, 4) == Duplicate(5, 7, TS)
    assert log.check_duplicate(42, 0, 0, 1) == Duplicate(0, 1, TS)
    assert log.check_duplicate(42, 0, 5, 5) is None
    log.truncate_to(5)
    assert log.check_duplicate(42, 0, 2, 4) is None  # rebuilt without the truncated batch


def test_follower_appends_update_state_without_checks(tmp_path, config):
    log = Log.open(tmp_path / "f-0", config)
    data_ = idempotent(7, pid=9) + idempotent(9, pid=9, epoch=0)
    data_[0:8] = (0).to_bytes(8, "big")
    data_[len(data_) // 2:len(data_) // 2 + 8] = (2).to_bytes(8, "big")
    log.append_as_follower(memoryview(data_))
    assert log.check_duplicate(9, 0, 9, 10) == Duplicate(2, 3, TS)
    assert log.producer_state.get(9).last_seq == 10


def test_aborts_are_indexed_and_collected(log_dir, config):
    log = Log.open(log_dir, config)
    append(log, idempotent(0, pid=1, txn=True))          # 0-1, aborted later
    append(log, idempotent(0, pid=2, txn=True))          # 2-3, committed later
    append(log, make_batch(1, 5))                        # 4
    end_txn(log, 1, ABORT)                               # 5
    assert log.last_stable_offset(high_watermark=6) == 0  # the marker is not replicated yet
    log.on_high_watermark_updated(6)
    assert log.last_stable_offset(high_watermark=6) == 2
    end_txn(log, 2, COMMIT)                              # 6
    log.on_high_watermark_updated(7)
    assert log.last_stable_offset(high_watermark=7) == 7
    assert log.active_segment.txn_index.entries == [AbortedTxn(1, 0, 5, 2)]
    assert log.collect_aborted_transactions(0, 7) == [AbortedTxn(1, 0, 5, 2)]
    assert log.collect_aborted_transactions(6, 7) == []
    txnindex = log_dir / f"{0:020d}.txnindex"
    assert txnindex.read_bytes() == AbortedTxn(1, 0, 5, 2).encode()
    assert len(txnindex.read_bytes()) == 34
    log.close()


def test_reopen_keeps_open_transactions_and_rebuilds_a_lost_index_entry(log_dir, config):
    log = Log.open(log_dir, config)
    append(log, idempotent(0, pid=1, txn=True))          # 0-1, stays open
    append(log, idempotent(0, pid=2, txn=True))          # 2-3
    end_txn(log, 2, ABORT)                               # 4
    log.roll(TS)
    append(log, make_batch(1, 5))                        # 5
    log.close()
    assert sorted(list_snapshots(log_dir)) == [5, 6]
    # clean reopen: from the snapshot at the log end, no replay
    log = Log.open(log_dir, config)
    assert log.producer_state.ongoing_transactions == [(1, 0)]
    assert log.last_stable_offset(high_watermark=6) == 0
    log.close()
    # a crash lost the index entry: the unclean open replays from a snapshot below it
    (log_dir / f"{0:020d}.txnindex").unlink()
    for offset, path in list_snapshots(log_dir).items():
        path.unlink()
    log = Log.open(log_dir, config, clean_shutdown=False, recovery_point=0)
    assert log.segments[0].txn_index.entries == [AbortedTxn(2, 2, 4, 0)]
    assert log.producer_state.ongoing_transactions == [(1, 0)]
    end_txn(log, 1, COMMIT)
    log.on_high_watermark_updated(7)
    assert log.last_stable_offset(7) == 7
    log.close()


def test_truncation_drops_index_entries_and_reloads_state(log_dir, config):
    log = Log.open(log_dir, config)
    append(log, idempotent(0, pid=1, txn=True))          # 0-1
    end_txn(log, 1, ABORT)                               # 2
    append(log, idempotent(0, pid=3, txn=True))          # 3-4
    log.truncate_to(2)
    assert log.active_segment.txn_index.entries == []
    assert not (log_dir / f"{0:020d}.txnindex").exists()
    assert log.producer_state.ongoing_transactions == [(1, 0)]
    assert log.producer_state.get(3) is None


def test_transaction_index_file(tmp_path):
    index = TransactionIndex(tmp_path / "x.txnindex", 100)
    index.append(AbortedTxn(1, 100, 105, 106))
    index.append(AbortedTxn(2, 101, 110, 111))
    with pytest.raises(ValueError):
        index.append(AbortedTxn(3, 101, 109, 111))
    reread = TransactionIndex(tmp_path / "x.txnindex", 100)
    assert reread.collect(106, 200) == ([AbortedTxn(2, 101, 110, 111)], False)
    assert reread.collect(0, 106) == ([AbortedTxn(1, 100, 105, 106)], True)
    reread.truncate_to(110)
    assert TransactionIndex(tmp_path / "x.txnindex", 100).entries == [AbortedTxn(1, 100, 105, 106)]
