"""Every znode Kafka (ZooKeeper mode) reads or writes, described once (Kafka's ``ZkData``).

One class per znode with static ``path(...)``, ``encode(...) -> bytes`` and
``decode(data, ...)``. The formats are specified in ``docs/zookeeper-layout.md`` and are
tested byte for byte against its specimens (``tests/zk/test_znodes.py``): other Kafka tools
(kafka-topics ``--zookeeper``, Burrow, kafka-manager, zkCli scripts) read what we write, and
we must read what they and real Kafka brokers write (all versions listed in the doc).

Conventions (layout doc §1):

* JSON is compact (no spaces) and UTF-8; key order follows the doc's specimens.
* Kafka's type quirks are kept on purpose: ``timestamp``, ``block_start``/``block_end`` and
  ``/cluster/id``'s ``version`` are JSON *strings*; config values are always strings.
* A few nodes hold a bare decimal string (``/controller_epoch``, legacy consumer offsets).

This module is pure (L2): no kazoo, no trio, no clock. Timestamps come in as arguments.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import attrs

from kafkalite.model import BrokerEndpoint, BrokerInfo, TopicPartition
from kafkalite.zk.ops import CREATOR_ALL, CREATOR_ALL_WORLD_READ, OPEN, ZnodeAcl

__all__ = [
    "znode_acl", "SENSITIVE_ROOT_PATHS",
    "PERSISTENT_PATHS", "ConfigType", "LeaderIsrAndControllerEpoch", "TopicAssignment",
    "ProducerIdBlock", "ConsumerRegistration", "LEADER_NONE", "LEADER_DURING_DELETE",
    "ClusterIdZNode", "ControllerZNode", "ControllerEpochZNode", "BrokerIdsZNode",
    "BrokerIdZNode", "BrokerSequenceIdZNode", "TopicsZNode", "TopicZNode",
    "TopicPartitionsZNode", "TopicPartitionZNode", "TopicPartitionStateZNode",
    "DeleteTopicsZNode", "DeleteTopicZNode", "ReassignPartitionsZNode",
    "PreferredReplicaElectionZNode", "IsrChangeNotificationZNode",
    "LogDirEventNotificationZNode", "ConfigEntityTypeZNode", "ConfigEntityZNode",
    "ConfigEntityChangeNotificationZNode", "ProducerIdBlockZNode", "ConsumersZNode",
    "ConsumerIdsZNode", "ConsumerIdZNode", "ConsumerOwnerZNode", "ConsumerOffsetZNode",
    "FeatureZNode", "StoredAcl", "AclZNode", "AclChangeNotificationZNode",
    "ExtendedAclChangeNotificationZNode", "ACL_RESOURCE_TYPES", "acl_paths",
]

LEADER_NONE = -1            # no leader: the partition is offline
LEADER_DURING_DELETE = -2   # only sent in UpdateMetadata while a topic is being deleted


def _json(obj: Any) -> bytes:
    return json.dumps(obj, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def _load(data: bytes) -> Any:
    return json.loads(bytes(data).decode("utf-8"))


def _partitions_json(partitions: Iterable[TopicPartition]) -> list[dict[str, Any]]:
    return [{"topic": tp.topic, "partition": tp.partition} for tp in partitions]


def _replica_map(m: Mapping[int, Sequence[int]]) -> dict[str, list[int]]:
    # Partition numbers are JSON object keys, hence strings; numeric order for readability.
    return {str(p): [int(r) for r in m[p]] for p in sorted(m)}


def _read_replica_map(m: Mapping[str, Sequence[int]] | None) -> dict[int, tuple[int, ...]]:
    return {int(p): tuple(int(r) for r in rs) for p, rs in (m or {}).items()}


def _format_address(host: str | None, port: int) -> str:
    host = host or ""
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


# ------------------------------------------------------------------------------------------
# Values decoded from znodes


@attrs.frozen
class LeaderIsrAndControllerEpoch:
    """Content of a partition state znode plus its zkVersion (the partition epoch).

    ``zk_version`` is the znode's ``stat.version`` when read, -1 for a state not yet written.
    ``leader_recovery_state`` (KIP-704, 3.2+) is written only when non-zero.
    """

    leader: int
    leader_epoch: int
    isr: tuple[int, ...] = attrs.field(converter=tuple)
    controller_epoch: int
    zk_version: int = -1
    leader_recovery_state: int = 0

    def same_decision(self, other: LeaderIsrAndControllerEpoch) -> bool:
        """Equal content, ignoring zk_version (the lost-ack check of layout doc §6.5)."""
        return attrs.evolve(self, zk_version=-1) == attrs.evolve(other, zk_version=-1)


@attrs.frozen
class TopicAssignment:
    """``/brokers/topics/<t>``: replicas per partition, KIP-455 reassignment sets, topic id.

    ``zk_version`` (the znode's stat.version, -1 if unknown) is excluded from equality: two
    assignments are equal when their content is.
    """

    partitions: dict[int, tuple[int, ...]]
    adding: dict[int, tuple[int, ...]] = attrs.field(factory=dict)
    removing: dict[int, tuple[int, ...]] = attrs.field(factory=dict)
    topic_id: str | None = None
    zk_version: int = attrs.field(default=-1, eq=False)


@attrs.frozen
class ProducerIdBlock:
    """A block of producer ids owned by one broker; start and end inclusive."""

    broker_id: int
    block_start: int
    block_end: int


@attrs.frozen
class ConsumerRegistration:
    """A legacy (0.8) high-level consumer's ``/consumers/<g>/ids/<id>`` content."""

    subscription: dict[str, int]
    pattern: str = "static"
    timestamp_ms: int = -1


class ConfigType:
    """Entity types under ``/config`` (``ips`` is 2.7+)."""

    TOPIC = "topics"
    CLIENT = "clients"
    USER = "users"
    BROKER = "brokers"
    IP = "ips"
    ALL = (TOPIC, CLIENT, USER, BROKER, IP)


# ------------------------------------------------------------------------------------------
# Cluster, controller


class ClusterIdZNode:
    """``/cluster/id``: ``{"version":"1","id":"<22-char base64url uuid>"}`` (version is a string)."""

    @staticmethod
    def path() -> str:
        return "/cluster/id"

    @staticmethod
    def encode(cluster_id: str) -> bytes:
        return _json({"version": "1", "id": cluster_id})

    @staticmethod
    def decode(data: bytes) -> str:
        return str(_load(data)["id"])


class ControllerZNode:
    """``/controller`` (ephemeral): who is controller. We write v1; readers accept v1/v2."""

    @staticmethod
    def path() -> str:
        return "/controller"

    @staticmethod
    def encode(broker_id: int, timestamp_ms: int) -> bytes:
        return _json({"version": 1, "brokerid": broker_id, "timestamp": str(timestamp_ms)})

    @staticmethod
    def decode(data: bytes) -> int:
        """The controller's broker id (v1/v2 JSON; a bare number is tolerated)."""
        js = _load(data)
        return int(js["brokerid"]) if isinstance(js, dict) else int(js)


class ControllerEpochZNode:
    """``/controller_epoch``: bare decimal; its stat.version is the fencing "epoch zkVersion"."""

    @staticmethod
    def path() -> str:
        return "/controller_epoch"

    @staticmethod
    def encode(epoch: int) -> bytes:
        return str(epoch).encode("ascii")

    @staticmethod
    def decode(data: bytes) -> int:
        return int(bytes(data).decode("ascii").strip())


# ------------------------------------------------------------------------------------------
# Brokers


class BrokerIdsZNode:
    """``/brokers/ids``: parent of the broker registrations (controller child-watches it)."""

    @staticmethod
    def path() -> str:
        return "/brokers/ids"


class BrokerIdZNode:
    """``/brokers/ids/<id>`` (ephemeral): broker registration, versions 1-5 (layout doc §3.4).

    We write v4 (v5 adds ``"features":{}``). ``host``/``port`` name the first endpoint whose
    security protocol is PLAINTEXT (``null``/-1 if none), for pre-0.9 clients. The znode's
    czxid is the broker epoch (KIP-380): it is not in the payload, callers pass it to decode.
    """

    @staticmethod
    def path(broker_id: int) -> str:
        return f"{BrokerIdsZNode.path()}/{broker_id}"

    @staticmethod
    def encode(info: BrokerInfo, *, timestamp_ms: int, jmx_port: int = -1,
               version: int = 4, features: Mapping[str, Any] | None = None) -> bytes:
        if version not in (4, 5):
            raise ValueError(f"kafkalite writes broker registration v4 or v5, not v{version}")
        plain = next((ep for ep in info.endpoints if ep.security_protocol == "PLAINTEXT"), None)
        obj: dict[str, Any] = {
            "version": version,
            "host": plain.host if plain else None,
            "port": plain.port if plain else -1,
            "jmx_port": jmx_port,
            "timestamp": str(timestamp_ms),
            "endpoints": [f"{ep.listener}://{_format_address(ep.host, ep.port)}"
                          for ep in info.endpoints],
            "listener_security_protocol_map": {ep.listener: ep.security_protocol
                                               for ep in info.endpoints},
        }
        if info.rack is not None:
            obj["rack"] = info.rack
        if version >= 5:
            obj["features"] = dict(features or {})
        return _json(obj)

    @staticmethod
    def decode(data: bytes, broker_id: int, broker_epoch: int = -1) -> BrokerInfo:
        js = _load(data)
        version = int(js.get("version", 1))
        if version <= 1 or not js.get("endpoints"):
            host, port = js.get("host"), js.get("port")
            endpoints: tuple[BrokerEndpoint, ...] = ()
            if host is not None and port is not None and int(port) >= 0:
                endpoints = (BrokerEndpoint("PLAINTEXT", host, int(port), "PLAINTEXT"),)
        else:
            protocols = js.get("listener_security_protocol_map") or {}
            eps = []
            for s in js["endpoints"]:
                listener, _, address = s.partition("://")
                host, _, port = address.rpartition(":")
                if host.startswith("[") and host.endswith("]"):
                    host = host[1:-1]
                eps.append(BrokerEndpoint(listener, host, int(port),
                                          protocols.get(listener, listener)))
            endpoints = tuple(eps)
        return BrokerInfo(broker_id=broker_id, endpoints=endpoints, rack=js.get("rack"),
                          broker_epoch=broker_epoch)


class BrokerSequenceIdZNode:
    """``/brokers/seqid``: empty; ``setData`` bumps its version = next auto broker id sequence."""

    @staticmethod
    def path() -> str:
        return "/brokers/seqid"


# ------------------------------------------------------------------------------------------
# Topics and partitions


class TopicsZNode:
    """``/brokers/topics``: one child per topic (controller child-watches it)."""

    @staticmethod
    def path() -> str:
        return "/brokers/topics"


class TopicZNode:
    """``/brokers/topics/<t>``: replica assignment JSON, versions 1-3 (layout doc §3.6).

    We write v2 (both reassignment maps always present) or v3 when a topic id is given.
    During a reassignment ``partitions[p]`` = target replicas + original ones not in target.
    """

    @staticmethod
    def path(topic: str) -> str:
        return f"{TopicsZNode.path()}/{topic}"

    @staticmethod
    def encode(partitions: Mapping[int, Sequence[int]], *,
               adding: Mapping[int, Sequence[int]] | None = None,
               removing: Mapping[int, Sequence[int]] | None = None,
               topic_id: str | None = None) -> bytes:
        obj: dict[str, Any] = {
            "version": 3 if topic_id is not None else 2,
            "partitions": _replica_map(partitions),
            "adding_replicas": _replica_map(adding or {}),
            "removing_replicas": _replica_map(removing or {}),
        }
        if topic_id is not None:
            obj["topic_id"] = topic_id
        return _json(obj)

    @staticmethod
    def encode_assignment(a: TopicAssignment) -> bytes:
        return TopicZNode.encode(a.partitions, adding=a.adding, removing=a.removing,
                                 topic_id=a.topic_id)

    @staticmethod
    def decode(data: bytes, zk_version: int = -1) -> TopicAssignment:
        js = _load(data)
        return TopicAssignment(
            partitions=_read_replica_map(js.get("partitions")),
            adding=_read_replica_map(js.get("adding_replicas")),
            removing=_read_replica_map(js.get("removing_replicas")),
            topic_id=js.get("topic_id"),
            zk_version=zk_version,
        )


class TopicPartitionsZNode:
    """``/brokers/topics/<t>/partitions`` (empty)."""

    @staticmethod
    def path(topic: str) -> str:
        return f"{TopicZNode.path(topic)}/partitions"


class TopicPartitionZNode:
    """``/brokers/topics/<t>/partitions/<p>`` (empty)."""

    @staticmethod
    def path(topic: str, partition: int) -> str:
        return f"{TopicPartitionsZNode.path(topic)}/{partition}"


class TopicPartitionStateZNode:
    """``.../partitions/<p>/state``: leader and ISR, version 1 (layout doc §3.7).

    Its stat.version is the partition epoch; every writer compare-and-sets on it.
    """

    @staticmethod
    def path(topic: str, partition: int) -> str:
        return f"{TopicPartitionZNode.path(topic, partition)}/state"

    @staticmethod
    def encode(state: LeaderIsrAndControllerEpoch) -> bytes:
        """The bytes ``_json`` gives for ``{"controller_epoch", "leader", "version": 1,
        "leader_epoch", "isr"[, "leader_recovery_state"]}``, formatted directly: a failover
        writes thousands of states at once, and json.dumps cost more than the writes."""
        recovery = (f',"leader_recovery_state":{int(state.leader_recovery_state)}'
                    if state.leader_recovery_state else "")
        return (f'{{"controller_epoch":{int(state.controller_epoch)},'
                f'"leader":{int(state.leader)},"version":1,'
                f'"leader_epoch":{int(state.leader_epoch)},'
                f'"isr":[{",".join(str(int(b)) for b in state.isr)}]{recovery}}}'
                ).encode("ascii")

    @staticmethod
    def decode(data: bytes, zk_version: int) -> LeaderIsrAndControllerEpoch:
        js = _load(data)
        return LeaderIsrAndControllerEpoch(
            leader=int(js["leader"]),
            leader_epoch=int(js["leader_epoch"]),
            isr=tuple(int(b) for b in js["isr"]),
            controller_epoch=int(js["controller_epoch"]),
            zk_version=zk_version,
            leader_recovery_state=int(js.get("leader_recovery_state", 0)),
        )


# ------------------------------------------------------------------------------------------
# Admin triggers and notifications


class DeleteTopicsZNode:
    """``/admin/delete_topics``: one child per topic marked for deletion."""

    @staticmethod
    def path() -> str:
        return "/admin/delete_topics"


class DeleteTopicZNode:
    """``/admin/delete_topics/<t>``: empty marker."""

    @staticmethod
    def path(topic: str) -> str:
        return f"{DeleteTopicsZNode.path()}/{topic}"

    @staticmethod
    def encode() -> bytes:
        return b""


class ReassignPartitionsZNode:
    """``/admin/reassign_partitions``: the legacy reassignment trigger (layout doc §3.9)."""

    @staticmethod
    def path() -> str:
        return "/admin/reassign_partitions"

    @staticmethod
    def encode(reassignment: Mapping[TopicPartition, Sequence[int]]) -> bytes:
        return _json({"version": 1, "partitions": [
            {"topic": tp.topic, "partition": tp.partition, "replicas": list(rs)}
            for tp, rs in reassignment.items()]})

    @staticmethod
    def decode(data: bytes) -> dict[TopicPartition, tuple[int, ...]]:
        return {TopicPartition(e["topic"], int(e["partition"])): tuple(e["replicas"])
                for e in _load(data).get("partitions", [])}


class PreferredReplicaElectionZNode:
    """``/admin/preferred_replica_election``: legacy preferred-election trigger (§3.10)."""

    @staticmethod
    def path() -> str:
        return "/admin/preferred_replica_election"

    @staticmethod
    def encode(partitions: Iterable[TopicPartition]) -> bytes:
        return _json({"version": 1, "partitions": _partitions_json(partitions)})

    @staticmethod
    def decode(data: bytes) -> list[TopicPartition]:
        return [TopicPartition(e["topic"], int(e["partition"]))
                for e in _load(data).get("partitions", [])]


class _SequentialNotification:
    """Shared shape of persistent-sequential notification queues.

    Children are named ``<PREFIX><10-digit zero-padded counter>``; create them at
    :meth:`sequence_path` with ``sequence=True``.
    """

    PARENT = ""
    PREFIX = ""

    @classmethod
    def path(cls) -> str:
        return cls.PARENT

    @classmethod
    def sequence_path(cls) -> str:
        return f"{cls.PARENT}/{cls.PREFIX}"

    @classmethod
    def child_path(cls, name: str) -> str:
        return f"{cls.PARENT}/{name}"

    @classmethod
    def sequence_number(cls, name: str) -> int:
        """The counter of a child name (``isr_change_0000000042`` -> 42)."""
        return int(name.rsplit("/", 1)[-1][len(cls.PREFIX):])


class IsrChangeNotificationZNode(_SequentialNotification):
    """``/isr_change_notification/isr_change_<seq>``: partitions whose ISR a leader changed."""

    PARENT = "/isr_change_notification"
    PREFIX = "isr_change_"

    @staticmethod
    def encode(partitions: Iterable[TopicPartition]) -> bytes:
        return _json({"version": 1, "partitions": _partitions_json(partitions)})

    @staticmethod
    def decode(data: bytes) -> list[TopicPartition]:
        return [TopicPartition(e["topic"], int(e["partition"]))
                for e in _load(data).get("partitions", [])]


class LogDirEventNotificationZNode(_SequentialNotification):
    """``/log_dir_event_notification/log_dir_event_<seq>``: a broker's log dir failed."""

    PARENT = "/log_dir_event_notification"
    PREFIX = "log_dir_event_"
    LOG_DIR_FAILURE = 1

    @staticmethod
    def encode(broker_id: int, event: int = 1) -> bytes:
        return _json({"version": 1, "broker": broker_id, "event": event})

    @staticmethod
    def decode(data: bytes) -> tuple[int, int]:
        """(broker_id, event)."""
        js = _load(data)
        return int(js["broker"]), int(js.get("event", 1))


# ------------------------------------------------------------------------------------------
# Configs


class ConfigEntityTypeZNode:
    """``/config/<type>``: parent of one entity type's config nodes."""

    @staticmethod
    def path(entity_type: str) -> str:
        return f"/config/{entity_type}"


class ConfigEntityZNode:
    """``/config/<type>/<name>``: ``{"version":1,"config":{k: str}}`` (layout doc §3.13).

    Keys are written sorted (Kafka's order is a hash map's; sorted is deterministic).
    """

    @staticmethod
    def path(entity_type: str, entity_name: str) -> str:
        return f"{ConfigEntityTypeZNode.path(entity_type)}/{entity_name}"

    @staticmethod
    def encode(config: Mapping[str, str]) -> bytes:
        return _json({"version": 1, "config": {k: str(config[k]) for k in sorted(config)}})

    @staticmethod
    def decode(data: bytes | None) -> dict[str, str]:
        if not data:
            return {}
        js = _load(data)
        return {str(k): str(v) for k, v in (js.get("config") or {}).items()}


class ConfigEntityChangeNotificationZNode(_SequentialNotification):
    """``/config/changes/config_change_<seq>``: "re-read this config" (layout doc §3.14).

    Written v2 ``{"version":2,"entity_path":"topics/foo"}``; v1 (type + name) is read too.
    """

    PARENT = "/config/changes"
    PREFIX = "config_change_"

    @staticmethod
    def encode(entity_path: str) -> bytes:
        return _json({"version": 2, "entity_path": entity_path})

    @staticmethod
    def decode(data: bytes) -> str:
        """The entity path, e.g. ``topics/foo`` or ``users/alice/clients/app``."""
        js = _load(data)
        if int(js.get("version", 1)) == 1:
            return f"{js['entity_type']}/{js['entity_name']}"
        return str(js["entity_path"])


# ------------------------------------------------------------------------------------------
# Producer ids


class ProducerIdBlockZNode:
    """``/latest_producer_id_block``: the last allocated block (layout doc §3.15).

    Brokers claim the next block with a compare-and-set on this node's zkVersion.
    """

    BLOCK_SIZE = 1000

    @staticmethod
    def path() -> str:
        return "/latest_producer_id_block"

    @staticmethod
    def encode(block: ProducerIdBlock) -> bytes:
        return _json({"version": 1, "broker": block.broker_id,
                      "block_start": str(block.block_start), "block_end": str(block.block_end)})

    @staticmethod
    def decode(data: bytes | None) -> ProducerIdBlock | None:
        """None for the empty node a fresh cluster starts with."""
        if not data:
            return None
        js = _load(data)
        return ProducerIdBlock(int(js["broker"]), int(js["block_start"]), int(js["block_end"]))

    @staticmethod
    def next_block(current: ProducerIdBlock | None, broker_id: int) -> ProducerIdBlock:
        """The block after ``current`` (first block 0..999); raises when ids run out."""
        start = 0 if current is None else current.block_end + 1
        end = start + ProducerIdBlockZNode.BLOCK_SIZE - 1
        if end > 2**63 - 1:
            raise OverflowError("producer ids exhausted: no block fits below 2^63")
        return ProducerIdBlock(broker_id, start, end)


# ------------------------------------------------------------------------------------------
# Legacy (0.8) consumers, layout doc §4


class ConsumersZNode:
    """``/consumers``: world-writable root of the legacy consumer paths."""

    @staticmethod
    def path() -> str:
        return "/consumers"


class ConsumerIdsZNode:
    """``/consumers/<group>/ids``: the group's live legacy consumers."""

    @staticmethod
    def path(group: str) -> str:
        return f"{ConsumersZNode.path()}/{group}/ids"


class ConsumerIdZNode:
    """``/consumers/<group>/ids/<consumer-id>`` (ephemeral): a legacy consumer registration."""

    @staticmethod
    def path(group: str, consumer_id: str) -> str:
        return f"{ConsumerIdsZNode.path(group)}/{consumer_id}"

    @staticmethod
    def encode(reg: ConsumerRegistration) -> bytes:
        return _json({"version": 1, "subscription": dict(reg.subscription),
                      "pattern": reg.pattern, "timestamp": str(reg.timestamp_ms)})

    @staticmethod
    def decode(data: bytes) -> ConsumerRegistration:
        js = _load(data)
        return ConsumerRegistration(
            subscription={str(k): int(v) for k, v in js.get("subscription", {}).items()},
            pattern=js.get("pattern", "static"),
            timestamp_ms=int(js.get("timestamp", -1)))


class ConsumerOwnerZNode:
    """``/consumers/<g>/owners/<t>/<p>`` (ephemeral): owning thread id as a plain string."""

    @staticmethod
    def path(group: str, topic: str, partition: int) -> str:
        return f"{ConsumersZNode.path()}/{group}/owners/{topic}/{partition}"

    @staticmethod
    def encode(thread_id: str) -> bytes:
        return thread_id.encode("utf-8")

    @staticmethod
    def decode(data: bytes) -> str:
        return bytes(data).decode("utf-8")


class ConsumerOffsetZNode:
    """``/consumers/<g>/offsets/<t>/<p>``: committed offset as a plain decimal (no newline)."""

    @staticmethod
    def path(group: str, topic: str, partition: int) -> str:
        return f"{ConsumersZNode.path()}/{group}/offsets/{topic}/{partition}"

    @staticmethod
    def encode(offset: int) -> bytes:
        return str(offset).encode("ascii")

    @staticmethod
    def decode(data: bytes) -> int:
        return int(bytes(data).decode("ascii").strip())


# ------------------------------------------------------------------------------------------
# Features (KIP-584, 2.7+)


class FeatureZNode:
    """``/feature``: finalized features; kafkalite writes the disabled form (status 0)."""

    @staticmethod
    def path() -> str:
        return "/feature"

    @staticmethod
    def encode(status: int = 0, features: Mapping[str, Mapping[str, int]] | None = None,
               version: int = 1) -> bytes:
        return _json({"version": version, "status": status,
                      "features": {k: dict(v) for k, v in (features or {}).items()}})

    @staticmethod
    def decode(data: bytes) -> dict[str, Any]:
        """``{"version":..,"status":..,"features":{..}}`` as a dict."""
        js = _load(data)
        return {"version": int(js["version"]), "status": int(js.get("status", 0)),
                "features": dict(js.get("features") or {})}


# ------------------------------------------------------------------------------------------
# ACLs (AclAuthorizer, layout doc §3.17; Kafka's ZkAclStore / ZkAclChangeStore)

#: Resource-type path segments, in Kafka's Pascal case (``SecurityUtils.resourceTypeName``).
ACL_RESOURCE_TYPES: tuple[str, ...] = ("Topic", "Group", "Cluster", "TransactionalId",
                                       "DelegationToken")


@attrs.frozen
class StoredAcl:
    """One entry of an ACL znode as stored: Pascal-case names (``Allow``, ``Read``)."""

    principal: str
    permission_type: str
    operation: str
    host: str


class AclZNode:
    """``/kafka-acl/<Type>/<name>`` (LITERAL) and ``/kafka-acl-extended/<pattern>/<Type>/<name>``
    (other pattern types, lower-cased: ``prefixed``, KIP-290): the ACLs of one resource pattern.

    ``{"version":1,"acls":[{"principal":"User:alice","permissionType":"Allow",
    "operation":"Read","host":"*"}]}`` — keys in Kafka's order. Writers compare-and-set on the
    znode's version, then post a change notification; a pattern without ACLs has no znode.
    """

    LITERAL_ROOT = "/kafka-acl"
    EXTENDED_ROOT = "/kafka-acl-extended"

    @staticmethod
    def root(pattern_type: str = "LITERAL") -> str:
        """The store of a pattern type (its enum name, e.g. ``PREFIXED``)."""
        if pattern_type.upper() == "LITERAL":
            return AclZNode.LITERAL_ROOT
        return f"{AclZNode.EXTENDED_ROOT}/{pattern_type.lower()}"

    @staticmethod
    def type_path(resource_type: str, pattern_type: str = "LITERAL") -> str:
        return f"{AclZNode.root(pattern_type)}/{resource_type}"

    @staticmethod
    def path(resource_type: str, name: str, pattern_type: str = "LITERAL") -> str:
        return f"{AclZNode.type_path(resource_type, pattern_type)}/{name}"

    @staticmethod
    def encode(acls: Iterable[StoredAcl]) -> bytes:
        return _json({"version": 1, "acls": [
            {"principal": a.principal, "permissionType": a.permission_type,
             "operation": a.operation, "host": a.host} for a in acls]})

    @staticmethod
    def decode(data: bytes | None) -> list[StoredAcl]:
        """Entries of an ACL znode; empty data is no entries.

        Raises:
            ValueError: not version 1 (Kafka requires it), or not this JSON shape.
        """
        if not data:
            return []
        js = _load(data)
        if not isinstance(js, dict) or js.get("version") != 1:
            raise ValueError(f"unsupported ACL znode version: {bytes(data)[:80]!r}")
        return [StoredAcl(principal=str(a["principal"]),
                          permission_type=str(a["permissionType"]),
                          operation=str(a["operation"]), host=str(a["host"]))
                for a in js.get("acls") or []]


class AclChangeNotificationZNode(_SequentialNotification):
    """``/kafka-acl-changes/acl_changes_<seq>``: a LITERAL pattern's ACLs changed.

    Data is the plain string ``<RESOURCE_TYPE>:<name>``. Kafka 2.4+ writes the enum constant
    name (``TOPIC:foo``, ``TRANSACTIONAL_ID:t``); 2.0-2.3 wrote ``Topic:foo``. Readers split at
    the first ``:`` and match the type case-insensitively, as Kafka's ``ResourceType.fromString``.
    """

    PARENT = "/kafka-acl-changes"
    PREFIX = "acl_changes_"

    @staticmethod
    def encode(resource_type: str, name: str) -> bytes:
        return f"{resource_type}:{name}".encode("utf-8")

    @staticmethod
    def decode(data: bytes) -> tuple[str, str]:
        """``(resource type as written, name)``.

        Raises:
            ValueError: no ``:`` separator.
        """
        text = bytes(data).decode("utf-8")
        resource_type, sep, name = text.partition(":")
        if not sep:
            raise ValueError(f"expected a string in format ResourceType:ResourceName but got "
                             f"{text}")
        return resource_type, name


class ExtendedAclChangeNotificationZNode(_SequentialNotification):
    """``/kafka-acl-extended-changes/acl_changes_<seq>``: a non-literal pattern's ACLs changed.

    ``{"version":1,"resourceType":"TOPIC","name":"foo","patternType":"PREFIXED"}`` (Kafka's
    ``ExtendedAclChangeEvent``: enum constant names, Jackson field order).
    """

    PARENT = "/kafka-acl-extended-changes"
    PREFIX = "acl_changes_"

    @staticmethod
    def encode(resource_type: str, name: str, pattern_type: str) -> bytes:
        return _json({"version": 1, "resourceType": resource_type, "name": name,
                      "patternType": pattern_type})

    @staticmethod
    def decode(data: bytes) -> tuple[str, str, str]:
        """``(resource type, name, pattern type)`` as written.

        Raises:
            ValueError: a version above 1 or a malformed event.
        """
        js = _load(data)
        if int(js.get("version", 1)) > 1:
            raise ValueError(f"Acl change event received for unsupported version: "
                             f"{js.get('version')}")
        try:
            return str(js["resourceType"]), str(js["name"]), str(js["patternType"])
        except KeyError as e:
            raise ValueError(f"Failed to parse ACL change event: missing {e}") from None


def acl_paths() -> list[str]:
    """What AclAuthorizer creates at start (``KafkaZkClient.createAclPaths``): each store and
    its resource-type children (LITERAL, then PREFIXED), then both change-notification roots."""
    out = []
    for pattern_type in ("LITERAL", "PREFIXED"):
        out.append(AclZNode.root(pattern_type))
        out.extend(AclZNode.type_path(t, pattern_type) for t in ACL_RESOURCE_TYPES)
    out += [AclChangeNotificationZNode.PARENT, ExtendedAclChangeNotificationZNode.PARENT]
    return out


PERSISTENT_PATHS: tuple[str, ...] = (
    ConsumersZNode.path(),
    BrokerIdsZNode.path(),
    TopicsZNode.path(),
    BrokerSequenceIdZNode.path(),
    ConfigEntityChangeNotificationZNode.path(),
    DeleteTopicsZNode.path(),
    IsrChangeNotificationZNode.path(),
    ProducerIdBlockZNode.path(),
    LogDirEventNotificationZNode.path(),
    *(ConfigEntityTypeZNode.path(t) for t in ConfigType.ALL),
)
"""Persistent, empty nodes every broker ensures at startup (layout doc §1), in Kafka's order."""


# ------------------------------------------------------------------------------------------
# ZooKeeper ACLs (zookeeper.set.acl=true)

SENSITIVE_ROOT_PATHS: tuple[str, ...] = (
    ConfigEntityTypeZNode.path(ConfigType.USER),
    ConfigEntityTypeZNode.path(ConfigType.BROKER),
    "/delegation_token",
)
"""Subtrees nobody but the brokers' identity may read (Kafka's ``ZkData.sensitiveRootPaths``):
SCRAM credentials and broker configs hold secrets."""


def znode_acl(path: str) -> ZnodeAcl:
    """The ACL a secure Kafka gives a new znode (Kafka's ``ZkData.defaultAcls``): the creator's
    identity may do everything; everybody may read, except under :data:`SENSITIVE_ROOT_PATHS`;
    ``/consumers`` itself stays open because old consumers (other identities) register there.
    """
    if path == ConsumersZNode.path():
        return OPEN
    if any(path == root or path.startswith(root + "/") for root in SENSITIVE_ROOT_PATHS):
        return CREATOR_ALL
    return CREATOR_ALL_WORLD_READ
