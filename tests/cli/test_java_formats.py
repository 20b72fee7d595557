"""Java text formats Kafka's tools print: SimpleDateFormat, printMetrics, exception classes."""

from __future__ import annotations

import datetime

import pytest

from kafkalite.cli.java_formats import (
    DEFAULT_DATE_FORMAT, check_date_pattern, format_metrics, java_exception_class,
    java_map_string, simple_date_format)
from kafkalite.client.errors import KafkaTimeoutError
from kafkalite.errors import ConfigError, InvalidTopicException, NotLeaderOrFollower

UTC = datetime.timezone.utc
MOMENT = 1631272135963  # 2021-09-10 11:08:55.963 UTC, a Friday


def test_default_perf_format():
    assert simple_date_format(DEFAULT_DATE_FORMAT, MOMENT, UTC) == "2021-09-10 11:08:55:963"


@pytest.mark.parametrize("pattern, expected", [
    ("yy/M/d h:mm a", "21/9/10 11:08 AM"),
    ("EEE, d MMM yyyy", "Fri, 10 Sep 2021"),
    ("EEEE MMMM", "Friday September"),
    ("HH'h'mm 'o''clock' ''", "11h08 o'clock '"),
    ("yyyy-MM-dd'T'HH:mm:ss.SSSZ", "2021-09-10T11:08:55.963+0000"),
    ("D S", "253 963"),
    ("XXX", "Z"),
])
def test_patterns(pattern, expected):
    assert simple_date_format(pattern, MOMENT, UTC) == expected


def test_other_time_zone():
    tz = datetime.timezone(datetime.timedelta(hours=2))
    assert simple_date_format("HH:mm Z XXX", MOMENT, tz) == "13:08 +0200 +02:00"


def test_bad_patterns_are_refused():
    with pytest.raises(ConfigError, match="Illegal pattern character 'q'"):
        check_date_pattern("yyyy-qq")
    with pytest.raises(ConfigError, match="Unterminated quote"):
        check_date_pattern("HH 'oops")
    assert check_date_pattern("HH:mm") == "HH:mm"


def test_print_metrics_table():
    text = format_metrics([
        ("producer-metrics", "record-send-total", {"client-id": "perf"}, 10.0),
        ("producer-metrics", "batch-size-avg", {"client-id": "perf"}, 1234.5678),
        ("app-info", "version", {"client-id": "perf"}, "2.8.0"),
    ])
    lines = text.splitlines()
    assert lines[0] == ""
    width = len("producer-metrics:record-send-total:{client-id=perf}")
    assert lines[1] == "Metric Name".ljust(width) + "   Value"
    assert lines[2] == "app-info:version:{client-id=perf}".ljust(width) + " : 2.8.0"
    assert lines[3] == "producer-metrics:batch-size-avg:{client-id=perf}".ljust(width) \
        + " : 1234.568"
    assert lines[4] == "producer-metrics:record-send-total:{client-id=perf} : 10.000"
    assert text.endswith("\n") and len(lines) == 5


def test_java_map_string():
    assert java_map_string({"client-id": "a", "topic": "t"}) == "{client-id=a, topic=t}"
    assert java_map_string({}) == "{}"


def test_exception_classes():
    assert java_exception_class(NotLeaderOrFollower("x")) == \
        "class org.apache.kafka.common.errors.NotLeaderOrFollowerException"
    assert java_exception_class(InvalidTopicException("x")) == \
        "class org.apache.kafka.common.errors.InvalidTopicException"
    assert java_exception_class(KafkaTimeoutError("slow")) == \
        "class org.apache.kafka.common.errors.TimeoutException"
    assert java_exception_class(RuntimeError("?")) == "class org.apache.kafka.common.KafkaException"
