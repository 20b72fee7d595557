"""``kafka-consumer-perf-test.sh``: consume N messages as a group member and report throughput,
as Kafka 2.8's ConsumerPerformance does.

Flags are Kafka's: ``--bootstrap-server`` (or the deprecated ``--broker-list``), ``--topic``,
``--messages``, ``--group`` (default ``perf-consumer-<random>``), ``--fetch-size``
(``max.partition.fetch.bytes``, default 1 MiB), ``--from-latest`` (``auto.offset.reset=latest``;
otherwise earliest), ``--timeout`` (ms allowed between returned records, default 10000),
``--show-detailed-stats`` with ``--reporting-interval`` (ms, default 5000), ``--date-format``
(Java SimpleDateFormat, default ``yyyy-MM-dd HH:mm:ss:SSS``), ``--hide-header``,
``--print-metrics``, ``--consumer.config``. ``--threads``, ``--num-fetch-threads`` and
``--socket-buffer-size`` are accepted and, as in Kafka 2.8, have no effect.

Output: the CSV header, then one line::

    start.time, end.time, data.consumed.in.MB, MB.sec, data.consumed.in.nMsg, nMsg.sec,
    rebalance.time.ms, fetch.time.ms, fetch.MB.sec, fetch.nMsg.sec
    2021-09-10 11:08:55:963, 2021-09-10 11:08:57:120, 0.9537, 0.8243, 10000, 8643.0415, 412,
    745, 1.2801, 13422.8188

(each one line). Data is the keys' plus the values' bytes; rebalance time is the time spent
joining the group (from the start until partitions are assigned, and from each revocation to
the next assignment); fetch time is the rest. With ``--show-detailed-stats`` the header starts
``time, threadId`` and a line per reporting interval replaces the final line. Stopping early on
``--timeout`` prints Kafka's ``WARNING: Exiting before consuming the expected number of
messages`` line first.

One difference from Kafka 2.8: its first rebalance is measured from the epoch (a bug that makes
``rebalance.time.ms`` a timestamp and ``fetch.time.ms`` negative); kafkalite measures it from
the start of the test.
"""

from __future__ import annotations

import random
import sys
import time
from collections.abc import Mapping

import attrs
import click

from kafkalite.cli.client_properties import consumer_options
from kafkalite.cli.common import choose_bootstrap, fail, read_config_file, run_trio
from kafkalite.cli.java_formats import DEFAULT_DATE_FORMAT, check_date_pattern, \
    format_metrics, simple_date_format
from kafkalite.client.cluster import Cluster
from kafkalite.client.consumer import Consumer
from kafkalite.errors import ConfigError

__all__ = ["header", "final_line", "progress_line", "ConsumerPerfSettings", "main"]

_MB = 1024 * 1024
_POLL_MS = 100


def header(show_detailed_stats: bool) -> str:
    """Kafka's CSV header."""
    extended = ", rebalance.time.ms, fetch.time.ms, fetch.MB.sec, fetch.nMsg.sec"
    if show_detailed_stats:
        return "time, threadId, data.consumed.in.MB, MB.sec, data.consumed.in.nMsg, nMsg.sec" \
            + extended
    return "start.time, end.time, data.consumed.in.MB, MB.sec, data.consumed.in.nMsg, nMsg.sec" \
        + extended


def _rate(amount: float, ms: float) -> float:
    # Java's double division: x/0 is Infinity (NaN for 0/0); print those as Java does.
    if ms == 0:
        return float("nan") if amount == 0 else float("inf")
    return 1000.0 * amount / ms


def _java_double(value: float) -> str:
    if value != value:
        return "NaN"
    if value in (float("inf"), float("-inf")):
        return "Infinity" if value > 0 else "-Infinity"
    return f"{value:.4f}"


def final_line(*, start_ms: int, end_ms: int, bytes_read: int, messages_read: int,
               join_time_ms: int, date_format: str = DEFAULT_DATE_FORMAT) -> str:
    """The one result line (without ``--show-detailed-stats``)."""
    elapsed = end_ms - start_ms
    fetch_ms = elapsed - join_time_ms
    mb = bytes_read / _MB
    return ", ".join([
        simple_date_format(date_format, start_ms), simple_date_format(date_format, end_ms),
        f"{mb:.4f}", _java_double(_rate(mb, elapsed)), str(messages_read),
        _java_double(_rate(messages_read, elapsed)), str(join_time_ms), str(fetch_ms),
        _java_double(_rate(mb, fetch_ms)), _java_double(_rate(messages_read, fetch_ms))])


