"""The consumer: positions per partition, offset lookups, fetches from leaders, groups.

A consumer is a set of assigned partitions, each with a *position* — the next offset to return
— or a pending reset to "earliest"/"latest" that ListOffsets (v1+) turns into a position. The
partitions come from :meth:`Consumer.assign`, from :meth:`Consumer.subscribe` without a group
(every partition of the topics), or — with a ``group_id`` — from the group's leader
(``group.py``: FindCoordinator, JoinGroup, SyncGroup, Heartbeat, LeaveGroup). :meth:`poll`:

1. with a group: finds the coordinator, (re)joins when needed — revoking and assigning
   partitions per the rebalance protocol (eager: give everything back before joining;
   cooperative, KIP-429: give back only what the leader moved, then rejoin) — heartbeats when
   no background task does, and auto-commits every ``auto_commit_interval_ms``;
2. without a group, resolves the subscription (all partitions of the subscribed topics or of
   the topics matching a pattern); makes sure every assigned partition has a known leader;
3. positions: committed offsets of the group (OffsetFetch) for newly assigned partitions, else
   pending resets, one ListOffsets request per leader;
4. sends one Fetch (v4..12) per leader concurrently for partitions with nothing buffered, in
   rotating order so a partition late in the list is not starved by the response byte limit;
   in a KIP-227 fetch session per leader connection (``fetch_session.py``): after a full
   fetch, only partitions whose position changed, new ones and forgotten ones are sent, and
   the leader answers only partitions with news; a new connection, a failed fetch or a
   session error starts over with a full fetch (closing the old session), and a broker
   without sessions gets full fetches;
5. decodes each partition (``completed_fetch.py``) into a per-partition buffer and returns at
   most ``max_poll_records`` records; positions advance as records are returned, so what is
   committed is exactly what the application was given.

Errors per partition: OFFSET_OUT_OF_RANGE resets per ``auto_offset_reset`` ("none" raises);
leadership errors (NOT_LEADER_OR_FOLLOWER, UNKNOWN_TOPIC_OR_PARTITION, FENCED_LEADER_EPOCH, ...)
and lost connections mark metadata stale and the next round refreshes it. Those transient
failures are logged and retried inside ``poll`` — but only once the consumer has worked at least
once, and never for longer than the cluster's ``retry_timeout_ms`` in a row; before that, and
for anything non-retriable, the error is raised so a tool can report it.

Group consumers heartbeat from ``poll`` (which returns at least every ``fetch_max_wait_ms``);
used as ``async with consumer:`` they also heartbeat from a background task, so a slow
application between polls keeps its membership until ``max_poll_interval_ms``. A poll that
has to rebalance returns only once the rebalance is done, whatever its timeout.
"""

from __future__ import annotations

import contextlib
import inspect
import logging
import math
import re
from collections.abc import AsyncIterator, Callable, Iterable, Mapping, Sequence
from typing import Any

import trio

from kafkalite.errors import (
    InvalidGroupId,
    KafkaError,
    LeaderNotAvailable,
    OffsetOutOfRange,
    UnknownTopicOrPartition,
)
from kafkalite.model import TopicPartition
from kafkalite.protocol.api_keys import ApiKey
from kafkalite.protocol.messages.fetch import FetchRequest
from kafkalite.protocol.messages.list_offsets import (
    ListOffsetsPartition,
    ListOffsetsRequest,
    ListOffsetsTopic,
)
from kafkalite.client.assignors import PartitionAssignor, RebalanceProtocol, assignor_for
from kafkalite.client.cluster import Cluster, is_retriable
from kafkalite.client.completed_fetch import ConsumerRecord, aborted_pairs, parse_partition_records
from kafkalite.client.concurrency import gather
from kafkalite.client.errors import ClientError, KafkaTimeoutError, error_for, raise_for_code
from kafkalite.client.fetch_session import FetchSessionHandler, PartitionState
from kafkalite.client.group import (
    ConsumerCoordinator,
    NoOffsetForPartition,
    OffsetAndMetadata,
)

__all__ = ["Consumer", "ConsumerRecord", "OffsetAndMetadata", "EARLIEST", "LATEST",
           "list_offsets"]

log = logging.getLogger(__name__)

EARLIEST = -2  # ListOffsets timestamp for the log start offset
LATEST = -1  # ... for the high watermark (last stable offset under read_committed)
_RESET_TIMESTAMPS = {"earliest": EARLIEST, "latest": LATEST}
_ISOLATION_LEVELS = {"read_uncommitted": 0, "read_committed": 1}
_PATTERN_REFRESH_S = 5.0
_NO_GROUP = ("To use the group management or offset commit APIs, you must provide a valid "
             "group.id in the consumer configuration.")


def _offset_spec(offset: int | str) -> int | str:
    if isinstance(offset, str):
        text = offset.strip().lower()
        if text in _RESET_TIMESTAMPS:
            return text
        raise ValueError(f"offset must be a non-negative integer, 'earliest' or 'latest', "
                         f"not {offset!r}")
    if isinstance(offset, bool) or not isinstance(offset, int) or offset < 0:
        raise ValueError(f"offset must be a non-negative integer, 'earliest' or 'latest', "
                         f"not {offset!r}")
    return offset


