"""kafka-console-consumer: DefaultMessageFormatter output, flag rules, and whole runs."""

from __future__ import annotations

import pytest
from click.testing import CliRunner

from kafkalite.errors import ConfigError
from kafkalite.records.builder import build_batch
from kafkalite.cli.console_consumer import (
    MessageFormatter,
    console_consumer,
    consumer_settings,
    parse_offset,
)
from kafkalite.client.completed_fetch import ConsumerRecord


def record(key=b"k", value=b"v", headers=(), timestamp=1700000000000, timestamp_type=0):
    return ConsumerRecord(topic="t", partition=2, offset=41, timestamp=timestamp, key=key,
                          value=value, headers=headers, timestamp_type=timestamp_type)


def fmt(**props):
    return MessageFormatter.from_properties({k.replace("_", "."): v for k, v in props.items()})


def test_value_only_by_default():
    assert MessageFormatter().format(record()) == b"v\n"


def test_all_columns_in_kafka_order():
    formatter = fmt(print_timestamp="true", print_partition="true", print_offset="true",
                    print_headers="true", print_key="true")
    out = formatter.format(record(headers=(("h1", b"x"), ("h2", None))))
    assert out == b"CreateTime:1700000000000\tPartition:2\tOffset:41\th1:x,h2:null\tk\tv\n"


def test_key_separator_and_nulls():
    formatter = fmt(print_key="true", key_separator=" => ")
    assert formatter.format(record(key=None, value=None)) == b"null => null\n"


def test_no_headers_and_log_append_time_and_no_timestamp():
    assert fmt(print_headers="true").format(record()) == b"NO_HEADERS\tv\n"
    assert fmt(print_timestamp="true").format(record(timestamp_type=1)) == \
        b"LogAppendTime:1700000000000\tv\n"
    assert fmt(print_timestamp="true").format(record(timestamp=-1, timestamp_type=-1)) == \
        b"NO_TIMESTAMP\tv\n"


def test_print_value_false_ends_the_line_after_the_last_column():
    assert fmt(print_key="true", print_value="false").format(record()) == b"k\n"
    assert fmt(print_offset="true", print_value="false").format(record()) == b"Offset:41\n"


def test_line_separator_and_null_literal():
    formatter = fmt(line_separator="|", null_literal="<none>")
    assert formatter.format(record(value=None)) == b"<none>|"


def test_invalid_utf8_is_replaced():
    assert MessageFormatter().format(record(value=b"ok\xffok")) == "ok\ufffdok\n".encode()


def test_bad_boolean_property():
    with pytest.raises(ConfigError):
        fmt(print_key="yes")


@pytest.mark.parametrize(("text", "expected"), [("earliest", "earliest"), ("LATEST", "latest"),
                                                 ("0", 0), ("123", 123)])
def test_parse_offset(text, expected):
    assert parse_offset(text) == expected


@pytest.mark.parametrize("text", ["-1", "abc", "1.5"])
def test_parse_offset_rejects(text):
    import click

    with pytest.raises(click.BadParameter, match="Valid values are 'earliest', 'latest', or a "
                                                 "non-negative long"):
        parse_offset(text)


def base_settings(**kw):
    args = dict(bootstrap="b:1", topic="t", pattern=None, partition=None, offset=None,
                from_beginning=False, max_messages=None, timeout_ms=None, isolation_level=None,
                props={})
    args.update(kw)
    return consumer_settings(**args)


def test_start_position_defaults_to_latest():
    assert base_settings().auto_offset_reset == "latest"
    assert base_settings(partition=0).offset == "latest"
    assert base_settings(from_beginning=True).auto_offset_reset == "earliest"
    assert base_settings(partition=0, from_beginning=True).offset == "earliest"


def test_from_beginning_conflicts_with_auto_offset_reset_latest():
    with pytest.raises(ConfigError, match="Can't simultaneously specify --from-beginning"):
        base_settings(from_beginning=True, props={"auto.offset.reset": "latest"})


def test_isolation_level_from_flag_or_property():
    assert base_settings(isolation_level="read_committed").isolation_level == "read_committed"
    assert base_settings(props={"isolation.level": "read_committed"}).isolation_level == \
        "read_committed"
    with pytest.raises(ConfigError):
        base_settings(props={"isolation.level": "dirty"})


def fill(kafka, topic, partition, values):
    kafka.create_topic(topic, partition + 1)
    kafka.logs[(topic, partition)].append(
        build_batch([(b"k%d" % i, v, (), 1000 + i) for i, v in enumerate(values)]))


def test_consumes_from_beginning_with_max_messages(kafka):
    fill(kafka, "t", 0, [b"a", b"b", b"c"])
    result = CliRunner().invoke(console_consumer, [
        "--bootstrap-server", "fake:9092", "--topic", "t", "--from-beginning",
        "--max-messages", "2", "--property", "print.key=true", "--property", "print.offset=true"])
    assert result.exit_code == 0, result.output
    assert result.stdout_bytes == b"Offset:0\tk0\ta\nOffset:1\tk1\tb\n"
    assert result.stderr == "Processed a total of 2 messages\n"


def test_partition_and_offset_with_timeout(kafka):
    fill(kafka, "t", 1, [b"a", b"b", b"c"])
    result = CliRunner().invoke(console_consumer, [
        "--bootstrap-server", "fake:9092", "--topic", "t", "--partition", "1", "--offset", "1",
        "--timeout-ms", "200"])
    assert result.exit_code == 0, result.output
    assert result.stdout_bytes == b"b\nc\n"
    assert result.stderr == "Processed a total of 2 messages\n"



def test_unreachable_broker_is_one_line(kafka):
    kafka.refuse.add(("down", 1))
    result = CliRunner().invoke(console_consumer, ["--bootstrap-server", "down:1", "--topic", "t"])
    assert result.exit_code == 1
    assert result.stderr == ("ERROR: could not connect to down:1: Connection refused\n"
                             "Processed a total of 0 messages\n")


@pytest.mark.parametrize(("args", "message"), [
    (["--topic", "t"], "bootstrap-server"),
    (["--bootstrap-server", "b:1"], "Exactly one of whitelist/topic is required."),
    (["--bootstrap-server", "b:1", "--topic", "t", "--whitelist", "x"], "Exactly one of"),
    (["--bootstrap-server", "b:1", "--topic", "t", "--offset", "0"],
     "The partition is required when offset is specified."),
    (["--bootstrap-server", "b:1", "--topic", "t", "--partition", "0", "--offset", "0",
      "--from-beginning"], "Options from-beginning and offset cannot be specified together."),
    (["--bootstrap-server", "b:1", "--topic", "t", "--partition", "0", "--offset", "x"],
     "The provided offset value 'x' is incorrect."),
    (["--bootstrap-server", "b:1", "--topic", "t", "--property", "print.key=maybe"],
     "print.key"),
])
def test_bad_flags_are_usage_errors(args, message):
    result = CliRunner().invoke(console_consumer, args)
    assert result.exit_code == 2
    assert message in result.output
    assert "Traceback" not in result.output
