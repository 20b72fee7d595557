"""Byte-exact znode formats against the specimens of docs/zookeeper-layout.md."""

from __future__ import annotations

import attrs
import pytest

from kafkalite.model import BrokerEndpoint, BrokerInfo, TopicPartition
from kafkalite.zk.znodes import (
    PERSISTENT_PATHS, BrokerIdsZNode, BrokerIdZNode, BrokerSequenceIdZNode, ClusterIdZNode,
    ConfigEntityChangeNotificationZNode, ConfigEntityZNode, ConsumerIdsZNode, ConsumerIdZNode,
    ConsumerOffsetZNode, ConsumerOwnerZNode, ConsumerRegistration, ControllerEpochZNode,
    ControllerZNode, DeleteTopicsZNode, DeleteTopicZNode, FeatureZNode,
    IsrChangeNotificationZNode, LeaderIsrAndControllerEpoch, LogDirEventNotificationZNode,
    PreferredReplicaElectionZNode, ProducerIdBlock, ProducerIdBlockZNode,
    ReassignPartitionsZNode, TopicAssignment, TopicPartitionStateZNode, TopicPartitionsZNode,
    TopicPartitionZNode, TopicsZNode, TopicZNode)

TS = 1700000000000


def test_cluster_id() -> None:
    raw = b'{"version":"1","id":"Zx3cT0pxRmWw2v7sXk0K4Q"}'
    assert ClusterIdZNode.path() == "/cluster/id"
    assert ClusterIdZNode.encode("Zx3cT0pxRmWw2v7sXk0K4Q") == raw
    assert ClusterIdZNode.decode(raw) == "Zx3cT0pxRmWw2v7sXk0K4Q"


def test_controller_v1_written_v1_v2_read() -> None:
    assert ControllerZNode.path() == "/controller"
    raw = b'{"version":1,"brokerid":2,"timestamp":"1700000000000"}'
    assert ControllerZNode.encode(2, TS) == raw
    assert ControllerZNode.decode(raw) == 2
    v2 = b'{"version":2,"brokerid":2,"timestamp":"1700000000000","kraftControllerEpoch":-1}'
    assert ControllerZNode.decode(v2) == 2


def test_controller_epoch_is_a_bare_decimal() -> None:
    assert ControllerEpochZNode.path() == "/controller_epoch"
    assert ControllerEpochZNode.encode(7) == b"7"
    assert ControllerEpochZNode.decode(b"7") == 7


V4_INFO = BrokerInfo(1, (BrokerEndpoint("CLIENT", "h1", 9092, "PLAINTEXT"),
                         BrokerEndpoint("REPLICATION", "h1", 9093, "SSL")), rack="dc1")
V4_RAW = (b'{"version":4,"host":"h1","port":9092,"jmx_port":-1,"timestamp":"1700000000000",'
          b'"endpoints":["CLIENT://h1:9092","REPLICATION://h1:9093"],'
          b'"listener_security_protocol_map":{"CLIENT":"PLAINTEXT","REPLICATION":"SSL"},'
          b'"rack":"dc1"}')


def test_broker_registration_v4_byte_exact() -> None:
    assert BrokerIdsZNode.path() == "/brokers/ids"
    assert BrokerIdZNode.path(1) == "/brokers/ids/1"
    assert BrokerIdZNode.encode(V4_INFO, timestamp_ms=TS) == V4_RAW
    assert BrokerIdZNode.decode(V4_RAW, 1, broker_epoch=42) == \
        BrokerInfo(1, V4_INFO.endpoints, rack="dc1", broker_epoch=42)


def test_broker_registration_v5_adds_features() -> None:
    raw = BrokerIdZNode.encode(V4_INFO, timestamp_ms=TS, version=5)
    assert raw == V4_RAW.replace(b'"version":4', b'"version":5')[:-1] + b',"features":{}}'
    assert BrokerIdZNode.decode(raw, 1) == V4_INFO


def test_broker_registration_without_rack_or_plaintext() -> None:
    info = BrokerInfo(3, (BrokerEndpoint("SSL", "h3", 9093, "SSL"),))
    raw = BrokerIdZNode.encode(info, timestamp_ms=TS)
    assert raw == (b'{"version":4,"host":null,"port":-1,"jmx_port":-1,'
                   b'"timestamp":"1700000000000","endpoints":["SSL://h3:9093"],'
                   b'"listener_security_protocol_map":{"SSL":"SSL"}}')
    assert BrokerIdZNode.decode(raw, 3) == info


def test_broker_registration_ipv6_host_is_bracketed() -> None:
    info = BrokerInfo(0, (BrokerEndpoint("PLAINTEXT", "::1", 9092),))
    raw = BrokerIdZNode.encode(info, timestamp_ms=TS)
    assert b'"endpoints":["PLAINTEXT://[::1]:9092"]' in raw
    assert BrokerIdZNode.decode(raw, 0).endpoints == info.endpoints


