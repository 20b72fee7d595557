"""Consumer-group membership: the member's state machine and the coordinator protocol.

Theory of operation
-------------------
A member of a classic group (wire-protocol.md §10–11) talks only to the group's *coordinator*,
found with FindCoordinator. It joins (JoinGroup), the coordinator picks a leader and a protocol
(an assignor name all members support) and answers everybody with the new *generation*; the
leader decodes every member's subscription, runs the assignor and sends all assignments in its
SyncGroup; every member's SyncGroup answer carries its own assignment. From then on the member
sends a Heartbeat every ``heartbeat.interval.ms``; a heartbeat answered REBALANCE_IN_PROGRESS
means "join again", ILLEGAL_GENERATION / UNKNOWN_MEMBER_ID mean "you were dropped: forget your
generation and join again". Leaving sends LeaveGroup, so the others rebalance at once instead of
waiting for the session timeout.

The member's side is a small state machine (Kafka's ``AbstractCoordinator.MemberState``),
kept pure in :class:`GroupMembership` so every transition is tested without sockets:

``UNJOINED``              no generation, or a join attempt failed. Action: (re)send JoinGroup.
                          Transition: -> PREPARING_REBALANCE.
``PREPARING_REBALANCE``   JoinGroup in flight. Answer OK -> COMPLETING_REBALANCE; MEMBER_ID_REQUIRED
                          (KIP-394, v4+: retry at once with the id the coordinator chose),
                          UNKNOWN_MEMBER_ID, coordinator errors -> UNJOINED; others are fatal.
``COMPLETING_REBALANCE``  SyncGroup in flight. OK -> STABLE; REBALANCE_IN_PROGRESS, generation and
                          coordinator errors -> UNJOINED.
``STABLE``                assigned; heartbeats. A rejoin request (heartbeat said so, subscription
                          or metadata changed, a cooperative revocation) -> PREPARING_REBALANCE.

Any state may fall back to UNJOINED (``reset_generation``, leaving). Illegal moves raise
:class:`IllegalStateTransition`. :class:`HeartbeatTimer` is the pure timing part (Kafka's
``Heartbeat``): when the next heartbeat is due, whether the session ran out without an
answer, and whether the application stopped polling for ``max.poll.interval.ms``.

:class:`ConsumerCoordinator` is the trio shell: it finds the coordinator, keeps a connection of
its own to it (as the Java client does — a JoinGroup may legitimately wait in the coordinator's
purgatory for minutes, and requests on one connection are answered in order, so it must not
share the connection that carries fetches), runs join/sync, sends heartbeats (from a background
task when the consumer is used as ``async with``, else from ``poll``), commits and fetches
offsets and leaves. Offsets: OffsetCommit v2+ and OffsetFetch v1+; "simple" commits of a consumer
that assigns partitions itself carry generation -1 and an empty member id.
"""

from __future__ import annotations

import enum
import logging
import math
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from typing import Any

import attrs
import trio

from kafkalite.errors import (
    CoordinatorLoadInProgress,
    CoordinatorNotAvailable,
    IllegalGeneration,
    KafkaError,
    MemberIdRequired,
    NotCoordinator,
    RebalanceInProgress,
    RequestTimedOut,
    UnknownMemberId,
    UnknownTopicOrPartition,
)
from kafkalite.model import TopicPartition
from kafkalite.protocol.api_keys import ApiKey
from kafkalite.protocol.messages.find_coordinator import FindCoordinatorRequest
from kafkalite.protocol.messages.heartbeat import HeartbeatRequest
from kafkalite.protocol.messages.join_group import JoinGroupRequest, JoinGroupRequestProtocol
from kafkalite.protocol.messages.leave_group import LeaveGroupRequest, MemberIdentity
from kafkalite.protocol.messages.offset_commit import (
    OffsetCommitRequest,
    OffsetCommitRequestPartition,
    OffsetCommitRequestTopic,
)
from kafkalite.protocol.messages.offset_fetch import OffsetFetchRequest, OffsetFetchRequestTopic
from kafkalite.protocol.messages.sync_group import SyncGroupRequest, SyncGroupRequestAssignment
from kafkalite.client.assignors import (
    CONSUMER_PROTOCOL_TYPE,
    Assignment,
    MemberSubscription,
    PartitionAssignor,
    RebalanceProtocol,
    Subscription,
)
from kafkalite.client.cluster import Cluster, is_retriable
from kafkalite.client.connection import BrokerConnection
from kafkalite.client.errors import ClientError, ConnectionFailed, KafkaTimeoutError, error_for

__all__ = [
    "MemberState",
    "IllegalStateTransition",
    "GroupMembership",
    "Joined",
    "Rejoin",
    "Synced",
    "HeartbeatOutcome",
    "HeartbeatTimer",
    "OffsetAndMetadata",
    "CommitFailed",
    "NoOffsetForPartition",
    "ConsumerCoordinator",
    "Coordinator",
    "GroupDescription",
    "MemberDescription",
    "find_coordinator",
    "offset_commit_request",
    "offset_commit_errors",
    "offset_fetch_request",
    "committed_from_response",
    "pick_version",
]

log = logging.getLogger(__name__)

