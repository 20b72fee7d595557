"""Failover acceptance on three brokers: replication factor 3, ``min.insync.replicas=2``.

A background producer (acks=all) and a background consumer run while leaders and controllers
are killed and a leader is frozen past its ZooKeeper session; afterwards every acknowledged
message must be at its offset, no offset may ever have shown two values and the three replicas
must hold the same bytes (Kafka's produce-consume-validate system test). Then the
``min.insync.replicas`` promise: with two of three brokers gone nothing is acknowledged. Then a
topic deleted and created again on every broker.

Leaders, ISRs and the controller are read from ZooKeeper, as an operator would
(``/brokers/topics/<t>/partitions/<p>/state``, ``/controller``). Waits are bounded polls; a
short session timeout and ``replica.lag.time.max.ms`` keep each failover to a few seconds.
"""

from __future__ import annotations

import contextlib
import signal
from collections import Counter

from kafkalite.cli.cluster import free_port
from kafkalite.cli.dev_pki import make_pki
from kafkalite.testing import cluster_state
from kafkalite.testing.cluster_state import (broker_logs, broker_registered, controller_id,
                                             first_error, partition_state, wait_until)
from kafkalite.testing.clients import create_topic
from kafkalite.testing.processes import run_script, wait_for
from kafkalite.testing.verifying import (VerifyingConsumer, VerifyingProducer, check_delivery,
                                         compare_replica_logs, high_watermarks, read_all,
                                         replica_log_ends)

SESSION_TIMEOUT_MS = 4000
PROPS = {
    "zookeeper.session.timeout.ms": SESSION_TIMEOUT_MS,
    "replica.lag.time.max.ms": 4000,
    "min.insync.replicas": 2,
    "unclean.leader.election.enable": "false",
    "default.replication.factor": 3,
    "num.partitions": 3,
    "offsets.topic.replication.factor": 3,
    # librdkafka looks up a coordinator even for assign()-only consumers; a small offsets
    # topic keeps that from costing 150 replicas on a 2-core machine.
    "offsets.topic.num.partitions": 3,
    "auto.leader.rebalance.enable": "false",
    # The last broker to stop has nobody to hand its leaderships to; do not wait 3 x 5 s.
    "controlled.shutdown.retry.backoff.ms": 500,
}
PARTITIONS = range(3)
# An acks=all write fails this way when it cannot be acknowledged: refused at append (19), the
# ISR shrank after the append (20), or the followers never fetched it (broker-side timeout 7,
# librdkafka's local timeouts).
UNACKNOWLEDGED = {"NOT_ENOUGH_REPLICAS", "NOT_ENOUGH_REPLICAS_AFTER_APPEND",
                  "REQUEST_TIMED_OUT", "_MSG_TIMED_OUT", "_TIMED_OUT"}


def states(zk, topic: str, partitions=PARTITIONS) -> list:
    return cluster_state.states(zk, topic, partitions)


def wait_isr_full(zk, topic: str, partitions=PARTITIONS, replicas: int = 3,
                  timeout: float = 60) -> None:
    cluster_state.wait_isr_full(zk, topic, partitions, replicas, timeout)


def wait_more_acks(producer: VerifyingProducer, what: str, at_least: int = 20,
                   timeout: float = 45) -> None:
    floor = producer.acked_count
    wait_until(lambda: producer.acked_count >= floor + at_least, timeout,
               f"{at_least} more acknowledgements {what}",
               lambda: f"failures so far {Counter(f.name for f in producer.failures)}")


def produce_some(bootstrap: str, topic: str, values: list[bytes], *,
                 partitions: int = 1) -> list[tuple[str | None, int, int, bytes]]:
    """Produce ``values`` with acks=all, round-robin over ``partitions``; returns
    (error name or None, partition, offset, value) per message, in delivery order."""
    from confluent_kafka import Producer

    results = []
    p = Producer({"bootstrap.servers": bootstrap, "acks": "all", "linger.ms": 2})
    for i, v in enumerate(values):
        p.produce(topic, v, partition=i % partitions, on_delivery=lambda err, msg: results.append(
            (err.name() if err else None, msg.partition(), msg.offset(), msg.value())))
    assert p.flush(60) == 0
    return results


