"""``kafka-consumer-groups.sh``: list, describe, reset offsets of, and delete consumer groups.

Follows Kafka 2.8's ConsumerGroupCommand — actions ``--list`` (``--state [s1,s2]``),
``--describe`` (``--offsets`` by default, ``--members [--verbose]``, ``--state``),
``--reset-offsets`` (``--to-earliest``, ``--to-latest``, ``--to-offset``, ``--shift-by``,
``--to-datetime``, ``--by-duration``, ``--to-current``, ``--from-file``; scope ``--all-topics`` or
``--topic t[:p,p]``; ``--dry-run`` (the default) or ``--execute``; ``--export``), ``--delete``
and ``--delete-offsets`` — with Kafka's column layout (each column padded to the widest value,
at least 15 wide) and messages.

Two ways in, as in Kafka 1.x:

* ``--bootstrap-server``: the group APIs. ListGroups goes to every broker (each lists the
  groups it coordinates); DescribeGroups, OffsetFetch, OffsetCommit (a "simple" commit:
  generation -1, no member id), DeleteGroups and OffsetDelete go to the group's coordinator;
  log start/end offsets and offsets by time come from the partition leaders (ListOffsets).
  ``--command-config`` is the Admin client's properties file (``security.protocol``,
  ``sasl.*``, ``ssl.*`` to reach a secured listener).
* ``--zookeeper``: the legacy 0.8 consumer paths (zookeeper-layout.md §4), read and written
  directly: groups are the children of ``/consumers``, members the ephemeral
  ``/consumers/<g>/ids/<id>``, partition owners ``/consumers/<g>/owners/<t>/<p>`` (a thread id,
  ``<consumer id>-<n>``) and offsets the decimal strings under ``/consumers/<g>/offsets``. A group
  is active while it has ids. Log end offsets still come from the brokers registered in
  ``/brokers/ids``.

Unlike Kafka's tool, every failure is one ``Error: ...`` line on stderr with exit status 1
(Kafka prints some of them on stdout and exits 0), and never a stack trace.
"""

from __future__ import annotations

import datetime as _dt
import logging
import re
import sys
import time
from collections.abc import Mapping, Sequence
from typing import Any

import attrs
import click
import trio

from kafkalite import errors
from kafkalite.model import TopicPartition
from kafkalite.client.cluster import Cluster
from kafkalite.client.errors import ClientError, describe
from kafkalite.client.group import GroupDescription, MemberDescription
from kafkalite.client.group_admin import GroupAdmin

__all__ = ["main", "consumer_groups", "GroupInfo", "MemberInfo", "PartitionRow",
           "render_offsets", "render_members", "render_state", "render_reset",
           "render_group_states", "parse_datetime", "parse_duration", "CommandError"]

log = logging.getLogger(__name__)

MISSING = "-"
EARLIEST = -2
LATEST = -1
STATES = ("PreparingRebalance", "CompletingRebalance", "Stable", "Dead", "Empty")
_RESET_SCENARIOS = ("to_offset", "shift_by", "to_datetime", "by_duration", "to_earliest",
                    "to_latest", "to_current", "from_file")


class CommandError(Exception):
    """A failure to report as one ``Error: <message>`` line (exit status 1)."""


# --- what is shown -----------------------------------------------------------------------------


GroupInfo = GroupDescription
MemberInfo = MemberDescription


@attrs.frozen(kw_only=True)
class PartitionRow:
    """One line of ``--describe --offsets`` (None shows as "-")."""

    group: str
    topic: str | None
    partition: int | None
    offset: int | None
    log_end_offset: int | None
    consumer_id: str
    host: str
    client_id: str

    @property
    def lag(self) -> int | None:
        if self.offset is None or self.offset == -1 or self.log_end_offset is None:
            return None
        return self.log_end_offset - self.offset


def _s(value: Any) -> str:
    return MISSING if value is None else str(value)


def _pad(value: Any, width: int) -> str:
    return f"{_s(value):<{width}}"


def state_check(group: str, state: str | None, rows: int | None) -> tuple[bool, list[str]]:
    """Kafka's shouldPrintMemberState: whether to print a table, and notes for stderr.

    Raises:
        CommandError: the group does not exist.
    """
    if rows is None or state == "Dead":
        raise CommandError(f"Consumer group '{group}' does not exist.")
    notes = []
    if state == "Empty":
        notes.append(f"\nConsumer group '{group}' has no active members.")
    elif state in ("PreparingRebalance", "CompletingRebalance"):
        notes.append(f"\nWarning: Consumer group '{group}' is rebalancing.")
    return rows > 0, notes


