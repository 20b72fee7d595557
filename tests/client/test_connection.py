"""BrokerConnection over in-memory streams: negotiation, version picking, pipelining, failures."""

from __future__ import annotations

import pytest
import trio

from kafkalite.errors import UnsupportedVersion
from kafkalite.protocol.api_keys import ApiKey
from kafkalite.protocol.messages.metadata import MetadataRequest
from kafkalite.protocol.messages.produce import ProduceRequest
from kafkalite.client.connection import BrokerConnection
from kafkalite.client.errors import ConnectionFailed

from .fake_broker import SUPPORTED, FakeKafka


def test_negotiates_with_api_versions_v3(kafka, run):
    async def main():
        conn = await BrokerConnection.open("fake", 9092)
        assert conn.api_versions[ApiKey.FETCH] == (4, 12)
        await conn.aclose()

    run(main)
    assert [v for k, v, _ in kafka.requests if k == ApiKey.API_VERSIONS] == [3]
    assert kafka.requests[0][2].client_software_name == "kafkalite"


def test_falls_back_when_api_versions_v3_is_unsupported(monkeypatch, run):
    kafka = FakeKafka(supported={**SUPPORTED, ApiKey.API_VERSIONS: (0, 2)}).install(monkeypatch)

    async def main():
        conn = await BrokerConnection.open("fake", 9092)
        assert conn.pick_version(ApiKey.METADATA) == 9
        await conn.aclose()

    run(main)
    assert [v for k, v, _ in kafka.requests if k == ApiKey.API_VERSIONS] == [3, 2]


def make(api_versions):
    conn = BrokerConnection(None, host="h", port=1)
    conn.api_versions = api_versions
    return conn


def test_pick_version_is_the_highest_common():
    conn = make({ApiKey.PRODUCE: (0, 11), ApiKey.FETCH: (0, 7), ApiKey.METADATA: (0, 12)})
    assert conn.pick_version(ApiKey.PRODUCE) == 9  # our max
    assert conn.pick_version(ApiKey.FETCH) == 7  # theirs
    assert conn.pick_version(ApiKey.PRODUCE, client_max=5) == 5
    assert conn.pick_version(ApiKey.METADATA) == 9


def test_pick_version_raises_when_disjoint_or_missing():
    conn = make({ApiKey.PRODUCE: (0, 2), ApiKey.FETCH: (0, 12)})
    with pytest.raises(UnsupportedVersion, match="PRODUCE versions 0-2, this client needs 3-9"):
        conn.pick_version(ApiKey.PRODUCE)
    with pytest.raises(UnsupportedVersion, match="does not support LIST_OFFSETS"):
        conn.pick_version(ApiKey.LIST_OFFSETS)
    with pytest.raises(UnsupportedVersion):
        conn.pick_version(ApiKey.FETCH, client_min=13)


def test_concurrent_requests_get_their_own_answers(kafka, run):
    kafka.create_topic("a", 1)
    kafka.create_topic("b", 2)
    results = {}

    async def main():
        conn = await BrokerConnection.open("fake", 9092)

        async def ask(name):
            from kafkalite.protocol.messages.metadata import MetadataRequestTopic
            resp = await conn.request(MetadataRequest(topics=(MetadataRequestTopic(name=name),)))
            results[name] = len(resp.topics[0].partitions)

        async with trio.open_nursery() as nursery:
            for name in ["a", "b", "a", "b"] * 5:
                nursery.start_soon(ask, name)
        assert conn.in_flight == 0
        await conn.aclose()

    run(main)
    assert results == {"a": 1, "b": 2}


def test_acks_zero_produce_returns_none_without_waiting(kafka, run):
    async def main():
        conn = await BrokerConnection.open("fake", 9092)
        assert await conn.request(ProduceRequest(acks=0, timeout_ms=100)) is None
        assert conn.in_flight == 0
        await conn.aclose()

    run(main)


def test_connect_refused_has_a_clear_message(kafka, run):
    kafka.refuse.add(("nohost", 1))

    async def main():
        with pytest.raises(ConnectionFailed, match=r"^could not connect to nohost:1: "):
            await BrokerConnection.open("nohost", 1)

    run(main)


def test_connect_timeout(monkeypatch, run):
    async def hang(host, port, **kw):
        await trio.sleep_forever()

    monkeypatch.setattr(trio, "open_tcp_stream", hang)

    async def main():
        with pytest.raises(ConnectionFailed, match="could not connect to h:1: timed out after 2 s"):
            await BrokerConnection.open("h", 1, timeout=2)

    run(main)


def test_closed_connection_fails_every_waiter(kafka, run):
    async def main():
        conn = await BrokerConnection.open("fake", 9092)
        await conn.aclose()
        assert conn.closed
        with pytest.raises(ConnectionFailed, match="was closed"):
            await conn.request(MetadataRequest(topics=None))

    run(main)


def test_peer_closing_breaks_the_connection(monkeypatch, run):
    import trio.testing

    async def one_shot(host, port, **kw):
        client, server = trio.testing.memory_stream_pair()
        await server.aclose()
        return client

    monkeypatch.setattr(trio, "open_tcp_stream", one_shot)

    async def main():
        with pytest.raises(ConnectionFailed, match="could not connect to h:1"):
            await BrokerConnection.open("h", 1)

    run(main)
