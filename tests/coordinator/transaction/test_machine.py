"""The pure transaction coordinator: InitProducerId, AddPartitions, EndTxn, fencing,
timeouts, expiry, Describe/List; no I/O, no clock."""

from __future__ import annotations

import pytest

from kafkalite import errors
from kafkalite.coordinator.offsets_topic import java_string_hash
from kafkalite.coordinator.transaction.machine import TransactionCoordinator, TxnConfig
from kafkalite.coordinator.transaction.results import (
    InitPidResult, ListedTxn, SendMarkers, TxnDescription)
from kafkalite.coordinator.transaction.state import TxnState
from kafkalite.model import TopicPartition

from .harness import A0, A1, B0, PENDING, TxnHarness

S = TxnState


def test_commit_flow():
    h = TxnHarness()
    assert h.init("t") == InitPidResult(producer_id=1000, producer_epoch=0)
    h.now = 10
    assert h.add("t", 1000, 0, A0, A1) is None
    h.now = 20
    assert h.end("t", 1000, 0, commit=True) is None
    send, = h.sends
    assert send == SendMarkers(transactional_id="t", producer_id=1000, producer_epoch=0,
                               commit=True, coordinator_epoch=1, partitions=frozenset({A0, A1}))
    # While the markers are written the transaction is decided but not complete.
    assert h.txn().state is S.PREPARE_COMMIT and h.txn().pending_state is S.COMPLETE_COMMIT
    # The pending completion is checked first (Kafka): both outcomes are "retry later".
    assert h.end("t", 1000, 0, commit=True) is errors.ConcurrentTransactions
    assert h.end("t", 1000, 0, commit=False) is errors.ConcurrentTransactions
    assert h.add("t", 1000, 0, B0) is errors.ConcurrentTransactions
    assert h.init("t").error is errors.ConcurrentTransactions
    h.now = 30
    h.write_markers()
    assert h.states() == ["Empty", "Ongoing", "PrepareCommit", "CompleteCommit"]
    _, complete = h.records()[-1]
    assert (complete.partitions, complete.start_ms, complete.last_update_ms) == ((), 10, 20)
    assert h.txn().state is S.COMPLETE_COMMIT and h.txn().pending_state is None
    assert h.end("t", 1000, 0, commit=True) is None  # a retried EndTxn
    assert h.end("t", 1000, 0, commit=False) is errors.InvalidTxnState
    # The next transaction of the same producer.
    assert h.add("t", 1000, 0, B0) is None
    assert h.txn().start_ms == 30 and h.txn().partitions == {B0}


def test_abort_flow():
    h = TxnHarness()
    pid, epoch = h.begin("t", A0)
    assert h.end("t", pid, epoch, commit=False) is None
    assert h.sends[0].commit is False and h.states()[-1] == "PrepareAbort"
    assert h.end("t", pid, epoch, commit=False) is errors.ConcurrentTransactions
    h.write_markers()
    assert h.states()[-1] == "CompleteAbort"
    assert h.end("t", pid, epoch, commit=False) is None
    assert h.end("t", pid, epoch, commit=True) is errors.InvalidTxnState


def test_answers_wait_for_their_record():
    h = TxnHarness()
    h.auto_append = False
    assert h.init("t") is PENDING
    assert h.init("t").error is errors.ConcurrentTransactions  # pending transition
    (append,) = h.pending
    assert append.partition == 0 and h.logs == {}
    h.finish_append(append)
    assert list(h.replies.values()) == [InitPidResult(producer_id=1000, producer_epoch=0)]


def test_init_producer_id_validation():
    h = TxnHarness(max_timeout_ms=900000)
    assert h.init("").error is errors.InvalidRequest
    assert h.init("t", pid=5).error is errors.InvalidRequest  # id without an epoch
    assert h.init("t", epoch=5).error is errors.InvalidRequest
    assert h.init("t", timeout=0).error is errors.InvalidTransactionTimeout
    assert h.init("t", timeout=900001).error is errors.InvalidTransactionTimeout
    assert h.init("t", timeout=900000).error is None
    assert h.logs[0] and h.m.get("t").timeout_ms == 900000