def render_offsets(rows: Sequence[PartitionRow]) -> list[str]:
    """The ``--describe --offsets`` table (first line empty, as Kafka prints it)."""
    group_w = max([15] + [len(r.group) for r in rows])
    topic_w = max([15] + [len(_s(r.topic)) for r in rows])
    consumer_w = max([15] + [len(r.consumer_id) for r in rows])
    host_w = max([15] + [len(r.host) for r in rows])

    def line(*cols: Any) -> str:
        g, t, p, o, leo, lag, c, h, cl = cols
        return (f"{_pad(g, group_w)} {_pad(t, topic_w)} {_pad(p, 10)} {_pad(o, 15)} "
                f"{_pad(leo, 15)} {_pad(lag, 15)} {_pad(c, consumer_w)} {_pad(h, host_w)} "
                f"{_s(cl)}")

    out = ["", line("GROUP", "TOPIC", "PARTITION", "CURRENT-OFFSET", "LOG-END-OFFSET", "LAG",
                    "CONSUMER-ID", "HOST", "CLIENT-ID")]
    for r in rows:
        out.append(line(r.group, r.topic, r.partition, r.offset, r.log_end_offset, r.lag,
                        r.consumer_id, r.host, r.client_id))
    return out


def render_members(group: str, members: Sequence[MemberInfo], verbose: bool) -> list[str]:
    """The ``--describe --members [--verbose]`` table (Kafka keeps the trailing blanks)."""
    group_w = max([15, len(group)])
    consumer_w = max([15] + [len(m.member_id) for m in members])
    instance_w = max([17] + [len(m.group_instance_id or "") for m in members])
    host_w = max([15] + [len(m.host) for m in members])
    client_w = max([15] + [len(m.client_id) for m in members])
    with_instance = any(m.group_instance_id for m in members)

    def line(g, c, i, h, cl, n, assignment) -> str:
        text = f"{_pad(g, group_w)} {_pad(c, consumer_w)} "
        if with_instance:
            text += f"{_pad(i, instance_w)} "
        text += f"{_pad(h, host_w)} {_pad(cl, client_w)} {_pad(n, 15)} "
        if verbose:
            text += assignment
        return text

    out = ["", line("GROUP", "CONSUMER-ID", "GROUP-INSTANCE-ID", "HOST", "CLIENT-ID",
                    "#PARTITIONS", "ASSIGNMENT")]
    for m in members:
        by_topic: dict[str, list[int]] = {}
        for tp in m.assignment:
            by_topic.setdefault(tp.topic, []).append(tp.partition)
        assignment = ", ".join(sorted(f"{t}({','.join(str(p) for p in sorted(ps))})"
                                      for t, ps in by_topic.items())) or MISSING
        out.append(line(group, m.member_id, m.group_instance_id or "", m.host, m.client_id,
                        len(m.assignment), assignment))
    return out


def render_state(info: GroupInfo) -> list[str]:
    """The ``--describe --state`` table."""
    c = info.coordinator
    coordinator = f"{c.host}:{c.port} ({c.node_id})" if c is not None else MISSING
    width = max(25, len(coordinator))
    fmt = f"{{:<{width}}} {{:<25}} {{:<20}} {{:<15}} {{}}"
    return ["", fmt.format("GROUP", "COORDINATOR (ID)", "ASSIGNMENT-STRATEGY", "STATE",
                           "#MEMBERS"),
            fmt.format(info.group_id, coordinator, info.protocol, info.state,
                       len(info.members))]


def render_reset(plans: dict[str, dict[TopicPartition, int]]) -> list[str]:
    """``--reset-offsets`` result table: GROUP TOPIC PARTITION NEW-OFFSET."""
    if not plans:
        return []
    fmt = "{:<30} {:<30} {:<10} {:<15}"
    out = ["", fmt.format("GROUP", "TOPIC", "PARTITION", "NEW-OFFSET")]
    for group, plan in plans.items():
        for tp in sorted(plan):
            out.append(fmt.format(group, tp.topic, tp.partition, plan[tp]))
    return out


def render_group_states(groups: Sequence[tuple[str, str]]) -> list[str]:
    """``--list --state``: GROUP STATE."""
    width = max([15] + [len(g) for g, _ in groups])
    return [f"{'GROUP':<{width}} STATE"] + [f"{g:<{width}} {s}" for g, s in groups]


def export_csv(plans: dict[str, dict[TopicPartition, int]], single_group: bool) -> str:
    """``--export``: ``topic,partition,offset`` lines (with the group first for several)."""
    lines = []
    for group, plan in plans.items():
        for tp in sorted(plan):
            prefix = "" if single_group else f"{group},"
            lines.append(f"{prefix}{tp.topic},{tp.partition},{plan[tp]}")
    return "\n".join(lines)


