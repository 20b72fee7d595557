"""Kafka's consumer protocol and partition assignors (pure: no I/O, no clock).

Theory of operation
-------------------
A consumer group's broker never looks inside the protocol metadata of its members
(wire-protocol.md §11): each member sends, per assignor it supports, a *subscription* in
JoinGroup, and the member elected leader decodes everybody's subscription, runs the assignor
the group agreed on and sends each member an *assignment* in SyncGroup. For clients of different
languages to share a group, both blobs must be byte-for-byte Kafka's ``ConsumerProtocol``:

Subscription (int16 version, then the fields of that version; nothing is flexible)::

    v0  topics: [string]  user_data: nullable bytes
    v1  + owned_partitions: [topic: string, partitions: [int32]]      (KIP-429)
    v2  + generation_id: int32                                          (KIP-792)
    v3  + rack_id: nullable string                                      (KIP-881)

Assignment::

    v0  assigned_partitions: [topic: string, partitions: [int32]]  user_data: nullable bytes
    v1..v3 same fields

A reader parses newer versions with the newest layout it knows and ignores what follows (Kafka's
rule: versions only append fields), so we write v1 and read v0..v3 and beyond.

Assignors (protocol names are Kafka's, so mixed groups agree on one):

* ``range`` — per topic, members sorted (group instance id first, else member id) get
  consecutive ranges; the first ``partitions % members`` get one extra (Kafka RangeAssignor).
* ``roundrobin`` — all partitions sorted by topic and partition dealt to the sorted members in
  turn, skipping members not subscribed to the topic (Kafka RoundRobinAssignor).
* ``sticky`` — balanced like roundrobin, but every member keeps as many of its previous
  partitions as balance allows (Kafka StickyAssignor, eager). The previous assignment travels in
  the subscription's user data (``StickyAssignorUserData`` v1: partitions + generation).
* ``cooperative-sticky`` — the same placement, but a partition that moves is first only taken
  away from its owner; it is handed to its new owner in the follow-up rebalance the owner
  triggers after revoking it (KIP-429). Owned partitions travel in the subscription's
  ``owned_partitions`` field, the generation in the user data (int32).

When every member subscribes to the same topics the sticky assignors use Kafka's "constrained"
algorithm (keep owned partitions up to the min/max quotas, then deal out the rest); otherwise a
general one: keep owned partitions, give each free partition to the eligible member with the
fewest, then move partitions from members with at least two more than an eligible member until
no such move exists.
"""

from __future__ import annotations

import enum
import struct
from collections.abc import Iterable, Mapping, Sequence

import attrs

from kafkalite.errors import KafkaError
from kafkalite.model import TopicPartition

__all__ = [
    "CONSUMER_PROTOCOL_TYPE",
    "RebalanceProtocol",
    "Subscription",
    "Assignment",
    "MemberSubscription",
    "PartitionAssignor",
    "RangeAssignor",
    "RoundRobinAssignor",
    "StickyAssignor",
    "CooperativeStickyAssignor",
    "ASSIGNORS",
    "assignor_for",
    "encode_sticky_user_data",
    "decode_sticky_user_data",
    "range_assign",
    "roundrobin_assign",
    "sticky_assign",
]

CONSUMER_PROTOCOL_TYPE = "consumer"
SUBSCRIPTION_VERSION = 1
ASSIGNMENT_VERSION = 1
_HIGHEST_VERSION = 3
DEFAULT_GENERATION = -1

_I16 = struct.Struct(">h")
_I32 = struct.Struct(">i")


class RebalanceProtocol(enum.Enum):
    """How members hand partitions over during a rebalance (KIP-429)."""

    EAGER = 0         # revoke everything before joining
    COOPERATIVE = 1   # keep what you own; give up only what the leader takes away


class ConsumerProtocolError(KafkaError):
    """A member's subscription or assignment bytes could not be parsed."""


# --- the ConsumerProtocol byte formats ------------------------------------------------------


