"""``kafka-reassign-partitions.sh``: move partition replicas between brokers.

Kafka 2.8's ReassignPartitionsCommand (KIP-455 era), with exactly one action:

* ``--generate --topics-to-move-json-file F --broker-list 1,2``: print the current assignment
  of the topics and a proposal spreading them over the given brokers (Kafka's rack-unaware
  rule, ``zk/assignment.py``; same partition count and replication factor). Nothing changes.
* ``--execute --reassignment-json-file F``: print the current assignment (to keep for a
  rollback) and start the reassignment.
* ``--verify --reassignment-json-file F``: one line per partition — complete, still in
  progress, or finished elsewhere. Exits 0 either way, as Kafka does.
* ``--list`` / ``--cancel --reassignment-json-file F`` (``--bootstrap-server`` only).

Two ways in, as in Kafka 2.x. ``--bootstrap-server`` uses the Kafka APIs (Metadata, and
AlterPartitionReassignments / ListPartitionReassignments on the controller), with
``--command-config`` naming the Admin client's properties file (``security.protocol``,
``sasl.*``, ``ssl.*`` to reach a secured listener). ``--zookeeper``
(deprecated since Kafka 2.5) reads ``/brokers/topics/<t>`` and ``/brokers/ids`` and starts a
reassignment by creating ``/admin/reassign_partitions``, which the controller watches and
deletes when every partition in it is done; that znode holds one batch at a time, so
``--execute`` refuses while it exists. Where Kafka's ``--zookeeper --verify`` looked only at
that znode, we also count reassignments started through the API (adding/removing replicas in
the topic znode) as in progress.

Not supported: moving replicas between log directories (``log_dirs`` other than "any") is
refused; replication is never throttled, so ``--throttle`` is accepted with a warning and
``--verify`` prints no "Clearing ... throttles" lines. Input and cluster problems print
``ERROR: <message>`` and exit 1; bad flags exit 2.
"""

from __future__ import annotations

import json
import random
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import click

from kafkalite.cli.common import cluster_kwargs, fail, read_config_file, run_trio
from kafkalite.errors import ConfigError, KafkaError
from kafkalite.model import TopicPartition

__all__ = [
    "main", "ReassignError", "parse_broker_list", "parse_topics_to_move", "parse_reassignment",
    "check_reassignment", "check_targets", "propose_assignment", "format_reassignment_json",
    "current_assignment_text", "started_line", "verify_lines", "list_lines",
]

ANY_LOG_DIR = "any"
EXISTING_REASSIGNMENT = (
    "Cannot execute because there is an existing partition assignment.  Use --additional to "
    "override this and create a new partition assignment in addition to the existing one. The "
    "--additional flag can also be used to change the throttle by resubmitting the current "
    "reassignment.")
ZK_DEPRECATED = ("Warning: --zookeeper is deprecated, and will be removed in a future version "
                 "of Kafka.")
ZK_IGNORED = ("Warning: ignoring deprecated --zookeeper option because --bootstrap-server was "
              "specified.  The --zookeeper option will be removed in a future version of Kafka.")

Assignment = dict[TopicPartition, tuple[int, ...]]


class ReassignError(Exception):
    """Bad input or a cluster state that forbids the action: one line, exit 1."""


# -- input -----------------------------------------------------------------------------------

def _plural(n: int) -> str:
    return "" if n == 1 else "s"


def _tps(tps: Iterable[TopicPartition]) -> str:
    return ",".join(str(tp) for tp in sorted(tps))


def _duplicates(items: Iterable[Any]) -> list[Any]:
    return [item for item, n in Counter(items).items() if n > 1]


def _load_json(text: str, what: str) -> dict:
    try:
        data = json.loads(text)
    except ValueError as e:
        raise ReassignError(f"The {what} is not valid JSON: {e}") from None
    if not isinstance(data, dict):
        raise ReassignError(f"The {what} must be a JSON object")
    version = data.get("version", 1)
    if version != 1:
        raise ReassignError(f"Not supported version field value {version}")
    return data


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def parse_broker_list(text: str) -> list[int]:
    """``--broker-list "1,2,3"``; duplicates and non-numbers are errors."""
    try:
        brokers = [int(b) for b in text.split(",")]
    except ValueError:
        raise ReassignError(f"Invalid broker list: {text!r} (expected ids such as \"0,1,2\")"
                            ) from None
    duplicates = _duplicates(brokers)
    if duplicates:
        raise ReassignError("Broker list contains duplicate entries: "
                            + ",".join(map(str, duplicates)))
    return brokers


