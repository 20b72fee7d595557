"""Replaying an offsets partition when this broker becomes its leader, and forgetting it.

Part of :class:`~kafkalite.coordinator.machine.GroupCoordinator` (a mixin over its state).
Between :meth:`LoadingMixin.begin_load` and :meth:`LoadingMixin.complete_load` requests for the
partition's groups get COORDINATOR_LOAD_IN_PROGRESS. Records are applied in log order, last
write wins, tombstones delete; unreadable records are counted and skipped. Every load carries
an epoch so a stale replay (leadership lost and regained meanwhile) is ignored.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import attrs

from kafkalite import errors
from kafkalite.coordinator.effects import Effects, heartbeat_key, join_key, pending_member_key
from kafkalite.coordinator.group import CommittedOffset, Member
from kafkalite.coordinator.group_state import GroupState
from kafkalite.coordinator.offsets_topic import (
    GroupMetadataValue, OffsetKey, OffsetValue, SchemaError, decode_group_value, decode_key,
    decode_offset_value)
from kafkalite.coordinator.results import JoinResult, Result, SyncResult
from kafkalite.model import TopicPartition

__all__ = ["LoadingMixin"]

S = GroupState


@attrs.define
class _LoadState:
    epoch: int
    offsets: dict[tuple[str, TopicPartition], tuple[OffsetValue, int]] = attrs.field(factory=dict)
    groups: dict[str, GroupMetadataValue | None] = attrs.field(factory=dict)
    skipped: int = 0
    # transactional offset commits read, per producer id, until its marker is read
    pending: dict[int, dict[tuple[str, TopicPartition], tuple[OffsetValue, int]]] = \
        attrs.field(factory=dict)


class LoadingMixin:
    """Loading and unloading of offsets partitions for :class:`GroupCoordinator`."""

    # -- loading and unloading -----------------------------------------------------------

    def begin_load(self, partition: int, epoch: int) -> Result:
        """This broker became leader of ``partition``: drop what we had, start replaying."""
        out = Effects(self)
        self._drop_partition(out, partition)
        self._loading[partition] = _LoadState(epoch)
        return out.result()

    def load_records(self, partition: int, epoch: int,
                     records: Iterable[tuple[int, bytes | None, bytes | None]]) -> None:
        """Replay ``(offset, key, value)`` records of the partition, in log order."""
        state = self._loading.get(partition)
        if state is None or state.epoch != epoch:
            return
        for offset, key, value in records:
            if key is None:
                state.skipped += 1
                continue
            try:
                k = decode_key(key)
                if isinstance(k, OffsetKey):
                    tp = TopicPartition(k.topic, k.partition)
                    v = decode_offset_value(value)
                    if v is None:
                        state.offsets.pop((k.group, tp), None)
                    else:
                        state.offsets[(k.group, tp)] = (v, offset)
                else:
                    state.groups[k.group] = decode_group_value(value)
            except SchemaError:
                state.skipped += 1

    def load_txn_records(self, partition: int, epoch: int, producer_id: int,
                         records: Iterable[tuple[int, bytes | None, bytes | None]]) -> None:
        """Replay the records of one transactional batch of ``producer_id`` (offset commits
        that count only if its COMMIT marker follows)."""
        state = self._loading.get(partition)
        if state is None or state.epoch != epoch:
            return
        pending = state.pending.setdefault(producer_id, {})
        for offset, key, value in records:
            try:
                k = decode_key(key) if key is not None else None
                v = decode_offset_value(value) if isinstance(k, OffsetKey) else None
            except SchemaError:
                k = v = None
            if v is None:
                state.skipped += 1
                continue
            pending[(k.group, TopicPartition(k.topic, k.partition))] = (v, offset)

    def load_txn_marker(self, partition: int, epoch: int, producer_id: int,
                        committed: bool) -> None:
        """Replay a COMMIT/ABORT marker: the producer's pending offsets count or vanish (a
        later non-transactional commit of the same partition still wins, by log order)."""
        state = self._loading.get(partition)
        if state is None or state.epoch != epoch:
            return
        for key, (v, offset) in state.pending.pop(producer_id, {}).items():
            current = state.offsets.get(key)
            if committed and (current is None or current[1] < offset):
                state.offsets[key] = (v, offset)

    def complete_load(self, partition: int, epoch: int, *, now_ms: int) -> Result:
        """Build the groups of a replayed partition and start their members' session timers."""
        out = Effects(self)
        state = self._loading.get(partition)
        if state is None or state.epoch != epoch:
            return out.result()
        del self._loading[partition]
        self.owned[partition] = epoch
        for gid, value in state.groups.items():
            if value is None:
                continue
            group = self._get_or_create(gid)
            group.protocol_type = value.protocol_type or None
            group.generation_id = value.generation
            group.protocol_name = value.protocol
            group.state_timestamp_ms = value.current_state_timestamp \
                if value.current_state_timestamp >= 0 else None
            for m in value.members:
                member = Member(member_id=m.member_id, group_instance_id=m.group_instance_id,
                                client_id=m.client_id, client_host=m.client_host,
                                rebalance_timeout_ms=m.rebalance_timeout,
                                session_timeout_ms=m.session_timeout,
                                protocol_type=value.protocol_type,
                                protocols=[(value.protocol or "", m.subscription)],
                                assignment=m.assignment)
                group.add(member)
            group.leader_id = value.leader if value.leader in group.members else \
                next(iter(group.members), None)
            group.state = S.STABLE if group.members else S.EMPTY
            for member in group.members.values():
                self._schedule_heartbeat(out, group, member, now_ms)
        for (gid, tp), (v, offset) in state.offsets.items():
            self._get_or_create(gid).offsets[tp] = _committed(v, offset)
        # transactions still open at the log end: their offsets wait for the marker
        for producer_id, pending in state.pending.items():
            for (gid, tp), (v, offset) in pending.items():
                self._get_or_create(gid).pending_txn_offsets.setdefault(
                    producer_id, {})[tp] = _committed(v, offset)
        return out.result()

    def load_stats(self, partition: int) -> tuple[int, int, int] | None:
        """(groups, offsets, skipped records) replayed so far, for logging."""
        state = self._loading.get(partition)
        if state is None:
            return None
        return (sum(1 for v in state.groups.values() if v is not None), len(state.offsets),
                state.skipped)

    def unload(self, partition: int) -> Result:
        """Leadership of ``partition`` went away: forget its groups, answer their parked
        requests with NOT_COORDINATOR."""
        out = Effects(self)
        self._drop_partition(out, partition)
        return out.result()

    def _drop_partition(self, out: Effects, partition: int) -> None:
        self._loading.pop(partition, None)
        self.owned.pop(partition, None)
        dropped = [g for g in self.groups.values() if g.partition == partition]
        ids = {g.group_id for g in dropped}
        for group in dropped:
            for member in group.members.values():
                out.cancel(heartbeat_key(group.group_id, member.member_id))
                member.join_token = member.sync_token = None
            for mid in group.pending_members:
                out.cancel(pending_member_key(group.group_id, mid))
            out.cancel(join_key(group.group_id))
            if not group.is_(S.DEAD):
                group.transition_to(S.DEAD, group.state_timestamp_ms or 0)
            del self.groups[group.group_id]
        # Parked commits and deletions are answered when their append completes.
        for token, (kind, gid) in list(self._parked.items()):
            if gid in ids and kind in ("join", "sync"):
                out.reply(token, _error_response(kind, errors.NotCoordinator))



def _committed(v: OffsetValue, record_offset: int) -> CommittedOffset:
    return CommittedOffset(offset=v.offset, leader_epoch=v.leader_epoch, metadata=v.metadata,
                           commit_timestamp_ms=v.commit_timestamp,
                           expire_timestamp_ms=v.expire_timestamp, record_offset=record_offset)


def _error_response(kind: str, error) -> Any:
    return JoinResult(error=error) if kind == "join" else SyncResult(error=error)
