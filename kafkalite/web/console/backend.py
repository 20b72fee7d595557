"""The console's view of the cluster, read as an AdminClient would read it.

A :class:`ClusterBackend` is one kafkalite client (``kafkalite.client.Cluster``) connected to a
listener of the broker serving the console, kept open across HTTP requests (metadata,
connections to every broker and group coordinators are reused) and closed when the console
stops or, for a signed-in user's backend, after it has been idle. Everything the pages show
comes through the Kafka protocol, never from the serving broker's memory, so every broker's
console shows the same whole-cluster view and the broker's authorization (ACLs) applies to the
principal the backend connected as.

Answers are plain JSON-ready dicts. Numbers the cluster could not give (a leader that is down,
a broker that did not answer DescribeLogDirs) are None, shown as "-", instead of failing the
page.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

import trio

from kafkalite import errors
from kafkalite.client.admin import Admin, NewTopic
from kafkalite.client.cluster import Cluster
from kafkalite.client.connection import ClientSecurity
from kafkalite.client.consumer import EARLIEST, LATEST, Consumer, list_offsets
from kafkalite.client.errors import ClientError, error_for
from kafkalite.client.metadata import ClusterMetadata, TopicMetadata
from kafkalite.model import TopicPartition
from kafkalite.protocol.messages.delete_records import (
    DeleteRecordsPartition,
    DeleteRecordsRequest,
    DeleteRecordsTopic,
)
from kafkalite.protocol.messages.describe_configs import (
    DescribeConfigsRequest,
    DescribeConfigsResource,
)
from kafkalite.protocol.messages.describe_log_dirs import DescribeLogDirsRequest
from kafkalite.web.console.groups import GroupsClient
from kafkalite.web.console.render import render
from kafkalite.web.console.routes import ApiError

__all__ = ["ClusterBackend", "CONFIG_SOURCES"]

log = logging.getLogger(__name__)

_TOPIC, _BROKER = 2, 4
#: DescribeConfigs v1+ config_source numbers (Kafka's ConfigSource).
CONFIG_SOURCES = {1: "topic", 2: "broker (dynamic)", 3: "cluster default (dynamic)",
                  4: "broker (static)", 5: "default", 6: "broker logger"}
MAX_MESSAGES = 500


def _partition_rows(t: TopicMetadata) -> list[dict[str, Any]]:
    return [{"partition": p.partition, "leader": p.leader if p.leader >= 0 else None,
             "replicas": list(p.replicas), "isr": list(p.isr),
             "offline_replicas": list(p.offline_replicas),
             "under_replicated": len(p.isr) < len(p.replicas), "offline": p.leader < 0}
            for p in (t.partitions[i] for i in t.partition_ids())]


class ClusterBackend:
    """One client connection set to the cluster, and the console's questions to it.

    Args:
        bootstrap: ``host:port`` of the listener to use.
        security: how to reach it (None: PLAINTEXT).
        client_id: shows in the brokers' request logs and metrics.
    """

    def __init__(self, bootstrap: str, *, security: ClientSecurity | None = None,
                 client_id: str = "kafkalite-console"):
        self.cluster = Cluster(bootstrap, client_id=client_id, security=security,
                               request_timeout_ms=10_000, connect_timeout_ms=5_000,
                               retry_timeout_ms=8_000, allow_auto_topic_creation=False)
        self.admin = Admin(self.cluster)
        self.groups = GroupsClient(self.cluster)
        self.last_used = trio.current_time()

    async def aclose(self) -> None:
        await self.cluster.aclose()

    def touch(self) -> None:
        self.last_used = trio.current_time()

    # --- reading ---------------------------------------------------------------------------

    async def metadata(self, topics: Sequence[str] | None = None) -> ClusterMetadata:
        """Fresh metadata of ``topics`` (None: all, internal ones included)."""
        return await self.cluster.call_with_retries(
            lambda: self.cluster.refresh_metadata(topics, allow_auto_create=False),
            what="read the cluster metadata")

    async def authenticate(self) -> None:
        """Open a first connection, so that a SASL login is checked now.

        Raises:
            SaslAuthenticationFailed: wrong user name or password.
        """
        await self.cluster.refresh_metadata([], allow_auto_create=False)

    async def broker_config(self, broker_id: int, keys: Sequence[str] | None = None
                            ) -> dict[str, str | None]:
        """DescribeConfigs of one broker (it must answer for itself)."""
        request = DescribeConfigsRequest(resources=(DescribeConfigsResource(
            resource_type=_BROKER, resource_name=str(broker_id),
            configuration_keys=None if keys is None else tuple(keys)),))
        response = await self.cluster.call_with_retries(
            lambda: self.cluster.request(broker_id, request),
            what=f"describe the configs of broker {broker_id}")
        result = response.results[0]
        if result.error_code:
            raise error_for(result.error_code, f"broker {broker_id}", result.error_message)
        return {c.name: None if c.is_sensitive else c.value for c in result.configs}

    async def topic_configs(self, topic: str) -> list[dict[str, Any]]:
        """Every config of a topic with where its value comes from."""
        request = DescribeConfigsRequest(resources=(DescribeConfigsResource(
            resource_type=_TOPIC, resource_name=topic, configuration_keys=None),))
        response = await self.cluster.call_with_retries(
            lambda: self.cluster.request(None, request), what=f"describe topic {topic}")
        result = response.results[0]
        if result.error_code:
            raise error_for(result.error_code, f"topic {topic}", result.error_message)
        out = []
        for c in sorted(result.configs, key=lambda c: c.name):
            source = CONFIG_SOURCES.get(c.config_source)
            if source is None:
                source = "default" if c.is_default else "topic"
            out.append({"name": c.name, "value": "(sensitive)" if c.is_sensitive else c.value,
                        "source": source, "read_only": c.read_only})
        return out

    async def log_sizes(self, broker_ids: Sequence[int]) -> dict[tuple[str, int, int], int]:
        """``(topic, partition, broker) -> bytes`` from DescribeLogDirs of each broker; a
        broker that does not answer is left out (its sizes show as unknown)."""
        sizes: dict[tuple[str, int, int], int] = {}

        async def ask(broker_id: int) -> None:
            try:
                response = await self.cluster.request(broker_id,
                                                      DescribeLogDirsRequest(topics=None))
            except (errors.KafkaError, ClientError) as e:
                log.debug("console: DescribeLogDirs of broker %d failed: %s", broker_id, e)
                return
            for result in response.results:
                if result.error_code:
                    continue
                for t in result.topics:
                    for p in t.partitions:
                        if not p.is_future_key:
                            key = (t.name, p.partition_index, broker_id)
                            sizes[key] = sizes.get(key, 0) + p.partition_size

        async with trio.open_nursery() as nursery:
            for b in broker_ids:
                nursery.start_soon(ask, b)
        return sizes

    async def partition_offsets(self, partitions: Sequence[TopicPartition]
                                ) -> tuple[dict[TopicPartition, int | None],
                                           dict[TopicPartition, int | None]]:
        """Log start and log end (high watermark) offsets."""
        if not partitions:
            return {}, {}
        starts = await list_offsets(self.cluster, partitions, EARLIEST)
        ends = await list_offsets(self.cluster, partitions, LATEST)
        return starts, ends

    async def log_end_offsets(self) -> dict[str, int]:
        """Sum of the log end offsets of each topic whose every leader answered (the topic
        list's message rate is the rate of this number)."""
        metadata = await self.metadata(None)
        partitions = [TopicPartition(t.name, p) for t in metadata.topics.values()
                      if not t.error_code for p in t.partition_ids()]
        ends = await list_offsets(self.cluster, partitions, LATEST) if partitions else {}
        sums: dict[str, int] = {}
        incomplete = set()
        for tp in partitions:
            end = ends.get(tp)
            if end is None:
                incomplete.add(tp.topic)
            else:
                sums[tp.topic] = sums.get(tp.topic, 0) + end
        return {t: v for t, v in sums.items() if t not in incomplete}

    async def topics(self) -> list[dict[str, Any]]:
        """Every topic with its partition and replica counts, health, messages and size."""
        metadata = await self.metadata(None)
        topics = [t for t in metadata.topics.values() if not t.error_code]
        partitions = [TopicPartition(t.name, p) for t in topics for p in t.partition_ids()]
        starts, ends = await self.partition_offsets(partitions)
        sizes = await self.log_sizes(sorted(metadata.brokers))
        out = []
        for t in sorted(topics, key=lambda t: t.name):
            messages: int | None = 0
            size: int | None = 0
            rows = _partition_rows(t)
            for row in rows:
                tp = TopicPartition(t.name, row["partition"])
                start, end = starts.get(tp), ends.get(tp)
                if messages is not None and start is not None and end is not None:
                    messages += end - start
                else:
                    messages = None
                part_size = _partition_size(sizes, t.name, row)
                size = None if size is None or part_size is None else size + part_size
            out.append({"name": t.name, "internal": t.is_internal, "partitions": len(rows),
                        "replication_factor": max((len(r["replicas"]) for r in rows), default=0),
                        "under_replicated": sum(r["under_replicated"] for r in rows),
                        "offline": sum(r["offline"] for r in rows),
                        "messages": messages, "size": size})
        return out

    async def topic(self, name: str) -> dict[str, Any]:
        """One topic: partitions with leaders, ISR, offsets and sizes, and all its configs."""
        metadata = await self.metadata([name])
        t = metadata.topics.get(name)
        if t is None or t.error_code:
            error = error_for(t.error_code if t else errors.UnknownTopicOrPartition.code,
                              f"topic {name}")
            raise error
        rows = _partition_rows(t)
        partitions = [TopicPartition(name, r["partition"]) for r in rows]
        starts, ends = await self.partition_offsets(partitions)
        sizes = await self.log_sizes(sorted(metadata.brokers))
        for row, tp in zip(rows, partitions):
            row["log_start"] = starts.get(tp)
            row["log_end"] = ends.get(tp)
            row["messages"] = (row["log_end"] - row["log_start"]
                               if row["log_start"] is not None and row["log_end"] is not None
                               else None)
            row["size"] = _partition_size(sizes, name, row)
        return {"name": name, "internal": t.is_internal, "partitions": rows,
                "configs": await self.topic_configs(name)}

    async def messages(self, topic: str, partition: int, *, offset: int | None = None,
                       timestamp: int | None = None, limit: int = 50,
                       fmt: str = "auto") -> dict[str, Any]:
        """Up to ``limit`` records of one partition from ``offset`` (or the first at or after
        ``timestamp``; neither: the last ``limit`` records), rendered per ``fmt``.

        Raises:
            UnknownTopicOrPartition: no such topic; ApiError 404: no such partition.
        """
        metadata = await self.metadata([topic])
        t = metadata.topics.get(topic)
        if t is None or t.error_code:
            raise error_for(t.error_code if t else errors.UnknownTopicOrPartition.code,
                            f"topic {topic}")
        if partition not in t.partitions:
            raise ApiError(404, f"topic {topic} has no partition {partition}")
        tp = TopicPartition(topic, partition)
        starts, ends = await self.partition_offsets([tp])
        start, end = starts.get(tp), ends.get(tp)
        if start is None or end is None:
            raise ApiError(503, f"the leader of {tp} did not answer (is it offline?)")
        if timestamp is not None:
            found = (await list_offsets(self.cluster, [tp], timestamp)).get(tp)
            first = end if found is None else found
        elif offset is None:
            first = max(start, end - limit)
        else:
            first = min(max(offset, start), end)
        records = await self._fetch(tp, first, end, limit) if first < end else []
        return {"topic": topic, "partition": partition, "log_start": start, "log_end": end,
                "first": first, "format": fmt,
                "messages": [{"offset": r.offset, "timestamp": r.timestamp,
                              "timestamp_type": r.timestamp_type_name,
                              "key": render(r.key, fmt), "value": render(r.value, fmt),
                              "headers": [{"key": k, "value": render(v, "auto")}
                                          for k, v in r.headers]}
                             for r in records]}

    async def _fetch(self, tp: TopicPartition, first: int, end: int, limit: int) -> list:
        consumer = Consumer(self.cluster, auto_offset_reset="earliest",
                            allow_auto_create_topics=False, enable_auto_commit=False,
                            max_poll_records=limit, fetch_max_wait_ms=100,
                            max_partition_fetch_bytes=4 << 20)
        consumer.assign([(tp.topic, tp.partition, first)])
        records: list = []
        try:
            with trio.move_on_after(5):
                while len(records) < limit:
                    records += await consumer.poll(1000)
                    position = consumer.position(tp.topic, tp.partition)
                    if position is not None and position >= end:
                        break
        finally:
            with trio.CancelScope(shield=True):
                await consumer.aclose()
        return records[:limit]

    # --- writing ---------------------------------------------------------------------------

    async def create_topic(self, name: str, partitions: int, replication_factor: int,
                           configs: dict[str, str]) -> None:
        results = await self.admin.create_topics([NewTopic(
            name=name, num_partitions=partitions, replication_factor=replication_factor,
            configs=configs)])
        error = results.get(name)
        if error is not None:
            raise error

    async def delete_records(self, topic: str, partition: int, offset: int) -> int:
        """DeleteRecords below ``offset`` (-1: the high watermark); the new log start."""
        tp = TopicPartition(topic, partition)
        metadata = await self.metadata([topic])
        t = metadata.topics.get(topic)
        if t is None or t.error_code:
            raise errors.UnknownTopicOrPartition(f"topic {topic} does not exist")
        if partition not in t.partitions:
            raise ApiError(404, f"topic {topic} has no partition {partition}")
        request = DeleteRecordsRequest(topics=(DeleteRecordsTopic(name=topic, partitions=(
            DeleteRecordsPartition(partition_index=partition, offset=offset),)),),
            timeout_ms=10_000)

        async def attempt() -> int:
            leader = self.cluster.leader_for(topic, partition)
            if leader is None:
                await self.cluster.refresh_metadata([topic], allow_auto_create=False)
                raise errors.LeaderNotAvailable(f"partition {tp} has no leader")
            response = await self.cluster.request(leader, request)
            result = response.topics[0].partitions[0]
            if result.error_code:
                raise error_for(result.error_code, f"partition {tp}")
            return result.low_watermark

        return await self.cluster.call_with_retries(attempt, what=f"delete records of {tp}")


def _partition_size(sizes: dict[tuple[str, int, int], int], topic: str,
                    row: dict[str, Any]) -> int | None:
    """The leader's size of a partition (any replica's when the leader did not answer)."""
    p = row["partition"]
    if row["leader"] is not None and (topic, p, row["leader"]) in sizes:
        return sizes[(topic, p, row["leader"])]
    for b in row["replicas"]:
        if (topic, p, b) in sizes:
            return sizes[(topic, p, b)]
    return None