def parse_topics_to_move(text: str) -> list[str]:
    """``{"version":1,"topics":[{"topic":"t"}]}`` -> topic names, in order, without duplicates."""
    data = _load_json(text, "topics-to-move file")
    entries = data.get("topics", [])
    if not isinstance(entries, list) or not all(
            isinstance(e, dict) and isinstance(e.get("topic"), str) for e in entries):
        raise ReassignError('"topics" must be a list of {"topic": "<name>"} objects')
    topics = [e["topic"] for e in entries]
    if not topics:
        raise ReassignError("The topics-to-move file lists no topics")
    duplicates = _duplicates(topics)
    if duplicates:
        raise ReassignError("List of topics to reassign contains duplicate entries: "
                            + ",".join(duplicates))
    return topics


def parse_reassignment(text: str) -> list[tuple[TopicPartition, tuple[int, ...]]]:
    """The reassignment JSON, entries in file order (duplicates kept for the checks).

    ``log_dirs`` may be absent or all "any"; a real directory would ask for an intra-broker
    move, which kafkalite does not do.
    """
    data = _load_json(text, "reassignment file")
    entries = data.get("partitions", [])
    if not isinstance(entries, list):
        raise ReassignError('"partitions" must be a list')
    out = []
    for entry in entries:
        if not isinstance(entry, dict) or not isinstance(entry.get("topic"), str) \
                or not _is_int(entry.get("partition")) \
                or not isinstance(entry.get("replicas"), list) \
                or not all(_is_int(r) for r in entry["replicas"]):
            raise ReassignError('Each entry of "partitions" needs "topic" (a string), '
                                '"partition" (a number) and "replicas" (a list of broker ids): '
                                f"{json.dumps(entry)}")
        tp = TopicPartition(entry["topic"], entry["partition"])
        replicas = tuple(entry["replicas"])
        log_dirs = entry.get("log_dirs", [ANY_LOG_DIR] * len(replicas))
        if not isinstance(log_dirs, list) or len(log_dirs) != len(replicas):
            raise ReassignError(f"Size of replicas list {list(replicas)} is different from size "
                                f"of log dirs list {log_dirs} for partition {tp}")
        if any(d != ANY_LOG_DIR for d in log_dirs):
            raise ReassignError(f"Partition {tp}: moving replicas between log directories is "
                                'not supported by kafkalite; use "any" in "log_dirs"')
        out.append((tp, replicas))
    return out


def check_reassignment(parts: Sequence[tuple[TopicPartition, tuple[int, ...]]]) -> Assignment:
    """Kafka's checks of a reassignment to execute; returns it as a map."""
    if not parts:
        raise ReassignError("Partition reassignment list cannot be empty")
    if any(not replicas for _, replicas in parts):
        raise ReassignError("Partition replica list cannot be empty")
    duplicates = _duplicates(tp for tp, _ in parts)
    if duplicates:
        raise ReassignError("Partition reassignment contains duplicate topic partitions: "
                            + _tps(duplicates))
    repeated = [f"{tp} contains multiple entries for {','.join(map(str, _duplicates(rs)))}"
                for tp, rs in parts if _duplicates(rs)]
    if repeated:
        raise ReassignError("Partition replica lists may not contain duplicate entries: "
                            + ". ".join(repeated))
    if any(r < 0 for _, replicas in parts for r in replicas):
        raise ReassignError("Broker ids in replica lists must not be negative")
    return dict(parts)


def check_targets(targets: Mapping[TopicPartition, Sequence[int]], current: Assignment,
                  brokers: Iterable[int]) -> None:
    """Every partition must exist and every target broker must be registered."""
    missing = [tp for tp in targets if tp not in current]
    if missing:
        raise ReassignError("The proposed assignment contains non-existent partitions: "
                            + _tps(missing))
    known = set(brokers)
    unknown = sorted({r for rs in targets.values() for r in rs} - known)
    if unknown:
        raise ReassignError(f"Unknown broker id{_plural(len(unknown))} "
                            f"{','.join(map(str, unknown))} (live brokers: "
                            f"{','.join(map(str, sorted(known))) or 'none'})")


