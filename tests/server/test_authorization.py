"""Authorization in every request handler, Kafka 2.8's rules (KafkaApis + AuthHelper).

Handlers run against a small stand-in broker whose services record what reached them, so each
test shows both the error code a denied principal gets and that nothing behind the check was
touched. Contexts carry a principal and client host like a PLAINTEXT connection does; a
context without a connection is this broker's own controller, which is never checked.
"""

from __future__ import annotations

from types import SimpleNamespace

import pytest
import trio

from kafkalite import errors
from kafkalite.coordinator.results import OffsetFetchResult
from kafkalite.model import BrokerEndpoint, BrokerInfo, TopicPartition
from kafkalite.protocol.api_keys import ApiKey
from kafkalite.protocol.header import RequestHeader
from kafkalite.protocol.messages import (
    add_offsets_to_txn, add_partitions_to_txn, alter_configs, create_acls, create_topics,
    delete_acls, delete_groups, delete_records, delete_topics, describe_acls, describe_configs,
    describe_groups, describe_log_dirs, describe_transactions, elect_leaders, end_txn, fetch,
    find_coordinator, heartbeat, init_producer_id, join_group, leader_and_isr, list_groups,
    list_offsets, list_transactions, metadata, offset_commit, offset_fetch,
    offset_for_leader_epoch, produce, sync_group, txn_offset_commit, update_metadata,
    write_txn_markers)
from kafkalite.records.builder import build_batch
from kafkalite.replication.service import FetchResult, ProduceResult
from kafkalite.security.acl import (AccessControlEntry, AclOperation, AclPermissionType,
                                    PatternType, ResourcePattern, ResourceType)
from kafkalite.security.authorizer import Authorizer, VersionedAcls
from kafkalite.security.service import AclAuthorizerService
from kafkalite.server.dispatch import HANDLERS, RequestContext, load_handlers
from kafkalite.server.metadata_cache import MetadataCache, PartitionMetadata
from kafkalite.server.network import ConnectionInfo, Session
from kafkalite.web.broker_metrics import BrokerMetrics
from kafkalite.zk.kafka_zk import KafkaZk
from tests.security.fake_zk import FakeZk

O, R, T = AclOperation, ResourceType, PatternType
ALICE, HOST = "User:alice", "10.0.0.7"
CLUSTER = ResourcePattern(R.CLUSTER, "kafka-cluster")
TOPIC_AUTH, GROUP_AUTH, CLUSTER_AUTH, TXN_AUTH = 29, 30, 31, 53

load_handlers()


# -- the stand-in broker ------------------------------------------------------------------------

class Calls(list):
    def record(self, name, *args, result=None):
        self.append((name, *args))
        return result


class FakeReplicaManager:
    def __init__(self, calls, metadata):
        self.calls = calls
        self.metadata = metadata

    async def append_records(self, entries, **kw):
        return self.append_records_nowait(entries, **kw)[0]

    def append_records_nowait(self, entries, **kw):
        return self.calls.record("append", [tp for tp, _ in entries],
                                 result={tp: ProduceResult(base_offset=0) for tp, _ in entries}
                                 ), None

    async def fetch(self, fetches, **kw):
        return self.calls.record("fetch", [f.tp for f in fetches],
                                 result={f.tp: FetchResult(high_watermark=1) for f in fetches})

    def get_partition(self, tp):
        return None

    def missing_partition_error(self, tp):
        return errors.NotLeaderOrFollower if self.metadata.partition(tp) \
            else errors.UnknownTopicOrPartition


class FakeGroups:
    def __init__(self, calls):
        self.calls = calls

    def __getattr__(self, name):
        async def call(*args, **kw):
            return self.calls.record(name, *args)
        return call

    async def commit_offsets(self, group_id, generation, member, entries, **kw):
        return self.calls.record("commit_offsets", group_id, generation, member, list(entries),
                                 result={tp: None for tp in entries})

    async def txn_commit_offsets(self, group_id, pid, epoch, entries, **kw):
        return self.calls.record("txn_commit_offsets", list(entries),
                                 result={tp: None for tp in entries})

    def partition_for(self, key):
        return 0

    async def delete_groups(self, names):
        return self.calls.record("delete_groups", list(names),
                                 result={g: None for g in names})

    def fetch_offsets(self, group_id, partitions, **kw):
        self.calls.record("fetch_offsets", partitions)
        stored = [TopicPartition("secret", 0), TopicPartition("t", 0)]
        wanted = stored if partitions is None else partitions
        return OffsetFetchResult(offsets={tp: SimpleNamespace(offset=5, leader_epoch=-1,
                                                              metadata="", error=None)
                                          for tp in wanted})

    def list_groups(self, states):
        return SimpleNamespace(error=None, groups=[SimpleNamespace(group_id=g, protocol_type="c",
                                                                   state="Stable")
                                                   for g in ("g", "hidden")])

    def describe_group(self, gid):
        return SimpleNamespace(error=None, state="Empty", protocol_type="consumer", protocol="",
                               members=[])


