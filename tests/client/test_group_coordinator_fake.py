"""An in-memory group coordinator for the group tests, and tests pinning its Kafka behaviour.

``FakeGroupKafka`` extends the in-memory broker of ``fake_broker.py`` with the classic group
APIs the way a Kafka 2.8 coordinator answers them (GroupCoordinator.scala's rules, simplified):
JoinGroup waits until every known member has rejoined (or the rebalance timeout passes, which
drops the laggards), v4+ asks new members to rejoin with an assigned id (MEMBER_ID_REQUIRED),
SyncGroup waits for the leader's assignments, Heartbeat answers REBALANCE_IN_PROGRESS while
members must rejoin, sessions expire (checked lazily when requests arrive — the tests use an
autojump clock), LeaveGroup triggers a rebalance, offsets are kept per group with Kafka's
simple-commit and generation checks, and DescribeGroups/ListGroups/DeleteGroups/OffsetDelete
report and change that state. The tests below pin the behaviour the client is written
against; the same scenarios run against the real broker in integration/.
"""

from __future__ import annotations

import uuid
from typing import Any

import attrs
import pytest
import trio

from kafkalite.protocol.api_keys import ApiKey
from kafkalite.protocol.framing import ServerConnection
from kafkalite.protocol.messages.delete_groups import DeletableGroupResult, DeleteGroupsResponse
from kafkalite.protocol.messages.describe_groups import (
    DescribedGroup,
    DescribedGroupMember,
    DescribeGroupsRequest,
    DescribeGroupsResponse,
)
from kafkalite.protocol.messages.fetch import FetchResponse
from kafkalite.protocol.messages.find_coordinator import (
    FindCoordinatorRequest,
    FindCoordinatorResponse,
)
from kafkalite.protocol.messages.heartbeat import HeartbeatRequest, HeartbeatResponse
from kafkalite.protocol.messages.join_group import (
    JoinGroupRequest,
    JoinGroupRequestProtocol,
    JoinGroupResponse,
    JoinGroupResponseMember,
)
from kafkalite.protocol.messages.leave_group import LeaveGroupResponse, MemberResponse
from kafkalite.protocol.messages.list_groups import ListedGroup, ListGroupsResponse
from kafkalite.protocol.messages.offset_commit import (
    OffsetCommitResponse,
    OffsetCommitResponsePartition,
    OffsetCommitResponseTopic,
)
from kafkalite.protocol.messages.offset_delete import (
    OffsetDeleteResponse,
    OffsetDeleteResponsePartition,
    OffsetDeleteResponseTopic,
)
from kafkalite.protocol.messages.offset_fetch import (
    OffsetFetchResponse,
    OffsetFetchResponsePartition,
    OffsetFetchResponseTopic,
)
from kafkalite.protocol.messages.sync_group import SyncGroupRequest, SyncGroupResponse
from kafkalite.client.assignors import Subscription

from .fake_broker import SUPPORTED, FakeKafka

GROUP_SUPPORTED = {
    **SUPPORTED,
    ApiKey.FIND_COORDINATOR: (0, 3),
    ApiKey.JOIN_GROUP: (0, 7),
    ApiKey.HEARTBEAT: (0, 4),
    ApiKey.LEAVE_GROUP: (0, 4),
    ApiKey.SYNC_GROUP: (0, 5),
    ApiKey.OFFSET_COMMIT: (0, 8),
    ApiKey.OFFSET_FETCH: (0, 7),
    ApiKey.DESCRIBE_GROUPS: (0, 5),
    ApiKey.LIST_GROUPS: (0, 4),
    ApiKey.DELETE_GROUPS: (0, 2),
    ApiKey.OFFSET_DELETE: (0, 0),
}

GROUP_KEYS = set(GROUP_SUPPORTED) - set(SUPPORTED)

EMPTY, PREPARING, COMPLETING, STABLE, DEAD = (
    "Empty", "PreparingRebalance", "CompletingRebalance", "Stable", "Dead")


