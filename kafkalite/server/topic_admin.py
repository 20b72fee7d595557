"""Topic creation and deletion as a ZooKeeper-mode broker performs them.

Used by CreateTopics/DeleteTopics (on the controller) and by Metadata auto-creation (on any
broker). The write goes to ZooKeeper (``/config/topics/<t>`` first, then
``/brokers/topics/<t>``); the controller's watch turns it into partitions, leaders and
metadata, and callers that must answer only once the topic is usable wait for the metadata
cache to show it.
"""

from __future__ import annotations

import random
from collections.abc import Mapping, Sequence

import trio

from kafkalite import errors
from kafkalite.config import TOPIC_CONFIGS
from kafkalite.model import INTERNAL_TOPICS, validate_topic_name
from kafkalite.zk.assignment import assign_replicas, check_assignment_size

__all__ = ["validate_topic_configs", "create_topic", "auto_create_topic", "wait_for_metadata"]


def validate_topic_configs(configs: Mapping[str, str | None]) -> dict[str, str]:
    out = {}
    for name, value in configs.items():
        spec = TOPIC_CONFIGS.get(name)
        if spec is None:
            raise errors.InvalidConfig(f"Unknown topic config name: {name}")
        if value is None:
            raise errors.InvalidConfig(f"Null value not supported for topic config {name}")
        try:
            parsed = spec[1](value)
        except ValueError:
            raise errors.InvalidConfig(f"Invalid value {value} for configuration {name}") from None
        if name == "cleanup.policy" and not set(parsed) <= {"delete", "compact"}:
            raise errors.InvalidConfig(f"Invalid value {value} for configuration {name}: "
                                       "String must be one of: compact, delete")
        if name == "compression.type" and parsed not in (
                "producer", "uncompressed", "gzip", "snappy", "lz4", "zstd"):
            raise errors.InvalidConfig(f"Invalid value {value} for configuration {name}")
        if name == "message.timestamp.type" and parsed not in ("CreateTime", "LogAppendTime"):
            raise errors.InvalidConfig(f"Invalid value {value} for configuration {name}")
        out[name] = str(value)
    return out


async def _live_broker_ids(broker) -> list[int]:
    ids = sorted(broker.metadata.brokers)
    if not ids:  # before the first UpdateMetadata: ask ZooKeeper
        ids = sorted(b.broker_id for b in await broker.zk.get_all_brokers())
    return ids


async def create_topic(broker, name: str, *, num_partitions: int, replication_factor: int,
                       assignment: Mapping[int, Sequence[int]] | None = None,
                       configs: Mapping[str, str | None] | None = None,
                       validate_only: bool = False) -> dict[int, list[int]]:
    """Validate and write a new topic to ZooKeeper; returns its replica assignment."""
    reason = validate_topic_name(name)
    if reason:
        raise errors.InvalidTopicException(reason)
    cfg = validate_topic_configs(configs or {})
    live = await _live_broker_ids(broker)
    if assignment:
        check_assignment_size(len(assignment), max(map(len, assignment.values())),
                              max(live, default=0))
        parts = {int(p): [int(r) for r in rs] for p, rs in assignment.items()}
        if sorted(parts) != list(range(len(parts))):
            raise errors.InvalidReplicaAssignment(
                "Partitions should be a consecutive 0-based integer sequence")
        for p, rs in parts.items():
            if not rs or len(set(rs)) != len(rs):
                raise errors.InvalidReplicaAssignment(
                    f"Duplicate or empty replica assignment for partition {p}: {rs}")
            unknown = set(rs) - set(live)
            if unknown:
                raise errors.InvalidReplicaAssignment(
                    f"Unknown broker(s) {sorted(unknown)} in assignment for partition {p}")
    else:
        if num_partitions < 1:
            raise errors.InvalidPartitions("Number of partitions must be larger than 0.")
        if replication_factor < 1:
            raise errors.InvalidReplicationFactor("Replication factor must be larger than 0.")
        if replication_factor > len(live):
            raise errors.InvalidReplicationFactor(
                f"Replication factor: {replication_factor} larger than available brokers: "
                f"{len(live)}.")
        parts = assign_replicas(live, num_partitions, replication_factor, rng=random.Random())
    if validate_only:
        if name in broker.metadata.topics:
            raise errors.TopicAlreadyExists(f"Topic '{name}' already exists.")
        return parts
    await broker.zk.create_topic(name, parts, cfg)
    broker.topic_overrides[name] = cfg
    return parts


async def auto_create_topic(broker, name: str) -> None:
    if name in INTERNAL_TOPICS:
        raise errors.InvalidTopicException(f"Internal topic {name} is not auto-created here")
    live = await _live_broker_ids(broker)
    rf = min(broker.config["default.replication.factor"], max(len(live), 1))
    await create_topic(broker, name, num_partitions=broker.config["num.partitions"],
                       replication_factor=rf)


def _ready(broker, name: str, expected: int | None) -> bool:
    parts = broker.metadata.topics.get(name)
    if not parts or (expected is not None and len(parts) < expected):
        return False
    return all(m.leader >= 0 for m in parts.values())


async def wait_for_metadata(broker, names: Mapping[str, int | None], timeout_ms: int,
                            *, present: bool = True) -> set[str]:
    """Wait until every topic is usable (or, with ``present=False``, gone); returns the rest."""
    def pending() -> set[str]:
        if present:
            return {n for n, exp in names.items() if not _ready(broker, n, exp)}
        return {n for n in names if n in broker.metadata.topics}

    with trio.move_on_after(max(timeout_ms, 0) / 1000):
        while pending():
            await broker.wait_metadata_change()
    return pending()
