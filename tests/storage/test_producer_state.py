import pytest

from kafkalite.errors import (
    DuplicateSequenceNumber, InvalidProducerEpoch, OutOfOrderSequenceNumber,
)
from kafkalite.storage import Duplicate, Log, ProducerStateManager

from .batches import TS, header, make_batch

MAX = 2**31 - 1


def test_new_producer_must_start_at_zero():
    state = ProducerStateManager()
    assert state.check(1, 0, 0, 4) is None
    with pytest.raises(OutOfOrderSequenceNumber):
        state.check(2, 0, 5, 9)
    assert state.check(-1, -1, -1, -1) is None  # not idempotent


def test_duplicates_of_the_last_five_batches():
    state = ProducerStateManager()
    for i in range(7):
        state.update(1, 0, i * 2, i * 2 + 1, 100 + i * 2, 101 + i * 2, TS + i)
    for i in range(2, 7):
        assert state.check(1, 0, i * 2, i * 2 + 1) == Duplicate(100 + i * 2, 101 + i * 2, TS + i)
    with pytest.raises(OutOfOrderSequenceNumber):
        state.check(1, 0, 0, 1)  # too old to be recognised as a duplicate
    with pytest.raises(OutOfOrderSequenceNumber):
        state.check(1, 0, 4, 4)  # overlapping but not the same batch
    assert state.check(1, 0, 14, 20) is None


def test_gaps_and_epochs():
    state = ProducerStateManager()
    state.update(1, 3, 0, 9, 0, 9)
    with pytest.raises(OutOfOrderSequenceNumber):
        state.check(1, 3, 11, 12)
    with pytest.raises(InvalidProducerEpoch):
        state.check(1, 2, 10, 12)
    with pytest.raises(OutOfOrderSequenceNumber):
        state.check(1, 4, 10, 12)  # a new epoch starts at 0
    assert state.check(1, 4, 0, 0) is None
    state.update(1, 4, 0, 0, 10, 10)
    assert len(state.get(1).batches) == 1 and state.get(1).producer_epoch == 4
    with pytest.raises(InvalidProducerEpoch):
        state.check(1, 3, 0, 9)  # a batch of the old epoch is no duplicate any more


def test_sequence_wraps():
    state = ProducerStateManager()
    state.update(1, 0, 0, MAX - 2, 0, MAX - 2)
    assert state.check(1, 0, MAX - 1, 1) is None  # wraps inside the batch
    state.update(1, 0, MAX - 1, 1, MAX - 1, MAX + 1)
    assert state.check(1, 0, 2, 5) is None
    state2 = ProducerStateManager()
    state2.update(1, 0, 0, MAX, 0, MAX)
    assert state2.check(1, 0, 0, 3) is None


def test_validate_append_sees_earlier_batches_of_the_same_append():
    state = ProducerStateManager()
    state.validate_append([(1, 0, 0, 4), (1, 0, 5, 9), (2, 0, 0, 0), (-1, -1, -1, -1)])
    assert len(state) == 0  # nothing changed
    with pytest.raises(OutOfOrderSequenceNumber):
        state.validate_append([(1, 0, 0, 4), (1, 0, 6, 9)])
    with pytest.raises(DuplicateSequenceNumber):
        state.validate_append([(1, 0, 0, 4), (1, 0, 0, 4)])


def idempotent(seq, count=2, epoch=0, pid=42):
    return make_batch(count, 20, producer_id=pid, producer_epoch=epoch, base_sequence=seq)


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
    data = idempotent(7, pid=9) + idempotent(9, pid=9, epoch=0)
    data[0:8] = (0).to_bytes(8, "big")
    data[len(data) // 2:len(data) // 2 + 8] = (2).to_bytes(8, "big")
    log.append_as_follower(memoryview(data))
    assert log.check_duplicate(9, 0, 9, 10) == Duplicate(2, 3, TS)
    assert log.producer_state.get(9).last_seq == 10
