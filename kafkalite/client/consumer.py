"""The consumer: positions per partition, offset lookups, fetches from leaders.

Without a group (groups come later, see ``group_id``) a consumer is a set of assigned
partitions, each with a *position* — the next offset to fetch — or a pending reset to
"earliest"/"latest" that ListOffsets (v1+) turns into a position. :meth:`Consumer.poll` then:

1. resolves the subscription (all partitions of the subscribed topics or of the topics matching
   a pattern) and makes sure every assigned partition has a known leader;
2. resolves pending resets, one ListOffsets request per leader;
3. sends one Fetch (v4..12, full fetches — session id 0, epoch -1, so no KIP-227 session state)
   per leader concurrently, with the partitions in rotating order so a partition late in the
   list is not starved by the response byte limit;
4. decodes each partition (``completed_fetch.py``) and advances its position.

Errors per partition: OFFSET_OUT_OF_RANGE resets per ``auto_offset_reset`` ("none" raises);
leadership errors (NOT_LEADER_OR_FOLLOWER, UNKNOWN_TOPIC_OR_PARTITION, FENCED_LEADER_EPOCH, ...)
and lost connections mark metadata stale and the next round refreshes it. Those transient
failures are logged and retried inside ``poll`` — but only once the consumer has worked at least
once, and never for longer than the cluster's ``retry_timeout_ms`` in a row; before that, and
for anything non-retriable, the error is raised so a tool can report it.
"""

from __future__ import annotations

import logging
import math
import re
from collections.abc import AsyncIterator, Iterable

import trio

from kafkalite.errors import KafkaError, OffsetOutOfRange, UnknownTopicOrPartition
from kafkalite.model import TopicPartition
from kafkalite.protocol.messages.fetch import FetchPartition, FetchRequest, FetchTopic
from kafkalite.protocol.messages.list_offsets import (
    ListOffsetsPartition,
    ListOffsetsRequest,
    ListOffsetsTopic,
)
from kafkalite.client.cluster import Cluster, is_retriable
from kafkalite.client.completed_fetch import ConsumerRecord, aborted_pairs, parse_partition_records
from kafkalite.client.concurrency import gather
from kafkalite.client.errors import ClientError, KafkaTimeoutError, error_for, raise_for_code

__all__ = ["Consumer", "ConsumerRecord", "EARLIEST", "LATEST"]

log = logging.getLogger(__name__)