@attrs.define(kw_only=True)
class FakeMember:
    member_id: str
    client_id: str
    session_timeout_ms: int
    rebalance_timeout_ms: int
    protocols: list[tuple[str, bytes]]
    group_instance_id: str | None = None
    assignment: bytes = b""
    last_seen: float = 0.0
    joined: bool = False

    def metadata(self, protocol: str | None) -> bytes:
        return next((m for n, m in self.protocols if n == protocol), b"")


@attrs.define(kw_only=True)
class FakeGroup:
    group_id: str
    state: str = EMPTY
    generation: int = 0
    protocol_type: str = ""
    protocol: str | None = None
    leader: str | None = None
    members: dict[str, FakeMember] = attrs.field(factory=dict)
    pending: set[str] = attrs.field(factory=set)
    offsets: dict[tuple[str, int], tuple[int, str]] = attrs.field(factory=dict)
    join_done: trio.Event = attrs.field(factory=trio.Event)
    sync_done: trio.Event = attrs.field(factory=trio.Event)
    rebalance_deadline: float = 0.0

    def subscribed_topics(self) -> set[str]:
        out: set[str] = set()
        for m in self.members.values():
            data = m.metadata(self.protocol)
            if data:
                out.update(Subscription.decode(data).topics)
        return out


class FakeGroupKafka(FakeKafka):
    """FakeKafka plus a group coordinator (this broker, node 0, coordinates every group).

    Attributes:
        groups: group id -> FakeGroup.
        coordinator_errors: error codes FindCoordinator answers next (one per request).
        heartbeat_errors: error codes Heartbeat answers next (one per request).
        commit_errors: error codes OffsetCommit answers next for every partition.
    """

    def __init__(self, **kw: Any):
        kw.setdefault("supported", GROUP_SUPPORTED)
        super().__init__(**kw)
        self.groups: dict[str, FakeGroup] = {}
        self.coordinator_errors: list[int] = []
        self.heartbeat_errors: list[int] = []
        self.commit_errors: list[int] = []

    def group(self, group_id: str) -> FakeGroup:
        g = self.groups.get(group_id)
        if g is None or g.state == DEAD:
            g = self.groups[group_id] = FakeGroup(group_id=group_id)
        return g

    def committed(self, group_id: str) -> dict[tuple[str, int], int]:
        g = self.groups.get(group_id)
        return {} if g is None else {tp: o for tp, (o, _) in g.offsets.items()}

    # -- serving ----------------------------------------------------------------------------

    async def _serve(self, stream) -> None:
        conn = ServerConnection(max_frame_bytes=100 * 1024 * 1024, supported=self.supported)
        try:
            while True:
                data = await stream.receive_some(65536)
                if not data:
                    return
                conn.receive_data(data)
                while (request := conn.next_request()) is not None:
                    if request.header.api_key in GROUP_KEYS:
                        self.requests.append((request.header.api_key,
                                              request.header.api_version, request.body))
                        response = await self._group_request(request)
                    else:
                        response = self._handle(request)
                    if isinstance(response, FetchResponse) and not any(
                            p.records for t in response.responses for p in t.partitions):
                        await trio.sleep(request.body.max_wait_ms / 1000)
                    if response is not None:
                        for part in conn.response_parts(request, response):
                            await stream.send_all(part)
        except (trio.BrokenResourceError, trio.ClosedResourceError):
            return

    async def _group_request(self, request) -> Any:
        key = request.header.api_key
        body, version = request.body, request.header.api_version
        client_id = request.header.client_id or ""
        if key == ApiKey.FIND_COORDINATOR:
            code = self.coordinator_errors.pop(0) if self.coordinator_errors else 0
            if code:
                return FindCoordinatorResponse(error_code=code, node_id=-1, host="", port=-1)
            return FindCoordinatorResponse(error_code=0, node_id=0, host="fake", port=9092)
        if key == ApiKey.JOIN_GROUP:
            return await self._join(body, version, client_id)
        if key == ApiKey.SYNC_GROUP:
            return await self._sync(body)
        handler = {
            ApiKey.HEARTBEAT: self._heartbeat,
            ApiKey.LEAVE_GROUP: self._leave,
            ApiKey.OFFSET_COMMIT: self._offset_commit,
            ApiKey.OFFSET_FETCH: self._offset_fetch,
            ApiKey.DESCRIBE_GROUPS: self._describe,
            ApiKey.LIST_GROUPS: self._list,
            ApiKey.DELETE_GROUPS: self._delete_groups,
            ApiKey.OFFSET_DELETE: self._offset_delete,
        }[key]
        return handler(body, version)

    # -- the group state machine ------------------------------------------------------------

    def _expire(self, g: FakeGroup) -> None:
        now = trio.current_time()
        gone = [m for m in g.members.values()
                if now - m.last_seen > m.session_timeout_ms / 1000
                and not (g.state == PREPARING and m.joined)]
        for m in gone:
            del g.members[m.member_id]
        if gone:
            self._members_changed(g)

    def _members_changed(self, g: FakeGroup) -> None:
        if not g.members:
            if g.state != EMPTY:
                g.generation += 1
                g.state, g.protocol, g.leader = EMPTY, None, None
                g.join_done.set()
                g.sync_done.set()
            return
        if g.state != PREPARING:
            self._prepare_rebalance(g)
        if all(m.joined for m in g.members.values()):
            self._complete_join(g)

    def _prepare_rebalance(self, g: FakeGroup) -> None:
        g.state = PREPARING
        g.sync_done.set()  # followers waiting in SyncGroup learn about the rebalance
        g.join_done = trio.Event()
        g.sync_done = trio.Event()
        for m in g.members.values():
            m.joined = False
        g.rebalance_deadline = trio.current_time() + max(
            (m.rebalance_timeout_ms for m in g.members.values()), default=0) / 1000

    def _complete_join(self, g: FakeGroup) -> None:
        if g.state != PREPARING:
            return
        for m in [m for m in g.members.values() if not m.joined]:
            del g.members[m.member_id]
        g.generation += 1
        if not g.members:
            g.state, g.protocol, g.leader = EMPTY, None, None
        else:
            candidates = set.intersection(*({n for n, _ in m.protocols}
                                            for m in g.members.values()))
            votes: dict[str, int] = {}
            for m in g.members.values():
                choice = next(n for n, _ in m.protocols if n in candidates)
                votes[choice] = votes.get(choice, 0) + 1
            g.protocol = max(sorted(votes), key=lambda n: votes[n])
            if g.leader not in g.members:
                g.leader = next(iter(g.members))
            g.state = COMPLETING
        g.join_done.set()

    def _join_response(self, g: FakeGroup, member_id: str) -> JoinGroupResponse:
        if member_id not in g.members:
            return JoinGroupResponse(error_code=25, member_id=member_id)
        members = ()
        if member_id == g.leader:
            members = tuple(JoinGroupResponseMember(
                member_id=m.member_id, group_instance_id=m.group_instance_id,
                metadata=m.metadata(g.protocol)) for m in g.members.values())
        return JoinGroupResponse(error_code=0, generation_id=g.generation,
                                 protocol_type=g.protocol_type, protocol_name=g.protocol,
                                 leader=g.leader, member_id=member_id, members=members)

    async def _join(self, body: JoinGroupRequest, version: int,
                    client_id: str) -> JoinGroupResponse:
        g = self.group(body.group_id)
        self._expire(g)
        protocols = [(p.name, bytes(p.metadata)) for p in body.protocols]
        if not 6000 <= body.session_timeout_ms <= 1_800_000:
            return JoinGroupResponse(error_code=26, member_id=body.member_id)
        if g.members and (body.protocol_type != g.protocol_type or not (
                {n for n, _ in protocols} & set.intersection(
                    *({n for n, _ in m.protocols} for m in g.members.values())))):
            return JoinGroupResponse(error_code=23, member_id=body.member_id)
        member_id = body.member_id
        if not member_id:
            member_id = f"{client_id}-{uuid.uuid4()}"
            if version >= 4:
                g.pending.add(member_id)
                return JoinGroupResponse(error_code=79, member_id=member_id)
        elif member_id not in g.members and member_id not in g.pending:
            return JoinGroupResponse(error_code=25, member_id=member_id)
        g.pending.discard(member_id)
        g.protocol_type = body.protocol_type
        rebalance_ms = body.rebalance_timeout_ms if body.rebalance_timeout_ms > 0 else \
            body.session_timeout_ms
        member = g.members.get(member_id)
        if member is None:
            member = g.members[member_id] = FakeMember(
                member_id=member_id, client_id=client_id,
                session_timeout_ms=body.session_timeout_ms, rebalance_timeout_ms=rebalance_ms,
                protocols=protocols, group_instance_id=body.group_instance_id)
        member.protocols = protocols
        member.last_seen = trio.current_time()
        if g.state != PREPARING:
            self._prepare_rebalance(g)
        member.joined = True
        done = g.join_done
        if all(m.joined for m in g.members.values()):
            self._complete_join(g)
        else:
            with trio.move_on_at(g.rebalance_deadline):
                await done.wait()
            if not done.is_set():
                self._complete_join(g)
        return self._join_response(g, member_id)

    async def _sync(self, body: SyncGroupRequest) -> SyncGroupResponse:
        g = self.group(body.group_id)
        member = g.members.get(body.member_id)
        if member is None:
            return SyncGroupResponse(error_code=25)
        if body.generation_id != g.generation:
            return SyncGroupResponse(error_code=22)
        if g.state == PREPARING:
            return SyncGroupResponse(error_code=27)
        member.last_seen = trio.current_time()
        if g.state == COMPLETING:
            if body.member_id == g.leader:
                given = {a.member_id: bytes(a.assignment) for a in body.assignments}
                for m in g.members.values():
                    m.assignment = given.get(m.member_id, b"")
                g.state = STABLE
                g.sync_done.set()
            else:
                await g.sync_done.wait()
        if g.state != STABLE or body.generation_id != g.generation \
                or body.member_id not in g.members:
            return SyncGroupResponse(error_code=27)
        return SyncGroupResponse(error_code=0, protocol_type=g.protocol_type,
                                 protocol_name=g.protocol,
                                 assignment=g.members[body.member_id].assignment)

    def _heartbeat(self, body: HeartbeatRequest, version: int) -> HeartbeatResponse:
        if self.heartbeat_errors:
            return HeartbeatResponse(error_code=self.heartbeat_errors.pop(0))
        g = self.group(body.group_id)
        self._expire(g)
        member = g.members.get(body.member_id)
        if member is None:
            return HeartbeatResponse(error_code=25)
        if body.generation_id != g.generation:
            return HeartbeatResponse(error_code=22)
        member.last_seen = trio.current_time()
        if g.state == PREPARING:
            return HeartbeatResponse(error_code=27)
        return HeartbeatResponse(error_code=0)

    def _leave(self, body, version: int) -> LeaveGroupResponse:
        g = self.group(body.group_id)
        ids = [m.member_id for m in body.members] if version >= 3 else [body.member_id]
        results = []
        for member_id in ids:
            if g.members.pop(member_id, None) is None:
                results.append(MemberResponse(member_id=member_id, error_code=25))
            else:
                results.append(MemberResponse(member_id=member_id, error_code=0))
        if any(r.error_code == 0 for r in results):
            self._members_changed(g)
        top = 25 if version < 3 and results[0].error_code else 0
        return LeaveGroupResponse(error_code=top, members=tuple(results))

    # -- offsets and admin ------------------------------------------------------------------

    def _commit_check(self, g: FakeGroup, generation: int, member_id: str) -> int:
        if generation < 0 and g.state == EMPTY:
            return 0
        if member_id not in g.members:
            return 25
        if generation != g.generation:
            return 22
        if g.state == COMPLETING:
            return 27
        return 0

    def _offset_commit(self, body, version: int) -> OffsetCommitResponse:
        g = self.group(body.group_id)
        self._expire(g)
        forced = self.commit_errors.pop(0) if self.commit_errors else 0
        code = forced or (self._commit_check(g, body.generation_id_or_member_epoch,
                                             body.member_id) if version >= 1 else 0)
        topics = []
        for t in body.topics:
            parts = []
            for p in t.partitions:
                if not code:
                    g.offsets[(t.name, p.partition_index)] = (p.committed_offset,
                                                              p.committed_metadata or "")
                parts.append(OffsetCommitResponsePartition(partition_index=p.partition_index,
                                                           error_code=code))
            topics.append(OffsetCommitResponseTopic(name=t.name, partitions=tuple(parts)))
        return OffsetCommitResponse(topics=tuple(topics))

    def _offset_fetch(self, body, version: int) -> OffsetFetchResponse:
        g = self.groups.get(body.group_id)
        offsets = g.offsets if g is not None else {}
        if body.topics is None:
            wanted: dict[str, list[int]] = {}
            for (t, p) in sorted(offsets):
                wanted.setdefault(t, []).append(p)
        else:
            wanted = {t.name: list(t.partition_indexes) for t in body.topics}
        topics = []
        for name, parts in wanted.items():
            out = []
            for p in parts:
                offset, metadata = offsets.get((name, p), (-1, ""))
                out.append(OffsetFetchResponsePartition(partition_index=p,
                                                        committed_offset=offset,
                                                        metadata=metadata, error_code=0))
            topics.append(OffsetFetchResponseTopic(name=name, partitions=tuple(out)))
        return OffsetFetchResponse(topics=tuple(topics), error_code=0)

    def _describe(self, body: DescribeGroupsRequest, version: int) -> DescribeGroupsResponse:
        out = []
        for group_id in body.groups:
            g = self.groups.get(group_id)
            if g is None:
                out.append(DescribedGroup(error_code=0, group_id=group_id, group_state=DEAD,
                                          protocol_type="", protocol_data=""))
                continue
            self._expire(g)
            stable = g.state == STABLE
            out.append(DescribedGroup(
                error_code=0, group_id=group_id, group_state=g.state,
                protocol_type=g.protocol_type, protocol_data=g.protocol or "" if stable else "",
                members=tuple(DescribedGroupMember(
                    member_id=m.member_id, group_instance_id=m.group_instance_id,
                    client_id=m.client_id, client_host="/127.0.0.1",
                    member_metadata=m.metadata(g.protocol),
                    member_assignment=m.assignment if stable else b"")
                    for m in g.members.values())))
        return DescribeGroupsResponse(groups=tuple(out))

    def _list(self, body, version: int) -> ListGroupsResponse:
        return ListGroupsResponse(error_code=0, groups=tuple(
            ListedGroup(group_id=g.group_id, protocol_type=g.protocol_type,
                        group_state=g.state)
            for g in self.groups.values() if g.state != DEAD))

    def _delete_groups(self, body, version: int) -> DeleteGroupsResponse:
        results = []
        for group_id in body.groups_names:
            g = self.groups.get(group_id)
            if g is None or g.state == DEAD:
                code = 69
            elif g.members:
                code = 68
            else:
                code = 0
                g.state = DEAD
                g.offsets.clear()
            results.append(DeletableGroupResult(group_id=group_id, error_code=code))
        return DeleteGroupsResponse(results=tuple(results))

    def _offset_delete(self, body, version: int) -> OffsetDeleteResponse:
        g = self.groups.get(body.group_id)
        if g is None or g.state == DEAD:
            return OffsetDeleteResponse(error_code=69)
        subscribed = g.subscribed_topics() if g.members else set()
        topics = []
        for t in body.topics:
            parts = []
            for p in t.partitions:
                code = 86 if t.name in subscribed else 0
                if not code:
                    g.offsets.pop((t.name, p.partition_index), None)
                parts.append(OffsetDeleteResponsePartition(partition_index=p.partition_index,
                                                           error_code=code))
            topics.append(OffsetDeleteResponseTopic(name=t.name, partitions=tuple(parts)))
        return OffsetDeleteResponse(error_code=0, topics=tuple(topics))