def make_broker(acls: dict | None = None, *, authorization: bool = True, **authorizer_kw):
    calls = Calls()
    cache = MetadataCache(cluster_id="c", controller_id=0)
    cache.brokers = {0: BrokerInfo(0, (BrokerEndpoint("PLAINTEXT", "h", 9092),))}
    for name in ("t", "secret", "pre-1", "__consumer_offsets"):
        cache.topics[name] = {0: PartitionMetadata(leader=0, leader_epoch=0, isr=(0,),
                                                   replicas=(0,))}
    authorizer = None
    if authorization:
        a = Authorizer(**authorizer_kw)
        for pattern, entries in (acls or {}).items():
            a.update_cache(pattern, VersionedAcls(frozenset(entries), 0))
        authorizer = AclAuthorizerService(a)
    return SimpleNamespace(
        authorizer=authorizer, metadata=cache, calls=calls, broker_id=0,
        replica_manager=FakeReplicaManager(calls, cache), coordinator=FakeGroups(calls),
        txn_coordinator=FakeGroups(calls),
        controller=SimpleNamespace(ctx=SimpleNamespace(assignments={"t": {}, "secret": {}})),
        config={"auto.create.topics.enable": True, "delete.topic.enable": True,
                "num.partitions": 1, "default.replication.factor": 1},
        topic_overrides={}, zk=None, log_manager=None,
        is_stale_broker_epoch=lambda epoch: False, notify_metadata_changed=lambda: None,
        metrics=BrokerMetrics())


def allow(*ops, principal=ALICE):
    return frozenset(AccessControlEntry(principal, "*", op, AclPermissionType.ALLOW)
                     for op in ops)


def topic(name, pattern=T.LITERAL):
    return ResourcePattern(R.TOPIC, name, pattern)


def group(name):
    return ResourcePattern(R.GROUP, name)


def txn(name):
    return ResourcePattern(R.TRANSACTIONAL_ID, name)


def ctx(broker, api_key, version, principal: str | None = ALICE) -> RequestContext:
    conn = None if principal is None else ConnectionInfo(
        "PLAINTEXT", HOST, 50000, session=Session(principal=principal))
    return RequestContext(broker, RequestHeader(int(api_key), version, 1, "test"), conn)


def call(broker, api_key, version, request, principal: str | None = ALICE):
    """Run the handler the way the dispatcher does (request-level errors included)."""
    spec = HANDLERS[int(api_key)]

    async def go():
        try:
            return await spec.fn(ctx(broker, api_key, version, principal), request)
        except errors.KafkaError as e:
            return spec.error_response(request, version, e)

    return trio.run(go)


def codes(response_topics, parts="partitions", code="error_code", name="name"):
    return {(getattr(t, name), getattr(p, "partition_index", getattr(p, "partition", None))):
            getattr(p, code) for t in response_topics for p in getattr(t, parts)}


# -- produce and fetch ---------------------------------------------------------------------------

def produce_request(*topics, transactional_id=None, transactional=False):
    batch = build_batch([(None, b"v", (), 0)], producer_id=7 if transactional else -1,
                        producer_epoch=0, is_transactional=transactional)
    return produce.ProduceRequest(transactional_id=transactional_id, acks=1, timeout_ms=1000,
                                  topic_data=[produce.TopicProduceData(name=t, partition_data=[
                                      produce.PartitionProduceData(index=0,
                                                                   records=memoryview(batch))])
                                      for t in topics])


def test_produce_needs_write_on_each_topic():
    b = make_broker({topic("t"): allow(O.WRITE), topic("pre-", T.PREFIXED): allow(O.ALL)})
    r = call(b, ApiKey.PRODUCE, 9, produce_request("t", "secret", "pre-1"))
    assert {t.name: t.partition_responses[0].error_code for t in r.responses} == \
        {"t": 0, "secret": TOPIC_AUTH, "pre-1": 0}
    assert b.calls == [("append", [TopicPartition("t", 0), TopicPartition("pre-1", 0)])]


def test_transactional_produce_needs_write_on_the_transactional_id():
    b = make_broker({topic("t"): allow(O.WRITE)})
    r = call(b, ApiKey.PRODUCE, 9, produce_request("t", transactional_id="tx",
                                                     transactional=True))
    assert r.responses[0].partition_responses[0].error_code == TXN_AUTH and not b.calls
    b = make_broker({topic("t"): allow(O.WRITE), txn("tx"): allow(O.WRITE)})
    r = call(b, ApiKey.PRODUCE, 9, produce_request("t", transactional_id="tx",
                                                     transactional=True))
    assert r.responses[0].partition_responses[0].error_code == 0


