"""The pure group coordinator: classic protocol, offsets, replay, expiry; no I/O, no sleeps."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from kafkalite import errors
from kafkalite.coordinator.group_state import GroupState
from kafkalite.coordinator.machine import GroupConfig, GroupCoordinator
from kafkalite.coordinator.offsets_topic import (
    GroupMetadataKey, OffsetKey, decode_group_value, decode_key, partition_for)
from kafkalite.coordinator.results import JoinResult, SyncResult
from kafkalite.model import TopicPartition

from .harness import PENDING, TP, Harness


def stable_member(h: Harness, group="g", **kw) -> tuple[str, int]:
    """Join (through MEMBER_ID_REQUIRED) and sync one member; returns (member id, generation)."""
    r, _ = h.join(group, **kw)
    assert r.error is errors.MemberIdRequired and r.member_id == "c-1"
    r, _ = h.join(group, r.member_id, **kw)
    assert r.error is None and r.leader_id == r.member_id, r
    s, _ = h.sync(group, r.generation_id, r.member_id, {r.member_id: b"a1"})
    assert s == SyncResult(protocol_type="consumer", protocol_name="range", assignment=b"a1")
    return r.member_id, r.generation_id


def test_single_member_lifecycle():
    h = Harness()
    member, gen = stable_member(h)
    assert gen == 1 and h.state() == "Stable"
    (offset, key, value), = h.log
    assert decode_key(key) == GroupMetadataKey("g")
    v = decode_group_value(value)
    assert (v.generation, v.protocol, v.leader) == (1, "range", member)
    assert [(m.member_id, m.assignment, m.subscription) for m in v.members] == \
        [(member, b"a1", b"sub")]
    assert h.heartbeat("g", gen, member) is None
    assert h.leave("g", (member, None)).members[0].error is None
    assert h.state() == "Empty"
    assert decode_group_value(h.log[-1][2]).members == ()  # the Empty group is persisted


def test_rebalance_waits_for_every_member():
    h = Harness()
    a, gen = stable_member(h)
    b_id = h.join("g")[0].member_id
    rb, b_token = h.join("g", b_id)
    assert rb is PENDING and h.state() == "PreparingRebalance"
    assert h.heartbeat("g", gen, a) is errors.RebalanceInProgress
    assert h.sync("g", gen, a, {})[0].error is errors.RebalanceInProgress
    ra, _ = h.join("g", a)
    rb = h.reply(b_token)
    assert ra.generation_id == rb.generation_id == 2 and ra.leader_id == rb.leader_id == a
    assert [m.member_id for m in ra.members] == [a, b_id] and rb.members == ()
    assert h.heartbeat("g", 2, b_id) is None  # Kafka 2.x: fine between join and sync
    res, b_sync = h.sync("g", 2, b_id)
    assert res is PENDING
    res, _ = h.sync("g", 2, a, {a: b"A", b_id: b"B"})
    assert res.assignment == b"A" and h.reply(b_sync).assignment == b"B"
    assert h.state() == "Stable"


def test_unchanged_follower_rejoin_keeps_the_generation():
    h = Harness()
    a, _ = stable_member(h)
    b = h.join("g")[0].member_id
    _, tb = h.join("g", b)
    h.join("g", a)
    h.sync("g", 2, b)
    h.sync("g", 2, a, {a: b"A", b: b"B"})
    r, _ = h.join("g", b)
    assert (r.error, r.generation_id, r.members) == (None, 2, ())
    assert h.state() == "Stable"
    r, _ = h.join("g", b, protocols=(("roundrobin", b"x"),))
    assert r.error is errors.InconsistentGroupProtocol


def test_session_expiry_removes_the_member_and_rebalances():
    h = Harness()
    a, _ = stable_member(h, session=10000)
    b = h.join("g")[0].member_id
    h.join("g", b, session=20000)
    h.join("g", a)
    h.sync("g", 2, b)
    h.sync("g", 2, a, {a: b"A", b: b"B"})
    h.advance(9000)
    assert h.heartbeat("g", 2, b) is None  # only b heartbeats
    h.advance(2000)
    assert h.state() == "PreparingRebalance"
    assert h.heartbeat("g", 2, b) is errors.RebalanceInProgress
    r, _ = h.join("g", b)
    assert (r.generation_id, r.leader_id, [m.member_id for m in r.members]) == (3, b, [b])
    assert h.heartbeat("g", 3, a) is errors.UnknownMemberId


def test_rebalance_timeout_drops_members_that_do_not_rejoin():
    h = Harness()
    a, _ = stable_member(h, rebalance=5000)
    b = h.join("g")[0].member_id
    _, tb = h.join("g", b, rebalance=5000)
    h.advance(4000)
    assert h.heartbeat("g", 1, a) is errors.RebalanceInProgress  # alive but never rejoins
    h.advance(1000)
    r = h.reply(tb)
    assert (r.generation_id, r.leader_id, [m.member_id for m in r.members]) == (2, b, [b])
    assert h.heartbeat("g", 1, a) is errors.UnknownMemberId


def test_initial_rebalance_delay_grows_while_members_arrive():
    h = Harness(initial_rebalance_delay_ms=3000)
    _, ta = h.join("g", v4=False, rebalance=10000)
    h.advance(2000)
    _, tb = h.join("g", v4=False, rebalance=10000)
    h.advance(1000)
    assert h.reply(ta) is PENDING  # another member came during the delay: wait once more
    h.advance(3000)
    ra, rb = h.reply(ta), h.reply(tb)
    assert ra.generation_id == rb.generation_id == 1 and len(ra.members) == 2


def test_commit_is_acknowledged_only_once_written():
    h = Harness()
    a, gen = stable_member(h)
    h.auto_append = False
    res, token = h.commit("g", gen, a, {TP: 5}, "meta")
    assert res is PENDING and h.committed("g") == -1
    h.finish_append(h.pending[0])
    assert h.reply(token) == {TP: None}
    got = h.m.fetch_offsets("g", None).offsets[TP]
    assert (got.offset, got.metadata) == (5, "meta")


def test_a_late_write_never_overwrites_a_newer_commit():
    h = Harness()
    a, gen = stable_member(h)
    h.auto_append = False
    h.commit("g", gen, a, {TP: 5})
    h.commit("g", gen, a, {TP: 9})
    first, second = h.pending
    h.log.append((0, b"", b""))  # the first append's record sits before the second's
    h.finish_append(second)
    h.log[-2:] = h.log[-1:] + h.log[-2:-1]
    h.apply(h.m.append_completed(first, None, 0, now_ms=h.now))
    assert h.committed("g") == 9


def test_failed_write_reports_a_coordinator_error():
    h = Harness()
    a, gen = stable_member(h)
    h.auto_append = False
    _, token = h.commit("g", gen, a, {TP: 5})
    h.finish_append(h.pending[0], errors.NotLeaderOrFollower)
    assert h.reply(token) == {TP: errors.NotCoordinator} and h.committed("g") == -1


def test_commit_fencing():
    h = Harness()
    assert h.commit("g", 1, "x", {TP: 1})[0] == {TP: errors.IllegalGeneration}
    assert h.commit("solo", -1, "", {TP: 3})[0] == {TP: None}  # simple commit, group created
    assert h.m.describe_group("solo").state == "Empty" and h.committed("solo") == 3
    a, gen = stable_member(h)
    assert h.commit("g", -1, "", {TP: 1})[0] == {TP: errors.UnknownMemberId}
    assert h.commit("g", gen + 1, a, {TP: 1})[0] == {TP: errors.IllegalGeneration}
    assert h.commit("g", gen, "who", {TP: 1})[0] == {TP: errors.UnknownMemberId}
    assert h.commit("g", gen, a, {TP: 1}, "x" * 4097)[0] == {TP: errors.OffsetMetadataTooLarge}
    b = h.join("g")[0].member_id
    h.join("g", b)
    assert h.commit("g", gen, a, {TP: 2})[0] == {TP: None}  # PreparingRebalance: still fine
    h.join("g", a)
    assert h.state() == "CompletingRebalance"
    assert h.commit("g", 2, a, {TP: 3})[0] == {TP: errors.RebalanceInProgress}


def test_join_validation():
    h = Harness(min_session_timeout_ms=6000, max_size=1)
    assert h.join("g", session=1000)[0].error is errors.InvalidSessionTimeout
    assert h.join("", v4=False)[0].error is errors.InvalidGroupId
    assert h.join("g", "unknown-id")[0].error is errors.UnknownMemberId
    stable_member(h)
    b = h.join("g")[0].member_id
    assert h.join("g", b)[0].error is errors.GroupMaxSizeReached


def test_static_member_takes_over_without_a_rebalance():
    h = Harness()
    r, _ = h.join("g", instance="i1")  # static members get their id at once
    old = r.member_id
    h.sync("g", 1, old, {old: b"A"}, instance="i1")
    r, _ = h.join("g", instance="i1")
    assert (r.error, r.generation_id, r.leader_id) == (None, 1, old)  # old id: no re-assign
    assert r.member_id != old and h.state() == "Stable"
    assert h.heartbeat("g", 1, old, "i1") is errors.FencedInstanceId
    assert h.heartbeat("g", 1, r.member_id, "i1") is None
    assert h.sync("g", 1, r.member_id, instance="i1")[0].assignment == b"A"
    left = h.leave("g", ("", "i1"), ("", "nobody")).members
    assert [m.error for m in left] == [None, errors.UnknownMemberId]


def test_replay_rebuilds_groups_and_offsets():
    h = Harness()
    a, gen = stable_member(h)
    h.commit("g", gen, a, {TP: 4, TopicPartition("t", 1): 8}, "m")
    h.commit("g", gen, a, {TP: 6})
    h.commit("solo", -1, "", {TP: 1})
    h.commit("gone", -1, "", {TP: 2})
    assert h.answer(h.m.delete_groups(["gone"], now_ms=h.now)) == {"gone": None}
    fresh = GroupCoordinator(GroupConfig(num_partitions=1), new_uuid=lambda: "x")
    fresh.begin_load(0, 7)
    assert fresh.coordinator_error("g") is errors.CoordinatorLoadInProgress
    fresh.load_records(0, 7, h.log)
    result = fresh.complete_load(0, 7, now_ms=0)
    assert fresh.fetch_offsets("g", None).offsets == h.m.fetch_offsets("g", None).offsets
    assert fresh.fetch_offsets("solo", [TP]).offsets[TP].offset == 1
    assert fresh.describe_group("gone").state == "Dead"  # unknown: tombstoned
    d = fresh.describe_group("g")
    assert d.state == "Stable" and [(m.member_id, m.assignment) for m in d.members] == \
        [(a, b"a1")]
    assert [t.key for t in result.timers] == [("heartbeat", "g", a)]  # sessions restart


def test_unload_answers_parked_requests():
    h = Harness()
    a, _ = stable_member(h)
    b = h.join("g")[0].member_id
    _, token = h.join("g", b)
    h.apply(h.m.unload(0))
    assert h.reply(token) == JoinResult(error=errors.NotCoordinator)
    assert h.m.coordinator_error("g") is errors.NotCoordinator
    assert h.m.fetch_offsets("g", [TP]).error is errors.NotCoordinator


def test_delete_groups_and_offsets():
    h = Harness()
    a, gen = stable_member(h)
    h.commit("idle", -1, "", {TP: 1, TopicPartition("other", 0): 2})
    out = h.answer(h.m.delete_groups(["g", "idle", "nope"], now_ms=h.now))
    assert out == {"g": errors.NonEmptyGroup, "idle": None, "nope": errors.GroupIdNotFound}
    assert [v for _, _, v in h.log[-3:]] == [None, None, None]  # 2 offsets + the group
    h.commit("g", gen, a, {TopicPartition("other", 0): 5})
    r = h.answer(h.m.delete_offsets("g", [TopicPartition("other", 0)], now_ms=h.now))
    # b"sub" is no ConsumerProtocol subscription: no topic counts as subscribed (as in Kafka)
    assert r.error is None and r.partitions == {TopicPartition("other", 0): None}
    assert h.committed("g", TopicPartition("other", 0)) == -1


def test_offsets_expire_once_the_group_is_empty_long_enough():
    h = Harness(offsets_retention_ms=60_000, offsets_retention_check_interval_ms=10_000)
    h.commit("solo", -1, "", {TP: 1})
    a, gen = stable_member(h, session=100_000)
    h.commit("g", gen, a, {TP: 2})
    h.advance(50_000)
    h.leave("g", (a, None))
    h.advance(20_000)  # solo's commit is 70 s old; g is Empty for 20 s only
    assert h.m.describe_group("solo").state == "Dead" and h.committed("g") == 2
    h.advance(50_000)
    assert h.state("g") == "Dead" and h.committed("g") == -1
    assert h.log[-1][2] is None


subscription = b"\x00\x00\x00\x00\x00\x01\x00\x01t\xff\xff\xff\xff"  # v0, topics ["t"], no data


def test_offset_delete_respects_subscriptions():
    h = Harness()
    r, _ = h.join("g", v4=False, protocols=(("range", subscription),))
    h.sync("g", 1, r.member_id, {})
    h.commit("g", 1, r.member_id, {TP: 1, TopicPartition("u", 0): 1})
    out = h.answer(h.m.delete_offsets("g", [TP, TopicPartition("u", 0)], now_ms=h.now))
    assert out.partitions == {TP: errors.GroupSubscribedToTopic, TopicPartition("u", 0): None}
    assert h.committed("g") == 1 and h.committed("g", TopicPartition("u", 0)) == -1


def test_offsets_of_deleted_topics_are_removed():
    """Kafka's handleDeletedPartitions: a deleted topic's offsets go from every group (with
    tombstones); a group left Empty without offsets is deleted; others keep theirs."""
    h = Harness()
    gone, kept = TopicPartition("gone", 0), TopicPartition("kept", 1)
    a, gen = stable_member(h)
    h.commit("g", gen, a, {gone: 5, kept: 7})
    h.commit("solo", -1, "", {gone: 3})
    before = len(h.log)
    h.apply(h.m.handle_deleted_topics(["gone", "never-committed"], now_ms=h.now))
    assert h.committed("g", gone) == -1 and h.committed("g", kept) == 7
    assert h.state("g") == "Stable"
    assert h.state("solo") == "Dead" and h.committed("solo", gone) == -1
    written = [(decode_key(k), v) for _, k, v in h.log[before:]]
    assert all(v is None for _, v in written)
    assert {str(k) for k, _ in written} == {
        str(OffsetKey("g", "gone", 0)), str(OffsetKey("solo", "gone", 0)),
        str(GroupMetadataKey("solo"))}
    h.apply(h.m.handle_deleted_topics(["gone"], now_ms=h.now))   # nothing left to remove
    assert len(h.log) == before + len(written)


# -- property: any interleaving keeps the table's invariants and answers every request ------

ops = st.lists(st.tuples(st.sampled_from(["join", "sync", "heartbeat", "leave", "commit",
                                          "advance", "fail-appends"]),
                         st.integers(0, 2), st.integers(1, 12)), max_size=40)


@settings(max_examples=150, deadline=None)
@given(ops)
def test_random_interleavings(sequence):
    h = Harness(initial_rebalance_delay_ms=0)
    clients = [{"id": "", "gen": -1, "token": None} for _ in range(3)]

    def absorb():
        for c in clients:
            if c["token"] is not None and c["token"] in h.replies:
                r = h.replies[c["token"]]
                c["token"] = None
                if isinstance(r, JoinResult) and r.error is None:
                    c["id"], c["gen"] = r.member_id, r.generation_id

    for op, i, k in sequence:
        c = clients[i]
        if op == "join":
            r, token = h.join("g", c["id"], session=6000, rebalance=8000, client_id=f"c{i}")
            if r is PENDING:
                c["token"] = token
            elif r.error in (None, errors.MemberIdRequired):
                c["id"] = r.member_id
                c["gen"] = r.generation_id if r.error is None else c["gen"]
        elif op == "sync":
            group = h.m.groups.get("g")
            assignments = {m: b"x" for m in group.members} if group else {}
            h.sync("g", c["gen"], c["id"], assignments)
        elif op == "heartbeat":
            h.heartbeat("g", c["gen"], c["id"])
        elif op == "leave":
            h.leave("g", (c["id"], None))
        elif op == "commit":
            h.commit("g", c["gen"], c["id"], {TP: k})
        elif op == "advance":
            h.advance(k * 1000)
        else:
            h.auto_append = not h.auto_append
            for append in list(h.pending):
                h.finish_append(append, errors.RequestTimedOut if k % 2 else None)
        absorb()
        group = h.m.groups.get("g")
        if group is not None:
            assert (group.leader_id is None) == (not group.members)
            assert set(group.static_members.values()) <= set(group.members)
            if group.state in (GroupState.STABLE, GroupState.COMPLETING_REBALANCE):
                assert group.members and group.protocol_name is not None
    for append in list(h.pending):
        h.finish_append(append)
    h.apply(h.m.unload(0))
    assert h.parked <= set(h.replies), "a parked request was never answered"


def test_heartbeats_move_the_session_deadline_without_new_timers():
    """Session timers are re-armed lazily: heartbeats set none while one is armed, and the
    member still expires exactly a session timeout after its last heartbeat."""
    h = Harness()
    a, gen = stable_member(h, session=10000)
    key = ("heartbeat", "g", a)
    assert h.timers[key] == 10000
    for t in (2000, 4000, 6000):
        h.advance(t - h.now)
        result = h.m.heartbeat("g", gen, a, now_ms=h.now)
        assert result.response is None and result.timers == []
        h.apply(result)
    h.advance(10000 - h.now)          # the armed timer fires, finds the deadline moved
    assert h.state() == "Stable" and h.timers[key] == 16000
    h.advance(15999 - h.now)
    assert h.state() == "Stable"
    h.advance(1)
    assert not h.m.describe_group("g").members


def test_commit_counts_as_heartbeat_lazily():
    h = Harness()
    a, gen = stable_member(h, session=10000)
    h.advance(9000)
    result, _ = h.commit("g", gen, a, {TP: 5})
    assert result == {TP: None}
    h.advance(9999)   # past the first deadline, not past the commit's (19000)
    assert [m.member_id for m in h.m.describe_group("g").members] == [a]
    h.advance(1)
    assert not h.m.describe_group("g").members


def test_earlier_deadline_rearms_the_session_timer():
    """A new member's JoinGroup timeout (5 minutes) is armed first; its session deadline
    once it has its assignment is earlier, so that one is armed too, and it is the one
    that expires the member."""
    h = Harness()
    r, _ = h.join("g")
    r, park = h.join("g", r.member_id, session=10000)
    a = r.member_id
    assert r.error is None
    assert h.timers[("heartbeat", "g", a)] == 10000   # not the 5-minute join timeout
    h.advance(1000)
    s, _ = h.sync("g", r.generation_id, a, {a: b"a1"})
    assert s.error is None
    h.advance(9999)
    assert [m.member_id for m in h.m.describe_group("g").members] == [a]
    h.advance(1)
    assert not h.m.describe_group("g").members


def test_partition_cache_follows_num_partitions():
    m = GroupCoordinator(GroupConfig(num_partitions=50), new_uuid=lambda: "x")
    assert m.partition_for("my-group") == partition_for("my-group", 50)
    m.config = GroupConfig(num_partitions=7)
    assert m.partition_for("my-group") == partition_for("my-group", 7)
