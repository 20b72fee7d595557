"""Cluster: bootstrap, metadata waits, retries and their time bounds (in-memory broker)."""

from __future__ import annotations

import pytest
import trio

from kafkalite.errors import (
    ConfigError,
    InvalidTopicException,
    NotController,
    UnknownTopicOrPartition,
)
from kafkalite.client.cluster import Cluster, is_retriable
from kafkalite.client.errors import ConnectionFailed, KafkaTimeoutError


def test_bootstrap_is_parsed_eagerly():
    with pytest.raises(ConfigError):
        Cluster("no-port")


def test_refresh_learns_brokers_and_controller(kafka, run):
    kafka.create_topic("t", 3)

    async def main():
        async with Cluster("fake:9092") as cluster:
            md = await cluster.refresh_metadata()
            assert md.controller_id == 0 and md.brokers[0].host == "fake"
            assert cluster.partitions_for("t") == [0, 1, 2]
            assert cluster.leader_for("t", 2) == 0
            with pytest.raises(UnknownTopicOrPartition):
                cluster.partitions_for("other")

    run(main)


def test_wait_for_topics_rides_out_auto_creation_and_elections(kafka, run):
    kafka.leaderless_rounds["t"] = 2

    async def main():
        async with Cluster("fake:9092") as cluster:
            topics = await cluster.wait_for_topics(["t"])
            assert topics["t"].is_ready()

    run(main)
    assert len(kafka.sent(3)) == 4  # LEADER_NOT_AVAILABLE (creating), 2 leaderless, ready


def test_unknown_topic_without_auto_create_fails_fast(kafka, run):
    async def main():
        async with Cluster("fake:9092") as cluster:
            with pytest.raises(UnknownTopicOrPartition, match="Topic nope does not exist"):
                await cluster.wait_for_topics(["nope"], allow_auto_create=False)

    run(main)


def test_wait_for_topics_times_out_with_a_clear_error(kafka, run):
    kafka.auto_create = False

    async def main():
        async with Cluster("fake:9092", retry_timeout_ms=2000) as cluster:
            start = trio.current_time()
            with pytest.raises(KafkaTimeoutError, match="Topic nope not present in metadata "
                                                        "after 2000 ms") as info:
                await cluster.wait_for_topics(["nope"])
            assert trio.current_time() - start <= 2.5
            assert not is_retriable(info.value)

    run(main)


def test_unreachable_bootstrap_raises_connection_failed(kafka, run):
    kafka.refuse.update({("a", 1), ("b", 2)})

    async def main():
        async with Cluster("a:1") as cluster:
            with pytest.raises(ConnectionFailed, match="^could not connect to a:1: "):
                await cluster.wait_for_topics(["t"])
        async with Cluster("a:1,b:2") as cluster:
            with pytest.raises(ConnectionFailed,
                               match=r"could not connect to any broker \(a:1: .*; b:2: .*\)"):
                await cluster.refresh_metadata()

    run(main)


def test_second_bootstrap_server_is_used_when_the_first_is_down(kafka, run):
    kafka.refuse.add(("down", 1))

    async def main():
        async with Cluster("down:1,fake:9092") as cluster:
            await cluster.refresh_metadata([])
            assert cluster.metadata.controller_id == 0

    run(main)


def test_call_with_retries_retries_retriable_errors_then_succeeds(kafka, run):
    calls = []

    async def op():
        calls.append(trio.current_time())
        if len(calls) < 3:
            raise NotController("moved")
        return "done"

    async def main():
        async with Cluster("fake:9092") as cluster:
            assert await cluster.call_with_retries(op, what="thing") == "done"

    run(main)
    assert len(calls) == 3 and calls[1] > calls[0]


def test_call_with_retries_gives_up_after_the_budget(kafka, run):
    async def op():
        raise NotController("still moving")

    async def main():
        async with Cluster("fake:9092", retry_timeout_ms=1000) as cluster:
            with pytest.raises(KafkaTimeoutError,
                               match="thing did not succeed within 1000 ms "
                                     r"\(last error: NOT_CONTROLLER: still moving\)"):
                await cluster.call_with_retries(op, what="thing")

    run(main)


def test_call_with_retries_does_not_retry_fatal_errors(kafka, run):
    calls = []

    async def op():
        calls.append(1)
        raise InvalidTopicException("bad name")

    async def main():
        async with Cluster("fake:9092") as cluster:
            with pytest.raises(InvalidTopicException):
                await cluster.call_with_retries(op, what="thing")

    run(main)
    assert calls == [1]


def test_request_timeout_closes_the_connection(kafka, run, monkeypatch):
    async def main():
        async with Cluster("fake:9092", request_timeout_ms=500) as cluster:
            conn = await cluster.any_connection()

            async def never(*_a, **_k):
                await trio.sleep_forever()

            monkeypatch.setattr(conn, "request", never)
            from kafkalite.protocol.messages.metadata import MetadataRequest
            with pytest.raises(KafkaTimeoutError, match="METADATA request to broker .* timed out "
                                                        "after 500 ms"):
                await cluster.request(None, MetadataRequest(topics=None))
            assert conn.closed
            fresh = await cluster.any_connection()
            assert fresh is not conn

    run(main)


def test_old_metadata_is_refreshed_on_use(kafka, run):
    kafka.create_topic("t", 1)

    async def main():
        async with Cluster("fake:9092", metadata_max_age_ms=1000) as cluster:
            assert len((await cluster.wait_for_topics(["t"]))["t"].partitions) == 1
            kafka.create_topic("t", 3)  # partitions added
            assert len((await cluster.wait_for_topics(["t"]))["t"].partitions) == 1
            await trio.sleep(2)
            assert len((await cluster.wait_for_topics(["t"]))["t"].partitions) == 3

    run(main)
