"""Producer against the in-memory broker: batching, partitioning, retries, idempotence."""

from __future__ import annotations

import random

import pytest
import trio

from kafkalite.errors import (
    ConfigError,
    InvalidTopicException,
    MessageTooLarge,
    UnknownTopicOrPartition,
)
from kafkalite.protocol.api_keys import ApiKey
from kafkalite.records.batch import RecordBatchView
from kafkalite.records.record import iter_records
from kafkalite.client.cluster import Cluster
from kafkalite.client.errors import ClientError
from kafkalite.client.partitioners import murmur2, to_positive
from kafkalite.client.producer import Producer, RecordMetadata, parse_acks


def stored(kafka, topic, partition):
    data = b"".join(kafka.logs[(topic, partition)].batches)
    return [(r.offset, r.key, r.value, r.headers) for r in iter_records(data)]


def test_send_returns_offsets_and_batches_concurrent_sends(kafka, run):
    kafka.create_topic("t", 1)

    async def main():
        async with Cluster("fake:9092") as cluster, Producer(cluster, linger_ms=50) as producer:
            first = await producer.send("t", b"solo")
            assert first == RecordMetadata(topic="t", partition=0, offset=0,
                                           timestamp=first.timestamp)
            handles = [await producer.enqueue("t", f"v{i}") for i in range(10)]
            metas = [await h.wait() for h in handles]
            assert [m.offset for m in metas] == list(range(1, 11))

    run(main)
    produce = kafka.sent(ApiKey.PRODUCE)
    assert len(produce) == 2  # the ten enqueued records went in one batch
    expected = [b"solo"] + [b"v%d" % i for i in range(10)]
    assert [v for _, _, v, _ in stored(kafka, "t", 0)] == expected


def test_keys_headers_and_java_compatible_partitioning(kafka, run):
    kafka.create_topic("t", 4)
    keys = [b"k%d" % i for i in range(20)]

    async def main():
        async with Cluster("fake:9092") as cluster, Producer(cluster) as producer:
            for key in keys:
                meta = await producer.send("t", b"v", key=key, headers=[("h", b"1")])
                assert meta.partition == to_positive(murmur2(key)) % 4

    run(main)
    total = sum(len(stored(kafka, "t", p)) for p in range(4))
    assert total == 20
    [(_, key, _, headers)] = stored(kafka, "t", to_positive(murmur2(b"k0")) % 4)[:1]
    assert key == b"k0" and headers[0].key == "h" and headers[0].value == b"1"


def test_null_keys_stick_to_one_partition_per_batch(kafka, run):
    kafka.create_topic("t", 3)

    async def main():
        async with Cluster("fake:9092") as cluster, \
                Producer(cluster, linger_ms=10, rng=random.Random(3)) as producer:
            handles = [await producer.enqueue("t", b"x") for _ in range(5)]
            partitions = {(await h.wait()).partition for h in handles}
            assert len(partitions) == 1

    run(main)


def test_explicit_partition_and_compression(kafka, run):
    kafka.create_topic("t", 2)

    async def main():
        async with Cluster("fake:9092") as cluster, \
                Producer(cluster, compression="zstd", acks="all") as producer:
            meta = await producer.send("t", b"z" * 1000, partition=1)
            assert meta.partition == 1
            with pytest.raises(UnknownTopicOrPartition, match="not in the range"):
                await producer.send("t", b"x", partition=5)

    run(main)
    view = RecordBatchView(memoryview(kafka.logs[("t", 1)].batches[0]))
    assert view.compression == 4
    assert kafka.sent(ApiKey.PRODUCE)[0].acks == -1


def test_retriable_errors_are_retried_in_order(kafka, run):
    kafka.create_topic("t", 1)
    kafka.produce_errors[("t", 0)] = __import__("collections").deque([6, 6])  # NOT_LEADER x2

    async def main():
        async with Cluster("fake:9092") as cluster, Producer(cluster) as producer:
            meta = await producer.send("t", b"a")
            assert meta.offset == 0
            meta = await producer.send("t", b"b")
            assert meta.offset == 1

    run(main)
    assert len(kafka.sent(ApiKey.PRODUCE)) == 4
    assert len(kafka.sent(ApiKey.METADATA)) >= 2  # NOT_LEADER refreshes metadata