def test_no_authorizer_and_local_requests_are_never_checked():
    b = make_broker(authorization=False)
    r = call(b, ApiKey.PRODUCE, 9, produce_request("secret", transactional=True))
    assert r.responses[0].partition_responses[0].error_code == 0
    b = make_broker({})                     # an authorizer, no ACLs, no allow.everyone
    r = call(b, ApiKey.UPDATE_METADATA, 7, update_metadata.UpdateMetadataRequest(
        controller_id=0, controller_epoch=1), principal=None)
    assert r.error_code == 0
    r = call(b, ApiKey.UPDATE_METADATA, 7, update_metadata.UpdateMetadataRequest(
        controller_id=0, controller_epoch=1))
    assert r.error_code == CLUSTER_AUTH


def fetch_request(replica_id, *topics):
    return fetch.FetchRequest(replica_id=replica_id, max_wait_ms=0, min_bytes=0,
                              max_bytes=1000, topics=[fetch.FetchTopic(topic=t, partitions=[
                                  fetch.FetchPartition(partition=0, fetch_offset=0,
                                                       partition_max_bytes=100)])
                                  for t in topics])


def test_fetch_read_per_topic_and_cluster_action_for_followers():
    b = make_broker({topic("t"): allow(O.READ)})
    r = call(b, ApiKey.FETCH, 12, fetch_request(-1, "t", "secret"))
    assert codes(r.responses, name="topic") == {("t", 0): 0, ("secret", 0): TOPIC_AUTH}
    assert b.calls == [("fetch", [TopicPartition("t", 0)])]
    b = make_broker({topic("t"): allow(O.READ)})
    r = call(b, ApiKey.FETCH, 12, fetch_request(1, "t"))           # a follower
    assert codes(r.responses, name="topic") == {("t", 0): TOPIC_AUTH} and not b.calls
    b = make_broker({CLUSTER: allow(O.CLUSTER_ACTION)})
    r = call(b, ApiKey.FETCH, 12, fetch_request(1, "t", "secret"))
    assert set(codes(r.responses, name="topic").values()) == {0}


def test_list_offsets_and_offset_for_leader_epoch_need_describe():
    b = make_broker({topic("t"): allow(O.WRITE)})                 # Write implies Describe
    r = call(b, ApiKey.LIST_OFFSETS, 5, list_offsets.ListOffsetsRequest(
        replica_id=-1, topics=[list_offsets.ListOffsetsTopic(name=n, partitions=[
            list_offsets.ListOffsetsPartition(partition_index=0, timestamp=-1)])
            for n in ("t", "secret")]))
    # 6: NOT_LEADER_OR_FOLLOWER, the metadata knows the partition but this broker hosts none
    assert codes(r.topics) == {("t", 0): 6, ("secret", 0): TOPIC_AUTH}
    req = offset_for_leader_epoch.OffsetForLeaderEpochRequest(topics=[
        offset_for_leader_epoch.OffsetForLeaderTopic(topic=n, partitions=[
            offset_for_leader_epoch.OffsetForLeaderPartition(partition=0, leader_epoch=0)])
        for n in ("t", "secret")])
    r = call(b, ApiKey.OFFSET_FOR_LEADER_EPOCH, 4, req)
    assert codes(r.topics, name="topic") == {("t", 0): 6, ("secret", 0): TOPIC_AUTH}
    r = call(make_broker({CLUSTER: allow(O.CLUSTER_ACTION)}), ApiKey.OFFSET_FOR_LEADER_EPOCH,
             4, req)
    assert TOPIC_AUTH not in codes(r.topics, name="topic").values()


# -- metadata ------------------------------------------------------------------------------------

def test_metadata_hides_or_refuses_topics_without_describe(monkeypatch):
    created = []

    async def auto_create(broker, name):
        created.append(name)

    monkeypatch.setattr("kafkalite.server.handlers.metadata.auto_create_topic", auto_create)
    b = make_broker({topic("t"): allow(O.READ), topic("new"): allow(O.DESCRIBE),
                     topic("made"): allow(O.CREATE)})
    r = call(b, ApiKey.METADATA, 9, metadata.MetadataRequest(topics=None))
    assert [t.name for t in r.topics] == ["t"]              # the others are not listed
    assert [b_.node_id for b_ in r.brokers] == [0]           # brokers are always listed
    r = call(b, ApiKey.METADATA, 9, metadata.MetadataRequest(topics=[
        metadata.MetadataRequestTopic(name=n) for n in ("t", "secret", "new", "made")],
        include_topic_authorized_operations=True, include_cluster_authorized_operations=True))
    by_name = {t.name: t for t in r.topics}
    assert by_name["t"].error_code == 0 and by_name["secret"].error_code == TOPIC_AUTH
    # "new" may be described but not created; "made" (Create implies nothing) is not visible
    assert by_name["new"].error_code == TOPIC_AUTH and by_name["made"].error_code == TOPIC_AUTH
    assert created == []
    assert by_name["t"].topic_authorized_operations == (1 << O.READ) | (1 << O.DESCRIBE)
    assert r.cluster_authorized_operations == 0
    b = make_broker({topic("*"): allow(O.DESCRIBE), CLUSTER: allow(O.CREATE, O.DESCRIBE)})
    r = call(b, ApiKey.METADATA, 9, metadata.MetadataRequest(topics=[
        metadata.MetadataRequestTopic(name="brand-new")],
        include_cluster_authorized_operations=True))
    assert r.topics[0].error_code == 5 and created == ["brand-new"]      # LEADER_NOT_AVAILABLE
    assert r.cluster_authorized_operations == (1 << O.CREATE) | (1 << O.DESCRIBE)