EARLIEST = -2  # ListOffsets timestamp for the log start offset
LATEST = -1  # ... for the high watermark (last stable offset under read_committed)
_RESET_TIMESTAMPS = {"earliest": EARLIEST, "latest": LATEST}
_ISOLATION_LEVELS = {"read_uncommitted": 0, "read_committed": 1}
_PATTERN_REFRESH_S = 5.0


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
    """Fetches records of assigned or subscribed partitions.

    Args:
        cluster: metadata and connections (not closed by the consumer).
        group_id: consumer groups are not supported yet; anything but None raises.
        auto_offset_reset: where to start when there is no valid position: "earliest",
            "latest" or "none" (raise OffsetOutOfRange).
        isolation_level: "read_uncommitted" (default) or "read_committed".
        fetch_max_wait_ms, fetch_min_bytes, fetch_max_bytes, max_partition_fetch_bytes: the
            Fetch request's limits (Kafka's consumer configs of the same names).
        check_crcs: verify batch CRCs.
        allow_auto_create_topics: let Metadata requests for subscribed topics create them.

    Raises:
        NotImplementedError: ``group_id`` was given.
        ValueError: an invalid ``auto_offset_reset`` or ``isolation_level``.
    """

    def __init__(self, cluster: Cluster, *, group_id: str | None = None,
                 auto_offset_reset: str = "latest", isolation_level: str = "read_uncommitted",
                 fetch_max_wait_ms: int = 500, fetch_min_bytes: int = 1,
                 fetch_max_bytes: int = 52_428_800, max_partition_fetch_bytes: int = 1_048_576,
                 check_crcs: bool = True, allow_auto_create_topics: bool = True):
        if group_id is not None:
            raise NotImplementedError(
                "consumer groups are not supported yet: use assign() or subscribe() without a "
                "group_id")
        if auto_offset_reset not in ("earliest", "latest", "none"):
            raise ValueError(f"auto_offset_reset must be 'earliest', 'latest' or 'none', not "
                             f"{auto_offset_reset!r}")
        if isolation_level not in _ISOLATION_LEVELS:
            raise ValueError(f"isolation_level must be 'read_uncommitted' or 'read_committed', "
                             f"not {isolation_level!r}")
        self.cluster = cluster
        self.auto_offset_reset = auto_offset_reset
        self.isolation_level = _ISOLATION_LEVELS[isolation_level]
        self.fetch_max_wait_ms = fetch_max_wait_ms
        self.fetch_min_bytes = fetch_min_bytes
        self.fetch_max_bytes = fetch_max_bytes
        self.max_partition_fetch_bytes = max_partition_fetch_bytes
        self.check_crcs = check_crcs
        self.allow_auto_create_topics = allow_auto_create_topics
        self._assigned: list[TopicPartition] = []
        self._positions: dict[TopicPartition, int] = {}
        self._pending_reset: dict[TopicPartition, int] = {}
        self._high_watermarks: dict[TopicPartition, int] = {}
        self._topics: list[str] | None = None
        self._pattern: re.Pattern[str] | None = None
        self._subscription_checked_at = -math.inf
        self._verified_topics: set[str] = set()
        self._metadata_stale = False
        self._initialized = False
        self._failing_since: float | None = None
        self._rotation = 0

    # --- assignment ----------------------------------------------------------------------------

    def assign(self, partitions: Iterable[tuple]) -> None:
        """Consume exactly these partitions: ``(topic, partition)`` or ``(topic, partition,
        offset)`` where offset is an int, "earliest" or "latest" (default:
        ``auto_offset_reset``). Replaces any previous assignment or subscription.

        Raises:
            ValueError: a bad offset.
        """
        self._topics = None
        self._pattern = None
        self._assigned = []
        self._positions.clear()
        self._pending_reset.clear()
        for item in partitions:
            topic, partition = item[0], int(item[1])
            tp = TopicPartition(topic, partition)
            if tp not in self._assigned:
                self._assigned.append(tp)
            self.seek(topic, partition, item[2] if len(item) > 2 else self._default_reset())

    def subscribe(self, topics: Iterable[str] | None = None, *,
                  pattern: str | re.Pattern[str] | None = None) -> None:
        """Consume every partition of ``topics`` (or of the topics matching ``pattern``,
        internal topics excluded), starting per ``auto_offset_reset``."""
        if (topics is None) == (pattern is None):
            raise ValueError("subscribe() takes either topics or pattern")
        self._assigned = []
        self._positions.clear()
        self._pending_reset.clear()
        self._topics = list(dict.fromkeys(topics)) if topics is not None else None
        self._pattern = re.compile(pattern) if isinstance(pattern, str) else pattern
        self._subscription_checked_at = -math.inf

    def assignment(self) -> list[TopicPartition]:
        """The partitions currently consumed (empty until a subscription is resolved)."""
        return list(self._assigned)

    def seek(self, topic: str, partition: int, offset: int | str) -> None:
        """Set the next offset to fetch: an int, "earliest" or "latest"."""
        tp = TopicPartition(topic, partition)
        spec = _offset_spec(offset)
        self._positions.pop(tp, None)
        self._pending_reset.pop(tp, None)
        if isinstance(spec, str):
            self._pending_reset[tp] = _RESET_TIMESTAMPS[spec]
        else:
            self._positions[tp] = spec

    def position(self, topic: str, partition: int) -> int | None:
        """The next offset to fetch, or None while a reset is pending."""
        return self._positions.get(TopicPartition(topic, partition))

    def high_watermark(self, topic: str, partition: int) -> int | None:
        """The high watermark from the last fetch of that partition."""
        return self._high_watermarks.get(TopicPartition(topic, partition))

    def _default_reset(self) -> str:
        return "latest" if self.auto_offset_reset == "none" else self.auto_offset_reset

    # --- polling -------------------------------------------------------------------------------

    async def poll(self, timeout_ms: float | None = None) -> list[ConsumerRecord]:
        """Fetch until some records arrive or ``timeout_ms`` passes (None: wait for records).

        Returns:
            Records in fetch order (per partition in offset order); [] on timeout.

        Raises:
            OffsetOutOfRange: out of range with ``auto_offset_reset="none"``.
            KafkaTimeoutError: metadata or leaders unavailable for ``retry_timeout_ms``.
            ConnectionFailed: no broker reachable before the consumer ever worked.
            KafkaError: a non-retriable error.
        """
        deadline = math.inf if timeout_ms is None else trio.current_time() + timeout_ms / 1000
        while True:
            remaining_ms = max(0.0, (deadline - trio.current_time()) * 1000)
            try:
                await self._prepare()
                records = await self._fetch_once(min(self.fetch_max_wait_ms, remaining_ms))
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

    async def aclose(self) -> None:
        """Forget the assignment. The cluster stays open (it belongs to the caller)."""
        self._assigned = []
        self._positions.clear()
        self._pending_reset.clear()

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

    async def _prepare(self) -> None:
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
        if self._pending_reset:
            await self._reset_offsets()

    async def _resolve_subscription(self) -> None:
        if self._topics is None and self._pattern is None:
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
            current = await self.cluster.refresh_metadata(None)
            topics = sorted(t for t, m in current.topics.items()
                            if not m.is_internal and self._pattern.fullmatch(t))
            metadata = await self.cluster.wait_for_topics(topics, allow_auto_create=False)
        self._subscription_checked_at = now
        for topic in topics:
            for partition in metadata[topic].partition_ids():
                tp = TopicPartition(topic, partition)
                if tp not in self._assigned:
                    self._assigned.append(tp)
                    self._pending_reset[tp] = _RESET_TIMESTAMPS[self._default_reset()]

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

    async def _fetch_once(self, max_wait_ms: float) -> list[ConsumerRecord]:
        fetchable = [tp for tp in self._assigned if tp in self._positions]
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
            return []
        results = await gather([
            lambda leader=leader, tps=tps: self._fetch_from(leader, tps, int(max_wait_ms))
            for leader, tps in by_leader.items()])
        return [record for records in results for record in records]

    async def _fetch_from(self, leader: int, tps: list[TopicPartition],
                          max_wait_ms: int) -> list[ConsumerRecord]:
        offsets = {tp: self._positions[tp] for tp in tps}
        topics: dict[str, list[FetchPartition]] = {}
        for tp in tps:
            topics.setdefault(tp.topic, []).append(FetchPartition(
                partition=tp.partition, fetch_offset=offsets[tp],
                partition_max_bytes=self.max_partition_fetch_bytes))
        request = FetchRequest(
            replica_id=-1, max_wait_ms=max_wait_ms, min_bytes=self.fetch_min_bytes,
            max_bytes=self.fetch_max_bytes, isolation_level=self.isolation_level,
            session_id=0, session_epoch=-1,
            topics=tuple(FetchTopic(topic=t, partitions=tuple(ps)) for t, ps in topics.items()))
        response = await self.cluster.request(leader, request)
        if response.error_code:
            raise_for_code(response.error_code, f"Fetch from broker {leader}")
        out: list[ConsumerRecord] = []
        for topic in response.responses:
            for p in topic.partitions:
                tp = TopicPartition(topic.topic, p.partition_index)
                if tp not in offsets or self._positions.get(tp) != offsets[tp]:
                    continue  # not asked for, or seeked while the fetch was in flight
                out.extend(self._complete_partition(tp, offsets[tp], p))
        return out

    def _complete_partition(self, tp: TopicPartition, fetch_offset: int,
                            data) -> list[ConsumerRecord]:
        if data.error_code == 0:
            self._high_watermarks[tp] = data.high_watermark
            fetched = parse_partition_records(
                tp.topic, tp.partition, data.records, fetch_offset,
                read_committed=self.isolation_level == 1,
                aborted_transactions=aborted_pairs(data.aborted_transactions),
                check_crcs=self.check_crcs)
            self._positions[tp] = fetched.next_offset
            return fetched.records
        if data.error_code == OffsetOutOfRange.code:
            if self.auto_offset_reset == "none":
                raise OffsetOutOfRange(f"Fetch position {fetch_offset} is out of range for "
                                       f"partition {tp}")
            log.info("fetch offset %d is out of range for %s, resetting to %s", fetch_offset, tp,
                     self.auto_offset_reset)
            self._positions.pop(tp, None)
            self._pending_reset[tp] = _RESET_TIMESTAMPS[self.auto_offset_reset]
            return []
        error = error_for(data.error_code, f"Fetch for {tp}")
        if type(error).retriable:
            self._metadata_stale = True
            return []
        raise error
