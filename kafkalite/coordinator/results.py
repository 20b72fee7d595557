"""What the group coordinator decides: request arguments, answers and effects.

Plain frozen values, independent of wire versions: the handlers in ``server/handlers/`` turn
requests into these arguments and these answers into responses of the version asked for.

Effects (Kafka's ``CoordinatorResult``): a call on
:class:`~kafkalite.coordinator.machine.GroupCoordinator` returns a :class:`Result` holding
either an immediate answer (``response``) or the token of a parked request (``park``), plus
the effects the shell must carry out, in order:

- :class:`Reply` — answer a parked request (a JoinGroup waiting for the rebalance, a SyncGroup
  waiting for the leader, a commit waiting for its record to be committed);
- :class:`SetTimer` / :class:`CancelTimer` — call ``on_timer(key)`` at ``at_ms`` (a timer with
  the same key is replaced);
- :class:`Append` — append these key/value records to ``__consumer_offsets`` partition
  ``partition`` (acks=-1) and then call ``append_completed(append, error, base_offset)``;
  with ``producer`` set, as that producer's transactional batch.
"""

from __future__ import annotations

from typing import Any

import attrs

from kafkalite.errors import KafkaError
from kafkalite.model import TopicPartition

__all__ = ["JoinGroupArgs", "JoinedMember", "JoinResult", "SyncResult", "MemberLeave",
           "LeaveResult", "OffsetCommitEntry", "FetchedOffset", "OffsetFetchResult",
           "MemberDescription", "GroupDescription", "ListedGroup", "ListGroupsResult",
           "OffsetDeleteResult", "Reply", "SetTimer", "CancelTimer", "Append", "Result",
           "ErrorType"]

ErrorType = type[KafkaError] | None


# -- arguments -----------------------------------------------------------------------------


@attrs.frozen(kw_only=True)
class JoinGroupArgs:
    group_id: str
    member_id: str = ""
    group_instance_id: str | None = None
    client_id: str = ""
    client_host: str = ""
    session_timeout_ms: int
    rebalance_timeout_ms: int
    protocol_type: str
    protocols: tuple[tuple[str, bytes], ...]
    # JoinGroup v4+ (KIP-394): an unknown member first gets MEMBER_ID_REQUIRED and an id.
    require_known_member_id: bool = True


@attrs.frozen(kw_only=True)
class OffsetCommitEntry:
    offset: int
    leader_epoch: int = -1
    metadata: str | None = ""
    # OffsetCommit v1 carries a commit timestamp (-1: now); v2–v4 a retention time.
    commit_timestamp_ms: int = -1
    retention_ms: int = -1


# -- answers -------------------------------------------------------------------------------


@attrs.frozen(kw_only=True)
class JoinedMember:
    member_id: str
    group_instance_id: str | None
    metadata: bytes


@attrs.frozen(kw_only=True)
class JoinResult:
    error: ErrorType = None
    generation_id: int = -1
    protocol_type: str | None = None
    protocol_name: str | None = None
    leader_id: str = ""
    member_id: str = ""
    members: tuple[JoinedMember, ...] = ()


@attrs.frozen(kw_only=True)
class SyncResult:
    error: ErrorType = None
    protocol_type: str | None = None
    protocol_name: str | None = None
    assignment: bytes = b""


@attrs.frozen(kw_only=True)
class MemberLeave:
    member_id: str
    group_instance_id: str | None
    error: ErrorType = None


@attrs.frozen(kw_only=True)
class LeaveResult:
    error: ErrorType = None
    members: tuple[MemberLeave, ...] = ()


@attrs.frozen(kw_only=True)
class FetchedOffset:
    offset: int = -1
    leader_epoch: int = -1
    metadata: str = ""
    error: ErrorType = None


@attrs.frozen(kw_only=True)
class OffsetFetchResult:
    error: ErrorType = None
    offsets: dict[TopicPartition, FetchedOffset] = attrs.field(factory=dict)


@attrs.frozen(kw_only=True)
class MemberDescription:
    member_id: str
    group_instance_id: str | None
    client_id: str
    client_host: str
    metadata: bytes
    assignment: bytes


@attrs.frozen(kw_only=True)
class GroupDescription:
    group_id: str
    error: ErrorType = None
    state: str = "Dead"
    protocol_type: str = ""
    protocol: str = ""
    members: tuple[MemberDescription, ...] = ()


@attrs.frozen(kw_only=True)
class ListedGroup:
    group_id: str
    protocol_type: str
    state: str


@attrs.frozen(kw_only=True)
class ListGroupsResult:
    error: ErrorType = None
    groups: tuple[ListedGroup, ...] = ()


@attrs.frozen(kw_only=True)
class OffsetDeleteResult:
    error: ErrorType = None
    partitions: dict[TopicPartition, ErrorType] = attrs.field(factory=dict)


# -- effects -------------------------------------------------------------------------------


@attrs.frozen
class Reply:
    token: int
    response: Any


@attrs.frozen
class SetTimer:
    key: tuple
    at_ms: int


@attrs.frozen
class CancelTimer:
    key: tuple


@attrs.frozen(eq=False)
class Append:
    """Records to write to one ``__consumer_offsets`` partition; ``value`` None = tombstone.

    ``continuation`` is opaque to the shell: it hands the whole Append back to
    ``append_completed``.
    """

    partition: int
    records: tuple[tuple[bytes, bytes | None], ...]
    continuation: Any = None
    # (producer id, producer epoch) for a transactional offset commit (KIP-98): the batch is
    # written as that producer's transactional batch and its offsets count only on COMMIT.
    producer: tuple[int, int] | None = None


Effect = Reply | SetTimer | CancelTimer | Append


@attrs.frozen
class Result:
    response: Any = None
    park: int | None = None
    effects: tuple[Effect, ...] = ()

    @property
    def appends(self) -> list[Append]:
        return [e for e in self.effects if isinstance(e, Append)]

    @property
    def replies(self) -> list[Reply]:
        return [e for e in self.effects if isinstance(e, Reply)]

    @property
    def timers(self) -> list[SetTimer | CancelTimer]:
        return [e for e in self.effects if isinstance(e, (SetTimer, CancelTimer))]
