"""``kafka-transactions.sh``: inspect producers and transactions, find and abort hanging ones.

Kafka 3.x's TransactionsCommand (KIP-664), same subcommands, flags, tables and messages::

    kafka-transactions.sh --bootstrap-server host:port [--command-config FILE] COMMAND ...
      list [--duration-filter MS]
      describe --transactional-id ID
      describe-producers --topic T --partition P [--broker-id B]
      abort --topic T --partition P (--start-offset O
                                     | --producer-id I --producer-epoch E --coordinator-epoch C)
      find-hanging (--broker-id B | --topic T [--partition P]) [--max-transaction-timeout MIN]

Why the tool exists: a *hanging* transaction is one a partition still holds open (so its last
stable offset, and every read_committed consumer, is stuck) while its coordinator no longer
expects to finish it. ``find-hanging`` finds producers whose open transaction on a partition is
older than the longest allowed transaction timeout and keeps those whose coordinator does not
list that partition in an ongoing transaction (Kafka's cross-check); ``abort`` writes the ABORT
marker the coordinator never wrote.

Output is Kafka's ``ToolsUtils.prettyPrintTable``: every cell, headers included, left-aligned and
padded with spaces to its column's widest value, then a tab — so each line ends with a tab.
Optional values print as Kafka prints them ("None", -1).

Exit status: 0 on success; 1 with Kafka's message on stderr when a call fails (``<what>: <cause>.
Enable debug logging for additional detail.``; ``KAFKALITE_LOG_LEVEL=DEBUG`` logs the cause's
traceback) or when the arguments do not fit together (Kafka's checks in ``execute``); 2 for what
Kafka's argument parser rejects (a missing required flag, a non-number) — the house rule for
click usage errors, where Kafka exits 1.

``list --duration-filter`` needs ListTransactions v1 (KIP-994), which this client does not speak:
like Kafka's client against a broker without v1, a value >= 0 fails with UNSUPPORTED_VERSION.
"""

from __future__ import annotations

import logging
import os
import sys
import time
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

import attrs
import click

from kafkalite import __version__
from kafkalite.cli.common import (CLIENT_SECURITY_KEYS, cluster_kwargs, read_config_file,
                                  run_trio, warn_unknown)
from kafkalite.client.errors import ClientError
from kafkalite.client.transactions_admin import (
    AbortTransactionSpec,
    ProducerState,
    TransactionDescription,
    TransactionListing,
)
from kafkalite.errors import ConfigError, KafkaError, TransactionalIdNotFound
from kafkalite.model import TopicPartition

__all__ = ["main", "pretty_print_table", "format_list", "format_describe", "format_producers",
           "format_hanging", "OpenTransaction", "CommandFailed", "list_transactions",
           "describe_transaction", "describe_producers", "abort_transaction", "find_hanging",
           "LIST_HEADERS", "DESCRIBE_HEADERS", "PRODUCER_HEADERS", "HANGING_HEADERS"]

log = logging.getLogger(__name__)

LIST_HEADERS = ("TransactionalId", "Coordinator", "ProducerId", "TransactionState")
DESCRIBE_HEADERS = ("CoordinatorId", "TransactionalId", "ProducerId", "ProducerEpoch",
                    "TransactionState", "TransactionTimeoutMs", "CurrentTransactionStartTimeMs",
                    "TransactionDurationMs", "TopicPartitions")
PRODUCER_HEADERS = ("ProducerId", "ProducerEpoch", "LatestCoordinatorEpoch", "LastSequence",
                    "LastTimestamp", "CurrentTransactionStartOffset")
HANGING_HEADERS = ("Topic", "Partition", "ProducerId", "ProducerEpoch", "CoordinatorEpoch",
                   "StartOffset", "LastTimestamp", "Duration(min)")

#: find-hanging asks about at most this many topics / partitions per request (Kafka's batches).
MAX_BATCH_SIZE = 500
_MS_PER_MINUTE = 60_000


