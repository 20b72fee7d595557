"""``kafka-verifiable-producer.sh``: produce increasing integers and print, as one JSON object
per line, what happened to each send — the output Kafka's system tests parse (Kafka 2.8's
VerifiableProducer).

Values are ``"0"``, ``"1"``, ``"2"``, ... (``--value-prefix P``: ``"P.0"``, ``"P.1"``, ...);
keys are null, or with ``--repeating-keys K`` ``"0"`` .. ``"K-1"`` over and over. Events, each
with ``timestamp`` (ms) and ``name`` first::

    {"timestamp":1631264935963,"name":"startup_complete"}
    {"timestamp":...,"name":"producer_send_success","key":null,"value":"0","topic":"t",
     "partition":0,"offset":0}
    {"timestamp":...,"name":"producer_send_error","key":null,"value":"7","topic":"t",
     "exception":"class org.apache.kafka.common.errors.TimeoutException","message":"..."}
    {"timestamp":...,"name":"shutdown_complete"}
    {"timestamp":...,"name":"tool_data","sent":10,"acked":10,"target_throughput":-1,
     "avg_throughput":412.2}

(each event is one line). ``--max-messages -1`` (the default) produces until SIGTERM/SIGINT;
either way the producer is flushed, then ``shutdown_complete`` and ``tool_data`` are printed, as
Kafka's shutdown hook does. The producer sends with ``acks`` from ``--acks`` (default -1) and no
retries; ``--producer.config`` is applied over those. ``--message-create-time T`` gives the
records create times starting at T.
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Mapping

import attrs
import click
import trio

from kafkalite.cli.callback_producer import CallbackProducer
from kafkalite.cli.client_properties import producer_options
from kafkalite.cli.common import EXPECTED_ERRORS, choose_bootstrap, fail, read_config_file, \
    run_trio, run_until_signalled
from kafkalite.cli.java_formats import java_exception_class
from kafkalite.cli.throughput import ThroughputThrottler
from kafkalite.client.cluster import Cluster, is_retriable
from kafkalite.client.producer import DeliveryHandle
from kafkalite.errors import ConfigError

__all__ = ["event", "value_for", "KeyCounter", "VerifiableProducerSettings", "main"]

_CHECKPOINT_EVERY = 64
_UNAVAILABLE_PAUSE_S = 1.0


def _now_ms() -> int:
    return int(time.time() * 1000)


def event(name: str, timestamp: int | None = None, **fields) -> str:
    """One JSON line: ``timestamp`` and ``name`` first, then ``fields`` in order."""
    body = {"timestamp": _now_ms() if timestamp is None else timestamp, "name": name, **fields}
    return json.dumps(body, separators=(",", ":"), ensure_ascii=False)


def value_for(i: int, value_prefix: int | None) -> str:
    """The value of the i-th record: ``"i"`` or ``"prefix.i"``."""
    return f"{i}" if value_prefix is None else f"{value_prefix}.{i}"


class KeyCounter:
    """Keys "0".."n-1" repeating (``--repeating-keys n``); None without it."""

    def __init__(self, repeating_keys: int | None):
        self.repeating_keys = repeating_keys
        self._next = 0

    def next_key(self) -> str | None:
        if self.repeating_keys is None:
            return None
        key = str(self._next)
        self._next += 1
        if self._next == self.repeating_keys:
            self._next = 0
        return key


@attrs.frozen(kw_only=True)
class VerifiableProducerSettings:
    topic: str
    bootstrap: str
    max_messages: int = -1
    throughput: int = -1
    value_prefix: int | None = None
    repeating_keys: int | None = None
    create_time: int | None = None
    cluster: dict = attrs.field(factory=dict)
    producer: dict = attrs.field(factory=dict)


@attrs.define
class _Counts:
    sent: int = 0
    acked: int = 0


def _error_event(topic: str, key: str | None, value: str, error: BaseException) -> str:
    return event("producer_send_error", key=key, value=value, topic=topic,
                 exception=java_exception_class(error), message=str(error))


async def run_verifiable_producer(settings: VerifiableProducerSettings, out=None) -> _Counts:
    """Produce, print the events, stop at ``max_messages`` or a signal."""
    out = out or sys.stdout
    counts = _Counts()
    pending: dict[DeliveryHandle, tuple[str | None, str]] = {}

    def emit(line: str) -> None:
        out.write(line + "\n")
        out.flush()

    def completed(handle: DeliveryHandle) -> None:
        key, value = pending.pop(handle, (None, ""))
        if handle.error is None:
            counts.acked += 1
            result = handle.result
            emit(event("producer_send_success", key=key, value=value, topic=result.topic,
                       partition=result.partition, offset=result.offset))
        else:
            emit(_error_event(settings.topic, key, value, handle.error))

    start_ms = _now_ms()
    async with Cluster(settings.bootstrap, **settings.cluster) as cluster:
        async with CallbackProducer(cluster, on_completion=completed,
                                    **settings.producer) as producer:
            async def produce() -> None:
                keys = KeyCounter(settings.repeating_keys)
                throttler = ThroughputThrottler(settings.throughput, _now_ms())
                create_time = settings.create_time
                limit = settings.max_messages if settings.max_messages >= 0 else None
                i = 0
                emit(event("startup_complete"))
                while limit is None or i < limit:
                    send_start = _now_ms()
                    key, value = keys.next_key(), value_for(i, settings.value_prefix)
                    counts.sent += 1
                    try:
                        handle = await producer.enqueue(settings.topic, value, key=key,
                                                        timestamp_ms=create_time)
                        pending[handle] = (key, value)
                    except EXPECTED_ERRORS as exc:
                        emit(_error_event(settings.topic, key, value, exc))
                        if is_retriable(exc):
                            # Kafka's send blocks up to max.block.ms before failing like this;
                            # do not spin through the values while the cluster is away.
                            await trio.sleep(_UNAVAILABLE_PAUSE_S)
                    if create_time is not None:
                        create_time += _now_ms() - start_ms
                    if throttler.should_throttle(i, send_start):
                        delay = throttler.throttle_delay()
                        if delay:
                            await trio.sleep(delay)
                    elif i % _CHECKPOINT_EVERY == 0:
                        await trio.lowlevel.checkpoint()
                    i += 1

            await run_until_signalled(produce)
            await producer.flush()
    emit(event("shutdown_complete"))
    stop_ms = _now_ms()
    avg = 1000 * counts.acked / (stop_ms - start_ms) if stop_ms > start_ms else 0.0
    emit(event("tool_data", sent=counts.sent, acked=counts.acked,
               target_throughput=settings.throughput, avg_throughput=avg))
    return counts


def verifiable_producer_settings(*, topic: str | None, bootstrap_server: str | None,
                                 broker_list: str | None, max_messages: int, throughput: int,
                                 acks: int, value_prefix: int | None,
                                 repeating_keys: int | None, create_time: int,
                                 props: Mapping[str, str]) -> VerifiableProducerSettings:
    """Kafka's checks and producer properties (acks and no retries, then the config file).

    Raises:
        click.UsageError: a missing argument.
        ConfigError: bad producer properties.
    """
    if topic is None:
        raise click.UsageError("argument --topic is required")
    if bootstrap_server is None and broker_list is None:
        raise click.UsageError("one of the arguments --bootstrap-server --broker-list is "
                               "required")
    bootstrap = choose_bootstrap(bootstrap_server, broker_list)
    if repeating_keys is not None and repeating_keys <= 0:
        raise click.UsageError("--repeating-keys must be a positive number")
    merged = {"bootstrap.servers": bootstrap, "acks": str(acks), "retries": "0", **props}
    options = producer_options(merged, client_id="producer-1")
    return VerifiableProducerSettings(
        topic=topic, bootstrap=options.bootstrap or bootstrap, max_messages=max_messages,
        throughput=throughput, value_prefix=value_prefix, repeating_keys=repeating_keys,
        create_time=None if create_time == -1 else create_time, cluster=options.cluster,
        producer=options.client)


@click.command(context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--topic", metavar="TOPIC", help="REQUIRED: Produce messages to this topic.")
@click.option("--bootstrap-server", metavar="HOST1:PORT1[,HOST2:PORT2[...]]",
              help="REQUIRED unless --broker-list (deprecated) is specified. The server(s) "
                   "to connect to.")
@click.option("--broker-list", metavar="HOST1:PORT1[,HOST2:PORT2[...]]",
              help="DEPRECATED, use --bootstrap-server instead; ignored if --bootstrap-server "
                   "is specified.")
@click.option("--max-messages", type=int, default=-1, show_default=True,
              help="Produce this many messages. If -1, produce messages until the process is "
                   "killed externally.")
@click.option("--throughput", type=int, default=-1, show_default=True,
              help="If set >= 0, throttle maximum message throughput to *approximately* "
                   "THROUGHPUT messages/sec.")
@click.option("--acks", type=click.Choice(["0", "1", "-1"]), default="-1", show_default=True,
              help="Acks required on each produced message.")
@click.option("--producer.config", "producer_config", metavar="CONFIG_FILE",
              help="Producer config properties file.")
@click.option("--message-create-time", "create_time", type=int, default=-1, show_default=True,
              help="Send messages with creation time starting at the arguments value, in "
                   "milliseconds since epoch.")
@click.option("--value-prefix", type=int,
              help="If specified, each produced value will have this prefix with a dot "
                   "separator.")
@click.option("--repeating-keys", type=int,
              help="If specified, each produced record will have a key starting at 0 "
                   "increment by 1 up to the number specified (exclusive), then the key is "
                   "set to 0 again.")
@click.option("--transactional-id", help="Produce in transactions (not available in "
              "kafkalite).")
def main(topic, bootstrap_server, broker_list, max_messages, throughput, acks,
         producer_config, create_time, value_prefix, repeating_keys, transactional_id) -> None:
    """This tool produces increasing integers to the specified topic and prints JSON metadata
    to stdout on each "send" request, making externally visible which messages have been
    acked and which have not."""
    try:
        settings = verifiable_producer_settings(
            topic=topic, bootstrap_server=bootstrap_server, broker_list=broker_list,
            max_messages=max_messages, throughput=throughput, acks=int(acks),
            value_prefix=value_prefix, repeating_keys=repeating_keys, create_time=create_time,
            props=read_config_file(producer_config))
    except ConfigError as exc:
        fail(str(exc))
    if transactional_id is not None:
        fail("--transactional-id is not supported: the kafkalite producer has no "
             "transactional mode")
    run_trio(run_verifiable_producer, settings)


if __name__ == "__main__":
    from kafkalite.cli.tools import run_module

    run_module("kafkalite.cli.verifiable_producer")
