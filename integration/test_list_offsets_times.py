"""ListOffsets by timestamp as librdkafka users see it (``offsets_for_times``).

Producers set CreateTime themselves: far in the past, far in the future, out of order, and in
compressed batches whose max timestamp is not the last record's. The broker must answer the
first offset whose record timestamp is >= the target, or -1 when none is.
"""

from __future__ import annotations

import socket
import struct

import pytest

from kafkalite.protocol.codec import decode, encode
from kafkalite.protocol.header import RequestHeader, encode_request_header
from kafkalite.protocol.messages.list_offsets import (
    ListOffsetsPartition, ListOffsetsRequest, ListOffsetsResponse, ListOffsetsTopic)
from kafkalite.testing.clients import create_topic

FAR_PAST = 1_000  # 1970
FAR_FUTURE = 32503680000000  # year 3000
NOW = 1_700_000_000_000


def _produce(bootstrap: str, topic: str, timestamps: list[int], compression: str) -> list[int]:
    """Send one record per timestamp in a single batch; returns their offsets."""
    from confluent_kafka import Producer

    p = Producer({"bootstrap.servers": bootstrap, "compression.type": compression,
                  "linger.ms": 200, "batch.num.messages": 1000, "enable.idempotence": True})
    offsets: dict[int, int] = {}

    def done(err, msg):
        assert err is None, err
        offsets[int(msg.key())] = msg.offset()

    for i, ts in enumerate(timestamps):
        p.produce(topic, key=str(i).encode(), value=b"v%d" % i, partition=0, timestamp=ts,
                  on_delivery=done)
    assert p.flush(30) == 0
    return [offsets[i] for i in range(len(timestamps))]


def _offsets_for_times(bootstrap: str, topic: str, targets: list[int]) -> list[int]:
    from confluent_kafka import Consumer, TopicPartition

    c = Consumer({"bootstrap.servers": bootstrap, "group.id": "times"})
    try:
        answers = []
        for target in targets:
            (tp,) = c.offsets_for_times([TopicPartition(topic, 0, target)], timeout=15)
            assert tp.error is None, tp.error
            answers.append(tp.offset)
        return answers
    finally:
        c.close()


@pytest.mark.parametrize("compression", ["none", "zstd", "gzip", "lz4"])
def test_offsets_for_times_with_out_of_order_create_times(broker, compression):
    topic = f"times-{compression}"
    create_topic(broker.bootstrap, topic)
    # one batch: the max timestamp is in the middle, far past and far future records around it
    first = [NOW + 10, FAR_FUTURE, NOW + 5, FAR_PAST, NOW + 20]
    # a later batch with timestamps that go back below the first batch's
    second = [NOW - 86_400_000, NOW + 15, NOW + 30, NOW + 1]
    offsets = _produce(broker.bootstrap, topic, first, compression)
    offsets += _produce(broker.bootstrap, topic, second, compression)
    records = list(zip(offsets, first + second))
    assert offsets == list(range(9)), offsets

    def expected(target: int) -> int:
        return next((o for o, ts in records if ts >= target), -1)

    targets = [0, FAR_PAST, NOW - 86_400_000, NOW, NOW + 6, NOW + 11, NOW + 16, NOW + 21,
               NOW + 25, NOW + 31, FAR_FUTURE, FAR_FUTURE + 1]
    answers = _offsets_for_times(broker.bootstrap, topic, targets)
    assert answers == [expected(t) for t in targets]
    # spelled out for the interesting ones: the first record in offset order, not the batch
    assert dict(zip(targets, answers))[NOW + 11] == 1  # FAR_FUTURE at offset 1 beats NOW+20
    assert dict(zip(targets, answers))[NOW + 31] == 1
    assert dict(zip(targets, answers))[FAR_FUTURE + 1] == -1


def _list_offsets_v4(bootstrap: str, topic: str, timestamp: int):
    """One ListOffsets v4 request on a raw socket; returns the partition answer."""
    host, port = bootstrap.rsplit(":", 1)
    body = encode(ListOffsetsRequest(replica_id=-1, isolation_level=0, topics=(ListOffsetsTopic(
        name=topic, partitions=(ListOffsetsPartition(partition_index=0, timestamp=timestamp),)),)),
        4)
    payload = encode_request_header(RequestHeader(2, 4, 7, "times")) + body
    with socket.create_connection((host, int(port)), timeout=15) as s:
        s.sendall(struct.pack(">i", len(payload)) + payload)
        buf = b""
        while len(buf) < 4 or len(buf) < 4 + struct.unpack(">i", buf[:4])[0]:
            chunk = s.recv(65536)
            assert chunk, "connection closed"
            buf += chunk
    assert struct.unpack(">i", buf[4:8])[0] == 7
    resp = decode(ListOffsetsResponse, 4, buf[8:])
    return resp.topics[0].partitions[0]


def test_answer_carries_the_record_timestamp_and_minus_one_when_none(broker):
    create_topic(broker.bootstrap, "times-wire")
    _produce(broker.bootstrap, "times-wire", [NOW + 3, NOW + 900, NOW + 7], "zstd")
    found = _list_offsets_v4(broker.bootstrap, "times-wire", NOW + 4)
    assert (found.error_code, found.offset, found.timestamp) == (0, 1, NOW + 900)
    assert found.leader_epoch == 0
    found = _list_offsets_v4(broker.bootstrap, "times-wire", NOW + 901)
    assert (found.error_code, found.offset, found.timestamp) == (0, -1, -1)