#: Version ranges this client sends for the group APIs where the schema allows more than we
#: want: FindCoordinator v4 batches keys, OffsetFetch v8 batches groups, OffsetCommit v0/v1
#: are the ZooKeeper/0.8.2 forms.
GROUP_API_VERSIONS: dict[int, tuple[int, int]] = {
    ApiKey.FIND_COORDINATOR: (0, 3),
    ApiKey.OFFSET_FETCH: (1, 7),
    ApiKey.OFFSET_COMMIT: (2, 8),
}

_COMMIT_FAILED = (
    "Commit cannot be completed since the group has already rebalanced and assigned the "
    "partitions to another member. This means that the time between subsequent calls to poll() "
    "was longer than the configured max.poll.interval.ms, which typically implies that the poll "
    "loop is spending too much time message processing. You can address this either by "
    "increasing max.poll.interval.ms or by reducing the maximum size of batches returned in "
    "poll() with max.poll.records.")
_COMMIT_DURING_REBALANCE = (
    "Offset commit cannot be completed since the consumer is undergoing a rebalance for auto "
    "partition assignment. You can try completing the rebalance by calling poll() and then "
    "retry the operation.")


class CommitFailed(ClientError):
    """An offset commit was rejected because this member no longer owns the generation."""


class NoOffsetForPartition(ClientError):
    """No committed offset and ``auto.offset.reset`` is "none" (Kafka's exception name)."""


class IllegalStateTransition(RuntimeError):
    """A bug: the membership state machine was driven through a move it does not allow."""


def pick_version(connection: BrokerConnection, api_key: int) -> int:
    """The version to send ``api_key`` at, honouring :data:`GROUP_API_VERSIONS`."""
    lo, hi = GROUP_API_VERSIONS.get(api_key, (None, None))
    return connection.pick_version(api_key, client_max=hi, client_min=lo)


# --- the pure state machine ----------------------------------------------------------------


class MemberState(enum.Enum):
    UNJOINED = "Unjoined"
    PREPARING_REBALANCE = "PreparingRebalance"
    COMPLETING_REBALANCE = "CompletingRebalance"
    STABLE = "Stable"


VALID_PREVIOUS: dict[MemberState, frozenset[MemberState]] = {
    MemberState.UNJOINED: frozenset(MemberState),
    MemberState.PREPARING_REBALANCE: frozenset({MemberState.UNJOINED, MemberState.STABLE}),
    MemberState.COMPLETING_REBALANCE: frozenset({MemberState.PREPARING_REBALANCE}),
    MemberState.STABLE: frozenset({MemberState.COMPLETING_REBALANCE}),
}


@attrs.frozen
class Joined:
    """JoinGroup succeeded; the leader also gets every member's subscription."""

    leader: bool
    protocol: str
    members: tuple[MemberSubscription, ...] = ()


@attrs.frozen
class Rejoin:
    """Join again: after a backoff or at once; ``coordinator_lost`` = look it up again first."""

    reason: str
    backoff: bool = True
    coordinator_lost: bool = False


@attrs.frozen
class Synced:
    assignment: bytes


class HeartbeatOutcome(enum.Enum):
    OK = "ok"
    REJOIN = "rejoin"                      # rebalance in progress, or we were dropped
    COORDINATOR_LOST = "coordinator lost"  # look the coordinator up again
    RETRY = "retry"                        # transient (coordinator loading); try next interval
    STALE = "stale"                        # an answer for a generation we already left


_COORDINATOR_ERRORS = {CoordinatorNotAvailable.code, NotCoordinator.code}