def test_fatal_error_fails_the_records(kafka, run):
    kafka.create_topic("t", 1)
    kafka.produce_errors[("t", 0)] = __import__("collections").deque([17])

    async def main():
        async with Cluster("fake:9092") as cluster, Producer(cluster) as producer:
            with pytest.raises(InvalidTopicException, match="topic t partition 0"):
                await producer.send("t", b"a")
            assert (await producer.send("t", b"b")).offset == 0

    run(main)


def test_retries_exhausted(kafka, run):
    kafka.create_topic("t", 1)
    kafka.produce_errors[("t", 0)] = __import__("collections").deque([6] * 10)

    async def main():
        async with Cluster("fake:9092") as cluster, Producer(cluster, retries=2) as producer:
            handle = await producer.enqueue("t", b"a")
            await producer.flush()
            assert handle.done() and handle.error is not None

    run(main)
    assert len(kafka.sent(ApiKey.PRODUCE)) == 3


def test_idempotent_producer_numbers_records_per_partition(kafka, run):
    kafka.create_topic("t", 2)

    async def main():
        async with Cluster("fake:9092") as cluster, \
                Producer(cluster, acks=-1, enable_idempotence=True) as producer:
            for i in range(3):
                await producer.send("t", b"v", partition=0)
            await producer.send("t", b"w", partition=1)
            handles = [await producer.enqueue("t", b"x", partition=0) for _ in range(4)]
            for h in handles:
                await h.wait()

    run(main)
    assert len(kafka.sent(ApiKey.INIT_PRODUCER_ID)) == 1
    views = [RecordBatchView(memoryview(b)) for b in kafka.logs[("t", 0)].batches]
    assert [(v.producer_id, v.base_sequence, v.records_count) for v in views] == [
        (1001, 0, 1), (1001, 1, 1), (1001, 2, 1), (1001, 3, 4)]
    [other] = [RecordBatchView(memoryview(b)) for b in kafka.logs[("t", 1)].batches]
    assert other.base_sequence == 0


def test_idempotence_needs_acks_all():
    with pytest.raises(ConfigError, match="Must set acks to all"):
        Producer(None, acks=1, enable_idempotence=True)


@pytest.mark.parametrize(("value", "expected"), [(0, 0), ("1", 1), ("all", -1), ("-1", -1)])
def test_parse_acks(value, expected):
    assert parse_acks(value) == expected


@pytest.mark.parametrize("bad", ["2", "none", ""])
def test_parse_acks_rejects(bad):
    with pytest.raises(ConfigError):
        parse_acks(bad)


def test_bad_compression_name():
    with pytest.raises(ConfigError, match="compression.type"):
        Producer(None, compression="brotli")


def test_record_larger_than_max_request_size(kafka, run):
    kafka.create_topic("t", 1)

    async def main():
        async with Cluster("fake:9092") as cluster, \
                Producer(cluster, max_request_size=1000) as producer:
            with pytest.raises(MessageTooLarge, match="max.request.size"):
                await producer.send("t", b"x" * 2000)

    run(main)


def test_not_running_and_closed(kafka, run):
    async def main():
        async with Cluster("fake:9092") as cluster:
            producer = Producer(cluster)
            with pytest.raises(ClientError, match="not running"):
                await producer.send("t", b"x")
            async with trio.open_nursery() as nursery:
                await nursery.start(producer.run)
                await producer.send("t", b"x")
                await producer.aclose()
            with pytest.raises(ClientError, match="closed"):
                await producer.send("t", b"x")

    run(main)


def test_acks_zero_resolves_without_offsets(kafka, run):
    kafka.create_topic("t", 1)

    async def main():
        async with Cluster("fake:9092") as cluster, Producer(cluster, acks=0) as producer:
            meta = await producer.send("t", b"fire-and-forget")
            assert meta.offset == -1

    run(main)
    assert len(kafka.logs[("t", 0)].batches) == 1


def test_exception_in_body_propagates_unwrapped(kafka, run):
    async def main():
        async with Cluster("fake:9092") as cluster:
            with pytest.raises(KeyError):
                async with Producer(cluster):
                    raise KeyError("mine")

    run(main)


def test_auto_created_topic(kafka, run):
    async def main():
        async with Cluster("fake:9092") as cluster, Producer(cluster) as producer:
            assert (await producer.send("fresh", b"x")).offset == 0

    run(main)
    assert ("fresh", 0) in kafka.logs