def test_metadata_without_authorizer_reports_all_operations():
    b = make_broker(authorization=False)
    r = call(b, ApiKey.METADATA, 9, metadata.MetadataRequest(
        topics=[metadata.MetadataRequestTopic(name="t")],
        include_topic_authorized_operations=True))
    assert r.topics[0].topic_authorized_operations == sum(
        1 << op for op in (O.READ, O.WRITE, O.CREATE, O.DESCRIBE, O.DELETE, O.ALTER,
                           O.DESCRIBE_CONFIGS, O.ALTER_CONFIGS))
    r = call(b, ApiKey.METADATA, 9, metadata.MetadataRequest(topics=None))
    assert r.cluster_authorized_operations == -(2**31)


# -- inter-broker --------------------------------------------------------------------------------

def test_inter_broker_apis_need_cluster_action():
    b = make_broker({CLUSTER: allow(O.DESCRIBE)})
    r = call(b, ApiKey.LEADER_AND_ISR, 5, leader_and_isr.LeaderAndIsrRequest(
        controller_id=0, controller_epoch=1))
    assert r.error_code == CLUSTER_AUTH
    r = call(b, ApiKey.CONTROLLED_SHUTDOWN, 3, SimpleNamespace(broker_id=1, broker_epoch=1))
    assert r.error_code == CLUSTER_AUTH
    r = call(b, ApiKey.WRITE_TXN_MARKERS, 1, write_txn_markers.WriteTxnMarkersRequest(markers=[
        write_txn_markers.WritableTxnMarker(producer_id=4, producer_epoch=0,
                                            transaction_result=True, coordinator_epoch=0,
                                            topics=[write_txn_markers.WritableTxnMarkerTopic(
                                                name="t", partition_indexes=[0])])]))
    assert r.markers[0].topics[0].partitions[0].error_code == CLUSTER_AUTH
    b = make_broker({CLUSTER: allow(O.CLUSTER_ACTION)})
    r = call(b, ApiKey.UPDATE_METADATA, 7, update_metadata.UpdateMetadataRequest(
        controller_id=0, controller_epoch=1))
    assert r.error_code != CLUSTER_AUTH


# -- groups --------------------------------------------------------------------------------------

def test_group_membership_needs_read_on_the_group():
    b = make_broker({group("other"): allow(O.READ)})
    r = call(b, ApiKey.JOIN_GROUP, 7, join_group.JoinGroupRequest(group_id="g",
                                                                 member_id="m"))
    assert (r.error_code, r.member_id, r.generation_id, r.protocol_name) == \
        (GROUP_AUTH, "", -1, None)
    r = call(b, ApiKey.SYNC_GROUP, 5, sync_group.SyncGroupRequest(group_id="g"))
    assert r.error_code == GROUP_AUTH
    r = call(b, ApiKey.HEARTBEAT, 4, heartbeat.HeartbeatRequest(group_id="g"))
    assert r.error_code == GROUP_AUTH
    r = call(b, ApiKey.LEAVE_GROUP, 4, SimpleNamespace(group_id="g", members=[]))
    assert r.error_code == GROUP_AUTH
    assert not b.calls
    r = call(b, ApiKey.HEARTBEAT, 4, heartbeat.HeartbeatRequest(group_id="other"))
    assert b.calls and b.calls[0][0] == "heartbeat"


def commit_request(*topics):
    return offset_commit.OffsetCommitRequest(group_id="g", topics=[
        offset_commit.OffsetCommitRequestTopic(name=t, partitions=[
            offset_commit.OffsetCommitRequestPartition(partition_index=0, committed_offset=1)])
        for t in topics])


def test_offset_commit_needs_read_on_group_and_topics():
    b = make_broker({topic("t"): allow(O.READ)})
    r = call(b, ApiKey.OFFSET_COMMIT, 8, commit_request("t", "secret"))
    assert codes(r.topics) == {("t", 0): GROUP_AUTH, ("secret", 0): GROUP_AUTH}
    b = make_broker({topic("t"): allow(O.READ), topic("gone"): allow(O.READ),
                     group("g"): allow(O.READ)})
    r = call(b, ApiKey.OFFSET_COMMIT, 8, commit_request("t", "secret", "gone"))
    assert codes(r.topics) == {("t", 0): 0, ("secret", 0): TOPIC_AUTH, ("gone", 0): 3}
    assert b.calls == [("commit_offsets", "g", -1, "", [TopicPartition("t", 0)])]