class _JavaInt(click.ParamType):
    """An integer with a Java type's range (Kafka parses Short/Integer/Long), shown as
    ``SHORT``/``INTEGER``/``LONG`` in help rather than click's long range text."""

    def __init__(self, name: str, bits: int):
        self.name = name
        self.low, self.high = -2 ** (bits - 1), 2 ** (bits - 1) - 1

    def convert(self, value: Any, param: Any, ctx: Any) -> int:
        if isinstance(value, int):
            number = value
        else:
            try:
                number = int(str(value).strip())
            except ValueError:
                self.fail(f"could not convert '{value}' to {self.name.capitalize()}", param, ctx)
        if not self.low <= number <= self.high:
            self.fail(f"{value} is out of range for {self.name.capitalize()} "
                      f"({self.low}..{self.high})", param, ctx)
        return number


_INT16 = _JavaInt("SHORT", 16)
_INT32 = _JavaInt("INTEGER", 32)
_INT64 = _JavaInt("LONG", 64)
#: --command-config keys this client honours besides the TLS/SASL ones
#: (:data:`~kafkalite.cli.common.CLIENT_SECURITY_KEYS`); others are warned about and ignored.
_ADMIN_CONFIGS = {"bootstrap.servers": None, "client.id": "client_id",
                  "request.timeout.ms": "request_timeout_ms",
                  "default.api.timeout.ms": "retry_timeout_ms",
                  "retry.backoff.ms": "retry_backoff_ms",
                  "retry.backoff.max.ms": "retry_backoff_max_ms"}


class CommandFailed(Exception):
    """A failure to print verbatim on stderr, exiting 1 (Kafka's ``printErrorAndExit``)."""


def failure(message: str, cause: BaseException | None = None) -> CommandFailed:
    """Kafka's two forms: the message alone, or ``<message>: <cause>. Enable debug logging for
    additional detail.`` (the cause is logged at DEBUG with its traceback)."""
    if cause is None:
        return CommandFailed(message)
    log.debug(message, exc_info=cause)
    return CommandFailed(f"{message}: {cause}. Enable debug logging for additional detail.")


# --- formatting (pure) -------------------------------------------------------------------------


def pretty_print_table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> list[str]:
    """Kafka's ToolsUtils.prettyPrintTable: each cell padded to its column width plus a tab."""
    widths = [len(h) for h in headers]
    for row in rows:
        for i in range(len(headers)):
            widths[i] = max(widths[i], len(row[i]))
    return ["".join(f"{cell:<{widths[i]}}\t" for i, cell in enumerate(row))
            for row in [list(headers), *rows]]


def format_list(listings: Sequence[TransactionListing]) -> list[str]:
    """The ``list`` table, grouped by coordinator as Kafka's ``allByBrokerId`` map is."""
    ordered = sorted(listings, key=lambda entry: entry.coordinator_id)  # stable: keeps order
    return pretty_print_table(LIST_HEADERS, [
        [entry.transactional_id, str(entry.coordinator_id), str(entry.producer_id), entry.state]
        for entry in ordered])


def format_describe(description: TransactionDescription, now_ms: int) -> list[str]:
    """The ``describe`` table; start time and duration are "None" without an open
    transaction."""
    d = description
    start = "None" if d.start_time_ms is None else str(d.start_time_ms)
    duration = "None" if d.start_time_ms is None else str(now_ms - d.start_time_ms)
    return pretty_print_table(DESCRIBE_HEADERS, [[
        str(d.coordinator_id), d.transactional_id, str(d.producer_id), str(d.producer_epoch),
        d.state, str(d.timeout_ms), start, duration,
        ",".join(str(tp) for tp in d.partitions)]])


def format_producers(producers: Sequence[ProducerState]) -> list[str]:
    """The ``describe-producers`` table (coordinator epoch -1 and start offset "None" when
    absent)."""
    return pretty_print_table(PRODUCER_HEADERS, [[
        str(p.producer_id), str(p.producer_epoch),
        str(-1 if p.coordinator_epoch is None else p.coordinator_epoch),
        str(p.last_sequence), str(p.last_timestamp),
        "None" if p.current_txn_start_offset is None else str(p.current_txn_start_offset)]
        for p in producers])


