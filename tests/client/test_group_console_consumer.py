"""kafka-console-consumer --group: consume as a group member and commit what was printed."""

from __future__ import annotations

import pytest
from click.testing import CliRunner

from kafkalite.records.builder import build_batch
from kafkalite.cli.console_consumer import console_consumer

from .test_group_coordinator_fake import FakeGroupKafka


@pytest.fixture
def kafka(monkeypatch) -> FakeGroupKafka:
    return FakeGroupKafka().install(monkeypatch)


def fill(kafka, topic, values):
    kafka.create_topic(topic, 1)
    kafka.logs[(topic, 0)].append(build_batch([(None, v, (), 1000) for v in values]))


def consume(*args):
    return CliRunner().invoke(console_consumer, ["--bootstrap-server", "fake:9092", *args])


def test_group_commits_exactly_what_was_printed_and_resumes(kafka):
    fill(kafka, "t", [b"a", b"b", b"c", b"d"])
    first = consume("--topic", "t", "--group", "g", "--from-beginning", "--max-messages", "2")
    assert first.exit_code == 0, first.output
    assert first.stdout_bytes == b"a\nb\n"
    assert first.stderr == "Processed a total of 2 messages\n"
    assert kafka.committed("g") == {("t", 0): 2}
    assert kafka.groups["g"].state == "Empty"  # left the group on exit
    # committed offsets win over --from-beginning
    second = consume("--topic", "t", "--group", "g", "--from-beginning", "--timeout-ms", "300")
    assert second.exit_code == 0, second.output
    assert second.stdout_bytes == b"c\nd\n"
    assert kafka.committed("g") == {("t", 0): 4}


def test_group_id_from_properties_and_partition_assignment(kafka):
    fill(kafka, "t", [b"a", b"b"])
    result = consume("--topic", "t", "--partition", "0", "--consumer-property", "group.id=g2",
                     "--from-beginning", "--timeout-ms", "300")
    assert result.exit_code == 0, result.output
    assert result.stdout_bytes == b"a\nb\n"
    assert kafka.committed("g2") == {("t", 0): 2}
    assert kafka.groups["g2"].members == {}  # a simple consumer never joins


def test_auto_commit_can_be_disabled(kafka):
    fill(kafka, "t", [b"a"])
    result = consume("--topic", "t", "--group", "g", "--from-beginning", "--timeout-ms", "300",
                     "--consumer-property", "enable.auto.commit=false")
    assert result.exit_code == 0 and result.stdout_bytes == b"a\n"
    assert kafka.committed("g") == {}


def test_conflicting_group_ids_and_bad_strategy_are_usage_errors(kafka):
    result = consume("--topic", "t", "--group", "a", "--consumer-property", "group.id=b")
    assert result.exit_code == 2
    assert "The group ids provided in different places" in result.output
    assert "Detected group ids: 'a', 'b'" in result.output
    result = consume("--topic", "t", "--group", "a", "--consumer-property",
                     "partition.assignment.strategy=random")
    assert result.exit_code == 2 and "partition.assignment.strategy" in result.output


def test_legacy_consumer_settings():
    from kafkalite.cli.console_consumer import legacy_settings

    s = legacy_settings(zookeeper="zk:2181", topic="t", pattern=None, from_beginning=True,
                        max_messages=None, timeout_ms=None, props={}, group=None,
                        random_suffix=42)
    assert (s.group_id, s.generated_group, s.auto_offset_reset, s.offsets_storage) == (
        "console-consumer-42", True, "smallest", "zookeeper")
    s = legacy_settings(zookeeper="zk:2181", topic="t", pattern=None, from_beginning=False,
                        max_messages=3, timeout_ms=None, group="g",
                        props={"offsets.storage": "kafka", "dual.commit.enabled": "true",
                               "auto.commit.interval.ms": "100"}, random_suffix=1)
    assert (s.group_id, s.generated_group, s.auto_offset_reset) == ("g", False, "largest")
    assert (s.offsets_storage, s.dual_commit_enabled, s.auto_commit_interval_ms) == (
        "kafka", True, 100)


def test_legacy_flag_rules(kafka):
    result = consume("--zookeeper", "zk:1", "--topic", "t")
    assert result.exit_code == 2 and "Exactly one of --bootstrap-server" in result.output
    runner = CliRunner()
    result = runner.invoke(console_consumer, ["--zookeeper", "zk:1", "--topic", "t",
                                              "--partition", "0"])
    assert result.exit_code == 2 and "need the new consumer" in result.output
    result = consume("--topic", "t", "--consumer-property", "offsets.storage=zookeeper")
    assert result.exit_code == 2 and "give --zookeeper" in result.output
    result = runner.invoke(console_consumer, ["--zookeeper", "zk:1", "--topic", "t",
                                              "--consumer-property", "offsets.storage=disk"])
    assert result.exit_code == 2 and "offsets.storage" in result.output
