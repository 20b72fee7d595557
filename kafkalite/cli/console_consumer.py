"""``kafka-console-consumer.sh``: print records of a topic to stdout.

Follows Kafka 2.8's ConsoleConsumer:

* ``--topic`` (or ``--whitelist``/``--include`` regex) subscribes to every partition;
  ``--partition P`` consumes just that one, from ``--offset`` (earliest, latest or a
  non-negative number; it needs ``--partition``). Without ``--from-beginning`` or ``--offset``
  consumption starts at the end (latest), so only new records are shown;
* ``--max-messages N`` stops after N records, ``--timeout-ms MS`` after MS with no record;
  either way (and on Ctrl-C or error) "Processed a total of N messages" goes to stderr;
* records are printed by Kafka's DefaultMessageFormatter rules (:class:`MessageFormatter`).

``--group G`` (or ``group.id`` in the consumer properties) consumes as a member of group G:
the group assigns the partitions (``--partition`` instead assigns one itself and commits as a
"simple" consumer), consumption starts from the group's committed offsets — ``--from-beginning``
only matters when there are none — and offsets are committed like Kafka's console consumer
does: automatically every ``auto.commit.interval.ms`` (``enable.auto.commit`` defaults to true)
and once more on exit, whether it stops after ``--max-messages``, ``--timeout-ms`` or Ctrl-C.
What is committed is exactly what was printed (records fetched but not printed are given back
first). Without a group nothing is committed.

``--consumer.config`` and ``--consumer-property`` (which wins) also say how to reach a secured
listener (``security.protocol``, ``sasl.*``, ``ssl.*``, as Kafka's consumer reads them); a bad
one is one ``ERROR:`` line and exit 1. Every connection uses them, the group coordinator's too.

``--zookeeper Z`` (instead of ``--bootstrap-server``; implied by the consumer property
``offsets.storage=zookeeper``) runs the legacy 0.8 ZooKeeper-based consumer, as Kafka's console
consumer did up to 1.x: the group lives in ``/consumers/<group>`` and so do its offsets
(``offsets.storage=kafka`` commits to the group coordinator instead). Without ``--group`` the
group is ``console-consumer-<random>`` and its znodes are removed on exit.
"""

from __future__ import annotations

import logging
import random
import sys
from collections.abc import Mapping

import attrs
import click
import trio

from kafkalite.errors import ConfigError
from kafkalite.cli.common import (
    CLIENT_SECURITY_KEYS,
    choose_bootstrap,
    fail,
    parse_bool,
    parse_int,
    parse_properties,
    read_config_file,
    run_trio,
    warn_unknown,
)
from kafkalite.client.assignors import assignor_for
from kafkalite.client.cluster import Cluster
from kafkalite.client.completed_fetch import ConsumerRecord
from kafkalite.client.connection import ClientSecurity
from kafkalite.client.consumer import Consumer
from kafkalite.client.errors import ClientError
from kafkalite.client.security import client_security
from kafkalite.client.zk_consumer import ZookeeperConsumer
from kafkalite.zk.errors import ZkError

__all__ = ["MessageFormatter", "ConsumerSettings", "parse_offset", "console_consumer", "main"]

_CONSUMER_KEYS = {
    "bootstrap.servers", "auto.offset.reset", "isolation.level", "fetch.max.wait.ms",
    "fetch.min.bytes", "fetch.max.bytes", "max.partition.fetch.bytes", "check.crcs",
    "client.id", "request.timeout.ms", "allow.auto.create.topics", "retry.backoff.ms",
    "default.api.timeout.ms", "group.id", "enable.auto.commit", "auto.commit.interval.ms",
    "max.poll.records", "session.timeout.ms", "heartbeat.interval.ms", "max.poll.interval.ms",
    "partition.assignment.strategy", "group.instance.id",
}
_LEGACY_KEYS = {
    "group.id", "client.id", "auto.offset.reset", "auto.commit.enable",
    "auto.commit.interval.ms", "offsets.storage", "dual.commit.enabled", "consumer.id",
    "rebalance.max.retries", "rebalance.backoff.ms", "zookeeper.session.timeout.ms",
    "zookeeper.connect", "fetch.max.wait.ms", "fetch.min.bytes", "max.partition.fetch.bytes",
}
_IGNORED_KEYS = {
    "key.deserializer", "value.deserializer", "exclude.internal.topics",
    "metadata.max.age.ms", "receive.buffer.bytes", "send.buffer.bytes",
    "reconnect.backoff.ms",
}