@attrs.frozen
class OpenTransaction:
    """A producer with an open transaction on a partition (a find-hanging candidate)."""

    topic_partition: TopicPartition
    producer: ProducerState


def _minutes(ms: int) -> int:
    """Java's TimeUnit.MILLISECONDS.toMinutes: truncates toward zero."""
    return ms // _MS_PER_MINUTE if ms >= 0 else -(-ms // _MS_PER_MINUTE)


def format_hanging(transactions: Sequence[OpenTransaction], now_ms: int) -> list[str]:
    """The ``find-hanging`` table; the duration is minutes since the producer's last write."""
    rows = []
    for t in transactions:
        p = t.producer
        rows.append([
            t.topic_partition.topic, str(t.topic_partition.partition), str(p.producer_id),
            str(p.producer_epoch), str(-1 if p.coordinator_epoch is None else p.coordinator_epoch),
            str(-1 if p.current_txn_start_offset is None else p.current_txn_start_offset),
            str(p.last_timestamp), str(_minutes(now_ms - p.last_timestamp))])
    return pretty_print_table(HANGING_HEADERS, rows)


# --- the commands (admin: kafkalite.client.admin.Admin or a test double) ---------------------

_CALL_ERRORS = (KafkaError, ClientError)


async def list_transactions(admin: Any, duration_filter: int | None = None) -> list[str]:
    """``list``: every transaction of every coordinator."""
    try:
        listings = await admin.list_transactions(
            duration_filter_ms=-1 if duration_filter is None else duration_filter)
    except _CALL_ERRORS as exc:
        raise failure("Failed to list transactions", exc) from None
    return format_list(listings)


async def describe_transaction(admin: Any, transactional_id: str, now_ms: int) -> list[str]:
    """``describe``: one transactional id, as its coordinator sees it."""
    try:
        result = (await admin.describe_transactions([transactional_id]))[transactional_id]
    except _CALL_ERRORS as exc:
        result = exc
    if isinstance(result, BaseException):
        raise failure(f"Failed to describe transaction state of transactional-id "
                      f"`{transactional_id}`", result)
    return format_describe(result, now_ms)


async def describe_producers(admin: Any, tp: TopicPartition, broker_id: int | None) -> list[str]:
    """``describe-producers``: a partition's active producers on its leader or ``broker_id``."""
    try:
        result = (await admin.describe_producers([tp], broker_id=broker_id))[tp]
    except _CALL_ERRORS as exc:
        result = exc
    if isinstance(result, BaseException):
        clause = "leader" if broker_id is None else f"broker {broker_id}"
        raise failure(f"Failed to describe producers for partition {tp} on {clause}", result)
    return format_producers(result)


async def abort_transaction(admin: Any, tp: TopicPartition, *, start_offset: int | None,
                            producer_id: int | None, producer_epoch: int | None,
                            coordinator_epoch: int | None) -> None:
    """``abort``: by start offset (the open transaction starting there, found with
    DescribeProducers) or by explicit producer id, epoch and coordinator epoch."""
    if start_offset is None and producer_id is None:
        raise failure("The transaction to abort must be identified either with --start-offset "
                      "(for brokers on 3.0 or above) or with --producer-id, --producer-epoch, "
                      "and --coordinator-epoch (for older brokers)")
    if start_offset is None:
        if producer_epoch is None:
            raise failure("Missing required argument --producer-epoch")
        if coordinator_epoch is None:
            raise failure("Missing required argument --coordinator-epoch")
        # A transaction that hung before its first marker shows coordinator epoch -1; 0 is
        # then the safe choice: it is <= any epoch the partition may have seen (Kafka's rule).
        spec = AbortTransactionSpec(tp, producer_id, producer_epoch, max(coordinator_epoch, 0))
    else:
        spec = await _spec_at_offset(admin, tp, start_offset)
    try:
        await admin.abort_transaction(spec.topic_partition, spec.producer_id,
                                      spec.producer_epoch, spec.coordinator_epoch)
    except _CALL_ERRORS as exc:
        raise failure(f"Failed to abort transaction {spec}", exc) from None


