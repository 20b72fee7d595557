"""The command-line tools against a real broker: kafka-topics (both ways in) and the console
producer/consumer with keys, partitions and offsets."""

from __future__ import annotations

import pytest

from kafkalite.testing.processes import run_script as run
from kafkalite.testing.processes import wait_for


@pytest.mark.parametrize("via", ["zookeeper", "bootstrap-server"])
def test_kafka_topics_create_list_describe_delete(broker, zk_connect, via):
    target = ["--zookeeper", zk_connect] if via == "zookeeper" else \
        ["--bootstrap-server", broker.bootstrap]
    rc, out, err = run("kafka-topics.sh", *target, "--create", "--topic", "orders",
                       "--partitions", "3", "--replication-factor", "1",
                       "--config", "retention.ms=3600000")
    assert rc == 0, err
    assert out.strip() == "Created topic orders."

    rc, out, err = run("kafka-topics.sh", *target, "--create", "--topic", "orders",
                       "--partitions", "3", "--replication-factor", "1")
    assert rc == 1 and "already exists" in err and "Traceback" not in err

    rc, out, err = run("kafka-topics.sh", *target, "--create", "--topic", "too-many",
                       "--partitions", "1", "--replication-factor", "3")
    assert rc == 1 and "Replication factor: 3 larger than available brokers: 1" in err

    def described():
        rc, out, _ = run("kafka-topics.sh", *target, "--describe", "--topic", "orders")
        return rc == 0 and out.count("Leader: 0") == 3 and out
    lines = wait_for(described, 30, "leaders").splitlines()
    assert lines[0].startswith("Topic: orders\t")
    assert "PartitionCount: 3\tReplicationFactor: 1\tConfigs: " in lines[0]
    assert "retention.ms=3600000" in lines[0]
    assert lines[1:] == [f"\tTopic: orders\tPartition: {p}\tLeader: 0\tReplicas: 0\tIsr: 0"
                         for p in range(3)]

    rc, out, _ = run("kafka-topics.sh", *target, "--list")
    assert rc == 0 and "orders" in out.split()

    rc, out, err = run("kafka-topics.sh", *target, "--delete", "--topic", "orders")
    assert rc == 0, err

    def gone():
        rc, out, _ = run("kafka-topics.sh", *target, "--list")
        return rc == 0 and "orders" not in out.split()
    wait_for(gone, 30, "deletion")
    assert not list(broker.log_dir.glob("orders-*")) or wait_for(
        lambda: not [p for p in broker.log_dir.glob("orders-*") if not p.name.endswith("-delete")],
        30, "log dirs removed")


def test_console_tools_with_keys_partitions_and_offsets(broker):
    rc, _, err = run("kafka-topics.sh", "--bootstrap-server", broker.bootstrap, "--create",
                     "--topic", "kv", "--partitions", "2", "--replication-factor", "1")
    assert rc == 0, err
    lines = [f"user{i % 3}:event-{i}" for i in range(30)]
    rc, _, err = run("kafka-console-producer.sh", "--bootstrap-server", broker.bootstrap,
                     "--topic", "kv", "--property", "parse.key=true",
                     "--property", "key.separator=:",
                     input=("\n".join(lines) + "\n").encode())
    assert rc == 0, err
    rc, out, err = run("kafka-console-consumer.sh", "--bootstrap-server", broker.bootstrap,
                       "--topic", "kv", "--from-beginning", "--max-messages", "30",
                       "--property", "print.key=true", "--property", "key.separator=:")
    assert rc == 0, err
    got = out.splitlines()
    assert sorted(got) == sorted(lines)
    # Same key, same partition, in order: the per-key sequence is preserved.
    for user in ("user0", "user1", "user2"):
        seq = [int(x.split("-")[1]) for x in got if x.startswith(user + ":")]
        assert seq == sorted(seq)

    # --partition/--offset reads one partition from a given offset.
    rc, out, err = run("kafka-console-consumer.sh", "--bootstrap-server", broker.bootstrap,
                       "--topic", "kv", "--partition", "0", "--offset", "2",
                       "--max-messages", "1", "--property", "print.offset=true")
    assert rc == 0, err
    assert out.startswith("Offset:2\t")

    rc, _, err = run("kafka-console-producer.sh", "--bootstrap-server", broker.bootstrap,
                     "--topic", "kv", "--property", "parse.key=true",
                     input=b"no separator here\n")
    assert rc != 0 and "No key separator found" in err and "Traceback" not in err