class _Reader:
    __slots__ = ("data", "pos")

    def __init__(self, data: bytes | memoryview):
        self.data = memoryview(data)
        self.pos = 0

    def _take(self, n: int) -> memoryview:
        if n < 0 or self.pos + n > len(self.data):
            raise ConsumerProtocolError(f"consumer protocol data truncated at byte {self.pos}")
        out = self.data[self.pos:self.pos + n]
        self.pos += n
        return out

    def int16(self) -> int:
        return _I16.unpack(self._take(2))[0]

    def int32(self) -> int:
        return _I32.unpack(self._take(4))[0]

    def string(self, nullable: bool = False) -> str | None:
        n = self.int16()
        if n < 0:
            if nullable:
                return None
            raise ConsumerProtocolError("null string in consumer protocol data")
        return bytes(self._take(n)).decode("utf-8")

    def nullable_bytes(self) -> bytes | None:
        n = self.int32()
        return None if n < 0 else bytes(self._take(n))

    def count(self) -> int:
        n = self.int32()
        return max(n, 0)  # a null array reads as empty

    def at_end(self) -> bool:
        return self.pos >= len(self.data)


class _Writer:
    __slots__ = ("parts",)

    def __init__(self) -> None:
        self.parts: list[bytes] = []

    def int16(self, v: int) -> None:
        self.parts.append(_I16.pack(v))

    def int32(self, v: int) -> None:
        self.parts.append(_I32.pack(v))

    def string(self, s: str | None) -> None:
        if s is None:
            self.int16(-1)
            return
        data = s.encode("utf-8")
        self.int16(len(data))
        self.parts.append(data)

    def nullable_bytes(self, b: bytes | None) -> None:
        if b is None:
            self.int32(-1)
            return
        self.int32(len(b))
        self.parts.append(bytes(b))

    def value(self) -> bytes:
        return b"".join(self.parts)


def _group_by_topic(partitions: Iterable[TopicPartition]) -> dict[str, list[int]]:
    """Topic -> partitions, topics in order of first appearance."""
    out: dict[str, list[int]] = {}
    for tp in partitions:
        out.setdefault(tp.topic, []).append(tp.partition)
    return out


def _write_partitions(w: _Writer, partitions: Iterable[TopicPartition]) -> None:
    grouped = _group_by_topic(partitions)
    w.int32(len(grouped))
    for topic, parts in grouped.items():
        w.string(topic)
        w.int32(len(parts))
        for p in parts:
            w.int32(p)


def _read_partitions(r: _Reader) -> tuple[TopicPartition, ...]:
    out = []
    for _ in range(r.count()):
        topic = r.string()
        for _ in range(r.count()):
            out.append(TopicPartition(topic, r.int32()))
    return tuple(out)


@attrs.frozen(kw_only=True)
class Subscription:
    """What a member sends for one assignor in JoinGroup (Kafka's ConsumerProtocolSubscription).

    ``generation_id`` is -1 when unknown; ``version`` is what :meth:`encode` writes (and what
    :meth:`decode` found on the wire).
    """

    topics: tuple[str, ...]
    user_data: bytes | None = None
    owned_partitions: tuple[TopicPartition, ...] = ()
    generation_id: int = DEFAULT_GENERATION
    rack_id: str | None = None
    version: int = SUBSCRIPTION_VERSION

    def encode(self) -> bytes:
        """The bytes for JoinGroup's protocol metadata."""
        version = min(self.version, _HIGHEST_VERSION)
        w = _Writer()
        w.int16(version)
        w.int32(len(self.topics))
        for topic in self.topics:
            w.string(topic)
        w.nullable_bytes(self.user_data)
        if version >= 1:
            _write_partitions(w, self.owned_partitions)
        if version >= 2:
            w.int32(self.generation_id)
        if version >= 3:
            w.string(self.rack_id)
        return w.value()

    @classmethod
    def decode(cls, data: bytes | memoryview) -> Subscription:
        """Parse any version (newer ones with the v3 layout, trailing fields ignored).

        Raises:
            ConsumerProtocolError: truncated or negative version.
        """
        r = _Reader(data)
        version = r.int16()
        if version < 0:
            raise ConsumerProtocolError(f"Unsupported subscription version: {version}")
        layout = min(version, _HIGHEST_VERSION)
        topics = tuple(r.string() for _ in range(r.count()))
        user_data = r.nullable_bytes()
        owned: tuple[TopicPartition, ...] = ()
        generation = DEFAULT_GENERATION
        rack = None
        if layout >= 1:
            owned = _read_partitions(r)
        if layout >= 2:
            generation = r.int32()
        if layout >= 3:
            rack = r.string(nullable=True)
        return cls(topics=topics, user_data=user_data, owned_partitions=owned,
                   generation_id=generation, rack_id=rack, version=version)