async def _spec_at_offset(admin: Any, tp: TopicPartition, start_offset: int
                          ) -> AbortTransactionSpec:
    try:
        result = (await admin.describe_producers([tp]))[tp]
    except _CALL_ERRORS as exc:
        result = exc
    if isinstance(result, BaseException):
        raise failure(f"Failed to validate producer state for partition {tp}", result)
    for p in result:
        if p.current_txn_start_offset is not None and p.current_txn_start_offset == start_offset:
            epoch = 0 if p.coordinator_epoch is None else p.coordinator_epoch
            return AbortTransactionSpec(tp, p.producer_id, p.producer_epoch, epoch)
    raise failure(f"Could not find any open transactions starting at offset {start_offset} on "
                  f"partition {tp}")


def _batches(items: Sequence[Any], size: int = MAX_BATCH_SIZE):
    for start in range(0, len(items), size):
        yield items[start:start + size]


def _java_optional(value: int | None) -> str:
    """How Java prints an ``Optional<Integer>`` (Kafka's find-hanging message does)."""
    return "Optional.empty" if value is None else f"Optional[{value}]"


async def find_hanging(admin: Any, *, broker_id: int | None, topic: str | None,
                       partition: int | None, max_transaction_timeout: int,
                       now_ms: int) -> list[str]:
    """``find-hanging``: open transactions older than ``max_transaction_timeout`` minutes on
    the partitions searched, minus those their coordinator still expects to finish."""
    if topic is None and broker_id is None:
        raise failure("The `find-hanging` command requires either --topic or --broker-id to "
                      "limit the scope of the search")
    if partition is not None and topic is None:
        raise failure("The --partition argument requires --topic to be provided")
    max_ms = max_transaction_timeout * _MS_PER_MINUTE
    partitions = await _partitions_to_search(admin, topic, partition, broker_id)
    candidates: list[OpenTransaction] = []
    for batch in _batches(partitions):
        try:
            results = await admin.describe_producers(batch, broker_id=broker_id)
            errors = [r for r in results.values() if isinstance(r, BaseException)]
            if errors:
                raise errors[0]
        except _CALL_ERRORS as exc:
            raise failure(f"Failed to describe producers for {len(batch)} partitions on broker "
                          f"{_java_optional(broker_id)}", exc) from None
        for tp in batch:
            for p in results.get(tp, ()):
                if (p.current_txn_start_offset is not None
                        and now_ms - p.last_timestamp > max_ms):
                    candidates.append(OpenTransaction(tp, p))
    if not candidates:
        return format_hanging([], now_ms)
    by_producer: dict[int, list[OpenTransaction]] = {}
    for t in candidates:
        by_producer.setdefault(t.producer.producer_id, []).append(t)
    transactional_ids = await _transactional_ids(admin, set(by_producer))
    descriptions = await _descriptions(admin, list(transactional_ids.values()))
    hanging: list[OpenTransaction] = []
    for producer_id, open_transactions in by_producer.items():
        description = descriptions.get(transactional_ids.get(producer_id))
        if description is None:  # no transactional id, or its coordinator does not know it
            hanging += open_transactions
            continue
        # DescribeTransactions lists the partitions of an ongoing transaction and those still
        # awaiting markers in PrepareCommit/PrepareAbort: the coordinator will finish those.
        hanging += [t for t in open_transactions
                    if t.topic_partition not in description.partitions]
    return format_hanging(hanging, now_ms)


async def _partitions_to_search(admin: Any, topic: str | None, partition: int | None,
                                broker_id: int | None) -> list[TopicPartition]:
    if topic is not None and partition is not None:
        return [TopicPartition(topic, partition)]
    if topic is not None:
        topics = [topic]
    else:
        try:
            topics = await admin.list_topics(include_internal=True)
        except _CALL_ERRORS as exc:
            raise failure("Failed to list topics", exc) from None
    out: list[TopicPartition] = []
    for batch in _batches(topics):
        try:
            descriptions = await admin.describe_topics(batch, include_configs=False)
            bad = [d.error for d in descriptions if d.error is not None]
            if bad:
                raise bad[0]
        except _CALL_ERRORS as exc:
            raise failure(f"Failed to describe {len(batch)} topics", exc) from None
        for d in descriptions:
            out += [TopicPartition(d.name, p.partition) for p in d.partitions
                    if broker_id is None or broker_id in p.replicas]
    return out