def propose_assignment(current: Assignment, brokers: Sequence[int], rng: random.Random
                       ) -> Assignment:
    """A new assignment of each topic over ``brokers``, keeping partition count and RF.

    Raises:
        ReassignError: a topic's replication factor exceeds the number of brokers.
    """
    from kafkalite.zk.assignment import assign_replicas

    by_topic: dict[str, dict[int, tuple[int, ...]]] = {}
    for tp, replicas in current.items():
        by_topic.setdefault(tp.topic, {})[tp.partition] = replicas
    out: Assignment = {}
    for topic, partitions in sorted(by_topic.items()):
        rf = len(partitions[min(partitions)])
        try:
            proposal = assign_replicas(brokers, len(partitions), rf, rng=rng)
        except KafkaError as e:
            raise ReassignError(f"Topic {topic}: {e}") from None
        out.update({TopicPartition(topic, p): tuple(rs) for p, rs in proposal.items()})
    return out


# -- output ----------------------------------------------------------------------------------

def format_reassignment_json(assignment: Mapping[TopicPartition, Sequence[int]]) -> str:
    """Kafka's compact reassignment JSON, partitions sorted, every log dir "any"."""
    return json.dumps({"version": 1, "partitions": [
        {"topic": tp.topic, "partition": tp.partition, "replicas": list(assignment[tp]),
         "log_dirs": [ANY_LOG_DIR] * len(assignment[tp])}
        for tp in sorted(assignment)]}, separators=(",", ":"))


def current_assignment_text(targets: Iterable[TopicPartition], current: Assignment) -> str:
    wanted = set(targets)
    rollback = {tp: rs for tp, rs in current.items() if tp in wanted}
    return (f"Current partition replica assignment\n\n{format_reassignment_json(rollback)}\n\n"
            "Save this to use as the --reassignment-json-file option during rollback")


def started_line(tps: Iterable[TopicPartition]) -> str:
    tps = list(tps)
    return f"Successfully started partition reassignment{_plural(len(tps))} for {_tps(tps)}"


def verify_lines(states: Mapping[TopicPartition, tuple[Sequence[int], Sequence[int], bool]]
                 ) -> list[str]:
    """``--verify`` output; ``states`` maps partition -> (current, target, done)."""
    lines = ["Status of partition reassignment:"]
    for tp in sorted(states):
        current, target, done = states[tp]
        if not done:
            lines.append(f"Reassignment of partition {tp} is still in progress.")
        elif tuple(current) == tuple(target):
            lines.append(f"Reassignment of partition {tp} is complete.")
        else:
            lines.append(f"There is no active reassignment of partition {tp}, but replica set "
                         f"is {','.join(map(str, current))} rather than "
                         f"{','.join(map(str, target))}.")
    return lines


def list_lines(ongoing: Mapping[TopicPartition, Any]) -> list[str]:
    """``--list`` output from :class:`~kafkalite.client.admin.PartitionReassignment` values."""
    if not ongoing:
        return ["No partition reassignments found."]
    lines = ["Current partition reassignments:"]
    for tp in sorted(ongoing):
        r = ongoing[tp]
        line = f"{tp}: replicas: {','.join(map(str, r.replicas))}."
        if r.adding:
            line += f" adding: {','.join(map(str, r.adding))}."
        if r.removing:
            line += f" removing: {','.join(map(str, r.removing))}."
        lines.append(line)
    return lines


def _echo(lines: str | Iterable[str]) -> None:
    click.echo(lines if isinstance(lines, str) else "\n".join(lines))


# -- the two ways in -------------------------------------------------------------------------

class _AdminCluster:
    """The cluster as seen through the Kafka APIs."""

    def __init__(self, admin):
        self.admin = admin

    async def brokers(self) -> set[int]:
        cluster = self.admin.cluster
        await cluster.call_with_retries(lambda: cluster.refresh_metadata([]),
                                        what="describe cluster")
        return set(cluster.metadata.brokers)

    async def assignments(self, topics: Iterable[str]) -> Assignment:
        out: Assignment = {}
        for t in await self.admin.describe_topics(list(dict.fromkeys(topics)),
                                                  include_configs=False):
            if t.error is not None or not t.partitions:
                raise ReassignError(f"Topic {t.name} not found.")
            out.update({TopicPartition(t.name, p.partition): tuple(p.replicas)
                        for p in t.partitions})
        return out

    async def ongoing(self, partitions: Iterable[TopicPartition] | None = None) -> dict:
        return await self.admin.list_partition_reassignments(partitions)