@attrs.frozen(kw_only=True)
class Assignment:
    """What the leader hands one member in SyncGroup (Kafka's ConsumerProtocolAssignment)."""

    partitions: tuple[TopicPartition, ...] = ()
    user_data: bytes | None = None
    version: int = ASSIGNMENT_VERSION

    def encode(self) -> bytes:
        w = _Writer()
        w.int16(min(self.version, _HIGHEST_VERSION))
        _write_partitions(w, self.partitions)
        w.nullable_bytes(self.user_data)
        return w.value()

    @classmethod
    def decode(cls, data: bytes | memoryview) -> Assignment:
        """Parse an assignment; empty bytes (a member the leader left out) = no partitions.

        Raises:
            ConsumerProtocolError: truncated or negative version.
        """
        if not data:
            return cls(partitions=(), user_data=None)
        r = _Reader(data)
        version = r.int16()
        if version < 0:
            raise ConsumerProtocolError(f"Unsupported assignment version: {version}")
        partitions = _read_partitions(r)
        user_data = r.nullable_bytes()
        return cls(partitions=partitions, user_data=user_data, version=version)


def encode_sticky_user_data(partitions: Iterable[TopicPartition], generation: int) -> bytes:
    """``StickyAssignorUserData`` v1 (no version prefix): previous assignment + generation."""
    w = _Writer()
    _write_partitions(w, sorted(partitions))
    w.int32(generation)
    return w.value()


def decode_sticky_user_data(data: bytes | None) -> tuple[tuple[TopicPartition, ...], int | None]:
    """Previous partitions and generation (None for v0 data); ((), None) if unparseable.

    Kafka writes v1 without a version prefix and reads by trying v1, then v0. kafka-python 3.x
    writes the same struct *with* an int16 version prefix; that form is accepted too. A layout
    only counts if it uses up the data exactly, so the forms cannot be confused.
    """
    if not data:
        return (), None

    def parse(offset: int, with_generation: bool):
        r = _Reader(data)
        r.pos = offset
        partitions = _read_partitions(r)
        generation = r.int32() if with_generation else None
        if not r.at_end():
            raise ConsumerProtocolError("trailing bytes")
        return partitions, generation

    attempts = [(0, True), (0, False)]
    if len(data) >= 2:
        version = _I16.unpack_from(data)[0]
        if version in (0, 1):
            attempts.append((2, version == 1))
    for offset, with_generation in attempts:
        try:
            return parse(offset, with_generation)
        except ConsumerProtocolError:
            continue
    return (), None


def _encode_generation(generation: int) -> bytes:
    return _I32.pack(generation)


def _decode_generation(data: bytes | None) -> int | None:
    if not data:
        return None
    if len(data) < 4:
        return DEFAULT_GENERATION
    return _I32.unpack_from(data)[0]


# --- the algorithms (pure functions over plain data) ------------------------------------------


@attrs.frozen(kw_only=True)
class MemberSubscription:
    """One member as the leader sees it in the JoinGroup response."""

    member_id: str
    subscription: Subscription
    group_instance_id: str | None = None


def _member_key(member_id: str, instance_id: str | None) -> tuple:
    """Kafka's MemberInfo order: static members (by instance id) first, then by member id."""
    return (0, instance_id, member_id) if instance_id else (1, "", member_id)


def _sorted_members(subscriptions: Mapping[str, Sequence[str]],
                    instance_ids: Mapping[str, str | None] | None) -> list[str]:
    ids = instance_ids or {}
    return sorted(subscriptions, key=lambda m: _member_key(m, ids.get(m)))


def range_assign(partitions_per_topic: Mapping[str, int],
                 subscriptions: Mapping[str, Sequence[str]],
                 instance_ids: Mapping[str, str | None] | None = None
                 ) -> dict[str, list[TopicPartition]]:
    """Kafka's RangeAssignor: member id -> partitions (topics nobody has metadata for skipped)."""
    out: dict[str, list[TopicPartition]] = {m: [] for m in subscriptions}
    members = _sorted_members(subscriptions, instance_ids)
    topics = sorted({t for ts in subscriptions.values() for t in ts})
    for topic in topics:
        count = partitions_per_topic.get(topic)
        if count is None:
            continue
        consumers = [m for m in members if topic in subscriptions[m]]
        per_member, extra = divmod(count, len(consumers))
        for i, member in enumerate(consumers):
            start = per_member * i + min(i, extra)
            length = per_member + (1 if i < extra else 0)
            out[member].extend(TopicPartition(topic, p) for p in range(start, start + length))
    return out