def progress_line(*, bytes_read: int, last_bytes_read: int, messages_read: int,
                  last_messages_read: int, start_ms: int, end_ms: int, join_time_ms: int,
                  date_format: str = DEFAULT_DATE_FORMAT, thread_id: int = 0) -> str:
    """One ``--show-detailed-stats`` line for the interval ``start_ms``..``end_ms``."""
    elapsed = end_ms - start_ms
    interval_mb = (bytes_read - last_bytes_read) / _MB
    interval_msgs = messages_read - last_messages_read
    fetch_ms = elapsed - join_time_ms
    fetch_mb_sec, fetch_msg_sec = (0.0, 0.0) if fetch_ms <= 0 else \
        (_rate(interval_mb, fetch_ms), _rate(interval_msgs, fetch_ms))
    return ", ".join([
        simple_date_format(date_format, end_ms), str(thread_id), f"{bytes_read / _MB:.4f}",
        _java_double(_rate(interval_mb, elapsed)), str(messages_read),
        _java_double(_rate(interval_msgs, elapsed)), str(join_time_ms), str(fetch_ms),
        _java_double(fetch_mb_sec), _java_double(fetch_msg_sec)])


@attrs.frozen(kw_only=True)
class ConsumerPerfSettings:
    bootstrap: str
    topic: str
    messages: int
    group: str
    timeout_ms: int = 10_000
    reporting_interval_ms: int = 5_000
    show_detailed_stats: bool = False
    date_format: str = DEFAULT_DATE_FORMAT
    hide_header: bool = False
    print_metrics: bool = False
    cluster: dict = attrs.field(factory=dict)
    consumer: dict = attrs.field(factory=dict)


@attrs.define
class _Progress:
    messages: int = 0
    bytes: int = 0
    join_time_ms: int = 0
    window_join_ms: int = 0
    join_start_ms: int = 0
    rebalances: int = 0


def _now_ms() -> int:
    return int(time.time() * 1000)


async def run_consumer_perf_test(settings: ConsumerPerfSettings, out=None) -> _Progress:
    """Consume until ``messages`` or ``timeout_ms`` without records; print as Kafka does."""
    out = out or sys.stdout

    def emit(line: str) -> None:
        print(line, file=out, flush=True)

    if not settings.hide_header:
        emit(header(settings.show_detailed_stats))
    progress = _Progress()

    class Listener:
        def on_partitions_assigned(self, partitions) -> None:
            spent = _now_ms() - progress.join_start_ms
            progress.join_time_ms += spent
            progress.window_join_ms += spent
            progress.rebalances += 1

        def on_partitions_revoked(self, partitions) -> None:
            progress.join_start_ms = _now_ms()

    async with Cluster(settings.bootstrap, **settings.cluster) as cluster:
        consumer = Consumer(cluster, **settings.consumer)
        start_ms = _now_ms()
        progress.join_start_ms = start_ms
        consumer.subscribe([settings.topic], listener=Listener())
        async with consumer:
            now = last_report = last_consumed = _now_ms()
            last_bytes = last_messages = 0
            while progress.messages < settings.messages \
                    and now - last_consumed <= settings.timeout_ms:
                records = await consumer.poll(_POLL_MS)
                now = _now_ms()
                if records:
                    last_consumed = now
                for record in records:
                    progress.messages += 1
                    progress.bytes += len(record.key or b"") + len(record.value or b"")
                    if now - last_report >= settings.reporting_interval_ms:
                        if settings.show_detailed_stats:
                            emit(progress_line(
                                bytes_read=progress.bytes, last_bytes_read=last_bytes,
                                messages_read=progress.messages,
                                last_messages_read=last_messages, start_ms=last_report,
                                end_ms=now, join_time_ms=progress.window_join_ms,
                                date_format=settings.date_format))
                        progress.window_join_ms = 0
                        last_report, last_messages, last_bytes = \
                            now, progress.messages, progress.bytes
            if progress.messages < settings.messages:
                emit(f"WARNING: Exiting before consuming the expected number of messages: "
                     f"timeout ({settings.timeout_ms} ms) exceeded. You can use the --timeout "
                     "option to increase the timeout.")
            end_ms = _now_ms()
    if not settings.show_detailed_stats:
        emit(final_line(start_ms=start_ms, end_ms=end_ms, bytes_read=progress.bytes,
                        messages_read=progress.messages, join_time_ms=progress.join_time_ms,
                        date_format=settings.date_format))
    if settings.print_metrics:
        out.write(format_metrics(_metrics(settings, progress, end_ms - start_ms)))
        out.flush()
    return progress


def _metrics(settings: ConsumerPerfSettings, progress: _Progress, elapsed_ms: int):
    seconds = max(elapsed_ms, 1) / 1000
    tags = {"client-id": settings.cluster.get("client_id", "")}
    fetch = {
        "records-consumed-total": float(progress.messages),
        "records-consumed-rate": progress.messages / seconds,
        "bytes-consumed-total": float(progress.bytes),
        "bytes-consumed-rate": progress.bytes / seconds,
    }
    rows = [("consumer-fetch-manager-metrics", k, tags, v) for k, v in fetch.items()]
    rows.append(("consumer-coordinator-metrics", "rebalance-total", tags,
                 float(progress.rebalances)))
    rows.append(("consumer-coordinator-metrics", "rebalance-latency-total", tags,
                 float(progress.join_time_ms)))
    return rows