class _ZkCluster:
    """The cluster as seen in ZooKeeper (``--zookeeper``)."""

    def __init__(self, zk):
        self.zk = zk

    async def brokers(self) -> set[int]:
        return {b.broker_id for b in await self.zk.get_all_brokers()}

    async def topic_assignments(self, topics: Iterable[str]) -> dict:
        out = {}
        for topic in dict.fromkeys(topics):
            a = await self.zk.get_topic_assignment(topic)
            if a is None:
                raise ReassignError(f"Topic {topic} not found.")
            out[topic] = a
        return out

    async def assignments(self, topics: Iterable[str]) -> Assignment:
        return {TopicPartition(t, p): tuple(rs)
                for t, a in (await self.topic_assignments(topics)).items()
                for p, rs in a.partitions.items()}

    async def legacy_reassignment(self) -> Assignment | None:
        from kafkalite.zk.znodes import ReassignPartitionsZNode

        found = await self.zk.session.get_or_none(ReassignPartitionsZNode.path())
        if found is None:
            return None
        return ReassignPartitionsZNode.decode(found[0]) if found[0] else {}

    async def start(self, targets: Assignment) -> None:
        from kafkalite.zk.errors import NodeExistsError
        from kafkalite.zk.znodes import ReassignPartitionsZNode

        try:
            await self.zk.session.create(ReassignPartitionsZNode.path(),
                                         ReassignPartitionsZNode.encode(targets), makepath=True)
        except NodeExistsError:
            raise ReassignError(EXISTING_REASSIGNMENT) from None


# -- actions ---------------------------------------------------------------------------------

async def _generate(cluster, opts: dict) -> None:
    brokers = parse_broker_list(opts["broker_list"])
    topics = parse_topics_to_move(_read(opts["topics_to_move_json_file"]))
    current = await cluster.assignments(topics)
    unknown = sorted(set(brokers) - await cluster.brokers())
    if unknown:
        raise ReassignError(f"Unknown broker id{_plural(len(unknown))} "
                            f"{','.join(map(str, unknown))} in --broker-list")
    proposal = propose_assignment(current, brokers, random.Random())
    _echo(f"Current partition replica assignment\n{format_reassignment_json(current)}\n")
    _echo(f"Proposed partition reassignment configuration\n{format_reassignment_json(proposal)}")


async def _execute_api(cluster: _AdminCluster, opts: dict) -> None:
    targets = check_reassignment(parse_reassignment(_read(opts["reassignment_json_file"])))
    if not opts["additional"] and await cluster.ongoing():
        raise ReassignError(EXISTING_REASSIGNMENT)
    current = await cluster.assignments(tp.topic for tp in targets)
    check_targets(targets, current, await cluster.brokers())
    _echo(current_assignment_text(targets, current))
    _throttle_warning(opts)
    results = await cluster.admin.alter_partition_reassignments(targets)
    failed = {tp: e for tp, e in results.items() if e is not None}
    if failed:
        raise ReassignError("Error reassigning partition(s):\n" + "\n".join(
            f"{tp}: {failed[tp]}" for tp in sorted(failed)))
    _echo(started_line(targets))


async def _execute_zk(cluster: _ZkCluster, opts: dict) -> None:
    targets = check_reassignment(parse_reassignment(_read(opts["reassignment_json_file"])))
    current = await cluster.assignments(tp.topic for tp in targets)
    check_targets(targets, current, await cluster.brokers())
    if await cluster.legacy_reassignment() is not None:
        raise ReassignError(EXISTING_REASSIGNMENT)
    _echo(current_assignment_text(targets, current))
    _throttle_warning(opts)
    await cluster.start(targets)
    _echo(started_line(targets))


async def _verify_api(cluster: _AdminCluster, opts: dict) -> None:
    targets = dict(parse_reassignment(_read(opts["reassignment_json_file"])))
    ongoing = await cluster.ongoing()
    states = {tp: (ongoing[tp].replicas, target, False)
              for tp, target in targets.items() if tp in ongoing}
    rest = [tp for tp in targets if tp not in ongoing]
    if rest:
        described = await cluster.admin.describe_topics(sorted({tp.topic for tp in rest}),
                                                        include_configs=False)
        replicas = {TopicPartition(t.name, p.partition): tuple(p.replicas)
                    for t in described for p in t.partitions}
        states.update({tp: (replicas.get(tp, ()), targets[tp], True) for tp in rest})
    _echo(verify_lines(states))