async def _transactional_ids(admin: Any, producer_ids: set[int]) -> dict[int, str]:
    try:
        listings = await admin.list_transactions(producer_id_filters=sorted(producer_ids))
    except _CALL_ERRORS as exc:
        raise failure(f"Failed to list transactions for {len(producer_ids)} producers",
                      exc) from None
    return {entry.producer_id: entry.transactional_id for entry in listings
            if entry.producer_id in producer_ids}


async def _descriptions(admin: Any, transactional_ids: list[str]
                        ) -> dict[str, TransactionDescription]:
    """Descriptions of the ids the coordinators know (an unknown id simply has none)."""
    try:
        results = await admin.describe_transactions(transactional_ids)
        out = {}
        for tid in transactional_ids:
            result = results[tid]
            if isinstance(result, TransactionalIdNotFound):
                continue
            if isinstance(result, BaseException):
                raise result
            out[tid] = result
        return out
    except _CALL_ERRORS as exc:
        raise failure(f"Failed to describe {len(transactional_ids)} transactions", exc) from None


# --- command line ------------------------------------------------------------------------------


def _cluster_settings(command_config: str | None) -> dict[str, Any]:
    """Cluster keyword arguments from the ``--command-config`` properties: the timeouts of
    :data:`_ADMIN_CONFIGS`, ``client.id``, and TLS/SASL for a secured listener."""
    try:
        props = read_config_file(command_config)
    except ConfigError as exc:
        raise failure("Failed to load admin client properties", exc) from None
    warn_unknown(props, _ADMIN_CONFIGS.keys() | CLIENT_SECURITY_KEYS)
    try:
        settings = cluster_kwargs(props, client_id="kafka-transactions")
    except ConfigError as exc:
        raise failure("Failed to create admin client", exc) from None
    for key, name in _ADMIN_CONFIGS.items():
        if name in (None, "client_id") or key not in props:
            continue
        value = props[key].strip()
        try:
            settings[name] = int(value)
        except ValueError:
            raise failure(f"Invalid value {value} for configuration {key}: Not a number of "
                          "type INT") from None
    return settings


def _execute(ctx: click.Context,
             command: Callable[[Any], Awaitable[list[str] | None]]) -> None:
    """Run ``command(admin)`` under trio and print its lines; ``ctx.obj["admin"]`` (tests)
    replaces the real admin client."""
    from kafkalite.client.admin import Admin
    from kafkalite.client.cluster import Cluster

    obj = ctx.obj

    async def run() -> list[str] | None:
        if obj.get("admin") is not None:
            return await command(obj["admin"])
        settings = _cluster_settings(obj["command_config"])
        async with Cluster(obj["bootstrap_server"], **settings) as cluster:
            return await command(Admin(cluster))

    try:
        lines = run_trio(run)
    except CommandFailed as exc:
        click.echo(str(exc), err=True)
        sys.exit(1)
    for line in lines or ():
        click.echo(line)


def _now_ms(ctx: click.Context) -> int:
    clock = ctx.obj.get("now_ms")
    return clock() if clock is not None else int(time.time() * 1000)


_ABORT_HELP = "abort a hanging transaction (requires administrative privileges)"
_DESCRIBE_PRODUCERS_HELP = "describe the states of active producers for a topic partition"


@click.group(context_settings={"help_option_names": ["-h", "--help"]},
             help="This tool is used to analyze the transactional state of producers in the "
                  "cluster. It can be used to detect and recover from hanging transactions.")
@click.version_option(__version__, "-v", "--version", message="%(version)s",
                      help="show the version of this Kafka distribution and exit")
@click.option("--command-config", metavar="FILE",
              help="property file containing configs to be passed to admin client")
@click.option("--bootstrap-server", metavar="host:port", required=True,
              help="hostname and port for the broker to connect to, in the form `host:port`  "
                   "(multiple comma-separated entries can be given)")