def test_acked_writes_survive_leader_and_controller_failures(cluster3, kazoo_client):
    brokers = cluster3(PROPS)
    steps = [("leader", "kill")] * 5 + [("controller", "kill")] * 3 + [("leader", "pause")]
    check_failover(brokers, kazoo_client, steps, min_acked=500)


def check_failover(brokers, kazoo_client, steps, *, min_acked: int) -> None:
    """Kafka's produce-consume-validate run over ``steps`` of (role, fault): every
    acknowledged write survives, no offset changes value, the replicas end byte-identical."""
    by_id = {b.broker_id: b for b in brokers}
    bootstrap = ",".join(b.bootstrap for b in brokers)
    topic = "failover"
    create_topic(bootstrap, topic, partitions=3, replication_factor=3)
    wait_isr_full(kazoo_client, topic)

    producer = VerifyingProducer(bootstrap, topic, max_rate=150).start()
    consumer = VerifyingConsumer(bootstrap, topic, PARTITIONS).start()
    acks_per_step = []
    completed = False
    try:
        wait_more_acks(producer, "before the first fault", at_least=50)
        for n, (role, fault) in enumerate(steps, 1):
            acks_per_step.append(run_fault(kazoo_client, by_id, producer, topic, role, fault,
                                           f"step {n} ({fault} the {role})"))
        completed = True
    finally:
        if not completed:
            print(broker_logs(brokers))
            for worker in (producer, consumer):
                with contextlib.suppress(BaseException):
                    worker.stop()
    assert all(n > 0 for n in acks_per_step), acks_per_step

    producer.stop()
    targets = high_watermarks(bootstrap, topic, PARTITIONS)
    try:
        wait_for(lambda: consumer.caught_up(targets), 60,
                 f"the consumer to reach {targets} (at {consumer.next_offsets()})")
    finally:
        consumer.stop()
    final = read_all(bootstrap, topic, PARTITIONS)
    report = check_delivery(producer.acked, final, consumer.records, consumer.conflicts)
    failures = Counter(f.name for f in producer.failures)
    assert report.ok, f"{report}; failures {failures}\n{broker_logs(brokers)}"
    assert report.acked > min_acked, f"{report}; failures {failures}"

    # Followers append the leader's batches unchanged: once all have caught up, the three
    # replicas of each partition are the same bytes, up to the high watermark and no further.
    dirs = {b.broker_id: b.log_dir for b in brokers}
    ends = high_watermarks(bootstrap, topic, PARTITIONS)
    for p in PARTITIONS:
        wait_until(lambda p=p: set(replica_log_ends(dirs, topic, p).values()) == {ends[p]}, 30,
                   f"every replica of {topic}-{p} to end at the high watermark {ends[p]}",
                   lambda p=p: replica_log_ends(dirs, topic, p))
    problems = compare_replica_logs(dirs, topic, PARTITIONS)
    assert not problems, problems