def test_reinit_bumps_the_epoch_and_takes_the_new_timeout():
    h = TxnHarness()
    assert h.init("t").producer_epoch == 0
    r = h.init("t", timeout=5000)
    assert (r.producer_id, r.producer_epoch) == (1000, 1)  # the fresh id 1001 is not used
    assert h.txn().timeout_ms == 5000 and h.txn().last_producer_epoch == -1
    _, v = h.records()[-1]
    assert (v.state, v.producer_epoch, v.partitions) == (S.EMPTY, 1, ())


def test_new_instance_fences_a_zombie_during_a_transaction():
    h = TxnHarness()
    pid, epoch = h.begin("t", A0, B0)
    # A new producer instance with the same transactional id.
    assert h.init("t") == InitPidResult(error=errors.ConcurrentTransactions)
    _, abort = h.records()[-1]
    assert (abort.state, abort.producer_epoch) == (S.PREPARE_ABORT, epoch + 1)
    send, = h.sends
    assert (send.commit, send.producer_epoch, send.partitions) == \
        (False, epoch + 1, frozenset({A0, B0}))
    # The zombie is fenced; the new instance keeps retrying until the abort completes.
    assert h.end("t", pid, epoch, commit=True) is errors.ProducerFenced
    assert h.add("t", pid, epoch, A1) is errors.ProducerFenced
    assert h.init("t").error is errors.ConcurrentTransactions
    h.write_markers()
    assert h.states()[-2:] == ["PrepareAbort", "CompleteAbort"]
    assert h.init("t") == InitPidResult(producer_id=pid, producer_epoch=epoch + 2)


def test_failed_fence_record_does_not_bump_twice():
    h = TxnHarness()
    pid, _ = h.begin("t", A0)
    h.auto_append = False
    assert h.init("t") is PENDING
    (append,) = h.pending
    h.finish_append(append, errors.NotEnoughReplicas)
    assert list(h.replies.values())[-1] == InitPidResult(error=errors.CoordinatorNotAvailable)
    t = h.txn()
    assert (t.state, t.producer_epoch, t.pending_state, t.has_failed_epoch_fence) == \
        (S.ONGOING, 1, None, True)
    assert h.sends == []
    h.auto_append = True
    assert h.init("t").error is errors.ConcurrentTransactions
    _, abort = h.records()[-1]
    assert (abort.state, abort.producer_epoch) == (S.PREPARE_ABORT, 1)  # still 1
    assert not h.txn().has_failed_epoch_fence  # the abort record is durable now


def test_kip360_producer_recovers_with_its_current_epoch():
    h = TxnHarness()
    h.init("t")
    pid, epoch = h.begin("t", A0)
    assert epoch == 1
    h.end("t", pid, epoch, commit=False)
    h.write_markers()
    # The producer (after an abortable error) asks for a bump of its own epoch.
    assert h.init("t", pid=pid, epoch=epoch) == InitPidResult(producer_id=pid,
                                                             producer_epoch=epoch + 1)
    assert h.txn().last_producer_epoch == epoch
    # Its response was lost: the retry returns the same epoch.
    assert h.init("t", pid=pid, epoch=epoch) == InitPidResult(producer_id=pid,
                                                             producer_epoch=epoch + 1)
    # An older epoch, or a producer id this id never had, is fenced.
    assert h.init("t", pid=pid, epoch=epoch - 1).error is errors.ProducerFenced
    assert h.init("t", pid=4242, epoch=epoch + 1).error is errors.ProducerFenced
    # A new instance (no expected epoch) bumps and forgets the last epoch: the old retry is
    # now a zombie.
    assert h.init("t").producer_epoch == epoch + 2
    assert h.init("t", pid=pid, epoch=epoch).error is errors.ProducerFenced


def test_kip360_expected_id_on_a_new_transactional_id_is_accepted():
    h = TxnHarness()
    r = h.init("t", pid=77, epoch=3)
    assert r == InitPidResult(producer_id=1000, producer_epoch=0)