@attrs.define(kw_only=True)
class GroupMembership:
    """One member's view of its group: identity, generation and join progress (pure)."""

    group_id: str
    group_instance_id: str | None = None
    member_id: str = ""
    generation_id: int = -1
    protocol_name: str | None = None
    leader_id: str | None = None
    state: MemberState = MemberState.UNJOINED
    rejoin_needed: bool = True
    rejoin_reason: str = "initial join"

    def _move(self, target: MemberState) -> None:
        if self.state not in VALID_PREVIOUS[target]:
            raise IllegalStateTransition(f"{self.state.value} -> {target.value}")
        self.state = target

    @property
    def is_leader(self) -> bool:
        return self.leader_id is not None and self.leader_id == self.member_id

    @property
    def stable(self) -> bool:
        return self.state is MemberState.STABLE

    def request_rejoin(self, reason: str) -> None:
        """Join again at the next opportunity (state unchanged until then)."""
        if not self.rejoin_needed:
            log.info("group %s: member %s will rejoin: %s", self.group_id, self.member_id, reason)
        self.rejoin_needed = True
        self.rejoin_reason = reason

    def reset_generation(self, reason: str) -> None:
        """Forget generation and member id (we were dropped, or we left)."""
        self.member_id = ""
        self.generation_id = -1
        self.protocol_name = None
        self.leader_id = None
        self._move(MemberState.UNJOINED)
        self.request_rejoin(reason)

    def abort(self, reason: str) -> None:
        """A join or sync attempt failed without an answer: back to UNJOINED, keep identity."""
        self._move(MemberState.UNJOINED)
        self.request_rejoin(reason)

    # -- JoinGroup ---------------------------------------------------------------------------

    def join_request(self, *, protocols: Sequence[JoinGroupRequestProtocol],
                     session_timeout_ms: int, rebalance_timeout_ms: int) -> JoinGroupRequest:
        self._move(MemberState.PREPARING_REBALANCE)
        return JoinGroupRequest(
            group_id=self.group_id, session_timeout_ms=session_timeout_ms,
            rebalance_timeout_ms=rebalance_timeout_ms, member_id=self.member_id,
            group_instance_id=self.group_instance_id, protocol_type=CONSUMER_PROTOCOL_TYPE,
            protocols=tuple(protocols))

    def on_join_response(self, response: Any) -> Joined | Rejoin:
        """Apply a JoinGroup answer.

        Raises:
            KafkaError: a fatal error (INCONSISTENT_GROUP_PROTOCOL, INVALID_SESSION_TIMEOUT,
                GROUP_AUTHORIZATION_FAILED, FENCED_INSTANCE_ID, GROUP_MAX_SIZE_REACHED, ...).
        """
        code = response.error_code
        if code == 0:
            self._move(MemberState.COMPLETING_REBALANCE)
            self.member_id = response.member_id
            self.generation_id = response.generation_id
            self.protocol_name = response.protocol_name
            self.leader_id = response.leader
            members: tuple[MemberSubscription, ...] = ()
            if self.is_leader:
                members = tuple(MemberSubscription(
                    member_id=m.member_id, group_instance_id=m.group_instance_id,
                    subscription=Subscription.decode(m.metadata)) for m in response.members)
            return Joined(leader=self.is_leader, protocol=response.protocol_name or "",
                          members=members)
        if code == MemberIdRequired.code:
            self.member_id = response.member_id
            self.abort("the coordinator assigned a member id")
            return Rejoin("member id required", backoff=False)
        if code in (UnknownMemberId.code, IllegalGeneration.code):
            self.reset_generation("the coordinator does not know this member")
            return Rejoin("unknown member id", backoff=False)
        if code in _COORDINATOR_ERRORS:
            self.abort("coordinator moved")
            return Rejoin("coordinator not available", coordinator_lost=True)
        if code in (CoordinatorLoadInProgress.code, RebalanceInProgress.code):
            self.abort("coordinator busy")
            return Rejoin(error_for(code).kafka_name())
        self.abort("join failed")
        raise error_for(code, f"JoinGroup for group {self.group_id}")

    # -- SyncGroup ---------------------------------------------------------------------------

    def sync_request(self, assignments: Mapping[str, bytes]) -> SyncGroupRequest:
        if self.state is not MemberState.COMPLETING_REBALANCE:
            raise IllegalStateTransition(f"SyncGroup in state {self.state.value}")
        return SyncGroupRequest(
            group_id=self.group_id, generation_id=self.generation_id, member_id=self.member_id,
            group_instance_id=self.group_instance_id, protocol_type=CONSUMER_PROTOCOL_TYPE,
            protocol_name=self.protocol_name,
            assignments=tuple(SyncGroupRequestAssignment(member_id=m, assignment=a)
                              for m, a in assignments.items()))

    def on_sync_response(self, response: Any) -> Synced | Rejoin:
        """Apply a SyncGroup answer. Raises KafkaError for fatal errors."""
        code = response.error_code
        if code == 0:
            self._move(MemberState.STABLE)
            self.rejoin_needed = False
            return Synced(bytes(response.assignment or b""))
        if code == RebalanceInProgress.code:
            self.abort("the group rebalanced again")
            return Rejoin("rebalance in progress", backoff=False)
        if code in (UnknownMemberId.code, IllegalGeneration.code):
            self.reset_generation("generation expired during sync")
            return Rejoin(error_for(code).kafka_name(), backoff=False)
        if code in _COORDINATOR_ERRORS:
            self.abort("coordinator moved")
            return Rejoin("coordinator not available", coordinator_lost=True)
        self.abort("sync failed")
        raise error_for(code, f"SyncGroup for group {self.group_id}")

    # -- Heartbeat, LeaveGroup ---------------------------------------------------------------

    def heartbeat_request(self) -> HeartbeatRequest:
        return HeartbeatRequest(group_id=self.group_id, generation_id=self.generation_id,
                                member_id=self.member_id,
                                group_instance_id=self.group_instance_id)

    def on_heartbeat_response(self, response: Any, *, generation_id: int,
                              member_id: str) -> HeartbeatOutcome:
        """Apply a Heartbeat answer sent for ``(generation_id, member_id)``.

        Raises:
            KafkaError: fatal (GROUP_AUTHORIZATION_FAILED, FENCED_INSTANCE_ID, ...).
        """
        if (generation_id, member_id) != (self.generation_id, self.member_id) \
                or self.state is not MemberState.STABLE:
            return HeartbeatOutcome.STALE
        code = response.error_code
        if code == 0:
            return HeartbeatOutcome.OK
        if code == RebalanceInProgress.code:
            self.request_rejoin("the group is rebalancing")
            return HeartbeatOutcome.REJOIN
        if code in (IllegalGeneration.code, UnknownMemberId.code):
            self.reset_generation(f"heartbeat answered {error_for(code).kafka_name()}")
            return HeartbeatOutcome.REJOIN
        if code in _COORDINATOR_ERRORS:
            return HeartbeatOutcome.COORDINATOR_LOST
        if code == CoordinatorLoadInProgress.code:
            return HeartbeatOutcome.RETRY
        raise error_for(code, f"Heartbeat for group {self.group_id}")

    def leave_request(self) -> LeaveGroupRequest | None:
        """LeaveGroup for this member, or None when there is nothing to leave (no member id,
        or a static member — those leave by session timeout, as in Kafka)."""
        if not self.member_id or self.group_instance_id:
            return None
        return LeaveGroupRequest(group_id=self.group_id, member_id=self.member_id,
                                 members=(MemberIdentity(member_id=self.member_id),))


