"""Adding partitions and electing preferred leaders, end to end with the real scripts.

* ``kafka-topics.sh --alter --partitions`` both ways in: ``--zookeeper`` rewrites
  ``/brokers/topics/<t>`` itself, ``--bootstrap-server`` sends CreatePartitions to the
  controller; either way the controller creates the new partitions, which a real producer
  (confluent-kafka) can write to and ``--describe`` shows. librdkafka's own AdminClient drives
  CreatePartitions too. Shrinking is refused with Kafka's message and exit code 1.
* ``kafka-preferred-replica-election.sh --zookeeper`` writes Kafka's trigger znode (checked
  without brokers, where nothing consumes it) and refuses while one is pending.
* On three brokers: the preferred leader's broker is stopped, leadership moves, the broker
  comes back, and ``kafka-leader-election.sh`` / ``kafka-preferred-replica-election.sh`` (both
  ways in) put leadership back on the preferred replicas, as read from ZooKeeper.
"""

from __future__ import annotations

import json

from kazoo.exceptions import NoNodeError

from kafkalite.testing.processes import run_script as run
from kafkalite.testing.processes import wait_for
from kafkalite.zk.znodes import (ControllerZNode, PreferredReplicaElectionZNode,
                                 TopicPartitionStateZNode, TopicZNode)

ZK_ALTER_OUTPUT = ("WARNING: If partitions are increased for a topic that has a key, the "
                   "partition logic or ordering of the messages will be affected\n"
                   "Adding partitions succeeded!\n")


def described(target: list[str], topic: str, partitions: int, leaders: str = "0"):
    """``kafka-topics --describe`` output once every partition has a leader, else None."""
    rc, out, _ = run("kafka-topics.sh", *target, "--describe", "--topic", topic)
    lines = out.splitlines()
    if rc != 0 or len(lines) != partitions + 1:
        return None
    if f"PartitionCount: {partitions}\t" not in lines[0]:
        return None
    if not all("\tLeader: none\t" not in line for line in lines[1:]):
        return None
    return out


def assignment(kazoo_client, topic: str) -> dict[int, tuple[int, ...]]:
    data, stat = kazoo_client.get(TopicZNode.path(topic))
    return TopicZNode.decode(data, stat.version).partitions


def produce_to(bootstrap: str, topic: str, partition: int) -> tuple[int, int]:
    """One acknowledged message to ``partition``; returns (partition, offset)."""
    from confluent_kafka import Producer

    delivered = []
    producer = Producer({"bootstrap.servers": bootstrap, "acks": "all",
                         "message.timeout.ms": 20000})
    producer.produce(topic, b"to the new partition", partition=partition,
                     on_delivery=lambda err, msg: delivered.append((err, msg)))
    assert producer.flush(30) == 0
    (err, msg), = delivered
    assert err is None, err
    return msg.partition(), msg.offset()


def test_alter_partitions_via_zookeeper(broker, zk_connect, kazoo_client):
    zk = ["--zookeeper", zk_connect]
    rc, _, err = run("kafka-topics.sh", *zk, "--create", "--topic", "grow", "--partitions", "2",
                     "--replication-factor", "1")
    assert rc == 0, err
    wait_for(lambda: described(zk, "grow", 2), 30, "two partitions with leaders")

    rc, out, err = run("kafka-topics.sh", *zk, "--alter", "--topic", "grow", "--partitions", "4")
    assert rc == 0, err
    assert out == ZK_ALTER_OUTPUT
    assert assignment(kazoo_client, "grow") == {0: (0,), 1: (0,), 2: (0,), 3: (0,)}

    # the controller picked the new partitions up from its watch; clients see them
    bootstrap = ["--bootstrap-server", broker.bootstrap]
    out = wait_for(lambda: described(bootstrap, "grow", 4), 30, "four partitions with leaders")
    assert "\tPartition: 3\tLeader: 0\tReplicas: 0\tIsr: 0" in out
    assert produce_to(broker.bootstrap, "grow", 3) == (3, 0)

    rc, out, err = run("kafka-topics.sh", *zk, "--alter", "--topic", "grow", "--partitions", "3")
    assert rc == 1 and "Traceback" not in err
    assert ("The number of partitions for a topic can only be increased. Topic grow currently "
            "has 4 partitions, 3 would not be an increase.") in err
    assert len(assignment(kazoo_client, "grow")) == 4

    # --replica-assignment lists the whole topic; the entries past the current count are new
    rc, out, err = run("kafka-topics.sh", *zk, "--alter", "--topic", "grow",
                       "--replica-assignment", "0,0,0,0,0")
    assert rc == 0, err
    assert len(assignment(kazoo_client, "grow")) == 5
    rc, _, err = run("kafka-topics.sh", *zk, "--alter", "--topic", "grow", "--partitions", "6",
                     "--replica-assignment", "0,0,0,0,0,7")
    assert rc == 1 and "Some brokers specified for partition id 5 are not available" in err

    rc, _, err = run("kafka-topics.sh", *zk, "--alter", "--topic", "nope", "--partitions", "2")
    assert rc == 1 and "Topic 'nope' does not exist as expected" in err


