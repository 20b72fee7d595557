"""A broker with two log dirs: new partitions spread over both, kafka-log-dirs.sh reports
them with the sizes of the files on disk, and kafka-dump-log.sh reads the real segments."""

from __future__ import annotations

import json
import re

from kafkalite.testing.clients import create_topic
from kafkalite.testing.processes import run_script as run


def produce_batches(bootstrap, topic, partitions, batches_per_partition, records_per_batch):
    """Produce whole batches (one flush each), so the segment holds a known number of them."""
    from confluent_kafka import Producer

    p = Producer({"bootstrap.servers": bootstrap, "linger.ms": 1000,
                  "batch.num.messages": records_per_batch, "enable.idempotence": True})
    failures = []
    for b in range(batches_per_partition):
        for partition in range(partitions):
            for r in range(records_per_batch):
                p.produce(topic, f"value-{b}-{r}-".encode() + b"z" * 200,
                          f"key-{r}".encode(), partition=partition,
                          on_delivery=lambda err, msg: err and failures.append(err))
        assert p.flush(30) == 0
    assert not failures, failures[:3]


def test_log_dirs_and_dump_log(broker_factory, tmp_path):
    a, b = tmp_path / "dir-a", tmp_path / "dir-b"
    broker = broker_factory(0, props={"log.dirs": f"{a},{b}"})
    create_topic(broker.bootstrap, "spread", partitions=4, **{"index.interval.bytes": "300"})
    create_topic(broker.bootstrap, "other", partitions=1)
    produce_batches(broker.bootstrap, "spread", 4, batches_per_partition=5, records_per_batch=3)

    # LogManager puts each new partition in the dir holding the fewest
    in_a = sorted(p.name for p in a.iterdir() if p.name.startswith("spread-"))
    in_b = sorted(p.name for p in b.iterdir() if p.name.startswith("spread-"))
    assert len(in_a) == len(in_b) == 2 and set(in_a) | set(in_b) == {f"spread-{i}"
                                                                     for i in range(4)}

    rc, out, err = run("kafka-log-dirs.sh", "--bootstrap-server", broker.bootstrap, "--describe",
                       "--topic-list", "spread")
    assert rc == 0, err
    lines = out.splitlines()
    assert lines[:2] == ["Querying brokers for log directories information",
                         "Received log directory information from brokers 0"]
    report = json.loads(lines[2])
    assert report["version"] == 1 and [x["broker"] for x in report["brokers"]] == [0]
    log_dirs = report["brokers"][0]["logDirs"]
    assert [d["logDir"] for d in log_dirs] == [str(a), str(b)]
    for d in log_dirs:
        assert d["error"] is None
        on_disk = sorted(p.name for p in (a if d["logDir"] == str(a) else b).iterdir()
                         if p.name.startswith("spread-"))
        assert sorted(p["partition"] for p in d["partitions"]) == on_disk
        for p in d["partitions"]:
            files = (a if d["logDir"] == str(a) else b) / p["partition"]
            size = sum(f.stat().st_size for f in files.glob("*.log"))
            assert p == {"partition": p["partition"], "size": size, "offsetLag": 0,
                         "isFuture": False}
            assert size > 0

    rc, out, err = run("kafka-log-dirs.sh", "--bootstrap-server", broker.bootstrap, "--describe",
                       "--broker-list", "0")
    assert rc == 0, err
    every = json.loads(out.splitlines()[2])
    names = {p["partition"] for d in every["brokers"][0]["logDirs"] for p in d["partitions"]}
    assert {"other-0", "spread-0", "spread-3"} <= names

    # kafka-dump-log.sh on a real segment: every batch valid, every record listed
    segment_dir = next(d / "spread-0" for d in (a, b) if (d / "spread-0").exists())
    log_file = segment_dir / "00000000000000000000.log"
    rc, out, err = run("kafka-dump-log.sh", "--files", str(log_file), "--print-data-log")
    assert rc == 0, err
    lines = out.splitlines()
    assert lines[:2] == [f"Dumping {log_file}", "Starting offset: 0"]
    batches = [x for x in lines if x.startswith("baseOffset: ")]
    records = [x for x in lines if x.startswith("| offset: ")]
    assert len(batches) == 5 and len(records) == 15
    assert all(x.endswith("isvalid: true") and " magic: 2 " in x for x in batches)
    assert "producerId: -1" not in batches[0]            # idempotent producer
    assert re.search(r"^\| offset: 0 CreateTime: \d+ keySize: 5 valueSize: 210 sequence: 0 "
                     r"headerKeys: \[\] key: key-0 payload: value-0-0-z+$", records[0])
    assert [int(x.split()[2]) for x in records] == list(range(15))
    assert "Found" not in out and err == ""

    # the offset and time indexes agree with the log (Kafka's class name works too)
    index = segment_dir / "00000000000000000000.index"
    timeindex = segment_dir / "00000000000000000000.timeindex"
    rc, out, err = run("kafka-run-class.sh", "kafka.tools.DumpLogSegments", "--files",
                       f"{index},{timeindex}")
    assert rc == 0, err
    entries = [x for x in out.splitlines() if x.startswith("offset: ")]
    assert entries and all(re.fullmatch(r"offset: \d+ position: \d+", x) for x in entries)
    assert any(x.startswith("timestamp: ") for x in out.splitlines())
    assert "Mismatches" not in err and "mismatch" not in err and "not found" not in err
    rc, out, err = run("kafka-dump-log.sh", "--files", str(index), "--index-sanity-check")
    assert rc == 0 and out.splitlines()[-1] == f"{index} passed sanity check.", err