@click.pass_context
def kafka_transactions(ctx: click.Context, command_config: str | None,
                       bootstrap_server: str) -> None:
    """The global options; the subcommand does the work."""
    ctx.ensure_object(dict)
    ctx.obj.update(command_config=command_config, bootstrap_server=bootstrap_server)
    if os.environ.get("KAFKALITE_LOG_LEVEL") and not ctx.obj.get("admin"):
        from kafkalite.cli.logs import configure_logging

        configure_logging(stream=sys.stderr)


@kafka_transactions.command("list", help="list transactions",
                            short_help="list transactions")
@click.option("--duration-filter", type=_INT64,
              help="Duration (in millis) to filter by: if < 0, all transactions will be "
                   "returned; otherwise, only transactions running longer than this duration "
                   "will be returned")
@click.pass_context
def list_command(ctx: click.Context, duration_filter: int | None) -> None:
    _execute(ctx, lambda admin: list_transactions(admin, duration_filter))


@kafka_transactions.command("describe", help="Describe the state of an active transactional-id.",
                            short_help="describe the state of an active transactional-id")
@click.option("--transactional-id", required=True, help="transactional id")
@click.pass_context
def describe_command(ctx: click.Context, transactional_id: str) -> None:
    _execute(ctx, lambda admin: describe_transaction(admin, transactional_id, _now_ms(ctx)))


@kafka_transactions.command(
    "describe-producers", help=_DESCRIBE_PRODUCERS_HELP, short_help=_DESCRIBE_PRODUCERS_HELP)
@click.option("--broker-id", type=_INT32,
              help="optional broker id to describe the producer state on a specific replica")
@click.option("--topic", required=True, help="topic name")
@click.option("--partition", type=_INT32, required=True, help="partition number")
@click.pass_context
def describe_producers_command(ctx: click.Context, broker_id: int | None, topic: str,
                               partition: int) -> None:
    tp = TopicPartition(topic, partition)
    _execute(ctx, lambda admin: describe_producers(admin, tp, broker_id))


@kafka_transactions.command("abort", help=_ABORT_HELP, short_help=_ABORT_HELP)
@click.option("--topic", required=True, help="topic name")
@click.option("--partition", type=_INT32, required=True, help="partition number")
@click.option("--start-offset", type=_INT64,
              help="start offset of the transaction to abort (brokers on versions 3.0 and "
                   "above: only this is required)")
@click.option("--producer-id", type=_INT64,
              help="producer id (brokers older than 3.0: give all three of these)")
@click.option("--producer-epoch", type=_INT16, help="producer epoch")
@click.option("--coordinator-epoch", type=_INT32, help="coordinator epoch")
@click.pass_context
def abort_command(ctx: click.Context, topic: str, partition: int, start_offset: int | None,
                  producer_id: int | None, producer_epoch: int | None,
                  coordinator_epoch: int | None) -> None:
    tp = TopicPartition(topic, partition)
    _execute(ctx, lambda admin: abort_transaction(
        admin, tp, start_offset=start_offset, producer_id=producer_id,
        producer_epoch=producer_epoch, coordinator_epoch=coordinator_epoch))


@kafka_transactions.command("find-hanging", help="find hanging transactions",
                            short_help="find hanging transactions")
@click.option("--broker-id", type=_INT32, help="broker id to search for hanging transactions")
@click.option("--max-transaction-timeout", type=_INT32, default=15, show_default=True,
              help="maximum transaction timeout in minutes to limit the scope of the search "
                   "(15 minutes by default)")
@click.option("--topic",
              help="topic name to limit search to (required if --partition is specified)")
@click.option("--partition", type=_INT32, help="partition number")
@click.pass_context
def find_hanging_command(ctx: click.Context, broker_id: int | None,
                         max_transaction_timeout: int, topic: str | None,
                         partition: int | None) -> None:
    _execute(ctx, lambda admin: find_hanging(
        admin, broker_id=broker_id, topic=topic, partition=partition,
        max_transaction_timeout=max_transaction_timeout, now_ms=_now_ms(ctx)))


def main() -> None:
    kafka_transactions(prog_name="kafka-transactions.sh")


if __name__ == "__main__":
    main()