def consumer_perf_settings(*, bootstrap_server: str | None, broker_list: str | None,
                           topic: str | None, messages: int | None, group: str | None,
                           fetch_size: int, from_latest: bool, timeout_ms: int,
                           reporting_interval_ms: int, show_detailed_stats: bool,
                           date_format: str, hide_header: bool, print_metrics: bool,
                           props: Mapping[str, str]) -> ConsumerPerfSettings:
    """Kafka's argument checks and the consumer properties it forces.

    Raises:
        click.UsageError: a missing or invalid argument.
        ConfigError: bad consumer properties.
    """
    bootstrap = choose_bootstrap(bootstrap_server, broker_list)
    if topic is None:
        raise click.UsageError('Missing required argument "[topic]"')
    if messages is None:
        raise click.UsageError('Missing required argument "[messages]"')
    if reporting_interval_ms <= 0:
        raise click.UsageError("Reporting interval must be greater than 0.")
    try:
        check_date_pattern(date_format)
    except ConfigError as exc:
        raise click.UsageError(str(exc)) from None
    group = group or f"perf-consumer-{random.randrange(100_000)}"
    # What ConsumerPerformance sets over the config file.
    merged = {**props, "bootstrap.servers": bootstrap, "group.id": group,
              "max.partition.fetch.bytes": str(fetch_size),
              "auto.offset.reset": "latest" if from_latest else "earliest",
              "check.crcs": "false"}
    options = consumer_options(merged, client_id=f"consumer-{group}-1")
    return ConsumerPerfSettings(
        bootstrap=bootstrap, topic=topic, messages=messages, group=group,
        timeout_ms=timeout_ms, reporting_interval_ms=reporting_interval_ms,
        show_detailed_stats=show_detailed_stats, date_format=date_format,
        hide_header=hide_header, print_metrics=print_metrics, cluster=options.cluster,
        consumer=options.client)


@click.command(context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--bootstrap-server", help="REQUIRED unless --broker-list (deprecated) is "
              "specified. The server(s) to connect to.")
@click.option("--broker-list", help="DEPRECATED, use --bootstrap-server instead; ignored if "
              "--bootstrap-server is specified.")
@click.option("--topic", help="REQUIRED: The topic to consume from.")
@click.option("--messages", type=int, help="REQUIRED: The number of messages to send or "
              "consume.")
@click.option("--group", help="The group id to consume on (default perf-consumer-<random>).")
@click.option("--fetch-size", type=int, default=1024 * 1024, show_default=True,
              help="The amount of data to fetch in a single request.")
@click.option("--from-latest", is_flag=True, help="If the consumer does not already have an "
              "established offset to consume from, start with the latest message present in "
              "the log rather than the earliest message.")
@click.option("--socket-buffer-size", type=int, default=2 * 1024 * 1024, show_default=True,
              help="The size of the tcp RECV size (no effect).")
@click.option("--threads", type=int, default=10, show_default=True,
              help="Number of processing threads (no effect).")
@click.option("--num-fetch-threads", type=int, default=1, show_default=True,
              help="Number of fetcher threads (no effect).")
@click.option("--consumer.config", "consumer_config", help="Consumer config properties file.")
@click.option("--print-metrics", is_flag=True, help="Print out the metrics.")
@click.option("--show-detailed-stats", is_flag=True, help="If set, stats are reported for each "
              "reporting interval as configured by reporting-interval.")
@click.option("--timeout", "timeout_ms", type=int, default=10_000, show_default=True,
              help="The maximum allowed time in milliseconds between returned records.")
@click.option("--reporting-interval", "reporting_interval_ms", type=int, default=5000,
              show_default=True, help="Interval in milliseconds at which to print progress "
              "info.")
@click.option("--date-format", default=DEFAULT_DATE_FORMAT, show_default=True,
              help="The date format to use for formatting the time field. See "
                   "java.text.SimpleDateFormat for options.")
@click.option("--hide-header", is_flag=True, help="If set, skips printing the header for the "
              "stats.")
def main(bootstrap_server, broker_list, topic, messages, group, fetch_size, from_latest,
         socket_buffer_size, threads, num_fetch_threads, consumer_config, print_metrics,
         show_detailed_stats, timeout_ms, reporting_interval_ms, date_format,
         hide_header) -> None:
    """This tool helps in performance test for the full zookeeper consumer."""
    try:
        props = read_config_file(consumer_config)
        settings = consumer_perf_settings(
            bootstrap_server=bootstrap_server, broker_list=broker_list, topic=topic,
            messages=messages, group=group, fetch_size=fetch_size, from_latest=from_latest,
            timeout_ms=timeout_ms, reporting_interval_ms=reporting_interval_ms,
            show_detailed_stats=show_detailed_stats, date_format=date_format,
            hide_header=hide_header, print_metrics=print_metrics, props=props)
    except ConfigError as exc:
        fail(str(exc))
    run_trio(run_consumer_perf_test, settings)


if __name__ == "__main__":
    from kafkalite.cli.tools import run_module

    run_module("kafkalite.cli.consumer_perf_test")