def test_kip360_during_a_transaction_fences_and_aborts():
    h = TxnHarness()
    pid, epoch = h.begin("t", A0)
    assert h.init("t", pid=pid, epoch=epoch).error is errors.ConcurrentTransactions
    h.write_markers()
    # The fence took epoch+1 (never handed out); the retry with the old epoch is a zombie's.
    assert h.init("t", pid=pid, epoch=epoch).error is errors.ProducerFenced
    assert h.init("t", pid=pid, epoch=epoch + 1).producer_epoch == epoch + 2


def exhausted(h: TxnHarness, epoch: int = 32765):
    """Make the id's epoch ``epoch`` by replaying a record (as after years of restarts)."""
    from kafkalite.coordinator.transaction.log import TxnLogValue, encode_key, encode_value
    value = TxnLogValue(producer_id=500, producer_epoch=epoch, timeout_ms=60000,
                        state=S.COMPLETE_COMMIT, last_update_ms=0, start_ms=0)
    h.logs[0] = [(0, encode_key("t"), encode_value(value))]
    h.load(0)


def test_epoch_exhaustion_rotates_the_producer_id():
    h = TxnHarness()
    exhausted(h)
    assert h.init("t") == InitPidResult(producer_id=500, producer_epoch=32766)
    r = h.init("t")  # 32766 is exhausted: a new producer id
    assert (r.producer_id, r.producer_epoch) == (1001, 0)
    t = h.txn()
    assert (t.last_producer_id, t.last_producer_epoch) == (500, -1)


def test_exhausted_rotation_retry_with_the_old_id():
    h = TxnHarness()
    exhausted(h, 32766)
    r = h.init("t", pid=500, epoch=32766)
    assert (r.producer_id, r.producer_epoch) == (1000, 0)
    assert (h.txn().last_producer_id, h.txn().last_producer_epoch) == (500, 32766)
    # The response was lost; the producer retries with its old id and epoch.
    assert h.init("t", pid=500, epoch=32766) == InitPidResult(producer_id=1000,
                                                              producer_epoch=0)


def test_fence_at_the_last_epoch_then_rotation():
    h = TxnHarness()
    exhausted(h, 32765)
    r = h.init("t")
    assert r.producer_epoch == 32766
    assert h.add("t", 500, 32766, A0) is None
    assert h.init("t").error is errors.ConcurrentTransactions  # fence to 32767
    assert h.sends[0].producer_epoch == 32767
    h.write_markers()
    r = h.init("t")
    assert (r.producer_id, r.producer_epoch) == (1002, 0)  # 1000, 1001 went unused


def test_add_partitions_errors():
    h = TxnHarness()
    assert h.add("nobody", 1, 0, A0) is errors.InvalidProducerIdMapping
    assert h.add("", 1, 0, A0) is errors.InvalidRequest
    r = h.init("t")
    assert h.add("t", r.producer_id + 1, 0, A0) is errors.InvalidProducerIdMapping
    assert h.add("t", r.producer_id, 1, A0) is errors.ProducerFenced
    assert h.add("t", r.producer_id, 0, A0, A1) is None
    records = len(h.logs[0])
    assert h.add("t", r.producer_id, 0, A1) is None  # already included: nothing written
    assert len(h.logs[0]) == records
    h.auto_append = False
    assert h.add("t", r.producer_id, 0, B0) is PENDING
    assert h.add("t", r.producer_id, 0, A0) is errors.ConcurrentTransactions


def test_add_offsets_partition_is_just_a_partition():
    h = TxnHarness()
    pid, epoch = h.begin("t", A0)
    offsets = TopicPartition("__consumer_offsets", 7)
    assert h.add("t", pid, epoch, offsets) is None
    h.end("t", pid, epoch)
    assert offsets in h.sends[0].partitions


