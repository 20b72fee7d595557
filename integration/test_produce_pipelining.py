"""acks=all produce requests pipelined on one connection: appended in order, answered in order,
and replicated together.

A Kafka channel is muted while a request is in flight, so with acks=all each request of a
connection waits out a whole replication round trip before the next is even read. kafkalite
appends a connection's next Produce while the earlier ones wait for the followers (the
answers still go out in request order; any other request waits for them). The witness that
the requests really were replicated together is the leader's count of follower fetches: one
request at a time needs at least one fetch per follower per request, pipelined they share a
handful.
"""

from __future__ import annotations

import signal
import socket
import time
import urllib.request

from kafkalite.cli.cluster import free_port
from kafkalite.protocol.framing import ClientConnection
from kafkalite.protocol.messages import metadata, produce
from kafkalite.records.builder import build_batch
from kafkalite.testing.cluster_state import wait_until

TOPIC = "pipelined"
REQUESTS = 100
FOLLOWER_FETCHES = 'kafka_network_requestmetrics_requests_total{request="FetchFollower"'


LOG_END = 'kafka_log_log_logendoffset{'


def scrape(url: str) -> list[str]:
    with urllib.request.urlopen(url, timeout=10) as resp:
        return resp.read().decode().splitlines()


def follower_fetches(url: str) -> float:
    return sum(float(line.split()[-1]) for line in scrape(url)
               if line.startswith(FOLLOWER_FETCHES))


def log_end(url: str) -> float:
    return next(float(line.split()[-1]) for line in scrape(url)
                if line.startswith(LOG_END) and f'topic="{TOPIC}"' in line)


def produce_request(i: int) -> produce.ProduceRequest:
    batch = build_batch([(f"k{i}".encode(), f"v{i}".encode(), (), int(time.time() * 1000))])
    return produce.ProduceRequest(acks=-1, timeout_ms=30000, topic_data=[
        produce.TopicProduceData(name=TOPIC, partition_data=[
            produce.PartitionProduceData(index=0, records=memoryview(batch))])])


def read_responses(sock: socket.socket, conn: ClientConnection, count: int) -> list:
    out: list = []
    while len(out) < count:
        chunk = sock.recv(1 << 20)
        assert chunk, "the broker closed the connection"
        out += conn.receive_data(chunk)
    return out


def start_cluster(broker_factory):
    """Three brokers with metrics endpoints, TOPIC led by broker 0 with a full ISR."""
    from confluent_kafka.admin import AdminClient, NewTopic

    ports = [free_port() for _ in range(3)]
    brokers = [broker_factory(i, wait=False, props={
        "min.insync.replicas": 2, "replica.lag.time.max.ms": 30000,
        "metrics.listener": f"http://127.0.0.1:{ports[i]}"}) for i in range(3)]
    for b in brokers:
        b.wait_ready(90)
    admin = AdminClient({"bootstrap.servers": ",".join(b.bootstrap for b in brokers)})
    admin.create_topics([NewTopic(TOPIC, num_partitions=1,
                                  replica_assignment=[[0, 1, 2]])])[TOPIC].result(30)
    wait_until(lambda: (p := admin.list_topics(TOPIC, timeout=5).topics[TOPIC].partitions.get(0))
               is not None and p.leader == 0 and len(p.isrs) == 3, 60, "a full ISR led by 0")
    host, port = brokers[0].bootstrap.split(":")
    sock = socket.create_connection((host, int(port)))
    sock.settimeout(60)
    return brokers, f"http://127.0.0.1:{ports[0]}/metrics", sock


def test_pipelined_acks_all_produce_requests(broker_factory, kazoo_client):
    brokers, url, sock = start_cluster(broker_factory)
    conn = ClientConnection(client_id="pipelining-test")
    pv, mv = 8, 9
    # One warm-up request so the followers' sessions and connections are in place.
    _, data = conn.send_request(produce_request(-1), pv)
    sock.sendall(data)
    read_responses(sock, conn, 1)

    before = follower_fetches(url)
    frames = []
    correlation = []
    for i in range(REQUESTS):
        corr, data = conn.send_request(produce_request(i), pv)
        correlation.append(corr)
        frames.append(data)
    corr, data = conn.send_request(
        metadata.MetadataRequest(topics=[metadata.MetadataRequestTopic(name=TOPIC)]), mv)
    correlation.append(corr)
    frames.append(data)
    sock.sendall(b"".join(frames))   # everything in flight at once, as a pipelining client
    answers = read_responses(sock, conn, REQUESTS + 1)
    fetches = follower_fetches(url) - before
    sock.close()

    assert [c for c, _ in answers] == correlation           # answered in request order
    offsets = []
    for _, resp in answers[:REQUESTS]:
        part = resp.responses[0].partition_responses[0]
        assert part.error_code == 0
        offsets.append(part.base_offset)
    assert offsets == list(range(offsets[0], offsets[0] + REQUESTS))   # appended in order
    assert answers[-1][1].topics[0].name == TOPIC            # the Metadata came last
    # One request at a time would need >= 2 follower fetches per request (200).
    assert fetches < REQUESTS, f"{fetches} follower fetches for {REQUESTS} pipelined requests"


def test_produce_sent_while_another_waits_is_appended_at_once(broker_factory, kazoo_client):
    """A client that sends its next Produce while the first waits for stopped followers:
    the second is appended at once (the leader's log end moves), both are answered in order
    once the followers are back."""
    brokers, url, sock = start_cluster(broker_factory)
    conn = ClientConnection(client_id="pipelining-test")
    _, data = conn.send_request(produce_request(-1), 8)
    sock.sendall(data)
    read_responses(sock, conn, 1)
    start = log_end(url)
    followers = brokers[1:]
    for b in followers:
        b.signal(signal.SIGSTOP)
    try:
        first, data = conn.send_request(produce_request(0), 8)
        sock.sendall(data)
        wait_until(lambda: log_end(url) == start + 1, 30, "the first request appended")
        time.sleep(0.3)   # the first now waits for the followers
        second, data = conn.send_request(produce_request(1), 8)
        sock.sendall(data)
        wait_until(lambda: log_end(url) == start + 2, 30,
                   "the second request appended while the first waits")
    finally:
        for b in followers:
            b.signal(signal.SIGCONT)
    answers = read_responses(sock, conn, 2)
    sock.close()
    assert [c for c, _ in answers] == [first, second]
    parts = [resp.responses[0].partition_responses[0] for _, resp in answers]
    assert [(p.error_code, p.base_offset) for p in parts] == [(0, start), (0, start + 1)]