def _all_partitions(partitions_per_topic: Mapping[str, int],
                    topics: Iterable[str]) -> list[TopicPartition]:
    return [TopicPartition(t, p) for t in sorted(set(topics)) if t in partitions_per_topic
            for p in range(partitions_per_topic[t])]


def roundrobin_assign(partitions_per_topic: Mapping[str, int],
                      subscriptions: Mapping[str, Sequence[str]],
                      instance_ids: Mapping[str, str | None] | None = None
                      ) -> dict[str, list[TopicPartition]]:
    """Kafka's RoundRobinAssignor: one circular pass of the sorted members over all partitions."""
    out: dict[str, list[TopicPartition]] = {m: [] for m in subscriptions}
    members = _sorted_members(subscriptions, instance_ids)
    if not members:
        return out
    position = 0
    for tp in _all_partitions(partitions_per_topic,
                              (t for ts in subscriptions.values() for t in ts)):
        while tp.topic not in subscriptions[members[position % len(members)]]:
            position += 1
        out[members[position % len(members)]].append(tp)
        position += 1
    return out


@attrs.frozen(kw_only=True)
class StickyMember:
    """A member's input to the sticky algorithm: subscribed topics, claimed partitions and the
    generation of that claim (None = unknown)."""

    topics: tuple[str, ...]
    owned: tuple[TopicPartition, ...] = ()
    generation: int | None = None


def _valid_ownership(partitions_per_topic: Mapping[str, int],
                     members: Mapping[str, StickyMember]
                     ) -> tuple[dict[str, list[TopicPartition]], set[TopicPartition]]:
    """Claims that count: only members of the highest generation seen (or, if nobody states a
    generation, everyone); a partition claimed twice in that generation counts for nobody.
    Claims of topics the member no longer subscribes to or partitions that do not exist are
    dropped (Kafka's AbstractStickyAssignor input validation)."""
    owned: dict[str, list[TopicPartition]] = {m: [] for m in members}
    owner: dict[TopicPartition, str] = {}
    contested: set[TopicPartition] = set()
    current: list[str] = []
    max_generation = DEFAULT_GENERATION
    for member_id in sorted(members):
        m = members[member_id]
        gen = m.generation
        if not ((gen is not None and gen >= max_generation)
                or (gen is None and max_generation == DEFAULT_GENERATION)):
            continue
        if gen is not None and gen > max_generation:
            owner.clear()
            contested.clear()
            for dropped in current:
                owned[dropped].clear()
            current.clear()
            max_generation = gen
        current.append(member_id)
        for tp in sorted(set(m.owned)):
            if tp.topic not in m.topics or not 0 <= tp.partition < partitions_per_topic.get(
                    tp.topic, 0):
                continue
            other = owner.get(tp)
            if other is None and tp not in contested:
                owner[tp] = member_id
                owned[member_id].append(tp)
            elif other is not None:
                contested.add(tp)
                del owner[tp]
                owned[other].remove(tp)
    return owned, contested


def sticky_assign(partitions_per_topic: Mapping[str, int],
                  members: Mapping[str, StickyMember]) -> dict[str, list[TopicPartition]]:
    """Balanced assignment that keeps as many valid claims as balance allows.

    Returns member id -> sorted partitions; every partition of a subscribed, existing topic is
    assigned exactly once.
    """
    if not members:
        return {}
    owned, contested = _valid_ownership(partitions_per_topic, members)
    topic_sets = {frozenset(t for t in m.topics if t in partitions_per_topic)
                  for m in members.values()}
    if len(topic_sets) == 1:
        result = _constrained_assign(partitions_per_topic, members, owned)
    else:
        result = _general_assign(partitions_per_topic, members, owned)
    return {m: sorted(ps) for m, ps in result.items()}


