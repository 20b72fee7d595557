"""Log compaction end to end: a real broker cleans a compacted topic that librdkafka reads.

A broker with tiny segments (``log.segment.bytes=2000``) and a fast cleaner cadence
(``log.cleaner.backoff.ms=100``) hosts a topic with ``cleanup.policy=compact``, ``segment.ms=100``,
``delete.retention.ms=100`` and ``min.cleanable.dirty.ratio=0.01``. confluent-kafka produces five
rounds of values for 40 keys (lz4-compressed batches, so the cleaner decompresses, filters and
re-compresses) and tombstones for ten of them, then keeps producing one new filler record per
check so segments keep rolling. The checks wait (bounded) until a from-the-beginning read shows
exactly the newest value of every live key and nothing of the deleted ones, and every record
read is the one acknowledged at its offset. A restart must load the cleaned log unchanged, with
the cleaner's progress in ``cleaner-offset-checkpoint``. Keyless records are refused.
"""

from __future__ import annotations

import time
import uuid

from kafkalite.storage.checkpoint import read_checkpoint
from kafkalite.testing.clients import create_topic

TOPIC = "compacted"
KEYS = 40
DELETED = 10
ROUNDS = 5
TOPIC_CONFIGS = {"cleanup.policy": "compact", "delete.retention.ms": "100", "segment.ms": "100",
                 "min.cleanable.dirty.ratio": "0.01"}
BROKER_PROPS = {"log.segment.bytes": 2000, "log.cleaner.backoff.ms": 100}


class Acked:
    """A confluent-kafka producer that remembers what was acknowledged at which offset."""

    def __init__(self, bootstrap: str):
        from confluent_kafka import Producer

        self.by_offset: dict[int, tuple[bytes | None, bytes | None]] = {}
        self.errors: list = []
        self.producer = Producer({"bootstrap.servers": bootstrap, "linger.ms": 5,
                                  "batch.num.messages": 10, "compression.type": "lz4",
                                  "acks": "all"})

    def _on_delivery(self, err, msg) -> None:
        if err is not None:
            self.errors.append(err)
        else:
            self.by_offset[msg.offset()] = (msg.key(), msg.value())

    def send(self, key: str | None, value: str | None) -> None:
        self.producer.produce(TOPIC, None if value is None else value.encode(),
                              None if key is None else key.encode(),
                              on_delivery=self._on_delivery)

    def flush(self) -> None:
        assert self.producer.flush(30) == 0
        assert not self.errors, self.errors[:3]


def read_topic(bootstrap: str) -> list[tuple[int, bytes | None, bytes | None]]:
    """Every record from the beginning to the end of the partition, via librdkafka."""
    from confluent_kafka import OFFSET_BEGINNING, Consumer, KafkaError, TopicPartition

    c = Consumer({"bootstrap.servers": bootstrap, "group.id": f"check-{uuid.uuid4().hex[:6]}",
                  "enable.auto.commit": False, "enable.partition.eof": True})
    c.assign([TopicPartition(TOPIC, 0, OFFSET_BEGINNING)])
    out = []
    deadline = time.monotonic() + 30
    try:
        while time.monotonic() < deadline:
            for m in c.consume(1000, timeout=0.5):
                if m.error() is not None:
                    assert m.error().code() == KafkaError._PARTITION_EOF, m.error()
                    return out
                out.append((m.offset(), m.key(), m.value()))
        raise AssertionError("no end of partition within 30 s")
    finally:
        c.close()


def fully_compacted(records, expected: dict[bytes, bytes]) -> bool:
    """Each live key exactly once with its newest value; deleted keys (values and tombstones)
    gone. Fillers (unique keys) do not matter."""
    keyed = [(k, v) for _, k, v in records if k is not None and k.startswith(b"key-")]
    return len(keyed) == len(expected) and dict(keyed) == expected


def test_compacted_topic_keeps_the_newest_value_per_key_and_drops_tombstones(broker_factory):
    broker = broker_factory(0, props=BROKER_PROPS)
    create_topic(broker.bootstrap, TOPIC, 1, **TOPIC_CONFIGS)
    producer = Acked(broker.bootstrap)
    for r in range(ROUNDS):
        for k in range(KEYS):
            producer.send(f"key-{k}", f"value-{k}-{r}")
        producer.flush()
    for k in range(DELETED):
        producer.send(f"key-{k}", None)
    producer.flush()
    expected = {f"key-{k}".encode(): f"value-{k}-{ROUNDS - 1}".encode()
                for k in range(DELETED, KEYS)}

    fillers = 0
    deadline = time.monotonic() + 45
    while True:
        # New data keeps segments rolling (segment.ms) so tombstones leave the active segment.
        producer.send(f"filler-{fillers}", "x")
        producer.flush()
        fillers += 1
        records = read_topic(broker.bootstrap)
        if fully_compacted(records, expected):
            break
        if time.monotonic() > deadline:
            raise AssertionError(f"not compacted after {fillers} checks: "
                                 f"{[(o, k, v) for o, k, v in records][:60]}")
        time.sleep(0.2)

    offsets = [o for o, _, _ in records]
    assert offsets == sorted(set(offsets)), "offsets must strictly increase"
    for offset, key, value in records:
        assert producer.by_offset[offset] == (key, value), f"record at {offset} altered"
    assert len(records) < len(producer.by_offset)

    # Keyless records are refused for a compacted topic (Kafka: INVALID_RECORD).
    from confluent_kafka import KafkaError
    producer.send(None, "no key")
    producer.producer.flush(30)
    assert [e.code() for e in producer.errors] == [KafkaError.INVALID_RECORD]

    # A restart loads the cleaned segments as they are; the cleaner's progress was saved.
    broker.stop()
    checkpoint = read_checkpoint(broker.log_dir / "cleaner-offset-checkpoint")
    assert checkpoint.get((TOPIC, 0), 0) > 0
    restarted = broker_factory(0, props=BROKER_PROPS, workdir=broker.workdir)
    assert read_topic(restarted.bootstrap) == records