def parse_reset_file(text: str, groups: Sequence[str]) -> dict[str, dict[TopicPartition, int]]:
    """``--from-file`` CSV: ``topic,partition,offset`` (one group) or ``group,topic,...``."""
    plans: dict[str, dict[TopicPartition, int]] = {}
    for number, raw in enumerate(text.splitlines(), 1):
        line = raw.strip()
        if not line:
            continue
        cols = [c.strip() for c in line.split(",")]
        try:
            if len(cols) == 3 and len(groups) == 1:
                group, topic, partition, offset = groups[0], cols[0], int(cols[1]), int(cols[2])
            elif len(cols) == 4:
                group, topic, partition, offset = cols[0], cols[1], int(cols[2]), int(cols[3])
            else:
                raise ValueError
        except ValueError:
            raise CommandError(f"Invalid line {number} in the reset plan: {raw!r}") from None
        plans.setdefault(group, {})[TopicPartition(topic, partition)] = offset
    return plans


# --- Kafka's time formats ----------------------------------------------------------------------

_DATETIME = re.compile(r"^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})\.(\d{3})"
                       r"(Z|[+-]\d{2}(?::?\d{2})?)?$")
_DURATION = re.compile(r"^([-+]?)P(?:([-+]?\d+)D)?(?:T(?:([-+]?\d+)H)?(?:([-+]?\d+)M)?"
                       r"(?:([-+]?\d+)(?:[.,](\d{0,9}))?S)?)?$", re.IGNORECASE)


def parse_datetime(text: str) -> int:
    """Kafka's Utils.getDateTime: ``YYYY-MM-DDTHH:mm:SS.sss`` with an optional zone (UTC if
    none); milliseconds since the epoch.

    Raises:
        CommandError: with Java's "Unparseable date" wording.
    """
    m = _DATETIME.match(text.strip())
    if not m:
        raise CommandError(f'Executing consumer group command failed due to Unparseable date: '
                           f'"{text}"')
    year, month, day, hour, minute, second, millis, zone = m.groups()
    tz = _dt.timezone.utc
    if zone and zone != "Z":
        sign = -1 if zone[0] == "-" else 1
        digits = zone[1:].replace(":", "")
        minutes = int(digits[:2]) * 60 + (int(digits[2:]) if len(digits) > 2 else 0)
        tz = _dt.timezone(sign * _dt.timedelta(minutes=minutes))
    try:
        stamp = _dt.datetime(int(year), int(month), int(day), int(hour), int(minute),
                             int(second), int(millis) * 1000, tzinfo=tz)
    except ValueError:
        raise CommandError(f'Executing consumer group command failed due to Unparseable date: '
                           f'"{text}"') from None
    return int(stamp.timestamp() * 1000)


def parse_duration(text: str) -> int:
    """Java's Duration.parse (``PnDTnHnMn.nS``) in milliseconds.

    Raises:
        CommandError: with Java's "Text cannot be parsed to a Duration" wording.
    """
    m = _DURATION.match(text.strip())
    if not m or text.strip().upper() in ("P", "PT") or text.strip().upper().endswith("T"):
        raise CommandError("Executing consumer group command failed due to Text cannot be "
                           "parsed to a Duration")
    sign, days, hours, minutes, seconds, fraction = m.groups()
    ms = (int(days or 0) * 86_400_000 + int(hours or 0) * 3_600_000
          + int(minutes or 0) * 60_000 + int(seconds or 0) * 1000)
    if fraction:
        frac_ms = int((fraction + "000")[:3])
        ms += -frac_ms if (seconds or "").startswith("-") else frac_ms
    return -ms if sign == "-" else ms


# --- the two ways in -------------------------------------------------------------------------


# The group calls live in the client layer (the web console makes them too).
BrokerGroups = GroupAdmin


# --- the actions -----------------------------------------------------------------------------


@attrs.frozen(kw_only=True)
class Options:
    action: str
    groups: tuple[str, ...]
    all_groups: bool
    topics: tuple[str, ...]
    all_topics: bool
    describe_what: str = "offsets"
    verbose: bool = False
    states: tuple[str, ...] | None = None
    scenario: str | None = None
    scenario_value: Any = None
    execute: bool = False
    export: bool = False
    via_zookeeper: bool = False


class Output:
    """Lines for stdout and stderr, in order; the CLI prints them."""

    def __init__(self) -> None:
        self.lines: list[tuple[bool, str]] = []

    def out(self, text: str = "") -> None:
        self.lines.append((False, text))

    def err(self, text: str) -> None:
        self.lines.append((True, text))


async def _group_ids(backend: Any, opts: Options) -> list[str]:
    if opts.all_groups:
        return [g for g, _ in await backend.list_groups()]
    return list(dict.fromkeys(opts.groups))