def test_failover_with_a_sasl_ssl_inter_broker_listener(broker_factory, kazoo_client,
                                                        zk_connect, tmp_path):
    """The same acceptance on brokers that replicate, send controller requests and elect over
    SASL_SSL (SCRAM-SHA-512, TLS with hostname verification); clients use a PLAINTEXT
    listener. The inter-broker user is created in ZooKeeper before the brokers start, as a
    Kafka operator must."""
    pki = make_pki(tmp_path / "pki")
    rc, out, err = run_script(
        "kafka-configs.sh", "--zookeeper", zk_connect, "--alter", "--add-config",
        "SCRAM-SHA-512=[password=broker-secret]", "--entity-type", "users",
        "--entity-name", "broker")
    assert rc == 0, err
    secured = {
        **PROPS,
        "listener.security.protocol.map": "PLAINTEXT:PLAINTEXT,BROKER:SASL_SSL",
        "inter.broker.listener.name": "BROKER",
        "sasl.mechanism.inter.broker.protocol": "SCRAM-SHA-512",
        "listener.name.broker.sasl.enabled.mechanisms": "SCRAM-SHA-512",
        "listener.name.broker.scram-sha-512.sasl.jaas.config":
            "org.apache.kafka.common.security.scram.ScramLoginModule required "
            'username="broker" password="broker-secret";',
        "ssl.keystore.type": "PEM", "ssl.keystore.location": str(pki.broker_keystore),
        "ssl.key.password": pki.broker_key_password,
        "ssl.truststore.type": "PEM", "ssl.truststore.location": str(pki.ca),
    }
    ports = {i: (free_port(), free_port()) for i in range(3)}
    brokers = [broker_factory(i, wait=False, port=client, props={
        **secured, "listeners": f"PLAINTEXT://127.0.0.1:{client},BROKER://127.0.0.1:{inter}"})
        for i, (client, inter) in ports.items()]
    for b in brokers:
        b.wait_ready(90)
    inter_ports = {inter for _, inter in ports.values()}
    check_failover(brokers, kazoo_client, [("leader", "kill")] * 3 + [("controller", "kill")],
                   min_acked=200)
    # The replica fetchers and the controller really talk over the SASL_SSL listener.
    assert established_to(inter_ports), "no connection to any inter-broker listener"


def established_to(ports: set[int]) -> int:
    """TCP connections in ESTABLISHED state to one of ``ports`` (from /proc/net/tcp)."""
    count = 0
    with open("/proc/net/tcp") as f:
        for line in f.readlines()[1:]:
            fields = line.split()
            remote_port, state = int(fields[2].split(":")[1], 16), fields[3]
            count += state == "01" and remote_port in ports
    return count


def run_fault(zk, by_id, producer, topic: str, role: str, fault: str, what: str) -> int:
    """Kill (then restart) or pause (then resume) the leader of partition 0 or the controller;
    return how many writes were acknowledged from the fault until the ISR was full again."""
    floor = producer.acked_count
    victim = partition_state(zk, topic, 0).leader if role == "leader" else controller_id(zk)
    assert victim in by_id, f"{what}: no {role} to fault ({victim})"
    broker = by_id[victim]
    broker.kill() if fault == "kill" else broker.signal(signal.SIGSTOP)
    try:
        # The ephemeral registration lapses one session timeout later; only then do the
        # controller and the partitions move.
        wait_for(lambda: not broker_registered(zk, victim), 30,
                 f"{what}: /brokers/ids/{victim} to expire")
        if role == "controller":
            wait_for(lambda: controller_id(zk) not in (None, victim), 30,
                     f"{what}: a new controller")

        wait_until(lambda: all(s.leader not in (-1, victim) and victim not in s.isr
                               for s in states(zk, topic)), 30,
                   f"{what}: leaders and ISRs without broker {victim}",
                   lambda: states(zk, topic))
        wait_more_acks(producer, f"{what} while broker {victim} is out")
    finally:
        if fault == "pause":
            broker.signal(signal.SIGCONT)
    if fault == "kill":
        broker.start()  # the same workdir: its log survives the crash

    def registered_again():
        assert broker.proc.poll() is None, (
            f"{what}: broker {victim} exited with {broker.proc.returncode}; first error: "
            f"{first_error(broker)}\n{broker.log_tail(15)}")
        return broker_registered(zk, victim)
    wait_for(registered_again, 60, f"{what}: broker {victim} registered again")
    wait_isr_full(zk, topic)
    wait_more_acks(producer, f"{what} after broker {victim} rejoined")
    return producer.acked_count - floor


