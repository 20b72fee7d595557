"""Real Kafka clients against a real broker process: produce and consume round trips.

Acceptance of the foundation issue: kcat, confluent-kafka (librdkafka) and kafka-python each
produce 10,000 keyed messages with headers to a 3-partition topic (default client settings:
kafka-python 3 has idempotence on), then each of the three clients reads all 30,000 back,
byte-identical, in order per partition, at the offsets the producers were acknowledged with.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile

import pytest

from kafkalite.testing.clients import create_topic

N = 10_000
TOPIC = "roundtrip"


def _value(client: str, i: int) -> bytes:
    return f"{client}-value-{i:06d}-".encode() + bytes([65 + i % 26]) * (i % 50)


def _key(client: str, i: int) -> bytes:
    return f"{client}-key-{i % 997}".encode()


def _headers(client: str, i: int) -> list[tuple[str, bytes]]:
    return [("client", client.encode()), ("seq", str(i).encode())]


def produce_confluent(bootstrap: str) -> dict[tuple[int, int], tuple[bytes, bytes, list]]:
    from confluent_kafka import Producer

    acked = {}
    errors = []

    def on_delivery(i, err, msg):
        if err is not None:
            errors.append(err)
        else:
            acked[(msg.partition(), msg.offset())] = (msg.key(), msg.value(),
                                                      _headers("rdkafka", i))

    p = Producer({"bootstrap.servers": bootstrap})
    for i in range(N):
        p.produce(TOPIC, _value("rdkafka", i), _key("rdkafka", i),
                  headers=_headers("rdkafka", i),
                  on_delivery=lambda err, msg, i=i: on_delivery(i, err, msg))
        if i % 1000 == 0:
            p.poll(0)
    assert p.flush(60) == 0
    assert not errors, errors[:3]
    return acked


def produce_kafka_python(bootstrap: str) -> dict[tuple[int, int], tuple[bytes, bytes, list]]:
    from kafka import KafkaProducer

    p = KafkaProducer(bootstrap_servers=bootstrap)
    futures = [(i, p.send(TOPIC, value=_value("kafkapy", i), key=_key("kafkapy", i),
                          headers=_headers("kafkapy", i))) for i in range(N)]
    p.flush(60)
    acked = {}
    for i, f in futures:
        md = f.get(timeout=60)
        acked[(md.partition, md.offset)] = (_key("kafkapy", i), _value("kafkapy", i),
                                            _headers("kafkapy", i))
    p.close()
    return acked


def produce_kcat(bootstrap: str) -> None:
    """kcat reads key<TAB>value lines; it reports no offsets, so its messages are checked by
    content and per-partition order on consumption."""
    with tempfile.NamedTemporaryFile("wb", suffix=".txt", delete=False) as f:
        for i in range(N):
            f.write(_key("kcat", i) + b"\t" + _value("kcat", i) + b"\n")
        path = f.name
    try:
        r = subprocess.run(["kcat", "-P", "-b", bootstrap, "-t", TOPIC, "-K", "\t",
                            "-H", "client=kcat", "-l", path],
                           capture_output=True, text=True, timeout=120)
        assert r.returncode == 0, r.stderr
    finally:
        os.unlink(path)


def consume_confluent(bootstrap: str, expected: int, topic: str = TOPIC,
                      partitions: int = 3) -> list[tuple]:
    from confluent_kafka import Consumer, TopicPartition

    c = Consumer({"bootstrap.servers": bootstrap, "group.id": "rt-rdkafka",
                  "enable.auto.commit": False, "auto.offset.reset": "earliest"})
    c.assign([TopicPartition(topic, p, 0) for p in range(partitions)])
    out = []
    idle = 0
    while len(out) < expected and idle < 30:
        msgs = c.consume(num_messages=5000, timeout=1.0)
        idle = 0 if msgs else idle + 1
        for m in msgs:
            assert m.error() is None, m.error()
            out.append((m.partition(), m.offset(), m.key(), m.value(),
                        [(k, v) for k, v in (m.headers() or [])]))
    c.close()
    return out


def consume_kafka_python(bootstrap: str, expected: int, topic: str = TOPIC,
                         partitions: int = 3) -> list[tuple]:
    from kafka import KafkaConsumer, TopicPartition

    c = KafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False,
                      auto_offset_reset="earliest")
    c.assign([TopicPartition(topic, p) for p in range(partitions)])
    c.seek_to_beginning()
    out = []
    idle = 0
    while len(out) < expected and idle < 30:
        batch = c.poll(timeout_ms=1000, max_records=5000)
        idle = 0 if batch else idle + 1
        for records in batch.values():
            for m in records:
                out.append((m.partition, m.offset, m.key, m.value, list(m.headers)))
    c.close()
    return out


def consume_kcat(bootstrap: str, expected: int) -> list[tuple]:
    r = subprocess.run(["kcat", "-C", "-b", bootstrap, "-t", TOPIC, "-o", "beginning", "-e",
                        "-J", "-q"], capture_output=True, timeout=180)
    assert r.returncode == 0, r.stderr.decode()
    out = []
    for line in r.stdout.splitlines():
        d = json.loads(line)
        hdrs = d.get("headers") or []
        out.append((d["partition"], d["offset"],
                    d["key"].encode() if d["key"] is not None else None,
                    d["payload"].encode() if d["payload"] is not None else None,
                    [(hdrs[i], hdrs[i + 1].encode()) for i in range(0, len(hdrs), 2)]))
    assert len(out) == expected
    return out


@pytest.fixture
def kcat_bin():
    path = shutil.which("kcat")
    assert path, "kcat is required (Debian package kcat)"
    return path


def test_three_clients_produce_and_consume_everything(broker, kcat_bin):
    bootstrap = broker.bootstrap
    create_topic(bootstrap, TOPIC, 3)
    acked = produce_confluent(bootstrap)
    acked_kp = produce_kafka_python(bootstrap)
    assert not set(acked) & set(acked_kp), "two acks for one offset"
    acked.update(acked_kp)
    produce_kcat(bootstrap)
    assert len(acked) == 2 * N

    results = {
        "confluent-kafka": consume_confluent(bootstrap, 3 * N),
        "kafka-python": consume_kafka_python(bootstrap, 3 * N),
        "kcat": consume_kcat(bootstrap, 3 * N),
    }
    for name, records in results.items():
        assert len(records) == 3 * N, name
        by_offset = {(p, o): (k, v, h) for p, o, k, v, h in records}
        assert len(by_offset) == 3 * N, f"{name}: an offset was returned twice"
        for (p, o), (k, v, h) in acked.items():
            got = by_offset.get((p, o))
            assert got is not None, f"{name}: acked offset {p}/{o} missing"
            assert got[0] == k and got[1] == v, f"{name}: bytes differ at {p}/{o}"
            assert got[2] == list(h), f"{name}: headers differ at {p}/{o}"
        # Every partition is contiguous from 0 and in order.
        for p in range(3):
            offsets = [o for pp, o, *_ in records if pp == p]
            assert offsets == list(range(len(offsets))), f"{name}: partition {p} out of order"
        # kcat's own messages: all present once, in send order within each partition.
        kcat_msgs = [(p, v) for p, o, k, v, h in records if v and v.startswith(b"kcat-")]
        assert sorted(v for _, v in kcat_msgs) == sorted(_value("kcat", i) for i in range(N))
        for p in range(3):
            seq = [int(v.split(b"-")[2]) for pp, v in kcat_msgs if pp == p]
            assert seq == sorted(seq), f"{name}: kcat messages reordered in partition {p}"
        assert all(h == [("client", b"kcat")] for p, o, k, v, h in records
                   if v and v.startswith(b"kcat-"))


@pytest.mark.parametrize("codec", ["gzip", "snappy", "lz4", "zstd"])
def test_compressed_batches_round_trip(broker, codec):
    """Batches compressed by librdkafka and by kafka-python come back intact via both."""
    from confluent_kafka import Producer
    from kafka import KafkaProducer

    bootstrap = broker.bootstrap
    topic = f"compressed-{codec}"
    create_topic(bootstrap, topic, 1)
    p = Producer({"bootstrap.servers": bootstrap, "compression.type": codec,
                  "linger.ms": 20})
    sent = [(f"k{i}".encode(), (f"rdkafka-{codec}-{i}-" * 20).encode()) for i in range(2000)]
    for k, v in sent:
        p.produce(topic, v, k)
    assert p.flush(60) == 0
    kp = KafkaProducer(bootstrap_servers=bootstrap, compression_type=codec, linger_ms=20)
    sent_kp = [(f"k{i}".encode(), (f"kafkapy-{codec}-{i}-" * 20).encode()) for i in range(2000)]
    for k, v in sent_kp:
        kp.send(topic, value=v, key=k)
    kp.flush(60)
    kp.close()
    got_rd = consume_confluent(bootstrap, 4000, topic, 1)
    got_kp = consume_kafka_python(bootstrap, 4000, topic, 1)
    expected = sent + sent_kp
    for got in (got_rd, got_kp):
        assert [(k, v) for _, _, k, v, _ in got] == expected
        assert [o for _, o, *_ in got] == list(range(4000))
