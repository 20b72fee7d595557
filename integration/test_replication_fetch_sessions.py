"""Followers replicate in incremental fetch sessions (KIP-227), and acks=all loses nothing.

Three brokers, one RF=3 topic whose partitions are all led by broker 0, a real client
(confluent-kafka, acks=all) producing throughout. Broker 0's Prometheus endpoint is the
witness: every full fetch (session id 0, epoch 0) makes the leader cache a new session, so
while the followers keep fetching (hundreds of FetchFollower requests) the number of cached
sessions stays put only if those fetches are incremental (a follower that reconnects closes
its old session with its next full fetch). A restarted follower is a new process that knows
nothing of its old session: it opens a new one (the count goes up once; the old one waits for
eviction), after which the count is steady again. The trio consumer reads the topic in a session of its own. At the end every
acknowledged message is at its offset and the three replicas hold the same bytes.
"""

from __future__ import annotations

import urllib.request

import trio

from kafkalite.cli.cluster import free_port
from kafkalite.testing import cluster_state
from kafkalite.testing.cluster_state import broker_logs, wait_until
from kafkalite.testing.verifying import (VerifyingProducer, check_delivery,
                                         compare_replica_logs, high_watermarks, read_all,
                                         replica_log_ends)

TOPIC = "sessions-replicated"
PARTITIONS = range(3)
PROPS = {
    "min.insync.replicas": 2,
    "unclean.leader.election.enable": "false",
    "replica.lag.time.max.ms": 4000,
    "auto.leader.rebalance.enable": "false",
    "controlled.shutdown.retry.backoff.ms": 500,
}
SESSIONS = "kafka_server_fetchsessioncache_numincrementalfetchsessions"
REQUESTS = 'kafka_network_requestmetrics_requests_total{request="'


def scrape(url: str) -> dict[str, float]:
    """Cached fetch sessions and requests answered so far by kind (all versions)."""
    with urllib.request.urlopen(url, timeout=10) as resp:
        text = resp.read().decode()
    out: dict[str, float] = {}
    for line in text.splitlines():
        if line.startswith(SESSIONS + " "):
            out["sessions"] = float(line.split()[-1])
        elif line.startswith(REQUESTS):
            name = line[len(REQUESTS):].split('"', 1)[0]
            out[name] = out.get(name, 0.0) + float(line.split()[-1])
    return out


def steady_sessions(url: str, producer: VerifyingProducer, fetches: int = 150) -> float:
    """Wait for ``fetches`` follower fetches (and 50 acks) at the leader during which the
    number of cached sessions does not change; returns that number."""
    def settled():
        before = scrape(url)
        floor = producer.acked_count
        wait_until(lambda: scrape(url).get("FetchFollower", 0) - before.get("FetchFollower", 0)
                   >= fetches and producer.acked_count >= floor + 50, 60,
                   f"{fetches} follower fetches and 50 acknowledgements")
        after = scrape(url)
        return after["sessions"] if after["sessions"] == before["sessions"] else None
    # a session may still be replaced right after a (re)start (a follower's first fetches
    # may fail while its leader is not ready yet)
    return wait_until(settled, 120, "a steady number of fetch sessions at the leader")


