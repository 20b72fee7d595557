"""Retention and DeleteRecords on a real broker, observed on disk and through real clients.

Brokers run with 10 kB segments and a 500 ms retention check. Time-based retention is made
deterministic with record timestamps instead of waiting: old records carry a timestamp two hours
back and the topic keeps one hour, so the old segments are due at the first check and new
records are not due for an hour.
"""

from __future__ import annotations

import json
import subprocess
import time
from pathlib import Path

import pytest

from kafkalite.cli.cluster import SCRIPTS
from kafkalite.testing.clients import create_topic
from kafkalite.testing.processes import wait_for


PROPS = {"log.segment.bytes": 10000, "log.retention.check.interval.ms": 500}
HOUR = 3_600_000


def produce(bootstrap: str, topic: str, values, *, timestamp: int | None = None,
            key: bytes | None = None) -> list[int]:
    """Produce ``values`` with acks=all in order; returns their offsets."""
    from confluent_kafka import Producer

    p = Producer({"bootstrap.servers": bootstrap, "acks": "all", "linger.ms": 5,
                  "batch.num.messages": 20})
    offsets: list[int] = []

    def done(err, msg):
        assert err is None, err
        offsets.append(msg.offset())

    for v in values:
        kwargs = {"timestamp": timestamp} if timestamp is not None else {}
        p.produce(topic, v, key=key, on_delivery=done, **kwargs)
        p.poll(0)
    assert p.flush(30) == 0
    return offsets


def watermarks(bootstrap: str, topic: str) -> tuple[int, int]:
    from confluent_kafka import Consumer, TopicPartition

    c = Consumer({"bootstrap.servers": bootstrap, "group.id": "watermarks"})
    try:
        return c.get_watermark_offsets(TopicPartition(topic, 0), timeout=10)
    finally:
        c.close()


def segment_files(partition_dir: Path) -> dict[str, list[int]]:
    """Base offsets of ``.log`` and ``.log.deleted`` files."""
    out: dict[str, list[int]] = {"log": [], "deleted": []}
    for p in partition_dir.iterdir():
        if p.name.endswith(".log"):
            out["log"].append(int(p.name[:20]))
        elif p.name.endswith(".log.deleted"):
            out["deleted"].append(int(p.name[:20]))
    return {k: sorted(v) for k, v in out.items()}


def consume_from(bootstrap: str, topic: str, offset: int, reset: str, n: int):
    """Assign partition 0 at ``offset`` with ``auto.offset.reset=reset``; the first ``n``
    messages or errors."""
    from confluent_kafka import Consumer, TopicPartition

    c = Consumer({"bootstrap.servers": bootstrap, "group.id": f"g-{reset}",
                  "enable.auto.commit": False, "auto.offset.reset": reset})
    c.assign([TopicPartition(topic, 0, offset)])
    out = []
    deadline = time.monotonic() + 30
    while len(out) < n and time.monotonic() < deadline:
        m = c.poll(0.2)
        if m is not None:
            out.append(m)
    return c, out


