"""Consumer groups end to end: kafkalite group consumers, kafka-consumer-groups.sh against
groups of librdkafka consumers, and the legacy ZooKeeper paths (OffsetCommit v0, the 0.8
high-level consumer, ``--zookeeper``)."""

from __future__ import annotations

import os
import subprocess
import sys

import trio

from kafkalite.cli.cluster import REPO_ROOT
from kafkalite.model import TopicPartition as TP
from kafkalite.testing.clients import create_topic
from kafkalite.testing.processes import run_script, wait_for


SCRIPTS = REPO_ROOT / "scripts"


def tool(*args, timeout=60):
    return run_script("kafka-consumer-groups.sh", *args, timeout=timeout)


def table(stdout: str) -> list[list[str]]:
    """Rows of a describe table (header dropped), split on blanks."""
    lines = [line for line in stdout.splitlines() if line.strip()]
    return [line.split() for line in lines[1:]]


def produce(bootstrap: str, topic: str, per_partition: dict[int, int]) -> None:
    from confluent_kafka import Producer

    p = Producer({"bootstrap.servers": bootstrap})
    for partition, count in per_partition.items():
        for i in range(count):
            p.produce(topic, value=b"v%d" % i, partition=partition)
    assert p.flush(30) == 0


def test_three_kafkalite_members_split_six_partitions_and_rebalance(broker):
    create_topic(broker.bootstrap, "six", partitions=6)
    produce(broker.bootstrap, "six", {p: 2 for p in range(6)})

    from kafkalite.client.cluster import Cluster
    from kafkalite.client.consumer import Consumer

    async def main():
        async with Cluster(broker.bootstrap) as cluster:
            consumers = [Consumer(cluster, group_id="trio-group", auto_offset_reset="earliest",
                                  heartbeat_interval_ms=500, session_timeout_ms=6000)
                         for _ in range(3)]
            seen: list = []
            leave = trio.Event()
            stop = trio.Event()

            async def member(c, until):
                c.subscribe(["six"])
                async with c:
                    while not until.is_set():
                        seen.extend(await c.poll(200))

            async def wait_until(condition, what):
                with trio.fail_after(40):
                    while not condition():
                        await trio.sleep(0.1)

            def split(members, sizes):
                owned = [tp for c in members for tp in c.assignment()]
                return (sorted(len(c.assignment()) for c in members) == sizes
                        and sorted(owned) == [TP("six", p) for p in range(6)]
                        and len({c.generation_id for c in members}) == 1)

            async with trio.open_nursery() as nursery:
                nursery.start_soon(member, consumers[0], stop)
                nursery.start_soon(member, consumers[1], stop)
                nursery.start_soon(member, consumers[2], leave)
                await wait_until(lambda: split(consumers, [2, 2, 2]), "2 partitions each")
                leave.set()
                await wait_until(lambda: split(consumers[:2], [3, 3]), "3 partitions each")
                await wait_until(lambda: len({(r.partition, r.offset) for r in seen}) == 12,
                                 "every record")
                assert consumers[0].member_id != consumers[1].member_id
                stop.set()

    trio.run(main)
    rc, out, err = tool("--bootstrap-server", broker.bootstrap, "--describe", "--group",
                        "trio-group")
    assert rc == 0, err
    assert "Consumer group 'trio-group' has no active members." in err
    assert sorted((r[2], r[3], r[5]) for r in table(out)) == [(str(p), "2", "0")
                                                              for p in range(6)]


def _rdkafka_consumer(bootstrap, group, **extra):
    from confluent_kafka import Consumer

    config = {"bootstrap.servers": bootstrap, "group.id": group, "client.id": "rdkafka-app",
              "auto.offset.reset": "earliest", "enable.auto.commit": False,
              "session.timeout.ms": 6000, "heartbeat.interval.ms": 500}
    config.update(extra)
    return Consumer(config)


