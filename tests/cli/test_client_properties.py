"""Kafka client properties -> kafkalite Cluster/Producer/Consumer arguments, Java defaults."""

from __future__ import annotations

import pytest

from kafkalite.cli.client_properties import consumer_options, producer_options
from kafkalite.errors import ConfigError


def test_producer_defaults_are_the_java_clients():
    options = producer_options({"bootstrap.servers": "h:1"}, client_id="perf")
    assert options.bootstrap == "h:1"
    assert options.cluster["client_id"] == "perf" and options.cluster["security"] is None
    assert options.cluster["request_timeout_ms"] == 30_000
    assert options.cluster["retry_timeout_ms"] == 60_000
    assert options.client == {
        "acks": 1, "compression": "none", "linger_ms": 0, "batch_size": 16_384,
        "enable_idempotence": False, "delivery_timeout_ms": 120_000, "retries": 2_147_483_647,
        "retry_backoff_ms": 100, "max_request_size": 1_048_576, "buffer_memory": 33_554_432}


def test_producer_properties_are_read(capsys):
    options = producer_options({"acks": "all", "linger.ms": "5", "client.id": "me",
                                "compression.type": "LZ4", "max.block.ms": str(2**63 - 1),
                                "key.serializer": "x", "bogus": "1"}, client_id="perf")
    assert options.bootstrap is None
    assert options.client["acks"] == -1 and options.client["linger_ms"] == 5
    assert options.client["compression"] == "lz4"
    assert options.cluster["client_id"] == "me"
    assert options.cluster["retry_timeout_ms"] == 2**31 - 1  # Long.MAX_VALUE: forever
    err = capsys.readouterr().err
    assert "'bogus' was supplied but isn't a known config" in err and "serializer" not in err


@pytest.mark.parametrize("props, message", [
    ({"acks": "2"}, "acks"), ({"linger.ms": "soon"}, "linger.ms"),
    ({"compression.type": "brotli"}, "compression.type"),
    ({"enable.idempotence": "yes"}, "enable.idempotence"),
])
def test_bad_producer_values(props, message):
    with pytest.raises(ConfigError, match=message):
        producer_options(props, client_id="x", warn=False)


def test_consumer_defaults_and_overrides():
    options = consumer_options({"group.id": "g", "bootstrap.servers": "h:1"}, client_id="c")
    assert options.client["group_id"] == "g" and options.client["auto_offset_reset"] == "latest"
    assert options.client["enable_auto_commit"] is True
    assert options.client["session_timeout_ms"] == 10_000
    assert options.cluster["retry_timeout_ms"] == 60_000
    options = consumer_options({"auto.offset.reset": "earliest", "check.crcs": "false",
                                "partition.assignment.strategy":
                                    "org.apache.kafka.clients.consumer.RoundRobinAssignor",
                                "allow.auto.create.topics": "false"}, client_id="c")
    assert options.client["group_id"] is None
    assert options.client["check_crcs"] is False
    assert options.cluster["allow_auto_topic_creation"] is False


@pytest.mark.parametrize("props, message", [
    ({"auto.offset.reset": "smallest"}, "auto.offset.reset"),
    ({"isolation.level": "dirty"}, "isolation.level"),
    ({"partition.assignment.strategy": "fancy"}, "partition.assignment.strategy"),
    ({"security.protocol": "CARRIER_PIGEON"}, "security.protocol"),
])
def test_bad_consumer_values(props, message):
    with pytest.raises(ConfigError, match=message):
        consumer_options(props, client_id="x", warn=False)