def test_no_acknowledgement_with_fewer_than_min_insync_replicas(cluster3, kazoo_client):
    brokers = cluster3(PROPS)
    by_id = {b.broker_id: b for b in brokers}
    bootstrap = ",".join(b.bootstrap for b in brokers)
    topic = "strict"
    create_topic(bootstrap, topic, partitions=1, replication_factor=3)
    wait_isr_full(kazoo_client, topic, [0])
    before = produce_some(bootstrap, topic, [b"before-%02d" % i for i in range(20)])
    assert [r[0] for r in before] == [None] * 20, before

    leader = by_id[partition_state(kazoo_client, topic, 0).leader]
    followers = [b for b in brokers if b is not leader]
    for f in followers:
        f.kill()
    # retries=0 so each attempt reports its own error instead of retrying until it times out.
    producer = VerifyingProducer(leader.bootstrap, topic, max_rate=20, prefix=b"alone-",
                                 config={"retries": 0, "request.timeout.ms": 2000,
                                         "message.timeout.ms": 5000}).start()
    try:
        wait_until(lambda: partition_state(kazoo_client, topic, 0).isr == (leader.broker_id,),
                   30, f"the ISR to shrink to the leader {leader.broker_id}",
                   lambda: partition_state(kazoo_client, topic, 0))
        # Once the leader knows it is alone, appends are refused outright.
        wait_until(lambda: any(f.name == "NOT_ENOUGH_REPLICAS" for f in producer.failures), 30,
                   "NOT_ENOUGH_REPLICAS", lambda: (Counter(f.name for f in producer.failures),
                                                   producer.acked[:3]))
    except BaseException:
        print(broker_logs(brokers))
        raise
    finally:
        producer.stop()
    assert producer.acked == [], f"acknowledged with one in-sync replica: {producer.acked[:5]}"
    names = Counter(f.name for f in producer.failures)
    assert set(names) <= UNACKNOWLEDGED, names
    assert sum(names.values()) == producer.sent

    for f in followers:
        f.start()
    wait_isr_full(kazoo_client, topic, [0])
    after = produce_some(bootstrap, topic, [b"after-%02d" % i for i in range(20)])
    assert [r[0] for r in after] == [None] * 20, f"{after}\n{broker_logs(brokers)}"
    final = read_all(bootstrap, topic, [0])
    lost = [r for r in before + after if final.get((r[1], r[2])) != r[3]]
    assert not lost, lost


def test_delete_and_recreate_topic_on_three_brokers(cluster3, kazoo_client):
    # Deleted logs are renamed at once and their files removed this much later (Kafka's
    # soft and hard delete).
    brokers = cluster3({**PROPS, "log.segment.delete.delay.ms": "2000"})
    bootstrap = ",".join(b.bootstrap for b in brokers)
    topic = "churn"
    create_topic(bootstrap, topic, partitions=3, replication_factor=3)
    wait_isr_full(kazoo_client, topic)
    results = produce_some(bootstrap, topic, [b"old-%03d" % i for i in range(60)], partitions=3)
    assert {r[0] for r in results} == {None}, results

    def replica_dirs():
        return sorted(f"{b.broker_id}:{d.name}" for b in brokers
                      for d in b.log_dir.iterdir() if d.name.startswith(f"{topic}-"))
    expected = sorted(f"{b}:{topic}-{p}" for b in range(3) for p in PARTITIONS)
    wait_until(lambda: replica_dirs() == expected, 30, "every replica on disk", replica_dirs)

    rc, _, err = run_script("kafka-topics.sh", "--bootstrap-server", bootstrap, "--delete",
                            "--topic", topic)
    assert rc == 0, err
    wait_for(lambda: kazoo_client.exists(f"/brokers/topics/{topic}") is None
             and kazoo_client.exists(f"/admin/delete_topics/{topic}") is None, 60,
             "the controller to finish deleting the topic")
    assert not [d for d in replica_dirs() if not d.endswith("-delete")], replica_dirs()
    wait_until(lambda: replica_dirs() == [], 30, "replica logs removed", replica_dirs)

    create_topic(bootstrap, topic, partitions=3, replication_factor=3)
    wait_isr_full(kazoo_client, topic)
    assert high_watermarks(bootstrap, topic, PARTITIONS) == {0: 0, 1: 0, 2: 0}
    results = produce_some(bootstrap, topic, [b"new-0", b"new-1", b"new-2"], partitions=3)
    assert sorted(results) == [(None, 0, 0, b"new-0"), (None, 1, 0, b"new-1"),
                               (None, 2, 0, b"new-2")], results
    assert read_all(bootstrap, topic, PARTITIONS) == {(0, 0): b"new-0", (1, 0): b"new-1",
                                                      (2, 0): b"new-2"}
    wait_until(lambda: replica_dirs() == expected, 30, "every new replica on disk", replica_dirs)


