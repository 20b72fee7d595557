"""The transaction coordinator's trio shell over a real replica manager and logs (tmp_path), on
trio's mock clock: markers go through the real WriteTxnMarkers handler to the data partition's
log, and the last stable offset follows."""

from __future__ import annotations

import functools
import itertools
from types import SimpleNamespace

import pytest
import trio
import trio.testing

from kafkalite import errors
from kafkalite.config import parse_server_config
from kafkalite.coordinator.transaction.service import TransactionCoordinatorService
from kafkalite.model import TRANSACTION_TOPIC, TopicPartition
from kafkalite.protocol.messages.write_txn_markers import WriteTxnMarkersRequest
from kafkalite.records.builder import build_batch
from kafkalite.replication.service import ReplicaManager
from kafkalite.server.handlers.write_txn_markers import handle_write_txn_markers
from kafkalite.storage.config import LogConfig
from kafkalite.storage.manager import LogManager

DATA = TopicPartition("data", 0)
TXN_0 = TopicPartition(TRANSACTION_TOPIC, 0)


@pytest.fixture
def run():
    def runner(async_fn, *args):
        return trio.run(functools.partial(async_fn, *args),
                        clock=trio.testing.MockClock(autojump_threshold=0))
    return runner


class FakeMetadata:
    """Every partition this test knows is led by broker 0."""

    topics = {"data": {0: None}, TRANSACTION_TOPIC: {0: None}}

    def partition(self, tp):
        return SimpleNamespace(leader=0) if tp.topic in self.topics else None

    def alive(self, broker_id):
        return broker_id == 0


def make_broker(tmp_path):
    config = parse_server_config({
        "zookeeper.connect": "unused:2181", "transaction.state.log.num.partitions": "1",
        "transaction.max.timeout.ms": "60000",
        "transaction.abort.timed.out.transaction.cleanup.interval.ms": "1000"})
    cfg = LogConfig(segment_bytes=64 * 1024)
    logs = LogManager([tmp_path], cfg, config_for_topic=lambda _t: cfg)
    rm = ReplicaManager(broker_id=0, log_manager=logs, topic_config=lambda _t: cfg)
    pids = itertools.count(1000)
    broker = SimpleNamespace(config=config, replica_manager=rm, zk=None, broker_id=0,
                             log_manager=logs, metadata=FakeMetadata(), coordinator=None)

    async def next_producer_id():
        return next(pids)

    async def send_to_broker(broker_id, header, request):
        assert broker_id == 0 and isinstance(request, WriteTxnMarkersRequest)
        ctx = SimpleNamespace(broker=broker, api_version=header.api_version)
        return await handle_write_txn_markers(ctx, request)

    broker.producer_ids = SimpleNamespace(next_producer_id=next_producer_id)
    broker.send_to_broker = send_to_broker
    for tp in (DATA, TXN_0):
        rm.become_leader_or_follower(tp, leader=0, leader_epoch=0, isr=[0], replicas=[0],
                                     partition_epoch=0, controller_epoch=1)
    return broker


async def produce(broker, pid: int, epoch: int, seq: int, values: list[bytes]):
    batch = build_batch([(None, v, (), 0) for v in values], producer_id=pid,
                        producer_epoch=epoch, base_sequence=seq, is_transactional=True)
    results = await broker.replica_manager.append_records(
        [(DATA, memoryview(bytearray(batch)))], acks=-1, timeout_ms=1000)
    return results[DATA]


def test_commit_writes_markers_and_moves_the_lso(run, tmp_path):
    broker = make_broker(tmp_path)
    data = broker.replica_manager.get_partition(DATA)

    async def main():
        svc = TransactionCoordinatorService(broker,
                                            clock=lambda: int(trio.current_time() * 1000))
        async with trio.open_nursery() as nursery:
            await nursery.start(svc.run)
            await svc.wait_loaded(0)
            r = await svc.init_producer_id("t", 30000)
            assert (r.error, r.producer_id, r.producer_epoch) == (None, 1000, 0)
            assert await svc.add_partitions("t", 1000, 0, [DATA]) is None
            assert (await produce(broker, 1000, 0, 0, [b"a", b"b"])).error is None
            assert data.last_stable_offset == 0 and data.high_watermark == 2
            assert await svc.end_txn("t", 1000, 0, commit=True) is None
            await trio.sleep(1)
            assert data.log.log_end_offset == 3 and data.last_stable_offset == 3
            assert svc.describe(["t"])[0].state == "CompleteCommit"
            # a second producer with the same id fences the first
            r2 = await svc.init_producer_id("t", 30000)
            assert (r2.producer_id, r2.producer_epoch) == (1000, 1)
            assert await svc.add_partitions("t", 1000, 0, [DATA]) is errors.ProducerFenced
            nursery.cancel_scope.cancel()

    run(main)
    broker.log_manager.shutdown()


def test_timed_out_transaction_is_aborted_and_reloaded_state_resumes(run, tmp_path):
    broker = make_broker(tmp_path)
    data = broker.replica_manager.get_partition(DATA)

    async def main():
        svc = TransactionCoordinatorService(broker,
                                            clock=lambda: int(trio.current_time() * 1000))
        async with trio.open_nursery() as nursery:
            await nursery.start(svc.run)
            await svc.wait_loaded(0)
            r = await svc.init_producer_id("slow", 2000)
            assert await svc.add_partitions("slow", r.producer_id, 0, [DATA]) is None
            assert (await produce(broker, r.producer_id, 0, 0, [b"x"])).error is None
            await trio.sleep(4)  # timeout 2 s, checked every second
            assert data.log.log_end_offset == 2 and data.last_stable_offset == 2
            assert data.log.collect_aborted_transactions(0, 2)[0].producer_id == r.producer_id
            (d,) = svc.describe(["slow"])
            assert (d.state, d.producer_epoch) == ("CompleteAbort", 1)  # fenced
            assert (await produce(broker, r.producer_id, 0, 1, [b"y"])).error is \
                errors.InvalidProducerEpoch
            # a new leader epoch of __transaction_state-0 reloads the partition from its log
            broker.replica_manager.become_leader_or_follower(
                TXN_0, leader=0, leader_epoch=1, isr=[0], replicas=[0], partition_epoch=1,
                controller_epoch=1)
            await trio.sleep(0.1)
            await svc.wait_loaded(0)
            assert svc.machine.owned == {0: 1}
            (d,) = svc.describe(["slow"])
            assert (d.state, d.producer_epoch) == ("CompleteAbort", 1)
            nursery.cancel_scope.cancel()

    run(main)
    broker.log_manager.shutdown()
