"""Transactional offset commits in the group coordinator (TxnOffsetCommit, KIP-98/KIP-447)."""

from kafkalite import errors
from kafkalite.coordinator.machine import GroupConfig, GroupCoordinator
from kafkalite.coordinator.results import OffsetCommitEntry
from kafkalite.model import TopicPartition

from .harness import TP, Harness

TP1 = TopicPartition("t", 1)


def txn_commit(h, group, pid, offsets, **kw):
    result = h.m.txn_commit_offsets(group, pid, 0, {tp: OffsetCommitEntry(offset=o)
                                                    for tp, o in offsets.items()},
                                    now_ms=h.now, **kw)
    if result.park is None:
        return result.response
    (append,) = result.appends
    assert append.producer == (pid, 0)  # written as the producer's transactional batch
    return h.answer(result)


def committed(h, group, tp):
    return h.m.fetch_offsets(group, [tp]).offsets[tp].offset


def test_offsets_count_only_after_the_commit_marker():
    h = Harness()
    assert txn_commit(h, "g", 7, {TP: 5, TP1: 9}) == {TP: None, TP1: None}
    assert committed(h, "g", TP) == -1
    assert h.m.fetch_offsets("g", [TP], require_stable=True).offsets[TP].error is \
        errors.UnstableOffsetCommit
    h.m.complete_transaction(7, [0], committed=True)
    assert (committed(h, "g", TP), committed(h, "g", TP1)) == (5, 9)
    assert h.m.fetch_offsets("g", [TP], require_stable=True).offsets[TP].error is None


def test_aborted_offsets_vanish_and_a_later_plain_commit_wins():
    h = Harness()
    txn_commit(h, "g", 7, {TP: 5})
    h.m.complete_transaction(7, [0], committed=False)
    assert committed(h, "g", TP) == -1
    txn_commit(h, "g", 8, {TP: 6})
    h.commit("g", -1, "", {TP: 10})  # written after the transactional record
    h.m.complete_transaction(8, [0], committed=True)
    assert committed(h, "g", TP) == 10
    h.m.complete_transaction(99, [0], committed=True)  # unknown producers are no-ops


def test_generation_and_member_are_checked_when_given():
    h = Harness()
    assert txn_commit(h, "g", 7, {TP: 1}, member_id="nobody") == {TP: errors.UnknownMemberId}
    assert txn_commit(h, "g", 7, {TP: 1}, generation_id=3) == {TP: errors.IllegalGeneration}


def test_replay_applies_markers_and_keeps_open_transactions_pending():
    h = Harness()
    txn_commit(h, "g", 7, {TP: 5})
    txn_commit(h, "g", 8, {TP1: 9})
    txn_commit(h, "g", 9, {TP: 1})
    fresh = GroupCoordinator(GroupConfig(num_partitions=1), new_uuid=lambda: "x")
    fresh.begin_load(0, 1)
    (o7, k7, v7), (o8, k8, v8), (o9, k9, v9) = h.log
    fresh.load_txn_records(0, 1, 7, [(o7, k7, v7)])
    fresh.load_txn_records(0, 1, 8, [(o8, k8, v8)])
    fresh.load_txn_marker(0, 1, 7, True)
    fresh.load_txn_records(0, 1, 9, [(o9, k9, v9)])
    fresh.load_txn_marker(0, 1, 9, False)
    fresh.complete_load(0, 1, now_ms=0)
    offsets = fresh.fetch_offsets("g", None).offsets
    assert {tp: o.offset for tp, o in offsets.items()} == {TP: 5}
    # producer 8 is still undecided after the replay: its commit waits for the marker
    fresh.complete_transaction(8, [0], committed=True)
    assert fresh.fetch_offsets("g", [TP1]).offsets[TP1].offset == 9
