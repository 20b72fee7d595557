"""``kafka-producer-perf-test.sh``: send N records as fast as allowed and report throughput and
latency, as Kafka 2.8's ProducerPerformance does.

Flags are Kafka's: ``--topic``, ``--num-records``, exactly one of ``--record-size`` (every
record is the same random upper-case payload) or ``--payload-file`` (split at
``--payload-delimiter``, a regular expression, default a newline; each record picks one of
the pieces at random), ``--throughput`` (records/s, -1 unthrottled), ``--producer-props k=v
...`` (one or more values after the flag) and/or ``--producer.config FILE`` (the props win),
``--print-metrics``.

Latency of a record is the time from handing it to the producer to its acknowledgement. Every
5 s a window line is printed, and at the end the total line with the latency percentiles
(Kafka samples at most 500,000 latencies evenly over the run)::

    2000 records sent, 399.9 records/sec (0.04 MB/sec), 2.3 ms avg latency, 41.0 ms max latency.
    10000 records sent, 1999.600080 records/sec (0.19 MB/sec), 2.12 ms avg latency,
    41.00 ms max latency, 2 ms 50th, 4 ms 95th, 9 ms 99th, 41 ms 99.9th.

(the total is one line). Only acknowledged records count; a failed one is reported on stderr.
The producer's defaults are the Java client's (``acks=1``, ``linger.ms=0``), and
``client.id`` defaults to ``perf-producer-client``.

Not available: transactions (``--transaction-duration-ms`` > 0 is refused with an error; the
kafkalite producer has no transactional mode yet).
"""

from __future__ import annotations

import os
import random
import re
import sys
import time
from collections.abc import Mapping

import attrs
import click
import trio

from kafkalite.cli.callback_producer import CallbackProducer
from kafkalite.cli.client_properties import producer_options
from kafkalite.cli.common import NargsCommand, fail, parse_properties, read_config_file, \
    run_trio
from kafkalite.cli.java_formats import format_metrics, java_exception_class
from kafkalite.cli.throughput import ThroughputThrottler
from kafkalite.client.cluster import Cluster
from kafkalite.client.producer import DeliveryHandle
from kafkalite.errors import ConfigError

__all__ = ["Stats", "percentiles", "read_payloads", "random_payload", "PerfSettings", "main"]

_REPORTING_INTERVAL_MS = 5000
_MAX_SAMPLES = 500_000
_CHECKPOINT_EVERY = 64  # records sent between checkpoints, so the sender task keeps up
DEFAULT_TRANSACTIONAL_ID = "performance-producer-default-transactional-id"


def percentiles(latencies: list[int], count: int, *wanted: float) -> list[int]:
    """Kafka's percentiles: sort the first ``count`` samples and take index ``int(p * n)``."""
    size = min(count, len(latencies))
    ordered = sorted(latencies[:size])
    if not ordered:
        return [0 for _ in wanted]
    return [ordered[int(p * size)] for p in wanted]


