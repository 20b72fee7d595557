"""kafka-consumer-perf-test.sh: Kafka's CSV header and lines, and argument errors."""

from __future__ import annotations

import re

import pytest
from click.testing import CliRunner

from kafkalite.cli.consumer_perf_test import (
    consumer_perf_settings, final_line, header, main, progress_line)
from kafkalite.cli.java_formats import simple_date_format

HEADER = ("start.time, end.time, data.consumed.in.MB, MB.sec, data.consumed.in.nMsg, nMsg.sec, "
          "rebalance.time.ms, fetch.time.ms, fetch.MB.sec, fetch.nMsg.sec")


def test_headers():
    assert header(False) == HEADER
    assert header(True) == ("time, threadId, data.consumed.in.MB, MB.sec, "
                            "data.consumed.in.nMsg, nMsg.sec, rebalance.time.ms, fetch.time.ms, "
                            "fetch.MB.sec, fetch.nMsg.sec")


def test_final_line():
    start, end = 1631272135963, 1631272137963
    line = final_line(start_ms=start, end_ms=end, bytes_read=2 * 1024 * 1024,
                      messages_read=10_000, join_time_ms=500)
    date = "yyyy-MM-dd HH:mm:ss:SSS"
    assert line == (f"{simple_date_format(date, start)}, {simple_date_format(date, end)}, "
                    "2.0000, 1.0000, 10000, 5000.0000, 500, 1500, 1.3333, 6666.6667")
    assert re.match(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d:\d{3}, ", line)


def test_final_line_of_an_instant_run_prints_java_doubles():
    line = final_line(start_ms=0, end_ms=0, bytes_read=0, messages_read=0, join_time_ms=0,
                      date_format="SSS")
    assert line == "000, 000, 0.0000, NaN, 0, NaN, 0, 0, NaN, NaN"


def test_detailed_progress_line():
    line = progress_line(bytes_read=3 * 1024 * 1024, last_bytes_read=1024 * 1024,
                         messages_read=300, last_messages_read=100, start_ms=0, end_ms=2000,
                         join_time_ms=1000, date_format="'t'")
    assert line == "t, 0, 3.0000, 1.0000, 300, 100.0000, 1000, 1000, 2.0000, 200.0000"
    zero_fetch = progress_line(bytes_read=1, last_bytes_read=0, messages_read=1,
                               last_messages_read=0, start_ms=0, end_ms=10, join_time_ms=10,
                               date_format="'t'")
    assert zero_fetch.endswith(", 10, 0, 0.0000, 0.0000")


def _settings(**overrides):
    args = dict(bootstrap_server="h:1", broker_list=None, topic="t", messages=10, group=None,
                fetch_size=1024, from_latest=False, timeout_ms=10_000,
                reporting_interval_ms=5000, show_detailed_stats=False,
                date_format="yyyy-MM-dd HH:mm:ss:SSS", hide_header=False, print_metrics=False,
                props={"group.id": "ignored", "auto.offset.reset": "none"})
    args.update(overrides)
    return consumer_perf_settings(**args)


def test_settings_force_what_kafka_forces():
    s = _settings()
    assert s.group.startswith("perf-consumer-")
    assert s.consumer["group_id"] == s.group
    assert s.consumer["auto_offset_reset"] == "earliest"
    assert s.consumer["max_partition_fetch_bytes"] == 1024
    assert s.consumer["check_crcs"] is False
    assert _settings(from_latest=True, group="g").consumer["auto_offset_reset"] == "latest"
    assert _settings(bootstrap_server=None, broker_list="b:2").bootstrap == "b:2"


@pytest.mark.parametrize("args, message", [
    (["--topic", "t", "--messages", "1"], 'Missing required argument "[bootstrap-server]"'),
    (["--bootstrap-server", "h:1", "--messages", "1"], 'Missing required argument "[topic]"'),
    (["--bootstrap-server", "h:1", "--topic", "t"], 'Missing required argument "[messages]"'),
    (["--bootstrap-server", "h:1", "--topic", "t", "--messages", "1",
      "--reporting-interval", "0"], "Reporting interval must be greater than 0."),
    (["--bootstrap-server", "h:1", "--topic", "t", "--messages", "1", "--date-format", "qq"],
     "Illegal pattern character 'q'"),
])
def test_usage_errors(args, message):
    result = CliRunner().invoke(main, args, prog_name="kafka-consumer-perf-test.sh")
    assert result.exit_code == 2, result.output
    assert "Usage: kafka-consumer-perf-test.sh" in result.output and message in result.output
