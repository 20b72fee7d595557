"""A cooperative-sticky consumer group whose subscribed topic is deleted mid-consumption.

librdkafka notices a deleted subscribed topic when it refreshes the group's metadata
(``topic.metadata.refresh.interval.ms``; a fetch error alone only makes it re-query the
partition leader): it then declares the topic's partitions lost (KIP-429) and rejoins. The group
must rebalance onto the remaining topic and go on consuming it within the session timeout, with
no fatal error; and, as Kafka's ``handleDeletedPartitions`` does, the group's committed offsets
of the deleted topic are gone, so a re-created topic is not resumed at a stale position.
"""

from __future__ import annotations

import threading
import time

from kafkalite.testing.clients import create_topic
from kafkalite.testing.processes import wait_for

SESSION_TIMEOUT_MS = 10_000


class _Member:
    """One group member polling in its own thread, recording what it consumed."""

    def __init__(self, bootstrap: str, name: str):
        from confluent_kafka import Consumer

        self.name = name
        self.errors: list = []
        self.events: list[str] = []
        self.consumed: dict[str, int] = {"keep": 0, "doomed": 0}
        self.last_keep_at = 0.0
        self.consumer = Consumer({
            "bootstrap.servers": bootstrap, "group.id": "coop", "client.id": name,
            "partition.assignment.strategy": "cooperative-sticky",
            "session.timeout.ms": SESSION_TIMEOUT_MS, "heartbeat.interval.ms": 1000,
            "auto.offset.reset": "earliest", "auto.commit.interval.ms": 500,
            # how often librdkafka re-reads its subscription's metadata (default 5 minutes)
            "topic.metadata.refresh.interval.ms": 1000,
            "error_cb": self.errors.append})
        self.consumer.subscribe(
            ["keep", "doomed"],
            on_assign=lambda c, ps: self._event("assign", ps),
            on_revoke=lambda c, ps: self._event("revoke", ps),
            on_lost=lambda c, ps: self._event("lost", ps))
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _event(self, kind: str, partitions) -> None:
        self.events.append(f"{kind} " + ",".join(f"{p.topic}-{p.partition}" for p in partitions))

    def _run(self) -> None:
        while not self.stop.is_set():
            m = self.consumer.poll(0.2)
            if m is None:
                continue
            if m.error():
                self.errors.append(m.error())
                continue
            self.consumed[m.topic()] += 1
            if m.topic() == "keep":
                self.last_keep_at = time.monotonic()

    def halt(self) -> set[tuple[str, int]]:
        """Stop polling; returns the assignment at that moment (still a group member)."""
        self.stop.set()
        self.thread.join(30)
        return {(p.topic, p.partition) for p in self.consumer.assignment()}


def test_cooperative_sticky_group_survives_deletion_of_a_subscribed_topic(broker):
    from confluent_kafka import Consumer, Producer, TopicPartition
    from confluent_kafka.admin import AdminClient

    create_topic(broker.bootstrap, "keep", partitions=4)
    create_topic(broker.bootstrap, "doomed", partitions=4)
    producer = Producer({"bootstrap.servers": broker.bootstrap, "linger.ms": 5})
    for i in range(40):
        producer.produce("doomed", b"d%d" % i, partition=i % 4)
    producer.flush(10)
    stop = threading.Event()

    def produce_keep():   # a separate producer: this one never heard of "doomed"
        p = Producer({"bootstrap.servers": broker.bootstrap, "linger.ms": 5})
        i = 0
        while not stop.is_set():
            p.produce("keep", b"k%d" % i, partition=i % 4)
            i += 1
            p.poll(0)
            time.sleep(0.005)
        p.flush(10)

    writer = threading.Thread(target=produce_keep, daemon=True)
    writer.start()
    members = [_Member(broker.bootstrap, "a"), _Member(broker.bootstrap, "b")]
    admin = AdminClient({"bootstrap.servers": broker.bootstrap})
    try:
        # the sticky assignor balances by count: one member may own only "doomed" partitions
        wait_for(lambda: sum(m.consumed["doomed"] for m in members) >= 40
                 and sum(m.consumed["keep"] for m in members), 60,
                 "the group to consume both topics")
        time.sleep(1.5)   # an auto-commit of the doomed positions
        admin.delete_topics(["doomed"])["doomed"].result(timeout=30)
        deleted_at = time.monotonic()
        wait_for(lambda: "doomed" not in admin.list_topics(timeout=10).topics, 30,
                 "the topic to leave the metadata")

        # every member consumes "keep" within the session timeout (a member that owned only
        # partitions of the deleted topic gets some of "keep"), and keeps doing so
        wait_for(lambda: all(m.last_keep_at > deleted_at + 1 for m in members),
                 SESSION_TIMEOUT_MS / 1000, "both members to consume after the deletion")
        marks = [m.consumed["keep"] for m in members]
        wait_for(lambda: all(m.consumed["keep"] > mark for m, mark in zip(members, marks)),
                 5, "consumption to go on")
    finally:
        stop.set()
        writer.join(15)
        assignments = [m.halt() for m in members]
        for m in members:
            m.consumer.close()
    details = [(m.name, m.events, m.errors) for m in members]
    assert not [e for m in members for e in m.errors if e.fatal()], details
    # the deleted topic's partitions were given up (lost, or revoked if a rebalance came first)
    assert any(e.startswith(("lost doomed", "revoke doomed")) for m in members
               for e in m.events), details
    # the group converged on the remaining topic, each partition owned once
    assert sorted(tp for a in assignments for tp in a) == [("keep", p) for p in range(4)], \
        (assignments, details)

    # the group's committed offsets of the deleted topic are gone; those of "keep" remain
    probe = Consumer({"bootstrap.servers": broker.bootstrap, "group.id": "coop"})
    try:
        committed = probe.committed([TopicPartition("doomed", p) for p in range(4)]
                                    + [TopicPartition("keep", 0)], timeout=15)
    finally:
        probe.close()
    assert [tp.offset for tp in committed[:4]] == [-1001] * 4, committed
    assert committed[4].offset > 0, committed
    assert "Removed 4 offsets associated with deleted partitions: doomed." in broker.server_log()