def test_broker_registration_rejects_versions_we_do_not_write() -> None:
    with pytest.raises(ValueError):
        BrokerIdZNode.encode(V4_INFO, timestamp_ms=TS, version=3)


@pytest.mark.parametrize("raw,endpoints,rack", [
    (b'{"version":1,"host":"h1","port":9092,"jmx_port":-1,"timestamp":"1700000000000"}',
     (BrokerEndpoint("PLAINTEXT", "h1", 9092, "PLAINTEXT"),), None),
    (b'{"version":2,"host":"h1","port":9092,"jmx_port":9999,"timestamp":"1700000000000",'
     b'"endpoints":["PLAINTEXT://h1:9092","SSL://h1:9093"]}',
     (BrokerEndpoint("PLAINTEXT", "h1", 9092, "PLAINTEXT"),
      BrokerEndpoint("SSL", "h1", 9093, "SSL")), None),
    (b'{"version":3,"host":"h1","port":9092,"jmx_port":-1,"timestamp":"1700000000000",'
     b'"endpoints":["PLAINTEXT://h1:9092"],"rack":"dc1"}',
     (BrokerEndpoint("PLAINTEXT", "h1", 9092, "PLAINTEXT"),), "dc1"),
    (V4_RAW, V4_INFO.endpoints, "dc1"),
    (b'{"version":5,"host":null,"port":-1,"jmx_port":-1,"timestamp":"1700000000000",'
     b'"endpoints":["INTERNAL://:19092"],"listener_security_protocol_map":'
     b'{"INTERNAL":"SASL_PLAINTEXT"},"features":{"metadata.version":'
     b'{"min_version":1,"max_version":3}}}',
     (BrokerEndpoint("INTERNAL", "", 19092, "SASL_PLAINTEXT"),), None),
], ids=["v1", "v2", "v3", "v4", "v5"])
def test_broker_registration_read_v1_to_v5(raw: bytes, endpoints: tuple, rack: str) -> None:
    info = BrokerIdZNode.decode(raw, 7, broker_epoch=99)
    assert info == BrokerInfo(7, endpoints, rack=rack, broker_epoch=99)


def test_broker_seqid_and_topics_paths() -> None:
    assert BrokerSequenceIdZNode.path() == "/brokers/seqid"
    assert TopicsZNode.path() == "/brokers/topics"
    assert TopicZNode.path("foo") == "/brokers/topics/foo"
    assert TopicPartitionsZNode.path("foo") == "/brokers/topics/foo/partitions"
    assert TopicPartitionZNode.path("foo", 3) == "/brokers/topics/foo/partitions/3"
    assert TopicPartitionStateZNode.path("foo", 3) == "/brokers/topics/foo/partitions/3/state"


def test_topic_assignment_v2_byte_exact() -> None:
    raw = (b'{"version":2,"partitions":{"0":[4,5,6,1,2,3]},"adding_replicas":{"0":[4,5,6]},'
           b'"removing_replicas":{"0":[1,2,3]}}')
    assert TopicZNode.encode({0: [4, 5, 6, 1, 2, 3]}, adding={0: [4, 5, 6]},
                             removing={0: [1, 2, 3]}) == raw
    assert TopicZNode.decode(raw, zk_version=4) == TopicAssignment(
        {0: (4, 5, 6, 1, 2, 3)}, {0: (4, 5, 6)}, {0: (1, 2, 3)})
    assert TopicZNode.decode(raw, zk_version=4).zk_version == 4


def test_topic_assignment_empty_maps_always_written() -> None:
    assert TopicZNode.encode({0: [1, 2, 3], 1: [2, 3, 1]}) == (
        b'{"version":2,"partitions":{"0":[1,2,3],"1":[2,3,1]},'
        b'"adding_replicas":{},"removing_replicas":{}}')


def test_topic_assignment_partitions_in_numeric_order() -> None:
    raw = TopicZNode.encode({p: [0] for p in (10, 2, 0, 1)})
    assert raw.startswith(b'{"version":2,"partitions":{"0":[0],"1":[0],"2":[0],"10":[0]}')


def test_topic_assignment_v3_with_topic_id() -> None:
    raw = TopicZNode.encode({0: [1]}, topic_id="AAAAAAAAAAAAAAAAAAAAAA")
    assert raw == (b'{"version":3,"partitions":{"0":[1]},"adding_replicas":{},'
                   b'"removing_replicas":{},"topic_id":"AAAAAAAAAAAAAAAAAAAAAA"}')
    a = TopicZNode.decode(raw)
    assert a.topic_id == "AAAAAAAAAAAAAAAAAAAAAA"
    assert TopicZNode.encode_assignment(a) == raw