def test_tool_describes_resets_and_deletes_a_librdkafka_group(broker):
    bootstrap = broker.bootstrap
    create_topic(bootstrap, "orders", partitions=2)
    produce(bootstrap, "orders", {0: 5, 1: 3})
    consumers = [_rdkafka_consumer(bootstrap, "billing") for _ in range(2)]
    for c in consumers:
        c.subscribe(["orders"])
    sizes = {0: 5, 1: 3}
    consumed: list[set[tuple[int, int]]] = [set(), set()]

    def poll_all():
        # Each member must have read all of its own partitions (a partition read by one member
        # before a rebalance moved it is read again by the next: nothing was committed yet).
        for i, c in enumerate(consumers):
            for m in c.consume(num_messages=100, timeout=0.2):
                assert m.error() is None, m.error()
                consumed[i].add((m.partition(), m.offset()))
        owned = [[p.partition for p in c.assignment()] for c in consumers]
        return sorted(p for ps in owned for p in ps) == [0, 1] and all(
            all(len({o for q, o in consumed[i] if q == p}) == sizes[p] for p in ps) and ps
            for i, ps in enumerate(owned))

    from confluent_kafka import KafkaException

    def committed_all():
        # A rebalance (a heartbeat late on a loaded machine) can take a member's partitions
        # between the poll and the commit ("No offset stored"): poll again, commit again.
        if not poll_all():
            return False
        try:
            for c in consumers:
                c.commit(asynchronous=False)
        except KafkaException as e:
            print(f"commit retried after {e}")
            return False
        return True

    wait_for(committed_all, 60, "both members assigned, all records consumed and committed")

    rc, out, err = tool("--bootstrap-server", bootstrap, "--list")
    assert rc == 0, err
    assert "billing" in out.split()

    def described():
        for c in consumers:
            c.poll(0.1)
        rc, out, err = tool("--bootstrap-server", bootstrap, "--describe", "--group",
                            "billing")
        return rc == 0 and len(table(out)) == 2 and "rebalancing" not in err and out

    out = wait_for(described, 30, "a stable description")
    assert out.splitlines()[0] == "" and out.splitlines()[1].split() == [
        "GROUP", "TOPIC", "PARTITION", "CURRENT-OFFSET", "LOG-END-OFFSET", "LAG", "CONSUMER-ID",
        "HOST", "CLIENT-ID"]
    rows = sorted(table(out), key=lambda r: r[2])
    assert [(r[0], r[1], r[2], r[3], r[4], r[5]) for r in rows] == [
        ("billing", "orders", "0", "5", "5", "0"), ("billing", "orders", "1", "3", "3", "0")]
    assert all(r[6].startswith("rdkafka-app-") and r[7].startswith("/") and
               r[8] == "rdkafka-app" for r in rows)

    rc, out, err = tool("--bootstrap-server", bootstrap, "--describe", "--group", "billing",
                        "--members", "--verbose")
    assert rc == 0, err
    members = table(out)
    assert len(members) == 2 and {m[4] for m in members} == {"1"}
    rc, out, err = tool("--bootstrap-server", bootstrap, "--describe", "--group", "billing",
                        "--state")
    assert rc == 0, err
    state = table(out)[0]
    assert state[0] == "billing" and state[-3:] == ["range", "Stable", "2"] or \
        state[-2:] == ["Stable", "2"]

    rc, out, err = tool("--bootstrap-server", bootstrap, "--reset-offsets", "--group",
                        "billing", "--topic", "orders", "--to-earliest", "--execute")
    assert rc == 1
    assert "Error: Assignments can only be reset if the group 'billing' is inactive, but the " \
           "current state is Stable." in err

    for c in consumers:
        c.close()

    def empty():
        rc, out, err = tool("--bootstrap-server", bootstrap, "--describe", "--group",
                            "billing")
        return rc == 0 and "has no active members" in err and out

    out = empty() or wait_for(empty, 30, "the group to be empty")
    assert [(r[2], r[3], r[6]) for r in sorted(table(out), key=lambda r: r[2])] == [
        ("0", "5", "-"), ("1", "3", "-")]

    rc, out, err = tool("--bootstrap-server", bootstrap, "--reset-offsets", "--group",
                        "billing", "--topic", "orders:0", "--shift-by", "-2", "--dry-run")
    assert rc == 0, err
    assert table(out) == [["billing", "orders", "0", "3"]]
    rc, out, err = tool("--bootstrap-server", bootstrap, "--reset-offsets", "--group",
                        "billing", "--all-topics", "--to-earliest", "--execute")
    assert rc == 0, err
    assert sorted(table(out)) == [["billing", "orders", "0", "0"],
                                  ["billing", "orders", "1", "0"]]
    rc, out, err = tool("--bootstrap-server", bootstrap, "--describe", "--group", "billing")
    assert sorted((r[2], r[3], r[5]) for r in table(out)) == [("0", "0", "5"), ("1", "0", "3")]

    # a librdkafka consumer resumes from the reset offsets
    again = _rdkafka_consumer(bootstrap, "billing")
    again.subscribe(["orders"])
    got = []
    wait_for(lambda: got.extend(m for m in again.consume(100, 0.5) if m.error() is None)
             or len(got) >= 8, 40, "re-consumption from the reset offsets")
    again.close()

    rc, out, err = tool("--bootstrap-server", bootstrap, "--delete-offsets", "--group",
                        "billing", "--topic", "orders:1")
    assert rc == 0, err
    assert out.splitlines()[0] == "Request succeed for deleting offsets with topic orders:1 " \
                                  "group billing"
    rc, out, err = tool("--bootstrap-server", bootstrap, "--delete", "--group", "billing")
    assert rc == 0, err
    assert out == "Deletion of requested consumer groups ('billing') was successful.\n"
    rc, out, err = tool("--bootstrap-server", bootstrap, "--describe", "--group", "billing")
    assert rc == 1 and err.strip() == "Error: Consumer group 'billing' does not exist."
    assert "Traceback" not in err