async def run_command(backend: Any, opts: Options, out: Output) -> bool:
    """Run one action; returns False when it failed partly (exit status 1)."""
    if opts.action == "list":
        groups = await backend.list_groups()
        if opts.states is None:
            for g, _ in groups:
                out.out(g)
            return True
        if any(s is None for _, s in groups):
            groups = [(g, (await backend.describe(g)).state) for g, _ in groups]
        wanted = {s.lower() for s in opts.states}
        for line in render_group_states([(g, s) for g, s in groups
                                         if not wanted or (s or "").lower() in wanted]):
            out.out(line)
        return True
    if opts.action == "describe":
        for group in await _group_ids(backend, opts):
            await _describe(backend, opts, group, out)
        return True
    if opts.action == "reset":
        return await _reset(backend, opts, out)
    if opts.action == "delete":
        return await _delete(backend, opts, out)
    if opts.action == "delete-offsets":
        return await _delete_offsets(backend, opts, out)
    raise CommandError(f"unknown action {opts.action}")


async def _describe(backend: Any, opts: Options, group: str, out: Output) -> None:
    info = await backend.describe(group)
    if opts.describe_what == "state":
        _, notes = state_check(group, info.state, 1)
        for n in notes:
            out.err(n)
        for line in render_state(info):
            out.out(line)
        return
    if opts.describe_what == "members":
        show, notes = state_check(group, info.state, len(info.members))
        for n in notes:
            out.err(n)
        if show:
            for line in render_members(group, info.members, opts.verbose):
                out.out(line)
        return
    rows = await collect_offset_rows(backend, info)
    show, notes = state_check(group, info.state, len(rows))
    for n in notes:
        out.err(n)
    if show:
        for line in render_offsets(rows):
            out.out(line)


async def collect_offset_rows(backend: Any, info: GroupInfo) -> list[PartitionRow]:
    """Kafka's collectGroupOffsets: members with partitions (most first), then committed
    partitions nobody is assigned; within a member by partition number."""
    if info.state == "Dead":
        return []
    committed = await backend.committed(info.group_id)
    assigned = [tp for m in info.members for tp in m.assignment]
    unassigned = sorted((tp for tp in committed if tp not in set(assigned)),
                        key=lambda tp: (tp.partition, tp.topic))
    ends = await backend.offsets_for(set(assigned) | set(unassigned), LATEST)
    rows: list[PartitionRow] = []
    for m in sorted((m for m in info.members if m.assignment),
                    key=lambda m: -len(m.assignment)):
        for tp in sorted(m.assignment, key=lambda tp: (tp.partition, tp.topic)):
            rows.append(PartitionRow(group=info.group_id, topic=tp.topic, partition=tp.partition,
                                     offset=committed.get(tp), log_end_offset=ends.get(tp),
                                     consumer_id=m.member_id, host=m.host,
                                     client_id=m.client_id))
    for tp in unassigned:
        rows.append(PartitionRow(group=info.group_id, topic=tp.topic, partition=tp.partition,
                                 offset=committed.get(tp), log_end_offset=ends.get(tp),
                                 consumer_id=MISSING, host=MISSING, client_id=MISSING))
    return rows


async def _partitions_to_reset(backend: Any, opts: Options, group: str
                               ) -> list[TopicPartition]:
    if opts.all_topics:
        return sorted(await backend.committed(group))
    out: list[TopicPartition] = []
    for arg in opts.topics:
        topic, sep, parts = arg.partition(":")
        if sep:
            try:
                out += [TopicPartition(topic, int(p)) for p in parts.split(",") if p.strip()]
            except ValueError:
                raise CommandError(f"Invalid partition list in --topic {arg}") from None
        else:
            out += await backend.topic_partitions(topic)
    return list(dict.fromkeys(out))


async def _clamp(backend: Any, requested: dict[TopicPartition, int], out: Output
                 ) -> dict[TopicPartition, int]:
    """Kafka's checkOffsetsRange: keep each new offset between log start and log end."""
    starts = await backend.offsets_for(requested, EARLIEST)
    ends = await backend.offsets_for(requested, LATEST)
    result = {}
    for tp, offset in requested.items():
        end, start = ends.get(tp), starts.get(tp)
        if end is None:
            raise CommandError(f"Unexpected non-existing offset value for topic partition {tp}")
        if offset > end:
            out.err(f"WARN: New offset ({offset}) is higher than latest offset for topic "
                    f"partition {tp}. Value will be set to {end}")
            offset = end
        elif start is not None and offset < start:
            out.err(f"WARN: New offset ({offset}) is lower than earliest offset for topic "
                    f"partition {tp}. Value will be set to {start}")
            offset = start
        result[tp] = offset
    return result