@attrs.frozen(kw_only=True)
class MessageFormatter:
    """Kafka's DefaultMessageFormatter.

    Columns, each followed by ``key.separator`` when another column comes after it and by
    ``line.separator`` otherwise: ``<TimestampType>:<ts>`` (``NO_TIMESTAMP`` without one),
    ``Partition:<p>``, ``Offset:<o>``, headers as ``k:v,k2:v2`` (``NO_HEADERS`` if none), the
    key, the value. Null keys/values print ``null.literal`` ("null"). Bytes are shown as UTF-8
    with invalid sequences replaced.
    """

    print_timestamp: bool = False
    print_partition: bool = False
    print_offset: bool = False
    print_headers: bool = False
    print_key: bool = False
    print_value: bool = True
    key_separator: bytes = b"\t"
    line_separator: bytes = b"\n"
    headers_separator: bytes = b","
    headers_key_separator: bytes = b":"
    null_literal: bytes = b"null"

    @classmethod
    def from_properties(cls, props: Mapping[str, str]) -> MessageFormatter:
        """Build from ``--property`` values; unknown keys are ignored, as Kafka does.

        Raises:
            ConfigError: a ``print.*`` value that is not true/false.
        """
        def flag(key: str, default: bool) -> bool:
            return parse_bool(props[key], key=key) if key in props else default

        def text(key: str, default: bytes) -> bytes:
            return props[key].encode("utf-8") if key in props else default

        return cls(
            print_timestamp=flag("print.timestamp", False),
            print_partition=flag("print.partition", False),
            print_offset=flag("print.offset", False),
            print_headers=flag("print.headers", False),
            print_key=flag("print.key", False),
            print_value=flag("print.value", True),
            key_separator=text("key.separator", b"\t"),
            line_separator=text("line.separator", b"\n"),
            headers_separator=text("headers.separator", b","),
            headers_key_separator=text("headers.key.separator", b":"),
            null_literal=text("null.literal", b"null"),
        )

    def format(self, record: ConsumerRecord) -> bytes:
        """One record as the bytes to write."""
        out = bytearray()

        def column(data: bytes, more: bool) -> None:
            out.extend(data)
            out.extend(self.key_separator if more else self.line_separator)

        if self.print_timestamp:
            if record.timestamp_type >= 0 and record.timestamp >= 0:
                stamp = f"{record.timestamp_type_name}:{record.timestamp}"
            else:
                stamp = "NO_TIMESTAMP"
            column(stamp.encode(), self.print_partition or self.print_offset
                   or self.print_headers or self.print_key or self.print_value)
        if self.print_partition:
            column(f"Partition:{record.partition}".encode(), self.print_offset
                   or self.print_headers or self.print_key or self.print_value)
        if self.print_offset:
            column(f"Offset:{record.offset}".encode(),
                   self.print_headers or self.print_key or self.print_value)
        if self.print_headers:
            if record.headers:
                rendered = self.headers_separator.join(
                    _text(k.encode("utf-8")) + self.headers_key_separator + self._show(v)
                    for k, v in record.headers)
            else:
                rendered = b"NO_HEADERS"
            column(rendered, self.print_key or self.print_value)
        if self.print_key:
            column(self._show(record.key), self.print_value)
        if self.print_value:
            out.extend(self._show(record.value))
            out.extend(self.line_separator)
        return bytes(out)

    def _show(self, data: bytes | None) -> bytes:
        return self.null_literal if data is None else _text(data)


def _text(data: bytes) -> bytes:
    """UTF-8 with invalid sequences replaced (U+FFFD), so terminals get valid text."""
    return data.decode("utf-8", "replace").encode("utf-8")


