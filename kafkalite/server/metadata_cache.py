"""The broker's view of the cluster, fed only by the controller's UpdateMetadata requests.

Brokers in ZooKeeper-mode Kafka never watch topic or broker znodes themselves: what they tell
clients (Metadata, FindCoordinator, routing checks) comes from the last UpdateMetadata the
controller sent. A partition whose leader is -2 ("leader during delete") is being deleted and
is hidden from clients, as Kafka does.
"""

from __future__ import annotations

from typing import NamedTuple

import attrs

from kafkalite.model import BrokerEndpoint, BrokerInfo, TopicPartition

__all__ = ["PartitionMetadata", "MetadataCache", "LEADER_DURING_DELETE"]

LEADER_DURING_DELETE = -2


class PartitionMetadata(NamedTuple):
    """One partition as the last UpdateMetadata gave it. A named tuple, not an attrs class:
    every UpdateMetadata builds one per partition (ten thousand in a failover), and a tuple
    is made in half the time."""

    leader: int
    leader_epoch: int
    isr: tuple[int, ...]
    replicas: tuple[int, ...]
    offline_replicas: tuple[int, ...] = ()
    zk_version: int = 0
    controller_epoch: int = 0


@attrs.define
class MetadataCache:
    cluster_id: str | None = None
    controller_id: int = -1
    controller_epoch: int = -1
    brokers: dict[int, BrokerInfo] = attrs.field(factory=dict)
    topics: dict[str, dict[int, PartitionMetadata]] = attrs.field(factory=dict)
    topic_ids: dict[str, bytes] = attrs.field(factory=dict)
    #: Answers derived from this cache (encoded Metadata responses), kept by their users and
    #: dropped whenever an UpdateMetadata changes the cache.
    derived: dict = attrs.field(factory=dict, eq=False, repr=False)

    def apply_update(self, *, controller_id: int, controller_epoch: int,
                     brokers: list[BrokerInfo],
                     partitions: list[tuple[str, int, PartitionMetadata]]) -> list[str]:
        """Apply one UpdateMetadata; returns the topics that were deleted by it."""
        self.derived.clear()
        self.controller_id = controller_id
        self.controller_epoch = max(self.controller_epoch, controller_epoch)
        self.brokers = {b.broker_id: b for b in brokers}
        deleted = []
        for topic, p, meta in partitions:
            if meta.leader == LEADER_DURING_DELETE:
                if self.topics.pop(topic, None) is not None:
                    deleted.append(topic)
                continue
            self.topics.setdefault(topic, {})[p] = meta
        return deleted

    def partition(self, tp: TopicPartition) -> PartitionMetadata | None:
        parts = self.topics.get(tp.topic)
        return parts.get(tp.partition) if parts else None

    def endpoint(self, broker_id: int, listener: str | None) -> BrokerEndpoint | None:
        b = self.brokers.get(broker_id)
        if b is None:
            return None
        return b.endpoint(listener) or (b.endpoint() if listener is None else None)

    def alive(self, broker_id: int) -> bool:
        return broker_id in self.brokers
