"""Committed offsets: OffsetCommit, OffsetFetch, OffsetDelete, DeleteGroups, expiry, and the
removal of offsets of deleted topics.

Part of :class:`~kafkalite.coordinator.machine.GroupCoordinator` (a mixin over its state:
``groups``, ``owned``, ``config``); pure like the rest of the machine. Offsets enter the cache
only once their records are in the log: a commit parks until ``append_completed`` hands its
:class:`_StoreOffsets` back.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from typing import Any

import attrs

from kafkalite import errors
from kafkalite.coordinator.effects import Effects, join_key, map_append_error
from kafkalite.coordinator.group import CommittedOffset, Group
from kafkalite.coordinator.group_state import GroupState
from kafkalite.coordinator.offsets_topic import (
    GroupMetadataKey, OffsetKey, encode_key, encode_offset_commit)
from kafkalite.coordinator.results import (
    ErrorType, FetchedOffset, OffsetCommitEntry, OffsetDeleteResult, OffsetFetchResult, Result)
from kafkalite.model import TopicPartition

__all__ = ["OffsetsMixin"]

log = logging.getLogger(__name__)   # kafka.coordinator.group.GroupCoordinator in the broker's logs

S = GroupState


@attrs.frozen
class _StoreOffsets:
    group: Group
    load_epoch: int
    token: int
    offsets: Mapping[TopicPartition, CommittedOffset]
    results: Mapping[TopicPartition, ErrorType]
    producer_id: int | None = None  # a transactional commit: pending until its marker


@attrs.frozen
class _Multi:
    """One part of a request whose records went to several partitions (DeleteGroups)."""

    token: int


@attrs.define
class _MultiState:
    remaining: int
    response: Any


class OffsetsMixin:
    """Offset and group-deletion requests of :class:`GroupCoordinator`."""

    # -- OffsetCommit --------------------------------------------------------------------

    def commit_offsets(self, group_id: str, generation_id: int, member_id: str,
                       offsets: Mapping[TopicPartition, OffsetCommitEntry], *,
                       group_instance_id: str | None = None, now_ms: int) -> Result:
        """OffsetCommit v1+: per-partition errors (a dict) now, or parked until the records
        are committed. ``generation_id`` -1 with an empty member id is a "simple" commit by a
        consumer that does not use group management: accepted while the group is Empty."""
        out = Effects(self)
        error = self.coordinator_error(group_id, allow_empty_id=True)
        group = self.groups.get(group_id) if error is None else None
        if error is None:
            if group is None:
                if generation_id < 0:
                    group = self._get_or_create(group_id)
                else:
                    error = errors.IllegalGeneration
        if error is None:
            if group.is_(S.DEAD):
                error = errors.CoordinatorNotAvailable
            elif group.is_static_member_fenced(member_id, group_instance_id):
                error = errors.FencedInstanceId
            elif generation_id < 0 and group.is_(S.EMPTY):
                pass
            elif group.is_(S.COMPLETING_REBALANCE):
                error = errors.RebalanceInProgress
            elif not group.has(member_id):
                error = errors.UnknownMemberId
            elif generation_id != group.generation_id:
                error = errors.IllegalGeneration
            else:
                self._schedule_heartbeat(out, group, group.members[member_id], now_ms)
        if error is not None:
            out.respond({tp: error for tp in offsets})
            return out.result()
        self._store_offsets(out, group, offsets, now_ms)
        return out.result()

    def _store_offsets(self, out: Effects, group: Group,
                       offsets: Mapping[TopicPartition, OffsetCommitEntry], now_ms: int, *,
                       producer: tuple[int, int] | None = None) -> None:
        """Append the commit records (as ``producer``'s transactional batch when given) and
        park the request until they are written."""
        results: dict[TopicPartition, ErrorType] = {}
        accepted: dict[TopicPartition, CommittedOffset] = {}
        for tp, e in offsets.items():
            metadata = e.metadata or ""
            if len(metadata) > self.config.offset_metadata_max_bytes:
                results[tp] = errors.OffsetMetadataTooLarge
                continue
            ts = e.commit_timestamp_ms if e.commit_timestamp_ms >= 0 else now_ms
            accepted[tp] = CommittedOffset(
                offset=e.offset, leader_epoch=e.leader_epoch, metadata=metadata,
                commit_timestamp_ms=ts,
                expire_timestamp_ms=ts + e.retention_ms if e.retention_ms >= 0 else None)
        if not accepted:
            out.respond(results)
            return
        records = []
        for tp, c in accepted.items():
            if producer is None:
                group.add_pending_commit(tp)
            records.append((group.offset_key(tp), encode_offset_commit(
                c.offset, c.leader_epoch, c.metadata, c.commit_timestamp_ms,
                c.expire_timestamp_ms)))
        token = out.park_token("commit" if producer is None else "txn-commit", group.group_id)
        out.append(group.partition, records,
                   _StoreOffsets(group, self._load_epoch(group), token, accepted, results,
                                 None if producer is None else producer[0]),
                   producer=producer)

    def _offsets_stored(self, out: Effects, c: _StoreOffsets, error, base_offset: int) -> None:
        results = dict(c.results)
        owned = self._still_owned(c.group, c.load_epoch)
        mapped = map_append_error(error, for_group=False)
        if not owned and mapped is None:
            mapped = errors.NotCoordinator
        for i, (tp, committed) in enumerate(c.offsets.items()):
            results[tp] = mapped
            if not owned:
                continue
            if c.producer_id is None:
                c.group.remove_pending_commit(tp)
            if mapped is None and not c.group.is_(S.DEAD):
                committed.record_offset = base_offset + i
                if c.producer_id is None:
                    c.group.on_offset_commit_append(tp, committed)
                else:
                    c.group.pending_txn_offsets.setdefault(c.producer_id, {})[tp] = committed
        out.reply(c.token, results)

    # -- TxnOffsetCommit (KIP-98, KIP-447) ------------------------------------------------

    def txn_commit_offsets(self, group_id: str, producer_id: int, producer_epoch: int,
                           offsets: Mapping[TopicPartition, OffsetCommitEntry], *,
                           generation_id: int = -1, member_id: str = "",
                           group_instance_id: str | None = None, now_ms: int) -> Result:
        """TxnOffsetCommit: store offsets as part of a producer's transaction.

        The records go to the log as the producer's transactional batch; once written the
        offsets wait in ``pending_txn_offsets`` and count only when the COMMIT marker arrives
        (:meth:`complete_transaction`). Generation and member are enforced only when given
        (v3+, KIP-447); a missing group is created, as Kafka does.
        """
        out = Effects(self)
        error = self.coordinator_error(group_id, allow_empty_id=True)
        group = None
        if error is None:
            group = self.groups.get(group_id) or self._get_or_create(group_id)
            if group.is_(S.DEAD):
                error = errors.CoordinatorNotAvailable
            elif group.is_static_member_fenced(member_id, group_instance_id):
                error = errors.FencedInstanceId
            elif member_id and not group.has(member_id):
                error = errors.UnknownMemberId
            elif generation_id >= 0 and generation_id != group.generation_id:
                error = errors.IllegalGeneration
        if error is not None:
            out.respond({tp: error for tp in offsets})
            return out.result()
        self._store_offsets(out, group, offsets, now_ms, producer=(producer_id, producer_epoch))
        return out.result()

    def complete_transaction(self, producer_id: int, partitions: Iterable[int], *,
                                committed: bool) -> None:
        """A COMMIT or ABORT marker of ``producer_id`` was written to these offsets partitions:
        its pending transactional offsets there become offsets, or are dropped."""
        wanted = set(partitions)
        for group in self.groups.values():
            if group.partition in wanted and producer_id in group.pending_txn_offsets:
                group.complete_txn_offsets(producer_id, committed)

    # -- OffsetFetch ---------------------------------------------------------------------

    def fetch_offsets(self, group_id: str, partitions: Iterable[TopicPartition] | None, *,
                      require_stable: bool = False) -> OffsetFetchResult:
        """OffsetFetch v1+; ``partitions`` None = every committed partition (v2+).
        ``require_stable`` (v7, KIP-447): a partition with a commit in flight or in an open
        transaction answers UNSTABLE_OFFSET_COMMIT instead of its offset."""
        error = self.coordinator_error(group_id, allow_empty_id=True)
        if error is not None:
            return OffsetFetchResult(error=error)
        group = self.groups.get(group_id)
        stored = group.offsets if group is not None and not group.is_(S.DEAD) else {}
        if partitions is None:
            wanted = sorted(stored)
        else:
            wanted = list(partitions)
        out = {}
        for tp in wanted:
            c = stored.get(tp)
            if require_stable and group is not None and group.has_pending_commit(tp):
                out[tp] = FetchedOffset(error=errors.UnstableOffsetCommit)
            else:
                out[tp] = FetchedOffset() if c is None else FetchedOffset(
                    offset=c.offset, leader_epoch=c.leader_epoch, metadata=c.metadata)
        return OffsetFetchResult(offsets=out)

    # -- DeleteGroups / OffsetDelete / expiry --------------------------------------------

    def delete_groups(self, group_ids: Iterable[str], *, now_ms: int) -> Result:
        """DeleteGroups: Empty groups become Dead; their offsets and metadata get tombstones.
        The answer (group id -> error) waits until the tombstones are written."""
        out = Effects(self)
        results: dict[str, ErrorType] = {}
        doomed: list[Group] = []
        for gid in group_ids:
            error = self.coordinator_error(gid, allow_empty_id=True)
            group = self.groups.get(gid) if error is None else None
            if error is None:
                if group is None or group.is_(S.DEAD):
                    error = errors.GroupIdNotFound
                elif not group.is_(S.EMPTY):
                    error = errors.NonEmptyGroup
                else:
                    doomed.append(group)
            results[gid] = error
        tombstones = self._remove_groups(out, doomed, now_ms)
        if not tombstones:
            out.respond(results)
            return out.result()
        token = out.park_token("delete-groups", "")
        self._multi[token] = _MultiState(len(tombstones), results)
        for partition, records in tombstones.items():
            out.append(partition, records, _Multi(token))
        return out.result()

    def _remove_groups(self, out: Effects, groups: list[Group], now_ms: int
                       ) -> dict[int, list[tuple[bytes, None]]]:
        """Mark Dead, drop from the cache, return tombstones per partition."""
        tombstones: dict[int, list[tuple[bytes, None]]] = {}
        for group in groups:
            recs = tombstones.setdefault(group.partition, [])
            for tp in group.offsets:
                recs.append((encode_key(OffsetKey(group.group_id, tp.topic, tp.partition)),
                             None))
            recs.append((encode_key(GroupMetadataKey(group.group_id)), None))
            group.offsets.clear()
            group.transition_to(S.DEAD, now_ms)
            out.cancel(join_key(group.group_id))
            del self.groups[group.group_id]
        return tombstones

    def delete_offsets(self, group_id: str, partitions: Iterable[TopicPartition], *,
                       now_ms: int) -> Result:
        """OffsetDelete: remove committed offsets of partitions the group does not consume."""
        out = Effects(self)
        wanted = list(partitions)
        error = self.coordinator_error(group_id)
        group = self.groups.get(group_id) if error is None else None
        if error is None and (group is None or group.is_(S.DEAD)):
            error = errors.GroupIdNotFound
        if error is not None:
            out.respond(OffsetDeleteResult(error=error))
            return out.result()
        results: dict[TopicPartition, ErrorType] = {}
        if group.is_(S.EMPTY):
            eligible = wanted
        elif group.protocol_type == "consumer":
            subscribed = group.subscribed_topics() or set()
            eligible = [tp for tp in wanted if tp.topic not in subscribed]
            for tp in wanted:
                if tp.topic in subscribed:
                    results[tp] = errors.GroupSubscribedToTopic
        else:
            out.respond(OffsetDeleteResult(error=errors.NonEmptyGroup))
            return out.result()
        records = []
        for tp in eligible:
            results[tp] = None
            if group.offsets.pop(tp, None) is not None:
                records.append((encode_key(OffsetKey(group_id, tp.topic, tp.partition)), None))
        if group.is_(S.EMPTY) and not group.has_offsets():
            records += self._remove_groups(out, [group], now_ms).get(group.partition, [])
        response = OffsetDeleteResult(partitions=results)
        if not records:
            out.respond(response)
            return out.result()
        token = out.park_token("delete-offsets", group_id)
        self._multi[token] = _MultiState(1, response)
        out.append(group.partition, records, _Multi(token))
        return out.result()

    def handle_deleted_topics(self, topics: Iterable[str], *, now_ms: int) -> Result:
        """Topics were deleted (Kafka's ``GroupCoordinator.handleDeletedPartitions``, run when
        an UpdateMetadata removes partitions): drop every group's committed offsets of their
        partitions, with tombstones, so a group never resumes a re-created topic at the old
        position and tools stop listing the partitions. As in Kafka's
        ``cleanupGroupMetadata``, a group then Empty without offsets is deleted."""
        out = Effects(self)
        deleted = set(topics)
        tombstones: dict[int, list] = {}
        dead: list[Group] = []
        removed = 0
        for group in list(self.groups.values()):
            if group.partition not in self.owned or group.is_(S.DEAD):
                continue
            for tp in [tp for tp in group.offsets if tp.topic in deleted]:
                del group.offsets[tp]
                removed += 1
                tombstones.setdefault(group.partition, []).append(
                    (encode_key(OffsetKey(group.group_id, tp.topic, tp.partition)), None))
            if group.is_(S.EMPTY) and not group.has_offsets():
                dead.append(group)
        for partition, recs in self._remove_groups(out, dead, now_ms).items():
            tombstones.setdefault(partition, []).extend(recs)
        for partition, recs in tombstones.items():
            out.append(partition, recs)
        if removed:
            log.info("Removed %d offsets associated with deleted partitions: %s.", removed,
                     ", ".join(sorted(deleted)))
        return out.result()

    def _expire_offsets(self, out: Effects, now_ms: int) -> None:
        """offsets.retention.minutes (Kafka 2.1+, KIP-211): an Empty group's offsets expire a
        retention period after it became Empty; a standalone consumer's a retention period
        after each commit; offsets of topics a live consumer group no longer subscribes to a
        retention period after their commit. Groups left Empty without offsets are deleted."""
        retention = self.config.offsets_retention_ms
        tombstones: dict[int, list] = {}
        dead: list[Group] = []
        for group in list(self.groups.values()):
            if group.partition not in self.owned or group.is_(S.DEAD):
                continue
            subscribed: set[str] = set()
            if group.protocol_type is not None and group.is_(S.EMPTY):
                def base(c, g=group):
                    return g.state_timestamp_ms if g.state_timestamp_ms is not None \
                        else c.commit_timestamp_ms
            elif group.protocol_type == "consumer" and group.subscribed_topics() is not None:
                subscribed = group.subscribed_topics() or set()

                def base(c):
                    return c.commit_timestamp_ms
            elif group.protocol_type is None:
                def base(c):
                    return c.commit_timestamp_ms
            else:
                base = None
            if base is not None:
                for tp, c in list(group.offsets.items()):
                    if tp.topic in subscribed or group.has_pending_commit(tp):
                        continue
                    expired = (now_ms >= c.expire_timestamp_ms
                               if c.expire_timestamp_ms is not None
                               else now_ms - base(c) >= retention)
                    if expired:
                        del group.offsets[tp]
                        tombstones.setdefault(group.partition, []).append(
                            (encode_key(OffsetKey(group.group_id, tp.topic, tp.partition)), None))
            if group.is_(S.EMPTY) and not group.has_offsets():
                dead.append(group)
        for partition, recs in self._remove_groups(out, dead, now_ms).items():
            tombstones.setdefault(partition, []).extend(recs)
        for partition, recs in tombstones.items():
            out.append(partition, recs)

    def _offsets_append_completed(self, out: Effects, c: Any, error: ErrorType,
                                  base_offset: int) -> bool:
        """Finish an append of this part; False if ``c`` is not one of ours."""
        if isinstance(c, _StoreOffsets):
            self._offsets_stored(out, c, error, base_offset)
        elif isinstance(c, _Multi):
            state = self._multi.get(c.token)
            if state is not None:
                state.remaining -= 1
                if state.remaining <= 0:
                    del self._multi[c.token]
                    out.reply(c.token, state.response)
        else:
            return False
        return True