def test_time_retention_deletes_old_segments_and_consumers_reset(broker_factory):
    from confluent_kafka import KafkaError

    broker = broker_factory(0, props=PROPS)
    create_topic(broker.bootstrap, "aging", **{"retention.ms": str(HOUR),
                                                "file.delete.delay.ms": "3000"})
    create_topic(broker.bootstrap, "compacted", **{"retention.ms": "1",
                                                    "cleanup.policy": "compact"})
    pdir = broker.log_dir / "aging-0"
    old = int(time.time() * 1000) - 2 * HOUR
    old_values = [b"old-%03d-" % i + b"x" * 200 for i in range(200)]
    assert produce(broker.bootstrap, "aging", old_values, timestamp=old) == list(range(200))
    produce(broker.bootstrap, "compacted", old_values[:100], timestamp=old, key=b"k")
    compacted_segments = segment_files(broker.log_dir / "compacted-0")["log"]
    assert len(compacted_segments) > 1

    # Every old segment goes, the active one too (fully replicated: the log rolls first); the
    # files are renamed *.deleted at once and unlinked file.delete.delay.ms (3 s) later, so
    # polling sees each one in its .deleted state.
    seen_logs: set[int] = set()
    seen_deleted: set[int] = set()

    def all_gone():
        files = segment_files(pdir)
        assert not set(files["deleted"]) & set(files["log"])
        seen_logs.update(files["log"])
        seen_deleted.update(files["deleted"])
        return files == {"log": [200], "deleted": []} and seen_deleted
    wait_for(all_gone, 30, "the old segments to be deleted")
    assert len(seen_deleted) >= 4 and seen_deleted >= seen_logs - {200}
    assert watermarks(broker.bootstrap, "aging") == (200, 200)
    assert "due to retention time 3600000ms breach" in broker.log_path.read_text()
    # retention ran many times by now; the compacted topic kept every segment
    assert segment_files(broker.log_dir / "compacted-0")["log"] == compacted_segments
    assert watermarks(broker.bootstrap, "compacted") == (0, 100)

    new_values = [b"new-%03d" % i for i in range(20)]
    assert produce(broker.bootstrap, "aging", new_values) == list(range(200, 220))

    c, msgs = consume_from(broker.bootstrap, "aging", 0, "earliest", 20)
    c.close()
    assert [(m.error(), m.offset(), m.value()) for m in msgs] == \
        [(None, 200 + i, v) for i, v in enumerate(new_values)]

    c, msgs = consume_from(broker.bootstrap, "aging", 3, "error", 1)
    c.close()
    assert msgs and msgs[0].error() is not None
    assert msgs[0].error().code() == KafkaError._AUTO_OFFSET_RESET

    # latest: the consumer skips to the end. When its reset lands is not observable, so keep
    # producing until it receives something: an earliest reset would start at 200.
    c, _ = consume_from(broker.bootstrap, "aging", 0, "latest", 0)
    try:
        sent: dict[int, bytes] = {}

        def receive():
            value = b"after-reset-%d" % len(sent)
            sent[produce(broker.bootstrap, "aging", [value])[0]] = value
            return c.poll(0.3)
        m = wait_for(receive, 30, "a message after the latest reset")
        assert m.error() is None and m.offset() >= 220 and sent[m.offset()] == m.value()
    finally:
        c.close()


def test_size_retention_keeps_retention_bytes(broker_factory):
    broker = broker_factory(0, props=PROPS)
    create_topic(broker.bootstrap, "sized", **{"retention.bytes": "30000",
                                                "file.delete.delay.ms": "0"})
    pdir = broker.log_dir / "sized-0"
    values = [b"%04d-" % i + b"y" * 300 for i in range(400)]
    produce(broker.bootstrap, "sized", values)

    def settled():
        files = segment_files(pdir)
        sizes = [(pdir / f"{b:020d}.log").stat().st_size for b in files["log"]]
        # Kafka's rule: delete the oldest while size - segment.size >= retention.bytes
        return not files["deleted"] and sum(sizes) - sizes[0] < 30000 and files
    files = wait_for(settled, 30, "size retention")
    sizes = [(pdir / f"{b:020d}.log").stat().st_size for b in files["log"]]
    assert sum(sizes) >= 30000
    low, high = watermarks(broker.bootstrap, "sized")
    assert (low, high) == (files["log"][0], 400) and low > 0
    c, msgs = consume_from(broker.bootstrap, "sized", 0, "earliest", high - low)
    c.close()
    assert [(m.offset(), m.value()) for m in msgs] == \
        [(o, values[o]) for o in range(low, high)]
    assert "due to retention size 30000 bytes breach" in broker.log_path.read_text()


