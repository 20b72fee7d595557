"""Crash recovery of a real broker: repeated SIGKILLs under load, a corrupted closed segment, and
the files a clean SIGTERM leaves behind."""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path

from kafkalite.records.batch import iter_batches
from kafkalite.storage.checkpoint import read_checkpoint
from kafkalite.testing.clients import create_topic
from kafkalite.testing.processes import wait_for


# Small segments so kills land in every part of a segment's life, and a short ZooKeeper
# session so a restart does not wait long for the dead broker's registration to expire.
PROPS = {"log.segment.bytes": 10000, "log.retention.check.interval.ms": 500,
         "zookeeper.session.timeout.ms": 2000}


def read_partition(bootstrap: str, topic: str) -> dict[int, bytes]:
    """Every record of partition 0 from offset 0 up to the high watermark. The watermarks
    are asked again while a just-restarted broker has its metadata but not yet its
    LeaderAndIsr (it answers NOT_LEADER_OR_FOLLOWER, or UNKNOWN_TOPIC_OR_PARTITION before its
    metadata arrives), as a client retries."""
    from confluent_kafka import Consumer, KafkaError, KafkaException, TopicPartition

    not_yet = (KafkaError.UNKNOWN_TOPIC_OR_PART, KafkaError.NOT_LEADER_FOR_PARTITION)

    c = Consumer({"bootstrap.servers": bootstrap, "group.id": "check",
                  "enable.auto.commit": False, "auto.offset.reset": "error"})
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                low, high = c.get_watermark_offsets(TopicPartition(topic, 0), timeout=10)
                break
            except KafkaException as e:
                if time.monotonic() > deadline or not e.args[0].retriable() and \
                        e.args[0].code() not in not_yet:
                    raise
                time.sleep(0.2)
        assert low == 0
        c.assign([TopicPartition(topic, 0, 0)])
        got: dict[int, bytes] = {}
        deadline = time.monotonic() + 60
        while len(got) < high and time.monotonic() < deadline:
            for m in c.consume(10000, timeout=0.5):
                assert m.error() is None, m.error()
                assert m.offset() not in got
                got[m.offset()] = m.value()
        return got
    finally:
        c.close()


def log_batches(partition_dir: Path) -> list[tuple[str, int, int, bool]]:
    """(file, base offset, last offset, CRC valid) of every batch of every segment file."""
    out = []
    for path in sorted(partition_dir.glob("*.log")):
        data = memoryview(path.read_bytes())
        for _, batch in iter_batches(data):
            out.append((path.name, batch.base_offset, batch.last_offset, batch.is_valid()))
    return out


def test_ten_sigkills_during_acks1_produce_lose_no_acked_record(broker_factory):
    from confluent_kafka import Producer

    broker = broker_factory(0, props=PROPS)
    create_topic(broker.bootstrap, "crashy")
    acked: dict[int, bytes] = {}
    failed = []
    reused = []  # an acked offset handed out again: the first record was lost
    stop = threading.Event()

    def produce() -> None:
        # batch.size below segment.bytes: a larger batch is refused (RECORD_LIST_TOO_LARGE)
        p = Producer({"bootstrap.servers": broker.bootstrap, "acks": 1, "linger.ms": 2,
                      "batch.size": 8000, "message.timeout.ms": 60000,
                      "enable.idempotence": False, "log_level": int(os.environ.get("RDKAFKA_LOG_LEVEL", "0")),
                      "reconnect.backoff.max.ms": 200, "retry.backoff.ms": 100,
                      "topic.metadata.refresh.interval.ms": 1000})

        def delivered(err, msg) -> None:
            if err is not None:
                failed.append(err)
            else:
                if msg.offset() in acked:
                    reused.append((msg.offset(), acked[msg.offset()], msg.value()))
                acked[msg.offset()] = msg.value()
        i = 0
        while not stop.is_set():
            try:
                p.produce("crashy", b"value-%d-" % i + b"p" * (i % 97), on_delivery=delivered)
                i += 1
            except BufferError:
                p.poll(0.01)
            p.poll(0)
            if i % 50 == 0:
                time.sleep(0.001)  # a steady stream, not one giant batch per restart
        p.flush(60)

    thread = threading.Thread(target=produce)
    thread.start()
    try:
        for kill in range(10):
            floor = len(acked)
            wait_for(lambda: len(acked) > floor + 300, 60, f"acks before kill {kill + 1}")
            broker.kill()
            broker.start()
        wait_for(lambda: len(acked) > floor + 300, 60, "acks after the last restart")
    finally:
        stop.set()
        thread.join(90)
    assert not thread.is_alive()
    assert not reused, reused[:3]

    got = read_partition(broker.bootstrap, "crashy")
    lost = [o for o, v in acked.items() if got.get(o) != v]
    assert not lost, f"{len(lost)} of {len(acked)} acked records lost or changed: {lost[:5]}"
    assert sorted(got) == list(range(len(got)))
    assert broker.stop() == 0
    batches = log_batches(broker.log_dir / "crashy-0")
    assert all(valid for _, _, _, valid in batches), [b for b in batches if not b[3]][:3]
    offsets = [o for _, base, last, _ in batches for o in range(base, last + 1)]
    assert offsets == list(range(len(got)))  # no offset twice, none missing
    assert (broker.log_dir / ".kafka_cleanshutdown").exists()
    log_text = broker.log_path.read_text()
    assert log_text.count("Loading logs from log dir") == 11
    assert log_text.count("(unclean shutdown)") == 11  # a fresh log dir has no marker either


