"""The client's view of the cluster (pure): bootstrap addresses, topics, leaders, retry backoff.

Why separate from ``cluster.py``: everything here is a plain function of its inputs — parsing
``bootstrap.servers``, turning a MetadataResponse into immutable :class:`ClusterMetadata`,
merging partial refreshes, computing backoff — so it is unit-tested without sockets, and the trio
code in ``cluster.py`` only decides *when* to call it.

Metadata is replaced, never mutated: a refresh builds a new :class:`ClusterMetadata` (merged
with the previous one when only some topics were asked for), so a task holding the old value sees
a consistent snapshot.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import attrs

from kafkalite.errors import ConfigError, KafkaError, for_code
from kafkalite.model import INTERNAL_TOPICS

__all__ = [
    "BrokerMetadata",
    "PartitionMetadata",
    "TopicMetadata",
    "ClusterMetadata",
    "parse_bootstrap",
    "metadata_from_response",
    "backoff_ms",
]

# Kafka's Utils.getHost/getPort accept an optional "SCHEME://" prefix and bracketed IPv6.
_ADDRESS = re.compile(r"^(?:[A-Za-z0-9_+.-]*://)?(?:\[([0-9A-Za-z:%.]+)\]|([^:\[\]/]+)):([0-9]+)$")


def parse_bootstrap(servers: str | Sequence[str]) -> list[tuple[str, int]]:
    """Parse ``bootstrap.servers``: ``"h1:9092,h2:9092"`` or a list of such strings.

    Accepts ``PLAINTEXT://host:port`` and ``[::1]:9092``; blanks around commas are ignored and
    duplicates dropped (first occurrence kept).

    Raises:
        ConfigError: empty, or an entry without a valid host and port (Kafka's wording:
            "Invalid url in bootstrap.servers: <entry>").
    """
    items = [servers] if isinstance(servers, str) else list(servers)
    out: list[tuple[str, int]] = []
    for item in items:
        for entry in str(item).split(","):
            entry = entry.strip()
            if not entry:
                continue
            match = _ADDRESS.match(entry)
            if match is None:
                raise ConfigError(f"Invalid url in bootstrap.servers: {entry}")
            host = match.group(1) or match.group(2)
            port = int(match.group(3))
            if not 0 < port < 65536:
                raise ConfigError(f"Invalid port in bootstrap.servers: {entry}")
            if (host, port) not in out:
                out.append((host, port))
    if not out:
        raise ConfigError("No bootstrap urls given in bootstrap.servers")
    return out


@attrs.frozen(kw_only=True)
class BrokerMetadata:
    node_id: int
    host: str
    port: int
    rack: str | None = None

    @property
    def address(self) -> str:
        return f"{self.host}:{self.port}"


@attrs.frozen(kw_only=True)
class PartitionMetadata:
    """One partition as the last Metadata response described it (leader -1 = none)."""

    topic: str
    partition: int
    leader: int
    leader_epoch: int = -1
    replicas: tuple[int, ...] = ()
    isr: tuple[int, ...] = ()
    offline_replicas: tuple[int, ...] = ()
    error_code: int = 0

    @property
    def error(self) -> type[KafkaError] | None:
        return for_code(self.error_code)


@attrs.frozen(kw_only=True)
class TopicMetadata:
    """One topic; ``partitions`` maps partition index to its metadata."""

    name: str
    error_code: int = 0
    is_internal: bool = False
    partitions: Mapping[int, PartitionMetadata] = attrs.field(factory=dict)

    @property
    def error(self) -> type[KafkaError] | None:
        return for_code(self.error_code)

    def partition_ids(self) -> list[int]:
        return sorted(self.partitions)

    def available_partitions(self) -> list[int]:
        """Partitions that currently have a leader."""
        return sorted(p for p, m in self.partitions.items() if m.leader >= 0)

    def is_ready(self) -> bool:
        """No topic error, at least one partition, and a leader for every partition."""
        return (self.error_code == 0 and bool(self.partitions)
                and all(m.leader >= 0 for m in self.partitions.values()))


@attrs.frozen(kw_only=True)
class ClusterMetadata:
    """An immutable snapshot of brokers, controller and the topics learned so far."""

    cluster_id: str | None = None
    controller_id: int = -1
    brokers: Mapping[int, BrokerMetadata] = attrs.field(factory=dict)
    topics: Mapping[str, TopicMetadata] = attrs.field(factory=dict)

    def leader_for(self, topic: str, partition: int) -> int | None:
        """The leader's broker id, or None when unknown or leaderless."""
        t = self.topics.get(topic)
        if t is None:
            return None
        p = t.partitions.get(partition)
        if p is None or p.leader < 0:
            return None
        return p.leader

    def merge(self, newer: ClusterMetadata, *, requested: Iterable[str] | None) -> ClusterMetadata:
        """Combine with a newer response that asked for ``requested`` topics (None = all).

        Brokers and controller always come from ``newer``. Topics: a full refresh replaces the
        set; a partial one replaces only the topics it describes and keeps the rest.
        """
        if requested is None:
            topics = dict(newer.topics)
        else:
            topics = dict(self.topics)
            topics.update(newer.topics)
        return ClusterMetadata(cluster_id=newer.cluster_id, controller_id=newer.controller_id,
                               brokers=dict(newer.brokers), topics=topics)

    def without_topic(self, topic: str) -> ClusterMetadata:
        topics = {k: v for k, v in self.topics.items() if k != topic}
        return attrs.evolve(self, topics=topics)


def metadata_from_response(response: Any) -> ClusterMetadata:
    """Turn a decoded MetadataResponse (any version) into :class:`ClusterMetadata`.

    Topics with a null name (v12 lookups by id) are skipped; ``is_internal`` falls back to the
    well-known internal names for v0 responses that lack the field.
    """
    brokers = {b.node_id: BrokerMetadata(node_id=b.node_id, host=b.host, port=b.port, rack=b.rack)
               for b in response.brokers}
    topics: dict[str, TopicMetadata] = {}
    for t in response.topics:
        if t.name is None:
            continue
        partitions = {
            p.partition_index: PartitionMetadata(
                topic=t.name,
                partition=p.partition_index,
                leader=p.leader_id,
                leader_epoch=p.leader_epoch,
                replicas=tuple(p.replica_nodes),
                isr=tuple(p.isr_nodes),
                offline_replicas=tuple(p.offline_replicas),
                error_code=p.error_code,
            )
            for p in t.partitions
        }
        topics[t.name] = TopicMetadata(name=t.name, error_code=t.error_code,
                                       is_internal=t.is_internal or t.name in INTERNAL_TOPICS,
                                       partitions=partitions)
    return ClusterMetadata(cluster_id=response.cluster_id, controller_id=response.controller_id,
                           brokers=brokers, topics=topics)


def backoff_ms(attempt: int, *, base_ms: int, max_ms: int, jitter: float = 0.0) -> float:
    """Exponential backoff before retry number ``attempt`` (1-based), as Kafka's KIP-580.

    ``base_ms * 2**(attempt-1)`` capped at ``max_ms``, then scaled by ``1 + jitter`` where the
    caller passes a random value in [-0.2, 0.2] (randomness is an argument, not hidden state).
    """
    if attempt < 1:
        return 0.0
    delay = min(float(max_ms), base_ms * 2.0 ** min(attempt - 1, 30))
    return max(0.0, delay * (1.0 + jitter))