def test_alter_partitions_via_bootstrap_server(broker, kazoo_client):
    bootstrap = ["--bootstrap-server", broker.bootstrap]
    rc, _, err = run("kafka-topics.sh", *bootstrap, "--create", "--topic", "more",
                     "--partitions", "1", "--replication-factor", "1")
    assert rc == 0, err

    rc, out, err = run("kafka-topics.sh", *bootstrap, "--alter", "--topic", "more",
                       "--partitions", "3")
    assert (rc, out) == (0, ""), err
    # CreatePartitions answers once the new partitions have leaders: no waiting needed here
    out = described(bootstrap, "more", 3)
    assert out is not None
    assert [line.split("\t")[2:4] for line in out.splitlines()[1:]] == [
        [f"Partition: {p}", "Leader: 0"] for p in range(3)]
    assert produce_to(broker.bootstrap, "more", 2) == (2, 0)

    for count, message in (("2", "Topic currently has 3 partitions, which is higher than the "
                                 "requested 2."),
                           ("3", "Topic already has 3 partitions.")):
        rc, _, err = run("kafka-topics.sh", *bootstrap, "--alter", "--topic", "more",
                         "--partitions", count)
        assert rc == 1 and message in err and "Traceback" not in err
    rc, _, err = run("kafka-topics.sh", *bootstrap, "--alter", "--topic", "more",
                     "--partitions", "4", "--replica-assignment", "0,0,0,5")
    assert rc == 1 and "Unknown broker(s) in replica assignment: 5." in err
    rc, _, err = run("kafka-topics.sh", *bootstrap, "--alter", "--topic", "more",
                     "--replica-assignment", "0,0,0,0")
    assert rc == 0, err
    assert assignment(kazoo_client, "more") == {p: (0,) for p in range(4)}

    # a real client's CreatePartitions: validate-only changes nothing, then the real thing
    from confluent_kafka.admin import AdminClient, NewPartitions

    admin = AdminClient({"bootstrap.servers": broker.bootstrap})
    fs = admin.create_partitions([NewPartitions("more", 6)], validate_only=True)
    fs["more"].result(30)
    assert len(assignment(kazoo_client, "more")) == 4
    fs = admin.create_partitions([NewPartitions("more", 6)], operation_timeout=30)
    fs["more"].result(30)
    fs = admin.create_partitions([NewPartitions("more", 5), NewPartitions("absent", 2)])
    errors = {}
    for name, f in fs.items():
        try:
            f.result(30)
        except Exception as e:  # noqa: BLE001 - KafkaException carrying the broker's error
            errors[name] = e.args[0]
    assert errors["more"].code() == 37   # INVALID_PARTITIONS
    assert errors["more"].str() == "Topic currently has 6 partitions, which is higher than " \
                                   "the requested 5."
    assert errors["absent"].code() == 3   # UNKNOWN_TOPIC_OR_PARTITION
    del admin
    assert described(bootstrap, "more", 6) is not None


