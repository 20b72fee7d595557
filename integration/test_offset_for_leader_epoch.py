"""OffsetForLeaderEpoch against one real broker: every version, Kafka's errors, the end offset of
an old epoch after a leader-epoch change, the leader-epoch-checkpoint file, and a librdkafka
consumer that validates its position (KIP-320) across that change without a reset."""

from __future__ import annotations

import time

import trio

from kafkalite import errors
from kafkalite.client.connection import BrokerConnection
from kafkalite.protocol.messages.metadata import MetadataRequest, MetadataRequestTopic
from kafkalite.protocol.messages.offset_for_leader_epoch import (
    OffsetForLeaderEpochRequest, OffsetForLeaderPartition, OffsetForLeaderTopic)
from kafkalite.protocol.messages.produce import (
    PartitionProduceData, ProduceRequest, TopicProduceData)
from kafkalite.records.builder import build_batch
from kafkalite.testing.clients import create_topic
from kafkalite.zk.znodes import TopicPartitionStateZNode

TOPIC = "epochs"
KEY = 23


async def _connect(broker) -> BrokerConnection:
    return await BrokerConnection.open(broker.host, broker.port)


async def _produce(conn: BrokerConnection, counts: list[int]) -> None:
    """One batch per count; retried while the restarted broker waits for its LeaderAndIsr."""
    now = int(time.time() * 1000)
    for n in counts:
        with trio.fail_after(60):
            while True:
                batch = build_batch([(None, b"v%d" % i, [], now) for i in range(n)])
                r = await conn.request(ProduceRequest(acks=-1, timeout_ms=10000, topic_data=[
                    TopicProduceData(name=TOPIC, partition_data=[
                        PartitionProduceData(index=0, records=batch)])]))
                code = r.responses[0].partition_responses[0].error_code
                if code == 0:
                    break
                assert code in (errors.UnknownTopicOrPartition.code,
                                errors.NotLeaderOrFollower.code), code
                await trio.sleep(0.2)


async def _leader_epoch(conn: BrokerConnection) -> int:
    """The partition's leader epoch, asked again (as a client does) while a restarted broker
    does not know the topic yet: its controller sends the live brokers first and the
    partitions with their LeaderAndIsr, as Kafka's does on failover."""
    with trio.fail_after(60):
        while True:
            r = await conn.request(MetadataRequest(topics=[MetadataRequestTopic(name=TOPIC)]), 9)
            (t,) = r.topics
            if t.error_code not in (errors.UnknownTopicOrPartition.code,
                                    errors.LeaderNotAvailable.code):
                break
            await trio.sleep(0.1)
    assert t.error_code == 0
    (p,) = t.partitions
    assert p.error_code == 0 and p.leader_id == 0
    return p.leader_epoch


async def _ask(conn: BrokerConnection, version: int, leader_epoch: int, *,
               current: int = -1, topic: str = TOPIC, partition: int = 0):
    r = await conn.request(OffsetForLeaderEpochRequest(replica_id=-1, topics=[
        OffsetForLeaderTopic(topic=topic, partitions=[OffsetForLeaderPartition(
            partition=partition, current_leader_epoch=current, leader_epoch=leader_epoch)])]),
        version)
    (t,) = r.topics
    (p,) = t.partitions
    assert (t.topic, p.partition) == (topic, partition)
    return p.error_code, p.leader_epoch, p.end_offset


def _run(fn, *args):
    async def main():
        conn = await _connect(args[0])
        try:
            return await fn(conn, *args[1:])
        finally:
            await conn.aclose()
    return trio.run(main)


