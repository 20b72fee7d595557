"""Two-phase transitions of one transactional id (Kafka's TransactionMetadata rules)."""

import attrs
import pytest

from kafkalite import errors
from kafkalite.coordinator.transaction.metadata import (
    TransactionMetadata, is_epoch_exhausted)
from kafkalite.coordinator.transaction.state import IllegalStateTransition, TxnState
from kafkalite.model import TopicPartition

S = TxnState
A0, A1 = TopicPartition("a", 0), TopicPartition("a", 1)


def txn(**kw) -> TransactionMetadata:
    fields = {"transactional_id": "t", "producer_id": 7, "producer_epoch": 3,
              "timeout_ms": 1000, "last_update_ms": 0, **kw}
    return TransactionMetadata(**fields)


def done(t: TransactionMetadata, transit) -> TransactionMetadata:
    t.complete_transition_to(transit)
    return t


def test_epoch_exhaustion_boundary():
    assert not is_epoch_exhausted(32765)
    assert is_epoch_exhausted(32766) and is_epoch_exhausted(32767)


def test_increment_without_expected_epoch_forgets_the_last_one():
    t = txn(last_producer_epoch=2)
    transit = t.prepare_increment_producer_epoch(2000, None, 50)
    assert (transit.producer_epoch, transit.last_producer_epoch) == (4, -1)
    assert (transit.timeout_ms, transit.last_update_ms, transit.start_ms) == (2000, 50, -1)
    assert t.pending_state is S.EMPTY and t.producer_epoch == 3  # nothing applied yet
    done(t, transit)
    assert (t.producer_epoch, t.last_producer_epoch, t.timeout_ms, t.pending_state) == \
        (4, -1, 2000, None)


def test_kip360_expected_epoch_rules():
    # expected == current: bump and remember the current epoch
    transit = txn().prepare_increment_producer_epoch(1000, 3, 1)
    assert (transit.producer_epoch, transit.last_producer_epoch) == (4, 3)
    # expected == last: a retry of that bump, answered with the same epoch
    retried = txn(producer_epoch=4, last_producer_epoch=3)
    transit = retried.prepare_increment_producer_epoch(1000, 3, 1)
    assert (transit.producer_epoch, transit.last_producer_epoch) == (4, 3)
    done(retried, transit)
    # a fresh id (no epoch yet) accepts any expected epoch
    transit = txn(producer_epoch=-1).prepare_increment_producer_epoch(1000, 12, 1)
    assert (transit.producer_epoch, transit.last_producer_epoch) == (0, -1)
    # anything else is a zombie
    t = txn(producer_epoch=4, last_producer_epoch=3)
    assert t.prepare_increment_producer_epoch(1000, 2, 1) is errors.ProducerFenced
    assert t.pending_state is None


def test_exhausted_epoch_cannot_be_bumped_but_a_retry_is_answered():
    t = txn(producer_epoch=32766, last_producer_epoch=32765)
    with pytest.raises(IllegalStateTransition):
        t.prepare_increment_producer_epoch(1000, None, 1)
    assert t.prepare_increment_producer_epoch(1000, 32765, 1).producer_epoch == 32766


def test_producer_id_rotation():
    t = txn(producer_epoch=32766, state=S.COMPLETE_ABORT)
    transit = t.prepare_producer_id_rotation(99, 1000, 5, record_last_epoch=True)
    assert (transit.producer_id, transit.last_producer_id, transit.producer_epoch,
            transit.last_producer_epoch) == (99, 7, 0, 32766)
    done(t, transit)
    assert (t.producer_id, t.last_producer_id, t.producer_epoch, t.state) == (99, 7, 0, S.EMPTY)
    t2 = txn(producer_epoch=32766)
    assert t2.prepare_producer_id_rotation(99, 1, 5, record_last_epoch=False
                                           ).last_producer_epoch == -1
    with pytest.raises(IllegalStateTransition):
        txn(state=S.ONGOING).prepare_producer_id_rotation(99, 1, 5, record_last_epoch=False)