def test_reassignment_under_load_loses_nothing(cluster3, kazoo_client, tmp_path):
    """Replicas {0,1} -> {1,2} while a verifying producer and consumer run: broker 2 catches
    up as a follower, joins the ISR, broker 0 leaves and deletes its copy, and every
    acknowledged write is still at its offset on the two replicas that remain."""
    import json

    brokers = cluster3(PROPS)
    bootstrap = ",".join(b.bootstrap for b in brokers)
    topic = "moving"
    rc, _, err = run_script("kafka-topics.sh", "--bootstrap-server", bootstrap, "--create",
                            "--topic", topic, "--replica-assignment", "0:1")
    assert rc == 0, err
    wait_isr_full(kazoo_client, topic, [0], replicas=2)
    plan = tmp_path / "plan.json"
    plan.write_text(json.dumps({"version": 1, "partitions": [
        {"topic": topic, "partition": 0, "replicas": [1, 2]}]}))
    producer = VerifyingProducer(bootstrap, topic, max_rate=150).start()
    consumer = VerifyingConsumer(bootstrap, topic, [0]).start()
    try:
        wait_more_acks(producer, "before the reassignment", at_least=300)
        rc, out, err = run_script("kafka-reassign-partitions.sh", "--bootstrap-server",
                                  bootstrap, "--execute", "--reassignment-json-file", str(plan))
        assert rc == 0, out + err

        def done() -> bool:
            s = partition_state(kazoo_client, topic, 0)
            rc, out, _ = run_script("kafka-reassign-partitions.sh", "--bootstrap-server",
                                    bootstrap, "--verify", "--reassignment-json-file", str(plan))
            return rc == 0 and "is complete" in out and s is not None and set(s.isr) == {1, 2}
        wait_until(done, 90, "the reassignment to complete",
                   lambda: partition_state(kazoo_client, topic, 0))
        wait_more_acks(producer, "after the reassignment", at_least=100)
    except BaseException:
        print(broker_logs(brokers))
        raise
    finally:
        producer.stop()
    targets = high_watermarks(bootstrap, topic, [0])
    try:
        wait_for(lambda: consumer.caught_up(targets), 60,
                 f"the consumer to reach {targets} (at {consumer.next_offsets()})")
    finally:
        consumer.stop()
    final = read_all(bootstrap, topic, [0])
    report = check_delivery(producer.acked, final, consumer.records, consumer.conflicts)
    assert report.ok, f"{report}\n{broker_logs(brokers)}"
    assert report.acked >= 400
    wait_until(lambda: not (brokers[0].log_dir / f"{topic}-0").exists(), 30,
               "broker 0 to delete its replica")
    dirs = {b.broker_id: b.log_dir for b in brokers[1:]}
    wait_until(lambda: set(replica_log_ends(dirs, topic, 0).values()) == {targets[0]}, 30,
               "both replicas to end at the high watermark",
               lambda: replica_log_ends(dirs, topic, 0))
    assert compare_replica_logs(dirs, topic, [0]) == []