@attrs.define(kw_only=True)
class HeartbeatTimer:
    """When to heartbeat and when to give up (Kafka's ``Heartbeat``); times in seconds."""

    session_timeout_ms: int
    heartbeat_interval_ms: int
    max_poll_interval_ms: int
    retry_backoff_ms: int = 100
    last_send: float = -math.inf
    last_receive: float = -math.inf
    session_start: float = 0.0
    last_poll: float = 0.0
    next_due: float = 0.0

    def reset_session(self, now: float) -> None:
        """A new generation: the session clock starts over, first heartbeat one interval on."""
        self.session_start = now
        self.last_receive = now
        self.next_due = now + self.heartbeat_interval_ms / 1000

    def polled(self, now: float) -> None:
        self.last_poll = now

    def sent(self, now: float) -> None:
        self.last_send = now
        self.next_due = now + self.heartbeat_interval_ms / 1000

    def received(self, now: float) -> None:
        self.last_receive = now

    def failed(self, now: float) -> None:
        """A heartbeat got no usable answer: retry after the backoff, not a whole interval."""
        self.next_due = now + self.retry_backoff_ms / 1000

    def should_heartbeat(self, now: float) -> bool:
        return now >= self.next_due

    def time_to_next(self, now: float) -> float:
        return max(0.0, self.next_due - now)

    def session_expired(self, now: float) -> bool:
        return now - max(self.last_receive, self.session_start) > self.session_timeout_ms / 1000

    def poll_timeout_expired(self, now: float) -> bool:
        return now - self.last_poll > self.max_poll_interval_ms / 1000


@attrs.frozen
class OffsetAndMetadata:
    """A committed position: the next offset to consume, plus free-form metadata."""

    offset: int
    metadata: str = ""
    leader_epoch: int = -1


# --- request builders shared with the kafka-consumer-groups tool ----------------------------


@attrs.frozen
class Coordinator:
    node_id: int
    host: str
    port: int


@attrs.frozen(kw_only=True)
class MemberDescription:
    """One member as DescribeGroups (or the legacy ``/consumers`` nodes) report it; "-" where
    a value is unknown (Kafka's tools print it so)."""

    member_id: str
    client_id: str = "-"
    host: str = "-"
    group_instance_id: str | None = None
    assignment: tuple[TopicPartition, ...] = ()


@attrs.frozen(kw_only=True)
class GroupDescription:
    """A group's state ("Empty", "PreparingRebalance", "CompletingRebalance", "Stable",
    "Dead"), protocol and members (Kafka's ConsumerGroupDescription)."""

    group_id: str
    state: str
    protocol_type: str = ""
    protocol: str = ""
    members: tuple[MemberDescription, ...] = ()
    coordinator: Coordinator | None = None


async def find_coordinator(cluster: Cluster, group_id: str) -> Coordinator:
    """Ask any broker which one coordinates ``group_id`` (retrying while none is ready).

    Raises:
        KafkaTimeoutError: no coordinator within the cluster's retry budget.
        KafkaError: a non-retriable error (e.g. GROUP_AUTHORIZATION_FAILED).
    """
    async def attempt() -> Coordinator:
        connection = await cluster.any_connection()
        version = pick_version(connection, ApiKey.FIND_COORDINATOR)
        response = await cluster.request(
            connection, FindCoordinatorRequest(key=group_id, key_type=0), version)
        if response.error_code:
            raise error_for(response.error_code, f"FindCoordinator for group {group_id}",
                            response.error_message)
        return Coordinator(response.node_id, response.host, response.port)

    return await cluster.call_with_retries(attempt, what=f"find the coordinator of {group_id}")


def offset_commit_request(group_id: str, offsets: Mapping[TopicPartition, OffsetAndMetadata], *,
                          generation_id: int = -1, member_id: str = "",
                          group_instance_id: str | None = None) -> OffsetCommitRequest:
    """OffsetCommit (v2+) for ``offsets``; generation -1 and member "" = a simple commit."""
    topics: dict[str, list[OffsetCommitRequestPartition]] = {}
    for tp in sorted(offsets):
        om = offsets[tp]
        topics.setdefault(tp.topic, []).append(OffsetCommitRequestPartition(
            partition_index=tp.partition, committed_offset=om.offset,
            committed_leader_epoch=om.leader_epoch, committed_metadata=om.metadata))
    return OffsetCommitRequest(
        group_id=group_id, generation_id_or_member_epoch=generation_id, member_id=member_id,
        group_instance_id=group_instance_id, retention_time_ms=-1,
        topics=tuple(OffsetCommitRequestTopic(name=t, partitions=tuple(ps))
                     for t, ps in topics.items()))


