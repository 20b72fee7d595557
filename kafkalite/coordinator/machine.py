"""The group coordinator, pure: classic group protocol and committed offsets (Kafka's
``GroupCoordinator`` + ``GroupMetadataManager``, ZooKeeper era).

No I/O, no clock, no randomness: every call takes ``now_ms`` and returns a
:class:`~kafkalite.coordinator.results.Result` (an answer or a parked request, plus effects:
replies to parked requests, timers, records to append). ``service.py`` carries the effects out.

Ownership. This broker coordinates the groups whose ``__consumer_offsets`` partition
(:func:`~kafkalite.coordinator.offsets_topic.partition_for`) it leads. When it becomes leader
the shell replays the partition (:meth:`begin_load`, :meth:`load_records`,
:meth:`complete_load`); meanwhile requests for those groups get COORDINATOR_LOAD_IN_PROGRESS.
When leadership goes away :meth:`unload` drops the groups and answers their parked requests
with NOT_COORDINATOR. Every load has an epoch; appends that finish after their partition was
unloaded (or reloaded) do not touch the new state.

Durability. Offsets enter the cache only after their record is committed to the log (the
shell appends with acks=-1); the response waits for that. Group metadata is written when the
leader's assignment is accepted (CompletingRebalance -> Stable), when a group becomes Empty,
and when a static member is replaced; tombstones when offsets or groups are deleted/expired.

Parked requests. JoinGroup (until the rebalance completes), SyncGroup (until the leader's
assignment is persisted) and OffsetCommit/DeleteGroups/OffsetDelete (until their records are
written) park under a token. Every token is eventually answered: by the state machine, by
member removal, or by :meth:`unload`.

State transitions follow the table in ``group_state.py``; its docstring lists, per state, how
each request is answered. This module holds the group protocol; committed offsets, group
deletion and expiry are in ``offsets.py``, replay in ``loading.py`` (mixins of
:class:`GroupCoordinator` over the same state).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Mapping
import attrs

from kafkalite import errors
from kafkalite.coordinator.effects import (
    EXPIRE_KEY, Effects, heartbeat_key, join_key, map_append_error, pending_member_key)
from kafkalite.coordinator.group import Group, Member
from kafkalite.coordinator.group_state import CAN_REBALANCE, GroupState
from kafkalite.coordinator.loading import LoadingMixin, _LoadState
from kafkalite.coordinator.offsets import OffsetsMixin, _MultiState
from kafkalite.coordinator.offsets_topic import (
    GroupMetadataKey, GroupMetadataValue, MemberMetadataValue, encode_group_value, encode_key,
    partition_for)
from kafkalite.coordinator.results import (
    Append, ErrorType, GroupDescription, JoinedMember, JoinGroupArgs, JoinResult, LeaveResult,
    ListedGroup, ListGroupsResult, MemberDescription, MemberLeave, Result, SyncResult)

__all__ = ["GroupConfig", "GroupCoordinator"]

S = GroupState

log = logging.getLogger(__name__)   # kafka.coordinator.group.GroupCoordinator in the broker's logs

# Kafka's GroupCoordinator.NewMemberJoinTimeoutMs: a new member's JoinGroup may wait this long.
NEW_MEMBER_JOIN_TIMEOUT_MS = 5 * 60 * 1000

# Group ids whose offsets partition is remembered (far more than a broker coordinates).
_PARTITION_CACHE_MAX = 100_000


@attrs.frozen(kw_only=True)
class GroupConfig:
    """The broker settings the coordinator reads (Kafka names in the comments)."""

    num_partitions: int = 50                        # offsets.topic.num.partitions
    min_session_timeout_ms: int = 6000              # group.min.session.timeout.ms
    max_session_timeout_ms: int = 1800000           # group.max.session.timeout.ms
    initial_rebalance_delay_ms: int = 3000          # group.initial.rebalance.delay.ms
    max_size: int = 2**31 - 1                       # group.max.size
    offset_metadata_max_bytes: int = 4096           # offset.metadata.max.bytes
    offsets_retention_ms: int = 7 * 24 * 3600 * 1000  # offsets.retention.minutes
    offsets_retention_check_interval_ms: int = 600000  # offsets.retention.check.interval.ms
    new_member_join_timeout_ms: int = NEW_MEMBER_JOIN_TIMEOUT_MS


# -- continuations of appends (handed back by append_completed) ---------------------------


@attrs.frozen
class _StoreAssignment:
    group: Group
    load_epoch: int
    generation_id: int
    assignment: Mapping[str, bytes]


@attrs.frozen
class _StoreStaticMember:
    group: Group
    load_epoch: int
    token: int
    old_member_id: str
    new_member_id: str
    old_protocols: list
    leader_id: str | None


class GroupCoordinator(OffsetsMixin, LoadingMixin):
    """All groups of the ``__consumer_offsets`` partitions this broker leads.

    Args:
        config: the coordinator's settings.
        new_uuid: returns a fresh random id (member ids are ``<client id>-<uuid>``); passed in
            so tests are deterministic.
    """

    def __init__(self, config: GroupConfig, *, new_uuid: Callable[[], str]):
        self._partition_cache: dict[str, int] = {}
        self.config = config
        self._new_uuid = new_uuid
        self.groups: dict[str, Group] = {}
        self.owned: dict[int, int] = {}       # partition -> load epoch
        self._loading: dict[int, _LoadState] = {}
        self._parked: dict[int, tuple[str, str]] = {}  # token -> (kind, group id)
        self._multi: dict[int, _MultiState] = {}
        self._next_token = 1

    # -- helpers -------------------------------------------------------------------------

    def _new_token(self, kind: str, group_id: str) -> int:
        token = self._next_token
        self._next_token += 1
        self._parked[token] = (kind, group_id)
        return token

    @property
    def config(self) -> GroupConfig:
        return self._config

    @config.setter
    def config(self, config: GroupConfig) -> None:
        self._config = config
        self._partition_cache.clear()   # num_partitions may have changed

    def partition_for(self, group_id: str) -> int:
        """Cached: Java's string hash in Python costs more than the rest of a heartbeat."""
        p = self._partition_cache.get(group_id)
        if p is None:
            cache = self._partition_cache
            if len(cache) >= _PARTITION_CACHE_MAX:
                cache.clear()   # group ids come from clients: bound the memory
            p = cache[group_id] = partition_for(group_id, self._config.num_partitions)
        return p

    def coordinator_error(self, group_id: str | None, *, allow_empty_id: bool = False
                          ) -> ErrorType:
        """INVALID_GROUP_ID / COORDINATOR_LOAD_IN_PROGRESS / NOT_COORDINATOR, or None."""
        if group_id is None or (not allow_empty_id and group_id == ""):
            return errors.InvalidGroupId
        p = self.partition_for(group_id)
        if p in self._loading:
            return errors.CoordinatorLoadInProgress
        if p not in self.owned:
            return errors.NotCoordinator
        return None

    def is_loading(self) -> bool:
        return bool(self._loading)

    def _get_or_create(self, group_id: str) -> Group:
        group = self.groups.get(group_id)
        if group is None:
            group = self.groups[group_id] = Group(group_id=group_id,
                                                  partition=self.partition_for(group_id))
        return group

    def _load_epoch(self, group: Group) -> int:
        return self.owned.get(group.partition, -1)

    def _still_owned(self, group: Group, load_epoch: int) -> bool:
        return self.owned.get(group.partition) == load_epoch \
            and self.groups.get(group.group_id) is group

    def _schedule_heartbeat(self, out: Effects, group: Group, member: Member, now_ms: int,
                            timeout_ms: int | None = None) -> None:
        member.heartbeat_deadline_ms = now_ms + (timeout_ms if timeout_ms is not None
                                                 else member.session_timeout_ms)
        self._arm_session_timer(out, group, member)

    @staticmethod
    def _arm_session_timer(out: Effects, group: Group, member: Member) -> None:
        """Make sure a session timer fires at or before the member's deadline.

        Lazy: a heartbeat only moves ``heartbeat_deadline_ms`` later, so while a timer of the
        member is armed no later than the new deadline nothing is emitted; when it fires,
        :meth:`on_timer` finds the deadline moved and arms the next one. A member is thus
        expired exactly when its session ends, with one timer per session timeout instead
        of one per heartbeat (setting a timer wakes the shell's timer task)."""
        armed = member.session_timer
        if armed is not None and armed[1] <= member.heartbeat_deadline_ms \
                and armed[0][2] == member.member_id and armed[0][1] == group.group_id:
            return
        key = heartbeat_key(group.group_id, member.member_id)
        member.session_timer = (key, member.heartbeat_deadline_ms)
        out.timer(key, member.heartbeat_deadline_ms)

    def _join_response(self, group: Group, member: Member) -> JoinResult:
        members = ()
        if group.is_leader(member.member_id):
            members = tuple(JoinedMember(member_id=m.member_id,
                                         group_instance_id=m.group_instance_id,
                                         metadata=m.metadata_for(group.protocol_name))
                            for m in group.members.values())
        return JoinResult(members=members, member_id=member.member_id,
                          generation_id=group.generation_id, protocol_type=group.protocol_type,
                          protocol_name=group.protocol_name, leader_id=group.leader_id or "")

    def _group_record(self, group: Group, assignment: Mapping[str, bytes]
                      ) -> tuple[bytes, bytes]:
        members = tuple(MemberMetadataValue(
            member_id=m.member_id, group_instance_id=m.group_instance_id, client_id=m.client_id,
            client_host=m.client_host, rebalance_timeout=m.rebalance_timeout_ms,
            session_timeout=m.session_timeout_ms, subscription=m.metadata_for(group.protocol_name),
            assignment=assignment.get(m.member_id, b"")) for m in group.members.values())
        value = GroupMetadataValue(
            protocol_type=group.protocol_type or "", generation=group.generation_id,
            protocol=group.protocol_name, leader=group.leader_id,
            current_state_timestamp=group.state_timestamp_ms
            if group.state_timestamp_ms is not None else -1,
            members=members)
        return encode_key(GroupMetadataKey(group.group_id)), encode_group_value(value)

    # -- JoinGroup -----------------------------------------------------------------------

    def join_group(self, args: JoinGroupArgs, *, now_ms: int) -> Result:
        """JoinGroup: answered at once (errors, MEMBER_ID_REQUIRED, unchanged rejoin) or
        parked until the rebalance completes."""
        out = Effects(self)
        error = self.coordinator_error(args.group_id)
        if error is None and not (self.config.min_session_timeout_ms <= args.session_timeout_ms
                                  <= self.config.max_session_timeout_ms):
            error = errors.InvalidSessionTimeout
        if error is not None:
            out.respond(JoinResult(error=error, member_id=args.member_id))
            return out.result()
        unknown = args.member_id == ""
        group = self.groups.get(args.group_id)
        if group is None:
            if not unknown:
                out.respond(JoinResult(error=errors.UnknownMemberId, member_id=args.member_id))
                return out.result()
            group = self._get_or_create(args.group_id)
        if not self._accept_joining_member(group, args.member_id):
            member = group.members.get(args.member_id)
            if member is not None:
                self._remove_member_and_update_group(out, group, member, now_ms)
            group.pending_members.discard(args.member_id)
            out.respond(JoinResult(error=errors.GroupMaxSizeReached, member_id=""))
        elif unknown:
            self._join_unknown_member(out, group, args, now_ms)
        else:
            self._join_known_member(out, group, args, now_ms)
        if group.is_(S.PREPARING_REBALANCE):
            self._try_complete_join(out, group, now_ms)
        return out.result()

    def _accept_joining_member(self, group: Group, member_id: str) -> bool:
        if group.state in (S.EMPTY, S.DEAD):
            return True
        if group.is_(S.PREPARING_REBALANCE):
            member = group.members.get(member_id)
            return (member is not None and member.awaiting_join) or \
                group.awaiting_join_count() + len(group.pending_members) < self.config.max_size
        return member_id in group.members or len(group.members) < self.config.max_size

    def _join_unknown_member(self, out: Effects, group: Group, args: JoinGroupArgs,
                             now_ms: int) -> None:
        if group.is_(S.DEAD):
            out.respond(JoinResult(error=errors.CoordinatorNotAvailable))
            return
        if not group.supports_protocols(args.protocol_type, [n for n, _ in args.protocols]):
            out.respond(JoinResult(error=errors.InconsistentGroupProtocol))
            return
        new_id = f"{args.client_id}-{self._new_uuid()}"
        if args.group_instance_id is not None:
            old_id = group.static_member_id(args.group_instance_id)
            if old_id is not None:
                self._update_static_member_and_rebalance(out, group, old_id, new_id, args,
                                                         now_ms)
            else:
                self._add_member_and_rebalance(out, group, new_id, args, now_ms)
        elif args.require_known_member_id:
            group.pending_members.add(new_id)
            out.timer(pending_member_key(group.group_id, new_id), now_ms + args.session_timeout_ms)
            out.respond(JoinResult(error=errors.MemberIdRequired, member_id=new_id))
        else:
            self._add_member_and_rebalance(out, group, new_id, args, now_ms)

    def _join_known_member(self, out: Effects, group: Group, args: JoinGroupArgs,
                           now_ms: int) -> None:
        mid = args.member_id
        if group.is_(S.DEAD):
            out.respond(JoinResult(error=errors.CoordinatorNotAvailable, member_id=mid))
            return
        if not group.supports_protocols(args.protocol_type, [n for n, _ in args.protocols]):
            out.respond(JoinResult(error=errors.InconsistentGroupProtocol, member_id=mid))
            return
        if mid in group.pending_members:
            out.cancel(pending_member_key(group.group_id, mid))
            self._add_member_and_rebalance(out, group, mid, args, now_ms)
            return
        if group.is_static_member_fenced(mid, args.group_instance_id):
            out.respond(JoinResult(error=errors.FencedInstanceId, member_id=mid))
            return
        member = group.members.get(mid)
        if member is None or (args.group_instance_id is not None
                              and group.static_member_id(args.group_instance_id) is None):
            # An unknown dynamic id, or a static member whose instance id we do not know:
            # the client resets its member id and joins again.
            out.respond(JoinResult(error=errors.UnknownMemberId, member_id=mid))
            return
        protocols = [(n, bytes(d)) for n, d in args.protocols]
        if group.is_(S.PREPARING_REBALANCE):
            self._update_member_and_rebalance(out, group, member, protocols, now_ms)
        elif group.is_(S.COMPLETING_REBALANCE):
            if member.matches(protocols):
                out.respond(self._join_response(group, member))
            else:
                self._update_member_and_rebalance(out, group, member, protocols, now_ms)
        elif group.is_(S.STABLE):
            if group.is_leader(mid) or not member.matches(protocols):
                self._update_member_and_rebalance(out, group, member, protocols, now_ms)
            else:
                out.respond(JoinResult(member_id=mid, generation_id=group.generation_id,
                                       protocol_type=group.protocol_type,
                                       protocol_name=group.protocol_name,
                                       leader_id=group.leader_id or ""))
        else:
            out.respond(JoinResult(error=errors.UnknownMemberId, member_id=mid))

    def _park_join(self, out: Effects, group: Group, member: Member) -> None:
        if member.join_token is not None:  # a retry from another connection replaces it
            out.reply(member.join_token, JoinResult(error=errors.RebalanceInProgress,
                                                    member_id=member.member_id))
        member.join_token = out.park_token("join", group.group_id)

    def _add_member_and_rebalance(self, out: Effects, group: Group, member_id: str,
                                  args: JoinGroupArgs, now_ms: int) -> None:
        member = Member(member_id=member_id, group_instance_id=args.group_instance_id,
                        client_id=args.client_id, client_host=args.client_host,
                        rebalance_timeout_ms=args.rebalance_timeout_ms,
                        session_timeout_ms=args.session_timeout_ms,
                        protocol_type=args.protocol_type,
                        protocols=[(n, bytes(d)) for n, d in args.protocols], is_new=True)
        if group.is_(S.PREPARING_REBALANCE) and group.generation_id == 0:
            group.new_member_added = True
        group.add(member)
        self._park_join(out, group, member)
        # A new member cannot heartbeat until it has its id back; time out its JoinGroup instead.
        self._schedule_heartbeat(out, group, member, now_ms,
                                 self.config.new_member_join_timeout_ms)
        self._maybe_prepare_rebalance(out, group, now_ms)

    def _update_member_and_rebalance(self, out: Effects, group: Group, member: Member,
                                     protocols: list[tuple[str, bytes]], now_ms: int) -> None:
        member.protocols = protocols
        self._park_join(out, group, member)
        self._maybe_prepare_rebalance(out, group, now_ms)

    def _update_static_member_and_rebalance(self, out: Effects, group: Group, old_id: str,
                                            new_id: str, args: JoinGroupArgs,
                                            now_ms: int) -> None:
        leader_before = group.leader_id
        old = group.members[old_id]
        out.reply(old.join_token, JoinResult(error=errors.FencedInstanceId, member_id=old_id))
        out.reply(old.sync_token, SyncResult(error=errors.FencedInstanceId))
        old.join_token = old.sync_token = None
        out.cancel(heartbeat_key(group.group_id, old_id))
        member = group.replace_static_member(old_id, new_id)
        self._schedule_heartbeat(out, group, member, now_ms)
        old_protocols = member.protocols
        member.protocols = [(n, bytes(d)) for n, d in args.protocols]
        self._park_join(out, group, member)
        if group.is_(S.STABLE):
            if group.select_protocol() == group.protocol_name:
                # Nothing to reassign: persist the new member id, keep the generation.
                assignment = {m.member_id: m.assignment for m in group.members.values()}
                out.append(group.partition, [self._group_record(group, assignment)],
                           _StoreStaticMember(group, self._load_epoch(group), member.join_token,
                                              old_id, new_id, old_protocols, leader_before))
            else:
                self._prepare_rebalance(out, group, now_ms)
        elif group.is_(S.COMPLETING_REBALANCE):
            self._prepare_rebalance(out, group, now_ms)

    def _maybe_prepare_rebalance(self, out: Effects, group: Group, now_ms: int) -> None:
        if group.state in CAN_REBALANCE:
            self._prepare_rebalance(out, group, now_ms)

    def _prepare_rebalance(self, out: Effects, group: Group, now_ms: int) -> None:
        if group.is_(S.COMPLETING_REBALANCE):
            self._reset_and_propagate_assignment_error(out, group, errors.RebalanceInProgress,
                                                       now_ms)
        delay = self.config.initial_rebalance_delay_ms
        if group.is_(S.EMPTY) and delay > 0:
            group.in_initial_delay = True
            group.new_member_added = False
            group.initial_delay_remaining_ms = max(group.rebalance_timeout_ms() - delay, 0)
            group.rebalance_deadline_ms = now_ms + delay
        else:
            group.in_initial_delay = False
            group.rebalance_deadline_ms = now_ms + group.rebalance_timeout_ms()
        group.transition_to(S.PREPARING_REBALANCE, now_ms)
        log.info("Preparing to rebalance group %s in state %s with old generation %d "
                 "(__consumer_offsets-%d)", group.group_id, group.state.value, group.generation_id,
                 group.partition)
        out.timer(join_key(group.group_id), group.rebalance_deadline_ms)
        self._try_complete_join(out, group, now_ms)

    def _try_complete_join(self, out: Effects, group: Group, now_ms: int) -> None:
        if group.is_(S.PREPARING_REBALANCE) and not group.in_initial_delay \
                and group.has_all_members_joined():
            self._complete_join(out, group, now_ms)

    def _complete_join(self, out: Effects, group: Group, now_ms: int) -> None:
        """Kafka's ``onCompleteJoin``: drop dynamic members that did not rejoin, then start
        the next generation (or become Empty) and answer the parked JoinGroups."""
        out.cancel(join_key(group.group_id))
        group.in_initial_delay = False
        for m in group.not_yet_rejoined():
            if m.group_instance_id is None:
                self._remove_member(out, group, m)
        if group.is_(S.DEAD):
            return
        if group.members and not self._maybe_elect_new_joined_leader(group):
            # Only static members that have not rejoined remain: wait for them (or for their
            # sessions to expire).
            group.rebalance_deadline_ms = now_ms + group.rebalance_timeout_ms()
            out.timer(join_key(group.group_id), group.rebalance_deadline_ms)
            return
        group.generation_id += 1
        if group.members:
            group.protocol_name = group.select_protocol()
            group.transition_to(S.COMPLETING_REBALANCE, now_ms)
            log.info("Stabilized group %s generation %d (__consumer_offsets-%d)", group.group_id,
                     group.generation_id, group.partition)
            for member in group.members.values():
                if member.join_token is not None:
                    out.reply(member.join_token, self._join_response(group, member))
                    member.join_token = None
                self._schedule_heartbeat(out, group, member, now_ms)
                member.is_new = False
        else:
            group.protocol_name = None
            group.transition_to(S.EMPTY, now_ms)
            log.info("Group %s with generation %d is now empty (__consumer_offsets-%d)",
                     group.group_id, group.generation_id, group.partition)
            out.append(group.partition, [self._group_record(group, {})])

    def _maybe_elect_new_joined_leader(self, group: Group) -> bool:
        leader = group.members.get(group.leader_id) if group.leader_id else None
        if leader is None:
            return False
        if leader.awaiting_join:
            return True
        for m in group.members.values():
            if m.awaiting_join:
                group.leader_id = m.member_id
                return True
        return False

    # -- SyncGroup -----------------------------------------------------------------------

    def sync_group(self, group_id: str, generation_id: int, member_id: str, *,
                   group_instance_id: str | None = None, protocol_type: str | None = None,
                   protocol_name: str | None = None,
                   assignments: Mapping[str, bytes] | None = None, now_ms: int) -> Result:
        """SyncGroup: the leader's assignment is persisted, then everyone gets its share."""
        out = Effects(self)
        error = self.coordinator_error(group_id)
        group = self.groups.get(group_id) if error is None else None
        if error is None:
            if group is None:
                error = errors.UnknownMemberId
            elif group.is_(S.DEAD):
                error = errors.CoordinatorNotAvailable
            elif group.is_static_member_fenced(member_id, group_instance_id):
                error = errors.FencedInstanceId
            elif not group.has(member_id):
                error = errors.UnknownMemberId
            elif generation_id != group.generation_id:
                error = errors.IllegalGeneration
            elif (protocol_type is not None and protocol_type != group.protocol_type) or \
                    (protocol_name is not None and protocol_name != group.protocol_name):
                error = errors.InconsistentGroupProtocol
            elif group.is_(S.EMPTY):
                error = errors.UnknownMemberId
            elif group.is_(S.PREPARING_REBALANCE):
                error = errors.RebalanceInProgress
        if error is not None:
            out.respond(SyncResult(error=error))
            return out.result()
        member = group.members[member_id]
        if group.is_(S.COMPLETING_REBALANCE):
            if member.sync_token is not None:
                out.reply(member.sync_token, SyncResult(error=errors.RebalanceInProgress))
            member.sync_token = out.park_token("sync", group_id)
            if group.is_leader(member_id):
                log.info("Assignment received from leader for group %s for generation %d",
                         group_id, group.generation_id)
                given = dict(assignments or {})
                assignment = {mid: bytes(given.get(mid, b"")) for mid in group.members}
                out.append(group.partition, [self._group_record(group, assignment)],
                           _StoreAssignment(group, self._load_epoch(group), group.generation_id,
                                            assignment))
        else:  # STABLE
            self._schedule_heartbeat(out, group, member, now_ms)
            out.respond(SyncResult(protocol_type=group.protocol_type,
                                   protocol_name=group.protocol_name,
                                   assignment=member.assignment))
        return out.result()

    def _set_and_propagate_assignment(self, out: Effects, group: Group,
                                      assignment: Mapping[str, bytes], now_ms: int) -> None:
        for mid, member in group.members.items():
            member.assignment = assignment.get(mid, b"")
        self._propagate_assignment(out, group, None, now_ms)

    def _reset_and_propagate_assignment_error(self, out: Effects, group: Group, error,
                                              now_ms: int) -> None:
        for member in group.members.values():
            member.assignment = b""
        self._propagate_assignment(out, group, error, now_ms)

    def _propagate_assignment(self, out: Effects, group: Group, error, now_ms: int) -> None:
        for member in group.members.values():
            if member.sync_token is None:
                continue
            response = SyncResult(error=error) if error is not None else SyncResult(
                protocol_type=group.protocol_type, protocol_name=group.protocol_name,
                assignment=member.assignment)
            out.reply(member.sync_token, response)
            member.sync_token = None
            # Expirations were ignored while the member waited: expect the next heartbeat now.
            self._schedule_heartbeat(out, group, member, now_ms)

    # -- Heartbeat -----------------------------------------------------------------------

    def heartbeat(self, group_id: str, generation_id: int, member_id: str, *,
                  group_instance_id: str | None = None, now_ms: int) -> Result:
        """Heartbeat; the answer is an error class or None."""
        out = Effects(self)
        error = self.coordinator_error(group_id)
        if error is None:
            group = self.groups.get(group_id)
            if group is None:
                error = errors.UnknownMemberId
            elif group.is_(S.DEAD):
                error = errors.CoordinatorNotAvailable
            elif group.is_static_member_fenced(member_id, group_instance_id):
                error = errors.FencedInstanceId
            elif not group.has(member_id):
                error = errors.UnknownMemberId
            elif generation_id != group.generation_id:
                error = errors.IllegalGeneration
            elif group.is_(S.EMPTY):
                error = errors.UnknownMemberId
            else:
                self._schedule_heartbeat(out, group, group.members[member_id], now_ms)
                if group.is_(S.PREPARING_REBALANCE):
                    error = errors.RebalanceInProgress
        out.respond(error)
        return out.result()

    # -- LeaveGroup ----------------------------------------------------------------------

    def leave_group(self, group_id: str, members: Iterable[tuple[str, str | None]], *,
                    now_ms: int) -> Result:
        """LeaveGroup for ``(member_id, group_instance_id)`` pairs (v3+ batches them)."""
        out = Effects(self)
        leaving = list(members)
        error = self.coordinator_error(group_id)
        if error is not None:
            out.respond(LeaveResult(error=error))
            return out.result()
        group = self.groups.get(group_id)
        if group is None:
            out.respond(LeaveResult(members=tuple(
                MemberLeave(member_id=m, group_instance_id=i, error=errors.UnknownMemberId)
                for m, i in leaving)))
            return out.result()
        if group.is_(S.DEAD):
            out.respond(LeaveResult(error=errors.CoordinatorNotAvailable))
            return out.result()
        results = []
        for member_id, instance_id in leaving:
            err = None
            if instance_id is not None:
                static_id = group.static_member_id(instance_id)
                if static_id is None:
                    err = errors.UnknownMemberId
                elif member_id != "" and member_id != static_id:
                    err = errors.FencedInstanceId
                else:
                    log.info("Member[group.instance.id %s, member.id %s] in group %s has left, "
                             "removing it from the group", instance_id, static_id, group_id)
                    self._remove_current_member(out, group, static_id, now_ms)
            elif member_id in group.pending_members:
                group.pending_members.discard(member_id)
                out.cancel(pending_member_key(group_id, member_id))
                self._try_complete_join(out, group, now_ms)
            elif not group.has(member_id):
                err = errors.UnknownMemberId
            else:
                log.info("Member[group.instance.id None, member.id %s] in group %s has left, "
                         "removing it from the group", member_id, group_id)
                self._remove_current_member(out, group, member_id, now_ms)
            results.append(MemberLeave(member_id=member_id, group_instance_id=instance_id,
                                       error=err))
        out.respond(LeaveResult(members=tuple(results)))
        return out.result()

    def _remove_current_member(self, out: Effects, group: Group, member_id: str,
                               now_ms: int) -> None:
        self._remove_member_and_update_group(out, group, group.members[member_id], now_ms)

    def _remove_member(self, out: Effects, group: Group, member: Member) -> None:
        out.reply(member.join_token, JoinResult(error=errors.UnknownMemberId))
        out.reply(member.sync_token, SyncResult(error=errors.UnknownMemberId))
        member.join_token = member.sync_token = None
        out.cancel(heartbeat_key(group.group_id, member.member_id))
        member.session_timer = None
        group.remove(member.member_id)

    def _remove_member_and_update_group(self, out: Effects, group: Group, member: Member,
                                        now_ms: int) -> None:
        self._remove_member(out, group, member)
        if group.state in (S.STABLE, S.COMPLETING_REBALANCE):
            self._maybe_prepare_rebalance(out, group, now_ms)
        elif group.is_(S.PREPARING_REBALANCE):
            self._try_complete_join(out, group, now_ms)

    # -- timers --------------------------------------------------------------------------

    def on_timer(self, key: tuple, *, now_ms: int) -> Result:
        """A timer set by an earlier :class:`SetTimer` fired (stale ones are ignored)."""
        out = Effects(self)
        kind = key[0]
        if kind == EXPIRE_KEY[0]:
            self._expire_offsets(out, now_ms)
            out.timer(EXPIRE_KEY, now_ms + self.config.offsets_retention_check_interval_ms)
            return out.result()
        group = self.groups.get(key[1])
        if group is None or group.is_(S.DEAD):
            return out.result()
        if kind == "heartbeat":
            member = group.members.get(key[2])
            if member is None:
                return out.result()
            if member.session_timer is not None and member.session_timer[0] == key:
                member.session_timer = None   # this is the armed timer, now spent
            if member.heartbeat_deadline_ms > now_ms:
                self._arm_session_timer(out, group, member)   # heartbeats moved the deadline
            elif not self._keep_alive(member):
                log.info("Member %s in group %s has failed, removing it from the group",
                         member.member_id, group.group_id)
                self._remove_member_and_update_group(out, group, member, now_ms)
        elif kind == "pending-member":
            if key[2] in group.pending_members:
                group.pending_members.discard(key[2])
                if group.is_(S.PREPARING_REBALANCE):
                    self._try_complete_join(out, group, now_ms)
        elif kind == "join":
            if group.is_(S.PREPARING_REBALANCE) and group.rebalance_deadline_ms <= now_ms:
                self._on_rebalance_deadline(out, group, now_ms)
        return out.result()

    @staticmethod
    def _keep_alive(member: Member) -> bool:
        """Members waiting in a rebalance are not expired (their timers restart after it);
        a new member waiting for its first generation is (Kafka's ``hasSatisfiedHeartbeat``)."""
        return not member.is_new and (member.awaiting_join or member.sync_token is not None)

    def _on_rebalance_deadline(self, out: Effects, group: Group, now_ms: int) -> None:
        if group.in_initial_delay and group.new_member_added \
                and group.initial_delay_remaining_ms > 0:
            # group.initial.rebalance.delay.ms: another member came; wait once more.
            configured = self.config.initial_rebalance_delay_ms
            delay = min(configured, group.initial_delay_remaining_ms)
            group.initial_delay_remaining_ms = max(group.initial_delay_remaining_ms - configured,
                                                   0)
            group.new_member_added = False
            group.rebalance_deadline_ms = now_ms + delay
            out.timer(join_key(group.group_id), group.rebalance_deadline_ms)
            return
        self._complete_join(out, group, now_ms)

    def start(self, *, now_ms: int) -> Result:
        """Start periodic offset expiry (offsets.retention.check.interval.ms)."""
        out = Effects(self)
        out.timer(EXPIRE_KEY, now_ms + self.config.offsets_retention_check_interval_ms)
        return out.result()

    # -- appends -------------------------------------------------------------------------

    def append_completed(self, append: Append, error: ErrorType, base_offset: int, *,
                         now_ms: int) -> Result:
        """The records of ``append`` are committed (``error`` None) or failed."""
        out = Effects(self)
        c = append.continuation
        if isinstance(c, _StoreAssignment):
            group = c.group
            if self._still_owned(group, c.load_epoch) and group.is_(S.COMPLETING_REBALANCE) \
                    and group.generation_id == c.generation_id:
                if error is not None:
                    self._reset_and_propagate_assignment_error(
                        out, group, map_append_error(error, for_group=True), now_ms)
                    self._maybe_prepare_rebalance(out, group, now_ms)
                else:
                    self._set_and_propagate_assignment(out, group, c.assignment, now_ms)
                    group.transition_to(S.STABLE, now_ms)
        elif isinstance(c, _StoreStaticMember):
            self._static_member_stored(out, c, error)
        else:
            self._offsets_append_completed(out, c, error, base_offset)
        return out.result()

    def _static_member_stored(self, out: Effects, c: _StoreStaticMember, error) -> None:
        group = c.group
        member = group.members.get(c.new_member_id)
        if not self._still_owned(group, c.load_epoch) or member is None \
                or member.join_token != c.token:
            out.reply(c.token, JoinResult(error=errors.NotCoordinator))
            return
        member.join_token = None
        if error is not None:
            group.replace_static_member(c.new_member_id, c.old_member_id)
            member.protocols = c.old_protocols
            out.reply(c.token, JoinResult(error=map_append_error(error, for_group=True)))
            return
        out.reply(c.token, JoinResult(member_id=c.new_member_id,
                                      generation_id=group.generation_id,
                                      protocol_type=group.protocol_type,
                                      protocol_name=group.protocol_name,
                                      # The old leader id: a replaced leader must not run a
                                      # trivial assignment that a stable group never sends out.
                                      leader_id=c.leader_id or ""))

    # -- DescribeGroups / ListGroups -----------------------------------------------------

    def describe_group(self, group_id: str) -> GroupDescription:
        error = self.coordinator_error(group_id, allow_empty_id=True)
        if error is not None:
            return GroupDescription(group_id=group_id, error=error, state="")
        group = self.groups.get(group_id)
        if group is None:
            return GroupDescription(group_id=group_id)
        stable = group.is_(S.STABLE)
        members = tuple(MemberDescription(
            member_id=m.member_id, group_instance_id=m.group_instance_id, client_id=m.client_id,
            client_host=m.client_host,
            metadata=m.metadata_for(group.protocol_name) if stable else b"",
            assignment=m.assignment if stable else b"") for m in group.members.values())
        return GroupDescription(group_id=group_id, state=group.state.value,
                                protocol_type=group.protocol_type or "",
                                protocol=(group.protocol_name or "") if stable else "",
                                members=members)

    def list_groups(self, states: Iterable[GroupState] = ()) -> ListGroupsResult:
        wanted = set(states)
        groups = tuple(ListedGroup(group_id=g.group_id, protocol_type=g.protocol_type or "",
                                   state=g.state.value)
                       for g in self.groups.values()
                       if g.partition in self.owned and not g.is_(S.DEAD)
                       and (not wanted or g.state in wanted))
        return ListGroupsResult(
            error=errors.CoordinatorLoadInProgress if self._loading else None, groups=groups)
