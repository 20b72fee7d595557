"""Consumer against the in-memory broker: offsets, fetch positions, resets, subscriptions."""

from __future__ import annotations

import collections

import pytest
import trio

from kafkalite.errors import OffsetOutOfRange, UnknownTopicOrPartition
from kafkalite.protocol.api_keys import ApiKey
from kafkalite.records.builder import build_batch
from kafkalite.model import TopicPartition
from kafkalite.client.cluster import Cluster
from kafkalite.client.consumer import Consumer


def fill(kafka, topic, partition, values, per_batch=1):
    kafka.create_topic(topic, max(partition + 1, len(kafka.topic_partitions(topic))))
    log = kafka.logs[(topic, partition)]
    for i in range(0, len(values), per_batch):
        chunk = values[i:i + per_batch]
        log.append(build_batch([(None, v, (), 1000) for v in chunk]))


def offsets_and_values(records):
    return [(r.partition, r.offset, r.value) for r in records]


def test_assign_earliest_reads_everything_then_waits(kafka, run):
    fill(kafka, "t", 0, [b"a", b"b", b"c"])

    async def main():
        async with Cluster("fake:9092") as cluster:
            consumer = Consumer(cluster)
            consumer.assign([("t", 0, "earliest")])
            records = await consumer.poll(1000)
            assert offsets_and_values(records) == [(0, 0, b"a"), (0, 1, b"b"), (0, 2, b"c")]
            assert consumer.position("t", 0) == 3
            assert consumer.high_watermark("t", 0) == 3
            start = trio.current_time()
            assert await consumer.poll(2000) == []
            assert trio.current_time() - start == pytest.approx(2.0, abs=0.6)

    run(main)


def test_latest_sees_only_new_records(kafka, run):
    fill(kafka, "t", 0, [b"old"])

    async def main():
        async with Cluster("fake:9092") as cluster:
            consumer = Consumer(cluster)
            consumer.assign([("t", 0)])  # default: latest
            assert await consumer.poll(100) == []
            kafka.logs[("t", 0)].append(build_batch([(None, b"new", (), 1)]))
            assert offsets_and_values(await consumer.poll(1000)) == [(0, 1, b"new")]

    run(main)


def test_explicit_offset_inside_a_batch_skips_earlier_records(kafka, run):
    fill(kafka, "t", 0, [b"r%d" % i for i in range(10)], per_batch=10)

    async def main():
        async with Cluster("fake:9092") as cluster:
            consumer = Consumer(cluster)
            consumer.assign([("t", 0, 7)])
            records = await consumer.poll(1000)
            assert [r.offset for r in records] == [7, 8, 9]

    run(main)
    assert kafka.sent(ApiKey.LIST_OFFSETS) == []


def test_out_of_range_resets_per_policy(kafka, run):
    fill(kafka, "t", 0, [b"a", b"b"])

    async def main():
        async with Cluster("fake:9092") as cluster:
            consumer = Consumer(cluster, auto_offset_reset="earliest")
            consumer.assign([("t", 0, 50)])
            records = await consumer.poll(1000)
            assert [r.offset for r in records] == [0, 1]
            strict = Consumer(cluster, auto_offset_reset="none")
            strict.assign([("t", 0, 50)])
            with pytest.raises(OffsetOutOfRange, match="50 is out of range for partition t-0"):
                await strict.poll(1000)

    run(main)


def test_subscribe_assigns_all_partitions(kafka, run):
    fill(kafka, "t", 0, [b"p0"])
    fill(kafka, "t", 1, [b"p1"])
    fill(kafka, "t", 2, [b"p2"])

    async def main():
        async with Cluster("fake:9092") as cluster:
            consumer = Consumer(cluster, auto_offset_reset="earliest")
            consumer.subscribe(["t"])
            got = []
            while len(got) < 3:
                got += await consumer.poll(1000)
            assert sorted(r.value for r in got) == [b"p0", b"p1", b"p2"]
            assert consumer.assignment() == [TopicPartition("t", p) for p in range(3)]

    run(main)


def test_subscribe_pattern_skips_non_matching_topics(kafka, run):
    fill(kafka, "logs-a", 0, [b"a"])
    fill(kafka, "logs-b", 0, [b"b"])
    fill(kafka, "other", 0, [b"x"])

    async def main():
        async with Cluster("fake:9092") as cluster:
            consumer = Consumer(cluster, auto_offset_reset="earliest")
            consumer.subscribe(pattern=r"logs-.*")
            got = []
            while len(got) < 2:
                got += await consumer.poll(1000)
            assert sorted(r.value for r in got) == [b"a", b"b"]

    run(main)


def test_leader_errors_refresh_metadata_and_continue(kafka, run):
    fill(kafka, "t", 0, [b"a"])
    kafka.fetch_errors[("t", 0)] = collections.deque([6, 6])

    async def main():
        async with Cluster("fake:9092") as cluster:
            consumer = Consumer(cluster)
            consumer.assign([("t", 0, 0)])
            records = await consumer.poll(5000)
            assert [r.value for r in records] == [b"a"]

    run(main)
    assert len(kafka.sent(ApiKey.FETCH)) == 3


def test_missing_partition_is_reported(kafka, run):
    fill(kafka, "t", 0, [b"a"])

    async def main():
        async with Cluster("fake:9092") as cluster:
            consumer = Consumer(cluster)
            consumer.assign([("t", 4, 0)])
            with pytest.raises(UnknownTopicOrPartition, match="partition 4 of topic t does not "
                                                              "exist"):
                await consumer.poll(1000)

    run(main)


def test_seek_changes_the_next_fetch(kafka, run):
    fill(kafka, "t", 0, [b"a", b"b", b"c"])

    async def main():
        async with Cluster("fake:9092") as cluster:
            consumer = Consumer(cluster)
            consumer.assign([("t", 0, "earliest")])
            assert len(await consumer.poll(1000)) == 3
            consumer.seek("t", 0, 1)
            assert [r.value for r in await consumer.poll(1000)] == [b"b", b"c"]

    run(main)


def test_records_iterator(kafka, run):
    fill(kafka, "t", 0, [b"a", b"b"])

    async def main():
        async with Cluster("fake:9092") as cluster:
            consumer = Consumer(cluster)
            consumer.assign([("t", 0, "earliest")])
            seen = []
            async for record in consumer.records():
                seen.append(record.value)
                if len(seen) == 2:
                    break
            assert seen == [b"a", b"b"]

    run(main)



@pytest.mark.parametrize("bad", [-1, "middle", 1.5, True])
def test_bad_offsets(bad):
    consumer = Consumer(None)
    with pytest.raises(ValueError, match="offset must be"):
        consumer.assign([("t", 0, bad)])


def test_bad_settings():
    with pytest.raises(ValueError, match="auto_offset_reset"):
        Consumer(None, auto_offset_reset="smallest")
    with pytest.raises(ValueError, match="isolation_level"):
        Consumer(None, isolation_level="serializable")
