"""``kafka-get-offsets.sh`` / ``kafka-run-class.sh kafka.tools.GetOffsetShell``: the offsets of
partitions at a point in time, one ``topic:partition:offset`` line each (Kafka 2.8's
GetOffsetShell, KIP-635).

* ``--time -1`` (default): the latest offset (the high watermark, where the next record goes);
  ``-2``: the earliest (the log start offset); a timestamp in ms: the first offset whose
  record timestamp is at or after it — or nothing after the colon (``t:0:``) when no record
  is that recent. ``latest``/``earliest`` are accepted too;
* which partitions: ``--topic`` (a regex matched against the whole name; all topics without
  it) with ``--partitions 0,1``, or ``--topic-partitions t1:0,t2:1-3,t3:5-,:-2,t4`` (each
  ``topic-regex:partitions``, partitions a number, ``N-M`` with M excluded, ``N-`` or ``-M``;
  either part may be left out), which wins over the other two; ``--exclude-internal-topics``;
* lines are sorted by topic then partition. Nothing matching: "Could not match any
  topic-partitions with the specified filters" on stderr, exit 1. A partition without a leader
  is skipped with an error line on stderr.

``--bootstrap-server`` (Kafka 3.0's name) and ``--broker-list`` (2.8's) are the same;
``--command-config`` reads client properties (security settings for secured listeners).
"""

from __future__ import annotations

import re
import sys
from collections.abc import Callable, Iterable

import click

from kafkalite.cli.common import choose_bootstrap, cluster_kwargs, fail, read_config_file, \
    run_trio, whitelist_regex
from kafkalite.client.cluster import Cluster
from kafkalite.client.consumer import EARLIEST, LATEST, list_offsets
from kafkalite.errors import ConfigError
from kafkalite.model import TopicPartition

__all__ = ["parse_time", "parse_partition_ids", "partition_filter", "topic_partitions_filter",
           "topic_and_partitions_filter", "format_offsets", "main"]

# (topic, partition, is_internal) -> selected?
PartitionFilter = Callable[[str, int, bool], bool]


def parse_time(value: str) -> int:
    """``--time``: -1/latest, -2/earliest or a timestamp in ms.

    Raises:
        ConfigError: anything else.
    """
    text = value.strip().lower()
    named = {"latest": LATEST, "earliest": EARLIEST}
    if text in named:
        return named[text]
    try:
        return int(text)
    except ValueError:
        raise ConfigError(f"Malformed time argument {value}, please use -1 or latest / -2 or "
                          "earliest, or a specified long format timestamp") from None


def parse_partition_ids(text: str) -> set[int]:
    """``--partitions 0,1,2``; empty for none.

    Raises:
        ConfigError: a part that is not a number (Kafka's message).
    """
    if not text:
        return set()
    try:
        return {int(part) for part in text.split(",")}
    except ValueError:
        raise ConfigError("--partitions expects a comma separated list of numeric partition "
                          f"ids, but received: {text}") from None


def partition_filter(spec: str) -> Callable[[int], bool]:
    """One partition spec of ``--topic-partitions``: ``N``, ``N-M`` (M excluded), ``N-``,
    ``-M``.

    Raises:
        ConfigError: an invalid spec.
    """
    try:
        if "-" not in spec:
            number = int(spec)
            return lambda p: p == number
        low, _, high = spec.partition("-")
        if "-" in high or (not low and not high):
            raise ConfigError(f"Invalid range specification: {spec}")
        if not low:
            top = int(high)
            return lambda p: p < top
        if not high:
            bottom = int(low)
            return lambda p: p >= bottom
        bottom, top = int(low), int(high)
    except ValueError:
        raise ConfigError(f"Invalid range specification: {spec}") from None
    if bottom > top:
        raise ConfigError(f"Range lower bound cannot be greater than upper bound: {spec}")
    return lambda p: bottom <= p < top


def _topic_matcher(regex: str, exclude_internal: bool) -> Callable[[str, bool], bool]:
    pattern = re.compile(whitelist_regex(regex))
    return lambda topic, internal: bool(pattern.fullmatch(topic)) and not (
        internal and exclude_internal)


def topic_partitions_filter(spec: str, exclude_internal: bool) -> PartitionFilter:
    """``--topic-partitions``: any rule of the comma-separated list selects.

    Raises:
        ConfigError: a malformed rule.
    """
    rules: list[PartitionFilter] = []
    for rule in spec.split(","):
        parts = rule.split(":")
        if len(parts) == 1:
            topic_ok = _topic_matcher(parts[0], exclude_internal)
            rules.append(lambda t, p, i, topic_ok=topic_ok: topic_ok(t, i))
        elif len(parts) == 2:
            partition_ok = partition_filter(parts[1])
            if not parts[0].strip():
                rules.append(lambda t, p, i, partition_ok=partition_ok:
                             partition_ok(p) and not (i and exclude_internal))
            else:
                topic_ok = _topic_matcher(parts[0], exclude_internal)
                rules.append(lambda t, p, i, topic_ok=topic_ok, partition_ok=partition_ok:
                             topic_ok(t, i) and partition_ok(p))
        else:
            raise ConfigError(f"Invalid topic-partition rule: {rule}")
    return lambda t, p, i: any(rule(t, p, i) for rule in rules)