class Consumer:
    """Fetches records of assigned or subscribed partitions, alone or as a group member.

    Args:
        cluster: metadata and connections (not closed by the consumer).
        group_id: the consumer group; with it, :meth:`subscribe` lets the group assign
            partitions and offsets are committed to (and start from) the group's.
        auto_offset_reset: where to start when there is no valid position: "earliest",
            "latest" or "none" (raise OffsetOutOfRange / NoOffsetForPartition).
        isolation_level: "read_uncommitted" (default) or "read_committed".
        fetch_max_wait_ms, fetch_min_bytes, fetch_max_bytes, max_partition_fetch_bytes: the
            Fetch request's limits (Kafka's consumer configs of the same names).
        check_crcs: verify batch CRCs.
        allow_auto_create_topics: let Metadata requests for subscribed topics create them.
        max_poll_records: most records one :meth:`poll` returns (the rest stay buffered).
        enable_auto_commit, auto_commit_interval_ms: commit the positions periodically from
            :meth:`poll`, before every rebalance and on close (only with a ``group_id``).
        partition_assignment_strategy: assignor names in order of preference ("range",
            "roundrobin", "sticky", "cooperative-sticky" or Kafka's class names), as a list or a
            comma-separated string.
        session_timeout_ms, heartbeat_interval_ms, max_poll_interval_ms: group timing.
        group_instance_id: static membership (KIP-345).

    Raises:
        ValueError: an invalid ``auto_offset_reset``, ``isolation_level`` or strategy.
    """

    def __init__(self, cluster: Cluster, *, group_id: str | None = None,
                 auto_offset_reset: str = "latest", isolation_level: str = "read_uncommitted",
                 fetch_max_wait_ms: int = 500, fetch_min_bytes: int = 1,
                 fetch_max_bytes: int = 52_428_800, max_partition_fetch_bytes: int = 1_048_576,
                 check_crcs: bool = True, allow_auto_create_topics: bool = True,
                 max_poll_records: int = 500, enable_auto_commit: bool = True,
                 auto_commit_interval_ms: int = 5_000,
                 partition_assignment_strategy: str | Sequence[str] = ("range",),
                 session_timeout_ms: int = 10_000, heartbeat_interval_ms: int = 3_000,
                 max_poll_interval_ms: int = 300_000, group_instance_id: str | None = None):
        if auto_offset_reset not in ("earliest", "latest", "none"):
            raise ValueError(f"auto_offset_reset must be 'earliest', 'latest' or 'none', not "
                             f"{auto_offset_reset!r}")
        if isolation_level not in _ISOLATION_LEVELS:
            raise ValueError(f"isolation_level must be 'read_uncommitted' or 'read_committed', "
                             f"not {isolation_level!r}")
        if max_poll_records < 1:
            raise ValueError("max_poll_records must be at least 1")
        if group_id is not None and not group_id.strip():
            raise ValueError("group_id must not be empty")
        self.cluster = cluster
        self.group_id = group_id
        self.auto_offset_reset = auto_offset_reset
        self.isolation_level = _ISOLATION_LEVELS[isolation_level]
        self.fetch_max_wait_ms = fetch_max_wait_ms
        self.fetch_min_bytes = fetch_min_bytes
        self.fetch_max_bytes = fetch_max_bytes
        self.max_partition_fetch_bytes = max_partition_fetch_bytes
        self.check_crcs = check_crcs
        self.allow_auto_create_topics = allow_auto_create_topics
        self.max_poll_records = max_poll_records
        self.enable_auto_commit = enable_auto_commit and group_id is not None
        self.auto_commit_interval_ms = auto_commit_interval_ms
        self._assigned: list[TopicPartition] = []
        self._positions: dict[TopicPartition, int] = {}
        self._pending_reset: dict[TopicPartition, int] = {}
        self._pending_committed: set[TopicPartition] = set()
        self._buffers: dict[TopicPartition, list[ConsumerRecord]] = {}
        self._buffer_next: dict[TopicPartition, int] = {}
        self._high_watermarks: dict[TopicPartition, int] = {}
        self._topics: list[str] | None = None
        self._pattern: re.Pattern[str] | None = None
        self._subscription_checked_at = -math.inf
        self._verified_topics: set[str] = set()
        self._metadata_stale = False
        self._initialized = False
        self._failing_since: float | None = None
        self._rotation = 0
        # leader -> (the connection, the fetch session); a new connection: a new session
        self._fetch_sessions: dict[int, tuple[Any, FetchSessionHandler]] = {}
        self._coordinator: ConsumerCoordinator | None = None
        self._group_subscribed = False
        self._group_topics: list[str] = []
        self._listener: Any = None
        self._next_auto_commit = math.inf
        self._metadata_checked_at = -math.inf
        self._pending_async: list[tuple[dict[TopicPartition, OffsetAndMetadata], Any]] = []
        self._commit_lock = trio.Lock()
        self._nursery: trio.Nursery | None = None
        self._nursery_manager: Any = None
        self._closed = False
        if group_id is not None:
            names = (partition_assignment_strategy.split(",")
                     if isinstance(partition_assignment_strategy, str)
                     else list(partition_assignment_strategy))
            assignors: list[PartitionAssignor] = [assignor_for(n) for n in names if n.strip()]
            self._coordinator = ConsumerCoordinator(
                cluster, group_id, assignors=assignors, session_timeout_ms=session_timeout_ms,
                heartbeat_interval_ms=heartbeat_interval_ms,
                max_poll_interval_ms=max_poll_interval_ms, group_instance_id=group_instance_id,
                require_stable=self.isolation_level == 1)

    # --- lifecycle -----------------------------------------------------------------------------

    async def __aenter__(self) -> Consumer:
        """With a group: heartbeat from a background task until the block ends."""
        if self._coordinator is not None and self._nursery is None:
            self._nursery_manager = trio.open_nursery()
            self._nursery = await self._nursery_manager.__aenter__()
            await self._nursery.start(self._coordinator.run)
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        try:
            with trio.CancelScope(shield=True):
                await self.aclose()
        finally:
            if self._nursery is not None:
                nursery, manager = self._nursery, self._nursery_manager
                self._nursery = self._nursery_manager = None
                nursery.cancel_scope.cancel()
                # The background tasks never raise; exit cleanly so the body's own exception
                # (if any) propagates unwrapped instead of inside an ExceptionGroup.
                await manager.__aexit__(None, None, None)

    async def aclose(self) -> None:
        """Leave: finish pending async commits, commit the positions (auto commit), hand the
        partitions back (listener) and send LeaveGroup; then forget the assignment. Bounded by
        the cluster's retry budget (at most 30 s). The cluster stays open (it is the caller's).
        """
        if self._closed:
            return
        self._closed = True
        coordinator = self._coordinator
        try:
            if coordinator is not None:
                with trio.move_on_after(min(30.0, self.cluster.retry_timeout_ms / 1000)):
                    await self._flush_async_commits()
                    if self.enable_auto_commit and self._can_commit():
                        await self._commit_quietly(self._consumed())
                    if self._group_subscribed and self._assigned:
                        await self._call_listener("on_partitions_revoked", list(self._assigned))
                    if coordinator.membership.member_id:
                        await coordinator.leave_group("the consumer is being closed")
            with trio.move_on_after(min(5.0, self.cluster.retry_timeout_ms / 1000)):
                await self._close_fetch_sessions()
        finally:
            if coordinator is not None:
                await coordinator.aclose()
            self._assigned = []
            self._positions.clear()
            self._pending_reset.clear()
            self._pending_committed.clear()
            self._buffers.clear()
            self._buffer_next.clear()

    async def _close_fetch_sessions(self) -> None:
        """Close each broker's fetch session (Kafka's consumer does so on close): a request
        of the FINAL epoch on the connection the session lives on, if it is still open.
        Failures are ignored: an unclosed session is evicted by the broker in time."""
        sessions, self._fetch_sessions = self._fetch_sessions, {}
        for connection, session in sessions.values():
            close = session.close_request()
            if close is None or connection.closed:
                continue
            try:
                await self.cluster.request(connection, FetchRequest(
                    replica_id=-1, max_wait_ms=0, min_bytes=0, max_bytes=self.fetch_max_bytes,
                    isolation_level=self.isolation_level, session_id=close.session_id,
                    session_epoch=close.session_epoch, topics=(), forgotten_topics_data=()),
                    connection.pick_version(ApiKey.FETCH))
            except (KafkaError, ClientError, OSError) as e:
                log.debug("Closing the fetch session %d of broker %d failed: %s",
                          close.session_id, session.node_id, e)

    # --- assignment ----------------------------------------------------------------------------

    def assign(self, partitions: Iterable[tuple]) -> None:
        """Consume exactly these partitions: ``(topic, partition)`` (or a TopicPartition) or
        ``(topic, partition, offset)`` where offset is an int, "earliest" or "latest". Without an offset a group
        consumer starts from the group's committed offset (else ``auto_offset_reset``), any
        other from ``auto_offset_reset``. Replaces any previous assignment or subscription.

        Raises:
            ValueError: a bad offset.
        """
        self._leave_subscription()
        self._topics = None
        self._pattern = None
        self._assigned = []
        self._clear_positions()
        for item in partitions:
            if isinstance(item, TopicPartition):
                item = (item.topic, item.partition)
            topic, partition = item[0], int(item[1])
            tp = TopicPartition(topic, partition)
            if tp not in self._assigned:
                self._assigned.append(tp)
            if len(item) > 2:
                self.seek(topic, partition, item[2])
            elif self._coordinator is not None:
                self._pending_committed.add(tp)
            else:
                self.seek(topic, partition, self._default_reset())

    def subscribe(self, topics: Iterable[str] | None = None, *,
                  pattern: str | re.Pattern[str] | None = None, listener: Any = None) -> None:
        """Consume every partition of ``topics`` (or of the topics matching ``pattern``,
        internal topics excluded) — with a group, the share the group's leader assigns.

        Args:
            listener: optional object with any of ``on_partitions_revoked(partitions)``,
                ``on_partitions_assigned(partitions)``, ``on_partitions_lost(partitions)``
                (plain or async functions), called around rebalances (Kafka's
                ConsumerRebalanceListener; "lost" falls back to "revoked").
        """
        if (topics is None) == (pattern is None):
            raise ValueError("subscribe() takes either topics or pattern")
        new_topics = list(dict.fromkeys(topics)) if topics is not None else None
        new_pattern = re.compile(pattern) if isinstance(pattern, str) else pattern
        self._listener = listener
        if self._coordinator is not None:
            if not self._group_subscribed:
                self._assigned = []
                self._clear_positions()
            elif (new_topics, new_pattern) != (self._topics, self._pattern):
                self._coordinator.membership.request_rejoin("the subscription changed")
            self._group_subscribed = True
        else:
            self._assigned = []
            self._clear_positions()
        self._topics = new_topics
        self._pattern = new_pattern
        self._subscription_checked_at = -math.inf

    def unsubscribe(self) -> None:
        """Stop consuming (a group member leaves the group at the next poll or close)."""
        self._leave_subscription()
        self._topics = None
        self._pattern = None
        self._assigned = []
        self._clear_positions()

    def _leave_subscription(self) -> None:
        # the next poll (or close) sends LeaveGroup
        self._group_subscribed = False

    def _clear_positions(self) -> None:
        self._positions.clear()
        self._pending_reset.clear()
        self._pending_committed.clear()
        self._buffers.clear()
        self._buffer_next.clear()

    def assignment(self) -> list[TopicPartition]:
        """The partitions currently consumed (empty until a subscription is resolved)."""
        return list(self._assigned)

    def seek(self, topic: str, partition: int, offset: int | str) -> None:
        """Set the next offset to fetch: an int, "earliest" or "latest"."""
        tp = TopicPartition(topic, partition)
        spec = _offset_spec(offset)
        self._positions.pop(tp, None)
        self._pending_reset.pop(tp, None)
        self._pending_committed.discard(tp)
        self._buffers.pop(tp, None)
        self._buffer_next.pop(tp, None)
        if isinstance(spec, str):
            self._pending_reset[tp] = _RESET_TIMESTAMPS[spec]
        else:
            self._positions[tp] = spec

    def position(self, topic: str, partition: int) -> int | None:
        """The offset of the next record to return, or None while unknown."""
        return self._positions.get(TopicPartition(topic, partition))

    def high_watermark(self, topic: str, partition: int) -> int | None:
        """The high watermark from the last fetch of that partition."""
        return self._high_watermarks.get(TopicPartition(topic, partition))

    @property
    def member_id(self) -> str | None:
        """This member's id in the group (None without a group, "" before joining)."""
        return None if self._coordinator is None else self._coordinator.membership.member_id

    @property
    def generation_id(self) -> int | None:
        return None if self._coordinator is None else self._coordinator.membership.generation_id

    def _default_reset(self) -> str:
        return "latest" if self.auto_offset_reset == "none" else self.auto_offset_reset

    # --- offsets -------------------------------------------------------------------------------

    def _require_group(self) -> ConsumerCoordinator:
        if self._coordinator is None:
            raise InvalidGroupId(_NO_GROUP)
        return self._coordinator

    def _consumed(self) -> dict[TopicPartition, OffsetAndMetadata]:
        """Positions of the assigned partitions: what the application has been given."""
        return {tp: OffsetAndMetadata(self._positions[tp]) for tp in self._assigned
                if tp in self._positions}

    def _can_commit(self) -> bool:
        if self._coordinator is None:
            return False
        return not self._group_subscribed or self._coordinator.membership.stable

    async def commit(self, offsets: Mapping[Any, int | OffsetAndMetadata] | None = None
                     ) -> None:
        """Commit ``offsets`` (``(topic, partition)`` -> next offset to consume), by default
        the current positions, and wait for the answer (Kafka's commitSync).

        Raises:
            InvalidGroupId: the consumer has no group.
            CommitFailed: the group rebalanced and this member's generation is gone.
            RebalanceInProgress: the group is rebalancing; poll, then retry.
            KafkaTimeoutError: retriable failures for longer than the retry budget.
        """
        coordinator = self._require_group()
        wanted = self._consumed() if offsets is None else _as_offsets(offsets)
        async with self._commit_lock:
            await coordinator.commit_sync(wanted, group_managed=self._group_subscribed)

    def commit_async(self, offsets: Mapping[Any, int | OffsetAndMetadata] | None = None,
                     callback: Callable[[dict, BaseException | None], Any] | None = None
                     ) -> None:
        """Commit without waiting (Kafka's commitAsync): sent by the background task, or by
        the next :meth:`poll`/:meth:`aclose`. ``callback(offsets, error_or_None)`` reports the
        outcome; failures are not retried.

        Raises:
            InvalidGroupId: the consumer has no group.
        """
        self._require_group()
        wanted = self._consumed() if offsets is None else _as_offsets(offsets)
        if self._nursery is not None:
            self._nursery.start_soon(self._commit_async_now, wanted, callback)
        else:
            self._pending_async.append((wanted, callback))

    async def committed(self, partitions: Iterable[Any]
                        ) -> dict[TopicPartition, OffsetAndMetadata | None]:
        """The group's committed offsets (None where nothing is committed).

        Raises:
            InvalidGroupId: the consumer has no group.
        """
        coordinator = self._require_group()
        return await coordinator.fetch_committed(
            x if isinstance(x, TopicPartition) else TopicPartition(x[0], int(x[1]))
            for x in partitions)

    async def _commit_async_now(self, offsets: dict[TopicPartition, OffsetAndMetadata],
                                callback: Any) -> None:
        error: BaseException | None = None
        async with self._commit_lock:
            try:
                await self._coordinator.commit(offsets, group_managed=self._group_subscribed)
            except (KafkaError, ClientError) as exc:
                error = exc
                log.warning("asynchronous commit of group %s failed: %s", self.group_id, exc)
        if callback is not None:
            await _maybe_await(callback(offsets, error))

    async def _flush_async_commits(self) -> None:
        pending, self._pending_async = self._pending_async, []
        for offsets, callback in pending:
            await self._commit_async_now(offsets, callback)

    async def _commit_quietly(self, offsets: dict[TopicPartition, OffsetAndMetadata]) -> None:
        """Auto-commit before a rebalance or on close: failures are logged, not raised."""
        if not offsets or self._coordinator is None:
            return
        try:
            async with self._commit_lock:
                await self._coordinator.commit_sync(offsets,
                                                    group_managed=self._group_subscribed)
        except (KafkaError, ClientError) as exc:
            log.warning("auto-commit of offsets for group %s failed: %s", self.group_id, exc)

    # --- polling -------------------------------------------------------------------------------

    async def poll(self, timeout_ms: float | None = None) -> list[ConsumerRecord]:
        """Fetch until some records arrive or ``timeout_ms`` passes (None: wait for records).

        Returns:
            At most ``max_poll_records`` records in fetch order (per partition in offset
            order); [] on timeout.

        Raises:
            OffsetOutOfRange: out of range with ``auto_offset_reset="none"``.
            NoOffsetForPartition: nothing committed with ``auto_offset_reset="none"``.
            KafkaTimeoutError: metadata, leaders or the coordinator unavailable for
                ``retry_timeout_ms``.
            ConnectionFailed: no broker reachable before the consumer ever worked.
            KafkaError: a non-retriable error (e.g. from the group coordinator).
        """
        deadline = math.inf if timeout_ms is None else trio.current_time() + timeout_ms / 1000
        while True:
            remaining_ms = max(0.0, (deadline - trio.current_time()) * 1000)
            try:
                await self._prepare()
                records = self._drain()
                if not records:
                    await self._fetch_once(min(self.fetch_max_wait_ms, remaining_ms))
                    records = self._drain()
                self._failing_since = None
                self._initialized = True
            except (KafkaError, ClientError) as exc:
                self._handle_transient(exc)
                records = []
                await trio.sleep(min(self.cluster.retry_backoff_ms / 1000,
                                     max(0.0, deadline - trio.current_time())))
            if records or trio.current_time() >= deadline:
                return records

    async def records(self) -> AsyncIterator[ConsumerRecord]:
        """Yield records forever (``async for record in consumer.records(): ...``)."""
        while True:
            for record in await self.poll(None):
                yield record

    def _handle_transient(self, exc: BaseException) -> None:
        if not is_retriable(exc) or not self._initialized:
            raise exc
        now = trio.current_time()
        if self._failing_since is None:
            self._failing_since = now
        elif now - self._failing_since > self.cluster.retry_timeout_ms / 1000:
            raise KafkaTimeoutError(
                f"consumer made no progress for {self.cluster.retry_timeout_ms} ms",
                last_error=exc, retriable=False) from exc
        self._metadata_stale = True
        log.warning("retrying after a transient error: %s", exc)

    def _drain(self) -> list[ConsumerRecord]:
        """Hand out up to ``max_poll_records`` buffered records, advancing positions."""
        out: list[ConsumerRecord] = []
        for tp in list(self._buffers):
            room = self.max_poll_records - len(out)
            if room <= 0:
                break
            buffered = self._buffers[tp]
            taken = buffered[:room]
            del buffered[:room]
            out.extend(taken)
            if buffered:
                self._positions[tp] = buffered[0].offset
            else:
                del self._buffers[tp]
                self._positions[tp] = self._buffer_next.pop(tp)
        return out

    async def _prepare(self) -> None:
        if self._coordinator is not None:
            await self._group_poll()
        await self._resolve_subscription()
        topics = list(dict.fromkeys(tp.topic for tp in self._assigned))
        unverified = [t for t in topics if t not in self._verified_topics]
        leaderless = [tp for tp in self._assigned
                      if self.cluster.leader_for(tp.topic, tp.partition) is None]
        if self._metadata_stale and topics:
            await self.cluster.refresh_metadata(topics, allow_auto_create=False)
            self._metadata_stale = False
            leaderless = [tp for tp in self._assigned
                          if self.cluster.leader_for(tp.topic, tp.partition) is None]
        if unverified or leaderless:
            wanted = list(dict.fromkeys(unverified + [tp.topic for tp in leaderless]))
            metadata = await self.cluster.wait_for_topics(
                wanted, allow_auto_create=self.allow_auto_create_topics)
            for tp in self._assigned:
                if tp.topic in metadata and tp.partition not in metadata[tp.topic].partitions:
                    raise UnknownTopicOrPartition(
                        f"partition {tp.partition} of topic {tp.topic} does not exist (the topic "
                        f"has {len(metadata[tp.topic].partitions)} partitions)")
            self._verified_topics.update(wanted)
        if self._pending_committed:
            await self._refresh_committed_offsets()
        if self._pending_reset:
            await self._reset_offsets()

    async def _resolve_subscription(self) -> None:
        if self._coordinator is not None or (self._topics is None and self._pattern is None):
            return
        now = trio.current_time()
        if self._topics is not None:
            if self._assigned:
                return
            topics = self._topics
            metadata = await self.cluster.wait_for_topics(
                topics, allow_auto_create=self.allow_auto_create_topics)
        else:
            if now - self._subscription_checked_at < _PATTERN_REFRESH_S:
                return
            topics = await self._matching_topics()
            metadata = await self.cluster.wait_for_topics(topics, allow_auto_create=False)
        self._subscription_checked_at = now
        for topic in topics:
            for partition in metadata[topic].partition_ids():
                tp = TopicPartition(topic, partition)
                if tp not in self._assigned:
                    self._assigned.append(tp)
                    self._pending_reset[tp] = _RESET_TIMESTAMPS[self._default_reset()]

    async def _matching_topics(self) -> list[str]:
        current = await self.cluster.refresh_metadata(None)
        return sorted(t for t, m in current.topics.items()
                      if not m.is_internal and self._pattern.fullmatch(t))

    # --- the group -------------------------------------------------------------------------

    async def _group_poll(self) -> None:
        """Kafka's ConsumerCoordinator.poll: rejoin if needed, heartbeat, auto-commit."""
        coordinator = self._coordinator
        if coordinator.fatal_error is not None:
            error, coordinator.fatal_error = coordinator.fatal_error, None
            raise error
        now = trio.current_time()
        coordinator.heartbeat.polled(now)
        if self._pending_async and self._nursery is None:
            await self._flush_async_commits()
        if not self._group_subscribed:
            if coordinator.membership.member_id:
                await coordinator.leave_group("the consumer unsubscribed")
            await self._maybe_auto_commit(now)
            return
        await self._watch_subscription(now)
        if coordinator.need_rejoin():
            await self._rebalance()
            now = trio.current_time()
        elif not coordinator.heartbeat_task_running:
            await coordinator.maybe_heartbeat()
        await self._maybe_auto_commit(now)

    async def _watch_subscription(self, now: float) -> None:
        """Pattern members rejoin when the matching topics change; the leader rejoins when
        the partition counts it assigned from change (topics created or grown)."""
        if now - self._metadata_checked_at < _PATTERN_REFRESH_S:
            return
        self._metadata_checked_at = now
        coordinator = self._coordinator
        if self._pattern is not None:
            if await self._matching_topics() != self._group_topics:
                coordinator.membership.request_rejoin("the topics matching the pattern changed")
        if coordinator.membership.is_leader and coordinator.assigned_metadata is not None:
            counts = await self._partition_counts(set(coordinator.group_topics), wait=False)
            if counts != coordinator.assigned_metadata:
                coordinator.membership.request_rejoin("the subscribed topics' metadata changed")

    async def _rebalance(self) -> None:
        """Join the group; revoke and assign partitions around it (Kafka's onJoinPrepare /
        onJoinComplete)."""
        coordinator = self._coordinator
        cooperative = coordinator.rebalance_protocol is RebalanceProtocol.COOPERATIVE
        owned = list(self._assigned)
        if owned and coordinator.membership.generation_id < 0:
            # dropped from the group: the partitions may already be someone else's
            await self._call_listener("on_partitions_lost", owned)
            self._set_assignment([])
            owned = []
        elif owned:
            if self.enable_auto_commit and coordinator.membership.stable:
                await self._commit_quietly(self._consumed())
            if not cooperative:
                await self._call_listener("on_partitions_revoked", owned)
                self._set_assignment([])
                owned = []
        if self._pattern is not None:
            self._group_topics = await self._matching_topics()
        else:
            self._group_topics = list(self._topics or ())
        assignment = await coordinator.join_group(self._group_topics, owned,
                                                  self._partition_counts)
        new = list(dict.fromkeys(assignment.partitions))
        if cooperative:
            revoked = [tp for tp in owned if tp not in new]
            added = [tp for tp in new if tp not in owned]
            if revoked:
                await self._call_listener("on_partitions_revoked", revoked)
                coordinator.membership.request_rejoin("partitions were revoked")
            self._set_assignment([tp for tp in owned if tp in new] + added)
            await self._call_listener("on_partitions_assigned", added)
        else:
            self._set_assignment(new)
            await self._call_listener("on_partitions_assigned", new)
        self._next_auto_commit = trio.current_time() + self.auto_commit_interval_ms / 1000
        self._metadata_checked_at = trio.current_time()

    def _set_assignment(self, partitions: list[TopicPartition]) -> None:
        keep = set(partitions)
        for table in (self._positions, self._pending_reset, self._buffers, self._buffer_next):
            for tp in [tp for tp in table if tp not in keep]:
                del table[tp]
        self._pending_committed &= keep
        for tp in partitions:
            if tp not in self._positions and tp not in self._pending_reset:
                self._pending_committed.add(tp)
        self._assigned = list(partitions)

    async def _partition_counts(self, topics: set[str], *, wait: bool = True) -> dict[str, int]:
        """Topic -> partition count for the existing ``topics`` (the leader's input).

        Topics being auto-created (LEADER_NOT_AVAILABLE) are waited for briefly, so a group
        subscribing to a new topic gets it assigned in its first generation.
        """
        if not topics:
            return {}
        metadata = await self.cluster.refresh_metadata(
            sorted(topics), allow_auto_create=self.allow_auto_create_topics and wait)
        creating = [t for t in sorted(topics) if t in metadata.topics
                    and metadata.topics[t].error_code == LeaderNotAvailable.code]
        if creating and wait:
            with trio.move_on_after(min(10.0, self.cluster.retry_timeout_ms / 1000)):
                with contextlib.suppress(KafkaError, ClientError):
                    await self.cluster.wait_for_topics(creating, allow_auto_create=False)
            metadata = self.cluster.metadata
        return {t: len(metadata.topics[t].partitions) for t in sorted(topics)
                if t in metadata.topics and metadata.topics[t].error_code == 0
                and metadata.topics[t].partitions}

    async def _maybe_auto_commit(self, now: float) -> None:
        if not self.enable_auto_commit:
            return
        if math.isinf(self._next_auto_commit):
            self._next_auto_commit = now + self.auto_commit_interval_ms / 1000
            return
        if now < self._next_auto_commit:
            return
        self._next_auto_commit = now + self.auto_commit_interval_ms / 1000
        if not self._can_commit():
            return
        offsets = self._consumed()
        if not offsets:
            return
        if self._nursery is not None:
            self._nursery.start_soon(self._commit_async_now, offsets, None)
        else:
            await self._commit_async_now(offsets, None)

    async def _refresh_committed_offsets(self) -> None:
        wanted = sorted(self._pending_committed)
        committed = await self._coordinator.fetch_committed(wanted)
        missing = []
        for tp in wanted:
            if tp not in self._pending_committed:
                continue  # seeked or revoked meanwhile
            self._pending_committed.discard(tp)
            found = committed.get(tp)
            if found is not None:
                self._positions[tp] = found.offset
            elif self.auto_offset_reset == "none":
                missing.append(tp)
            else:
                self._pending_reset[tp] = _RESET_TIMESTAMPS[self.auto_offset_reset]
        if missing:
            self._pending_committed.update(missing)
            names = ", ".join(str(tp) for tp in missing)
            raise NoOffsetForPartition(
                f"Undefined offset with no reset policy for partitions: [{names}]")

    async def _call_listener(self, name: str, partitions: list[TopicPartition]) -> None:
        listener = self._listener
        if listener is None:
            return
        fn = getattr(listener, name, None)
        if fn is None and name == "on_partitions_lost":
            fn = getattr(listener, "on_partitions_revoked", None)
        if fn is not None:
            await _maybe_await(fn(list(partitions)))

    # --- fetching ------------------------------------------------------------------------------

    async def _reset_offsets(self) -> None:
        by_leader: dict[int, dict[TopicPartition, int]] = {}
        for tp, timestamp in self._pending_reset.items():
            leader = self.cluster.leader_for(tp.topic, tp.partition)
            if leader is None:
                self._metadata_stale = True
                continue
            by_leader.setdefault(leader, {})[tp] = timestamp
        await gather([lambda leader=leader, wanted=wanted: self._list_offsets(leader, wanted)
                      for leader, wanted in by_leader.items()])

    async def _list_offsets(self, leader: int, wanted: dict[TopicPartition, int]) -> None:
        topics: dict[str, list[ListOffsetsPartition]] = {}
        for tp, timestamp in wanted.items():
            topics.setdefault(tp.topic, []).append(
                ListOffsetsPartition(partition_index=tp.partition, timestamp=timestamp))
        request = ListOffsetsRequest(
            replica_id=-1, isolation_level=self.isolation_level,
            topics=tuple(ListOffsetsTopic(name=t, partitions=tuple(ps))
                         for t, ps in topics.items()))
        response = await self.cluster.request(leader, request)
        for topic in response.topics:
            for p in topic.partitions:
                tp = TopicPartition(topic.name, p.partition_index)
                if self._pending_reset.get(tp) != wanted.get(tp):
                    continue  # seeked meanwhile
                if p.error_code:
                    error = error_for(p.error_code, f"ListOffsets for {tp}")
                    if not type(error).retriable:
                        raise error
                    self._metadata_stale = True
                    continue
                del self._pending_reset[tp]
                self._positions[tp] = p.offset

    async def _fetch_once(self, max_wait_ms: float) -> None:
        """One round of fetches; records land in the per-partition buffers."""
        fetchable = [tp for tp in self._assigned
                     if tp in self._positions and tp not in self._buffers]
        if fetchable:
            shift = self._rotation % len(fetchable)
            fetchable = fetchable[shift:] + fetchable[:shift]
            self._rotation += 1
        by_leader: dict[int, list[TopicPartition]] = {}
        for tp in fetchable:
            leader = self.cluster.leader_for(tp.topic, tp.partition)
            if leader is None:
                self._metadata_stale = True
                continue
            by_leader.setdefault(leader, []).append(tp)
        if not by_leader:
            await trio.sleep(max_wait_ms / 1000)
            return
        await gather([
            lambda leader=leader, tps=tps: self._fetch_from(leader, tps,
                                                            math.ceil(max_wait_ms))
            for leader, tps in by_leader.items()])

    async def _fetch_from(self, leader: int, tps: list[TopicPartition], max_wait_ms: int) -> None:
        offsets = {tp: self._positions[tp] for tp in tps}
        connection = await self.cluster.connection(leader)
        known = self._fetch_sessions.get(leader)
        if known is None:
            known = self._fetch_sessions[leader] = (connection, FetchSessionHandler(leader))
        elif known[0] is not connection:   # a new connection: a new session, closing the old
            known[1].handle_error()
            known = self._fetch_sessions[leader] = (connection, known[1])
        session = known[1]
        version = connection.pick_version(ApiKey.FETCH)
        session.enabled = version >= 7
        data = session.build({tp: PartitionState(
            fetch_offset=offsets[tp], max_bytes=self.max_partition_fetch_bytes)
            for tp in tps})
        request = FetchRequest(
            replica_id=-1, max_wait_ms=max_wait_ms, min_bytes=self.fetch_min_bytes,
            max_bytes=self.fetch_max_bytes, isolation_level=self.isolation_level,
            session_id=data.session_id, session_epoch=data.session_epoch,
            topics=data.topics(), forgotten_topics_data=data.forgotten_topics_data())
        try:
            response = await self.cluster.request(connection, request, version)
        except BaseException:
            session.handle_error()   # the broker may or may not have moved the session on
            raise
        named = [TopicPartition(topic.topic, p.partition_index)
                 for topic in response.responses for p in topic.partitions]
        if not session.handle_response(data, response.error_code, response.session_id, named):
            if response.error_code and not data.is_full:
                return   # a lost or stale session: the next round fetches in full
            if response.error_code:
                raise_for_code(response.error_code, f"Fetch from broker {leader}")
            return
        for topic in response.responses:
            for p in topic.partitions:
                tp = TopicPartition(topic.topic, p.partition_index)
                if tp not in offsets or self._positions.get(tp) != offsets[tp] \
                        or tp not in self._assigned or tp in self._buffers:
                    continue  # not asked for, or seeked/revoked while the fetch was in flight
                self._complete_partition(tp, offsets[tp], p)

    def _complete_partition(self, tp: TopicPartition, fetch_offset: int, data) -> None:
        if data.error_code == 0:
            self._high_watermarks[tp] = data.high_watermark
            fetched = parse_partition_records(
                tp.topic, tp.partition, data.records, fetch_offset,
                read_committed=self.isolation_level == 1,
                aborted_transactions=aborted_pairs(data.aborted_transactions),
                check_crcs=self.check_crcs)
            if fetched.records:
                self._buffers[tp] = list(fetched.records)
                self._buffer_next[tp] = fetched.next_offset
            else:
                self._positions[tp] = fetched.next_offset
            return
        if data.error_code == OffsetOutOfRange.code:
            if self.auto_offset_reset == "none":
                raise OffsetOutOfRange(f"Fetch position {fetch_offset} is out of range for "
                                       f"partition {tp}")
            log.info("fetch offset %d is out of range for %s, resetting to %s", fetch_offset, tp,
                     self.auto_offset_reset)
            self._positions.pop(tp, None)
            self._pending_reset[tp] = _RESET_TIMESTAMPS[self.auto_offset_reset]
            return
        error = error_for(data.error_code, f"Fetch for {tp}")
        if type(error).retriable:
            self._metadata_stale = True
            return
        raise error