def parse_offset(value: str) -> int | str:
    """``--offset``: "earliest", "latest" or a non-negative integer.

    Raises:
        click.BadParameter: with Kafka's message.
    """
    text = value.strip().lower()
    if text in ("earliest", "latest"):
        return text
    try:
        offset = int(text)
    except ValueError:
        offset = -1
    if offset < 0:
        raise click.BadParameter(f"The provided offset value '{value}' is incorrect. Valid values "
                                 "are 'earliest', 'latest', or a non-negative long.",
                                 param_hint="--offset")
    return offset


@attrs.frozen(kw_only=True)
class ConsumerSettings:
    bootstrap: str
    topic: str | None = None
    pattern: str | None = None
    partition: int | None = None
    offset: int | str = "latest"
    auto_offset_reset: str = "latest"
    max_messages: int | None = None
    timeout_ms: int | None = None
    isolation_level: str = "read_uncommitted"
    client_id: str = "console-consumer"
    request_timeout_ms: int = 30_000
    retry_backoff_ms: int = 100
    api_timeout_ms: int = 60_000
    fetch_max_wait_ms: int = 500
    fetch_min_bytes: int = 1
    fetch_max_bytes: int = 52_428_800
    max_partition_fetch_bytes: int = 1_048_576
    check_crcs: bool = True
    allow_auto_create_topics: bool = True
    group_id: str | None = None
    group_instance_id: str | None = None
    enable_auto_commit: bool = True
    auto_commit_interval_ms: int = 5_000
    max_poll_records: int = 500
    session_timeout_ms: int = 10_000
    heartbeat_interval_ms: int = 3_000
    max_poll_interval_ms: int = 300_000
    partition_assignment_strategy: str = "range"
    explicit_offset: bool = False
    security: ClientSecurity | None = None


class Counter:
    """Records printed so far; read after the run for the closing line."""

    def __init__(self) -> None:
        self.value = 0


async def consume(settings: ConsumerSettings, formatter: MessageFormatter, out,
                  counter: Counter) -> None:
    """Consume and print until max messages, timeout, or cancellation."""
    async with Cluster(settings.bootstrap, client_id=settings.client_id,
                       request_timeout_ms=settings.request_timeout_ms,
                       retry_backoff_ms=settings.retry_backoff_ms,
                       retry_timeout_ms=settings.api_timeout_ms,
                       allow_auto_topic_creation=settings.allow_auto_create_topics,
                       security=settings.security) as cluster:
        consumer = Consumer(cluster, auto_offset_reset=settings.auto_offset_reset,
                            isolation_level=settings.isolation_level,
                            fetch_max_wait_ms=settings.fetch_max_wait_ms,
                            fetch_min_bytes=settings.fetch_min_bytes,
                            fetch_max_bytes=settings.fetch_max_bytes,
                            max_partition_fetch_bytes=settings.max_partition_fetch_bytes,
                            check_crcs=settings.check_crcs,
                            allow_auto_create_topics=settings.allow_auto_create_topics,
                            group_id=settings.group_id,
                            group_instance_id=settings.group_instance_id,
                            enable_auto_commit=settings.enable_auto_commit,
                            auto_commit_interval_ms=settings.auto_commit_interval_ms,
                            max_poll_records=settings.max_poll_records,
                            session_timeout_ms=settings.session_timeout_ms,
                            heartbeat_interval_ms=settings.heartbeat_interval_ms,
                            max_poll_interval_ms=settings.max_poll_interval_ms,
                            partition_assignment_strategy=settings.partition_assignment_strategy)
        if settings.partition is not None:
            consumer.assign([(settings.topic, settings.partition, settings.offset)]
                            if settings.group_id is None or settings.explicit_offset
                            else [(settings.topic, settings.partition)])
        elif settings.pattern is not None:
            consumer.subscribe(pattern=settings.pattern)
        else:
            consumer.subscribe([settings.topic])
        async with consumer:
            await _print_records(consumer, settings, formatter, out, counter)