async def _need_offsets(backend: Any, partitions: list[TopicPartition], timestamp: int,
                        what: str) -> dict[TopicPartition, int]:
    found = await backend.offsets_for(partitions, timestamp)
    out = {}
    for tp in partitions:
        if found.get(tp) is None:
            raise CommandError(f"Error getting {what} of topic partition: {tp}")
        out[tp] = found[tp]
    return out


async def _prepare_offsets(backend: Any, opts: Options, group: str,
                           partitions: list[TopicPartition], out: Output
                           ) -> dict[TopicPartition, int]:
    scenario, value = opts.scenario, opts.scenario_value
    if scenario == "to_offset":
        return await _clamp(backend, {tp: value for tp in partitions}, out)
    if scenario == "to_earliest":
        return await _need_offsets(backend, partitions, EARLIEST, "starting offset")
    if scenario == "to_latest":
        return await _need_offsets(backend, partitions, LATEST, "ending offset")
    if scenario == "shift_by":
        committed = await backend.committed(group)
        requested = {}
        for tp in partitions:
            if tp not in committed:
                raise CommandError(f"Cannot shift offset for partition {tp} since there is no "
                                   "current committed offset")
            requested[tp] = committed[tp] + value
        return await _clamp(backend, requested, out)
    if scenario in ("to_datetime", "by_duration"):
        timestamp = value if scenario == "to_datetime" else int(time.time() * 1000) - value
        found = await backend.offsets_for(partitions, timestamp)
        missing = [tp for tp in partitions if found.get(tp) is None]
        if missing:
            found.update(await backend.offsets_for(missing, LATEST))
        for tp in partitions:
            if found.get(tp) is None:
                raise CommandError(f"Error getting offset by timestamp of topic partition: {tp}")
        return {tp: found[tp] for tp in partitions}
    if scenario == "to_current":
        committed = await backend.committed(group)
        result = {tp: committed[tp] for tp in partitions if tp in committed}
        rest = [tp for tp in partitions if tp not in committed]
        if rest:
            result.update(await _need_offsets(backend, rest, LATEST, "ending offset"))
        return result
    if scenario == "from_file":
        plan = value.get(group)
        if plan is None:
            raise CommandError(f"No reset plan for group {group} found")
        return await _clamp(backend, dict(plan), out)
    raise CommandError("Option '[reset-offsets]' requires one of the following scenarios: "
                       "[to-offset], [shift-by], [to-datetime], [by-duration], [to-earliest], "
                       "[to-latest], [to-current], [from-file]")


async def _reset(backend: Any, opts: Options, out: Output) -> bool:
    plans: dict[str, dict[TopicPartition, int]] = {}
    ok = True
    for group in await _group_ids(backend, opts):
        info = await backend.describe(group)
        if info.state not in ("Empty", "Dead"):
            out.err(f"Error: Assignments can only be reset if the group '{group}' is inactive, "
                    f"but the current state is {info.state}.")
            ok = False
            continue
        if opts.scenario == "from_file" and not (opts.all_topics or opts.topics):
            partitions = sorted(opts.scenario_value.get(group, {}))
        else:
            partitions = await _partitions_to_reset(backend, opts, group)
        plan = await _prepare_offsets(backend, opts, group, partitions, out)
        if opts.execute and plan:
            await backend.alter_offsets(group, plan)
        plans[group] = plan
    if opts.export:
        out.out(export_csv(plans, single_group=len(opts.groups) == 1 and not opts.all_groups))
    else:
        for line in render_reset(plans):
            out.out(line)
    return ok


async def _delete(backend: Any, opts: Options, out: Output) -> bool:
    results = await backend.delete_groups(await _group_ids(backend, opts))
    done = [g for g, e in results.items() if e is None]
    failed = {g: e for g, e in results.items() if e is not None}
    quoted = ", ".join(f"'{g}'" for g in done)
    if not failed:
        out.out(f"Deletion of requested consumer groups ({quoted}) was successful.")
        return True
    details = "; ".join(f"* Group '{g}' could not be deleted due to: {describe(e)}"
                        for g, e in failed.items())
    out.err(f"Error: Deletion of some consumer groups failed: {details}")
    if done:
        out.out(f"These consumer groups were deleted successfully: {quoted}")
    return False


