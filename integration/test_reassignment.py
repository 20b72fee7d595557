"""Partition reassignment and replica verification on real brokers, driven by the scripts.

Three brokers; two topics on brokers {0, 1} filled with acks=all writes from librdkafka. One is
moved to {1, 2} through the Kafka API (``--bootstrap-server``), the other through
``/admin/reassign_partitions`` (``--zookeeper``). Afterwards ``--verify`` says complete,
``kafka-topics --describe`` shows the new replicas, broker 0 has deleted its copies, every
message can still be read, and ``kafka-replica-verification.sh`` finds the replicas equal.
A second test corrupts a follower's segment file in place and expects the verification tool to
notice.
"""

from __future__ import annotations

import json
import re

from kazoo.exceptions import NoNodeError

from kafkalite.testing.processes import run_script, wait_for
from kafkalite.testing.verifying import read_all
from kafkalite.zk.znodes import TopicPartitionStateZNode

PROPS = {"zookeeper.session.timeout.ms": 4000}
MESSAGES = 2000


def start_brokers(broker_factory, count: int):
    brokers = [broker_factory(i, wait=False, props=PROPS) for i in range(count)]
    for b in brokers:
        b.wait_ready(90)
    return brokers


def script(name: str, *args: str, expect: int = 0) -> str:
    rc, out, err = run_script(name, *args, timeout=120)
    assert rc == expect, f"{name} {' '.join(args)} exited {rc}\n{out}\n{err}"
    return out + err


def isr(zk, topic: str, partition: int) -> set[int]:
    try:
        data, stat = zk.get(TopicPartitionStateZNode.path(topic, partition))
    except NoNodeError:
        return set()
    return set(TopicPartitionStateZNode.decode(data, stat.version).isr)


def create_and_fill(bootstrap: str, zk, topic: str, assignment: str) -> dict[int, list[bytes]]:
    """Create ``topic`` with ``--replica-assignment`` and write MESSAGES values with acks=all."""
    from confluent_kafka import Producer

    script("kafka-topics.sh", "--bootstrap-server", bootstrap, "--create", "--topic", topic,
           "--replica-assignment", assignment)
    partitions = len(assignment.split(","))
    for p, replicas in enumerate(assignment.split(",")):
        wanted = {int(r) for r in replicas.split(":")}
        wait_for(lambda p=p, wanted=wanted: isr(zk, topic, p) == wanted, 60,
                 f"ISR {wanted} of {topic}-{p}")
    errors = []
    producer = Producer({"bootstrap.servers": bootstrap, "acks": "all", "linger.ms": 5})
    sent: dict[int, list[bytes]] = {p: [] for p in range(partitions)}
    for i in range(MESSAGES):
        value = f"{topic}-{i:05d}".encode()
        sent[i % partitions].append(value)
        producer.produce(topic, value, partition=i % partitions,
                         on_delivery=lambda err, _m: err and errors.append(err))
        producer.poll(0)
    assert producer.flush(60) == 0
    assert errors == []
    return sent


def write_json(path, obj) -> str:
    path.write_text(json.dumps(obj))
    return str(path)


def reassignment(topic: str, targets: dict[int, list[int]]) -> dict:
    return {"version": 1, "partitions": [{"topic": topic, "partition": p, "replicas": rs}
                                         for p, rs in targets.items()]}


def wait_verified(where: list[str], json_file: str, partitions: list[str]) -> str:
    def complete():
        out = script("kafka-reassign-partitions.sh", *where, "--verify",
                     "--reassignment-json-file", json_file)
        done = all(f"Reassignment of partition {tp} is complete." in out for tp in partitions)
        return out if done else None
    return wait_for(complete, 120, f"reassignment of {partitions} to complete", interval=1)


def described_replicas(bootstrap: str, topic: str) -> dict[int, str]:
    out = script("kafka-topics.sh", "--bootstrap-server", bootstrap, "--describe",
                 "--topic", topic)
    return {int(m.group(1)): m.group(2)
            for m in re.finditer(r"Partition: (\d+)\tLeader: \S+\tReplicas: (\S+)", out)}


