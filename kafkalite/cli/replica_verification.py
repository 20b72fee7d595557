"""``kafka-replica-verification.sh``: check that all replicas of a set of topics hold the same data.

Kafka's ReplicaVerificationTool. At start it reads the metadata of every topic matching
``--topic-white-list`` (a regex that must match the whole name) and the starting offsets from
the leaders (``--time``: -1 latest, -2 earliest, or a timestamp). Then, round after round:

1. one Fetch per broker, for every selected partition it holds a replica of, every replica
   of a partition from the *same* offset. The fetch uses replica id -2, Kafka's "debugging
   consumer": followers answer it too, up to their own high watermark;
2. :class:`Verifier` walks each partition's replicas batch by batch in lockstep, each replica
   only below its own high watermark. The batches' last offsets must agree — if not, the
   replicas have diverged: the tool prints "... doesn't match ..." and exits 1 at once, as
   Kafka does. The stored batch CRCs should agree (Kafka's check), and so should the bytes
   they cover (ours: a corrupted copy keeps its stored CRC); a mismatch is reported and
   counted;
3. the offset of a partition moves past the batches every replica had. Its lag is the highest
   high watermark minus that offset. Every ``--report-interval-ms`` the tool prints the largest
   lag: ``<time>: max lag is N for partition t-p at offset O among K partitions``.

A partition whose replica cannot be fetched (broker down, error) simply makes no progress
that round, as in Kafka. Kafka's tool runs until it is killed; kafkalite adds a way to get a
verdict from scripts and tests:

* ``--max-rounds N``: stop after N rounds;
* ``--until-caught-up``: stop once every partition is verified up to the lowest high
  watermark among its replicas (combine with ``--time -2`` to check the whole log).

When either stops the run it prints a last report and a verdict, and exits 0 if the replicas
agreed, 1 if a difference was found, 3 if ``--until-caught-up`` ran out of rounds first.
"""

from __future__ import annotations

import datetime
import re
import struct
import zlib
from collections.abc import Mapping, Sequence

import attrs
import click
import trio

from kafkalite.cli.common import fail, run_trio
from kafkalite.model import TopicPartition
from kafkalite.records.batch import MAGIC_V2, RecordBatchView, iter_log_entries
from kafkalite.replication.service import DEBUGGING_CONSUMER_ID

__all__ = ["main", "Verifier", "ReplicaData", "BatchInfo", "batch_infos", "timestamp"]

EXIT_AGREE, EXIT_DIFFERENT, EXIT_INCOMPLETE = 0, 1, 3
_LEGACY = struct.Struct(">qiI")  # offset, size, crc of a magic 0/1 entry
_V2_CONTENT = 16  # magic byte of a v2 batch: compared from here on
_LEGACY_CONTENT = 12  # crc of a legacy entry


def timestamp(now: datetime.datetime | None = None) -> str:
    """Kafka's ``yyyy-MM-dd HH:mm:ss,SSS`` in local time."""
    now = now or datetime.datetime.now()
    return now.strftime("%Y-%m-%d %H:%M:%S") + f",{now.microsecond // 1000:03d}"


@attrs.frozen
class BatchInfo:
    """One batch as compared: its offsets, its stored CRC and a digest of its bytes.

    ``content`` covers the batch from the magic byte on (CRC, attributes, records), so a
    replica whose bytes changed under an unchanged stored CRC — disk corruption — differs too;
    the partition leader epoch before it is left out, as the CRC leaves it out.
    """

    last_offset: int
    next_offset: int
    checksum: int
    content: int = 0


def batch_infos(records: bytes | memoryview | None) -> list[BatchInfo]:
    """The complete batches (or legacy entries) of a fetched partition, in order.

    A legacy entry's offset is its last offset (a compressed wrapper carries its last inner
    offset), as Kafka's shallow iteration reports it.
    """
    if not records:
        return []
    out = []
    for _pos, magic, entry in iter_log_entries(memoryview(records)):
        if magic >= MAGIC_V2:
            batch = RecordBatchView(entry)
            out.append(BatchInfo(batch.last_offset, batch.next_offset, batch.crc,
                                 zlib.crc32(entry[_V2_CONTENT:])))
        else:
            offset, _size, crc = _LEGACY.unpack_from(entry, 0)
            out.append(BatchInfo(offset, offset + 1, crc, zlib.crc32(entry[_LEGACY_CONTENT:])))
    return out


@attrs.frozen
class ReplicaData:
    """What one replica returned for one partition this round (error 0 = data is valid)."""

    high_watermark: int = -1
    batches: tuple[BatchInfo, ...] = ()
    error_code: int = 0


@attrs.frozen
class RoundResult:
    lines: tuple[str, ...]
    diverged: bool
    checksum_mismatches: int
    caught_up: bool