def _constrained_assign(partitions_per_topic: Mapping[str, int],
                        members: Mapping[str, StickyMember],
                        owned: Mapping[str, list[TopicPartition]]
                        ) -> dict[str, list[TopicPartition]]:
    """Kafka's constrainedAssign (all members subscribe to the same topics)."""
    topics = next(iter(members.values())).topics
    all_partitions = _all_partitions(partitions_per_topic, topics)
    n = len(members)
    min_quota, over = divmod(len(all_partitions), n)
    max_quota = min_quota + (1 if over else 0)
    at_max = 0
    assignment: dict[str, list[TopicPartition]] = {m: [] for m in members}
    under_min: list[str] = []
    exactly_min: list[str] = []
    for member_id in sorted(members):
        claims = owned[member_id]
        if len(claims) < min_quota:
            assignment[member_id].extend(claims)
            under_min.append(member_id)
        elif len(claims) >= max_quota and at_max < over:
            at_max += 1
            assignment[member_id].extend(claims[:max_quota])
        else:
            assignment[member_id].extend(claims[:min_quota])
            if at_max < over:
                exactly_min.append(member_id)
    if at_max >= over:
        exactly_min.clear()
    taken = {tp for ps in assignment.values() for tp in ps}
    free = [tp for tp in all_partitions if tp not in taken]
    # Deal the free partitions: first round-robin to members under the minimum, then one
    # each to members at the minimum until ``over`` members hold the maximum.
    i = 0
    for tp in free:
        if under_min:
            i %= len(under_min)
            member_id = under_min[i]
        elif exactly_min:
            member_id = exactly_min.pop(0)
        else:  # cannot happen: the quotas add up to the partition count
            member_id = min(assignment, key=lambda m: (len(assignment[m]), m))
        assignment[member_id].append(tp)
        count = len(assignment[member_id])
        if under_min and member_id in under_min:
            if count == min_quota:
                under_min.pop(i)
                if at_max < over:
                    exactly_min.append(member_id)
            else:
                i += 1
        elif count == max_quota and max_quota > min_quota:
            at_max += 1
            if at_max >= over:
                exactly_min.clear()
    return assignment


def _general_assign(partitions_per_topic: Mapping[str, int],
                    members: Mapping[str, StickyMember],
                    owned: Mapping[str, list[TopicPartition]]
                    ) -> dict[str, list[TopicPartition]]:
    """Members with different subscriptions: keep valid claims, place the rest on the least
    loaded eligible member, then move partitions while a move narrows a gap of two or more."""
    subscribed = {m: {t for t in s.topics if t in partitions_per_topic}
                  for m, s in members.items()}
    consumers_of: dict[str, list[str]] = {}
    for m in sorted(members):
        for t in subscribed[m]:
            consumers_of.setdefault(t, []).append(m)
    assignment = {m: list(owned[m]) for m in members}
    taken = {tp for ps in assignment.values() for tp in ps}
    free = [tp for tp in _all_partitions(partitions_per_topic, consumers_of)
            if tp not in taken]
    # partitions with the fewest candidates first, as Kafka does
    free.sort(key=lambda tp: (len(consumers_of[tp.topic]), tp))
    for tp in free:
        target = min(consumers_of[tp.topic], key=lambda m: (len(assignment[m]), m))
        assignment[target].append(tp)
    moved = True
    while moved:
        moved = False
        for source in sorted(assignment, key=lambda m: (-len(assignment[m]), m)):
            for tp in sorted(assignment[source], reverse=True):
                target = min(consumers_of[tp.topic], key=lambda m: (len(assignment[m]), m))
                if len(assignment[target]) + 1 < len(assignment[source]):
                    assignment[source].remove(tp)
                    assignment[target].append(tp)
                    moved = True
                    break
            if moved:
                break
    return assignment


# --- assignor objects: what a member advertises and what its leader runs ----------------------


class PartitionAssignor:
    """Base class: a named protocol the group may choose.

    ``subscription`` builds what this member advertises in JoinGroup; ``assign`` is run by the
    leader; ``on_assignment`` lets an assignor remember what it got (the sticky ones do).
    """

    name = ""
    supported_protocols: tuple[RebalanceProtocol, ...] = (RebalanceProtocol.EAGER,)

    def subscription(self, topics: Sequence[str], owned: Sequence[TopicPartition],
                     generation: int) -> Subscription:
        return Subscription(topics=tuple(topics), owned_partitions=tuple(sorted(owned)))

    def assign(self, partitions_per_topic: Mapping[str, int],
               members: Sequence[MemberSubscription]) -> dict[str, Assignment]:
        raise NotImplementedError

    def on_assignment(self, assignment: Assignment, generation: int) -> None:
        pass

    @staticmethod
    def _wrap(result: Mapping[str, Sequence[TopicPartition]]) -> dict[str, Assignment]:
        return {m: Assignment(partitions=tuple(ps)) for m, ps in result.items()}


class RangeAssignor(PartitionAssignor):
    name = "range"

    def assign(self, partitions_per_topic, members):
        subs = {m.member_id: m.subscription.topics for m in members}
        ids = {m.member_id: m.group_instance_id for m in members}
        return self._wrap(range_assign(partitions_per_topic, subs, ids))