async def _verify_zk(cluster: _ZkCluster, opts: dict) -> None:
    targets = dict(parse_reassignment(_read(opts["reassignment_json_file"])))
    legacy = await cluster.legacy_reassignment() or {}
    states = {}
    for topic in sorted({tp.topic for tp in targets}):
        a = await cluster.zk.get_topic_assignment(topic)
        for tp in (tp for tp in targets if tp.topic == topic):
            p = tp.partition
            moving = tp in legacy or (a is not None and bool(a.adding.get(p) or
                                                              a.removing.get(p)))
            current = a.partitions.get(p, ()) if a is not None else ()
            states[tp] = (current, targets[tp], not moving)
    _echo(verify_lines(states))


async def _cancel(cluster: _AdminCluster, opts: dict) -> None:
    targets = dict(parse_reassignment(_read(opts["reassignment_json_file"])))
    ongoing = await cluster.ongoing(list(targets))
    active = sorted(tp for tp, r in ongoing.items() if r.adding or r.removing)
    if active:
        results = await cluster.admin.alter_partition_reassignments({tp: None for tp in active})
        failed = {tp: e for tp, e in results.items() if e is not None}
        if failed:
            raise ReassignError(
                f"Error cancelling partition reassignment{_plural(len(failed))} for:\n"
                + "\n".join(f"{tp}: {failed[tp]}" for tp in sorted(failed)))
        _echo(f"Successfully cancelled partition reassignment{_plural(len(active))} for: "
              f"{_tps(active)}")
    else:
        _echo("None of the specified partition reassignments are active.")
    _echo("None of the specified partition moves are active.")


def _throttle_warning(opts: dict) -> None:
    if opts.get("throttle", -1) >= 0 or opts.get("replica_alter_log_dirs_throttle", -1) >= 0:
        click.echo("WARN: kafkalite does not throttle replication; the throttle is ignored.",
                   err=True)


def _read(path: str) -> str:
    try:
        with open(path, encoding="utf-8") as f:
            return f.read()
    except OSError as e:
        raise ReassignError(f"Unable to read {path}: {e.strerror or e}") from None


async def _with_admin(bootstrap: str, action: str, opts: dict,
                      cluster_kw: Mapping[str, Any]) -> None:
    from kafkalite.client.admin import Admin
    from kafkalite.client.cluster import Cluster

    cluster = Cluster(bootstrap, client_id="reassign-partitions-tool", retry_timeout_ms=15000,
                      allow_auto_topic_creation=False, **cluster_kw)
    try:
        run = {"generate": _generate, "execute": _execute_api, "verify": _verify_api,
               "list": _list, "cancel": _cancel}[action]
        await run(_AdminCluster(Admin(cluster)), opts)
    finally:
        await cluster.aclose()


async def _list(cluster: _AdminCluster, _opts: dict) -> None:
    _echo(list_lines(await cluster.ongoing()))


async def _with_zk(connect: str, action: str, opts: dict) -> None:
    from kafkalite.zk.kafka_zk import KafkaZk
    from kafkalite.cli.common import open_tool_zk

    async with open_tool_zk(connect, error=ReassignError) as session:
        run = {"generate": _generate, "execute": _execute_zk, "verify": _verify_zk}[action]
        await run(_ZkCluster(KafkaZk(session)), opts)


# -- entry point -----------------------------------------------------------------------------

ACTIONS = ("generate", "execute", "verify", "list", "cancel")
#: Options each action takes besides the connection options (Kafka's permittedArgs).
PERMITTED = {
    "generate": {"topics_to_move_json_file", "broker_list", "disable_rack_aware"},
    "execute": {"reassignment_json_file", "additional", "throttle",
                "replica_alter_log_dirs_throttle", "timeout"},
    "verify": {"reassignment_json_file", "preserve_throttles"},
    "list": set(),
    "cancel": {"reassignment_json_file", "preserve_throttles", "timeout"},
}
REQUIRED = {"generate": ("topics_to_move_json_file", "broker_list"),
            "execute": ("reassignment_json_file",), "verify": ("reassignment_json_file",),
            "cancel": ("reassignment_json_file",), "list": ()}