def test_zookeeper_mode_shows_v0_commits_and_legacy_consumers(broker, zk_connect):
    from kafkalite.client.cluster import Cluster
    from kafkalite.client.zk_consumer import ZookeeperConsumer
    from kafkalite.protocol.messages.offset_commit import (
        OffsetCommitRequest,
        OffsetCommitRequestPartition,
        OffsetCommitRequestTopic,
    )

    create_topic(broker.bootstrap, "legacy", partitions=4)
    produce(broker.bootstrap, "legacy", {p: 3 for p in range(4)})

    async def commit_v0():
        async with Cluster(broker.bootstrap) as cluster:
            request = OffsetCommitRequest(group_id="old-app", topics=(OffsetCommitRequestTopic(
                name="legacy", partitions=(OffsetCommitRequestPartition(
                    partition_index=1, committed_offset=2, committed_metadata=""),)),))
            response = await cluster.request(None, request, 0)
            assert response.topics[0].partitions[0].error_code == 0

    trio.run(commit_v0)
    rc, out, err = tool("--zookeeper", zk_connect, "--list")
    assert rc == 0, err
    assert out.split() == ["old-app"]
    rc, out, err = tool("--zookeeper", zk_connect, "--describe", "--group", "old-app")
    assert rc == 0, err
    assert "Consumer group 'old-app' has no active members." in err
    assert table(out) == [["old-app", "legacy", "1", "2", "3", "1", "-", "-", "-"]]

    async def legacy_members():
        consumers = [ZookeeperConsumer(zk_connect, "zk-group", auto_offset_reset="smallest",
                                       rebalance_backoff_ms=200) for _ in range(2)]
        for c in consumers:
            c.subscribe({"legacy": 1})
        async with consumers[0], consumers[1]:
            with trio.fail_after(40):
                while True:
                    for c in consumers:
                        await c.wait_for_assignment()
                    owned = [tp for c in consumers for tp in c.assignment()]
                    if sorted(owned) == [TP("legacy", p) for p in range(4)] and \
                            all(len(c.assignment()) == 2 for c in consumers):
                        break
                    await trio.sleep(0.2)
                got: set = set()
                while len(got) < 12:
                    for c in consumers:
                        got.update((r.partition, r.offset) for r in await c.poll(100))
            for c in consumers:
                await c.commit()
            rc, out, err = await trio.to_thread.run_sync(
                lambda: tool("--zookeeper", zk_connect, "--describe", "--group", "zk-group"))
            assert rc == 0, err
            rows = table(out)
            assert sorted((r[2], r[3], r[4], r[5]) for r in rows) == [
                (str(p), "3", "3", "0") for p in range(4)]
            owners = {r[6] for r in rows}
            assert owners == {c.consumer_id for c in consumers}
            rc, out, err = await trio.to_thread.run_sync(
                lambda: tool("--zookeeper", zk_connect, "--delete", "--group", "zk-group"))
            assert rc == 1 and "NON_EMPTY_GROUP" in err

    trio.run(legacy_members)
    rc, out, err = tool("--zookeeper", zk_connect, "--describe", "--group", "zk-group")
    assert rc == 0 and "has no active members" in err
    assert sorted((r[2], r[3], r[6]) for r in table(out)) == [(str(p), "3", "-")
                                                              for p in range(4)]
    rc, out, err = tool("--zookeeper", zk_connect, "--reset-offsets", "--group", "zk-group",
                        "--topic", "legacy", "--to-offset", "1", "--execute")
    assert rc == 0, err
    rc, out, err = tool("--zookeeper", zk_connect, "--describe", "--group", "zk-group")
    assert sorted(r[3] for r in table(out)) == ["1"] * 4
    rc, out, err = tool("--zookeeper", zk_connect, "--delete-offsets", "--group", "zk-group",
                        "--topic", "legacy:3")
    assert rc == 0, err
    rc, out, err = tool("--zookeeper", zk_connect, "--describe", "--group", "zk-group")
    assert sorted(r[2] for r in table(out)) == ["0", "1", "2"]
    rc, out, err = tool("--zookeeper", zk_connect, "--delete", "--group", "zk-group")
    assert rc == 0 and "was successful" in out
    rc, out, err = tool("--zookeeper", zk_connect, "--list")
    assert out.split() == ["old-app"]

    # the old console consumer (offsets.storage=zookeeper) commits what it printed
    env = dict(os.environ, KAFKALITE_PYTHON=sys.executable)
    r = subprocess.run([str(SCRIPTS / "kafka-console-consumer.sh"), "--zookeeper", zk_connect,
                        "--topic", "legacy", "--group", "console-legacy", "--from-beginning",
                        "--max-messages", "5", "--consumer-property", "offsets.storage=zookeeper"],
                       capture_output=True, timeout=60, env=env)
    assert r.returncode == 0, r.stderr.decode()
    assert len(r.stdout.splitlines()) == 5
    rc, out, err = tool("--zookeeper", zk_connect, "--describe", "--group", "console-legacy")
    assert rc == 0, err
    assert sum(int(r[3]) for r in table(out) if r[3] != "-") == 5
    r = subprocess.run([str(SCRIPTS / "kafka-console-consumer.sh"), "--zookeeper", zk_connect,
                        "--topic", "legacy", "--from-beginning", "--max-messages", "1"],
                       capture_output=True, timeout=60, env=env)
    assert r.returncode == 0, r.stderr.decode()
    rc, out, err = tool("--zookeeper", zk_connect, "--list")
    assert out.split() == ["console-legacy", "old-app"]  # the made-up group was removed