def test_topic_assignment_v1_read() -> None:
    a = TopicZNode.decode(b'{"version":1,"partitions":{"0":[1,2,3],"1":[2,3,1]}}')
    assert a == TopicAssignment({0: (1, 2, 3), 1: (2, 3, 1)})
    assert a.adding == {} and a.removing == {} and a.topic_id is None


def test_partition_state_byte_exact() -> None:
    raw = b'{"controller_epoch":3,"leader":1,"version":1,"leader_epoch":5,"isr":[1,2,3]}'
    state = LeaderIsrAndControllerEpoch(leader=1, leader_epoch=5, isr=(1, 2, 3),
                                        controller_epoch=3, zk_version=9)
    assert TopicPartitionStateZNode.encode(state) == raw
    assert TopicPartitionStateZNode.decode(raw, zk_version=9) == state


def test_partition_state_leader_recovery_state_only_when_set() -> None:
    state = LeaderIsrAndControllerEpoch(2, 0, [2], 1, leader_recovery_state=1)
    raw = TopicPartitionStateZNode.encode(state)
    assert raw.endswith(b'"isr":[2],"leader_recovery_state":1}')
    assert TopicPartitionStateZNode.decode(raw, -1) == state
    assert state.isr == (2,)


@pytest.mark.parametrize("leader, epoch, isr, controller_epoch, recovery", [
    (-1, 0, (), 0, 0), (0, 2**31 - 1, (0,), 7, 0), (1002, 3, (1002, 7, 3), 12, 1),
    (-2, 1, (5, 4), 2**31 - 1, 0)])
def test_partition_state_encoded_as_json_dumps_would(leader, epoch, isr, controller_epoch,
                                                     recovery) -> None:
    """The state is formatted by hand (failovers write thousands): the same bytes as the
    generic JSON writer, which Kafka's ZooKeeper readers parse."""
    import json

    state = LeaderIsrAndControllerEpoch(leader, epoch, isr, controller_epoch,
                                        leader_recovery_state=recovery)
    obj = {"controller_epoch": controller_epoch, "leader": leader, "version": 1,
           "leader_epoch": epoch, "isr": list(isr)}
    if recovery:
        obj["leader_recovery_state"] = recovery
    assert TopicPartitionStateZNode.encode(state) == json.dumps(
        obj, separators=(",", ":")).encode()
    assert TopicPartitionStateZNode.decode(TopicPartitionStateZNode.encode(state), 4) == \
        attrs.evolve(state, zk_version=4)


def test_same_decision_ignores_zk_version() -> None:
    a = LeaderIsrAndControllerEpoch(1, 5, (1, 2), 3, zk_version=7)
    assert a.same_decision(LeaderIsrAndControllerEpoch(1, 5, (1, 2), 3, zk_version=8))
    assert not a.same_decision(LeaderIsrAndControllerEpoch(1, 5, (1,), 3, zk_version=7))


def test_delete_topic_marker() -> None:
    assert DeleteTopicsZNode.path() == "/admin/delete_topics"
    assert DeleteTopicZNode.path("foo") == "/admin/delete_topics/foo"
    assert DeleteTopicZNode.encode() == b""


def test_reassign_partitions() -> None:
    raw = b'{"version":1,"partitions":[{"topic":"foo","partition":0,"replicas":[4,5,6]}]}'
    assert ReassignPartitionsZNode.path() == "/admin/reassign_partitions"
    assert ReassignPartitionsZNode.encode({TopicPartition("foo", 0): [4, 5, 6]}) == raw
    assert ReassignPartitionsZNode.decode(raw) == {TopicPartition("foo", 0): (4, 5, 6)}


def test_preferred_replica_election() -> None:
    raw = b'{"version":1,"partitions":[{"topic":"foo","partition":0}]}'
    assert PreferredReplicaElectionZNode.path() == "/admin/preferred_replica_election"
    assert PreferredReplicaElectionZNode.encode([TopicPartition("foo", 0)]) == raw
    assert PreferredReplicaElectionZNode.decode(raw) == [TopicPartition("foo", 0)]


def test_isr_change_notification() -> None:
    raw = (b'{"version":1,"partitions":[{"topic":"foo","partition":0},'
           b'{"topic":"bar","partition":3}]}')
    tps = [TopicPartition("foo", 0), TopicPartition("bar", 3)]
    assert IsrChangeNotificationZNode.encode(tps) == raw
    assert IsrChangeNotificationZNode.decode(raw) == tps
    assert IsrChangeNotificationZNode.path() == "/isr_change_notification"
    assert IsrChangeNotificationZNode.sequence_path() == "/isr_change_notification/isr_change_"
    assert IsrChangeNotificationZNode.sequence_number("isr_change_0000000042") == 42
    assert IsrChangeNotificationZNode.child_path("isr_change_0000000042") == \
        "/isr_change_notification/isr_change_0000000042"


