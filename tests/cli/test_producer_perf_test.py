"""kafka-producer-perf-test.sh: Kafka's progress and total lines, percentiles, payloads and
argument errors (no broker)."""

from __future__ import annotations

import random
import re

import pytest
from click.testing import CliRunner

from kafkalite.cli.producer_perf_test import (
    Stats, main, percentiles, random_payload, read_payloads)
from kafkalite.errors import ConfigError

TOTAL = re.compile(r"^\d+ records sent, \d+\.\d{6} records/sec \(\d+\.\d{2} MB/sec\), "
                   r"\d+\.\d{2} ms avg latency, \d+\.\d{2} ms max latency, \d+ ms 50th, "
                   r"\d+ ms 95th, \d+ ms 99th, \d+ ms 99\.9th\.$")


def test_window_line_every_five_seconds():
    stats = Stats(10, start_ms=0)
    assert stats.record(4, 100, 1000) is None
    line = stats.record(8, 100, 5000)
    assert line == ("2 records sent, 0.4 records/sec (0.00 MB/sec), 6.0 ms avg latency, "
                    "8.0 ms max latency.")
    assert stats.window_count == 0 and stats.record(1, 100, 6000) is None


def test_total_line_format_and_percentiles():
    stats = Stats(1000, start_ms=0)
    for i in range(1000):
        stats.record(i % 100, 1024, 10)
    line = stats.total_line(2000)
    assert TOTAL.match(line), line
    assert line == ("1000 records sent, 500.000000 records/sec (0.49 MB/sec), 49.50 ms avg "
                    "latency, 99.00 ms max latency, 50 ms 50th, 95 ms 95th, 99 ms 99th, "
                    "99 ms 99.9th.")


def test_percentiles_are_kafkas_index_rule():
    assert percentiles([5, 1, 3, 2, 4], 5, 0.5, 0.95, 0.99, 0.999) == [3, 5, 5, 5]
    assert percentiles([], 0, 0.5, 0.99) == [0, 0]
    assert percentiles(list(range(1000)), 1000, 0.5, 0.999) == [500, 999]


def test_latencies_are_sampled_for_long_runs():
    stats = Stats(1_000_000, start_ms=0)
    assert stats.sampling == 2
    for i in range(10):
        stats.record(i, 1, 1)
    assert stats.latencies == [0, 2, 4, 6, 8]


def test_no_records_is_not_a_division_by_zero():
    assert Stats(5, start_ms=0).total_line(0).startswith("0 records sent, 0.000000 records/sec")


def test_payload_file_is_split_as_java_does(tmp_path):
    f = tmp_path / "payloads.txt"
    f.write_text("alpha\nbeta\n\ngamma\n\n")
    assert read_payloads(str(f), "\n") == [b"alpha", b"beta", b"", b"gamma"]
    f.write_text("a1b22c")
    assert read_payloads(str(f), r"\d+") == [b"a", b"b", b"c"]
    with pytest.raises(ConfigError, match="File does not exist or empty file provided."):
        read_payloads(str(tmp_path / "missing"), "\n")


def test_random_payload_is_upper_case_letters():
    payload = random_payload(50, random.Random(0))
    assert len(payload) == 50 and payload.isalpha() and payload.isupper()


@pytest.mark.parametrize("args, message", [
    (["--num-records", "1", "--record-size", "1", "--throughput", "-1", "--producer-props",
      "bootstrap.servers=h:1"], "argument --topic is required"),
    (["--topic", "t", "--record-size", "1", "--throughput", "-1", "--producer-props",
      "bootstrap.servers=h:1"], "argument --num-records is required"),
    (["--topic", "t", "--num-records", "1", "--record-size", "1", "--producer-props",
      "bootstrap.servers=h:1"], "argument --throughput is required"),
    (["--topic", "t", "--num-records", "1", "--throughput", "-1", "--producer-props",
      "bootstrap.servers=h:1"], "one of the arguments --record-size --payload-file is required"),
    (["--topic", "t", "--num-records", "1", "--record-size", "1", "--payload-file", "f",
      "--throughput", "-1", "--producer-props", "bootstrap.servers=h:1"],
     "argument --payload-file: not allowed with argument --record-size"),
    (["--topic", "t", "--num-records", "1", "--record-size", "1", "--throughput", "-1"],
     "Either --producer-props or --producer.config must be specified."),
    (["--topic", "t", "--num-records", "0", "--record-size", "1", "--throughput", "-1",
      "--producer-props", "bootstrap.servers=h:1"], "--num-records should be greater than zero"),
    (["--topic", "t", "--num-records", "1", "--record-size", "1", "--throughput", "-1",
      "--producer-props", "acks"], "Invalid property 'acks'"),
])
def test_usage_errors(args, message):
    result = CliRunner().invoke(main, args, prog_name="kafka-producer-perf-test.sh")
    assert result.exit_code == 2, result.output
    assert "Usage: kafka-producer-perf-test.sh" in result.output and message in result.output


def test_runtime_errors_are_one_line():
    runner = CliRunner()
    result = runner.invoke(main, ["--topic", "t", "--num-records", "1", "--record-size", "1",
                                  "--throughput", "-1", "--producer-props", "acks=1"])
    assert result.exit_code == 1
    assert 'ERROR: Missing required configuration "bootstrap.servers"' in result.output
    result = runner.invoke(main, ["--topic", "t", "--num-records", "1", "--record-size", "1",
                                  "--throughput", "-1", "--producer-props",
                                  "bootstrap.servers=h:1", "acks=2"])
    assert result.exit_code == 1 and "Invalid value 2 for configuration acks" in result.output
    result = runner.invoke(main, ["--topic", "t", "--num-records", "1", "--record-size", "1",
                                  "--throughput", "-1", "--producer-props",
                                  "bootstrap.servers=h:1", "--transaction-duration-ms", "100"])
    assert result.exit_code == 1 and "transactions" in result.output