@pytest.mark.parametrize("append_error, answer", [
    (errors.NotEnoughReplicas, errors.CoordinatorNotAvailable),
    (errors.NotEnoughReplicasAfterAppend, errors.CoordinatorNotAvailable),
    (errors.UnknownTopicOrPartition, errors.CoordinatorNotAvailable),
    (errors.RequestTimedOut, errors.CoordinatorNotAvailable),
    (errors.NotLeaderOrFollower, errors.NotCoordinator),
    (errors.KafkaStorageError, errors.NotCoordinator),
    (errors.MessageTooLarge, errors.UnknownServerError),
    (errors.RecordListTooLarge, errors.UnknownServerError),
    (errors.InvalidRecord, errors.InvalidRecord),
])
def test_append_errors_are_mapped_and_reset_the_pending_state(append_error, answer):
    h = TxnHarness()
    r = h.init("t")
    h.auto_append = False
    result = h.m.add_partitions("t", r.producer_id, 0, [A0], now_ms=0)
    h.apply(result)
    h.finish_append(h.pending[0], append_error)
    assert h.replies[result.park] is answer
    assert h.txn().pending_state is None and h.txn().state is S.EMPTY
    h.auto_append = True
    assert h.add("t", r.producer_id, 0, A0) is None  # a retry succeeds


def test_end_txn_errors():
    h = TxnHarness()
    assert h.end("nobody", 1, 0) is errors.InvalidProducerIdMapping
    assert h.end("", 1, 0) is errors.InvalidRequest
    r = h.init("t")
    assert h.end("t", r.producer_id, 0) is errors.InvalidTxnState  # nothing to end
    assert h.end("t", r.producer_id + 1, 0) is errors.InvalidProducerIdMapping
    assert h.end("t", r.producer_id, 1) is errors.ProducerFenced


def test_empty_transaction_completes_without_markers():
    h = TxnHarness()
    r = h.init("t")
    assert h.add("t", r.producer_id, 0) is None
    assert h.end("t", r.producer_id, 0) is None
    assert h.sends == []
    assert h.states()[-2:] == ["PrepareCommit", "CompleteCommit"]


def test_timed_out_transaction_is_fenced_and_aborted():
    h = TxnHarness()
    h.init("t", timeout=1000)
    h.now = 100
    assert h.add("t", 1000, 0, A0) is None
    assert h.apply(h.m.abort_timed_out(1100)).effects == ()  # start + timeout == now
    h.now = 1101
    h.apply(h.m.abort_timed_out(h.now))
    _, abort = h.records()[-1]
    assert (abort.state, abort.producer_epoch) == (S.PREPARE_ABORT, 1)
    assert h.sends[0].commit is False and h.sends[0].producer_epoch == 1
    assert h.apply(h.m.abort_timed_out(h.now + 10_000)).effects == ()  # pending: skipped
    assert h.end("t", 1000, 0, commit=True) is errors.ProducerFenced
    h.write_markers()
    assert h.txn().state is S.COMPLETE_ABORT
    assert h.init("t").producer_epoch == 2


def test_expiration_writes_tombstones_then_forgets():
    h = TxnHarness(transactional_id_expiration_ms=1000)
    h.init("idle")
    h.begin("busy", A0)
    assert h.apply(h.m.expire_transactional_ids(999)).effects == ()
    h.auto_append = False
    result = h.apply(h.m.expire_transactional_ids(1000))
    (append,) = h.pending
    assert append.records == ((b"\x00\x00\x00\x04idle", None),)  # busy is Ongoing
    assert h.m.get("idle").pending_state is S.DEAD
    assert h.init("idle").error is errors.ConcurrentTransactions
    assert result.response is None
    h.finish_append(append)
    assert h.m.get("idle") is None and h.records()[-1] == ("idle", None)
    assert h.m.describe(["idle"])[0].error is errors.TransactionalIdNotFound
    h.auto_append = True
    assert h.init("idle").producer_id == 1003  # a new producer id (1002 went unused)


