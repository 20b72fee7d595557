"""Pure metadata: bootstrap parsing, response conversion, merging, backoff."""

from __future__ import annotations

import pytest

from kafkalite.errors import ConfigError, LeaderNotAvailable
from kafkalite.client.metadata import (
    ClusterMetadata,
    TopicMetadata,
    backoff_ms,
    metadata_from_response,
    parse_bootstrap,
)
from kafkalite.protocol.messages.metadata import (
    MetadataResponse,
    MetadataResponseBroker,
    MetadataResponsePartition,
    MetadataResponseTopic,
)


@pytest.mark.parametrize(("text", "expected"), [
    ("localhost:9092", [("localhost", 9092)]),
    ("h1:9092,h2:9093", [("h1", 9092), ("h2", 9093)]),
    (" h1:9092 , h2:9093 ,", [("h1", 9092), ("h2", 9093)]),
    ("PLAINTEXT://broker:19092", [("broker", 19092)]),
    ("[::1]:9092", [("::1", 9092)]),
    ("h1:9092,h1:9092", [("h1", 9092)]),
    (["a:1", "b:2,c:3"], [("a", 1), ("b", 2), ("c", 3)]),
])
def test_parse_bootstrap(text, expected):
    assert parse_bootstrap(text) == expected


@pytest.mark.parametrize("text", ["localhost", "host:", ":9092", "h:99999", "h:0", "h:x"])
def test_parse_bootstrap_rejects_bad_entries(text):
    with pytest.raises(ConfigError, match="bootstrap.servers"):
        parse_bootstrap(text)


def test_parse_bootstrap_rejects_empty():
    with pytest.raises(ConfigError, match="No bootstrap urls"):
        parse_bootstrap(" , ")


def response(topics, controller_id=1):
    return MetadataResponse(
        brokers=(MetadataResponseBroker(node_id=1, host="h1", port=9092, rack="r1"),
                 MetadataResponseBroker(node_id=2, host="h2", port=9093)),
        cluster_id="c", controller_id=controller_id, topics=tuple(topics))


def topic(name, leaders, error=0, internal=False):
    partitions = tuple(
        MetadataResponsePartition(error_code=0 if leader >= 0 else 5, partition_index=i,
                                  leader_id=leader, replica_nodes=(1, 2), isr_nodes=(1,))
        for i, leader in enumerate(leaders))
    return MetadataResponseTopic(error_code=error, name=name, is_internal=internal,
                                 partitions=partitions)


def test_metadata_from_response():
    md = metadata_from_response(response([topic("t", [1, 2, -1]),
                                          topic("__consumer_offsets", [1])]))
    assert md.controller_id == 1 and md.cluster_id == "c"
    assert md.brokers[1].address == "h1:9092" and md.brokers[1].rack == "r1"
    t = md.topics["t"]
    assert t.partition_ids() == [0, 1, 2]
    assert t.available_partitions() == [0, 1]
    assert not t.is_ready()
    assert t.partitions[2].error is LeaderNotAvailable
    assert t.partitions[0].replicas == (1, 2) and t.partitions[0].isr == (1,)
    assert md.leader_for("t", 1) == 2
    assert md.leader_for("t", 2) is None
    assert md.leader_for("t", 9) is None and md.leader_for("x", 0) is None
    assert md.topics["__consumer_offsets"].is_internal  # by name even if the flag is off


def test_topic_with_error_or_no_partitions_is_not_ready():
    assert not TopicMetadata(name="t", error_code=5).is_ready()
    assert not TopicMetadata(name="t").is_ready()


def test_partial_refresh_keeps_other_topics_full_refresh_replaces():
    old = metadata_from_response(response([topic("a", [1]), topic("b", [1])]))
    partial = metadata_from_response(response([topic("a", [2])], controller_id=2))
    merged = old.merge(partial, requested=["a"])
    assert set(merged.topics) == {"a", "b"}
    assert merged.leader_for("a", 0) == 2 and merged.controller_id == 2
    full = old.merge(partial, requested=None)
    assert set(full.topics) == {"a"}
    assert set(merged.without_topic("a").topics) == {"b"}


def test_empty_metadata():
    md = ClusterMetadata()
    assert md.controller_id == -1 and not md.brokers and md.leader_for("t", 0) is None


def test_backoff_is_exponential_capped_and_jittered():
    assert backoff_ms(0, base_ms=100, max_ms=1000) == 0
    assert [backoff_ms(i, base_ms=100, max_ms=1000) for i in range(1, 6)] == [
        100, 200, 400, 800, 1000]
    assert backoff_ms(2, base_ms=100, max_ms=1000, jitter=0.2) == pytest.approx(240)
    assert backoff_ms(2, base_ms=100, max_ms=1000, jitter=-0.2) == pytest.approx(160)
    assert backoff_ms(10_000, base_ms=100, max_ms=1000) == 1000
