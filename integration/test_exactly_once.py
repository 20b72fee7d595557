"""Exactly-once through failures on three brokers (Kafka's ``transactions_test``, R16).

A consume-transform-produce copier (``kafkalite.testing.copier``, a separate process) copies an
input topic to an output topic in transactions of 500 records with
``send_offsets_to_transaction``, on 3 brokers with replication factor 3 and
``min.insync.replicas=2``, while the test SIGKILLs the broker that coordinates its
transactional id, then the leader of an output partition, then the copier itself. Afterwards
the output, read with read_committed, must equal the input partition by partition (nothing
lost, nothing twice, order kept), and a read_committed consumer that ran throughout must never
have seen a record the final read does not have (an aborted one).

Also the idempotent producer on its own: ``max.in.flight=5`` while the leader is SIGKILLed
five times, no value twice and every partition in send order.

CI runs one round of faults on 6,000 records; the full run (3 rounds, 30,000 records) is
marked slow.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import threading
from collections import Counter

import pytest

from kafkalite.coordinator.offsets_topic import java_string_hash
from kafkalite.model import OFFSETS_TOPIC, TRANSACTION_TOPIC
from kafkalite.testing.cluster_state import (broker_logs, broker_registered, partition_state,
                                             states, wait_isr_full, wait_until)
from kafkalite.testing.clients import create_topic
from kafkalite.testing.processes import wait_for
from kafkalite.testing.verifying import VerifyingProducer, check_delivery, read_all

SESSION_TIMEOUT_MS = 4000
INTERNAL_PARTITIONS = 3
PROPS = {
    "zookeeper.session.timeout.ms": SESSION_TIMEOUT_MS,
    "replica.lag.time.max.ms": 4000,
    "min.insync.replicas": 2,
    "unclean.leader.election.enable": "false",
    "default.replication.factor": 3,
    "num.partitions": 3,
    "offsets.topic.replication.factor": 3,
    "offsets.topic.num.partitions": INTERNAL_PARTITIONS,
    "transaction.state.log.replication.factor": 3,
    "transaction.state.log.min.isr": 2,
    "transaction.state.log.num.partitions": INTERNAL_PARTITIONS,
    "auto.leader.rebalance.enable": "false",
    "controlled.shutdown.retry.backoff.ms": 500,
}
PARTITIONS = range(3)
TXN_ID = "copier-1"


def coordinator_partition(transactional_id: str) -> int:
    h = java_string_hash(transactional_id)
    return (0 if h == -2**31 else abs(h)) % INTERNAL_PARTITIONS


class Copier:
    """The copier process; restarted by the test after it is killed."""

    def __init__(self, bootstrap: str, workdir, *, delay: float):
        self.args = [sys.executable, "-m", "kafkalite.testing.copier", "--bootstrap", bootstrap,
                     "--input", "input", "--output", "output", "--partitions", "3",
                     "--group", "copier", "--transactional-id", TXN_ID, "--batch", "500",
                     "--delay", str(delay)]
        self.log = workdir / "copier.log"
        self.proc: subprocess.Popen | None = None
        self.starts = 0

    def start(self) -> None:
        self.starts += 1
        with open(self.log, "a") as out:
            out.write(f"--- start {self.starts}\n")
            self.proc = subprocess.Popen(self.args, stdout=out, stderr=subprocess.STDOUT)

    def kill(self) -> None:
        os.kill(self.proc.pid, signal.SIGKILL)
        self.proc.wait()

    def tail(self, n: int = 20) -> str:
        return "\n".join(self.log.read_text(errors="replace").splitlines()[-n:])

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.kill()


class CommittedReader(threading.Thread):
    """A read_committed consumer of the output for the whole run: what it ever saw."""

    def __init__(self, bootstrap: str):
        super().__init__(daemon=True)
        self.bootstrap = bootstrap
        self.seen: dict[tuple[int, int], bytes] = {}
        self.repeats: list[tuple[int, int]] = []
        self.stopping = threading.Event()
        self.error: BaseException | None = None

    def run(self) -> None:
        from confluent_kafka import Consumer, TopicPartition

        try:
            c = Consumer({"bootstrap.servers": self.bootstrap, "group.id": "watcher",
                          "isolation.level": "read_committed", "enable.auto.commit": False,
                          "topic.metadata.refresh.interval.ms": 1000,
                          "reconnect.backoff.max.ms": 500})
            c.assign([TopicPartition("output", p, 0) for p in PARTITIONS])
            while not self.stopping.is_set():
                msg = c.poll(0.2)
                if msg is None or msg.error() is not None:
                    continue
                key = (msg.partition(), msg.offset())
                if key in self.seen:
                    self.repeats.append(key)
                self.seen[key] = msg.value()
            c.close()
        except BaseException as e:  # noqa: BLE001 - reported by the test thread
            self.error = e


def committed_total(bootstrap: str) -> int:
    from confluent_kafka import Consumer, TopicPartition

    c = Consumer({"bootstrap.servers": bootstrap, "group.id": "copier",
                  "isolation.level": "read_committed"})
    try:
        tps = c.committed([TopicPartition("input", p) for p in PARTITIONS], timeout=20)
        return sum(max(tp.offset, 0) for tp in tps)
    finally:
        c.close()


def bounce(zk, by_id, victim: int, what: str) -> None:
    """SIGKILL a broker, wait until the cluster noticed, start it again, wait until every
    partition that matters has three in-sync replicas again."""
    broker = by_id[victim]
    broker.kill()
    wait_for(lambda: not broker_registered(zk, victim), 30, f"{what}: broker {victim} to expire")
    broker.start()
    wait_for(lambda: broker_registered(zk, victim), 60, f"{what}: broker {victim} back")
    for topic, parts in (("input", PARTITIONS), ("output", PARTITIONS),
                         (TRANSACTION_TOPIC, range(INTERNAL_PARTITIONS)),
                         (OFFSETS_TOPIC, range(INTERNAL_PARTITIONS))):
        wait_isr_full(zk, topic, parts, timeout=90)


def run_copier_with_faults(cluster3, kazoo_client, tmp_path, *, records: int, rounds: int):
    """Seed the input in chunks; after each chunk, once the copier is busy with it, inject the
    next fault. The copier runs until everything is copied (the test then stops it)."""
    brokers = cluster3(PROPS)
    by_id = {b.broker_id: b for b in brokers}
    bootstrap = ",".join(b.bootstrap for b in brokers)
    for topic in ("input", "output"):
        create_topic(bootstrap, topic, partitions=3, replication_factor=3)
        wait_isr_full(kazoo_client, topic, PARTITIONS)
    kinds = ["coordinator", "leader", "copier"] * rounds
    bounds = [records * i // (len(kinds) + 1) for i in range(len(kinds) + 2)]
    seed(bootstrap, 0, bounds[1])

    reader = CommittedReader(bootstrap)
    reader.start()
    copier = Copier(bootstrap, tmp_path, delay=0.1)
    copier.start()
    faults: list[str] = []

    def copied_at_least(n: int, what: str, timeout: float = 120) -> None:
        def check():
            assert copier.proc.poll() is None, f"copier exited {copier.proc.returncode}"
            return committed_total(bootstrap) >= n
        wait_until(check, timeout, f"the copier to commit {n} records {what}",
                   lambda: copier.tail())

    try:
        for n, kind in enumerate(kinds, 1):
            copied_at_least(bounds[n], f"before fault {n}")
            seed(bootstrap, bounds[n], bounds[n + 1])
            copied_at_least(bounds[n] + 1, f"of chunk {n + 1}")  # busy with the new chunk
            if kind == "coordinator":
                victim = partition_state(kazoo_client, TRANSACTION_TOPIC,
                                         coordinator_partition(TXN_ID)).leader
                bounce(kazoo_client, by_id, victim, f"fault {n}: coordinator")
            elif kind == "leader":
                victim = partition_state(kazoo_client, "output", n % 3).leader
                bounce(kazoo_client, by_id, victim, f"fault {n}: output-{n % 3} leader")
            else:
                victim = "copier"
                copier.kill()
                copier.start()
            faults.append(f"{kind} {victim}")
        copied_at_least(records, "in all", timeout=180)
    except BaseException:
        print(broker_logs(brokers))
        print(copier.tail(40))
        raise
    finally:
        copier.stop()

    final = read_all(bootstrap, "output", PARTITIONS, isolation_level="read_committed")
    got = {p: [v for (q, _), v in sorted(final.items()) if q == p] for p in PARTITIONS}
    expected = {p: [b"%06d" % i for i in range(records) if i % 3 == p] for p in PARTITIONS}
    for p in PARTITIONS:
        dup = [v for v, n in Counter(got[p]).items() if n > 1]
        missing = sorted(set(expected[p]) - set(got[p]))
        assert got[p] == expected[p], (
            f"output-{p}: {len(got[p])} records for {len(expected[p])}, {len(dup)} duplicated "
            f"{dup[:5]}, {len(missing)} missing {missing[:5]}; faults {faults}")

    wait_until(lambda: len(reader.seen) >= records, 60, "the watching consumer to catch up",
               lambda: len(reader.seen))
    reader.stopping.set()
    reader.join(30)
    assert reader.error is None, reader.error
    aborted_reads = {k: v for k, v in reader.seen.items() if final.get(k) != v}
    assert not aborted_reads, f"read_committed saw records that were not committed: " \
                              f"{list(aborted_reads.items())[:5]}"
    assert reader.seen == final and not reader.repeats
    return faults


def seed(bootstrap: str, start: int, end: int) -> None:
    """Input records ``start..end-1``: value ``%06d``, partition ``i % 3``."""
    from confluent_kafka import Producer

    p = Producer({"bootstrap.servers": bootstrap, "enable.idempotence": True, "linger.ms": 20})
    for i in range(start, end):
        p.produce("input", b"%06d" % i, partition=i % 3)
        if i % 5000 == 0:
            p.poll(0)
    assert p.flush(120) == 0


def test_copier_is_exactly_once_through_coordinator_leader_and_copier_kills(
        cluster3, kazoo_client, tmp_path):
    faults = run_copier_with_faults(cluster3, kazoo_client, tmp_path, records=6000, rounds=1)
    assert len(faults) == 3, faults


@pytest.mark.slow
def test_copier_is_exactly_once_through_three_rounds_of_kills(cluster3, kazoo_client, tmp_path):
    faults = run_copier_with_faults(cluster3, kazoo_client, tmp_path, records=30000, rounds=3)
    assert len(faults) == 9, faults


def test_idempotent_producer_keeps_order_without_duplicates_through_leader_kills(
        cluster3, kazoo_client):
    brokers = cluster3(PROPS)
    by_id = {b.broker_id: b for b in brokers}
    bootstrap = ",".join(b.bootstrap for b in brokers)
    topic = "idempotent"
    create_topic(bootstrap, topic, partitions=3, replication_factor=3)
    wait_isr_full(kazoo_client, topic, PARTITIONS)
    producer = VerifyingProducer(bootstrap, topic, max_rate=300, idempotent=True,
                                 config={"max.in.flight.requests.per.connection": 5,
                                         "message.timeout.ms": 60000}).start()
    try:
        wait_for(lambda: producer.acked_count >= 200, 45, "acknowledgements before the kills")
        for n in range(5):
            leader = partition_state(kazoo_client, topic, 0).leader
            floor = producer.acked_count
            by_id[leader].kill()
            wait_until(lambda: all(s.leader not in (-1, leader)
                                   for s in states(kazoo_client, topic, PARTITIONS)), 30,
                       f"kill {n + 1}: leaders without broker {leader}",
                       lambda: states(kazoo_client, topic, PARTITIONS))
            wait_for(lambda: producer.acked_count >= floor + 100, 45,
                     f"kill {n + 1}: acknowledgements while broker {leader} is down")
            by_id[leader].start()
            wait_isr_full(kazoo_client, topic, PARTITIONS)
    except BaseException:
        print(broker_logs(brokers))
        with contextlib.suppress(BaseException):
            producer.stop()
        raise
    producer.stop()
    final = read_all(bootstrap, topic, PARTITIONS)
    assert not producer.failures, Counter(f.name for f in producer.failures)
    # librdkafka acknowledges a batch whose own answer was lost (a timeout while the ISR
    # shrank) once a later batch of the partition succeeds: those acks carry no offset.
    known = [a for a in producer.acked if a.offset is not None]
    report = check_delivery(known, final)
    assert report.ok and report.duplicates == 0, report
    where = {(p, v) for (p, _), v in final.items()}
    missing = [a for a in producer.acked if (a.partition, a.value) not in where]
    assert not missing, missing[:5]
    for p in PARTITIONS:
        values = [v for (q, _), v in sorted(final.items()) if q == p]
        assert values == sorted(values), f"partition {p} out of send order"
    assert len(final) == producer.sent == len(producer.acked)
