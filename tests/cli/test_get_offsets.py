"""kafka-get-offsets.sh (GetOffsetShell): filters, --time, output lines, errors (no broker)."""

from __future__ import annotations

import pytest
from click.testing import CliRunner

from kafkalite.cli.get_offsets import (
    format_offsets, main, parse_partition_ids, parse_time, partition_filter,
    topic_and_partitions_filter, topic_partitions_filter)
from kafkalite.errors import ConfigError
from kafkalite.model import TopicPartition

PARTITIONS = [("orders", p, False) for p in range(4)] + [("events", 0, False),
                                                          ("__consumer_offsets", 0, True)]


def selected(f):
    return [(t, p) for t, p, i in PARTITIONS if f(t, p, i)]


def test_time():
    assert parse_time("-1") == -1 and parse_time("latest") == -1
    assert parse_time("-2") == -2 and parse_time("EARLIEST") == -2
    assert parse_time("1631272135963") == 1631272135963
    with pytest.raises(ConfigError, match="Malformed time argument soon"):
        parse_time("soon")


def test_partition_ids():
    assert parse_partition_ids("") == set() and parse_partition_ids("0,2") == {0, 2}
    with pytest.raises(ConfigError, match="--partitions expects a comma separated list of "
                                          "numeric partition ids, but received: 0,x"):
        parse_partition_ids("0,x")


@pytest.mark.parametrize("spec, expected", [
    ("2", [2]), ("1-3", [1, 2]), ("2-", [2, 3]), ("-2", [0, 1])])
def test_partition_specs(spec, expected):
    f = partition_filter(spec)
    assert [p for p in range(4) if f(p)] == expected


@pytest.mark.parametrize("spec, message", [
    ("-", "Invalid range specification: -"), ("1-2-3", "Invalid range specification"),
    ("3-1", "Range lower bound cannot be greater than upper bound: 3-1"),
    ("x", "Invalid range specification: x")])
def test_bad_partition_specs(spec, message):
    with pytest.raises(ConfigError, match=message):
        partition_filter(spec)


def test_topic_partitions_rules():
    assert selected(topic_partitions_filter("orders:1-3,ev.*", False)) == [
        ("orders", 1), ("orders", 2), ("events", 0)]
    assert selected(topic_partitions_filter(":0", True)) == [("orders", 0), ("events", 0)]
    assert ("__consumer_offsets", 0) in selected(topic_partitions_filter(".*", False))
    with pytest.raises(ConfigError, match="Invalid topic-partition rule: a:1:2"):
        topic_partitions_filter("a:1:2", False)


def test_topic_and_partitions():
    assert selected(topic_and_partitions_filter("ord.*", {0, 3}, False)) == [
        ("orders", 0), ("orders", 3)]
    assert selected(topic_and_partitions_filter("order", set(), False)) == []  # whole name
    assert len(selected(topic_and_partitions_filter(None, set(), False))) == 6
    assert len(selected(topic_and_partitions_filter(None, {0}, True))) == 2


def test_lines_sorted_by_topic_then_partition():
    offsets = {TopicPartition("t", 10): 5, TopicPartition("t", 2): 0,
               TopicPartition("a", 0): None}
    assert format_offsets(offsets) == ["a:0:", "t:2:0", "t:10:5"]


@pytest.mark.parametrize("args, message, code", [
    (["--topic", "t"], 'Missing required argument "[broker-list]"', 2),
    (["--broker-list", "h:1", "--time", "x"], "Malformed time argument x", 1),
    (["--bootstrap-server", "h:1", "--partitions", "a"], "--partitions expects", 1),
    (["--bootstrap-server", "h:1", "--topic-partitions", "t:9-1"], "Range lower bound", 1),
])
def test_errors(args, message, code):
    result = CliRunner().invoke(main, args, prog_name="kafka-get-offsets.sh")
    assert result.exit_code == code, result.output
    assert message in result.output