def test_preferred_election_znode_written_and_refused_while_pending(zk_connect, kazoo_client,
                                                                    tmp_path):
    # No broker runs, so nothing consumes the trigger: we see exactly what the tool wrote.
    rc, _, err = run("kafka-topics.sh", "--zookeeper", zk_connect, "--create", "--topic", "x",
                     "--replica-assignment", "0,0")
    assert rc == 0, err
    wanted = tmp_path / "election.json"
    wanted.write_text(json.dumps({"partitions": [{"topic": "x", "partition": 1},
                                                 {"topic": "x", "partition": 0},
                                                 {"topic": "x", "partition": 5}]}))
    rc, out, err = run("kafka-preferred-replica-election.sh", "--zookeeper", zk_connect,
                       "--path-to-json-file", str(wanted))
    assert rc == 0, err
    assert out.splitlines()[-3:] == [
        "Created preferred replica election path with x-1,x-0",
        "Successfully started preferred replica election for partitions Set(x-1, x-0)",
        "Skipping preferred replica leader election for partition x-5 since it doesn't exist.",
    ]
    data, _ = kazoo_client.get(PreferredReplicaElectionZNode.path())
    assert json.loads(data) == {"version": 1, "partitions": [{"topic": "x", "partition": 1},
                                                             {"topic": "x", "partition": 0}]}

    rc, out, err = run("kafka-preferred-replica-election.sh", "--zookeeper", zk_connect)
    assert rc == 1
    assert ("Preferred replica leader election currently in progress for x-1,x-0. Aborting "
            "operation") in err


# -- three brokers -------------------------------------------------------------------------

PROPS = {"zookeeper.session.timeout.ms": 4000, "auto.leader.rebalance.enable": "false"}


def leader_and_isr(kazoo_client, topic: str, partition: int):
    try:
        data, stat = kazoo_client.get(TopicPartitionStateZNode.path(topic, partition))
    except NoNodeError:
        return None
    state = TopicPartitionStateZNode.decode(data, stat.version)
    return state.leader, tuple(state.isr)


def not_controller_answer(b, topic: str, partition: int) -> list[tuple[str, int, int]]:
    """ElectLeaders sent straight to broker ``b``: (topic, partition, error code) triples."""
    import trio

    from kafkalite.client.cluster import Cluster
    from kafkalite.protocol.messages.elect_leaders import ElectLeadersRequest, TopicPartitions

    async def ask():
        async with Cluster(b.bootstrap) as cluster:
            await cluster.refresh_metadata([topic])
            response = await cluster.request(b.broker_id, ElectLeadersRequest(
                election_type=0, timeout_ms=5000, topic_partitions=(
                    TopicPartitions(topic=topic, partitions=(partition,)),)))
        assert response.error_code == 0
        return [(r.topic, p.partition_id, p.error_code)
                for r in response.replica_election_results for p in r.partition_result]

    return trio.run(ask)


def bounce(b, kazoo_client, topic: str, partition: int) -> None:
    """Stop the preferred leader of ``partition``, wait for leadership to move, start it again
    and wait until it is back in the ISR (a preferred election needs it there)."""
    b.stop()
    wait_for(lambda: (leader_and_isr(kazoo_client, topic, partition) or (b.broker_id,))[0]
             not in (b.broker_id, -1), 60, f"leadership of {topic}-{partition} to move")
    b.start(wait=False)
    b.wait_ready(90)
    wait_for(lambda: b.broker_id in (leader_and_isr(kazoo_client, topic, partition)
                                     or (None, ()))[1], 60, f"broker {b.broker_id} back in ISR")
    assert leader_and_isr(kazoo_client, topic, partition)[0] != b.broker_id