def offset_commit_errors(response: Any) -> dict[TopicPartition, KafkaError]:
    """Per-partition errors of an OffsetCommit answer (successes left out)."""
    out: dict[TopicPartition, KafkaError] = {}
    for topic in response.topics:
        for p in topic.partitions:
            if p.error_code:
                tp = TopicPartition(topic.name, p.partition_index)
                out[tp] = error_for(p.error_code, f"OffsetCommit for {tp}")
    return out


def offset_fetch_request(group_id: str, partitions: Iterable[TopicPartition] | None, *,
                         require_stable: bool = False) -> OffsetFetchRequest:
    """OffsetFetch (v1..7); None = every committed partition (needs v2+)."""
    if partitions is None:
        return OffsetFetchRequest(group_id=group_id, topics=None, require_stable=require_stable)
    topics: dict[str, list[int]] = {}
    for tp in sorted(set(partitions)):
        topics.setdefault(tp.topic, []).append(tp.partition)
    return OffsetFetchRequest(
        group_id=group_id, require_stable=require_stable,
        topics=tuple(OffsetFetchRequestTopic(name=t, partition_indexes=tuple(ps))
                     for t, ps in topics.items()))


def committed_from_response(response: Any, group_id: str
                            ) -> dict[TopicPartition, OffsetAndMetadata | None]:
    """Committed offsets from an OffsetFetch answer (None = nothing committed).

    Raises:
        KafkaError: the top-level error (v2+) or a partition error other than
            UNKNOWN_TOPIC_OR_PARTITION (which Kafka reports for a partition never committed).
    """
    if getattr(response, "error_code", 0):
        raise error_for(response.error_code, f"OffsetFetch for group {group_id}")
    out: dict[TopicPartition, OffsetAndMetadata | None] = {}
    for topic in response.topics:
        for p in topic.partitions:
            tp = TopicPartition(topic.name, p.partition_index)
            if p.error_code and p.error_code != UnknownTopicOrPartition.code:
                raise error_for(p.error_code, f"OffsetFetch for {tp} of group {group_id}")
            if p.error_code or p.committed_offset < 0:
                out[tp] = None
            else:
                out[tp] = OffsetAndMetadata(p.committed_offset, p.metadata or "",
                                            p.committed_leader_epoch)
    return out


# --- the trio shell --------------------------------------------------------------------------


PartitionCounts = Callable[[set[str]], Awaitable[dict[str, int]]]