def test_failed_tombstone_keeps_the_id():
    h = TxnHarness(transactional_id_expiration_ms=1000)
    h.init("idle")
    h.auto_append = False
    h.apply(h.m.expire_transactional_ids(5000))
    h.finish_append(h.pending[0], errors.NotEnoughReplicas)
    t = h.m.get("idle")
    assert t is not None and t.pending_state is None and t.state is S.EMPTY


def test_describe_transactions():
    h = TxnHarness(2)
    tid = next(t for t in (f"t{i}" for i in range(100)) if h.m.partition_for(t) == 1)
    h.now = 7
    pid, epoch = h.begin(tid, B0, A1, A0)
    d, missing, empty = h.m.describe([tid, "nope", ""])
    assert d == TxnDescription(transactional_id=tid, state="Ongoing", timeout_ms=60000,
                               start_ms=7, producer_id=pid, producer_epoch=epoch,
                               partitions=(A0, A1, B0))
    assert d.topics == (("a", (0, 1)), ("b", (0,)))
    assert (missing.error, empty.error) == (errors.TransactionalIdNotFound,
                                            errors.InvalidRequest)
    h.apply(h.m.unload(1))
    assert h.m.describe([tid])[0].error is errors.NotCoordinator
    h.apply(h.m.begin_load(1, 9))
    assert h.m.describe([tid])[0].error is errors.CoordinatorLoadInProgress
    assert h.m.coordinator_error(tid) is errors.CoordinatorLoadInProgress


def test_list_transactions_filters():
    h = TxnHarness(2)
    h.init("a")
    pid_b, _ = h.begin("b", A0)
    h.begin("c", A1)
    h.end("c", h.txn("c").producer_id, 0)
    everything = h.m.list_transactions()
    assert everything.error is None and everything.unknown_state_filters == ()
    assert everything.transactions == (
        ListedTxn(transactional_id="a", producer_id=1000, state="Empty"),
        ListedTxn(transactional_id="b", producer_id=pid_b, state="Ongoing"),
        ListedTxn(transactional_id="c", producer_id=1002, state="PrepareCommit"))
    r = h.m.list_transactions(["Ongoing", "Bogus"])
    assert r.unknown_state_filters == ("Bogus",)
    assert [t.transactional_id for t in r.transactions] == ["b"]
    assert h.m.list_transactions(["Bogus"]).transactions == ()
    r = h.m.list_transactions(producer_id_filters=[1000, 1002])
    assert [t.transactional_id for t in r.transactions] == ["a", "c"]
    r = h.m.list_transactions(["PrepareCommit"], [1000])
    assert r.transactions == ()
    h.apply(h.m.begin_load(1, 5))
    assert h.m.list_transactions().error is errors.CoordinatorLoadInProgress


def test_not_coordinator_for_partitions_we_do_not_lead():
    h = TxnHarness(2, load=False)
    h.load(0)
    tid = next(t for t in (f"t{i}" for i in range(100)) if h.m.partition_for(t) == 1)
    assert h.m.coordinator_error(tid) is errors.NotCoordinator
    assert h.init(tid).error is errors.NotCoordinator
    assert h.add(tid, 1, 0, A0) is errors.NotCoordinator
    assert h.end(tid, 1, 0) is errors.NotCoordinator
    assert h.m.owned == {0: 1}


def test_partition_for_is_javas_abs_hash_modulo():
    m = TransactionCoordinator(TxnConfig(num_partitions=50))
    # A negative hash: Kafka takes abs(), not the low 31 bits as for consumer groups.
    tid = next(t for t in (f"txn-{i}" for i in range(1000))
               if java_string_hash(t) < 0
               and abs(java_string_hash(t)) % 50 != (java_string_hash(t) & 0x7FFFFFFF) % 50)
    assert m.partition_for(tid) == abs(java_string_hash(tid)) % 50
    assert java_string_hash("polygenelubricants") == -2**31
    assert m.partition_for("polygenelubricants") == 0  # Utils.abs(MIN_VALUE) == 0
    assert TransactionCoordinator(TxnConfig(num_partitions=7)).partition_for(
        "polygenelubricants") == 0
    assert m.partition_for("hello") == 99162322 % 50