def test_log_dir_event_notification() -> None:
    raw = b'{"version":1,"broker":3,"event":1}'
    assert LogDirEventNotificationZNode.encode(3) == raw
    assert LogDirEventNotificationZNode.decode(raw) == (3, 1)
    assert LogDirEventNotificationZNode.sequence_path() == \
        "/log_dir_event_notification/log_dir_event_"


def test_config_entity() -> None:
    raw = b'{"version":1,"config":{"cleanup.policy":"compact","retention.ms":"86400000"}}'
    assert ConfigEntityZNode.path("topics", "foo") == "/config/topics/foo"
    assert ConfigEntityZNode.encode({"retention.ms": "86400000",
                                     "cleanup.policy": "compact"}) == raw
    assert ConfigEntityZNode.decode(raw) == {"cleanup.policy": "compact",
                                             "retention.ms": "86400000"}
    assert ConfigEntityZNode.encode({}) == b'{"version":1,"config":{}}'
    assert ConfigEntityZNode.decode(None) == {}


def test_config_change_notification_v2_written_v1_read() -> None:
    raw = b'{"version":2,"entity_path":"topics/foo"}'
    assert ConfigEntityChangeNotificationZNode.encode("topics/foo") == raw
    assert ConfigEntityChangeNotificationZNode.decode(raw) == "topics/foo"
    v1 = b'{"version":1,"entity_type":"topics","entity_name":"foo"}'
    assert ConfigEntityChangeNotificationZNode.decode(v1) == "topics/foo"
    assert ConfigEntityChangeNotificationZNode.sequence_path() == \
        "/config/changes/config_change_"


def test_producer_id_block() -> None:
    raw = b'{"version":1,"broker":2,"block_start":"1000","block_end":"1999"}'
    block = ProducerIdBlock(2, 1000, 1999)
    assert ProducerIdBlockZNode.path() == "/latest_producer_id_block"
    assert ProducerIdBlockZNode.encode(block) == raw
    assert ProducerIdBlockZNode.decode(raw) == block
    assert ProducerIdBlockZNode.decode(b"") is None
    assert ProducerIdBlockZNode.next_block(None, 5) == ProducerIdBlock(5, 0, 999)
    assert ProducerIdBlockZNode.next_block(block, 5) == ProducerIdBlock(5, 2000, 2999)
    with pytest.raises(OverflowError):
        ProducerIdBlockZNode.next_block(ProducerIdBlock(1, 0, 2**63 - 10), 1)


def test_legacy_consumer_nodes() -> None:
    assert ConsumerIdsZNode.path("g") == "/consumers/g/ids"
    assert ConsumerIdZNode.path("g", "c1") == "/consumers/g/ids/c1"
    raw = (b'{"version":1,"subscription":{"topicA":2},"pattern":"static",'
           b'"timestamp":"1700000000000"}')
    reg = ConsumerRegistration({"topicA": 2}, "static", TS)
    assert ConsumerIdZNode.encode(reg) == raw
    assert ConsumerIdZNode.decode(raw) == reg
    assert ConsumerOwnerZNode.path("g", "t", 0) == "/consumers/g/owners/t/0"
    assert ConsumerOwnerZNode.encode("c1-0") == b"c1-0"
    assert ConsumerOwnerZNode.decode(b"c1-0") == "c1-0"
    assert ConsumerOffsetZNode.path("g", "t", 0) == "/consumers/g/offsets/t/0"
    assert ConsumerOffsetZNode.encode(1234) == b"1234"
    assert ConsumerOffsetZNode.decode(b"1234") == 1234


def test_feature() -> None:
    assert FeatureZNode.path() == "/feature"
    assert FeatureZNode.encode() == b'{"version":1,"status":0,"features":{}}'
    v2 = b'{"version":2,"status":1,"features":{"metadata.version":{"max_version_level":7}}}'
    assert FeatureZNode.decode(v2) == {"version": 2, "status": 1, "features": {
        "metadata.version": {"max_version_level": 7}}}


def test_persistent_paths_are_kafkas() -> None:
    assert PERSISTENT_PATHS == (
        "/consumers", "/brokers/ids", "/brokers/topics", "/brokers/seqid", "/config/changes",
        "/admin/delete_topics", "/isr_change_notification", "/latest_producer_id_block",
        "/log_dir_event_notification", "/config/topics", "/config/clients", "/config/users",
        "/config/brokers", "/config/ips")