async def _delete_offsets(backend: Any, opts: Options, out: Output) -> bool:
    group = opts.groups[0]
    partitions: list[TopicPartition] = []
    unknown: dict[TopicPartition, errors.KafkaError] = {}
    for arg in opts.topics:
        topic, sep, parts = arg.partition(":")
        if sep:
            partitions += [TopicPartition(topic, int(p)) for p in parts.split(",") if p.strip()]
        else:
            try:
                partitions += await backend.topic_partitions(topic)
            except errors.UnknownTopicOrPartition as exc:
                unknown[TopicPartition(topic, -1)] = exc
    top, results = (None, {}) if not partitions else \
        await backend.delete_offsets(group, partitions)
    results = {**results, **unknown}
    top = top or next(iter(unknown.values()), None)
    if top is None:
        out.out(f"Request succeed for deleting offsets with topic {', '.join(opts.topics)} "
                f"group {group}")
    elif isinstance(top, errors.GroupIdNotFound):
        raise CommandError(f"'{group}' does not exist.")
    elif isinstance(top, errors.InvalidGroupId):
        raise CommandError(f"'{group}' is not valid.")
    elif isinstance(top, errors.NonEmptyGroup):
        raise CommandError(f"Deleting offsets of a consumer group '{group}' is forbidden if the "
                           "group is not empty.")
    elif isinstance(top, (errors.GroupSubscribedToTopic, errors.TopicAuthorizationFailed,
                          errors.UnknownTopicOrPartition)):
        out.err("Error: Encounter some partition level error, see the follow-up details:")
    else:
        raise CommandError(f"Encounter some unknown error: {type(top).kafka_name()}")
    fmt = "{:<30} {:<15} {:<15}"
    out.out("")
    out.out(fmt.format("TOPIC", "PARTITION", "STATUS"))
    for tp in sorted(results, key=lambda tp: (tp.topic, tp.partition)):
        error = results[tp]
        status = f"Error: {error}" if error is not None else "Successful"
        out.out(fmt.format(tp.topic, tp.partition if tp.partition >= 0 else "Not Provided",
                           status))
    return top is None


# --- entry point -----------------------------------------------------------------------------


async def _with_backend(opts: Options, bootstrap: str | None, zookeeper: str | None,
                        out: Output, cluster_kw: Mapping[str, Any] | None = None) -> bool:
    def cluster_for(servers: Sequence[str]) -> Cluster:
        return Cluster(list(servers), client_id="kafka-consumer-groups", retry_timeout_ms=15000,
                       **(cluster_kw or {}))

    if bootstrap:
        cluster = cluster_for([bootstrap])
        try:
            return await run_command(BrokerGroups(cluster), opts, out)
        finally:
            await cluster.aclose()
    from kafkalite.client.zk_consumer import ZkGroupAdmin
    from kafkalite.zk.kafka_zk import KafkaZk
    from kafkalite.cli.common import open_tool_zk

    async with open_tool_zk(zookeeper, error=CommandError) as session:
        backend = ZkGroupAdmin(KafkaZk(session), cluster_for)
        try:
            return await run_command(backend, opts, out)
        finally:
            await backend.close()


def _usage(message: str) -> click.UsageError:
    return click.UsageError(message)