@attrs.define
class Verifier:
    """The comparison, without I/O: fed each round's fetch results, it advances the offsets.

    Args:
        replicas: partition -> the broker ids of its replicas.
        offsets: partition -> the offset to start verifying from.
    """

    replicas: Mapping[TopicPartition, tuple[int, ...]]
    offsets: dict[TopicPartition, int]
    max_lag: tuple[int, TopicPartition | None, int] = (-1, None, -1)
    mismatches: int = 0

    def verify_round(self, fetched: Mapping[TopicPartition, Mapping[int, ReplicaData]],
                     now: str) -> RoundResult:
        """Compare one round; ``fetched[tp][replica]`` is missing for replicas not fetched."""
        lines: list[str] = []
        before = self.mismatches
        caught_up = True
        self.max_lag = (-1, None, -1)
        for tp in sorted(self.replicas):
            data = fetched.get(tp, {})
            usable = {r: data[r] for r in self.replicas[tp]
                      if r in data and data[r].error_code == 0}
            if len(usable) < len(self.replicas[tp]):
                caught_up = False
            else:
                divergence, checksum_lines = self._compare(tp, usable, now)
                lines.extend(checksum_lines)
                if divergence is not None:
                    lines.append(divergence)
                    return RoundResult(tuple(lines), True, self.mismatches - before, False)
                if self.offsets[tp] < min(d.high_watermark for d in usable.values()):
                    caught_up = False
            max_hw = max((d.high_watermark for d in data.values()), default=-1)
            lag = max_hw - self.offsets[tp]
            if lag > self.max_lag[0]:
                self.max_lag = (lag, tp, self.offsets[tp])
        return RoundResult(tuple(lines), False, self.mismatches - before, caught_up)

    def _compare(self, tp: TopicPartition, data: Mapping[int, ReplicaData], now: str
                 ) -> tuple[str | None, list[str]]:
        """Advance ``tp`` past every batch all replicas agree on.

        Returns:
            The divergence line (None if the offsets agreed) and the checksum mismatch lines.
        """
        checksum_lines: list[str] = []
        iterators = {r: iter(d.batches) for r, d in data.items()}
        while True:
            first: tuple[int, BatchInfo] | None = None
            in_all = True
            for replica, batches in iterators.items():
                batch = next(batches, None)
                if batch is None or batch.last_offset >= data[replica].high_watermark:
                    in_all = False
                    continue
                if first is None:
                    first = (replica, batch)
                    continue
                first_replica, first_batch = first
                if first_batch.last_offset != batch.last_offset:
                    return (f"{now}: partition {tp}: replica {first_replica}'s offset "
                            f"{first_batch.last_offset} doesn't match replica {replica}'s "
                            f"offset {batch.last_offset}"), checksum_lines
                if first_batch.checksum != batch.checksum:
                    self.mismatches += 1
                    checksum_lines.append(
                        f"{now}: partition {tp} has unmatched checksum at offset "
                        f"{batch.last_offset}; replica {first_replica}'s checksum "
                        f"{first_batch.checksum}; replica {replica}'s checksum {batch.checksum}")
                elif first_batch.content != batch.content:
                    self.mismatches += 1
                    checksum_lines.append(
                        f"{now}: partition {tp} has unmatched bytes at offset "
                        f"{batch.last_offset}; replica {first_replica} and replica {replica} "
                        f"both store checksum {batch.checksum} but their contents differ")
            if not in_all or first is None:
                return None, checksum_lines
            self.offsets[tp] = first[1].next_offset

    def report_line(self, now: str) -> str:
        lag, tp, offset = self.max_lag
        return (f"{now}: max lag is {lag} for partition {tp} at offset {offset} among "
                f"{len(self.replicas)} partitions")


# -- the trio side ---------------------------------------------------------------------------

@attrs.frozen(kw_only=True)
class Options:
    broker_list: str
    topic_pattern: str
    fetch_size: int
    max_wait_ms: int
    initial_time: int
    report_interval_ms: int
    max_rounds: int | None
    until_caught_up: bool


def compile_pattern(text: str) -> re.Pattern:
    """Kafka's include-list: quotes and blanks stripped, ``,`` meaning ``|``, full match."""
    cleaned = text.strip().strip("\"'").replace(",", "|")
    try:
        return re.compile(cleaned)
    except re.error:
        raise click.BadParameter(f"{text} is an invalid regex.",
                                 param_hint="--topic-white-list") from None