def test_offset_fetch_needs_describe_on_group_and_topics():
    b = make_broker({topic("t"): allow(O.DESCRIBE)})
    req = offset_fetch.OffsetFetchRequest(group_id="g", topics=[
        offset_fetch.OffsetFetchRequestTopic(name=n, partition_indexes=[0])
        for n in ("t", "secret")])
    r = call(b, ApiKey.OFFSET_FETCH, 7, req)
    assert r.error_code == GROUP_AUTH and not r.topics           # top level from v2
    r = call(b, ApiKey.OFFSET_FETCH, 1, req)
    assert set(codes(r.topics).values()) == {GROUP_AUTH}         # per partition before
    b = make_broker({topic("t"): allow(O.DESCRIBE), group("g"): allow(O.READ)})
    r = call(b, ApiKey.OFFSET_FETCH, 7, req)
    assert codes(r.topics) == {("t", 0): 0, ("secret", 0): TOPIC_AUTH}
    assert b.calls == [("fetch_offsets", [TopicPartition("t", 0)])]
    r = call(b, ApiKey.OFFSET_FETCH, 7, offset_fetch.OffsetFetchRequest(group_id="g",
                                                                       topics=None))
    assert [t.name for t in r.topics] == ["t"]                    # "secret" is left out


def test_find_coordinator_describe_group_or_transactional_id():
    b = make_broker({group("g"): allow(O.READ)})
    r = call(b, ApiKey.FIND_COORDINATOR, 3, find_coordinator.FindCoordinatorRequest(
        key="other", key_type=0))
    assert (r.error_code, r.node_id) == (GROUP_AUTH, -1)
    r = call(b, ApiKey.FIND_COORDINATOR, 3, find_coordinator.FindCoordinatorRequest(
        key="tx", key_type=1))
    assert r.error_code == TXN_AUTH
    r = call(b, ApiKey.FIND_COORDINATOR, 4, find_coordinator.FindCoordinatorRequest(
        key_type=0, coordinator_keys=["g", "other"]))
    assert [c.error_code for c in r.coordinators][1] == GROUP_AUTH
    assert r.coordinators[0].error_code != GROUP_AUTH


def test_describe_list_and_delete_groups():
    b = make_broker({group("g"): allow(O.DESCRIBE, O.DELETE)})
    r = call(b, ApiKey.DESCRIBE_GROUPS, 5, describe_groups.DescribeGroupsRequest(
        groups=["g", "hidden"], include_authorized_operations=True))
    assert [(g.group_id, g.error_code) for g in r.groups] == [("g", 0), ("hidden", GROUP_AUTH)]
    assert r.groups[0].authorized_operations == (1 << O.DESCRIBE) | (1 << O.DELETE)
    r = call(b, ApiKey.LIST_GROUPS, 4, list_groups.ListGroupsRequest())
    assert [g.group_id for g in r.groups] == ["g"]
    r = call(make_broker({CLUSTER: allow(O.DESCRIBE)}), ApiKey.LIST_GROUPS, 4,
             list_groups.ListGroupsRequest())
    assert [g.group_id for g in r.groups] == ["g", "hidden"]
    r = call(b, ApiKey.DELETE_GROUPS, 2, delete_groups.DeleteGroupsRequest(
        groups_names=["g", "hidden"]))
    assert {x.group_id: x.error_code for x in r.results}["hidden"] == GROUP_AUTH
    assert b.calls[-1] == ("delete_groups", ["g"])


# -- transactions --------------------------------------------------------------------------------

def test_init_producer_id():
    b = make_broker({txn("other"): allow(O.WRITE)})
    r = call(b, ApiKey.INIT_PRODUCER_ID, 4, init_producer_id.InitProducerIdRequest(
        transactional_id="tx", transaction_timeout_ms=1000))
    assert (r.error_code, r.producer_id) == (TXN_AUTH, -1)
    # idempotent producer: IdempotentWrite on the cluster, or Write on any topic (KIP-679)
    idem = init_producer_id.InitProducerIdRequest(transactional_id=None)
    assert call(b, ApiKey.INIT_PRODUCER_ID, 4, idem).error_code == CLUSTER_AUTH
    for acls in ({CLUSTER: allow(O.IDEMPOTENT_WRITE)},
                 {topic("pre-", T.PREFIXED): allow(O.WRITE)}):
        b = make_broker(acls)
        b.producer_ids = SimpleNamespace(next_producer_id=_async(42))
        r = call(b, ApiKey.INIT_PRODUCER_ID, 4, idem)
        assert (r.error_code, r.producer_id) == (0, 42), acls


def _async(value):
    async def f(*args, **kw):
        return value
    return f