def test_followers_fetch_in_sessions_and_acks_all_loses_nothing(broker_factory, kazoo_client):
    from confluent_kafka.admin import AdminClient, NewTopic

    ports = [free_port() for _ in range(3)]
    brokers = [broker_factory(i, wait=False, props={
        **PROPS, "metrics.listener": f"http://127.0.0.1:{ports[i]}"}) for i in range(3)]
    for b in brokers:
        b.wait_ready(90)
    url = f"http://127.0.0.1:{ports[0]}/metrics"
    bootstrap = ",".join(b.bootstrap for b in brokers)
    admin = AdminClient({"bootstrap.servers": bootstrap})
    admin.create_topics([NewTopic(TOPIC, num_partitions=len(PARTITIONS),
                                  replica_assignment=[[0, 1, 2]] * len(PARTITIONS))]
                        )[TOPIC].result(60)
    cluster_state.wait_isr_full(kazoo_client, TOPIC, PARTITIONS, 3, 60)

    producer = VerifyingProducer(bootstrap, TOPIC, max_rate=100).start()
    completed = False
    try:
        sessions = steady_sessions(url, producer)
        assert sessions >= 2   # one per follower at least

        check_partitions_join_running_sessions(admin, kazoo_client, brokers, url, bootstrap)

        brokers[1].stop()
        floor = producer.acked_count
        wait_until(lambda: producer.acked_count >= floor + 50, 60,
                   "acknowledgements with a follower down (min.insync.replicas=2)")
        brokers[1].start()
        cluster_state.wait_isr_full(kazoo_client, TOPIC, PARTITIONS, 3, 90)
        after_restart = steady_sessions(url, producer)
        assert after_restart > sessions   # the restarted follower fetches in a new session

        assert trio.run(consume_in_a_session, bootstrap, url) >= 1
        completed = True
    finally:
        producer.stop()
        if not completed:
            print(broker_logs(brokers))

    final = read_all(bootstrap, TOPIC, PARTITIONS)
    report = check_delivery(producer.acked, final)
    assert report.ok and report.acked > 300, f"{report}; failures {producer.failures[:5]}"
    dirs = {b.broker_id: b.log_dir for b in brokers}
    ends = high_watermarks(bootstrap, TOPIC, PARTITIONS)
    for p in PARTITIONS:
        wait_until(lambda p=p: set(replica_log_ends(dirs, TOPIC, p).values()) == {ends[p]}, 30,
                   f"every replica of {TOPIC}-{p} to end at the high watermark {ends[p]}")
    assert not compare_replica_logs(dirs, TOPIC, PARTITIONS)


def check_partitions_join_running_sessions(admin, kazoo_client, brokers, url: str,
                                           bootstrap: str) -> None:
    """New partitions led by broker 0 join the followers' running fetch sessions there: no
    follower reconnects (a new connection starts with ApiVersions), yet both replicate them."""
    from confluent_kafka import Producer
    from confluent_kafka.admin import NewTopic

    more = TOPIC + "-more"
    producer = Producer({"bootstrap.servers": bootstrap, "acks": "all"})
    producer.produce(TOPIC, b"warm-up")   # its connections exist before the count is taken
    assert producer.flush(30) == 0
    before = scrape(url).get("ApiVersions", 0)
    admin.create_topics([NewTopic(more, num_partitions=len(PARTITIONS),
                                  replica_assignment=[[0, 1, 2]] * len(PARTITIONS))]
                        )[more].result(60)
    cluster_state.wait_isr_full(kazoo_client, more, PARTITIONS, 3, 60)
    for p in PARTITIONS:
        producer.produce(more, b"x", partition=p)
    assert producer.flush(30) == 0
    dirs = {b.broker_id: b.log_dir for b in brokers}
    for p in PARTITIONS:
        wait_until(lambda p=p: set(replica_log_ends(dirs, more, p).values()) == {1}, 30,
                   f"every replica of {more}-{p} to hold its record")
    assert scrape(url).get("ApiVersions", 0) == before


async def consume_in_a_session(bootstrap: str, url: str) -> float:
    """The trio consumer polls the whole topic many times from broker 0: its first fetch
    creates one session, and the following incremental ones add none; closing the consumer
    closes its session. Returns how many sessions it added."""
    from kafkalite.client.cluster import Cluster
    from kafkalite.client.consumer import Consumer

    async with Cluster(bootstrap) as cluster:
        consumer = Consumer(cluster, auto_offset_reset="earliest", fetch_max_wait_ms=50,
                            max_partition_fetch_bytes=2048)
        consumer.assign([(TOPIC, p) for p in PARTITIONS])
        before = await trio.to_thread.run_sync(scrape, url)
        got = 0
        while got < 300:
            got += len(await consumer.poll(5000))
        first = await trio.to_thread.run_sync(scrape, url)
        for _ in range(20):
            got += len(await consumer.poll(200))
        last = await trio.to_thread.run_sync(scrape, url)
        await consumer.aclose()
        closed = await trio.to_thread.run_sync(scrape, url)
    assert last["sessions"] == first["sessions"], (before, first, last)
    assert closed["sessions"] == before["sessions"], (before, first, closed)
    return first["sessions"] - before["sessions"]