async def _print_records(consumer: Consumer | ZookeeperConsumer,
                         settings: ConsumerSettings | LegacySettings,
                         formatter: MessageFormatter, out, counter: Counter) -> None:
    limit = settings.max_messages
    while limit is None or counter.value < limit:
        records = await consumer.poll(settings.timeout_ms)
        if not records:
            if settings.timeout_ms is not None:
                return
            continue
        for i, record in enumerate(records):
            out.write(formatter.format(record))
            counter.value += 1
            if limit is not None and counter.value >= limit:
                _give_back(consumer, records[i + 1:])
                break
        out.flush()
        await trio.lowlevel.checkpoint()


@attrs.frozen(kw_only=True)
class LegacySettings:
    """The old (ZooKeeper-based) console consumer's settings."""

    zookeeper: str
    group_id: str
    generated_group: bool
    topic: str | None = None
    pattern: str | None = None
    auto_offset_reset: str = "largest"
    auto_commit_enable: bool = True
    auto_commit_interval_ms: int = 60_000
    offsets_storage: str = "zookeeper"
    dual_commit_enabled: bool = False
    consumer_id: str | None = None
    rebalance_max_retries: int = 4
    rebalance_backoff_ms: int = 2000
    zookeeper_session_timeout_ms: int = 6000
    client_id: str | None = None
    max_messages: int | None = None
    timeout_ms: int | None = None


def legacy_settings(*, zookeeper: str, topic: str | None, pattern: str | None,
                    from_beginning: bool, max_messages: int | None, timeout_ms: int | None,
                    props: Mapping[str, str], group: str | None,
                    random_suffix: int) -> LegacySettings:
    """Settings of the old consumer (0.8 property names; "earliest"/"latest" accepted).

    Raises:
        ConfigError: an invalid value or conflicting group ids.
    """
    group_ids = list(dict.fromkeys(g for g in (group, props.get("group.id")) if g))
    if len(group_ids) > 1:
        raise ConfigError("The group ids provided in different places (directly using "
                          "'--group', via '--consumer-property', or via '--consumer.config') do "
                          "not match. Detected group ids: "
                          + ", ".join(f"'{g}'" for g in group_ids))
    reset = props.get("auto.offset.reset", "smallest" if from_beginning else "largest").strip()
    if reset not in ("smallest", "largest", "earliest", "latest", "none"):
        raise ConfigError(f"Invalid value {reset} for configuration auto.offset.reset: String "
                          "must be one of: smallest, largest")
    if from_beginning and reset not in ("smallest", "earliest"):
        raise ConfigError(f"Can't simultaneously specify --from-beginning and "
                          f"'auto.offset.reset={reset}'")
    storage = props.get("offsets.storage", "zookeeper").strip()
    if storage not in ("zookeeper", "kafka"):
        raise ConfigError(f"Invalid value {storage} for configuration offsets.storage: String "
                          "must be one of: zookeeper, kafka")

    def num(key: str, default: int) -> int:
        return parse_int(props[key], key=key) if key in props else default

    return LegacySettings(
        zookeeper=zookeeper,
        group_id=group_ids[0] if group_ids else f"console-consumer-{random_suffix}",
        generated_group=not group_ids, topic=topic, pattern=pattern, auto_offset_reset=reset,
        auto_commit_enable=parse_bool(props.get("auto.commit.enable", "true"),
                                      key="auto.commit.enable"),
        auto_commit_interval_ms=num("auto.commit.interval.ms", 60_000),
        offsets_storage=storage,
        dual_commit_enabled=parse_bool(props.get("dual.commit.enabled", "false"),
                                       key="dual.commit.enabled"),
        consumer_id=props.get("consumer.id") or None,
        rebalance_max_retries=num("rebalance.max.retries", 4),
        rebalance_backoff_ms=num("rebalance.backoff.ms", 2000),
        zookeeper_session_timeout_ms=num("zookeeper.session.timeout.ms", 6000),
        client_id=props.get("client.id") or None,
        max_messages=max_messages if max_messages is not None and max_messages >= 0 else None,
        timeout_ms=timeout_ms if timeout_ms is not None and timeout_ms >= 0 else None)