async def _initial_offsets(cluster, partitions: Sequence[TopicPartition], time: int
                           ) -> dict[TopicPartition, int]:
    """Where verification starts, asked of each partition's leader (ListOffsets)."""
    from kafkalite.client.errors import raise_for_code
    from kafkalite.errors import LeaderNotAvailable
    from kafkalite.protocol.messages.list_offsets import (
        ListOffsetsPartition, ListOffsetsRequest, ListOffsetsTopic)

    offsets: dict[TopicPartition, int] = {}

    async def attempt() -> dict[TopicPartition, int]:
        await cluster.refresh_metadata({tp.topic for tp in partitions}, allow_auto_create=False)
        by_leader: dict[int, list[TopicPartition]] = {}
        for tp in partitions:
            if tp in offsets:
                continue
            leader = cluster.leader_for(tp.topic, tp.partition)
            if leader is None:
                raise LeaderNotAvailable(f"partition {tp} has no leader")
            by_leader.setdefault(leader, []).append(tp)
        for leader, tps in by_leader.items():
            topics: dict[str, list[ListOffsetsPartition]] = {}
            for tp in tps:
                topics.setdefault(tp.topic, []).append(
                    ListOffsetsPartition(partition_index=tp.partition, timestamp=time))
            response = await cluster.request(leader, ListOffsetsRequest(
                replica_id=-1, isolation_level=0,
                topics=tuple(ListOffsetsTopic(name=n, partitions=tuple(ps))
                             for n, ps in topics.items())))
            for t in response.topics:
                for p in t.partitions:
                    raise_for_code(p.error_code, f"partition {t.name}-{p.partition_index}")
                    offsets[TopicPartition(t.name, p.partition_index)] = p.offset
        return offsets

    found = await cluster.call_with_retries(attempt, what="list offsets")
    if time >= 0 and any(o < 0 for o in found.values()):
        # No message at or after the timestamp: start at the end, as the consumer would.
        latest = await _initial_offsets(cluster, [tp for tp, o in found.items() if o < 0], -1)
        found.update(latest)
    return found


async def _fetch_broker(cluster, broker: int, tps: Sequence[TopicPartition],
                        offsets: Mapping[TopicPartition, int], opts: Options
                        ) -> dict[TopicPartition, ReplicaData]:
    from kafkalite.protocol.messages.fetch import FetchPartition, FetchRequest, FetchTopic

    topics: dict[str, list[FetchPartition]] = {}
    for tp in tps:
        topics.setdefault(tp.topic, []).append(FetchPartition(
            partition=tp.partition, fetch_offset=offsets[tp],
            partition_max_bytes=opts.fetch_size))
    request = FetchRequest(
        replica_id=DEBUGGING_CONSUMER_ID, max_wait_ms=opts.max_wait_ms, min_bytes=1,
        isolation_level=0, session_id=0, session_epoch=-1,
        topics=tuple(FetchTopic(topic=n, partitions=tuple(ps)) for n, ps in topics.items()),
        forgotten_topics_data=(), rack_id="")
    response = await cluster.request(broker, request)
    out = {}
    for t in response.responses:
        for p in t.partitions:
            out[TopicPartition(t.topic, p.partition_index)] = ReplicaData(
                high_watermark=p.high_watermark, error_code=p.error_code,
                batches=tuple(batch_infos(p.records)) if p.error_code == 0 else ())
    return out


async def _fetch_round(cluster, by_broker: Mapping[int, Sequence[TopicPartition]],
                       offsets: Mapping[TopicPartition, int], opts: Options,
                       failing: dict[int, str]) -> dict[TopicPartition, dict[int, ReplicaData]]:
    """Fetch from every broker at once; a broker that fails contributes nothing this round.

    ``failing`` remembers each broker's last failure so that a broker that stays down is
    reported once, not every round.
    """
    from kafkalite.client.errors import ClientError, describe
    from kafkalite.errors import KafkaError

    fetched: dict[TopicPartition, dict[int, ReplicaData]] = {}

    async def fetch_one(broker: int) -> None:
        try:
            got = await _fetch_broker(cluster, broker, by_broker[broker], offsets, opts)
        except (KafkaError, ClientError, OSError) as e:
            reason = describe(e)
            if failing.get(broker) != reason:
                click.echo(f"{timestamp()}: WARN: fetch from broker {broker} failed: {reason}",
                           err=True)
            failing[broker] = reason
            return
        failing.pop(broker, None)
        for tp, data in got.items():
            fetched.setdefault(tp, {})[broker] = data

    async with trio.open_nursery() as nursery:
        for broker in by_broker:
            nursery.start_soon(fetch_one, broker)
    return fetched