# --- tests of the fake itself: the coordinator behaviour the client relies on ------------------


@pytest.fixture
def groups(monkeypatch) -> FakeGroupKafka:
    return FakeGroupKafka().install(monkeypatch)


def _join(group_id: str, member_id: str = "", protocols=("range",)) -> JoinGroupRequest:
    return JoinGroupRequest(
        group_id=group_id, session_timeout_ms=10_000, rebalance_timeout_ms=30_000,
        member_id=member_id, protocol_type="consumer",
        protocols=tuple(JoinGroupRequestProtocol(
            name=p, metadata=Subscription(topics=("t",)).encode()) for p in protocols))


async def _connection():
    from kafkalite.client.connection import BrokerConnection

    return await BrokerConnection.open("fake", 9092)


def test_join_v4_asks_for_member_id_then_forms_a_generation(groups, run):
    async def main():
        conn = await _connection()
        first = await conn.request(_join("g"), 5)
        assert first.error_code == 79 and first.member_id.startswith("kafkalite-")
        joined = await conn.request(_join("g", first.member_id), 5)
        assert (joined.error_code, joined.generation_id) == (0, 1)
        assert joined.leader == first.member_id and joined.protocol_name == "range"
        assert [m.member_id for m in joined.members] == [first.member_id]
        old = await conn.request(_join("g2"), 3)
        assert old.error_code == 0 and old.member_id  # v0-3: the id comes at once

    run(main)