class Stats:
    """Counts, windows and latency samples of one run (Kafka's ProducerPerformance.Stats).

    Times are milliseconds on the caller's clock; :meth:`record` returns a window line when
    ``reporting_interval_ms`` has passed since the window began, else None.
    """

    def __init__(self, num_records: int, start_ms: float, *,
                 reporting_interval_ms: int = _REPORTING_INTERVAL_MS):
        self.start_ms = start_ms
        self.sampling = max(1, num_records // max(1, min(num_records, _MAX_SAMPLES)))
        self.latencies: list[int] = []
        self.reporting_interval_ms = reporting_interval_ms
        self.iteration = 0
        self.count = 0
        self.bytes = 0
        self.total_latency = 0
        self.max_latency = 0
        self.errors = 0
        self.max_record_size = 0
        self._new_window(start_ms)

    def _new_window(self, now_ms: float) -> None:
        self.window_start_ms = now_ms
        self.window_count = 0
        self.window_bytes = 0
        self.window_total_latency = 0
        self.window_max_latency = 0

    def record(self, latency_ms: int, size: int, now_ms: float) -> str | None:
        """Count one acknowledged record; a window line when the window is over."""
        self.count += 1
        self.bytes += size
        self.total_latency += latency_ms
        self.max_latency = max(self.max_latency, latency_ms)
        self.max_record_size = max(self.max_record_size, size)
        self.window_count += 1
        self.window_bytes += size
        self.window_total_latency += latency_ms
        self.window_max_latency = max(self.window_max_latency, latency_ms)
        if self.iteration % self.sampling == 0:
            self.latencies.append(latency_ms)
        self.iteration += 1
        if now_ms - self.window_start_ms >= self.reporting_interval_ms:
            line = self.window_line(now_ms)
            self._new_window(now_ms)
            return line
        return None

    def window_line(self, now_ms: float) -> str:
        elapsed = max(now_ms - self.window_start_ms, 1)
        count = self.window_count
        return (f"{count} records sent, {1000 * count / elapsed:.1f} records/sec "
                f"({1000 * self.window_bytes / elapsed / (1024 * 1024):.2f} MB/sec), "
                f"{self.window_total_latency / count if count else 0:.1f} ms avg latency, "
                f"{float(self.window_max_latency):.1f} ms max latency.")

    def total_line(self, now_ms: float) -> str:
        elapsed = max(now_ms - self.start_ms, 1)
        p50, p95, p99, p999 = percentiles(self.latencies, len(self.latencies),
                                          0.5, 0.95, 0.99, 0.999)
        return (f"{self.count} records sent, {1000 * self.count / elapsed:f} records/sec "
                f"({1000 * self.bytes / elapsed / (1024 * 1024):.2f} MB/sec), "
                f"{self.total_latency / self.count if self.count else 0:.2f} ms avg latency, "
                f"{float(self.max_latency):.2f} ms max latency, {p50} ms 50th, {p95} ms 95th, "
                f"{p99} ms 99th, {p999} ms 99.9th.")

    def metrics(self, client_id: str, now_ms: float) -> list[tuple[str, str, dict, float]]:
        """The producer metrics this tool can vouch for, as ``--print-metrics`` rows."""
        elapsed_s = max(now_ms - self.start_ms, 1) / 1000
        tags = {"client-id": client_id}
        values = {
            "record-send-total": float(self.count),
            "record-send-rate": self.count / elapsed_s,
            "record-error-total": float(self.errors),
            "record-error-rate": self.errors / elapsed_s,
            "record-size-avg": self.bytes / self.count if self.count else 0.0,
            "record-size-max": float(self.max_record_size),
            "request-latency-avg": self.total_latency / self.count if self.count else 0.0,
            "request-latency-max": float(self.max_latency),
        }
        return [("producer-metrics", name, tags, value) for name, value in values.items()]


def read_payloads(path: str, delimiter: str) -> list[bytes]:
    """The pieces of ``path`` (UTF-8) split at the regular expression ``delimiter``; empty
    pieces at the end are dropped, as Java's ``String.split`` drops them.

    Raises:
        ConfigError: missing or empty file, or an invalid delimiter.
    """
    try:
        data = open(path, "rb").read()
    except OSError:
        data = b""
    if not data:
        raise ConfigError("File does not exist or empty file provided.")
    try:
        pieces = re.split(delimiter, data.decode("utf-8", "replace"))
    except re.error as exc:
        raise ConfigError(f"Invalid --payload-delimiter {delimiter!r}: {exc}") from None
    while pieces and pieces[-1] == "":
        pieces.pop()
    return [p.encode("utf-8") for p in pieces]


def random_payload(size: int, rng: random.Random) -> bytes:
    """``size`` random upper-case letters (the payload of ``--record-size``)."""
    return bytes(rng.randrange(26) + 65 for _ in range(size))


@attrs.frozen(kw_only=True)
class PerfSettings:
    topic: str
    num_records: int
    throughput: float
    bootstrap: str
    client_id: str
    cluster: dict
    producer: dict
    record_size: int | None = None
    payloads: tuple[bytes, ...] = ()
    print_metrics: bool = False


async def run_perf_test(settings: PerfSettings, out=None) -> Stats:
    """Send the records, printing window lines and then the total line to ``out``."""
    out = out or sys.stdout
    rng = random.Random(0)
    fixed = random_payload(settings.record_size, rng) if settings.record_size is not None \
        else None
    sent_at: dict[DeliveryHandle, tuple[float, int]] = {}
    start_ms = time.monotonic() * 1000
    stats = Stats(settings.num_records, start_ms)

    def completed(handle: DeliveryHandle) -> None:
        started, size = sent_at.pop(handle, (None, 0))
        if started is None:
            return
        now = time.monotonic() * 1000
        if handle.error is not None:
            stats.errors += 1
            name = java_exception_class(handle.error).removeprefix("class ")
            print(f"{name}: {handle.error}", file=sys.stderr, flush=True)
            return
        line = stats.record(int(now - started), size, now)
        if line is not None:
            print(line, file=out, flush=True)

    async with Cluster(settings.bootstrap, **settings.cluster) as cluster:
        async with CallbackProducer(cluster, on_completion=completed,
                                    **settings.producer) as producer:
            throttler = ThroughputThrottler(settings.throughput, start_ms)
            for i in range(settings.num_records):
                payload = fixed if fixed is not None else rng.choice(settings.payloads)
                send_start = time.monotonic() * 1000
                handle = await producer.enqueue(settings.topic, payload)
                sent_at[handle] = (send_start, len(payload))
                if throttler.should_throttle(i, send_start):
                    delay = throttler.throttle_delay()
                    if delay:
                        await trio.sleep(delay)
                elif i % _CHECKPOINT_EVERY == 0:
                    await trio.lowlevel.checkpoint()
            await producer.flush()
    now = time.monotonic() * 1000
    print(stats.total_line(now), file=out, flush=True)
    if settings.print_metrics:
        out.write(format_metrics(stats.metrics(settings.client_id, now)))
        out.flush()
    return stats


def perf_settings(*, topic: str | None, num_records: int | None, record_size: int | None,
                  payload_file: str | None, payload_delimiter: str,
                  throughput: float | None, props: Mapping[str, str], print_metrics: bool,
                  out=None) -> PerfSettings:
    """Check the arguments as Kafka does and read the payload file.

    Raises:
        click.UsageError: a missing or conflicting argument (argparse4j's messages).
        ConfigError: bad producer properties or payload file.
    """
    if topic is None:
        raise click.UsageError("argument --topic is required")
    if num_records is None:
        raise click.UsageError("argument --num-records is required")
    if throughput is None:
        raise click.UsageError("argument --throughput is required")
    if record_size is None and payload_file is None:
        raise click.UsageError("one of the arguments --record-size --payload-file is required")
    if record_size is not None and payload_file is not None:
        raise click.UsageError("argument --payload-file: not allowed with argument "
                               "--record-size")
    if num_records <= 0:
        raise click.UsageError("--num-records should be greater than zero")
    if record_size is not None and record_size <= 0:
        raise click.UsageError("--record-size should be greater than zero")
    options = producer_options(props, client_id="perf-producer-client")
    if not options.bootstrap:
        raise ConfigError('Missing required configuration "bootstrap.servers" which has no '
                          "default value.")
    payloads: tuple[bytes, ...] = ()
    if payload_file is not None:
        delimiter = "\n" if payload_delimiter == "\\n" else payload_delimiter
        click.echo(f"Reading payloads from: {os.path.abspath(payload_file)}", file=out)
        payloads = tuple(read_payloads(payload_file, delimiter))
        click.echo(f"Number of messages read: {len(payloads)}", file=out)
    return PerfSettings(topic=topic, num_records=num_records, throughput=throughput,
                        bootstrap=options.bootstrap,
                        client_id=options.cluster["client_id"], cluster=options.cluster,
                        producer=options.client, record_size=record_size, payloads=payloads,
                        print_metrics=print_metrics)


@click.command(cls=NargsCommand, nargs_options=("--producer-props",),
               context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--topic", metavar="TOPIC", help="REQUIRED: produce messages to this topic.")
@click.option("--num-records", type=int, metavar="NUM-RECORDS",
              help="REQUIRED: number of messages to produce.")
@click.option("--record-size", type=int, metavar="RECORD-SIZE",
              help="Message size in bytes. Exactly one of --record-size or --payload-file.")
@click.option("--payload-file", metavar="PAYLOAD-FILE",
              help="File to read the message payloads from (UTF-8 text); a payload is picked "
                   "at random for each message.")
@click.option("--payload-delimiter", default="\\n", show_default=True,
              metavar="PAYLOAD-DELIMITER",
              help="Delimiter (a regular expression) of the payloads in --payload-file.")
@click.option("--throughput", type=float, metavar="THROUGHPUT",
              help="REQUIRED: throttle to about THROUGHPUT messages/sec; -1 disables "
                   "throttling.")
@click.option("--producer-props", "producer_props", multiple=True,
              metavar="PROP-NAME=PROP-VALUE [...]",
              help="Producer configs like bootstrap.servers=h:9092 acks=all; they take "
                   "precedence over --producer.config.")
@click.option("--producer.config", "producer_config", metavar="CONFIG-FILE",
              help="Producer config properties file.")
@click.option("--print-metrics", is_flag=True, help="Print out metrics at the end of the test.")
@click.option("--transactional-id", default=DEFAULT_TRANSACTIONAL_ID, show_default=True,
              help="The transactional id to use if --transaction-duration-ms is > 0.")
@click.option("--transaction-duration-ms", type=int, default=0, show_default=True,
              help="Max age of each transaction; transactions are enabled only when > 0 "
                   "(not available in kafkalite).")
def main(topic, num_records, record_size, payload_file, payload_delimiter, throughput,
         producer_props, producer_config, print_metrics, transactional_id,
         transaction_duration_ms) -> None:
    """This tool is used to verify the producer performance."""
    if not producer_props and not producer_config:
        raise click.UsageError("Either --producer-props or --producer.config must be "
                               "specified.")
    extra = parse_properties(producer_props, option="--producer-props")
    try:
        props = {**read_config_file(producer_config), **extra}
        settings = perf_settings(topic=topic, num_records=num_records, record_size=record_size,
                                 payload_file=payload_file, payload_delimiter=payload_delimiter,
                                 throughput=throughput, props=props,
                                 print_metrics=print_metrics)
    except ConfigError as exc:
        fail(str(exc))
    if transaction_duration_ms > 0:
        fail("transactions (--transaction-duration-ms > 0) are not supported: the kafkalite "
             "producer has no transactional mode")
    stats = run_trio(run_perf_test, settings)
    if stats.errors:
        sys.exit(1)


if __name__ == "__main__":
    from kafkalite.cli.tools import run_module

    run_module("kafkalite.cli.producer_perf_test")
