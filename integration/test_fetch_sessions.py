"""Incremental fetch sessions (KIP-227) on one real broker, spoken at Fetch v7, v11 and v12 with
kafkalite's own connection: a full fetch creates a session, a quiet incremental fetch answers
no partitions, after a produce only the changed partition comes back with its records, an
incremental fetch waits on partitions it does not list, forgotten topics leave the session, a
wrong epoch gets INVALID_FETCH_SESSION_EPOCH and an unknown id FETCH_SESSION_ID_NOT_FOUND,
epoch -1 closes. With ``max.incremental.fetch.session.cache.slots=1`` a second consumer gets
session id 0 and a follower evicts the consumer's session; ``GET /metrics`` shows Kafka's
FetchSessionCache gauges throughout. A librdkafka consumer (no sessions) still reads it all.
"""

from __future__ import annotations

import time
import urllib.request

import trio

from kafkalite import errors
from kafkalite.client.connection import BrokerConnection
from kafkalite.cli.cluster import free_port
from kafkalite.protocol.messages.fetch import (
    FetchPartition, FetchRequest, FetchTopic, ForgottenTopic)
from kafkalite.protocol.messages.produce import (
    PartitionProduceData, ProduceRequest, TopicProduceData)
from kafkalite.records.builder import build_batch
from kafkalite.records.record import iter_records
from kafkalite.testing.clients import create_topic

TOPIC, OTHER = "sessions", "forgettable"
ALL = [(TOPIC, 0), (TOPIC, 1), (OTHER, 0)]
G = "kafka_server_fetchsessioncache_"


def scrape(url: str) -> dict[str, float]:
    with urllib.request.urlopen(url, timeout=10) as resp:
        text = resp.read().decode()
    return {name: float(v) for name, v in (line.split(" ", 1) for line in text.splitlines()
                                            if line.startswith(G))}


async def produce(conn: BrokerConnection, topic: str, partition: int, values: list[bytes]) -> int:
    """Append ``values`` as one batch, retried until the broker leads the partition; the
    batch's base offset."""
    with trio.fail_after(60):
        while True:
            batch = build_batch([(None, v, [], int(time.time() * 1000)) for v in values])
            r = await conn.request(ProduceRequest(acks=1, timeout_ms=10000, topic_data=[
                TopicProduceData(name=topic, partition_data=[
                    PartitionProduceData(index=partition, records=batch)])]))
            p = r.responses[0].partition_responses[0]
            if p.error_code == 0:
                return p.base_offset
            assert p.error_code in (errors.UnknownTopicOrPartition.code,
                                    errors.NotLeaderOrFollower.code), p.error_code
            await trio.sleep(0.2)


async def fetch(conn, version, session_id, epoch, parts=(), *, offsets=None, forgotten=(),
                max_wait_ms=0, min_bytes=0, replica_id=-1):
    """One Fetch; ``parts`` are (topic, partition) fetched at ``offsets[(topic, partition)]``."""
    topics: dict[str, list[FetchPartition]] = {}
    for t, p in parts:
        topics.setdefault(t, []).append(FetchPartition(
            partition=p, fetch_offset=offsets[(t, p)], partition_max_bytes=1 << 20))
    request = FetchRequest(
        replica_id=replica_id, max_wait_ms=max_wait_ms, min_bytes=min_bytes, max_bytes=1 << 22,
        isolation_level=0, session_id=session_id, session_epoch=epoch,
        topics=[FetchTopic(topic=t, partitions=ps) for t, ps in topics.items()],
        forgotten_topics_data=[ForgottenTopic(topic=t, partitions=ps) for t, ps in forgotten],
        rack_id="")
    return await conn.request(request, version)


def answered(resp) -> dict[tuple[str, int], object]:
    """(topic, partition) -> partition data, checking the response has no duplicates."""
    out = {}
    for t in resp.responses:
        for p in t.partitions:
            assert (t.topic, p.partition_index) not in out
            out[(t.topic, p.partition_index)] = p
    return out


def values(p) -> list[bytes]:
    return [bytes(r.value) for r in iter_records(p.records or b"")]


