"""One classic group as its coordinator holds it: members, generation and committed offsets.

Mutable state (``attrs.define``) owned by :class:`kafkalite.coordinator.machine.GroupCoordinator`;
nothing here does I/O or reads a clock. Invariants (Kafka's ``GroupMetadata``):

- ``members`` keeps join order; the leader is a member (or None when there are none).
- ``static_members`` maps each group instance id (KIP-345) to the member id currently
  holding it; every value is a key of ``members``.
- ``pending_members`` are ids handed out with MEMBER_ID_REQUIRED (KIP-394) whose owners have
  not joined with them yet; a rebalance waits for them too.
- ``offsets`` holds only commits whose records are in the log (acknowledged); each remembers
  the log offset of its record so an older write finishing late never overwrites a newer one.
- ``state`` changes only through :meth:`Group.transition_to`, which checks the table in
  ``group_state.py``.
"""

from __future__ import annotations

import struct

import attrs

from kafkalite.coordinator.group_state import GroupState, check_transition
from kafkalite.coordinator.offsets_topic import OffsetKey, encode_key
from kafkalite.model import TopicPartition

__all__ = ["Member", "CommittedOffset", "Group", "CONSUMER_PROTOCOL_TYPE",
           "subscription_topics"]

CONSUMER_PROTOCOL_TYPE = "consumer"


@attrs.define(kw_only=True, eq=False)
class Member:
    member_id: str
    group_instance_id: str | None = None
    client_id: str = ""
    client_host: str = ""
    rebalance_timeout_ms: int
    session_timeout_ms: int
    protocol_type: str = CONSUMER_PROTOCOL_TYPE
    protocols: list[tuple[str, bytes]] = attrs.field(factory=list)
    assignment: bytes = b""
    # Token of a parked JoinGroup / SyncGroup of this member (None = not waiting).
    join_token: int | None = None
    sync_token: int | None = None
    # Joined as a brand-new member in the rebalance under way (Kafka's ``isNew``).
    is_new: bool = False
    heartbeat_deadline_ms: int = 0
    # The session timer last armed for this member, ``(key, at_ms)``; None when none is
    # (see ``GroupCoordinator._arm_session_timer``).
    session_timer: tuple | None = None

    @property
    def awaiting_join(self) -> bool:
        return self.join_token is not None

    def metadata_for(self, protocol: str | None) -> bytes:
        for name, data in self.protocols:
            if name == protocol:
                return data
        return b""

    def protocol_names(self) -> list[str]:
        return [name for name, _ in self.protocols]

    def matches(self, protocols: list[tuple[str, bytes]]) -> bool:
        """Same protocols, same order, same metadata: rejoining changes nothing."""
        return [(n, bytes(d)) for n, d in protocols] == [(n, bytes(d)) for n, d in self.protocols]


@attrs.define(kw_only=True)
class CommittedOffset:
    offset: int
    leader_epoch: int = -1
    metadata: str = ""
    commit_timestamp_ms: int = -1
    expire_timestamp_ms: int | None = None
    record_offset: int = -1  # log offset of the record carrying it (-1: not known)