async def _run(opts: Options) -> int:
    from kafkalite.client.cluster import Cluster

    cluster = Cluster(opts.broker_list, client_id="replicaVerificationTool",
                      retry_timeout_ms=30000, allow_auto_topic_creation=False,
                      request_timeout_ms=opts.max_wait_ms + 30000)
    try:
        metadata = await cluster.call_with_retries(
            lambda: cluster.refresh_metadata(None, allow_auto_create=False), what="metadata")
        pattern = compile_pattern(opts.topic_pattern)
        replicas = {TopicPartition(t.name, p): tuple(t.partitions[p].replicas)
                    for t in metadata.topics.values() if pattern.fullmatch(t.name)
                    for p in t.partition_ids() if t.partitions[p].replicas}
        if not replicas:
            fail("No topics found. --topic-white-list if specified, is either filtering out "
                 "all topics or there is no topic.")
        offsets = await _initial_offsets(cluster, sorted(replicas), opts.initial_time)
        verifier = Verifier(replicas, offsets)
        by_broker: dict[int, list[TopicPartition]] = {}
        for tp, rs in sorted(replicas.items()):
            for r in rs:
                by_broker.setdefault(r, []).append(tp)
        click.echo(f"{timestamp()}: verification process is started.")
        last_report = trio.current_time()
        failing: dict[int, str] = {}
        rounds = 0
        while True:
            fetched = await _fetch_round(cluster, by_broker, verifier.offsets, opts, failing)
            rounds += 1
            result = verifier.verify_round(fetched, timestamp())
            for line in result.lines:
                click.echo(line)
            if result.diverged:
                return EXIT_DIFFERENT
            finished = (opts.until_caught_up and result.caught_up) or \
                (opts.max_rounds is not None and rounds >= opts.max_rounds)
            now = trio.current_time()
            if finished or now - last_report > opts.report_interval_ms / 1000:
                click.echo(verifier.report_line(timestamp()))
                last_report = now
            if finished:
                return _verdict(verifier, rounds, opts.until_caught_up and not result.caught_up)
            if not result.caught_up and not fetched:
                await trio.sleep(min(opts.max_wait_ms, 1000) / 1000)  # nothing reachable
    finally:
        await cluster.aclose()


def _verdict(verifier: Verifier, rounds: int, incomplete: bool) -> int:
    when = timestamp()
    if verifier.mismatches:
        click.echo(f"{when}: verification finished after {rounds} rounds: "
                   f"{verifier.mismatches} batch(es) differ between replicas.")
        return EXIT_DIFFERENT
    if incomplete:
        click.echo(f"{when}: verification stopped after {rounds} rounds before catching up; "
                   "no difference found so far.")
        return EXIT_INCOMPLETE
    click.echo(f"{when}: verification finished after {rounds} rounds: all replicas agree.")
    return EXIT_AGREE


@click.command(context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--broker-list", required=True, metavar="HOST:PORT,...",
              help="REQUIRED: The list of hostname and port of the server to connect to.")
@click.option("--topic-white-list", "--topics-include", "topic_pattern", default=".*",
              help="Regex of topics to verify (whole-name match). Defaults to all topics.")
@click.option("--fetch-size", type=click.IntRange(min=1), default=1024 * 1024,
              help="The fetch size of each request (bytes per partition).")
@click.option("--max-wait-ms", type=click.IntRange(min=0), default=1000,
              help="The max amount of time each fetch request waits.")
@click.option("--time", "initial_time", type=int, default=-1,
              help="Timestamp for getting the initial offsets: -1 latest, -2 earliest.")
@click.option("--report-interval-ms", type=click.IntRange(min=0), default=30000,
              help="The reporting interval.")
@click.option("--max-rounds", type=click.IntRange(min=1), default=None,
              help="kafkalite: stop after this many fetch-and-compare rounds, with a verdict.")
@click.option("--until-caught-up", is_flag=True,
              help="kafkalite: stop once every partition is verified up to its lowest high "
                   "watermark, with a verdict.")
def replica_verification(broker_list, topic_pattern, fetch_size, max_wait_ms, initial_time,
                         report_interval_ms, max_rounds, until_caught_up) -> None:
    """Validate that all replicas for a set of topics have the same data.

    Exit status with --max-rounds / --until-caught-up: 0 the replicas agree, 1 a difference
    was found (or an error), 3 --until-caught-up did not catch up within --max-rounds.
    """
    from kafkalite.client.metadata import parse_bootstrap
    from kafkalite.errors import ConfigError

    try:
        parse_bootstrap(broker_list)
    except ConfigError:
        fail("Please provide valid host:port like host1:9091,host2:9092")
    compile_pattern(topic_pattern)
    opts = Options(broker_list=broker_list, topic_pattern=topic_pattern, fetch_size=fetch_size,
                   max_wait_ms=max_wait_ms, initial_time=initial_time,
                   report_interval_ms=report_interval_ms, max_rounds=max_rounds,
                   until_caught_up=until_caught_up)
    raise SystemExit(run_trio(_run, opts))


main = replica_verification

if __name__ == "__main__":
    from kafkalite.cli.tools import run_module

    run_module("kafkalite.cli.replica_verification")