class RoundRobinAssignor(PartitionAssignor):
    name = "roundrobin"

    def assign(self, partitions_per_topic, members):
        subs = {m.member_id: m.subscription.topics for m in members}
        ids = {m.member_id: m.group_instance_id for m in members}
        return self._wrap(roundrobin_assign(partitions_per_topic, subs, ids))


class StickyAssignor(PartitionAssignor):
    """Eager sticky: the previous assignment and its generation ride in the user data."""

    name = "sticky"

    def __init__(self) -> None:
        self._previous: tuple[TopicPartition, ...] | None = None
        self._generation = DEFAULT_GENERATION

    def subscription(self, topics, owned, generation):
        user_data = None
        if self._previous is not None:
            user_data = encode_sticky_user_data(self._previous, self._generation)
        return Subscription(topics=tuple(topics), user_data=user_data,
                            owned_partitions=tuple(sorted(owned)))

    def on_assignment(self, assignment, generation):
        self._previous = tuple(assignment.partitions)
        self._generation = generation

    @staticmethod
    def member_data(sub: Subscription) -> StickyMember:
        partitions, generation = decode_sticky_user_data(sub.user_data)
        if not sub.user_data and sub.owned_partitions:
            partitions = sub.owned_partitions
            generation = sub.generation_id if sub.generation_id >= 0 else None
        return StickyMember(topics=sub.topics, owned=partitions, generation=generation)

    def assign(self, partitions_per_topic, members):
        data = {m.member_id: self.member_data(m.subscription) for m in members}
        return self._wrap(sticky_assign(partitions_per_topic, data))


class CooperativeStickyAssignor(PartitionAssignor):
    """KIP-429: sticky placement; moving partitions are withheld until their owner let go."""

    name = "cooperative-sticky"
    supported_protocols = (RebalanceProtocol.COOPERATIVE, RebalanceProtocol.EAGER)

    def __init__(self) -> None:
        self._generation = DEFAULT_GENERATION

    def subscription(self, topics, owned, generation):
        return Subscription(topics=tuple(topics), user_data=_encode_generation(generation),
                            owned_partitions=tuple(sorted(owned)))

    def on_assignment(self, assignment, generation):
        self._generation = generation

    @staticmethod
    def member_data(sub: Subscription) -> StickyMember:
        generation = sub.generation_id if sub.generation_id >= 0 else \
            _decode_generation(sub.user_data)
        return StickyMember(topics=sub.topics, owned=sub.owned_partitions,
                            generation=generation)

    def assign(self, partitions_per_topic, members):
        data = {m.member_id: self.member_data(m.subscription) for m in members}
        placed = sticky_assign(partitions_per_topic, data)
        claimed: dict[TopicPartition, set[str]] = {}
        for m in members:
            for tp in m.subscription.owned_partitions:
                claimed.setdefault(tp, set()).add(m.member_id)
        # A partition someone else still claims is withheld this round; its owner revokes it
        # (it is not in the owner's new assignment) and rejoins, and the next round hands it on.
        return self._wrap({m: [tp for tp in ps if not (claimed.get(tp, set()) - {m})]
                           for m, ps in placed.items()})


ASSIGNORS: dict[str, type[PartitionAssignor]] = {
    a.name: a for a in (RangeAssignor, RoundRobinAssignor, StickyAssignor,
                        CooperativeStickyAssignor)
}

#: Java class names accepted in ``partition.assignment.strategy`` (what Kafka's docs show).
_JAVA_NAMES = {
    "org.apache.kafka.clients.consumer.RangeAssignor": "range",
    "org.apache.kafka.clients.consumer.RoundRobinAssignor": "roundrobin",
    "org.apache.kafka.clients.consumer.StickyAssignor": "sticky",
    "org.apache.kafka.clients.consumer.CooperativeStickyAssignor": "cooperative-sticky",
}


def assignor_for(name: str) -> PartitionAssignor:
    """A fresh assignor for a protocol name or Kafka class name.

    Raises:
        ValueError: unknown name.
    """
    key = _JAVA_NAMES.get(name.strip(), name.strip())
    cls = ASSIGNORS.get(key)
    if cls is None:
        raise ValueError(f"unknown partition assignment strategy {name!r}: expected one of "
                         f"{', '.join(ASSIGNORS)}")
    return cls()
