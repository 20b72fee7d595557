"""``GET /metrics`` on three real brokers, scraped while real clients work: values, not names.

Messages in per topic (summed over brokers) equal what was produced; a group's lag equals log
end − committed; under-replicated partitions become 1 on the leader while a follower is
SIGSTOPped past ``replica.lag.time.max.ms`` and 0 after SIGCONT; exactly one broker reports
an active controller.
"""

from __future__ import annotations

import re
import signal
import time
import urllib.request
from collections import defaultdict

from kafkalite.cli.cluster import free_port
from kafkalite.testing.cluster_state import partition_state, wait_isr_full, wait_until
from kafkalite.testing.clients import create_topic

SERIES = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$')
LABEL = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"')


def scrape(url: str) -> dict[tuple[str, frozenset], float]:
    with urllib.request.urlopen(url, timeout=10) as resp:
        assert resp.headers["Content-Type"].startswith("text/plain; version=0.0.4")
        text = resp.read().decode()
    out = {}
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        m = SERIES.match(line)
        assert m, f"not Prometheus text: {line!r}"
        labels = frozenset(LABEL.findall(m.group(2) or ""))
        out[(m.group(1), labels)] = float(m.group(3))
    return out


def value(series, name: str, **labels) -> float | None:
    return series.get((name, frozenset((k, str(v)) for k, v in labels.items())))


def total(scrapes, name: str, **labels) -> float:
    return sum(value(s, name, **labels) or 0 for s in scrapes)


def total_matching(scrapes, name: str, **labels) -> float:
    """Sum of the series of ``name`` whose labels include ``labels`` (others may differ)."""
    wanted = {(k, str(v)) for k, v in labels.items()}
    return sum(v for s in scrapes for (n, ls), v in s.items() if n == name and wanted <= ls)


def test_metrics_values_during_produce_consume_and_a_stopped_follower(broker_factory,
                                                                       kazoo_client):
    urls = {}
    brokers = []
    for i in range(3):
        port = free_port()
        urls[i] = f"http://127.0.0.1:{port}/metrics"
        brokers.append(broker_factory(i, wait=False, props={
            "metrics.listener": f"http://127.0.0.1:{port}",
            "replica.lag.time.max.ms": 2000}))
    for b in brokers:
        b.wait_ready(90)
    bootstrap = ",".join(b.bootstrap for b in brokers)

    def scrape_all():
        return [scrape(urls[i]) for i in range(3)]

    wait_until(lambda: total(scrape_all(),
                             "kafka_controller_kafkacontroller_activecontrollercount") == 1,
               30, "one active controller")

    from confluent_kafka import Consumer, Producer, TopicPartition

    create_topic(bootstrap, "metered", partitions=2, replication_factor=3)
    wait_isr_full(kazoo_client, "metered", [0, 1])
    producer = Producer({"bootstrap.servers": bootstrap, "acks": "all", "linger.ms": 5})
    sent = 0
    for i in range(500):
        producer.produce("metered", key=str(i).encode(), value=b"v" * 50, partition=i % 2)
        sent += 1
    assert producer.flush(30) == 0

    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": "lagging",
                         "auto.offset.reset": "earliest", "enable.auto.commit": False})
    consumer.assign([TopicPartition("metered", 0, 0), TopicPartition("metered", 1, 0)])
    got = 0
    deadline = time.monotonic() + 30
    while got < 500 and time.monotonic() < deadline:
        msgs = consumer.consume(500, timeout=1)
        got += sum(1 for m in msgs if not m.error())
    assert got == 500
    committed = {0: 100, 1: 37}
    consumer.commit(offsets=[TopicPartition("metered", p, o) for p, o in committed.items()],
                    asynchronous=False)
    consumer.close()

    scrapes = scrape_all()
    assert total(scrapes, "kafka_server_brokertopicmetrics_messagesin_total",
                 topic="metered") == sent
    assert total(scrapes, "kafka_server_brokertopicmetrics_bytesout_total",
                 topic="metered") >= total(scrapes, "kafka_server_brokertopicmetrics_bytesin_total",
                                           topic="metered") > 0
    assert total(scrapes, "kafka_controller_kafkacontroller_activecontrollercount") == 1
    assert total(scrapes, "kafka_controller_kafkacontroller_globalpartitioncount") >= 2
    assert total_matching(scrapes, "kafka_network_requestmetrics_requests_total",
                          request="FetchFollower") > 0
    assert total_matching(scrapes, "kafka_network_requestmetrics_totaltimems_count",
                          request="Produce") > 0
    assert total(scrapes, "kafka_server_kafkaserver_brokerstate") == 3 * 3  # RunningAsBroker
    ends = {p: total(scrapes, "kafka_topic_partition_current_offset", topic="metered",
                     partition=p) for p in (0, 1)}
    assert sum(ends.values()) == sent
    for p, offset in committed.items():
        labels = dict(consumergroup="lagging", topic="metered", partition=p)
        assert total(scrapes, "kafka_consumergroup_current_offset", **labels) == offset
        assert total(scrapes, "kafka_consumergroup_lag", **labels) == ends[p] - offset
    sizes = defaultdict(float)
    for s in scrapes:
        for (name, labels), v in s.items():
            if name == "kafka_log_log_size" and ("topic", "metered") in labels:
                sizes[labels] = max(sizes[labels], v)
    assert len(sizes) == 2 and all(v > 0 for v in sizes.values())

    # A follower of partition 0 stops fetching past replica.lag.time.max.ms (well inside its
    # ZooKeeper session): the leader shrinks the ISR and reports one under-replicated
    # partition; after SIGCONT the follower catches up and it is 0 again.
    state = partition_state(kazoo_client, "metered", 0)
    leader = state.leader
    follower = next(r for r in state.isr if r != leader)
    others = [p for p in (0, 1) if partition_state(kazoo_client, "metered", p).leader == leader]
    urp = "kafka_server_replicamanager_underreplicatedpartitions"
    assert value(scrape(urls[leader]), urp) == 0
    brokers[follower].signal(signal.SIGSTOP)
    try:
        wait_until(lambda: value(scrape(urls[leader]), urp) == len(others), 15,
                   "under-replicated partitions on the leader while a follower is stopped")
        assert value(scrape(urls[leader]), "kafka_server_replicamanager_isrshrinks_total") >= 1
    finally:
        brokers[follower].signal(signal.SIGCONT)
    wait_until(lambda: value(scrape(urls[leader]), urp) == 0, 30,
               "no under-replicated partitions after SIGCONT")
    assert value(scrape(urls[leader]), "kafka_server_replicamanager_isrexpands_total") >= 1