def test_offset_for_leader_epoch(broker, kazoo_client):
    create_topic(broker.bootstrap, TOPIC)

    async def first_epoch(conn):
        assert conn.api_versions[KEY] == (0, 4)
        await _produce(conn, [2, 3, 1])
        epoch = await _leader_epoch(conn)
        for v in range(5):
            # the latest epoch ends at the log end offset; v0 has no epoch field
            assert await _ask(conn, v, epoch, current=epoch) == (0, epoch if v else -1, 6), v
            assert await _ask(conn, v, epoch + 1) == (0, -1, -1), v
            assert await _ask(conn, v, -1) == (0, -1, -1), v
            assert (await _ask(conn, v, epoch, topic="no-such-topic"))[0] == \
                errors.UnknownTopicOrPartition.code
            assert (await _ask(conn, v, epoch, partition=7))[0] == \
                errors.UnknownTopicOrPartition.code
        for v in (2, 3, 4):  # CurrentLeaderEpoch (KIP-320)
            assert await _ask(conn, v, epoch, current=epoch + 1) == (
                errors.UnknownLeaderEpoch.code, -1, -1)
        return epoch

    epoch = _run(first_epoch, broker)

    from confluent_kafka import Consumer, TopicPartition

    consumer = Consumer({"bootstrap.servers": broker.bootstrap, "group.id": "epoch-check",
                         "enable.auto.commit": False, "auto.offset.reset": "earliest",
                         "topic.metadata.refresh.interval.ms": 500})
    try:
        consumer.assign([TopicPartition(TOPIC, 0, 0)])
        seen = _consume(consumer, 6)

        # A new leader epoch, as a controller failover would leave it: the broker restarts
        # and is told the epoch written in the partition state znode (or a later one).
        broker.stop()
        path = TopicPartitionStateZNode.path(TOPIC, 0)
        data, stat = kazoo_client.get(path)
        state = TopicPartitionStateZNode.decode(data, stat.version)
        kazoo_client.set(path, TopicPartitionStateZNode.encode(
            type(state)(leader=state.leader, leader_epoch=epoch + 3, isr=state.isr,
                        controller_epoch=state.controller_epoch)), version=stat.version)
        broker.start()

        async def second_epoch(conn):
            new_epoch = await _leader_epoch(conn)
            assert new_epoch >= epoch + 3
            await _produce(conn, [4])
            for v in (1, 2, 3, 4):
                assert await _ask(conn, v, new_epoch, current=new_epoch) == (0, new_epoch, 10)
                # an old epoch ends where the next one begins (KIP-101); an unknown epoch
                # between them is answered with the largest known epoch below it (KIP-279)
                assert await _ask(conn, v, epoch, current=new_epoch) == (0, epoch, 6)
                assert await _ask(conn, v, epoch + 1) == (0, epoch, 6)
                assert await _ask(conn, v, new_epoch + 1) == (0, -1, -1)
            assert await _ask(conn, 0, epoch) == (0, -1, 6)
            for v in (2, 3, 4):
                assert await _ask(conn, v, epoch, current=epoch) == (
                    errors.FencedLeaderEpoch.code, -1, -1)
            return new_epoch

        new_epoch = _run(second_epoch, broker)
        # librdkafka validates its position (epoch of the last batch it read) against the new
        # leader epoch; a wrong answer would reset it to earliest and repeat offsets 0..5
        seen += _consume(consumer, 4)
        assert seen == list(range(10))
    finally:
        consumer.close()

    broker.stop()
    assert (broker.log_dir / f"{TOPIC}-0" / "leader-epoch-checkpoint").read_text() == \
        f"0\n2\n{epoch} 0\n{new_epoch} 6\n"


def _consume(consumer, n: int, timeout: float = 60) -> list[int]:
    from confluent_kafka import KafkaError

    offsets: list[int] = []
    deadline = time.monotonic() + timeout
    while len(offsets) < n and time.monotonic() < deadline:
        msg = consumer.poll(0.5)
        if msg is None:
            continue
        if msg.error():
            assert msg.error().code() != KafkaError._LOG_TRUNCATION, msg.error()
            continue
        offsets.append(msg.offset())
    assert len(offsets) == n, offsets
    return offsets