class ConsumerCoordinator:
    """Group membership and offsets of one consumer (Kafka's ConsumerCoordinator).

    Args:
        cluster: metadata, connections and retry policy.
        group_id: the group.
        assignors: in order of preference; the protocols advertised in JoinGroup.
        session_timeout_ms, heartbeat_interval_ms, max_poll_interval_ms: Kafka's configs (the
            rebalance timeout sent in JoinGroup is ``max_poll_interval_ms``).
        group_instance_id: static membership (KIP-345), None for dynamic members.
    """

    def __init__(self, cluster: Cluster, group_id: str, *,
                 assignors: Sequence[PartitionAssignor], session_timeout_ms: int = 10_000,
                 heartbeat_interval_ms: int = 3_000, max_poll_interval_ms: int = 300_000,
                 group_instance_id: str | None = None, require_stable: bool = False):
        if not assignors:
            raise ValueError("at least one partition assignment strategy is needed")
        self.cluster = cluster
        self.group_id = group_id
        self.assignors = list(assignors)
        self.session_timeout_ms = session_timeout_ms
        self.max_poll_interval_ms = max_poll_interval_ms
        self.require_stable = require_stable
        self.membership = GroupMembership(group_id=group_id, group_instance_id=group_instance_id)
        self.heartbeat = HeartbeatTimer(session_timeout_ms=session_timeout_ms,
                                        heartbeat_interval_ms=heartbeat_interval_ms,
                                        max_poll_interval_ms=max_poll_interval_ms,
                                        retry_backoff_ms=getattr(cluster, "retry_backoff_ms", 100))
        common = set.intersection(*(set(a.supported_protocols) for a in self.assignors))
        self.rebalance_protocol = (RebalanceProtocol.COOPERATIVE
                                   if RebalanceProtocol.COOPERATIVE in common
                                   else RebalanceProtocol.EAGER)
        if not common:
            raise ValueError("the assignors have no rebalance protocol in common")
        #: partition counts the leader assigned from (rejoin when they change), and every
        #: topic some member subscribed to (watched for creation)
        self.assigned_metadata: dict[str, int] | None = None
        self.group_topics: list[str] = []
        #: a fatal error met by the background heartbeat task, raised by the next poll
        self.fatal_error: BaseException | None = None
        self.heartbeat_task_running = False
        self._coordinator: Coordinator | None = None
        self._connection: BrokerConnection | None = None
        self._lookup_lock = trio.Lock()
        self._closed = False

    # -- the coordinator ---------------------------------------------------------------------

    @property
    def coordinator(self) -> Coordinator | None:
        return self._coordinator

    async def ensure_coordinator_ready(self) -> BrokerConnection:
        """A connection to the coordinator, looking it up first if needed.

        Raises:
            KafkaTimeoutError: none found within the retry budget.
        """
        async with self._lookup_lock:
            if self._connection is not None and not self._connection.closed:
                return self._connection
            if self._closed:
                raise ClientError("the consumer is closed")
            coordinator = await find_coordinator(self.cluster, self.group_id)
            connection = await BrokerConnection.open(
                coordinator.host, coordinator.port, client_id=self.cluster.client_id,
                timeout=self.cluster.connect_timeout_ms / 1000, node_id=coordinator.node_id,
                security=self.cluster.security)
            log.info("group %s: discovered coordinator %s:%d (id: %d)", self.group_id,
                     coordinator.host, coordinator.port, coordinator.node_id)
            self._coordinator = coordinator
            self._connection = connection
            return connection

    def mark_coordinator_unknown(self, reason: str) -> None:
        if self._connection is not None:
            log.info("group %s: coordinator %s is unavailable or invalid (%s); will rediscover",
                     self.group_id, self._coordinator, reason)
            connection, self._connection = self._connection, None
            connection._break(f"coordinator connection dropped: {reason}")
        self._coordinator = None

    async def request(self, msg: Any, *, timeout_ms: int | None = None) -> Any:
        """Send ``msg`` to the coordinator and wait (``timeout_ms`` defaults to the cluster's
        request timeout; JoinGroup passes the rebalance timeout).

        Raises:
            ConnectionFailed, KafkaTimeoutError: the coordinator is marked unknown first.
        """
        connection = await self.ensure_coordinator_ready()
        version = pick_version(connection, type(msg).API_KEY)
        timeout = (timeout_ms if timeout_ms is not None else self.cluster.request_timeout_ms)
        with trio.move_on_after(timeout / 1000):
            try:
                return await connection.request(msg, version)
            except ConnectionFailed as exc:
                self.mark_coordinator_unknown(str(exc))
                raise
        self.mark_coordinator_unknown("request timed out")
        name = ApiKey(type(msg).API_KEY).name
        raise KafkaTimeoutError(f"{name} to the coordinator of group {self.group_id} timed out "
                                f"after {timeout} ms")

    # -- joining -----------------------------------------------------------------------------

    def need_rejoin(self) -> bool:
        return self.membership.rejoin_needed or not self.membership.stable

    async def join_group(self, topics: Sequence[str], owned: Sequence[TopicPartition],
                         partition_counts: PartitionCounts) -> Assignment:
        """JoinGroup + SyncGroup until this member has an assignment for a generation.

        Args:
            topics: what this member subscribes to.
            owned: partitions it keeps while rebalancing (cooperative protocol), else [].
            partition_counts: (leader only) topic -> partition count of existing topics.

        Raises:
            KafkaError: a fatal group error.
            KafkaTimeoutError: retriable failures for longer than the retry budget.
        """
        failing_since: float | None = None
        while True:
            try:
                assignment = await self._join_once(topics, owned, partition_counts)
                if assignment is not None:
                    return assignment
                failing_since = None
            except (KafkaError, ClientError) as exc:
                if not is_retriable(exc):
                    raise
                now = trio.current_time()
                failing_since = now if failing_since is None else failing_since
                if now - failing_since > self.cluster.retry_timeout_ms / 1000:
                    raise KafkaTimeoutError(
                        f"could not join group {self.group_id} within "
                        f"{self.cluster.retry_timeout_ms} ms", last_error=exc,
                        retriable=False) from exc
                log.info("group %s: join attempt failed (%s); retrying", self.group_id, exc)
                await trio.sleep(self.cluster.retry_backoff_ms / 1000)

    async def _join_once(self, topics: Sequence[str], owned: Sequence[TopicPartition],
                         partition_counts: PartitionCounts) -> Assignment | None:
        """One JoinGroup (+ SyncGroup); None when the coordinator asks us to try again."""
        await self.ensure_coordinator_ready()
        protocols = [JoinGroupRequestProtocol(
            name=a.name,
            metadata=a.subscription(topics, owned, self.membership.generation_id).encode())
            for a in self.assignors]
        request = self.membership.join_request(
            protocols=protocols, session_timeout_ms=self.session_timeout_ms,
            rebalance_timeout_ms=self.max_poll_interval_ms)
        try:
            response = await self.request(
                request, timeout_ms=max(self.cluster.request_timeout_ms,
                                        self.max_poll_interval_ms + 5000))
        except BaseException:
            self.membership.abort("JoinGroup failed")
            raise
        outcome = self.membership.on_join_response(response)
        if isinstance(outcome, Rejoin):
            return await self._after_rejoin(outcome)
        assignments: dict[str, bytes] = {}
        if outcome.leader:
            try:
                assignments = await self._assign(outcome, partition_counts)
            except BaseException:
                self.membership.abort("assignment failed")
                raise
        try:
            sync = await self.request(self.membership.sync_request(assignments))
        except BaseException:
            self.membership.abort("SyncGroup failed")
            raise
        synced = self.membership.on_sync_response(sync)
        if isinstance(synced, Rejoin):
            return await self._after_rejoin(synced)
        assignment = Assignment.decode(synced.assignment)
        chosen = self._assignor(self.membership.protocol_name)
        if chosen is not None:
            chosen.on_assignment(assignment, self.membership.generation_id)
        now = trio.current_time()
        self.heartbeat.reset_session(now)
        self.heartbeat.polled(now)
        log.info("group %s: member %s joined generation %d (%s, leader: %s) with %d "
                 "partition(s)", self.group_id, self.membership.member_id,
                 self.membership.generation_id, self.membership.protocol_name,
                 self.membership.is_leader, len(assignment.partitions))
        return assignment

    async def _after_rejoin(self, outcome: Rejoin) -> None:
        if outcome.coordinator_lost:
            self.mark_coordinator_unknown(outcome.reason)
        if outcome.backoff:
            await trio.sleep(self.cluster.retry_backoff_ms / 1000)
        return None

    def _assignor(self, name: str | None) -> PartitionAssignor | None:
        return next((a for a in self.assignors if a.name == name), None)

    async def _assign(self, joined: Joined, partition_counts: PartitionCounts
                      ) -> dict[str, bytes]:
        assignor = self._assignor(joined.protocol)
        if assignor is None:
            raise ClientError(f"the group chose protocol {joined.protocol!r}, which this "
                              "consumer does not offer")
        topics = {t for m in joined.members for t in m.subscription.topics}
        counts = await partition_counts(topics)
        result = assignor.assign(counts, joined.members)
        self.assigned_metadata = dict(counts)
        self.group_topics = sorted(topics)
        log.info("group %s: leader assigned %d partition(s) of %d topic(s) to %d member(s) "
                 "with %s", self.group_id, sum(len(a.partitions) for a in result.values()),
                 len(counts), len(joined.members), joined.protocol)
        return {m.member_id: result.get(m.member_id, Assignment()).encode()
                for m in joined.members}

    # -- heartbeats --------------------------------------------------------------------------

    async def heartbeat_once(self) -> HeartbeatOutcome:
        """Send one heartbeat (only while STABLE); update state from the answer."""
        membership = self.membership
        if not membership.stable:
            return HeartbeatOutcome.STALE
        generation, member = membership.generation_id, membership.member_id
        now = trio.current_time()
        self.heartbeat.sent(now)
        try:
            response = await self.request(membership.heartbeat_request())
        except (ConnectionFailed, KafkaTimeoutError, KafkaError) as exc:
            if isinstance(exc, KafkaError) and not is_retriable(exc):
                raise
            self.heartbeat.failed(trio.current_time())
            return HeartbeatOutcome.COORDINATOR_LOST
        outcome = membership.on_heartbeat_response(response, generation_id=generation,
                                                   member_id=member)
        if outcome in (HeartbeatOutcome.OK, HeartbeatOutcome.REJOIN):
            self.heartbeat.received(trio.current_time())
        elif outcome is HeartbeatOutcome.COORDINATOR_LOST:
            self.mark_coordinator_unknown("heartbeat answered NOT_COORDINATOR")
            self.heartbeat.failed(trio.current_time())
        elif outcome is HeartbeatOutcome.RETRY:
            self.heartbeat.failed(trio.current_time())
        return outcome

    async def maybe_heartbeat(self) -> None:
        """What the heartbeat thread does once: give up a dead session, leave after a poll
        timeout, or heartbeat when due."""
        now = trio.current_time()
        if not self.membership.stable:
            return
        if self.heartbeat.poll_timeout_expired(now):
            log.warning("group %s: consumer poll timeout has expired: the time between "
                        "subsequent calls to poll() was longer than max.poll.interval.ms "
                        "(%d ms); leaving the group", self.group_id, self.max_poll_interval_ms)
            await self.leave_group("consumer poll timeout has expired")
            return
        if self.heartbeat.session_expired(now):
            self.mark_coordinator_unknown("session timed out without a heartbeat answer")
            self.heartbeat.reset_session(now)
            return
        if self.heartbeat.should_heartbeat(now):
            await self.heartbeat_once()

    async def run(self, *, task_status: Any = trio.TASK_STATUS_IGNORED) -> None:
        """Background heartbeats until cancelled. A fatal error ends the task quietly and is
        kept in :attr:`fatal_error` for the consumer's next poll."""
        self.heartbeat_task_running = True
        task_status.started()
        try:
            while not self._closed:
                try:
                    await self.maybe_heartbeat()
                except (KafkaError, ClientError) as exc:
                    if is_retriable(exc):
                        log.info("group %s: heartbeat failed: %s", self.group_id, exc)
                    else:
                        self.fatal_error = exc
                        return
                delay = self.heartbeat.time_to_next(trio.current_time())
                await trio.sleep(min(max(delay, 0.01),
                                     self.heartbeat.heartbeat_interval_ms / 1000))
        finally:
            self.heartbeat_task_running = False

    # -- leaving -----------------------------------------------------------------------------

    async def leave_group(self, reason: str) -> None:
        """Send LeaveGroup (best effort) and forget the generation."""
        request = self.membership.leave_request()
        if request is not None and not self._closed:
            log.info("group %s: member %s sending LeaveGroup (%s)", self.group_id,
                     self.membership.member_id, reason)
            try:
                response = await self.request(request)
                if response.error_code:
                    log.info("group %s: LeaveGroup answered %s", self.group_id,
                             error_for(response.error_code))
            except (KafkaError, ClientError) as exc:
                log.info("group %s: LeaveGroup failed: %s", self.group_id, exc)
        if self.membership.member_id or self.membership.state is not MemberState.UNJOINED:
            self.membership.reset_generation(reason)

    async def aclose(self) -> None:
        self._closed = True
        if self._connection is not None:
            connection, self._connection = self._connection, None
            await connection.aclose()

    # -- offsets -----------------------------------------------------------------------------

    async def commit(self, offsets: Mapping[TopicPartition, OffsetAndMetadata], *,
                     group_managed: bool) -> None:
        """One OffsetCommit attempt.

        Args:
            offsets: what to commit.
            group_managed: True for a subscribed member (the commit carries its generation and
                is refused by the coordinator once the group moved on); False for a "simple"
                commit of manually assigned partitions.

        Raises:
            CommitFailed: the generation is gone (ILLEGAL_GENERATION, UNKNOWN_MEMBER_ID).
            RebalanceInProgress: the group is rebalancing (retriable after the next poll).
            KafkaError: coordinator errors (retriable; the coordinator is marked unknown) or
                fatal ones (OFFSET_METADATA_TOO_LARGE, authorization, ...).
        """
        if not offsets:
            return
        membership = self.membership
        if group_managed:
            if not membership.stable:
                raise RebalanceInProgress(_COMMIT_DURING_REBALANCE)
            generation, member = membership.generation_id, membership.member_id
        else:
            generation, member = -1, ""
        request = offset_commit_request(self.group_id, offsets, generation_id=generation,
                                        member_id=member,
                                        group_instance_id=membership.group_instance_id)
        response = await self.request(request)
        errors = offset_commit_errors(response)
        if not errors:
            return
        first = next(iter(errors.values()))
        codes = {type(e).code for e in errors.values()}
        if codes & _COORDINATOR_ERRORS or RequestTimedOut.code in codes:
            self.mark_coordinator_unknown(str(first))
            raise first
        if codes & {IllegalGeneration.code, UnknownMemberId.code}:
            if group_managed and (generation, member) == (membership.generation_id,
                                                           membership.member_id):
                membership.reset_generation("offset commit was rejected")
            raise CommitFailed(_COMMIT_FAILED)
        if RebalanceInProgress.code in codes:
            membership.request_rejoin("offset commit says the group is rebalancing")
            raise RebalanceInProgress(_COMMIT_DURING_REBALANCE)
        raise first

    async def commit_sync(self, offsets: Mapping[TopicPartition, OffsetAndMetadata], *,
                          group_managed: bool) -> None:
        """:meth:`commit`, retrying retriable errors within the cluster's retry budget."""
        await self._with_retries(lambda: self.commit(offsets, group_managed=group_managed),
                                 f"commit offsets of group {self.group_id}",
                                 no_retry=(RebalanceInProgress,))

    async def fetch_committed(self, partitions: Iterable[TopicPartition]
                              ) -> dict[TopicPartition, OffsetAndMetadata | None]:
        """The group's committed offsets for ``partitions`` (None where nothing is committed).

        Retries coordinator errors and UNSTABLE_OFFSET_COMMIT (KIP-447) within the budget.
        """
        wanted = sorted(set(partitions))
        if not wanted:
            return {}

        async def attempt() -> dict[TopicPartition, OffsetAndMetadata | None]:
            request = offset_fetch_request(self.group_id, wanted,
                                           require_stable=self.require_stable)
            response = await self.request(request)
            try:
                found = committed_from_response(response, self.group_id)
            except KafkaError as exc:
                if type(exc).code in _COORDINATOR_ERRORS:
                    self.mark_coordinator_unknown(str(exc))
                raise
            return {tp: found.get(tp) for tp in wanted}

        return await self._with_retries(attempt, f"fetch committed offsets of group "
                                                 f"{self.group_id}")

    async def _with_retries(self, op: Callable[[], Awaitable[Any]], what: str,
                            no_retry: tuple[type[BaseException], ...] = ()) -> Any:
        deadline = trio.current_time() + self.cluster.retry_timeout_ms / 1000
        while True:
            try:
                return await op()
            except (KafkaError, ClientError) as exc:
                if isinstance(exc, no_retry) or not is_retriable(exc):
                    raise
                if trio.current_time() + self.cluster.retry_backoff_ms / 1000 > deadline:
                    raise KafkaTimeoutError(f"could not {what} within "
                                            f"{self.cluster.retry_timeout_ms} ms",
                                            last_error=exc, retriable=False) from exc
                await trio.sleep(self.cluster.retry_backoff_ms / 1000)

