"""kafka-console-producer: line parsing (LineMessageReader), settings, and whole runs."""

from __future__ import annotations

import pytest
from click.testing import CliRunner

from kafkalite.errors import ConfigError
from kafkalite.records.record import iter_records
from kafkalite.cli.console_producer import (
    InputError,
    LineReader,
    LineSplitter,
    ParsedLine,
    console_producer,
    producer_settings,
)


def test_plain_lines_are_values():
    assert LineReader().parse(b"hello\tworld", 1) == ParsedLine(None, b"hello\tworld")


def test_parse_key_with_separator():
    reader = LineReader.from_properties({"parse.key": "true", "key.separator": ":"})
    assert reader.parse(b"k:v:w", 1) == ParsedLine(b"k", b"v:w")
    assert reader.parse(b":v", 2) == ParsedLine(b"", b"v")
    with pytest.raises(InputError, match="No key separator found on line number 3: 'novalue'"):
        reader.parse(b"novalue", 3)


def test_ignore_error_sends_the_whole_line_as_value():
    reader = LineReader.from_properties({"parse.key": "true", "ignore.error": "true"})
    assert reader.parse(b"novalue", 1) == ParsedLine(None, b"novalue")


def test_multi_character_separator():
    reader = LineReader.from_properties({"parse.key": "true", "key.separator": "::"})
    assert reader.parse(b"a::b", 1) == ParsedLine(b"a", b"b")


def test_headers_then_key_then_value():
    reader = LineReader.from_properties({"parse.headers": "true", "parse.key": "true"})
    parsed = reader.parse(b"h1:v1,h2:v2\tkey\tvalue", 1)
    assert parsed == ParsedLine(b"key", b"value", (("h1", b"v1"), ("h2", b"v2")))


def test_header_errors():
    reader = LineReader.from_properties({"parse.headers": "true"})
    with pytest.raises(InputError, match="No headers delimiter found on line number 1"):
        reader.parse(b"no-tab", 1)
    with pytest.raises(InputError, match="No header key separator found in pair 'bad' on line "
                                         "number 2"):
        reader.parse(b"bad\tv", 2)


def test_null_marker():
    reader = LineReader.from_properties({"parse.key": "true", "parse.headers": "true",
                                         "null.marker": "<NULL>"})
    parsed = reader.parse(b"h:<NULL>\t<NULL>\t<NULL>", 1)
    assert parsed == ParsedLine(None, None, (("h", None),))
    with pytest.raises(InputError, match="Header keys should not be equal to the null marker"):
        reader.parse(b"<NULL>:x\tk\tv", 2)
    with pytest.raises(ConfigError, match="may not be equal"):
        LineReader.from_properties({"null.marker": "\t"})


def test_line_splitter_strips_newlines_and_keeps_the_last_line():
    splitter = LineSplitter()
    assert splitter.feed(b"a\r\nb") == [b"a"]
    assert splitter.feed(b"c\n\nd") == [b"bc", b""]
    assert splitter.finish() == [b"d"]
    assert splitter.finish() == []


def test_settings_precedence_flag_over_property_over_default():
    settings = producer_settings(
        bootstrap="b:1", topic="t", props={"acks": "all", "linger.ms": "7", "batch.size": "99"},
        flags={"request_required_acks": "0", "linger_ms": None, "batch_size": None})
    assert settings.acks == 0 and settings.linger_ms == 7 and settings.batch_size == 99
    default = producer_settings(bootstrap="b:1", topic="t", props={}, flags={})
    assert default.acks == 1 and default.linger_ms == 1000 and default.compression == "none"


def test_settings_reject_bad_values():
    with pytest.raises(ConfigError, match="linger.ms"):
        producer_settings(bootstrap="b:1", topic="t", props={"linger.ms": "soon"}, flags={})
    with pytest.raises(ConfigError, match="compression.type"):
        producer_settings(bootstrap="b:1", topic="t", props={"compression.type": "brotli"},
                          flags={})


def stored_values(kafka, topic):
    out = []
    for (t, _), log in sorted(kafka.logs.items()):
        if t == topic:
            out += [(r.key, r.value) for r in iter_records(b"".join(log.batches))]
    return out


def test_produces_stdin_lines(kafka):
    result = CliRunner().invoke(console_producer, [
        "--bootstrap-server", "fake:9092", "--topic", "t", "--property", "parse.key=true",
        "--property", "key.separator=:", "--compression-codec", "gzip"],
        input=b"k1:v1\nk2:v2\n")
    assert result.exit_code == 0, result.output
    assert sorted(stored_values(kafka, "t")) == [(b"k1", b"v1"), (b"k2", b"v2")]


def test_sync_mode_and_broker_list(kafka):
    result = CliRunner().invoke(console_producer, [
        "--broker-list", "fake:9092", "--topic", "t", "--sync"], input=b"a\nb\nc")
    assert result.exit_code == 0, result.output
    assert [v for _, v in stored_values(kafka, "t")] == [b"a", b"b", b"c"]


def test_missing_key_separator_exits_1_after_sending_earlier_lines(kafka):
    result = CliRunner().invoke(console_producer, [
        "--bootstrap-server", "fake:9092", "--topic", "t", "--property", "parse.key=true"],
        input=b"k\tv\nbroken\n")
    assert result.exit_code == 1
    assert result.stderr == "ERROR: No key separator found on line number 2: 'broken'\n"
    assert stored_values(kafka, "t") == [(b"k", b"v")]


def test_unreachable_broker_is_one_line(kafka):
    kafka.refuse.add(("down", 1))
    result = CliRunner().invoke(console_producer, ["--bootstrap-server", "down:1", "--topic", "t"],
                                input=b"x\n")
    assert result.exit_code == 1
    assert result.stderr == "ERROR: could not connect to down:1: Connection refused\n"


@pytest.mark.parametrize("args", [
    ["--topic", "t"],
    ["--bootstrap-server", "b:1"],
    ["--bootstrap-server", "b:1", "--topic", "t", "--compression-codec", "brotli"],
    ["--bootstrap-server", "b:1", "--topic", "t", "--property", "novalue"],
    ["--bootstrap-server", "b:1", "--topic", "t", "--request-required-acks", "2"],
])
def test_bad_flags_are_usage_errors(args):
    result = CliRunner().invoke(console_producer, args, input=b"")
    assert result.exit_code == 2
    assert "Traceback" not in result.output
