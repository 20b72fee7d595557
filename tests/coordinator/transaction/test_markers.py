"""Transaction markers: per-partition results, retries, deleted topics, fencing, completion."""

from __future__ import annotations

import pytest

from kafkalite import errors
from kafkalite.coordinator.results import Append
from kafkalite.coordinator.transaction.state import TxnState

from .harness import A0, A1, B0, TxnHarness

S = TxnState


def committing(h: TxnHarness, *partitions):
    pid, epoch = h.begin("t", *(partitions or (A0, A1, B0)))
    assert h.end("t", pid, epoch, commit=True) is None
    return h.sends.pop()


@pytest.mark.parametrize("error", [
    errors.NotLeaderOrFollower, errors.UnknownTopicOrPartition, errors.NotEnoughReplicas,
    errors.NotEnoughReplicasAfterAppend, errors.RequestTimedOut, errors.KafkaStorageError,
    errors.NetworkException, errors.LeaderNotAvailable, errors.CorruptMessage,
])
def test_failed_partitions_are_retried_after_a_backoff(error):
    h = TxnHarness()
    send = committing(h)
    h.write_markers(send, {A1: error})
    retry, = h.sends
    assert (retry.partitions, retry.retry_after_ms) == (frozenset({A1}), 100)
    assert (retry.producer_id, retry.producer_epoch, retry.commit,
            retry.coordinator_epoch) == (send.producer_id, send.producer_epoch, True, 1)
    assert h.txn().partitions == {A1} and h.states()[-1] == "PrepareCommit"
    assert h.m.describe(["t"])[0].partitions == (A1,)  # only those still without a marker
    h.write_markers()
    assert h.states()[-1] == "CompleteCommit" and h.m.pending_markers() == []


def test_results_may_come_per_leader():
    h = TxnHarness()
    send = committing(h)
    h.write_markers(send, only={A0, A1})
    assert h.logs and h.states()[-1] == "PrepareCommit" and h.sends == []
    h.write_markers(send, only={B0})
    assert h.states()[-1] == "CompleteCommit"


def test_deleted_topics_are_dropped():
    h = TxnHarness()
    send = committing(h)
    h.write_markers(send, {B0: errors.UnknownTopicOrPartition}, deleted=[B0])
    assert h.sends == [] and h.states()[-1] == "CompleteCommit"


@pytest.mark.parametrize("error", [errors.UnsupportedForMessageFormat,
                                   errors.UnsupportedVersion])
def test_partitions_that_cannot_take_markers_are_dropped(error):
    h = TxnHarness()
    send = committing(h)
    h.write_markers(send, {A0: error})
    assert h.sends == [] and h.states()[-1] == "CompleteCommit"


@pytest.mark.parametrize("error", [errors.InvalidProducerEpoch, errors.ProducerFenced,
                                   errors.TransactionCoordinatorFenced])
def test_fenced_markers_stop_the_transaction(error):
    h = TxnHarness()
    send = committing(h)
    h.write_markers(send, {A0: error, A1: errors.NotLeaderOrFollower})
    assert h.sends == [] and h.m.pending_markers() == []
    assert h.states()[-1] == "PrepareCommit"  # as Kafka: left to the next coordinator
    assert h.end("t", send.producer_id, send.producer_epoch) is errors.ConcurrentTransactions
    # Late results for the stopped transaction are ignored.
    assert h.write_markers(send, only={A1}).effects == ()
    # A reload (new coordinator epoch) resumes the markers.
    h.load(0)
    assert h.txn().state is S.PREPARE_COMMIT and h.sends[-1].coordinator_epoch == 2
    assert h.sends[-1].partitions == {A0, A1, B0}  # the log still lists every partition


def test_completion_append_is_retried_until_written():
    h = TxnHarness()
    send = committing(h)
    h.auto_append = False
    h.write_markers(send)
    complete, = h.pending
    assert isinstance(complete, Append) and complete.partition == 0
    h.finish_append(complete, errors.NotEnoughReplicas)  # -> COORDINATOR_NOT_AVAILABLE
    again, = h.pending
    assert again.records == complete.records
    assert h.txn().pending_state is S.COMPLETE_COMMIT  # not reset: it will be retried
    h.finish_append(again, errors.RequestTimedOut)
    h.finish_append(h.pending[0])
    assert h.txn().state is S.COMPLETE_COMMIT and h.states()[-1] == "CompleteCommit"


def test_completion_append_not_coordinator_gives_up():
    h = TxnHarness()
    send = committing(h)
    h.auto_append = False
    h.write_markers(send)
    result = h.finish_append(h.pending[0], errors.NotLeaderOrFollower)
    assert result.effects == () and h.pending == []
    assert h.txn().state is S.PREPARE_COMMIT and h.txn().pending_state is None
    # Decided but no completion pending: a mismatching EndTxn is now an invalid state.
    assert h.end("t", send.producer_id, send.producer_epoch, commit=True) is \
        errors.ConcurrentTransactions
    assert h.end("t", send.producer_id, send.producer_epoch, commit=False) is \
        errors.InvalidTxnState


def test_completion_retry_stops_after_unload():
    h = TxnHarness()
    send = committing(h)
    h.auto_append = False
    h.write_markers(send)
    complete, = h.pending
    h.apply(h.m.unload(0))
    assert h.finish_append(complete, errors.NotEnoughReplicas).effects == ()
    assert h.pending == []


def test_stale_marker_results_are_ignored():
    h = TxnHarness()
    send = committing(h)
    h.load(0)  # reloaded at coordinator epoch 2: markers resent with the new epoch
    resent, = h.sends
    assert resent.coordinator_epoch == 2 and resent.partitions == send.partitions
    assert h.m.markers_written(send, {tp: None for tp in send.partitions},
                               now_ms=0).effects == ()
    assert h.txn().partitions == {A0, A1, B0}
    h.apply(h.m.unload(0))
    assert h.m.markers_written(resent, {A0: None}, now_ms=0).effects == ()


def test_results_for_partitions_outside_the_send_are_ignored():
    h = TxnHarness()
    send = committing(h, A0)
    h.write_markers(send, only={A0, A1})
    assert h.states()[-1] == "CompleteCommit"
