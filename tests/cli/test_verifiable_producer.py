"""kafka-verifiable-producer.sh: the JSON events Kafka's system tests parse, values, keys, and
argument handling (no broker)."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from kafkalite.cli.verifiable_producer import (
    KeyCounter, event, main, value_for, verifiable_producer_settings, _error_event)
from kafkalite.client.errors import KafkaTimeoutError


def test_events_put_timestamp_and_name_first():
    line = event("producer_send_success", timestamp=5, key=None, value="0", topic="t",
                 partition=1, offset=7)
    assert line == ('{"timestamp":5,"name":"producer_send_success","key":null,"value":"0",'
                    '"topic":"t","partition":1,"offset":7}')
    assert list(json.loads(event("startup_complete"))) == ["timestamp", "name"]
    tool_data = json.loads(event("tool_data", sent=3, acked=2, target_throughput=-1,
                                 avg_throughput=1.5))
    assert tool_data["name"] == "tool_data" and tool_data["avg_throughput"] == 1.5


def test_error_event_names_the_java_exception():
    data = json.loads(_error_event("t", "k", "9", KafkaTimeoutError("expired")))
    assert data["name"] == "producer_send_error"
    assert data["exception"] == "class org.apache.kafka.common.errors.TimeoutException"
    assert data["message"] == "expired" and data["key"] == "k" and data["value"] == "9"
    assert data["topic"] == "t"


def test_values_and_keys():
    assert [value_for(i, None) for i in range(3)] == ["0", "1", "2"]
    assert value_for(12, 3) == "3.12"
    keys = KeyCounter(3)
    assert [keys.next_key() for _ in range(7)] == ["0", "1", "2", "0", "1", "2", "0"]
    assert KeyCounter(None).next_key() is None


def _settings(**overrides):
    args = dict(topic="t", bootstrap_server=None, broker_list="h:1", max_messages=-1,
                throughput=-1, acks=-1, value_prefix=None, repeating_keys=None,
                create_time=-1, props={})
    args.update(overrides)
    return verifiable_producer_settings(**args)


def test_no_retries_and_acks_from_the_flag_then_the_config_file():
    s = _settings()
    assert s.bootstrap == "h:1" and s.create_time is None
    assert s.producer["acks"] == -1 and s.producer["retries"] == 0
    s = _settings(acks=1, props={"retries": "5", "linger.ms": "7"}, create_time=1000)
    assert s.producer["acks"] == 1 and s.producer["retries"] == 5
    assert s.producer["linger_ms"] == 7 and s.create_time == 1000


@pytest.mark.parametrize("args, message", [
    (["--broker-list", "h:1"], "argument --topic is required"),
    (["--topic", "t"], "one of the arguments --bootstrap-server --broker-list is required"),
    (["--topic", "t", "--broker-list", "h:1", "--acks", "2"], "'2' is not one of"),
    (["--topic", "t", "--broker-list", "h:1", "--repeating-keys", "0"],
     "--repeating-keys must be a positive number"),
])
def test_usage_errors(args, message):
    result = CliRunner().invoke(main, args, prog_name="kafka-verifiable-producer.sh")
    assert result.exit_code == 2, result.output
    assert message in result.output


def test_transactions_are_refused():
    result = CliRunner().invoke(main, ["--topic", "t", "--broker-list", "h:1",
                                       "--transactional-id", "x"])
    assert result.exit_code == 1 and "--transactional-id is not supported" in result.output