def test_transaction_apis_need_write_on_the_transactional_id():
    b = make_broker({topic("t"): allow(O.WRITE), group("g"): allow(O.READ)})
    r = call(b, ApiKey.END_TXN, 3, end_txn.EndTxnRequest(transactional_id="tx"))
    assert r.error_code == TXN_AUTH
    r = call(b, ApiKey.ADD_OFFSETS_TO_TXN, 3, add_offsets_to_txn.AddOffsetsToTxnRequest(
        transactional_id="tx", group_id="g"))
    assert r.error_code == TXN_AUTH
    apt = add_partitions_to_txn.AddPartitionsToTxnRequest(
        v3_and_below_transactional_id="tx", v3_and_below_topics=[
            add_partitions_to_txn.AddPartitionsToTxnTopic(name=n, partitions=[0])
            for n in ("t", "secret", "__consumer_offsets")])
    r = call(b, ApiKey.ADD_PARTITIONS_TO_TXN, 3, apt)
    assert set(codes(r.results_by_topic_v3_and_below, "results_by_partition",
                     "partition_error_code").values()) == {TXN_AUTH}
    toc = txn_offset_commit.TxnOffsetCommitRequest(transactional_id="tx", group_id="g", topics=[
        txn_offset_commit.TxnOffsetCommitRequestTopic(name=n, partitions=[
            txn_offset_commit.TxnOffsetCommitRequestPartition(partition_index=0,
                                                              committed_offset=1)])
        for n in ("t", "secret")])
    r = call(b, ApiKey.TXN_OFFSET_COMMIT, 3, toc)
    assert set(codes(r.topics).values()) == {TXN_AUTH}
    assert not b.calls

    b = make_broker({topic("t"): allow(O.WRITE, O.READ), txn("tx"): allow(O.WRITE),
                     group("other"): allow(O.READ)})
    r = call(b, ApiKey.ADD_OFFSETS_TO_TXN, 3, add_offsets_to_txn.AddOffsetsToTxnRequest(
        transactional_id="tx", group_id="g"))
    assert r.error_code == GROUP_AUTH
    r = call(b, ApiKey.TXN_OFFSET_COMMIT, 3, toc)
    assert set(codes(r.topics).values()) == {GROUP_AUTH}
    r = call(b, ApiKey.ADD_PARTITIONS_TO_TXN, 3, apt)
    assert codes(r.results_by_topic_v3_and_below, "results_by_partition",
                 "partition_error_code") == {("t", 0): 55, ("secret", 0): TOPIC_AUTH,
                                              ("__consumer_offsets", 0): TOPIC_AUTH}
    assert not b.calls
    b = make_broker({topic("t"): allow(O.READ), txn("tx"): allow(O.WRITE),
                     group("g"): allow(O.READ)})
    r = call(b, ApiKey.TXN_OFFSET_COMMIT, 3, toc)
    assert codes(r.topics)[("secret", 0)] == TOPIC_AUTH
    assert b.calls[0][0] == "txn_commit_offsets"


def test_describe_and_list_transactions_only_show_describable_ids():
    b = make_broker({txn("tx"): allow(O.DESCRIBE), topic("t"): allow(O.READ)})
    b.txn_coordinator.describe = lambda ids: [SimpleNamespace(
        error=None, transactional_id=i, state="Ongoing", timeout_ms=1, start_ms=1,
        producer_id=1, producer_epoch=0, topics=[("t", [0]), ("secret", [0])]) for i in ids]
    r = call(b, ApiKey.DESCRIBE_TRANSACTIONS, 0,
             describe_transactions.DescribeTransactionsRequest(transactional_ids=["tx", "no"]))
    by_id = {s.transactional_id: s for s in r.transaction_states}
    assert by_id["no"].error_code == TXN_AUTH
    assert [t.topic for t in by_id["tx"].topics] == ["t"]
    b.txn_coordinator.list_transactions = lambda *a: SimpleNamespace(
        error=None, unknown_state_filters=[], transactions=[
            SimpleNamespace(transactional_id=i, producer_id=1, state="Ongoing")
            for i in ("tx", "no")])
    r = call(b, ApiKey.LIST_TRANSACTIONS, 0, list_transactions.ListTransactionsRequest())
    assert [s.transactional_id for s in r.transaction_states] == ["tx"]


# -- admin ---------------------------------------------------------------------------------------

def test_create_topics_needs_create_on_cluster_or_topic(monkeypatch):
    made = []

    async def create_topic(broker, name, **kw):
        made.append(name)
        return {0: [0]}

    async def wait_for_metadata(*args, **kw):
        return set()

    monkeypatch.setattr("kafkalite.server.handlers.create_topics.create_topic", create_topic)
    monkeypatch.setattr("kafkalite.server.handlers.create_topics.wait_for_metadata",
                        wait_for_metadata)
    req = create_topics.CreateTopicsRequest(topics=[
        create_topics.CreatableTopic(name=n, num_partitions=1, replication_factor=1)
        for n in ("ok", "no")])
    b = make_broker({topic("ok"): allow(O.CREATE)})
    b.topic_config_values = lambda name: {}
    r = call(b, ApiKey.CREATE_TOPICS, 5, req)
    by_name = {t.name: t for t in r.topics}
    assert by_name["no"].error_code == TOPIC_AUTH
    assert by_name["no"].error_message == "Authorization failed."
    assert by_name["ok"].error_code == 0 and made == ["ok"]
    assert by_name["ok"].topic_config_error_code == TOPIC_AUTH      # no DescribeConfigs
    assert by_name["ok"].num_partitions == -1 and by_name["ok"].configs is None
    b = make_broker({CLUSTER: allow(O.CREATE), topic("*"): allow(O.DESCRIBE_CONFIGS)})
    b.topic_config_values = lambda name: {}
    r = call(b, ApiKey.CREATE_TOPICS, 5, req)
    assert [(t.error_code, t.topic_config_error_code) for t in r.topics] == [(0, 0), (0, 0)]