async def list_offsets(cluster: Cluster, partitions: Iterable[TopicPartition], timestamp: int
                       ) -> dict[TopicPartition, int | None]:
    """ListOffsets (v1+) for ``timestamp`` (-1 latest, -2 earliest, else the first offset at or
    after that time) from each partition's leader; None where the partition is unknown or has
    no offset for that time. Used by tools (kafka-consumer-groups) that look, not consume."""
    wanted = sorted(set(partitions))
    out: dict[TopicPartition, int | None] = {tp: None for tp in wanted}
    topics = sorted({tp.topic for tp in wanted})
    if not topics:
        return out
    await cluster.try_refresh_metadata(topics)
    by_leader: dict[int, list[TopicPartition]] = {}
    for tp in wanted:
        leader = cluster.leader_for(tp.topic, tp.partition)
        if leader is not None:
            by_leader.setdefault(leader, []).append(tp)

    async def ask(leader: int, tps: list[TopicPartition]) -> None:
        grouped: dict[str, list[ListOffsetsPartition]] = {}
        for tp in tps:
            grouped.setdefault(tp.topic, []).append(
                ListOffsetsPartition(partition_index=tp.partition, timestamp=timestamp))
        request = ListOffsetsRequest(replica_id=-1, topics=tuple(
            ListOffsetsTopic(name=t, partitions=tuple(ps)) for t, ps in grouped.items()))
        response = await cluster.call_with_retries(lambda: cluster.request(leader, request),
                                                   what="list offsets")
        for t in response.topics:
            for p in t.partitions:
                if p.error_code == 0 and p.offset >= 0:
                    out[TopicPartition(t.name, p.partition_index)] = p.offset

    await gather([lambda leader=leader, tps=tps: ask(leader, tps)
                  for leader, tps in by_leader.items()])
    return out


def _as_offsets(offsets: Mapping[Any, int | OffsetAndMetadata]
                ) -> dict[TopicPartition, OffsetAndMetadata]:
    out = {}
    for key, value in offsets.items():
        tp = key if isinstance(key, TopicPartition) else TopicPartition(key[0], int(key[1]))
        out[tp] = value if isinstance(value, OffsetAndMetadata) else OffsetAndMetadata(int(value))
    return out


async def _maybe_await(value: Any) -> Any:
    if inspect.isawaitable(value):
        return await value
    return value
