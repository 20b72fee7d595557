"""A request for a partition this broker does not host: NOT_LEADER_OR_FOLLOWER when the
broker's metadata knows the partition (a client with stale metadata, or a broker that has just
restarted and has its UpdateMetadata but not yet its LeaderAndIsr), which clients refresh and
retry; UNKNOWN_TOPIC_OR_PARTITION when nobody knows it (Kafka's getPartitionOrError)."""

from __future__ import annotations

import functools

import pytest
import trio
import trio.testing

from kafkalite import errors
from kafkalite.model import TopicPartition
from kafkalite.records.builder import build_batch
from kafkalite.replication.service import PartitionFetch, ReplicaManager
from kafkalite.storage.config import LogConfig
from kafkalite.storage.manager import LogManager

CFG = LogConfig(segment_bytes=64 * 1024, min_insync_replicas=1)
HOSTED, KNOWN, UNKNOWN = (TopicPartition("t", 0), TopicPartition("t", 1),
                          TopicPartition("nowhere", 0))


@pytest.fixture
def rm(tmp_path):
    logs = LogManager([tmp_path], CFG, config_for_topic=lambda _t: CFG)
    manager = ReplicaManager(broker_id=0, log_manager=logs, topic_config=lambda _t: CFG)
    manager.known_partition = lambda tp: tp.topic == "t"
    assert manager.become_leader_or_follower(HOSTED, leader=0, leader_epoch=1, isr=[0],
                                             replicas=[0], partition_epoch=1,
                                             controller_epoch=1) is None
    return manager


def produce_errors(rm) -> dict:
    async def main():
        entries = [(tp, memoryview(bytearray(build_batch([(None, b"v", (), 1000)]))))
                   for tp in (HOSTED, KNOWN, UNKNOWN)]
        return await rm.append_records(entries, acks=1, timeout_ms=1000)
    results = trio.run(main, clock=trio.testing.MockClock(autojump_threshold=0))
    return {tp: r.error for tp, r in results.items()}


def test_produce_to_a_known_partition_not_hosted_here_is_not_leader(rm):
    assert produce_errors(rm) == {HOSTED: None, KNOWN: errors.NotLeaderOrFollower,
                                  UNKNOWN: errors.UnknownTopicOrPartition}


@pytest.mark.parametrize("replica_id", [-1, 1])   # a consumer and a follower
def test_fetch_from_a_known_partition_not_hosted_here_is_not_leader(rm, replica_id):
    fetched = rm.read_all([PartitionFetch(tp, 0, 1000) for tp in (HOSTED, KNOWN, UNKNOWN)],
                          replica_id=replica_id, max_bytes=10000)[0]
    assert {tp: r.error for tp, r in fetched.items()} == {
        HOSTED: None, KNOWN: errors.NotLeaderOrFollower,
        UNKNOWN: errors.UnknownTopicOrPartition}


def test_an_offline_partition_stays_a_storage_error_even_when_known(rm):
    rm.offline_partitions.add(KNOWN)
    assert rm.missing_partition_error(KNOWN) is errors.KafkaStorageError
    assert produce_errors(rm)[KNOWN] is errors.KafkaStorageError


def test_without_metadata_every_missing_partition_is_unknown(tmp_path):
    logs = LogManager([tmp_path], CFG, config_for_topic=lambda _t: CFG)
    manager = ReplicaManager(broker_id=0, log_manager=logs, topic_config=lambda _t: CFG)
    assert manager.missing_partition_error(KNOWN) is errors.UnknownTopicOrPartition


def test_stop_replicas_stops_serving_and_stages_only_the_deleted_logs(rm, tmp_path):
    """One StopReplica of many partitions: the fetchers are updated once, every partition
    stops being served (then answers as not hosted here), and only the partitions with
    delete have their logs staged for deletion and returned."""
    unfollowed, told = [], []

    class Fetchers:
        def unfollow(self, tps):
            unfollowed.append(list(tps))

    assert rm.become_leader_or_follower(KNOWN, leader=0, leader_epoch=1, isr=[0],
                                        replicas=[0], partition_epoch=1,
                                        controller_epoch=1) is None
    rm.fetchers = Fetchers()
    rm.leadership_listeners.append(lambda tp, leader, epoch: told.append((tp, leader, epoch)))
    staged = rm.stop_replicas([(HOSTED, False), (KNOWN, True), (UNKNOWN, True)])
    assert unfollowed == [[HOSTED, KNOWN, UNKNOWN]]
    assert [lg.topic_partition for lg in staged] == [KNOWN]
    assert staged[0].dir.name == "t-1.0-delete" and staged[0].dir.is_dir()
    assert (tmp_path / "t-0").is_dir() and not (tmp_path / "t-1").exists()
    assert rm.get_partition(HOSTED) is None and rm.log_manager.get_log("t", 0) is not None
    assert told == [(HOSTED, False, -1), (KNOWN, False, -1)]
    assert produce_errors(rm) == {HOSTED: errors.NotLeaderOrFollower,
                                  KNOWN: errors.NotLeaderOrFollower,
                                  UNKNOWN: errors.UnknownTopicOrPartition}