async def session_scenario(conn, other, version: int, offsets: dict, url: str) -> None:
    """Everything one fetcher sees at one Fetch version; ``offsets`` are the log ends."""
    # A full fetch (epoch 0) answers every partition and opens a session.
    r = await fetch(conn, version, 0, 0, ALL, offsets=offsets)
    assert r.error_code == 0 and r.session_id != 0
    sid = r.session_id
    assert list(answered(r)) == ALL
    assert all(p.error_code == 0 and p.high_watermark == offsets[tp]
               for tp, p in answered(r).items())
    assert scrape(url)[G + "numincrementalfetchsessions"] == 1
    assert scrape(url)[G + "numincrementalfetchpartitionscached"] == 3

    # Nothing changed: an incremental fetch answers no partition.
    r = await fetch(conn, version, sid, 1)
    assert (r.error_code, r.session_id, list(r.responses)) == (0, sid, [])

    # New records in one partition: only that partition comes back, with them.
    sent = [b"v%d-a" % version, b"v%d-b" % version]
    base = await produce(conn, TOPIC, 1, sent)
    assert base == offsets[(TOPIC, 1)]
    r = await fetch(conn, version, sid, 2)
    (tp, p), = answered(r).items()
    assert tp == (TOPIC, 1) and values(p) == sent and p.high_watermark == base + 2
    offsets[(TOPIC, 1)] = base + 2

    # The fetcher moves its offset; the broker has nothing new to say.
    r = await fetch(conn, version, sid, 3, [(TOPIC, 1)], offsets=offsets)
    assert (r.error_code, list(r.responses)) == (0, [])

    # A waiting incremental fetch that lists nothing wakes for data in a session partition.
    got = {}

    async def wait_fetch():
        got["r"] = await fetch(conn, version, sid, 4, max_wait_ms=120_000, min_bytes=1)

    with trio.fail_after(60):
        async with trio.open_nursery() as nursery:
            nursery.start_soon(wait_fetch)
            await trio.sleep(0.3)
            base0 = await produce(other, TOPIC, 0, [b"woke"])
    (tp, p), = answered(got["r"]).items()
    assert tp == (TOPIC, 0) and values(p) == [b"woke"]
    offsets[(TOPIC, 0)] = base0 + 1

    # Forgetting a topic drops its partitions: its new records are not answered.
    r = await fetch(conn, version, sid, 5, [(TOPIC, 0)], offsets=offsets,
                    forgotten=[(OTHER, [0])])
    assert (r.error_code, list(r.responses)) == (0, [])
    assert scrape(url)[G + "numincrementalfetchpartitionscached"] == 2
    await produce(other, OTHER, 0, [b"unseen"])
    offsets[(OTHER, 0)] += 1
    r = await fetch(conn, version, sid, 6)
    assert (r.error_code, list(r.responses)) == (0, [])

    # Session errors: top-level, no partitions, session id 0, the session left as it was.
    r = await fetch(conn, version, sid, 99)
    assert (r.error_code, r.session_id, list(r.responses)) == (
        errors.InvalidFetchSessionEpoch.code, 0, [])
    r = await fetch(conn, version, sid + 1, 1)   # ids are at most 2**31-2
    assert (r.error_code, r.session_id, list(r.responses)) == (
        errors.FetchSessionIdNotFound.code, 0, [])
    r = await fetch(conn, version, sid, 7)
    assert (r.error_code, r.session_id, list(r.responses)) == (0, sid, [])

    # One slot, taken by a young session of the same size: another consumer gets id 0 but a
    # full answer.
    r = await fetch(other, version, 0, 0, [(TOPIC, 0), (OTHER, 0)], offsets=offsets)
    assert r.error_code == 0 and r.session_id == 0
    assert list(answered(r)) == [(TOPIC, 0), (OTHER, 0)]

    # Epoch -1 closes the session (a sessionless full fetch); its id is then unknown.
    r = await fetch(conn, version, sid, -1, [(TOPIC, 0)], offsets=offsets)
    assert r.error_code == 0 and r.session_id == 0 and list(answered(r)) == [(TOPIC, 0)]
    r = await fetch(conn, version, sid, 8)
    assert r.error_code == errors.FetchSessionIdNotFound.code
    metrics = scrape(url)
    assert metrics[G + "numincrementalfetchsessions"] == 0
    assert metrics[G + "numincrementalfetchpartitionscached"] == 0


async def follower_evicts_consumer(conn, other, offsets: dict, url: str) -> None:
    """A follower's session (replica_id >= 0, privileged) takes the only slot from a consumer's."""
    r = await fetch(conn, 12, 0, 0, ALL, offsets=offsets)
    consumer = r.session_id
    assert consumer != 0
    r = await fetch(other, 12, 0, 0, replica_id=7)   # no partitions: no follower state
    assert r.error_code == 0 and r.session_id not in (0, consumer)
    r = await fetch(conn, 12, consumer, 1)
    assert r.error_code == errors.FetchSessionIdNotFound.code
    metrics = scrape(url)
    assert metrics[G + "incrementalfetchsessionevictions_total"] == 1
    assert metrics[G + "numincrementalfetchsessions"] == 1


def test_fetch_sessions(broker_factory):
    port = free_port()
    url = f"http://127.0.0.1:{port}/metrics"
    broker = broker_factory(0, props={"metrics.listener": f"http://127.0.0.1:{port}",
                                      "max.incremental.fetch.session.cache.slots": 1})
    create_topic(broker.bootstrap, TOPIC, partitions=2)
    create_topic(broker.bootstrap, OTHER)

    async def main():
        conn = await BrokerConnection.open(broker.host, broker.port)
        other = await BrokerConnection.open(broker.host, broker.port)
        try:
            offsets = {tp: await produce(conn, *tp, [b"first"]) + 1 for tp in ALL}
            for version in (7, 11, 12):
                await session_scenario(conn, other, version, offsets, url)
            await follower_evicts_consumer(conn, other, offsets, url)
        finally:
            await conn.aclose()
            await other.aclose()
        return offsets

    offsets = trio.run(main)

    # librdkafka fetches sessionless (SessionId 0, epoch -1): it still reads everything.
    from confluent_kafka import Consumer, TopicPartition

    consumer = Consumer({"bootstrap.servers": broker.bootstrap, "group.id": "no-sessions",
                         "enable.auto.commit": False})
    consumer.assign([TopicPartition(TOPIC, p, 0) for p in (0, 1)])
    want = offsets[(TOPIC, 0)] + offsets[(TOPIC, 1)]
    seen = []
    deadline = time.monotonic() + 60
    while len(seen) < want and time.monotonic() < deadline:
        m = consumer.poll(1.0)
        if m is not None:
            assert m.error() is None, m.error()
            seen.append(m.value())
    consumer.close()
    assert len(seen) == want
    assert seen.count(b"first") == 2 and b"woke" in seen and b"v12-b" in seen