def test_delete_topics_and_records_need_delete(monkeypatch):
    marked = []

    async def mark(name):
        marked.append(name)

    async def wait_for_metadata(*args, **kw):
        return set()

    monkeypatch.setattr("kafkalite.server.handlers.delete_topics.wait_for_metadata",
                        wait_for_metadata)
    b = make_broker({topic("t"): allow(O.DELETE)})
    b.zk = SimpleNamespace(mark_topic_for_deletion=mark)
    r = call(b, ApiKey.DELETE_TOPICS, 5, delete_topics.DeleteTopicsRequest(
        topic_names=["t", "secret", "unknown"]))
    assert {x.name: x.error_code for x in r.responses} == {"t": 0, "secret": TOPIC_AUTH,
                                                          "unknown": TOPIC_AUTH}
    assert marked == ["t"]
    r = call(b, ApiKey.DELETE_RECORDS, 2, delete_records.DeleteRecordsRequest(topics=[
        delete_records.DeleteRecordsTopic(name="secret", partitions=[
            delete_records.DeleteRecordsPartition(partition_index=0, offset=1)])]))
    assert (r.topics[0].partitions[0].error_code, r.topics[0].partitions[0].low_watermark) == \
        (TOPIC_AUTH, -1)


def test_config_apis():
    b = make_broker({topic("t"): allow(O.ALTER_CONFIGS), CLUSTER: allow(O.DESCRIBE)})
    r = call(b, ApiKey.DESCRIBE_CONFIGS, 4, describe_configs.DescribeConfigsRequest(resources=[
        describe_configs.DescribeConfigsResource(resource_type=2, resource_name="secret"),
        describe_configs.DescribeConfigsResource(resource_type=4, resource_name="0")]))
    assert [(x.error_code, x.error_message) for x in r.results] == [
        (TOPIC_AUTH, "Topic authorization failed."),
        (CLUSTER_AUTH, "Cluster authorization failed.")]
    r = call(b, ApiKey.ALTER_CONFIGS, 2, alter_configs.AlterConfigsRequest(resources=[
        alter_configs.AlterConfigsResource(resource_type=2, resource_name="secret"),
        alter_configs.AlterConfigsResource(resource_type=4, resource_name="")]))
    assert [(x.error_code, x.error_message) for x in r.responses] == [
        (TOPIC_AUTH, None), (CLUSTER_AUTH, None)]


def test_cluster_admin_apis():
    b = make_broker({CLUSTER: allow(O.DESCRIBE_CONFIGS)})
    r = call(b, ApiKey.DESCRIBE_LOG_DIRS, 2, describe_log_dirs.DescribeLogDirsRequest())
    assert r.results == ()                  # Kafka 2.8: nothing, and no error code
    r = call(b, ApiKey.ELECT_LEADERS, 2, elect_leaders.ElectLeadersRequest(topic_partitions=[
        elect_leaders.TopicPartitions(topic="t", partitions=[0])]))
    assert r.error_code == CLUSTER_AUTH
    assert r.replica_election_results[0].partition_result[0].error_code == CLUSTER_AUTH
    for key in (ApiKey.ALTER_PARTITION_REASSIGNMENTS, ApiKey.LIST_PARTITION_REASSIGNMENTS):
        r = call(b, key, 0, SimpleNamespace(topics=[]))
        assert r.error_code == CLUSTER_AUTH, key
    # SCRAM credentials: Describe / Alter on the cluster (KIP-554)
    r = call(b, ApiKey.DESCRIBE_USER_SCRAM_CREDENTIALS, 0, SimpleNamespace(users=None))
    assert r.error_code == CLUSTER_AUTH
    b.controller = object()     # AlterUserScramCredentials goes to the controller
    r = call(b, ApiKey.ALTER_USER_SCRAM_CREDENTIALS, 0, SimpleNamespace(
        deletions=[SimpleNamespace(name="bob", mechanism=1)], upsertions=[]))
    assert [(x.user, x.error_code) for x in r.results] == [("bob", CLUSTER_AUTH)]


# -- the ACL APIs -------------------------------------------------------------------------------