def build_options(*, zookeeper, bootstrap_server, actions, groups, all_groups, topics,
                  all_topics, members, verbose, offsets, state, dry_run, execute, export,
                  scenarios) -> Options:
    """Kafka's checkArgs, as click usage errors."""
    if len(actions) != 1:
        raise _usage("Command must include exactly one action: --list, --describe, --delete, "
                     "--reset-offsets, --delete-offsets")
    if bool(zookeeper) == bool(bootstrap_server):
        raise _usage("Exactly one of --bootstrap-server or --zookeeper must be given")
    action = actions[0]
    if groups and all_groups:
        raise _usage("Option [group] can't be used along with option [all-groups]")
    if groups and action == "list":
        raise _usage("Option [group] can't be used along with option [list]")
    if topics and action in ("list", "describe"):
        raise _usage(f"Option [topic] can't be used along with option [{action}]")
    if (members or offsets or verbose) and action != "describe":
        raise _usage("Options [members], [offsets] and [verbose] are only valid with "
                     "[describe]")
    if state is not None and action not in ("describe", "list"):
        raise _usage("Option [state] is only valid with [describe] or [list]")
    if zookeeper and (members or state is not None or verbose):
        raise _usage("Options [members], [state] and [verbose] may be used with "
                     "'--bootstrap-server' only")
    describe_what = "offsets"
    if action == "describe":
        if not groups and not all_groups:
            raise _usage("Option [describe] takes one of these options: [all-groups], [group]")
        if sum(bool(x) for x in (members, offsets, state is not None)) > 1:
            raise _usage("Option [describe] takes at most one of these options: [members], "
                         "[offsets], [state]")
        if state:
            raise _usage("Option [describe] does not take a value for [state]")
        describe_what = "members" if members else "state" if state is not None else "offsets"
    if action == "delete":
        if not groups and not all_groups:
            raise _usage("Option [delete] takes one of these options: [all-groups], [group]")
        if topics:
            raise _usage("The consumer does not support topic-specific offset deletion from a "
                         "consumer group.")
    if action == "delete-offsets" and (len(groups) != 1 or not topics):
        raise _usage("Option [delete-offsets] takes the following options: [group], [topic]")
    chosen = [(k, v) for k, v in scenarios.items() if v not in (None, False)]
    if action != "reset" and (chosen or dry_run or execute or export or all_topics):
        raise _usage("Reset options ([to-*], [shift-by], [by-duration], [from-file], "
                     "[all-topics], [dry-run], [execute], [export]) are only valid with "
                     "[reset-offsets]")
    scenario = value = None
    if action == "reset":
        if dry_run and execute:
            raise _usage("Option [reset-offsets] only accepts one of [execute] and [dry-run]")
        if not groups and not all_groups:
            raise _usage("Option [reset-offsets] takes one of these options: [all-groups], "
                         "[group]")
        if len(chosen) > 1:
            names = ", ".join(f"[{k.replace('_', '-')}]" for k, _ in chosen)
            raise _usage(f"Option [reset-offsets] takes only one of {names}")
        if not chosen:
            raise _usage("Option '[reset-offsets]' requires one of the following scenarios: "
                         "[to-offset], [shift-by], [to-datetime], [by-duration], "
                         "[to-earliest], [to-latest], [to-current], [from-file]")
        scenario, value = chosen[0]
        if scenario != "from_file" and not (all_topics or topics):
            raise _usage("One of the reset scopes should be defined: --all-topics, --topic.")
        if all_topics and topics:
            raise _usage("Option [all-topics] can't be used along with option [topic]")
    states = None
    if action == "list" and state is not None:
        states = tuple(s.strip() for s in state.split(",") if s.strip())
        bad = [s for s in states if s.lower() not in {x.lower() for x in STATES}]
        if bad:
            raise _usage(f"Invalid state list '{state}'. Valid states are: "
                         f"{', '.join(STATES)}")
    return Options(action=action, groups=tuple(groups), all_groups=all_groups,
                   topics=tuple(topics), all_topics=all_topics, describe_what=describe_what,
                   verbose=verbose, states=states, scenario=scenario, scenario_value=value,
                   execute=execute, export=export, via_zookeeper=bool(zookeeper))


@click.command(context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--bootstrap-server", help="REQUIRED (unless --zookeeper): the server(s) to "
              "connect to.")
@click.option("--zookeeper", help="DEPRECATED in Kafka: ZooKeeper connect string for groups of "
              "the legacy ZooKeeper-based (0.8) consumer.")
@click.option("--list", "actions", flag_value="list", multiple=True,
              help="List all consumer groups.")
@click.option("--describe", "actions", flag_value="describe", multiple=True,
              help="Describe consumer groups and their offset lag.")
@click.option("--delete", "actions", flag_value="delete", multiple=True,
              help="Delete groups (they must have no active members).")
@click.option("--reset-offsets", "actions", flag_value="reset", multiple=True,
              help="Reset the offsets of inactive groups.")
@click.option("--delete-offsets", "actions", flag_value="delete-offsets", multiple=True,
              help="Delete offsets of a group for some topics.")
@click.option("--group", "groups", multiple=True, help="The consumer group(s) to act on.")
@click.option("--all-groups", is_flag=True, help="Apply to all consumer groups.")
@click.option("--topic", "topics", multiple=True,
              help="Topic to reset or delete offsets of; topic:0,1,2 names partitions.")
@click.option("--all-topics", is_flag=True, help="Reset all topics the group has offsets for.")
@click.option("--members", is_flag=True, help="Describe the members of the group.")
@click.option("--verbose", is_flag=True, help="With --members: show the assignments.")
@click.option("--offsets", is_flag=True, help="Describe partitions, offsets and lag (default).")
@click.option("--state", is_flag=False, flag_value="", default=None,
              help="With --describe: the group's state; with --list: filter by states.")
@click.option("--dry-run", is_flag=True, help="Only show the new offsets (the default).")
@click.option("--execute", is_flag=True, help="Commit the new offsets.")
@click.option("--export", is_flag=True, help="Print the new offsets as CSV.")
@click.option("--to-offset", type=int, help="Reset to this offset.")
@click.option("--to-earliest", is_flag=True, help="Reset to the log start offset.")
@click.option("--to-latest", is_flag=True, help="Reset to the log end offset.")
@click.option("--to-current", is_flag=True, help="Reset to the committed offset.")
@click.option("--shift-by", type=int, help="Shift the committed offset by n (may be negative).")
@click.option("--to-datetime", help="Reset to the first offset at or after "
              "'YYYY-MM-DDTHH:mm:SS.sss' (UTC unless a zone is given).")
@click.option("--by-duration", help="Reset to the first offset at or after now minus "
              "'PnDTnHnMnS'.")