def run_tool(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([str(SCRIPTS / "kafka-delete-records.sh"), *args],
                          capture_output=True, text=True, timeout=60)


def offsets_file(tmp_path: Path, entries, name="offsets.json") -> str:
    path = tmp_path / name
    path.write_text(json.dumps({"partitions": [{"topic": t, "partition": p, "offset": o}
                                               for t, p, o in entries], "version": 1}))
    return str(path)


def test_delete_records_script(broker_factory, tmp_path):
    broker = broker_factory(0, props=PROPS)
    create_topic(broker.bootstrap, "dr", **{"file.delete.delay.ms": "0"})
    values = [b"%04d-" % i + b"z" * 300 for i in range(150)]
    produce(broker.bootstrap, "dr", values)
    pdir = broker.log_dir / "dr-0"
    bases = segment_files(pdir)["log"]
    assert len(bases) >= 4
    target = bases[2] + 1  # inside the third segment: the first two are wholly below

    out = run_tool("--bootstrap-server", broker.bootstrap,
                   "--offset-json-file", offsets_file(tmp_path, [("dr", 0, target)]))
    assert out.returncode == 0, out.stderr
    assert out.stdout == ("Executing records delete operation\n"
                          "Records delete operation completed:\n"
                          f"partition: dr-0\tlow_watermark: {target}\n")
    assert watermarks(broker.bootstrap, "dr") == (target, 150)
    wait_for(lambda: segment_files(pdir)["log"] == bases[2:], 30,
             "the segments below the new log start offset to be deleted")
    c, msgs = consume_from(broker.bootstrap, "dr", 0, "earliest", 1)
    c.close()
    assert (msgs[0].offset(), msgs[0].value()) == (target, values[target])

    # -1 = the high watermark; offsets above it fail, as do unknown partitions
    out = run_tool("--bootstrap-server", broker.bootstrap, "--offset-json-file",
                   offsets_file(tmp_path, [("dr", 0, 200), ("nope", 0, 1)]))
    assert out.returncode == 1
    lines = out.stdout.splitlines()
    assert lines[:2] == ["Executing records delete operation",
                         "Records delete operation completed:"]
    assert lines[2].startswith("partition: dr-0\terror: OFFSET_OUT_OF_RANGE")
    assert lines[3].startswith("partition: nope-0\terror: UNKNOWN_TOPIC_OR_PARTITION")
    out = run_tool("--bootstrap-server", broker.bootstrap,
                   "--offset-json-file", offsets_file(tmp_path, [("dr", 0, -1)]))
    assert out.returncode == 0 and out.stdout.endswith("partition: dr-0\tlow_watermark: 150\n")
    assert watermarks(broker.bootstrap, "dr") == (150, 150)

    # bad input: one ERROR line, exit 1, nothing sent
    bad = tmp_path / "bad.json"
    bad.write_text('{"partitions": [{"topic": "dr", "partition": 0, "offset": 1}], '
                   '"version": 2}')
    out = run_tool("--bootstrap-server", broker.bootstrap, "--offset-json-file", str(bad))
    assert (out.returncode, out.stdout, out.stderr) == (
        1, "", "ERROR: Not supported version field value 2\n")
    out = run_tool("--bootstrap-server", broker.bootstrap, "--offset-json-file",
                   offsets_file(tmp_path, [("dr", 0, 1), ("dr", 0, 2)]))
    assert out.returncode == 1
    assert out.stderr == ("ERROR: Offset json file contains duplicate topic partitions: "
                          "dr-0\n")
    out = run_tool("--bootstrap-server", broker.bootstrap)
    assert out.returncode == 2 and "--offset-json-file" in out.stderr


def test_delete_records_with_librdkafka_admin(broker_factory):
    from confluent_kafka import KafkaError, KafkaException, TopicPartition
    from confluent_kafka.admin import AdminClient

    broker = broker_factory(0, props=PROPS)
    create_topic(broker.bootstrap, "adm")
    create_topic(broker.bootstrap, "adm-compact", **{"cleanup.policy": "compact"})
    produce(broker.bootstrap, "adm", [b"v%d" % i for i in range(10)])
    admin = AdminClient({"bootstrap.servers": broker.bootstrap})
    futures = admin.delete_records([TopicPartition("adm", 0, 4)], request_timeout=30)
    result = futures[TopicPartition("adm", 0)].result(timeout=30)
    assert result.low_watermark == 4
    assert watermarks(broker.bootstrap, "adm") == (4, 10)

    for tp, code in [(TopicPartition("adm", 0, 11), KafkaError.OFFSET_OUT_OF_RANGE),
                     (TopicPartition("adm-compact", 0, 0), KafkaError.POLICY_VIOLATION)]:
        futures = admin.delete_records([tp], request_timeout=30)
        with pytest.raises(KafkaException) as e:
            futures[TopicPartition(tp.topic, 0)].result(timeout=30)
        assert e.value.args[0].code() == code
    assert watermarks(broker.bootstrap, "adm") == (4, 10)
    del admin


def test_retention_ms_changed_live_with_kafka_configs(broker_factory, zk_connect):
    """kafka-configs.sh --alter retention.ms on a running broker: old segments go."""
    b = broker_factory(0, props=PROPS)
    create_topic(b.bootstrap, "live-retention", 1)
    old = int(time.time() * 1000) - 3_600_000  # an hour old: inside the 7-day default
    produce(b.bootstrap, "live-retention", [b"x" * 200] * 200, timestamp=old)
    time.sleep(1.5)  # a few retention checks under the default: nothing may go
    assert watermarks(b.bootstrap, "live-retention")[0] == 0
    r = subprocess.run([str(SCRIPTS / "kafka-configs.sh"), "--zookeeper", zk_connect,
                        "--entity-type", "topics", "--entity-name", "live-retention", "--alter",
                        "--add-config", "retention.ms=600000"], capture_output=True, text=True,
                       timeout=60)
    assert r.returncode == 0, r.stderr
    low = wait_for(lambda: watermarks(b.bootstrap, "live-retention")[0] or None, 30,
                   "retention to apply the new retention.ms")
    assert 0 < low <= 200