def test_reassign_by_api_and_by_zookeeper_then_verify_replicas(broker_factory, kazoo_client,
                                                              zk_connect, tmp_path):
    brokers = start_brokers(broker_factory, 3)
    bootstrap = ",".join(b.bootstrap for b in brokers)
    api = ["--bootstrap-server", bootstrap]
    zk = ["--zookeeper", zk_connect]
    sent = {"moved-api": create_and_fill(bootstrap, kazoo_client, "moved-api", "0:1,1:0"),
            "moved-zk": create_and_fill(bootstrap, kazoo_client, "moved-zk", "0:1")}

    # --generate proposes a layout over the given brokers, through either door.
    topics_file = write_json(tmp_path / "topics.json",
                             {"version": 1, "topics": [{"topic": "moved-api"}]})
    for where in (api, zk):
        out = script("kafka-reassign-partitions.sh", *where, "--generate",
                     "--topics-to-move-json-file", topics_file, "--broker-list", "1,2")
        lines = out.splitlines()
        current = json.loads(lines[lines.index("Current partition replica assignment") + 1])
        proposed = json.loads(
            lines[lines.index("Proposed partition reassignment configuration") + 1])
        assert [(e["partition"], e["replicas"]) for e in current["partitions"]] == [
            (0, [0, 1]), (1, [1, 0])]
        assert [e["partition"] for e in proposed["partitions"]] == [0, 1]
        for e in proposed["partitions"]:
            assert sorted(e["replicas"]) == [1, 2] and e["log_dirs"] == ["any", "any"]

    # Bad input is refused before anything changes.
    bad_broker = write_json(tmp_path / "bad-broker.json", reassignment("moved-api", {0: [1, 7]}))
    bad_topic = write_json(tmp_path / "bad-topic.json", reassignment("nope", {0: [1, 2]}))
    for where in (api, zk):
        out = script("kafka-reassign-partitions.sh", *where, "--execute",
                     "--reassignment-json-file", bad_broker, expect=1)
        assert "Unknown broker id 7" in out
        out = script("kafka-reassign-partitions.sh", *where, "--execute",
                     "--reassignment-json-file", bad_topic, expect=1)
        assert "Topic nope not found." in out

    # Through the Kafka API.
    api_file = write_json(tmp_path / "api.json", reassignment("moved-api", {0: [1, 2], 1: [2, 1]}))
    out = script("kafka-reassign-partitions.sh", *api, "--execute",
                 "--reassignment-json-file", api_file)
    assert "Save this to use as the --reassignment-json-file option during rollback" in out
    assert ('{"version":1,"partitions":[{"topic":"moved-api","partition":0,"replicas":[0,1],'
            '"log_dirs":["any","any"]},{"topic":"moved-api","partition":1,"replicas":[1,0],'
            '"log_dirs":["any","any"]}]}') in out
    assert "Successfully started partition reassignments for moved-api-0,moved-api-1" in out

    # Through ZooKeeper.
    zk_file = write_json(tmp_path / "zk.json", reassignment("moved-zk", {0: [1, 2]}))
    out = script("kafka-reassign-partitions.sh", *zk, "--execute",
                 "--reassignment-json-file", zk_file)
    assert "Successfully started partition reassignment for moved-zk-0" in out

    wait_verified(api, api_file, ["moved-api-0", "moved-api-1"])
    wait_verified(zk, zk_file, ["moved-zk-0"])
    wait_for(lambda: kazoo_client.exists("/admin/reassign_partitions") is None, 60,
             "the controller to delete /admin/reassign_partitions")
    assert "No partition reassignments found." in script("kafka-reassign-partitions.sh", *api,
                                                         "--list")
    out = script("kafka-reassign-partitions.sh", *api, "--cancel",
                 "--reassignment-json-file", api_file)
    assert "None of the specified partition reassignments are active." in out

    assert described_replicas(bootstrap, "moved-api") == {0: "1,2", 1: "2,1"}
    assert described_replicas(bootstrap, "moved-zk") == {0: "1,2"}
    for dirname in ("moved-api-0", "moved-api-1", "moved-zk-0"):
        wait_for(lambda d=dirname: not (brokers[0].log_dir / d).exists(), 60,
                 f"broker 0 to delete {dirname}")
        assert (brokers[2].log_dir / dirname).is_dir()
    for topic, by_partition in sent.items():
        for p in by_partition:
            wait_for(lambda t=topic, p=p: isr(kazoo_client, t, p) == {1, 2}, 60,
                     f"ISR {{1,2}} of {topic}-{p}")

    for topic, by_partition in sent.items():
        got = read_all(bootstrap, topic, by_partition)
        for p, values in by_partition.items():
            assert [got[(p, o)] for o in range(len(values))] == values

    out = script("kafka-replica-verification.sh", "--broker-list", bootstrap,
                 "--topic-white-list", "moved-.*", "--time", "-2", "--until-caught-up",
                 "--max-rounds", "60", "--max-wait-ms", "200", "--report-interval-ms", "0")
    assert "verification process is started." in out
    assert re.search(r"max lag is 0 for partition \S+ at offset \d+ among 3 partitions", out), out
    assert "all replicas agree." in out


def test_replica_verification_notices_a_corrupted_follower(broker_factory, kazoo_client):
    brokers = start_brokers(broker_factory, 2)
    bootstrap = ",".join(b.bootstrap for b in brokers)
    create_and_fill(bootstrap, kazoo_client, "checked", "0:1")
    verify = ["--broker-list", bootstrap, "--topic-white-list", "checked", "--time", "-2",
              "--until-caught-up", "--max-rounds", "60", "--max-wait-ms", "200"]
    assert "all replicas agree." in script("kafka-replica-verification.sh", *verify)

    # Flip one value byte of the follower's first batch, leaving its stored CRC alone: the
    # follower serves its segment file as it is, as a disk corruption would leave it.
    segment = brokers[1].log_dir / "checked-0" / "00000000000000000000.log"
    with open(segment, "r+b") as f:
        head = f.read(12)
        size = int.from_bytes(head[8:12], "big") + 12
        f.seek(size - 2)  # last byte of the last record's value (the header count follows)
        byte = f.read(1)
        f.seek(size - 2)
        f.write(bytes([byte[0] ^ 0x20]))
    out = script("kafka-replica-verification.sh", *verify, expect=1)
    assert re.search(r"partition checked-0 has unmatched bytes at offset \d+; replica 0 and "
                     r"replica 1 both store checksum \d+ but their contents differ", out), out