async def consume_legacy(settings: LegacySettings, formatter: MessageFormatter, out,
                         counter: Counter) -> None:
    """Consume and print with the ZooKeeper-based consumer."""
    logging.getLogger("kazoo").setLevel(logging.CRITICAL)  # failures are reported by us
    consumer = ZookeeperConsumer(
        settings.zookeeper, settings.group_id, consumer_id=settings.consumer_id,
        auto_offset_reset=settings.auto_offset_reset,
        auto_commit_enable=settings.auto_commit_enable,
        auto_commit_interval_ms=settings.auto_commit_interval_ms,
        offsets_storage=settings.offsets_storage,
        dual_commit_enabled=settings.dual_commit_enabled,
        zookeeper_session_timeout_ms=settings.zookeeper_session_timeout_ms,
        rebalance_max_retries=settings.rebalance_max_retries,
        rebalance_backoff_ms=settings.rebalance_backoff_ms, client_id=settings.client_id,
        remove_group_on_close=settings.generated_group)
    if settings.pattern is not None:
        consumer.subscribe(whitelist=settings.pattern)
    else:
        consumer.subscribe([settings.topic])
    try:
        async with consumer:
            await _print_records(consumer, settings, formatter, out, counter)
    except ZkError as exc:
        raise ClientError(f"ZooKeeper at {settings.zookeeper}: {exc}") from None


def _give_back(consumer: Consumer, unprinted: list[ConsumerRecord]) -> None:
    """Rewind to the first record not printed, so the final commit covers only printed ones."""
    first: dict[tuple[str, int], int] = {}
    for record in unprinted:
        first.setdefault((record.topic, record.partition), record.offset)
    for (topic, partition), offset in first.items():
        consumer.seek(topic, partition, offset)


def consumer_settings(*, bootstrap: str, topic: str | None, pattern: str | None,
                      partition: int | None, offset: int | str | None, from_beginning: bool,
                      max_messages: int | None, timeout_ms: int | None,
                      isolation_level: str | None, props: Mapping[str, str],
                      group: str | None = None) -> ConsumerSettings:
    """Merge flags and consumer properties.

    Raises:
        ConfigError: an invalid property value or a conflict Kafka also rejects.
    """
    group_ids = list(dict.fromkeys(g for g in (group, props.get("group.id")) if g))
    if len(group_ids) > 1:
        raise ConfigError("The group ids provided in different places (directly using "
                          "'--group', via '--consumer-property', or via '--consumer.config') do "
                          "not match. Detected group ids: "
                          + ", ".join(f"'{g}'" for g in group_ids))
    reset = props.get("auto.offset.reset")
    if reset is not None:
        reset = reset.strip().lower()
        if reset not in ("earliest", "latest", "none"):
            raise ConfigError(f"Invalid value {reset} for configuration auto.offset.reset: "
                              "String must be one of: latest, earliest, none")
        if from_beginning and reset != "earliest":
            raise ConfigError(f"Can't simultaneously specify --from-beginning and "
                              f"'auto.offset.reset={reset}'")
    if from_beginning:
        reset = "earliest"
    isolation = isolation_level or props.get("isolation.level", "read_uncommitted").strip()
    if isolation not in ("read_uncommitted", "read_committed"):
        raise ConfigError(f"Invalid value {isolation} for configuration isolation.level: "
                          "String must be one of: read_committed, read_uncommitted")

    def num(key: str, default: int) -> int:
        return parse_int(props[key], key=key) if key in props else default

    explicit_offset = offset is not None
    if offset is None:
        offset = "earliest" if from_beginning else "latest"
    strategy = props.get("partition.assignment.strategy", "range")
    try:
        for name in strategy.split(","):
            if name.strip():
                assignor_for(name)
    except ValueError as exc:
        raise ConfigError(f"Invalid value {strategy} for configuration "
                          f"partition.assignment.strategy: {exc}") from None
    return ConsumerSettings(
        bootstrap=bootstrap, topic=topic, pattern=pattern, partition=partition, offset=offset,
        auto_offset_reset=reset or "latest",
        max_messages=max_messages if max_messages is not None and max_messages >= 0 else None,
        timeout_ms=timeout_ms if timeout_ms is not None and timeout_ms >= 0 else None,
        isolation_level=isolation,
        client_id=props.get("client.id", "console-consumer"),
        request_timeout_ms=num("request.timeout.ms", 30_000),
        retry_backoff_ms=num("retry.backoff.ms", 100),
        api_timeout_ms=num("default.api.timeout.ms", 60_000),
        fetch_max_wait_ms=num("fetch.max.wait.ms", 500),
        fetch_min_bytes=num("fetch.min.bytes", 1),
        fetch_max_bytes=num("fetch.max.bytes", 52_428_800),
        max_partition_fetch_bytes=num("max.partition.fetch.bytes", 1_048_576),
        check_crcs=parse_bool(props.get("check.crcs", "true"), key="check.crcs"),
        allow_auto_create_topics=parse_bool(props.get("allow.auto.create.topics", "true"),
                                            key="allow.auto.create.topics"),
        group_id=group_ids[0] if group_ids else None,
        group_instance_id=props.get("group.instance.id") or None,
        enable_auto_commit=parse_bool(props.get("enable.auto.commit", "true"),
                                      key="enable.auto.commit"),
        auto_commit_interval_ms=num("auto.commit.interval.ms", 5_000),
        max_poll_records=num("max.poll.records", 500),
        session_timeout_ms=num("session.timeout.ms", 10_000),
        heartbeat_interval_ms=num("heartbeat.interval.ms", 3_000),
        max_poll_interval_ms=num("max.poll.interval.ms", 300_000),
        partition_assignment_strategy=strategy,
        explicit_offset=explicit_offset,
    )


