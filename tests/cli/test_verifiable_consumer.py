"""kafka-verifiable-consumer.sh: per-poll summaries, JSON events and settings (no broker)."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from kafkalite.cli.verifiable_consumer import (
    event, main, partitions_field, summarize, verifiable_consumer_settings)
from kafkalite.client.completed_fetch import ConsumerRecord
from kafkalite.model import TopicPartition


def _records(topic, partition, offsets):
    return [ConsumerRecord(topic=topic, partition=partition, offset=o, timestamp=0, key=None,
                           value=str(o).encode()) for o in offsets]


POLL = _records("t", 1, [5, 6, 7]) + _records("t", 0, [0, 1])


def test_summary_per_partition_in_poll_order():
    summary = summarize(POLL, consumed=0, max_messages=-1)
    assert summary.partitions == (
        {"topic": "t", "partition": 1, "count": 3, "minOffset": 5, "maxOffset": 7},
        {"topic": "t", "partition": 0, "count": 2, "minOffset": 0, "maxOffset": 1})
    assert summary.offsets == {TopicPartition("t", 1): 8, TopicPartition("t", 0): 2}
    assert len(summary.records) == 5


def test_summary_stops_at_max_messages():
    summary = summarize(POLL, consumed=8, max_messages=10)
    assert summary.partitions == (
        {"topic": "t", "partition": 1, "count": 2, "minOffset": 5, "maxOffset": 6},)
    assert summary.offsets == {TopicPartition("t", 1): 7}
    assert summarize(POLL, consumed=10, max_messages=10).partitions == ()


def test_event_shapes():
    assigned = event("partitions_assigned", timestamp=1,
                     partitions=partitions_field([TopicPartition("t", 0)]))
    assert assigned == ('{"timestamp":1,"name":"partitions_assigned",'
                        '"partitions":[{"topic":"t","partition":0}]}')
    committed = json.loads(event("offsets_committed", offsets=[
        {"topic": "t", "partition": 0, "offset": 3}], success=True))
    assert list(committed) == ["timestamp", "name", "offsets", "success"]


def _settings(**overrides):
    args = dict(topic="t", group_id="g", bootstrap_server=None, broker_list="h:1",
                group_instance_id=None, max_messages=-1, session_timeout=30_000,
                verbose=False, enable_autocommit=False, reset_policy="earliest",
                assignment_strategy="org.apache.kafka.clients.consumer.RangeAssignor",
                props={"group.id": "other", "enable.auto.commit": "true",
                       "max.poll.records": "7"})
    args.update(overrides)
    return verifiable_consumer_settings(**args)


def test_flags_win_over_the_config_file():
    s = _settings()
    assert s.consumer["group_id"] == "g" and s.consumer["enable_auto_commit"] is False
    assert s.consumer["auto_offset_reset"] == "earliest"
    assert s.consumer["session_timeout_ms"] == 30_000
    assert s.consumer["max_poll_records"] == 7 and not s.auto_commit
    s = _settings(enable_autocommit=True, group_instance_id="i-1", reset_policy="latest")
    assert s.auto_commit and s.consumer["group_instance_id"] == "i-1"
    assert s.consumer["auto_offset_reset"] == "latest"


@pytest.mark.parametrize("args, message", [
    (["--topic", "t", "--group-id", "g"],
     "one of the arguments --bootstrap-server --broker-list is required"),
    (["--broker-list", "h:1", "--group-id", "g"], "argument --topic is required"),
    (["--broker-list", "h:1", "--topic", "t"], "argument --group-id is required"),
    (["--broker-list", "h:1", "--topic", "t", "--group-id", "g", "--reset-policy", "smallest"],
     "'smallest' is not one of"),
])
def test_usage_errors(args, message):
    result = CliRunner().invoke(main, args, prog_name="kafka-verifiable-consumer.sh")
    assert result.exit_code == 2, result.output
    assert message in result.output


def test_unknown_assignor_is_an_error():
    result = CliRunner().invoke(main, ["--broker-list", "h:1", "--topic", "t", "--group-id",
                                       "g", "--assignment-strategy", "fancy"])
    assert result.exit_code == 1 and "partition.assignment.strategy" in result.output