def topic_and_partitions_filter(topic: str | None, partitions: set[int],
                                exclude_internal: bool) -> PartitionFilter:
    """``--topic`` (a regex; all topics without it) and ``--partitions``."""
    if topic is not None:
        topic_ok = _topic_matcher(topic, exclude_internal)
    else:
        def topic_ok(t: str, internal: bool) -> bool:
            return not (internal and exclude_internal)
    return lambda t, p, i: topic_ok(t, i) and (not partitions or p in partitions)


def format_offsets(offsets: dict[TopicPartition, int | None]) -> list[str]:
    """``topic:partition:offset`` lines sorted by topic, partition; no offset: ``t:p:``."""
    return [f"{tp.topic}:{tp.partition}:{'' if offsets[tp] is None else offsets[tp]}"
            for tp in sorted(offsets, key=lambda tp: (tp.topic, tp.partition))]


async def get_offsets(bootstrap: str, cluster_args: dict, selected: PartitionFilter,
                      timestamp: int) -> tuple[dict[TopicPartition, int | None], bool]:
    """Offsets of the selected partitions that have a leader, and whether any matched."""
    async with Cluster(bootstrap, **cluster_args) as cluster:
        metadata = await cluster.refresh_metadata(None, allow_auto_create=False)
        matched: list[tuple[TopicPartition, int]] = []
        for name, topic in metadata.topics.items():
            if topic.error_code:
                continue
            for partition in topic.partitions.values():
                if selected(name, partition.partition, topic.is_internal):
                    matched.append((TopicPartition(name, partition.partition),
                                    partition.leader))
        wanted = []
        for tp, leader in sorted(matched):
            if leader < 0:
                print(f"Error: topic-partition {tp.topic}:{tp.partition} does not have a "
                      "leader. Skip getting offsets", file=sys.stderr)
            else:
                wanted.append(tp)
        offsets = await list_offsets(cluster, wanted, timestamp) if wanted else {}
    return offsets, bool(matched)


def _missing(offsets: dict[TopicPartition, int | None], timestamp: int
             ) -> Iterable[TopicPartition]:
    """Partitions that should have an offset (latest/earliest always do) but got none."""
    if timestamp in (LATEST, EARLIEST):
        return [tp for tp, offset in offsets.items() if offset is None]
    return []


@click.command(context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--bootstrap-server", help="REQUIRED unless --broker-list is given: the "
              "server(s) to connect to, host1:port1,host2:port2.")
@click.option("--broker-list", help="The list of hostname and port of the server to connect "
              "to (Kafka 2.8's name for --bootstrap-server).")
@click.option("--topic-partitions", help="Comma separated list of topic-partition "
              "specifications topic:partition; the topic part is a regex or may be omitted, "
              "the partition part a number, a range N-M (upper exclusive), N- or -M, or may be "
              "omitted to take every partition.")
@click.option("--topic", help="The topic to get the offsets for; a regular expression. All "
              "topics without it. Ignored if --topic-partitions is present.")
@click.option("--partitions", default="", help="Comma separated list of partition ids; all "
              "partitions without it. Ignored if --topic-partitions is present.")
@click.option("--time", "time_", default="-1", show_default=True,
              help="timestamp/-1(latest)/-2(earliest): the offsets of records at or after "
                   "that time.")
@click.option("--command-config", help="Consumer config properties file.")
@click.option("--exclude-internal-topics", is_flag=True, help="By default, internal topics are "
              "included. If specified, internal topics are excluded.")
def main(bootstrap_server, broker_list, topic_partitions, topic, partitions, time_,
         command_config, exclude_internal_topics) -> None:
    """An interactive shell for getting topic-partition offsets."""
    if bootstrap_server is None and broker_list is None:
        raise click.UsageError('Missing required argument "[broker-list]"')
    bootstrap = choose_bootstrap(bootstrap_server, broker_list)
    try:
        timestamp = parse_time(time_)
        if topic_partitions is not None:
            selected = topic_partitions_filter(topic_partitions, exclude_internal_topics)
        else:
            selected = topic_and_partitions_filter(topic, parse_partition_ids(partitions),
                                                   exclude_internal_topics)
        args = cluster_kwargs(read_config_file(command_config), client_id="GetOffsetShell")
    except ConfigError as exc:
        fail(str(exc))
    offsets, matched = run_trio(get_offsets, bootstrap, args, selected, timestamp)
    if not matched:
        fail("Could not match any topic-partitions with the specified filters")
    missing = list(_missing(offsets, timestamp))
    lines = format_offsets({tp: o for tp, o in offsets.items() if tp not in missing})
    if lines:
        sys.stdout.write("\n".join(lines) + "\n")
    for tp in missing:
        print(f"Error: could not get the offset of topic-partition {tp.topic}:{tp.partition}",
              file=sys.stderr)
    if missing:
        sys.exit(1)


if __name__ == "__main__":
    from kafkalite.cli.tools import run_module

    run_module("kafkalite.cli.get_offsets")