@click.command(context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--bootstrap-server", help="REQUIRED: the server(s) to connect to.")
@click.option("--zookeeper", help="REQUIRED only for the old consumer: ZooKeeper connect string "
              "host:port[/chroot]; consume with the legacy ZooKeeper-based consumer.")
@click.option("--topic", help="The topic to consume on.")
@click.option("--whitelist", "--include", "whitelist",
              help="Regular expression of the topics to consume (instead of --topic).")
@click.option("--partition", type=click.IntRange(min=0),
              help="The partition to consume from (starts at the end unless --from-beginning "
                   "or --offset).")
@click.option("--offset", help="earliest, latest (default) or a non-negative offset; needs "
              "--partition.")
@click.option("--from-beginning", is_flag=True, help="Start with the earliest message present.")
@click.option("--max-messages", type=int, help="Exit after consuming this many messages.")
@click.option("--timeout-ms", type=int, help="Exit if no message is available for this long.")
@click.option("--property", "properties", multiple=True, metavar="KEY=VALUE",
              help="Formatter properties: print.timestamp, print.key, print.value, "
                   "print.partition, print.offset, print.headers, key.separator, "
                   "line.separator, headers.separator, headers.key.separator, null.literal.")
@click.option("--consumer-property", "consumer_properties", multiple=True, metavar="KEY=VALUE",
              help="Consumer config properties (override --consumer.config).")
@click.option("--consumer.config", "consumer_config", type=click.Path(dir_okay=False),
              help="Consumer config properties file.")
@click.option("--group", help="The consumer group id of the consumer.")
@click.option("--isolation-level", type=click.Choice(["read_committed", "read_uncommitted"]),
              help="read_committed hides records of aborted transactions "
                   "(default read_uncommitted).")
@click.option("--skip-message-on-error", is_flag=True, hidden=True)
@click.option("--formatter", default="kafka.tools.DefaultMessageFormatter",
              help="Only kafka.tools.DefaultMessageFormatter is available.")
def console_consumer(bootstrap_server, zookeeper, topic, whitelist, partition, offset,
                     from_beginning, max_messages, timeout_ms, properties, consumer_properties,
                     consumer_config, group, isolation_level, skip_message_on_error,
                     formatter) -> None:
    """Read data from Kafka topics and write it to standard output."""
    if zookeeper is not None:
        if bootstrap_server is not None:
            raise click.UsageError("Exactly one of --bootstrap-server (the new consumer) or "
                                   "--zookeeper (the old consumer) is allowed")
        return _legacy_console_consumer(zookeeper, topic, whitelist, partition, offset,
                                        from_beginning, max_messages, timeout_ms, properties,
                                        consumer_properties, consumer_config, group, formatter)
    if bootstrap_server is None:
        raise click.UsageError('Missing required argument "[bootstrap-server]"')
    if (topic is None) == (whitelist is None):
        raise click.UsageError("Exactly one of whitelist/topic is required.")
    if partition is not None and topic is None:
        raise click.UsageError("The topic is required when partition is specified.")
    if offset is not None and partition is None:
        raise click.UsageError("The partition is required when offset is specified.")
    if offset is not None and from_beginning:
        raise click.UsageError("Options from-beginning and offset cannot be specified together.")
    if formatter not in ("kafka.tools.DefaultMessageFormatter",
                         "kafka.tools.ConsoleConsumer$DefaultMessageFormatter"):
        raise click.UsageError(f"Unknown formatter {formatter}: only "
                               "kafka.tools.DefaultMessageFormatter is available")
    offset_spec = parse_offset(offset) if offset is not None else None
    formatter_props = parse_properties(properties)
    extra = parse_properties(consumer_properties, option="--consumer-property")
    try:
        props = {**read_config_file(consumer_config), **extra}
        if props.get("offsets.storage", "").strip() == "zookeeper":
            raise click.UsageError("offsets.storage=zookeeper is the legacy ZooKeeper-based "
                                   "consumer: give --zookeeper instead of --bootstrap-server")
        warn_unknown(props, _CONSUMER_KEYS | _IGNORED_KEYS | CLIENT_SECURITY_KEYS)
        settings = consumer_settings(
            bootstrap=choose_bootstrap(bootstrap_server, None, props), topic=topic,
            pattern=whitelist, partition=partition, offset=offset_spec,
            from_beginning=from_beginning, max_messages=max_messages, timeout_ms=timeout_ms,
            isolation_level=isolation_level, props=props, group=group)
        message_formatter = MessageFormatter.from_properties(formatter_props)
    except ConfigError as exc:
        raise click.UsageError(str(exc)) from None
    try:
        settings = attrs.evolve(settings, security=client_security(props))
    except ConfigError as exc:
        fail(str(exc))
    counter = Counter()
    try:
        run_trio(consume, settings, message_formatter, sys.stdout.buffer, counter)
    finally:
        click.echo(f"Processed a total of {counter.value} messages", err=True)


def _legacy_console_consumer(zookeeper, topic, whitelist, partition, offset, from_beginning,
                             max_messages, timeout_ms, properties, consumer_properties,
                             consumer_config, group, formatter) -> None:
    if (topic is None) == (whitelist is None):
        raise click.UsageError("Exactly one of whitelist/topic is required.")
    if partition is not None or offset is not None:
        raise click.UsageError("--partition and --offset need the new consumer "
                               "(--bootstrap-server)")
    if formatter not in ("kafka.tools.DefaultMessageFormatter",
                         "kafka.tools.ConsoleConsumer$DefaultMessageFormatter"):
        raise click.UsageError(f"Unknown formatter {formatter}: only "
                               "kafka.tools.DefaultMessageFormatter is available")
    formatter_props = parse_properties(properties)
    extra = parse_properties(consumer_properties, option="--consumer-property")
    try:
        props = {**read_config_file(consumer_config), **extra}
        warn_unknown(props, _LEGACY_KEYS | _IGNORED_KEYS)
        settings = legacy_settings(zookeeper=zookeeper, topic=topic, pattern=whitelist,
                                   from_beginning=from_beginning, max_messages=max_messages,
                                   timeout_ms=timeout_ms, props=props, group=group,
                                   random_suffix=random.randrange(100_000))
        message_formatter = MessageFormatter.from_properties(formatter_props)
    except ConfigError as exc:
        raise click.UsageError(str(exc)) from None
    counter = Counter()
    try:
        run_trio(consume_legacy, settings, message_formatter, sys.stdout.buffer, counter)
    finally:
        click.echo(f"Processed a total of {counter.value} messages", err=True)


main = console_consumer

if __name__ == "__main__":
    from kafkalite.cli.tools import run_module

    run_module("kafkalite.cli.console_consumer")
