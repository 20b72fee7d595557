"""``kafka-verifiable-consumer.sh``: consume a topic in a group and print the consumer's life as
one JSON object per line — the output Kafka's system tests parse (Kafka 2.8's
VerifiableConsumer).

Events, each with ``timestamp`` (ms) and ``name`` first::

    {"timestamp":...,"name":"startup_complete"}
    {"timestamp":...,"name":"partitions_revoked","partitions":[{"topic":"t","partition":0}]}
    {"timestamp":...,"name":"partitions_assigned","partitions":[{"topic":"t","partition":0}]}
    {"timestamp":...,"name":"record_data","key":null,"value":"0","topic":"t","partition":0,
     "offset":0}                                                    (with --verbose)
    {"timestamp":...,"name":"records_consumed","count":3,"partitions":[{"topic":"t",
     "partition":0,"count":3,"minOffset":0,"maxOffset":2}]}
    {"timestamp":...,"name":"offsets_committed","offsets":[{"topic":"t","partition":0,
     "offset":3}],"success":true}
    {"timestamp":...,"name":"shutdown_complete"}

(each event is one line). After every poll that returned records the consumer commits what it
consumed, synchronously, and prints ``offsets_committed`` (with ``"error"`` when it failed) —
unless ``--enable-autocommit``, which leaves committing to the consumer. ``records_consumed``
counts the whole poll; its partition summaries stop at ``--max-messages``. The consumer runs
until ``--max-messages`` (default -1: forever) or SIGTERM/SIGINT, then leaves the group (the
revocation is printed) and prints ``shutdown_complete``. A failure is reported on stderr, the
consumer still closes and prints ``shutdown_complete``, and the exit status is 1.

Consumer properties: ``--consumer.config``, then the flags (``group.id``,
``group.instance.id``, ``enable.auto.commit``, ``auto.offset.reset`` from ``--reset-policy``,
``session.timeout.ms`` from ``--session-timeout``, ``partition.assignment.strategy``).
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Mapping, Sequence

import attrs
import click

from kafkalite.cli.client_properties import consumer_options
from kafkalite.cli.common import EXPECTED_ERRORS, choose_bootstrap, fail, read_config_file, \
    run_trio, run_until_signalled
from kafkalite.client.cluster import Cluster
from kafkalite.client.completed_fetch import ConsumerRecord
from kafkalite.client.consumer import Consumer
from kafkalite.client.errors import describe
from kafkalite.errors import ConfigError
from kafkalite.model import TopicPartition

__all__ = ["event", "summarize", "Summary", "VerifiableConsumerSettings", "main"]

DEFAULT_ASSIGNMENT_STRATEGY = "org.apache.kafka.clients.consumer.RangeAssignor"


def event(name: str, timestamp: int | None = None, **fields) -> str:
    """One JSON line: ``timestamp`` and ``name`` first, then ``fields`` in order."""
    body = {"timestamp": int(time.time() * 1000) if timestamp is None else timestamp,
            "name": name, **fields}
    return json.dumps(body, separators=(",", ":"), ensure_ascii=False)


def _text(data: bytes | None) -> str | None:
    return None if data is None else data.decode("utf-8", "replace")


def partitions_field(partitions: Sequence[TopicPartition]) -> list[dict]:
    return [{"topic": tp.topic, "partition": tp.partition} for tp in partitions]


@attrs.frozen
class Summary:
    """What one poll consumed: the records taken (up to the limit), per partition."""

    records: tuple[ConsumerRecord, ...]
    partitions: tuple[dict, ...]
    offsets: dict  # TopicPartition -> next offset to consume


def summarize(records: Sequence[ConsumerRecord], *, consumed: int, max_messages: int
              ) -> Summary:
    """Kafka's onRecordsReceived: per partition (in the order the poll returned them) count,
    min and max offset, cut at ``max_messages`` (-1: no limit) given ``consumed`` so far."""
    by_partition: dict[TopicPartition, list[ConsumerRecord]] = {}
    for record in records:
        by_partition.setdefault(TopicPartition(record.topic, record.partition), []).append(record)
    taken: list[ConsumerRecord] = []
    summaries: list[dict] = []
    offsets: dict[TopicPartition, int] = {}
    for tp, part in by_partition.items():
        if max_messages >= 0 and consumed + len(part) > max_messages:
            part = part[:max_messages - consumed]
        if not part:
            continue
        offsets[tp] = part[-1].offset + 1
        summaries.append({"topic": tp.topic, "partition": tp.partition, "count": len(part),
                          "minOffset": part[0].offset, "maxOffset": part[-1].offset})
        taken.extend(part)
        consumed += len(part)
        if max_messages >= 0 and consumed >= max_messages:
            break
    return Summary(tuple(taken), tuple(summaries), offsets)


@attrs.frozen(kw_only=True)
class VerifiableConsumerSettings:
    topic: str
    bootstrap: str
    max_messages: int = -1
    verbose: bool = False
    auto_commit: bool = False
    cluster: dict = attrs.field(factory=dict)
    consumer: dict = attrs.field(factory=dict)


async def run_verifiable_consumer(settings: VerifiableConsumerSettings, out=None) -> bool:
    """Consume and print events until done or signalled. Returns False after a failure."""
    out = out or sys.stdout

    def emit(line: str) -> None:
        out.write(line + "\n")
        out.flush()

    class Listener:
        def on_partitions_revoked(self, partitions) -> None:
            emit(event("partitions_revoked", partitions=partitions_field(partitions)))

        def on_partitions_assigned(self, partitions) -> None:
            emit(event("partitions_assigned", partitions=partitions_field(partitions)))

    ok = True
    emit(event("startup_complete"))
    async with Cluster(settings.bootstrap, **settings.cluster) as cluster:
        consumer = Consumer(cluster, **settings.consumer)
        consumer.subscribe([settings.topic], listener=Listener())
        consumed = 0

        async def consume() -> None:
            nonlocal consumed, ok
            try:
                while settings.max_messages < 0 or consumed < settings.max_messages:
                    records = await consumer.poll(None)
                    summary = summarize(records, consumed=consumed,
                                        max_messages=settings.max_messages)
                    if settings.verbose:
                        for r in summary.records:
                            emit(event("record_data", key=_text(r.key), value=_text(r.value),
                                       topic=r.topic, partition=r.partition, offset=r.offset))
                    consumed += len(summary.records)
                    emit(event("records_consumed", count=len(records),
                               partitions=list(summary.partitions)))
                    if not settings.auto_commit:
                        await _commit(consumer, summary.offsets, emit)
            except EXPECTED_ERRORS as exc:
                ok = False
                print(f"ERROR: Error during processing, terminating consumer process: "
                      f"{describe(exc)}", file=sys.stderr, flush=True)

        async with consumer:
            await run_until_signalled(consume)
    emit(event("shutdown_complete"))
    return ok


async def _commit(consumer: Consumer, offsets: dict[TopicPartition, int], emit) -> None:
    fields: dict = {"offsets": [{"topic": tp.topic, "partition": tp.partition, "offset": o}
                                for tp, o in offsets.items()]}
    try:
        await consumer.commit(offsets)
    except EXPECTED_ERRORS as exc:
        fields["error"] = str(exc)
        fields["success"] = False
    else:
        fields["success"] = True
    emit(event("offsets_committed", **fields))


def verifiable_consumer_settings(*, topic: str | None, group_id: str | None,
                                 bootstrap_server: str | None, broker_list: str | None,
                                 group_instance_id: str | None, max_messages: int,
                                 session_timeout: int, verbose: bool, enable_autocommit: bool,
                                 reset_policy: str, assignment_strategy: str,
                                 props: Mapping[str, str]) -> VerifiableConsumerSettings:
    """Kafka's checks, and the flags applied over the config file.

    Raises:
        click.UsageError: a missing argument.
        ConfigError: bad consumer properties.
    """
    if bootstrap_server is None and broker_list is None:
        raise click.UsageError("one of the arguments --bootstrap-server --broker-list is "
                               "required")
    if topic is None:
        raise click.UsageError("argument --topic is required")
    if group_id is None:
        raise click.UsageError("argument --group-id is required")
    bootstrap = choose_bootstrap(bootstrap_server, broker_list)
    merged = {**props, "bootstrap.servers": bootstrap, "group.id": group_id,
              "partition.assignment.strategy": assignment_strategy,
              "enable.auto.commit": "true" if enable_autocommit else "false",
              "auto.offset.reset": reset_policy, "session.timeout.ms": str(session_timeout)}
    if group_instance_id is not None:
        merged["group.instance.id"] = group_instance_id
    options = consumer_options(merged, client_id=f"consumer-{group_id}-1")
    return VerifiableConsumerSettings(
        topic=topic, bootstrap=bootstrap, max_messages=max_messages, verbose=verbose,
        auto_commit=enable_autocommit, cluster=options.cluster, consumer=options.client)


@click.command(context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--bootstrap-server", metavar="HOST1:PORT1[,HOST2:PORT2[...]]",
              help="REQUIRED unless --broker-list (deprecated) is specified. The server(s) to "
                   "connect to.")
@click.option("--broker-list", metavar="HOST1:PORT1[,HOST2:PORT2[...]]",
              help="DEPRECATED, use --bootstrap-server instead; ignored if --bootstrap-server "
                   "is specified.")
@click.option("--topic", metavar="TOPIC", help="REQUIRED: Consumes messages from this topic.")
@click.option("--group-id", metavar="GROUP_ID",
              help="REQUIRED: The groupId shared among members of the consumer group.")
@click.option("--group-instance-id", metavar="GROUP_INSTANCE_ID",
              help="A unique identifier of the consumer instance.")
@click.option("--max-messages", type=int, default=-1, show_default=True,
              help="Consume this many messages. If -1 (the default), the consumer will "
                   "consume until the process is killed externally.")
@click.option("--session-timeout", type=int, default=30_000, show_default=True,
              metavar="TIMEOUT_MS", help="Set the consumer's session timeout.")
@click.option("--verbose", is_flag=True, help="Enable to log individual consumed records.")
@click.option("--enable-autocommit", is_flag=True, help="Enable offset auto-commit on "
              "consumer.")
@click.option("--reset-policy", type=click.Choice(["earliest", "latest", "none"]),
              default="earliest", show_default=True, help="Set reset policy.")
@click.option("--assignment-strategy", default=DEFAULT_ASSIGNMENT_STRATEGY, show_default=True,
              help="Set assignment strategy (e.g. "
                   "org.apache.kafka.clients.consumer.RoundRobinAssignor).")
@click.option("--consumer.config", "consumer_config", metavar="CONFIG_FILE",
              help="Consumer config properties file (config options shared with command line "
                   "parameters will be overridden).")
def main(bootstrap_server, broker_list, topic, group_id, group_instance_id, max_messages,
         session_timeout, verbose, enable_autocommit, reset_policy, assignment_strategy,
         consumer_config) -> None:
    """This tool consumes messages from a specific topic and emits consumer events (e.g. group
    rebalances, received messages, and offsets committed) as JSON objects to STDOUT."""
    try:
        settings = verifiable_consumer_settings(
            topic=topic, group_id=group_id, bootstrap_server=bootstrap_server,
            broker_list=broker_list, group_instance_id=group_instance_id,
            max_messages=max_messages, session_timeout=session_timeout, verbose=verbose,
            enable_autocommit=enable_autocommit, reset_policy=reset_policy,
            assignment_strategy=assignment_strategy, props=read_config_file(consumer_config))
    except ConfigError as exc:
        fail(str(exc))
    if not run_trio(run_verifiable_consumer, settings):
        sys.exit(1)


if __name__ == "__main__":
    from kafkalite.cli.tools import run_module

    run_module("kafkalite.cli.verifiable_consumer")