def test_acl_apis_without_authorizer_are_security_disabled():
    b = make_broker(authorization=False)
    r = call(b, ApiKey.DESCRIBE_ACLS, 2, describe_acls.DescribeAclsRequest(
        resource_type_filter=1, pattern_type_filter=1, operation=1, permission_type=1))
    assert (r.error_code, r.error_message) == (54, "No Authorizer is configured on the broker")
    r = call(b, ApiKey.CREATE_ACLS, 2, create_acls.CreateAclsRequest(creations=[
        create_acls.AclCreation(resource_type=2, resource_name="t", principal=ALICE, host="*",
                                operation=3, permission_type=3)]))
    assert [x.error_code for x in r.results] == [54]
    r = call(b, ApiKey.DELETE_ACLS, 2, delete_acls.DeleteAclsRequest(filters=[
        delete_acls.DeleteAclsFilter(resource_type_filter=1, pattern_type_filter=1, operation=1,
                                     permission_type=1)]))
    assert [x.error_code for x in r.filter_results] == [54]


def test_acl_apis_round_trip_through_zookeeper():
    b = make_broker({CLUSTER: allow(O.ALTER, O.DESCRIBE, principal="User:admin")})
    store = FakeZk()
    b.authorizer.zk = KafkaZk(store)
    creations = [
        create_acls.AclCreation(resource_type=2, resource_name="t", principal=ALICE, host="*",
                                operation=3, permission_type=3),
        create_acls.AclCreation(resource_type=2, resource_name="pre-", resource_pattern_type=4,
                                principal=ALICE, host="*", operation=4, permission_type=3),
        create_acls.AclCreation(resource_type=4, resource_name="other", principal=ALICE,
                                host="*", operation=7, permission_type=3),
        create_acls.AclCreation(resource_type=1, resource_name="x", principal=ALICE,
                                host="*", operation=3, permission_type=3)]
    r = call(b, ApiKey.CREATE_ACLS, 2, create_acls.CreateAclsRequest(creations=creations))
    assert [x.error_code for x in r.results] == [CLUSTER_AUTH] * 4   # alice may not Alter
    r = call(b, ApiKey.CREATE_ACLS, 2, create_acls.CreateAclsRequest(creations=creations),
             principal="User:admin")
    assert [x.error_code for x in r.results] == [0, 0, 42, 42]
    assert "kafka-cluster" in r.results[2].error_message
    assert "/kafka-acl/Topic/t" in store.nodes
    assert "/kafka-acl-extended/prefixed/Topic/pre-" in store.nodes
    # the new ACLs apply at once on this broker
    assert call(b, ApiKey.PRODUCE, 9, produce_request("pre-1")).responses[0] \
        .partition_responses[0].error_code == 0

    describe_any = dict(resource_type_filter=1, pattern_type_filter=1, operation=1,
                        permission_type=1)
    r = call(b, ApiKey.DESCRIBE_ACLS, 2, describe_acls.DescribeAclsRequest(**describe_any))
    assert r.error_code == CLUSTER_AUTH
    r = call(b, ApiKey.DESCRIBE_ACLS, 2, describe_acls.DescribeAclsRequest(**describe_any),
             principal="User:admin")
    assert [(x.resource_name, x.pattern_type, len(x.acls)) for x in r.resources] == [
        ("t", 3, 1), ("pre-", 4, 1), ("kafka-cluster", 3, 2)]
    r = call(b, ApiKey.DESCRIBE_ACLS, 0, describe_acls.DescribeAclsRequest(
        resource_type_filter=2, operation=1, permission_type=1), principal="User:admin")
    assert [x.resource_name for x in r.resources] == ["t"]       # v0: LITERAL only
    r = call(b, ApiKey.DESCRIBE_ACLS, 2, describe_acls.DescribeAclsRequest(
        resource_type_filter=0, pattern_type_filter=1, operation=1, permission_type=1),
        principal="User:admin")
    assert r.error_code == 42 and "UNKNOWN" in r.error_message

    r = call(b, ApiKey.DELETE_ACLS, 2, delete_acls.DeleteAclsRequest(filters=[
        delete_acls.DeleteAclsFilter(resource_type_filter=2, resource_name_filter="pre-1",
                                     pattern_type_filter=2, operation=1, permission_type=1),
        delete_acls.DeleteAclsFilter(resource_type_filter=2, pattern_type_filter=1,
                                     operation=0, permission_type=1)]), principal="User:admin")
    first, bad = r.filter_results
    assert [(m.resource_name, m.pattern_type, m.operation) for m in first.matching_acls] == \
        [("pre-", 4, 4)]
    assert bad.error_code == 42
    assert "/kafka-acl-extended/prefixed/Topic/pre-" not in store.nodes
    assert call(b, ApiKey.PRODUCE, 9, produce_request("pre-1")).responses[0] \
        .partition_responses[0].error_code == TOPIC_AUTH


@pytest.mark.parametrize("key", sorted(HANDLERS))
def test_every_handler_is_checked_or_exempt(key):
    """A handler that never consults the authorizer must be on this list, with a reason."""
    import inspect

    exempt = {ApiKey.API_VERSIONS: "before authentication, as in Kafka",
              ApiKey.SASL_HANDSHAKE: "authentication itself",
              ApiKey.SASL_AUTHENTICATE: "authentication itself",
              }
    source = inspect.getsource(inspect.getmodule(HANDLERS[key].fn))
    assert ("authorization" in source) or (key in exempt), ApiKey(key).name