def test_corrupted_closed_segment_is_cut_at_the_bad_batch(broker_factory):
    broker = broker_factory(0, props=PROPS)
    create_topic(broker.bootstrap, "rot")
    from confluent_kafka import Producer

    p = Producer({"bootstrap.servers": broker.bootstrap, "acks": "all", "linger.ms": 5,
                  "batch.num.messages": 5})
    values = [b"rot-%04d-" % i + b"r" * 150 for i in range(400)]
    for v in values:
        p.produce("rot", v)
        p.poll(0)
    assert p.flush(30) == 0

    assert broker.stop() == 0
    log_dir = broker.log_dir
    # A clean SIGTERM leaves the marker and Kafka's four checkpoint files.
    assert (log_dir / ".kafka_cleanshutdown").exists()
    assert read_checkpoint(log_dir / "recovery-point-offset-checkpoint")[("rot", 0)] == 400
    assert read_checkpoint(log_dir / "replication-offset-checkpoint")[("rot", 0)] == 400
    assert read_checkpoint(log_dir / "log-start-offset-checkpoint")[("rot", 0)] == 0
    assert read_checkpoint(log_dir / "cleaner-offset-checkpoint") == {}

    # Flip one byte inside the records of a batch in the middle of a closed segment.
    pdir = log_dir / "rot-0"
    segments = sorted(pdir.glob("*.log"))
    assert len(segments) >= 4
    victim = segments[len(segments) // 2]
    data = victim.read_bytes()
    batches = list(iter_batches(memoryview(data)))
    position, batch = batches[len(batches) // 2]
    cut_offset = batch.base_offset
    flip_at = position + 61 + (batch.size_in_bytes - 61) // 2
    with open(victim, "r+b") as f:
        f.seek(flip_at)
        f.write(bytes([data[flip_at] ^ 0xFF]))
    later_segments = segments[segments.index(victim) + 1:]
    # Unclean: no marker and no recovery point, so recovery re-verifies every segment.
    (log_dir / ".kafka_cleanshutdown").unlink()
    (log_dir / "recovery-point-offset-checkpoint").unlink()

    broker.start()
    got = read_partition(broker.bootstrap, "rot")
    assert sorted(got) == list(range(cut_offset))
    assert all(got[o] == values[o] for o in got)
    assert not any(s.exists() for s in later_segments)
    log_text = broker.log_path.read_text()
    assert f"Found invalid messages in log segment {victim}" in log_text
    assert "CRC mismatch in batch at offset %d" % cut_offset in log_text
    assert f"log now ends at offset {cut_offset}" in log_text
    for s in later_segments:
        assert f"Deleting segment {s} after the corruption" in log_text

    # the broker goes on from the cut
    p = Producer({"bootstrap.servers": broker.bootstrap, "acks": "all"})
    offsets = []
    p.produce("rot", b"after", on_delivery=lambda err, msg: offsets.append((err, msg.offset())))
    assert p.flush(30) == 0
    assert offsets == [(None, cut_offset)]
    assert broker.stop() == 0
    assert all(valid for _, _, _, valid in log_batches(pdir))
    assert os.path.getsize(pdir / victim.name) < len(data)
