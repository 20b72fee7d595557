"""The pure parts of group.py: the member state machine, heartbeat timing, request builders."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kafkalite.errors import FencedInstanceId, InconsistentGroupProtocol, KafkaError
from kafkalite.model import TopicPartition as TP
from kafkalite.protocol.messages.heartbeat import HeartbeatResponse
from kafkalite.protocol.messages.join_group import (
    JoinGroupRequestProtocol,
    JoinGroupResponse,
    JoinGroupResponseMember,
)
from kafkalite.protocol.messages.offset_commit import (
    OffsetCommitResponse,
    OffsetCommitResponsePartition,
    OffsetCommitResponseTopic,
)
from kafkalite.protocol.messages.offset_fetch import (
    OffsetFetchResponse,
    OffsetFetchResponsePartition,
    OffsetFetchResponseTopic,
)
from kafkalite.protocol.messages.sync_group import SyncGroupResponse
from kafkalite.client.assignors import Subscription
from kafkalite.client.group import (
    VALID_PREVIOUS,
    GroupMembership,
    HeartbeatOutcome,
    HeartbeatTimer,
    IllegalStateTransition,
    Joined,
    MemberState,
    OffsetAndMetadata,
    Rejoin,
    Synced,
    committed_from_response,
    offset_commit_errors,
    offset_commit_request,
    offset_fetch_request,
)

PROTOCOLS = [JoinGroupRequestProtocol(name="range",
                                      metadata=Subscription(topics=("t",)).encode())]


def join(m: GroupMembership):
    return m.join_request(protocols=PROTOCOLS, session_timeout_ms=10_000,
                          rebalance_timeout_ms=30_000)


def joined_response(member="m-1", leader="m-1", generation=1, code=0):
    members = (JoinGroupResponseMember(member_id=member,
                                       metadata=Subscription(topics=("t",)).encode()),)
    return JoinGroupResponse(error_code=code, generation_id=generation, protocol_name="range",
                             leader=leader, member_id=member,
                             members=members if member == leader else ())


def stable_member() -> GroupMembership:
    m = GroupMembership(group_id="g")
    join(m)
    m.on_join_response(joined_response())
    m.sync_request({})
    m.on_sync_response(SyncGroupResponse(error_code=0, assignment=b""))
    return m


def test_happy_path_with_member_id_required():
    m = GroupMembership(group_id="g")
    request = join(m)
    assert (request.member_id, m.state) == ("", MemberState.PREPARING_REBALANCE)
    outcome = m.on_join_response(JoinGroupResponse(error_code=79, member_id="m-1"))
    assert outcome == Rejoin("member id required", backoff=False)
    assert (m.state, m.member_id) == (MemberState.UNJOINED, "m-1")
    assert join(m).member_id == "m-1"
    outcome = m.on_join_response(joined_response())
    assert isinstance(outcome, Joined) and outcome.leader and outcome.protocol == "range"
    assert outcome.members[0].subscription.topics == ("t",)
    assert (m.state, m.generation_id, m.is_leader) == (MemberState.COMPLETING_REBALANCE, 1, True)
    sync = m.sync_request({"m-1": b"x"})
    assert (sync.generation_id, sync.member_id, sync.protocol_name) == (1, "m-1", "range")
    assert m.on_sync_response(SyncGroupResponse(error_code=0, assignment=b"x")) == Synced(b"x")
    assert m.state is MemberState.STABLE and not m.rejoin_needed


def test_follower_gets_no_member_list():
    m = GroupMembership(group_id="g")
    join(m)
    outcome = m.on_join_response(joined_response(member="m-2", leader="m-1"))
    assert outcome == Joined(leader=False, protocol="range", members=())


@pytest.mark.parametrize("code,reset", [(25, True), (22, True), (15, False), (16, False),
                                        (14, False), (27, False)])
def test_join_errors_ask_for_another_attempt(code, reset):
    m = GroupMembership(group_id="g", member_id="m-1", generation_id=3)
    join(m)
    outcome = m.on_join_response(JoinGroupResponse(error_code=code, member_id="m-1"))
    assert isinstance(outcome, Rejoin) and m.state is MemberState.UNJOINED
    assert (m.member_id == "") is reset
    assert outcome.coordinator_lost is (code in (15, 16))


@pytest.mark.parametrize("code,error", [(23, InconsistentGroupProtocol), (82, FencedInstanceId)])
def test_fatal_join_errors_raise(code, error):
    m = GroupMembership(group_id="g")
    join(m)
    with pytest.raises(error, match="JoinGroup for group g"):
        m.on_join_response(JoinGroupResponse(error_code=code))
    assert m.state is MemberState.UNJOINED


def test_sync_errors():
    for code, reset in ((27, False), (25, True), (22, True), (16, False)):
        m = GroupMembership(group_id="g")
        join(m)
        m.on_join_response(joined_response())
        outcome = m.on_sync_response(SyncGroupResponse(error_code=code))
        assert isinstance(outcome, Rejoin) and m.state is MemberState.UNJOINED
        assert (m.generation_id == -1) is reset


def test_heartbeat_outcomes():
    m = stable_member()
    ok = m.on_heartbeat_response(HeartbeatResponse(error_code=0), generation_id=1,
                                 member_id="m-1")
    assert ok is HeartbeatOutcome.OK
    rebalance = m.on_heartbeat_response(HeartbeatResponse(error_code=27), generation_id=1,
                                        member_id="m-1")
    assert rebalance is HeartbeatOutcome.REJOIN and m.rejoin_needed and m.stable
    assert m.on_heartbeat_response(HeartbeatResponse(error_code=25), generation_id=0,
                                   member_id="m-1") is HeartbeatOutcome.STALE
    assert m.on_heartbeat_response(HeartbeatResponse(error_code=16), generation_id=1,
                                   member_id="m-1") is HeartbeatOutcome.COORDINATOR_LOST
    dropped = m.on_heartbeat_response(HeartbeatResponse(error_code=22), generation_id=1,
                                      member_id="m-1")
    assert dropped is HeartbeatOutcome.REJOIN
    assert (m.state, m.member_id, m.generation_id) == (MemberState.UNJOINED, "", -1)


def test_leave_request_only_for_dynamic_members_with_an_id():
    assert GroupMembership(group_id="g").leave_request() is None
    assert GroupMembership(group_id="g", member_id="m", group_instance_id="i").leave_request() \
        is None
    request = GroupMembership(group_id="g", member_id="m").leave_request()
    assert request.member_id == "m" and request.members[0].member_id == "m"


@settings(max_examples=200, deadline=None)
@given(st.sampled_from(list(MemberState)), st.sampled_from(list(MemberState)))
def test_transition_table_is_enforced(current, target):
    m = GroupMembership(group_id="g", state=current)
    if current in VALID_PREVIOUS[target]:
        m._move(target)
        assert m.state is target
    else:
        with pytest.raises(IllegalStateTransition):
            m._move(target)
        assert m.state is current


EVENTS = ["join", "join_response", "sync", "sync_response", "heartbeat", "reset", "rejoin"]


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(EVENTS),
                          st.sampled_from([0, 0, 0, 14, 15, 16, 22, 25, 27, 79, 23])),
                max_size=25))
def test_any_event_sequence_keeps_the_invariants(events):
    """Every (state, event) pair either moves legally or raises IllegalStateTransition (a
    driver bug) or a KafkaError (fatal answer); the invariants hold throughout. Error codes
    include ones the coordinator never sends for a request (e.g. 79 to a heartbeat)."""
    m = GroupMembership(group_id="g")
    for event, code in events:
        before = m.state
        try:
            if event == "join":
                join(m)
            elif event == "join_response":
                if before is not MemberState.PREPARING_REBALANCE:
                    continue  # the shell only feeds answers to requests it sent
                m.on_join_response(joined_response(code=code)
                                   if code else joined_response(generation=m.generation_id + 1))
            elif event == "sync":
                m.sync_request({})
            elif event == "sync_response":
                if before is not MemberState.COMPLETING_REBALANCE:
                    continue
                m.on_sync_response(SyncGroupResponse(error_code=code))
            elif event == "heartbeat":
                m.on_heartbeat_response(HeartbeatResponse(error_code=code),
                                        generation_id=m.generation_id, member_id=m.member_id)
            elif event == "reset":
                m.reset_generation("test")
            else:
                m.request_rejoin("test")
        except IllegalStateTransition:
            assert m.state is before
        except KafkaError:
            # a fatal join/sync answer aborts the attempt; a fatal heartbeat answer is handed
            # to the application as is (the heartbeat task stops)
            assert m.state is (before if event == "heartbeat" else MemberState.UNJOINED)
        if m.state in (MemberState.COMPLETING_REBALANCE, MemberState.STABLE):
            assert m.member_id and m.generation_id >= 0
        if m.state is MemberState.STABLE:
            assert m.protocol_name == "range"
        if m.member_id == "":
            assert m.generation_id == -1 or m.state is not MemberState.UNJOINED


def test_heartbeat_timer():
    t = HeartbeatTimer(session_timeout_ms=10_000, heartbeat_interval_ms=3_000,
                       max_poll_interval_ms=60_000, retry_backoff_ms=100)
    t.reset_session(100.0)
    t.polled(100.0)
    assert not t.should_heartbeat(102.9) and t.should_heartbeat(103.0)
    assert t.time_to_next(101.0) == pytest.approx(2.0)
    t.sent(103.0)
    t.failed(103.5)
    assert t.should_heartbeat(103.6)
    assert not t.session_expired(110.0) and t.session_expired(110.1)
    t.received(109.0)
    assert not t.session_expired(118.9)
    assert not t.poll_timeout_expired(160.0) and t.poll_timeout_expired(160.1)


def test_offset_request_builders_and_parsers():
    request = offset_commit_request("g", {TP("b", 0): OffsetAndMetadata(5, "m"),
                                          TP("a", 1): OffsetAndMetadata(7)},
                                    generation_id=4, member_id="m-1")
    assert [t.name for t in request.topics] == ["a", "b"]
    assert (request.generation_id_or_member_epoch, request.retention_time_ms) == (4, -1)
    assert request.topics[1].partitions[0].committed_metadata == "m"
    response = OffsetCommitResponse(topics=(OffsetCommitResponseTopic(name="a", partitions=(
        OffsetCommitResponsePartition(partition_index=1, error_code=22),)),))
    errors = offset_commit_errors(response)
    assert list(errors) == [TP("a", 1)] and type(errors[TP("a", 1)]).code == 22
    assert offset_fetch_request("g", None).topics is None
    fetch = offset_fetch_request("g", [TP("t", 1), TP("t", 0)], require_stable=True)
    assert fetch.topics[0].partition_indexes == (0, 1) and fetch.require_stable
    answer = OffsetFetchResponse(error_code=0, topics=(OffsetFetchResponseTopic(name="t", partitions=(
        OffsetFetchResponsePartition(partition_index=0, committed_offset=3, metadata="x"),
        OffsetFetchResponsePartition(partition_index=1, committed_offset=-1, metadata=""),
        OffsetFetchResponsePartition(partition_index=2, committed_offset=-1, error_code=3))),))
    assert committed_from_response(answer, "g") == {
        TP("t", 0): OffsetAndMetadata(3, "x"), TP("t", 1): None, TP("t", 2): None}
    with pytest.raises(KafkaError, match="OffsetFetch for group g"):
        committed_from_response(OffsetFetchResponse(error_code=16), "g")