BOOTSTRAP_ONLY = ("additional", "replica_alter_log_dirs_throttle", "timeout", "command_config")
UNSET = {"throttle": -1, "replica_alter_log_dirs_throttle": -1}


def _flag(name: str) -> str:
    return "--" + name.replace("_", "-")


@click.command(context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--bootstrap-server", help="The server(s) to use for bootstrapping.")
@click.option("--zookeeper", help="DEPRECATED: the ZooKeeper connect string host:port[/chroot].")
@click.option("--command-config", type=click.Path(dir_okay=False),
              help="Property file containing configs to be passed to Admin Client: "
              "security.protocol, sasl.*, ssl.* for a secured listener.")
@click.option("--generate", "actions", flag_value="generate", multiple=True,
              help="Generate a candidate reassignment for --topics-to-move-json-file.")
@click.option("--execute", "actions", flag_value="execute", multiple=True,
              help="Start the reassignment in --reassignment-json-file.")
@click.option("--verify", "actions", flag_value="verify", multiple=True,
              help="Show the status of the reassignment in --reassignment-json-file.")
@click.option("--list", "actions", flag_value="list", multiple=True,
              help="List all active partition reassignments.")
@click.option("--cancel", "actions", flag_value="cancel", multiple=True,
              help="Cancel the active reassignments of --reassignment-json-file.")
@click.option("--reassignment-json-file", help="The partition reassignment JSON file.")
@click.option("--topics-to-move-json-file", help="JSON file of the topics to move.")
@click.option("--broker-list", help='Brokers to move the topics to, as "0,1,2".')
@click.option("--additional", is_flag=True, help="Execute in addition to ongoing reassignments.")
@click.option("--disable-rack-aware", is_flag=True, help="Accepted; kafkalite is rack-unaware.")
@click.option("--preserve-throttles", is_flag=True, help="Accepted; nothing is throttled.")
@click.option("--throttle", type=int, default=-1, help="Accepted and ignored (B/s).")
@click.option("--replica-alter-log-dirs-throttle", type=int, default=-1,
              help="Accepted and ignored (B/s).")
@click.option("--timeout", type=int, help="Accepted; there are no log directory moves to wait for.")
def kafka_reassign_partitions(bootstrap_server, zookeeper, command_config, actions,
                              **opts) -> None:
    """This tool helps to move topic partitions between replicas."""
    if len(actions) != 1:
        raise click.UsageError("Command must include exactly one action: "
                               + ", ".join(_flag(a) for a in ACTIONS))
    action = actions[0]
    if not bootstrap_server and not zookeeper:
        raise click.UsageError("Please specify --bootstrap-server")
    given = {k for k, v in opts.items() if v is not None and v is not False
             and not (k in UNSET and v == UNSET[k])}
    missing = [name for name in REQUIRED[action] if name not in given]
    if missing:
        raise click.UsageError(f"Missing required argument \"{_flag(missing[0])}\" for "
                               f"{_flag(action)}")
    extra = sorted(given - PERMITTED[action])
    if extra:
        raise click.UsageError(f'Option "{_flag(extra[0])}" can\'t be used with action '
                               f'"{_flag(action)}"')
    if not bootstrap_server:
        needs_bootstrap = [action] if action in ("list", "cancel") else []
        needs_bootstrap += [n for n in BOOTSTRAP_ONLY if n in given]
        if command_config:
            needs_bootstrap.append("command_config")
        if needs_bootstrap:
            raise click.UsageError("You must specify --bootstrap-server when using "
                                   f'"{_flag(needs_bootstrap[0])}"')
    try:
        if bootstrap_server:
            try:
                cluster_kw = cluster_kwargs(read_config_file(command_config))
            except ConfigError as e:
                raise ReassignError(str(e)) from None
            if zookeeper:
                click.echo(ZK_IGNORED)
            run_trio(_with_admin, bootstrap_server, action, opts, cluster_kw)
        else:
            click.echo(ZK_DEPRECATED)
            run_trio(_with_zk, zookeeper, action, opts)
    except ReassignError as e:
        fail(str(e))


main = kafka_reassign_partitions

if __name__ == "__main__":
    from kafkalite.cli.tools import run_module

    run_module("kafkalite.cli.reassign_partitions")