def test_second_member_waits_for_the_first_to_rejoin(groups, run):
    async def main():
        a, b = await _connection(), await _connection()
        a_id = (await a.request(_join("g"), 5)).member_id
        await a.request(_join("g", a_id), 5)
        sync = await a.request(SyncGroupRequest(group_id="g", generation_id=1, member_id=a_id,
                                                assignments=()), 3)
        assert sync.error_code == 0
        b_id = (await b.request(_join("g"), 5)).member_id
        results = {}

        async def join_b():
            results["b"] = await b.request(_join("g", b_id), 5)

        async with trio.open_nursery() as nursery:
            nursery.start_soon(join_b)
            await trio.sleep(1)
            hb = await a.request(HeartbeatRequest(group_id="g", generation_id=1,
                                                  member_id=a_id), 3)
            assert hb.error_code == 27
            results["a"] = await a.request(_join("g", a_id), 5)
        assert results["a"].generation_id == results["b"].generation_id == 2
        assert results["a"].leader == a_id and len(results["a"].members) == 2
        assert results["b"].members == ()

    run(main)


def test_sessions_expire_and_unknown_members_are_told(groups, run):
    async def main():
        conn = await _connection()
        member = (await conn.request(_join("g"), 5)).member_id
        await conn.request(_join("g", member), 5)
        await trio.sleep(11)
        hb = await conn.request(HeartbeatRequest(group_id="g", generation_id=1,
                                                 member_id=member), 3)
        assert hb.error_code == 25
        described = await conn.request(DescribeGroupsRequest(groups=("g", "nope")), 5)
        assert [g.group_state for g in described.groups] == ["Empty", "Dead"]

    run(main)


def test_find_coordinator_errors_are_injectable(groups, run):
    groups.coordinator_errors.append(15)

    async def main():
        conn = await _connection()
        first = await conn.request(FindCoordinatorRequest(key="g", key_type=0), 2)
        second = await conn.request(FindCoordinatorRequest(key="g", key_type=0), 2)
        assert (first.error_code, second.error_code, second.port) == (15, 0, 9092)

    run(main)
