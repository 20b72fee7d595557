"""Kafka's perf, verifiable, mirror and inspection tools end to end, through their scripts:
kafka-producer-perf-test / kafka-consumer-perf-test, kafka-get-offsets,
kafka-verifiable-producer / -consumer, kafka-broker-api-versions, and kafka-mirror-maker
copying a topic between two clusters across a SIGKILL without losing a record."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import uuid

import pytest

from kafkalite.cli.cluster import SCRIPTS, BrokerProcess
from kafkalite.testing.processes import run_script as run
from kafkalite.testing.processes import wait_for

TOTAL_LINE = re.compile(
    r"^(\d+) records sent, \d+\.\d{6} records/sec \(\d+\.\d{2} MB/sec\), \d+\.\d{2} ms avg "
    r"latency, \d+\.\d{2} ms max latency, \d+ ms 50th, \d+ ms 95th, \d+ ms 99th, "
    r"\d+ ms 99\.9th\.$")
CSV_HEADER = ("start.time, end.time, data.consumed.in.MB, MB.sec, data.consumed.in.nMsg, "
              "nMsg.sec, rebalance.time.ms, fetch.time.ms, fetch.MB.sec, fetch.nMsg.sec")
BROKER_DEFAULTS = {"zookeeper.session.timeout.ms": 6000, "num.partitions": 1,
                   "group.initial.rebalance.delay.ms": 0, "offsets.topic.replication.factor": 1}


def create_topic(bootstrap: str, topic: str, partitions: int) -> None:
    rc, _, err = run("kafka-topics.sh", "--bootstrap-server", bootstrap, "--create", "--topic",
                     topic, "--partitions", str(partitions), "--replication-factor", "1")
    assert rc == 0, err


def events(stdout: str) -> list[dict]:
    return [json.loads(line) for line in stdout.splitlines()]


def test_perf_tests_and_get_offsets(broker):
    rc, out, err = run("kafka-producer-perf-test.sh", "--topic", "perf", "--num-records",
                       "5000", "--record-size", "100", "--throughput", "-1",
                       "--producer-props", f"bootstrap.servers={broker.bootstrap}", "acks=all")
    assert rc == 0, err
    total = TOTAL_LINE.match(out.splitlines()[-1])
    assert total and total.group(1) == "5000", out

    rc, out, err = run("kafka-get-offsets.sh", "--bootstrap-server", broker.bootstrap,
                       "--topic", "perf")
    assert (rc, out) == (0, "perf:0:5000\n"), err
    rc, out, err = run("kafka-run-class.sh", "kafka.tools.GetOffsetShell", "--broker-list",
                       broker.bootstrap, "--topic", "perf", "--time", "-2")
    assert (rc, out) == (0, "perf:0:0\n"), err

    rc, out, err = run("kafka-consumer-perf-test.sh", "--bootstrap-server", broker.bootstrap,
                       "--topic", "perf", "--messages", "5000", "--group", "perf-group")
    assert rc == 0, err
    header, line = out.splitlines()
    assert header == CSV_HEADER
    fields = line.split(", ")
    assert len(fields) == 10 and fields[4] == "5000"
    assert fields[2] == f"{5000 * 100 / 1024 / 1024:.4f}"
    assert re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d:\d{3}", fields[0])


def test_verifiable_producer_and_consumer(broker):
    create_topic(broker.bootstrap, "verified", 2)
    rc, out, err = run("kafka-verifiable-producer.sh", "--topic", "verified", "--broker-list",
                       broker.bootstrap, "--max-messages", "200", "--repeating-keys", "10")
    assert rc == 0, err
    produced = events(out)
    names = [e["name"] for e in produced]
    assert names[0] == "startup_complete" and names[-2:] == ["shutdown_complete", "tool_data"]
    sent = [e for e in produced if e["name"] == "producer_send_success"]
    assert len(sent) == 200 and {e["value"] for e in sent} == {str(i) for i in range(200)}
    assert {e["partition"] for e in sent} == {0, 1} and {e["topic"] for e in sent} == \
        {"verified"}
    assert produced[-1]["sent"] == produced[-1]["acked"] == 200

    rc, out, err = run("kafka-verifiable-consumer.sh", "--topic", "verified", "--group-id",
                       "verifiers", "--broker-list", broker.bootstrap, "--max-messages",
                       "200", "--verbose")
    assert rc == 0, err
    consumed = events(out)
    assert consumed[0]["name"] == "startup_complete"
    assert consumed[-1]["name"] == "shutdown_complete"
    assigned = [e for e in consumed if e["name"] == "partitions_assigned"]
    assert sorted((p["topic"], p["partition"]) for p in assigned[0]["partitions"]) == \
        [("verified", 0), ("verified", 1)]
    batches = [e for e in consumed if e["name"] == "records_consumed"]
    assert sum(p["count"] for e in batches for p in e["partitions"]) == 200
    records = [e for e in consumed if e["name"] == "record_data"]
    assert {(r["key"], r["value"]) for r in records} == \
        {(e["key"], e["value"]) for e in sent}
    commits = [e for e in consumed if e["name"] == "offsets_committed"]
    assert commits and all(c["success"] for c in commits)
    last = {(o["topic"], o["partition"]): o["offset"] for c in commits for o in c["offsets"]}
    ends = {("verified", p): sum(1 for e in sent if e["partition"] == p) for p in (0, 1)}
    assert last == ends

    rc, out, err = run("kafka-get-offsets.sh", "--bootstrap-server", broker.bootstrap,
                       "--topic-partitions", "verified")
    assert rc == 0 and out == "".join(f"verified:{p}:{ends['verified', p]}\n" for p in (0, 1))


def test_broker_api_versions(broker):
    rc, out, err = run("kafka-broker-api-versions.sh", "--bootstrap-server", broker.bootstrap)
    assert rc == 0, err
    lines = out.splitlines()
    assert lines[0] == f"{broker.bootstrap} (id: 0 rack: null) -> ("
    assert lines[1] == "\tProduce(0): 3 to 9 [usable: 9],"
    assert "\tApiVersions(18): 0 to 3 [usable: 3]," in lines
    assert "\tDescribeCluster(60): UNSUPPORTED," in lines
    assert lines[-1] == ")" and not lines[-2].endswith(",")


@pytest.fixture
def target_broker(zookeeper, tmp_path):
    """A second, separate cluster: one broker in a ZooKeeper chroot of its own."""
    b = BrokerProcess(broker_id=0, zk_connect=f"{zookeeper.hosts}/t-{uuid.uuid4().hex[:8]}",
                      workdir=tmp_path / "target", overrides=BROKER_DEFAULTS)
    b.start()
    yield b
    b.stop()


def start_mirror_maker(consumer_config, producer_config) -> subprocess.Popen:
    return subprocess.Popen(
        [str(SCRIPTS / "kafka-mirror-maker.sh"), "--consumer.config", str(consumer_config),
         "--producer.config", str(producer_config), "--whitelist", "mirrored",
         "--offset.commit.interval.ms", "200"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        env=dict(os.environ, KAFKALITE_PYTHON=sys.executable))


def end_offset_total(bootstrap: str) -> int:
    rc, out, _ = run("kafka-get-offsets.sh", "--bootstrap-server", bootstrap, "--topic",
                     "mirrored")
    return sum(int(line.rsplit(":", 1)[1]) for line in out.splitlines()) if rc == 0 else 0


def group_lags(bootstrap: str) -> list[str]:
    """The LAG column of the mirror group on the source, one entry per partition."""
    rc, out, err = run("kafka-consumer-groups.sh", "--bootstrap-server", bootstrap,
                       "--describe", "--group", "mirror")
    if rc != 0:
        return []
    return [line.split()[5] for line in out.splitlines()
            if line.startswith("mirror ") and "mirrored" in line]


def read_all(bootstrap: str, count: int) -> list[str]:
    """Every record as 'timestamp<TAB>headers<TAB>key<TAB>value'."""
    rc, out, err = run("kafka-console-consumer.sh", "--bootstrap-server", bootstrap, "--topic",
                       "mirrored", "--from-beginning", "--max-messages", str(count),
                       "--timeout-ms", "10000", "--property", "print.timestamp=true",
                       "--property", "print.headers=true", "--property", "print.key=true")
    assert rc == 0, err
    return out.splitlines()


def test_mirror_maker_loses_nothing_across_a_sigkill(broker, target_broker, tmp_path):
    create_topic(broker.bootstrap, "mirrored", 2)
    rc, _, err = run("kafka-verifiable-producer.sh", "--topic", "mirrored", "--broker-list",
                     broker.bootstrap, "--max-messages", "3000", "--repeating-keys", "37",
                     "--message-create-time", "1600000000000")
    assert rc == 0, err

    consumer_config = tmp_path / "mm-consumer.properties"
    consumer_config.write_text(
        f"bootstrap.servers={broker.bootstrap}\ngroup.id=mirror\nauto.offset.reset=earliest\n"
        "max.poll.records=2\nsession.timeout.ms=6000\nheartbeat.interval.ms=1000\n"
        "partition.assignment.strategy=range\n")
    producer_config = tmp_path / "mm-producer.properties"
    producer_config.write_text(f"bootstrap.servers={target_broker.bootstrap}\n")

    first = start_mirror_maker(consumer_config, producer_config)
    target_log = target_broker.log_dir / "mirrored-0" / "00000000000000000000.log"
    try:
        # Watch the target's log file, not a tool: the kill must land while it copies.
        wait_for(lambda: target_log.exists() and target_log.stat().st_size > 4096, 30,
                 "the mirror maker to copy some records")
    finally:
        first.kill()  # SIGKILL: no flush, no commit
        first.communicate()
    assert 0 < end_offset_total(target_broker.bootstrap) < 3000

    # More records while it is down, with headers this time.
    lines = "".join(f"trace:{i}\tk{i % 7}\tsecond-{i}\n" for i in range(1000))
    rc, _, err = run("kafka-console-producer.sh", "--bootstrap-server", broker.bootstrap,
                     "--topic", "mirrored", "--property", "parse.key=true",
                     "--property", "parse.headers=true", input=lines.encode())
    assert rc == 0, err

    second = start_mirror_maker(consumer_config, producer_config)
    try:
        # Not "the target holds 4000": re-copied duplicates reach that count early. The group
        # committing the source's end is the mirror maker's own word that it produced (and had
        # acknowledged) every record.
        wait_for(lambda: group_lags(broker.bootstrap) == ["0", "0"], 60,
                 "the restarted mirror maker to copy everything and commit")
        copied = end_offset_total(target_broker.bootstrap)
    finally:
        second.send_signal(signal.SIGTERM)
        _, mm_err = second.communicate(timeout=60)
    assert second.returncode == 0, mm_err.decode()
    assert b"Traceback" not in mm_err

    source = read_all(broker.bootstrap, 4000)
    target = read_all(target_broker.bootstrap, copied)
    assert len(source) == 4000 and len(target) == copied
    assert set(target) == set(source)  # every record, duplicates allowed
    assert "CreateTime:1600000000000\tNO_HEADERS\t0\t0" in target
    assert any(line.endswith("\ttrace:999\tk5\tsecond-999") for line in target)

    # The clean stop left everything it had copied committed.
    assert group_lags(broker.bootstrap) == ["0", "0"]
