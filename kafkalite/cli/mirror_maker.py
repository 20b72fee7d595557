"""``kafka-mirror-maker.sh``: copy topics from one cluster to another (Kafka's legacy
MirrorMaker, ``kafka.tools.MirrorMaker`` of Kafka 2.8).

``--consumer.config`` says how to read the source cluster (``bootstrap.servers``, and the
``group.id`` the mirror maker consumes as), ``--producer.config`` how to write the target.
Every topic of the source matching ``--whitelist`` (or ``--include``; a Java regex, commas
meaning "or", matched against the whole name, internal topics excluded) is consumed by
``--num.streams`` group members and each record is produced to the topic of the same name in
the target with the same key, value, headers and timestamp (the target's partitioner picks
the partition).

At least once, as Kafka's tool: the consumed offsets are committed to the source group only
after every record produced so far is acknowledged — every ``--offset.commit.interval.ms``
(default 60000), before a rebalance takes partitions away, and at shutdown. A mirror maker
killed (even with SIGKILL) and restarted resumes from the last commit, so records may be
copied twice but none is lost. SIGTERM/SIGINT stop it cleanly: flush, commit, leave the group.

``--abort.on.send.failure`` (default true): a record that cannot be delivered stops the mirror
maker at once, without committing, and it exits with status 1; ``false`` logs and skips it.
The defaults Kafka sets for no data loss apply unless the configs say otherwise: producer
``acks=all``, unlimited ``delivery.timeout.ms`` and ``max.block.ms``; consumer
``enable.auto.commit=false`` (committing is the mirror maker's job). ``producer.type=sync``
sends one record at a time. Custom message handlers and rebalance listeners (Java classes) are
not available.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Mapping

import attrs
import click
import trio

from kafkalite.cli.callback_producer import CallbackProducer
from kafkalite.cli.client_properties import consumer_options, producer_options
from kafkalite.cli.common import EXPECTED_ERRORS, fail, parse_bool, read_config_file, \
    run_trio, run_until_signalled, whitelist_regex, RateCounter, TtyProgress
from kafkalite.client.cluster import Cluster
from kafkalite.client.consumer import Consumer
from kafkalite.client.errors import describe
from kafkalite.client.producer import DeliveryHandle, Producer
from kafkalite.errors import ConfigError
from kafkalite.model import TopicPartition

__all__ = ["MirrorMakerSettings", "mirror_maker_settings", "main"]

_POLL_MS = 1000
_FINAL_FLUSH_S = 30.0
_NO_GROUP = ("To use the group management or offset commit APIs, you must provide a valid "
             "group.id in the consumer configuration.")
_STRATEGY_WARNING = (
    "WARNING: The default partition assignment strategy of the mirror maker will change from "
    "'range' to 'roundrobin' in an upcoming release (so that better load balancing can be "
    "achieved). If you prefer to make this switch in advance of that release add the "
    "following to the corresponding config: "
    "'partition.assignment.strategy=org.apache.kafka.clients.consumer.RoundRobinAssignor'")


@attrs.frozen(kw_only=True)
class MirrorMakerSettings:
    source: str
    target: str
    regex: str
    group_id: str
    num_streams: int = 1
    offset_commit_interval_ms: int = 60_000
    abort_on_send_failure: bool = True
    sync: bool = False
    source_cluster: dict = attrs.field(factory=dict)
    consumer: dict = attrs.field(factory=dict)
    target_cluster: dict = attrs.field(factory=dict)
    producer: dict = attrs.field(factory=dict)


@attrs.define
class _State:
    exiting_on_send_failure: bool = False
    dropped: int = 0
    copied: RateCounter = attrs.field(factory=RateCounter)
    progress: TtyProgress = attrs.field(factory=TtyProgress)
    scope: trio.CancelScope | None = None


def _log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


class _Stream:
    """One consumer of the source group and the offsets it has handed to the producer."""

    def __init__(self, index: int, settings: MirrorMakerSettings, producer: Producer,
                 state: _State):
        self.index = index
        self.settings = settings
        self.producer = producer
        self.state = state
        self.offsets: dict[TopicPartition, int] = {}
        self.consumer: Consumer | None = None

    async def flush_and_commit(self) -> None:
        """Wait for every record produced so far, then commit what was consumed (Kafka's
        maybeFlushAndCommitOffsets and commitOffsets)."""
        await self.producer.flush()
        if self.state.exiting_on_send_failure:
            return
        if not self.offsets:
            return
        committing = dict(self.offsets)
        try:
            await self.consumer.commit(committing)
        except EXPECTED_ERRORS as exc:
            _log(f"WARN [mirrormaker-thread-{self.index}] Failed to commit offsets: "
                 f"{describe(exc)}")
            return
        for tp, offset in committing.items():
            if self.offsets.get(tp) == offset:
                del self.offsets[tp]

    async def on_partitions_revoked(self, partitions) -> None:
        await self.flush_and_commit()
        for tp in partitions:
            self.offsets.pop(tp, None)

    async def run(self) -> None:
        settings = self.settings
        cluster_args = dict(settings.source_cluster,
                            client_id=f"{settings.group_id}-{self.index}")
        async with Cluster(settings.source, **cluster_args) as cluster:
            self.consumer = Consumer(cluster, **settings.consumer)
            self.consumer.subscribe(pattern=settings.regex, listener=self)
            async with self.consumer:
                try:
                    await self._mirror()
                finally:
                    with trio.CancelScope(shield=True):
                        with trio.move_on_after(_FINAL_FLUSH_S):
                            await self.flush_and_commit()

    async def _mirror(self) -> None:
        interval_s = self.settings.offset_commit_interval_ms / 1000
        last_commit = time.monotonic()
        while not self.state.exiting_on_send_failure:
            records = await self.consumer.poll(_POLL_MS)
            copied = self.state.copied
            self.state.progress.tick(lambda: f"mirrored {copied.count} records "
                                             f"({copied.rate():.0f} records/sec)")
            for record in records:
                await self.producer.enqueue(
                    record.topic, record.value, key=record.key, headers=record.headers,
                    timestamp_ms=record.timestamp if record.timestamp >= 0 else None)
                # Only once the producer holds it: a record it refused is never committed.
                self.offsets[TopicPartition(record.topic, record.partition)] = record.offset + 1
                if self.settings.sync:
                    await self.producer.flush()
            if time.monotonic() - last_commit > interval_s:
                await self.flush_and_commit()
                last_commit = time.monotonic()


async def run_mirror_maker(settings: MirrorMakerSettings) -> _State:
    """Mirror until a signal, or a send failure with ``abort_on_send_failure``."""
    state = _State()

    def completed(handle: DeliveryHandle) -> None:
        if handle.error is None:
            state.copied.count += 1
            return
        state.dropped += 1
        key = "null" if handle.key is None else f"{len(handle.key)} bytes"
        value = "null" if handle.value_size < 0 else f"{handle.value_size} bytes"
        _log(f"ERROR Error when sending message to topic {handle.topic} with key: {key}, "
             f"value: {value} with error: {describe(handle.error)}")
        if settings.abort_on_send_failure and not state.exiting_on_send_failure:
            _log("ERROR Closing producer due to send failure; the mirror maker stops without "
                 "committing offsets.")
            state.exiting_on_send_failure = True
            if state.scope is not None:
                state.scope.cancel()

    async with Cluster(settings.target, **settings.target_cluster) as target:
        async with CallbackProducer(target, on_completion=completed,
                                    **settings.producer) as producer:
            streams = [_Stream(i, settings, producer, state)
                       for i in range(settings.num_streams)]

            async def mirror() -> None:
                with trio.CancelScope() as scope:
                    state.scope = scope
                    async with trio.open_nursery() as nursery:
                        for stream in streams:
                            nursery.start_soon(stream.run)

            await run_until_signalled(mirror)
    state.progress.close()
    return state


def mirror_maker_settings(*, consumer_props: Mapping[str, str],
                          producer_props: Mapping[str, str], whitelist: str | None,
                          num_streams: int, offset_commit_interval_ms: int,
                          abort_on_send_failure: str) -> MirrorMakerSettings:
    """Kafka's checks and its no-data-loss defaults.

    Raises:
        ConfigError: no whitelist, no group.id or bootstrap.servers, or bad properties.
    """
    if whitelist is None:
        raise ConfigError("whitelist must be specified")
    regex = whitelist_regex(whitelist)
    abort = parse_bool(abort_on_send_failure, key="abort.on.send.failure")
    if num_streams < 1:
        raise ConfigError("--num.streams must be at least 1")
    consumer_props = {"enable.auto.commit": "false", **consumer_props}
    group_id = (consumer_props.get("group.id") or "").strip()
    if not group_id:
        raise ConfigError(_NO_GROUP)
    producer_props = dict(producer_props)
    sync = producer_props.pop("producer.type", "async").strip() == "sync"
    producer_props = {"delivery.timeout.ms": str(2**31 - 1), "max.block.ms": str(2**63 - 1),
                      "acks": "all", "max.in.flight.requests.per.connection": "1",
                      **producer_props}
    consumer = consumer_options(consumer_props, client_id=f"{group_id}-0")
    producer = producer_options(producer_props, client_id="producer-1")
    for name, options in (("--consumer.config", consumer), ("--producer.config", producer)):
        if not options.bootstrap:
            raise ConfigError(f'Missing required configuration "bootstrap.servers" which has '
                              f"no default value (in {name}).")
    return MirrorMakerSettings(
        source=consumer.bootstrap, target=producer.bootstrap, regex=regex, group_id=group_id,
        num_streams=num_streams, offset_commit_interval_ms=offset_commit_interval_ms,
        abort_on_send_failure=abort, sync=sync, source_cluster=consumer.cluster,
        consumer=consumer.client, target_cluster=producer.cluster, producer=producer.client)


@click.command(context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--consumer.config", "consumer_config", metavar="config file",
              help="REQUIRED: Embedded consumer config for consuming from the source cluster.")
@click.option("--producer.config", "producer_config", metavar="config file",
              help="REQUIRED: Embedded producer config.")
@click.option("--whitelist", "--include", "whitelist", metavar="Java regex (String)",
              help="REQUIRED: Whitelist of topics to mirror.")
@click.option("--num.streams", "num_streams", type=int, default=1, show_default=True,
              help="Number of consumption streams.")
@click.option("--offset.commit.interval.ms", "offset_commit_interval_ms", type=int,
              default=60_000, show_default=True, help="Offset commit interval in ms.")
@click.option("--abort.on.send.failure", "abort_on_send_failure", default="true",
              show_default=True, help="Configure the mirror maker to exit on a failed send.")
@click.option("--new.consumer", "new_consumer", is_flag=True,
              help="DEPRECATED Use new consumer in mirror maker (this is the default).")
@click.option("--consumer.rebalance.listener", "rebalance_listener", hidden=True)
@click.option("--rebalance.listener.args", "rebalance_listener_args", hidden=True)
@click.option("--message.handler", "message_handler", hidden=True)
@click.option("--message.handler.args", "message_handler_args", hidden=True)
def main(consumer_config, producer_config, whitelist, num_streams, offset_commit_interval_ms,
         abort_on_send_failure, new_consumer, rebalance_listener, rebalance_listener_args,
         message_handler, message_handler_args) -> None:
    """Continuously copy data between two Kafka clusters."""
    for value, name in ((consumer_config, "consumer.config"),
                        (producer_config, "producer.config")):
        if value is None:
            raise click.UsageError(f'Missing required argument "[{name}]"')
    if rebalance_listener or message_handler:
        raise click.UsageError("custom rebalance listeners and message handlers (Java classes) "
                               "are not supported")
    try:
        consumer_props = read_config_file(consumer_config)
        producer_props = read_config_file(producer_config)
        if "partition.assignment.strategy" not in consumer_props:
            _log(_STRATEGY_WARNING)
        settings = mirror_maker_settings(
            consumer_props=consumer_props, producer_props=producer_props, whitelist=whitelist,
            num_streams=num_streams, offset_commit_interval_ms=offset_commit_interval_ms,
            abort_on_send_failure=abort_on_send_failure)
    except ConfigError as exc:
        fail(str(exc))
    state = run_trio(run_mirror_maker, settings)
    if state.exiting_on_send_failure:
        sys.exit(1)


if __name__ == "__main__":
    from kafkalite.cli.tools import run_module

    run_module("kafkalite.cli.mirror_maker")
