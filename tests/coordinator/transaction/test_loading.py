"""Replaying __transaction_state on leadership, unloading, and what happens to work in flight."""

from __future__ import annotations

from kafkalite import errors
from kafkalite.coordinator.transaction.log import TxnLogValue, encode_key, encode_value
from kafkalite.coordinator.transaction.results import InitPidResult
from kafkalite.coordinator.transaction.state import TxnState

from .harness import A0, A1, B0, TxnHarness

S = TxnState


def value(state, epoch=0, partitions=(), pid=500):
    return encode_value(TxnLogValue(producer_id=pid, producer_epoch=epoch, timeout_ms=60000,
                                    state=state, partitions=partitions, last_update_ms=1,
                                    start_ms=-1 if state is S.EMPTY else 1))


def test_reload_rebuilds_the_same_state():
    h = TxnHarness()
    h.init("done")
    h.begin("open", A0, B0)
    h.now = 50
    before = {t.transactional_id: (t.producer_id, t.producer_epoch, t.state, t.partitions,
                                   t.start_ms, t.last_update_ms, t.timeout_ms)
              for t in h.m.transactions()}
    h.load(0)
    after = {t.transactional_id: (t.producer_id, t.producer_epoch, t.state, t.partitions,
                                  t.start_ms, t.last_update_ms, t.timeout_ms)
             for t in h.m.transactions()}
    assert after == before and h.m.owned == {0: 2}
    assert h.add("open", 1001, 0, A1) is None  # the producer carries on


def test_last_write_wins_tombstones_delete_and_garbage_is_skipped():
    h = TxnHarness(load=False)
    h.apply(h.m.begin_load(0, 3))
    assert h.m.coordinator_error("a") is errors.CoordinatorLoadInProgress
    assert h.init("a").error is errors.CoordinatorLoadInProgress
    h.m.load_records(0, 3, [
        (0, encode_key("a"), value(S.EMPTY, epoch=0)),
        (1, encode_key("b"), value(S.EMPTY)),
        (2, encode_key("a"), value(S.ONGOING, epoch=1, partitions=(A0,))),
        (3, encode_key("b"), None),
        (4, None, b"junk"),
        (5, b"\x00\x07junk", value(S.EMPTY)),
        (6, encode_key("c"), b"\x00\x09"),
        (7, encode_key("d"), value(S.DEAD)),  # never written by a coordinator
    ])
    assert h.m.load_stats(0) == (1, 4)
    h.m.load_records(0, 2, [(8, encode_key("x"), value(S.EMPTY))])  # stale load: ignored
    h.apply(h.m.complete_load(0, 3, now_ms=0))
    assert [t.transactional_id for t in h.m.transactions()] == ["a"]
    a = h.txn("a")
    assert (a.state, a.producer_epoch, a.partitions, a.last_producer_epoch) == \
        (S.ONGOING, 1, {A0}, -1)
    assert h.m.load_stats(0) is None and not h.m.is_loading()


def test_stale_complete_load_is_ignored():
    h = TxnHarness(load=False)
    h.apply(h.m.begin_load(0, 3))
    assert h.m.complete_load(0, 2, now_ms=0).effects == ()
    assert h.m.is_loading() and h.m.owned == {}


def test_loaded_prepare_states_resume_their_markers():
    h = TxnHarness(load=False)
    h.logs[0] = [(0, encode_key("c"), value(S.PREPARE_COMMIT, 4, (A0, A1))),
                 (1, encode_key("a"), value(S.PREPARE_ABORT, 2, (B0,), pid=600)),
                 (2, encode_key("e"), value(S.PREPARE_ABORT, 0, (), pid=700))]
    h.now = 99
    h.load(0)
    commit, abort = sorted(h.sends, key=lambda s: s.transactional_id, reverse=True)
    assert (commit.transactional_id, commit.commit, commit.producer_id, commit.producer_epoch,
            commit.coordinator_epoch, commit.partitions) == ("c", True, 500, 4, 1, {A0, A1})
    assert (abort.transactional_id, abort.commit, abort.partitions) == ("a", False, {B0})
    # A prepared transaction with no partitions completes at once.
    assert h.txn("e").state is S.COMPLETE_ABORT
    assert h.init("c").error is errors.ConcurrentTransactions  # still completing
    h.write_markers(commit)
    h.write_markers(abort)
    assert (h.txn("c").state, h.txn("a").state) == (S.COMPLETE_COMMIT, S.COMPLETE_ABORT)
    assert h.txn("c").last_update_ms == 99


def test_unload_answers_parked_requests_and_ignores_late_appends():
    h = TxnHarness()
    r = h.init("t")
    h.auto_append = False
    add = h.m.add_partitions("t", r.producer_id, 0, [A0], now_ms=0)
    h.apply(add)
    init = h.m.init_producer_id("u", 1000, fresh_producer_id=9, now_ms=0)
    h.apply(init)
    h.apply(h.m.unload(0))
    assert h.replies[add.park] is errors.NotCoordinator
    assert h.replies[init.park] == InitPidResult(error=errors.NotCoordinator)
    assert h.m.owned == {} and h.m.coordinator_error("t") is errors.NotCoordinator
    # The appends finish afterwards: nobody is answered twice (the harness checks), nothing
    # changes.
    for append in list(h.pending):
        assert h.finish_append(append).effects == ()
    assert list(h.m.transactions()) == []


def test_reload_while_an_append_is_in_flight():
    h = TxnHarness()
    pid, epoch = h.begin("t", A0)
    h.auto_append = False
    end = h.m.end_txn("t", pid, epoch, True, now_ms=0)
    h.apply(end)
    stale, = h.pending
    h.auto_append = True
    h.load(0)  # leader again at epoch 2: replays the log, which lacks the PrepareCommit
    assert h.replies[end.park] is errors.NotCoordinator
    t = h.txn()
    assert (t.state, t.pending_state) == (S.ONGOING, None)
    h.pending.remove(stale)
    assert h.finish_append(stale).effects == ()  # written late: ignored, no markers
    assert h.sends == [] and h.txn() is t and t.state is S.ONGOING
    # The producer retries EndTxn against the new coordinator epoch.
    assert h.end("t", pid, epoch) is None
    assert h.sends[0].coordinator_epoch == 2


def test_begin_load_on_an_owned_partition_drops_it_first():
    h = TxnHarness()
    h.auto_append = False
    init = h.m.init_producer_id("t", 1000, fresh_producer_id=9, now_ms=0)
    h.apply(init)
    h.apply(h.m.begin_load(0, 7))
    assert h.replies[init.park] == InitPidResult(error=errors.NotCoordinator)
    assert h.m.owned == {} and h.m.is_loading()
    assert h.init("t") == InitPidResult(error=errors.CoordinatorLoadInProgress)


def test_markers_of_an_unloaded_partition_are_forgotten():
    h = TxnHarness()
    pid, epoch = h.begin("t", A0)
    h.end("t", pid, epoch)
    send, = h.sends
    h.apply(h.m.unload(0))
    assert h.m.pending_markers() == []
    assert h.m.markers_written(send, {A0: None}, now_ms=0).effects == ()
    assert h.init("t") == InitPidResult(error=errors.NotCoordinator)