def test_preferred_leader_election_on_three_brokers(broker_factory, zk_connect, kazoo_client,
                                                    tmp_path):
    brokers = [broker_factory(i, wait=False, props=PROPS) for i in range(3)]
    for b in brokers:
        b.wait_ready(90)
    bootstrap = ",".join(b.bootstrap for b in brokers)
    # preferred leaders: partition p on broker p
    rc, _, err = run("kafka-topics.sh", "--bootstrap-server", bootstrap, "--create", "--topic",
                     "pref", "--replica-assignment", "0:1:2,1:2:0,2:0:1")
    assert rc == 0, err
    for p in range(3):
        def settled(p=p):
            state = leader_and_isr(kazoo_client, "pref", p)
            return state is not None and state[0] == p and len(state[1]) == 3
        wait_for(settled, 60, f"pref-{p} led by broker {p} with a full ISR")

    # kafka-leader-election.sh, one partition
    bounce(brokers[1], kazoo_client, "pref", 1)
    rc, out, err = run("kafka-leader-election.sh", "--bootstrap-server", bootstrap,
                       "--election-type", "preferred", "--topic", "pref", "--partition", "1")
    assert rc == 0, out + err
    assert out == "Successfully completed leader election (PREFERRED) for partitions pref-1\n"
    assert leader_and_isr(kazoo_client, "pref", 1)[0] == 1

    # nothing left to do: named partitions are reported, --all-topic-partitions stays quiet
    rc, out, err = run("kafka-leader-election.sh", "--bootstrap-server", bootstrap,
                       "--election-type", "PREFERRED", "--topic", "pref", "--partition", "0")
    assert (rc, out) == (0, "Valid replica already elected for partitions pref-0\n"), err
    rc, out, err = run("kafka-leader-election.sh", "--bootstrap-server", bootstrap,
                       "--election-type", "preferred", "--all-topic-partitions")
    assert (rc, out) == (0, ""), err
    rc, out, err = run("kafka-leader-election.sh", "--bootstrap-server", bootstrap,
                       "--election-type", "preferred", "--topic", "pref", "--partition", "9")
    assert rc == 1
    assert out.startswith("Error completing leader election (PREFERRED) for partition: "
                          "pref-9: UNKNOWN_TOPIC_OR_PARTITION")
    assert "1 replica(s) could not be elected" in err

    rc, out, err = run("kafka-leader-election.sh", "--bootstrap-server", bootstrap,
                       "--election-type", "unclean", "--topic", "pref", "--partition", "1")
    assert (rc, out) == (0, "Valid replica already elected for partitions pref-1\n"), err

    # a broker that is not the controller refuses, partition by partition
    data, _ = kazoo_client.get(ControllerZNode.path())
    other = next(b for b in brokers if b.broker_id != ControllerZNode.decode(data))
    assert not_controller_answer(other, "pref", 1) == [("pref", 1, 41)]

    # kafka-preferred-replica-election.sh --zookeeper: the controller runs the trigger
    bounce(brokers[2], kazoo_client, "pref", 2)
    election = tmp_path / "election.json"
    election.write_text(json.dumps({"partitions": [{"topic": "pref", "partition": 2}]}))
    rc, out, err = run("kafka-preferred-replica-election.sh", "--zookeeper", zk_connect,
                       "--path-to-json-file", str(election))
    assert rc == 0, err
    assert "Created preferred replica election path with pref-2\n" in out
    wait_for(lambda: leader_and_isr(kazoo_client, "pref", 2)[0] == 2, 30,
             "pref-2 back on broker 2")
    wait_for(lambda: kazoo_client.exists(PreferredReplicaElectionZNode.path()) is None, 30,
             "the controller to delete the trigger")

    # kafka-preferred-replica-election.sh --bootstrap-server, every partition; broker 0 may
    # be the controller, so this also checks that the tool finds the new one
    bounce(brokers[0], kazoo_client, "pref", 0)
    rc, out, err = run("kafka-preferred-replica-election.sh", "--bootstrap-server", bootstrap)
    assert rc == 0, out + err
    assert "Successfully completed preferred leader election for partitions pref-0\n" in out
    assert [leader_and_isr(kazoo_client, "pref", p)[0] for p in range(3)] == [0, 1, 2]