@click.option("--from-file", type=click.Path(dir_okay=False), help="Reset to the offsets of a "
              "CSV file (topic,partition,offset).")
@click.option("--timeout", type=int, default=5000, help="Timeout in ms (accepted for "
              "compatibility).")
@click.option("--command-config", type=click.Path(dir_okay=False),
              help="Property file containing configs to be passed to Admin Client and Consumer "
              "(with --bootstrap-server): security.protocol, sasl.*, ssl.* for a secured "
              "listener.")
def consumer_groups(bootstrap_server, zookeeper, actions, groups, all_groups, topics,
                    all_topics, members, verbose, offsets, state, dry_run, execute, export,
                    to_offset, to_earliest, to_latest, to_current, shift_by, to_datetime,
                    by_duration, from_file, timeout, command_config) -> None:
    """List all consumer groups, describe a consumer group, delete consumer group info, or
    reset consumer group offsets."""
    scenarios = {"to_offset": to_offset, "shift_by": shift_by, "to_datetime": to_datetime,
                 "by_duration": by_duration, "to_earliest": to_earliest,
                 "to_latest": to_latest, "to_current": to_current, "from_file": from_file}
    opts = build_options(zookeeper=zookeeper, bootstrap_server=bootstrap_server,
                         actions=actions, groups=groups, all_groups=all_groups, topics=topics,
                         all_topics=all_topics, members=members, verbose=verbose,
                         offsets=offsets, state=state, dry_run=dry_run, execute=execute,
                         export=export, scenarios=scenarios)
    out = Output()
    try:
        if opts.scenario == "to_datetime":
            opts = attrs.evolve(opts, scenario_value=parse_datetime(to_datetime))
        elif opts.scenario == "by_duration":
            opts = attrs.evolve(opts, scenario_value=parse_duration(by_duration))
        elif opts.scenario == "from_file":
            try:
                with open(from_file, encoding="utf-8") as f:
                    text = f.read()
            except OSError as exc:
                raise CommandError(f"Cannot read {from_file}: {exc.strerror}") from None
            opts = attrs.evolve(opts, scenario_value=parse_reset_file(text, groups))
        if opts.action == "reset" and not (dry_run or execute):
            click.echo("WARN: No action will be performed as the --execute option is missing."
                       "In a future major release, the default behavior of this command will "
                       "be to prompt the user before executing the reset rather than doing a "
                       "dry run. You should add the --dry-run option explicitly if you are "
                       "scripting this command and want to keep the current default behavior "
                       "without prompting.", err=True)
        cluster_kw: dict[str, Any] = {}
        if bootstrap_server:
            from kafkalite.cli.common import cluster_kwargs, read_config_file
            try:
                cluster_kw = cluster_kwargs(read_config_file(command_config))
            except errors.ConfigError as exc:
                raise CommandError(str(exc)) from None
        ok = _run(opts, bootstrap_server, zookeeper, out, cluster_kw)
    except CommandError as exc:
        _flush(out)
        click.echo(f"Error: {exc}", err=True)
        sys.exit(1)
    _flush(out)
    if not ok:
        sys.exit(1)


def _run(opts: Options, bootstrap: str | None, zookeeper: str | None, out: Output,
         cluster_kw: Mapping[str, Any] | None = None) -> bool:
    try:
        return trio.run(_with_backend, opts, bootstrap, zookeeper, out, cluster_kw)
    except BaseException as exc:  # noqa: BLE001 - expected failures become one line
        leaves = _leaves(exc)
        if any(isinstance(e, KeyboardInterrupt) for e in leaves):
            sys.exit(130)
        if any(isinstance(e, CommandError) for e in leaves):
            raise next(e for e in leaves if isinstance(e, CommandError)) from None
        expected = (errors.KafkaError, ClientError, errors.ConfigError, OSError, TimeoutError,
                    trio.TooSlowError)
        if leaves and all(isinstance(e, expected) or _is_zk_error(e) for e in leaves):
            raise CommandError(f"Executing consumer group command failed due to "
                               f"{describe(leaves[0])}") from None
        raise


def _is_zk_error(exc: BaseException) -> bool:
    from kafkalite.zk.errors import ZkError

    return isinstance(exc, ZkError)


def _leaves(exc: BaseException) -> list[BaseException]:
    if isinstance(exc, BaseExceptionGroup):
        return [leaf for inner in exc.exceptions for leaf in _leaves(inner)]
    return [exc]


def _flush(out: Output) -> None:
    for to_err, text in out.lines:
        click.echo(text, err=to_err)
    out.lines.clear()


main = consumer_groups

if __name__ == "__main__":
    from kafkalite.cli.tools import run_module

    run_module("kafkalite.cli.consumer_groups")
