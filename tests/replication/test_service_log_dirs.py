"""The replica manager when a log dir fails (a full disk): the partitions in it answer
KAFKA_STORAGE_ERROR (produce, fetch, LeaderAndIsr), nothing is acknowledged, partitions in the
other dir go on, the controller is to be told, and with no dir left the broker halts."""

from __future__ import annotations

import errno
import functools
import os

import pytest
import trio
import trio.testing

from kafkalite import errors
from kafkalite.model import TopicPartition
from kafkalite.records.builder import build_batch
from kafkalite.replication.service import PartitionFetch, ReplicaManager
from kafkalite.storage import segment as segment_module
from kafkalite.storage.config import LogConfig
from kafkalite.storage.manager import LogManager

CFG = LogConfig(segment_bytes=64 * 1024, min_insync_replicas=1)
IN_A, IN_B = TopicPartition("t", 0), TopicPartition("t", 1)


def run(async_fn, *args):
    return trio.run(functools.partial(async_fn, *args),
                    clock=trio.testing.MockClock(autojump_threshold=0))


def records(value: bytes) -> memoryview:
    return memoryview(bytearray(build_batch([(None, value, (), 1000)])))


@pytest.fixture
def rm(tmp_path):
    logs = LogManager([tmp_path / "a", tmp_path / "b"], CFG, config_for_topic=lambda _t: CFG)
    manager = ReplicaManager(broker_id=0, log_manager=logs, topic_config=lambda _t: CFG)
    for tp in (IN_A, IN_B):   # the emptiest dir first: t-0 in a, t-1 in b
        assert manager.become_leader_or_follower(tp, leader=0, leader_epoch=1, isr=[0],
                                                 replicas=[0], partition_epoch=1,
                                                 controller_epoch=1) is None
    assert logs.log_dir_of("t", 0) == tmp_path / "a"
    return manager


def no_space(monkeypatch):
    def fail(*_args):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
    monkeypatch.setattr(segment_module, "_write_all", fail)


async def produce(rm, tp, value=b"v", acks=1):
    return (await rm.append_records([(tp, records(value))], acks=acks, timeout_ms=1000))[tp]


def test_enospc_on_append_takes_the_dir_offline_and_acknowledges_nothing(rm, monkeypatch):
    leadership = []
    rm.leadership_listeners.append(lambda tp, leader, epoch: leadership.append((tp, leader)))

    async def main():
        assert (await produce(rm, IN_A, b"before")).error is None
        no_space(monkeypatch)
        failed = await produce(rm, IN_A, b"lost?", acks=-1)
        assert failed.error is errors.KafkaStorageError and failed.base_offset == -1
        monkeypatch.undo()
        assert (await produce(rm, IN_A)).error is errors.KafkaStorageError   # stays offline
        assert (await produce(rm, IN_B)).error is None                       # other dir: fine
        fetched = rm.read_all([PartitionFetch(IN_A, 0, 1000), PartitionFetch(IN_B, 0, 1000)],
                              replica_id=-1, max_bytes=10000)[0]
        assert fetched[IN_A].error is errors.KafkaStorageError
        assert fetched[IN_B].error is None and fetched[IN_B].size > 0
    run(main)
    assert IN_A in rm.offline_partitions and rm.get_partition(IN_A) is None
    assert leadership == [(IN_A, False)]
    assert rm._log_dir_events == 1   # one /log_dir_event_notification to post
    # The controller's LeaderAndIsr for it is answered KAFKA_STORAGE_ERROR, so it takes this
    # replica offline instead of counting on an empty new log.
    assert rm.become_leader_or_follower(IN_A, leader=0, leader_epoch=2, isr=[0], replicas=[0],
                                        partition_epoch=2, controller_epoch=1) \
        is errors.KafkaStorageError
    assert rm.log_manager.get_log("t", 0) is None


def test_a_partition_not_new_is_not_created_while_a_dir_is_offline(rm, tmp_path):
    rm.log_manager.fail_log_dir(tmp_path / "a", OSError(errno.EIO, "I/O error"))
    new_tp = TopicPartition("u", 0)
    assert rm.become_leader_or_follower(new_tp, leader=0, leader_epoch=0, isr=[0], replicas=[0],
                                        partition_epoch=0, controller_epoch=1,
                                        is_new=False) is errors.KafkaStorageError
    assert rm.become_leader_or_follower(new_tp, leader=0, leader_epoch=0, isr=[0], replicas=[0],
                                        partition_epoch=0, controller_epoch=1,
                                        is_new=True) is None
    assert rm.log_manager.log_dir_of("u", 0) == tmp_path / "b"


def test_with_no_dir_left_the_broker_halts(rm, tmp_path):
    halted = []
    rm.on_all_log_dirs_offline = lambda: halted.append(True)
    rm.log_manager.fail_log_dir(tmp_path / "a", OSError(errno.ENOSPC, "full"))
    assert halted == []
    rm.log_manager.fail_log_dir(tmp_path / "b", OSError(errno.ENOSPC, "full"))
    assert halted == [True]


def test_the_notification_is_posted_and_retried(rm, tmp_path):
    from kafkalite.zk.errors import ZkError

    posted = []

    class Zk:
        fail_first = True

        async def post_log_dir_event_notification(self, broker_id):
            if self.fail_first:
                self.fail_first = False
                raise ZkError("connection loss")
            posted.append(broker_id)

    rm.zk = Zk()

    async def main():
        async with trio.open_nursery() as nursery:
            await nursery.start(rm.run_log_dir_notifier)
            rm.log_manager.fail_log_dir(tmp_path / "a", OSError(errno.ENOSPC, "full"))
            while not posted:
                await trio.sleep(0.1)
            nursery.cancel_scope.cancel()
    run(main)
    assert posted == [0] and rm._log_dir_events == 0