def test_mixed_group_with_librdkafka_and_kafka_python_members(broker):
    """ConsumerProtocol interop: whichever client leads, every member decodes the others'
    subscriptions and assignments. Group 1: kafkalite joins first and leads, librdkafka
    follows. Group 2: librdkafka leads; kafka-python and kafkalite join."""
    from kafka import KafkaConsumer

    from kafkalite.client.cluster import Cluster
    from kafkalite.client.consumer import Consumer

    bootstrap = broker.bootstrap
    create_topic(bootstrap, "mixed", partitions=6)

    async def run_group(group, others_first):
        others = {"rdkafka": _rdkafka_consumer(bootstrap, group,
                                               **{"partition.assignment.strategy": "range"})}
        if others_first:
            others["kafka-python"] = KafkaConsumer(
                bootstrap_servers=bootstrap, group_id=group, session_timeout_ms=6000,
                heartbeat_interval_ms=500, enable_auto_commit=False)
        owned: dict[str, list[TP]] = {name: [] for name in others}
        stop = trio.Event()

        def poll_once(name):  # each foreign consumer is only ever touched by its own pump
            c = others[name]
            if name == "rdkafka":
                c.poll(0.1)
                return [TP(p.topic, p.partition) for p in c.assignment()]
            c.poll(100)
            return [TP(p.topic, p.partition) for p in c.assignment()]

        async def pump(name):
            others[name].subscribe(["mixed"])
            while not stop.is_set():
                owned[name] = await trio.to_thread.run_sync(poll_once, name)
            await trio.to_thread.run_sync(others[name].close)

        async with Cluster(bootstrap) as cluster, trio.open_nursery() as nursery:
            ours = Consumer(cluster, group_id=group, heartbeat_interval_ms=500,
                            session_timeout_ms=6000)
            ours.subscribe(["mixed"])
            if others_first:
                # librdkafka first, alone, so it is the leader (kafka-python 3 as leader may
                # assign before it has the topic's metadata and then takes its time)
                nursery.start_soon(pump, "rdkafka")
                with trio.fail_after(30):
                    while len(owned["rdkafka"]) != 6:
                        await trio.sleep(0.1)
                nursery.start_soon(pump, "kafka-python")
            async with ours:
                if not others_first:
                    with trio.fail_after(30):
                        while not ours.assignment():
                            await ours.poll(100)
                    for name in others:
                        nursery.start_soon(pump, name)
                with trio.fail_after(40):
                    share = 6 // (len(others) + 1)
                    while True:
                        await ours.poll(100)
                        everyone = ours.assignment() + [tp for ps in owned.values() for tp in ps]
                        if sorted(everyone) == [TP("mixed", p) for p in range(6)] and all(
                                len(ps) == share for ps in [ours.assignment(), *owned.values()]):
                            break
                leader_is_us = ours._coordinator.membership.is_leader
            stop.set()
        return leader_is_us

    assert trio.run(run_group, "mixed-1", False) is True
    assert trio.run(run_group, "mixed-2", True) is False