def test_add_partitions_starts_a_transaction_once():
    with pytest.raises(IllegalStateTransition):  # a transit is applied only where prepared
        txn().complete_transition_to(txn().prepare_add_partitions([A0], 10))
    t = txn()
    done(t, t.prepare_add_partitions([A0], 10))
    assert (t.state, t.partitions, t.start_ms, t.last_update_ms) == (S.ONGOING, {A0}, 10, 10)
    done(t, t.prepare_add_partitions([A1], 20))
    assert (t.partitions, t.start_ms, t.last_update_ms) == ({A0, A1}, 10, 20)


def test_prepare_while_pending_raises():
    t = txn()
    t.prepare_add_partitions([A0], 1)
    with pytest.raises(IllegalStateTransition, match="pending"):
        t.prepare_increment_producer_epoch(1000, None, 1)


def test_commit_path_and_marker_bookkeeping():
    t = txn(state=S.ONGOING, partitions={A0, A1}, start_ms=5)
    with pytest.raises(IllegalStateTransition):
        t.remove_partition(A0)  # only while markers are written
    done(t, t.prepare_abort_or_commit(S.PREPARE_COMMIT, 30))
    complete = t.prepare_complete(40)
    assert (complete.state, complete.partitions, complete.start_ms) == \
        (S.COMPLETE_COMMIT, frozenset(), 5)
    t.remove_partition(A0)
    t.remove_partition(A1)
    done(t, complete)
    assert (t.state, t.partitions, t.last_update_ms) == (S.COMPLETE_COMMIT, set(), 40)


def test_fence_bumps_once_even_if_its_record_failed():
    t = txn(state=S.ONGOING, partitions={A0}, start_ms=1, last_producer_epoch=2)
    fence = t.prepare_fence_producer_epoch()
    assert (fence.state, fence.producer_epoch, fence.last_producer_epoch) == \
        (S.PREPARE_EPOCH_FENCE, 4, -1)
    t.take_fenced_epoch(fence.producer_epoch)
    abort = t.prepare_abort_or_commit(S.PREPARE_ABORT, 9)
    assert abort.producer_epoch == 4 and t.last_producer_epoch == -1
    # the abort record failed: the coordinator clears the pending state and remembers
    t.pending_state = None
    t.has_failed_epoch_fence = True
    assert t.prepare_fence_producer_epoch().producer_epoch == 4
    with pytest.raises(IllegalStateTransition):
        t.complete_transition_to(attrs.evolve(abort))  # PREPARE_EPOCH_FENCE is pending


def test_fence_cannot_overflow():
    with pytest.raises(IllegalStateTransition, match="overflow"):
        txn(state=S.ONGOING, producer_epoch=32767).prepare_fence_producer_epoch()


def test_complete_checks_the_transit():
    t = txn(state=S.ONGOING, partitions={A0}, start_ms=1)
    transit = t.prepare_abort_or_commit(S.PREPARE_COMMIT, 2)
    with pytest.raises(IllegalStateTransition):
        t.complete_transition_to(attrs.evolve(transit, producer_epoch=9))
    with pytest.raises(IllegalStateTransition):
        t.complete_transition_to(attrs.evolve(transit, state=S.PREPARE_ABORT))
    with pytest.raises(IllegalStateTransition):
        t.complete_transition_to(attrs.evolve(transit, partitions=frozenset()))
    t.complete_transition_to(transit)
    assert t.state is S.PREPARE_COMMIT
    e = txn()
    bump = e.prepare_increment_producer_epoch(1000, None, 1)
    with pytest.raises(IllegalStateTransition):  # an epoch jump is not a bump
        e.complete_transition_to(attrs.evolve(bump, producer_epoch=9))


def test_dead_is_never_completed():
    t = txn(state=S.COMPLETE_ABORT)
    dead = t.prepare_dead()
    assert (dead.state, dead.partitions) == (S.DEAD, frozenset())
    with pytest.raises(IllegalStateTransition):
        t.complete_transition_to(dead)
    with pytest.raises(IllegalStateTransition):
        txn(state=S.ONGOING).prepare_dead()