@attrs.define(kw_only=True, eq=False)
class Group:
    group_id: str
    partition: int
    state: GroupState = GroupState.EMPTY
    state_timestamp_ms: int | None = None
    protocol_type: str | None = None
    protocol_name: str | None = None
    generation_id: int = 0
    leader_id: str | None = None
    members: dict[str, Member] = attrs.field(factory=dict)
    pending_members: set[str] = attrs.field(factory=set)
    static_members: dict[str, str] = attrs.field(factory=dict)
    offsets: dict[TopicPartition, CommittedOffset] = attrs.field(factory=dict)
    pending_offset_commits: dict[TopicPartition, int] = attrs.field(factory=dict)
    # Transactional commits in the log whose transaction is not decided yet, per producer id;
    # they become offsets on its COMMIT marker and vanish on ABORT (KIP-98).
    pending_txn_offsets: dict[int, dict[TopicPartition, CommittedOffset]] = attrs.field(
        factory=dict)
    # Initial rebalance delay (group.initial.rebalance.delay.ms): a new member joined during it.
    new_member_added: bool = False
    # Deadline of the rebalance under way (PreparingRebalance), or of the initial delay.
    rebalance_deadline_ms: int = 0
    initial_delay_remaining_ms: int = 0
    initial_delay_ms: int = 0
    in_initial_delay: bool = False
    # Encoded offset-commit record keys by partition: the same few for every commit.
    _offset_keys: dict[TopicPartition, bytes] = attrs.field(factory=dict, init=False,
                                                            repr=False)

    # -- state ---------------------------------------------------------------------------

    def is_(self, state: GroupState) -> bool:
        return self.state is state

    def transition_to(self, target: GroupState, now_ms: int) -> None:
        check_transition(self.state, target)
        self.state = target
        self.state_timestamp_ms = now_ms

    def offset_key(self, tp: TopicPartition) -> bytes:
        """The ``__consumer_offsets`` record key of this group's offset of ``tp``."""
        key = self._offset_keys.get(tp)
        if key is None:
            key = self._offset_keys[tp] = encode_key(OffsetKey(self.group_id, tp.topic,
                                                               tp.partition))
        return key

    # -- membership ----------------------------------------------------------------------

    def has(self, member_id: str) -> bool:
        return member_id in self.members

    def is_leader(self, member_id: str) -> bool:
        return self.leader_id == member_id

    def add(self, member: Member) -> None:
        if not self.members:
            self.protocol_type = member.protocol_type
        self.members[member.member_id] = member
        if member.group_instance_id is not None:
            self.static_members[member.group_instance_id] = member.member_id
        if self.leader_id is None:
            self.leader_id = member.member_id
        self.pending_members.discard(member.member_id)

    def remove(self, member_id: str) -> Member | None:
        member = self.members.pop(member_id, None)
        if member is None:
            return None
        if member.group_instance_id is not None \
                and self.static_members.get(member.group_instance_id) == member_id:
            del self.static_members[member.group_instance_id]
        if self.leader_id == member_id:
            self.leader_id = next(iter(self.members), None)
        return member

    def static_member_id(self, group_instance_id: str | None) -> str | None:
        if group_instance_id is None:
            return None
        return self.static_members.get(group_instance_id)

    def is_static_member_fenced(self, member_id: str, group_instance_id: str | None) -> bool:
        """A static member's id was replaced by a newer instance with the same instance id."""
        if group_instance_id is None:
            return False
        current = self.static_members.get(group_instance_id)
        return current is not None and current != member_id

    def replace_static_member(self, old_member_id: str, new_member_id: str) -> Member:
        """Hand the old member's place (assignment, leadership, instance id) to a new id."""
        member = self.members.pop(old_member_id)
        member.member_id = new_member_id
        self.members[new_member_id] = member
        if member.group_instance_id is not None:
            self.static_members[member.group_instance_id] = new_member_id
        if self.leader_id == old_member_id:
            self.leader_id = new_member_id
        return member

    def awaiting_join_count(self) -> int:
        return sum(1 for m in self.members.values() if m.awaiting_join)

    def has_all_members_joined(self) -> bool:
        return len(self.members) == self.awaiting_join_count() and not self.pending_members

    def not_yet_rejoined(self) -> list[Member]:
        return [m for m in self.members.values() if not m.awaiting_join]

    def rebalance_timeout_ms(self) -> int:
        return max((m.rebalance_timeout_ms for m in self.members.values()), default=0)

    def is_empty(self) -> bool:
        return not self.members

    # -- protocols -----------------------------------------------------------------------

    def supports_protocols(self, protocol_type: str, protocols: list[str]) -> bool:
        """Kafka's ``supportsProtocols``: a new member must share a protocol with everyone."""
        if self.is_(GroupState.EMPTY) or not self.members:
            return bool(protocol_type) and bool(protocols)
        if protocol_type != self.protocol_type:
            return False
        return any(p in self.candidate_protocols() for p in protocols)

    def candidate_protocols(self) -> list[str]:
        """Protocols every member supports, in the first member's order of preference."""
        members = list(self.members.values())
        if not members:
            return []
        common = [p for p in members[0].protocol_names()
                  if all(p in m.protocol_names() for m in members[1:])]
        return common

    def select_protocol(self) -> str:
        """Each member votes for its most preferred candidate; most votes wins (ties: the
        first member's preference order)."""
        candidates = self.candidate_protocols()
        if not candidates:
            # Only reachable when a member changed its protocols mid-rebalance (Kafka fails
            # here); fall back to the most popular first choice rather than crash.
            candidates = list(dict.fromkeys(m.protocol_names()[0]
                                            for m in self.members.values() if m.protocols))
        votes = {p: 0 for p in candidates}
        for m in self.members.values():
            choice = next((p for p in m.protocol_names() if p in votes), None)
            if choice is not None:
                votes[choice] += 1
        return max(candidates, key=lambda p: votes[p])  # max keeps the first of equal votes

    def subscribed_topics(self) -> set[str] | None:
        """Topics the members subscribe to (consumer protocol), None when unknown."""
        if self.protocol_type != CONSUMER_PROTOCOL_TYPE or self.protocol_name is None:
            return None
        topics: set[str] = set()
        for m in self.members.values():
            parsed = subscription_topics(m.metadata_for(self.protocol_name))
            if parsed is None:
                return None
            topics |= parsed
        return topics

    # -- offsets -------------------------------------------------------------------------

    def has_offsets(self) -> bool:
        return bool(self.offsets) or bool(self.pending_offset_commits) \
            or bool(self.pending_txn_offsets)

    def has_pending_commit(self, tp: TopicPartition) -> bool:
        """A commit of ``tp`` is in flight or in an undecided transaction (RequireStable)."""
        return tp in self.pending_offset_commits or any(
            tp in offsets for offsets in self.pending_txn_offsets.values())

    def complete_txn_offsets(self, producer_id: int, committed: bool) -> None:
        """The transaction of ``producer_id`` ended: its offsets count (COMMIT) or not."""
        for tp, offset in self.pending_txn_offsets.pop(producer_id, {}).items():
            if committed:
                self.on_offset_commit_append(tp, offset)

    def on_offset_commit_append(self, tp: TopicPartition, committed: CommittedOffset) -> None:
        current = self.offsets.get(tp)
        if current is None or committed.record_offset >= current.record_offset:
            self.offsets[tp] = committed

    def add_pending_commit(self, tp: TopicPartition) -> None:
        self.pending_offset_commits[tp] = self.pending_offset_commits.get(tp, 0) + 1

    def remove_pending_commit(self, tp: TopicPartition) -> None:
        n = self.pending_offset_commits.get(tp, 0) - 1
        if n > 0:
            self.pending_offset_commits[tp] = n
        else:
            self.pending_offset_commits.pop(tp, None)


def subscription_topics(metadata: bytes) -> set[str] | None:
    """Topics of a ConsumerProtocol Subscription (``int16 version, [string topic], ...``).

    Only the leading topic list is read, which every version (0–3) shares. None when the
    bytes do not parse.
    """
    try:
        (count,) = struct.unpack_from(">i", metadata, 2)
        pos = 6
        topics = set()
        for _ in range(count):
            (n,) = struct.unpack_from(">h", metadata, pos)
            pos += 2
            if n < 0 or pos + n > len(metadata):
                return None
            topics.add(bytes(metadata[pos:pos + n]).decode("utf-8"))
            pos += n
        return topics
    except (struct.error, UnicodeDecodeError):
        return None
