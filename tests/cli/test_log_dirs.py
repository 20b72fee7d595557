"""kafka-log-dirs.sh: Kafka's JSON shape and the list options (pure, no broker)."""

from __future__ import annotations

import json

import click
import pytest

from kafkalite.cli.log_dirs import format_log_dirs, parse_broker_list, parse_topic_list
from kafkalite.protocol.messages.describe_log_dirs import (
    DescribeLogDirsPartition, DescribeLogDirsResult, DescribeLogDirsTopic)


def _partition(i, size):
    return DescribeLogDirsPartition(partition_index=i, partition_size=size, offset_lag=0,
                                    is_future_key=False)


def test_json_shape_matches_kafka():
    results = {
        1: [DescribeLogDirsResult(error_code=56, log_dir="/bad", topics=())],
        0: [DescribeLogDirsResult(error_code=0, log_dir="/a", topics=(
                DescribeLogDirsTopic(name="t", partitions=(_partition(0, 123), _partition(2, 0))),
                DescribeLogDirsTopic(name="u", partitions=(_partition(0, 7),)))),
            DescribeLogDirsResult(error_code=0, log_dir="/b", topics=())],
    }
    text = format_log_dirs(results)
    assert text.startswith('{"version":1,"brokers":[{"broker":0,"logDirs":[{"logDir":"/a",'
                           '"error":null,"partitions":[{"partition":"t-0","size":123,'
                           '"offsetLag":0,"isFuture":false},')
    report = json.loads(text)
    assert [b["broker"] for b in report["brokers"]] == [0, 1]
    assert report["brokers"][1]["logDirs"] == [{
        "logDir": "/bad", "error": "org.apache.kafka.common.errors.KafkaStorageException",
        "partitions": []}]
    only_u = json.loads(format_log_dirs(results, {"u"}))
    assert [p["partition"] for d in only_u["brokers"][0]["logDirs"] for p in d["partitions"]] \
        == ["u-0"]


def test_list_options():
    assert parse_broker_list("0,1,,2") == [0, 1, 2]
    assert parse_broker_list(None) is None and parse_broker_list("") is None
    with pytest.raises(click.BadParameter):
        parse_broker_list("0,x")
    assert parse_topic_list("a,,b") == {"a", "b"} and parse_topic_list("") == set()
