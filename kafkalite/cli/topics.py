"""``kafka-topics.sh``: create, list, describe, alter (add partitions) and delete topics.

Two ways in, as in Kafka 2.x: ``--zookeeper`` reads and writes the znodes directly (the
controller picks the change up from its watches), ``--bootstrap-server`` goes through the Kafka
APIs (CreateTopics/DeleteTopics/Metadata), with ``--command-config`` naming the Admin client's
properties file (how to reach a secured listener: ``security.protocol``, ``sasl.*``, ``ssl.*``).
Output and messages follow Kafka's TopicCommand so scripts written for Kafka keep working.
"""

from __future__ import annotations

import random
import sys
from collections.abc import Callable, Mapping
from typing import Any

import attrs
import click
import trio

from kafkalite import errors
from kafkalite.config import TOPIC_CONFIGS
from kafkalite.model import INTERNAL_TOPICS, validate_topic_name
from kafkalite.zk.errors import NoAuthError

__all__ = ["main", "TopicDescription", "PartitionDescription", "format_description"]


class CommandError(Exception):
    """A user error: printed as Kafka's one-line message, exit code 1."""


@attrs.frozen
class PartitionDescription:
    partition: int
    leader: int
    replicas: tuple[int, ...]
    isr: tuple[int, ...]


@attrs.frozen
class TopicDescription:
    name: str
    partitions: tuple[PartitionDescription, ...]
    configs: dict[str, str]
    topic_id: str | None = None


def format_description(t: TopicDescription) -> str:
    rf = len(t.partitions[0].replicas) if t.partitions else 0
    cfg = ",".join(f"{k}={v}" for k, v in sorted(t.configs.items()))
    tid = f"\tTopicId: {t.topic_id}" if t.topic_id else ""
    lines = [f"Topic: {t.name}{tid}\tPartitionCount: {len(t.partitions)}\t"
             f"ReplicationFactor: {rf}\tConfigs: {cfg}"]
    for p in t.partitions:
        leader = "none" if p.leader < 0 else str(p.leader)
        lines.append(f"\tTopic: {t.name}\tPartition: {p.partition}\tLeader: {leader}\t"
                     f"Replicas: {','.join(map(str, p.replicas))}\t"
                     f"Isr: {','.join(map(str, p.isr))}")
    return "\n".join(lines)


def parse_configs(items: tuple[str, ...]) -> dict[str, str]:
    out = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep:
            raise CommandError(f"Invalid topic config: all configs to be added must be in the "
                               f"format \"key=val\": {item}")
        key = key.strip()
        if key not in TOPIC_CONFIGS:
            raise CommandError(f"Unknown topic config name: {key}")
        try:
            TOPIC_CONFIGS[key][1](value.strip())
        except ValueError:
            raise CommandError(f"Invalid value {value} for configuration {key}") from None
        out[key] = value.strip()
    return out


def parse_replica_assignment(text: str) -> dict[int, list[int]]:
    """``0:1,1:2`` style: partitions separated by commas, replicas by colons."""
    out = {}
    for p, group in enumerate(text.split(",")):
        try:
            replicas = [int(r) for r in group.split(":")]
        except ValueError:
            raise CommandError(f"Invalid replica assignment: {text}") from None
        if len(set(replicas)) != len(replicas):
            raise CommandError(f"Partition replica lists may not contain duplicate entries: "
                               f"{group}")
        out[p] = replicas
    return out


@attrs.frozen
class Options:
    action: str
    topic: str | None
    partitions: int | None
    replication_factor: int | None
    replica_assignment: dict[int, list[int]] | None
    configs: dict[str, str]
    if_not_exists: bool
    if_exists: bool
    exclude_internal: bool
    under_replicated: bool
    unavailable: bool


def _matches(opts: Options, names: list[str]) -> list[str]:
    names = sorted(names)
    if opts.exclude_internal:
        names = [n for n in names if n not in INTERNAL_TOPICS]
    if opts.topic is None:
        return names
    import re
    pattern = re.compile(opts.topic.replace("*", ".*") if opts.topic != "*" else ".*")
    return [n for n in names if pattern.fullmatch(n)]


def _filter_partitions(opts: Options, t: TopicDescription, live: set[int]) -> TopicDescription:
    parts = t.partitions
    if opts.under_replicated:
        parts = tuple(p for p in parts if len(p.isr) < len(p.replicas))
    if opts.unavailable:
        parts = tuple(p for p in parts if p.leader < 0 or p.leader not in live)
    return attrs.evolve(t, partitions=parts)


# -- --zookeeper -----------------------------------------------------------------------------

async def _with_zk(connect: str, fn: Callable):
    from kafkalite.zk.kafka_zk import KafkaZk
    from kafkalite.cli.common import open_tool_zk

    async with open_tool_zk(connect, error=CommandError) as session:
        return await fn(KafkaZk(session))


async def _zk_command(zk, opts: Options) -> None:
    from kafkalite.zk.assignment import assign_replicas

    if opts.action == "create":
        reason = validate_topic_name(opts.topic)
        if reason:
            raise CommandError(reason)
        if "." in opts.topic or "_" in opts.topic:
            click.echo("WARNING: Due to limitations in metric names, topics with a period ('.') "
                       "or underscore ('_') could collide. To avoid issues it is best to use "
                       "either, but not both.")
        if opts.topic in await zk.get_all_topics():
            if opts.if_not_exists:
                return
            raise CommandError(f"Topic '{opts.topic}' already exists.")
        brokers = sorted(b.broker_id for b in await zk.get_all_brokers())
        if opts.replica_assignment is not None:
            assignment = opts.replica_assignment
        else:
            if opts.partitions is None or opts.replication_factor is None:
                raise CommandError("Missing required argument \"[partitions]\"" if
                                   opts.partitions is None else
                                   "Missing required argument \"[replication-factor]\"")
            if not brokers:
                raise CommandError(f"Replication factor: {opts.replication_factor} larger than "
                                   f"available brokers: 0.")
            assignment = assign_replicas(brokers, opts.partitions, opts.replication_factor,
                                         rng=random.Random())
        await zk.create_topic(opts.topic, assignment, opts.configs)
        click.echo(f"Created topic {opts.topic}.")
    elif opts.action == "list":
        marked = set(await zk.get_topics_marked_for_deletion())
        for name in _matches(opts, await zk.get_all_topics()):
            click.echo(f"{name} - marked for deletion" if name in marked else name)
    elif opts.action == "describe":
        live = {b.broker_id for b in await zk.get_all_brokers()}
        names = _matches(opts, await zk.get_all_topics())
        if opts.topic and not names and not opts.if_exists:
            raise CommandError(f"Topic '{opts.topic}' does not exist as expected")
        for name in names:
            assignment = await zk.get_topic_assignment(name)
            if assignment is None:
                continue
            states = await zk.get_partition_states(name)
            parts = []
            for p, replicas in sorted(assignment.partitions.items()):
                st = states.get(p)
                parts.append(PartitionDescription(
                    p, st.leader if st else -1, tuple(replicas), tuple(st.isr) if st else ()))
            t = TopicDescription(name, tuple(parts), await zk.get_topic_config(name),
                                 assignment.topic_id)
            t = _filter_partitions(opts, t, live)
            if opts.under_replicated or opts.unavailable:
                for line in format_description(t).splitlines()[1:]:
                    click.echo(line)
            else:
                click.echo(format_description(t))
    elif opts.action == "delete":
        names = _matches(opts, await zk.get_all_topics())
        if not names:
            if opts.if_exists:
                return
            raise CommandError(f"Topic '{opts.topic}' does not exist as expected")
        for name in names:
            if name in INTERNAL_TOPICS:
                raise CommandError(f"Topic {name} is a kafka internal topic and is not allowed "
                                   "to be marked for deletion.")
            await zk.mark_topic_for_deletion(name)
            click.echo(f"Topic {name} is marked for deletion.")
            click.echo("Note: This will have no impact if delete.topic.enable is not set to true.")
    elif opts.action == "alter":
        await _zk_alter(zk, opts)
    else:
        raise CommandError(f"--{opts.action} is not supported yet")


def _new_partition_replicas(opts: Options, existing: int) -> list[list[int]] | None:
    """The ``--replica-assignment`` entries of the partitions being added.

    As in Kafka, the option lists the whole topic (existing partitions first) and only the
    entries past the current partition count are used.
    """
    if opts.replica_assignment is None:
        return None
    return [r for p, r in sorted(opts.replica_assignment.items()) if p >= existing]


def _new_partition_count(opts: Options) -> int:
    if opts.partitions is not None:
        return opts.partitions
    return len(opts.replica_assignment or {})


async def _zk_alter(zk, opts: Options) -> None:
    """Kafka's ZooKeeper-mode TopicCommand.alterTopic: configs, then partitions."""
    from kafkalite.zk.assignment import assign_new_partitions
    from kafkalite.zk.errors import BadVersionError

    names = _matches(opts, await zk.get_all_topics())
    if not names:
        if opts.if_exists:
            return
        raise CommandError(f"Topic '{opts.topic}' does not exist as expected")
    for name in names:
        if opts.configs:
            click.echo("WARNING: Altering topic configuration from this script has been "
                       "deprecated and may be removed in future releases.")
            click.echo("         Going forward, please use kafka-configs.sh for this "
                       "functionality")
            current_config = await zk.get_topic_config(name)
            await zk.set_topic_config(name, {**current_config, **opts.configs})
            click.echo(f"Updated config for topic {name}.")
        if opts.partitions is None and opts.replica_assignment is None:
            continue
        if name == "__consumer_offsets":
            raise CommandError("The number of partitions for the offsets topic cannot be "
                               "changed.")
        click.echo("WARNING: If partitions are increased for a topic that has a key, the "
                   "partition logic or ordering of the messages will be affected")
        current = await zk.get_topic_assignment(name)
        if current is None:
            raise CommandError(f"The topic {name} does not exist")
        existing = len(current.partitions)
        count = _new_partition_count(opts)
        replicas = _new_partition_replicas(opts, existing)
        proposed = None
        if replicas is not None:
            if count > existing and len(replicas) != count - existing:
                raise CommandError(f"Increasing the number of partitions by {count - existing} "
                                   f"but {len(replicas)} assignments provided.")
            proposed = {existing + i: r for i, r in enumerate(replicas)}
        brokers = [b.broker_id for b in await zk.get_all_brokers()]
        added = assign_new_partitions(name, current.partitions, brokers, count, proposed)
        try:
            await zk.add_partitions(name, added, expected_version=current.zk_version)
        except BadVersionError:
            raise CommandError(f"The assignment of topic {name} changed while partitions were "
                               "being added; run the command again.") from None
        click.echo("Adding partitions succeeded!")


# -- --bootstrap-server ----------------------------------------------------------------------

async def _admin_command(bootstrap: str, opts: Options, cluster_kw: Mapping[str, Any]) -> None:
    """Run the action through the Kafka APIs; ``cluster_kw`` comes from ``--command-config``
    (:func:`kafkalite.cli.common.cluster_kwargs`)."""
    from kafkalite.client.admin import Admin
    from kafkalite.client.cluster import Cluster

    from kafkalite.client.errors import ClientError

    # A bootstrap server that refuses connections fails the command within 15 s.
    cluster = Cluster(bootstrap, client_id="kafka-topics", retry_timeout_ms=15000, **cluster_kw)
    try:
        await _admin_actions(Admin(cluster), opts)
    except (errors.KafkaError, ClientError) as e:
        raise CommandError(str(e)) from None
    finally:
        await cluster.aclose()


async def _admin_actions(admin, opts: Options) -> None:
    from kafkalite.client.admin import NewTopic

    if opts.action == "create":
        manual = bool(opts.replica_assignment)
        # -1 = the broker's default (CreateTopics v4+), as Kafka's tool sends when unset
        topic = NewTopic(name=opts.topic,
                         num_partitions=-1 if manual or opts.partitions is None
                         else opts.partitions,
                         replication_factor=-1 if manual or opts.replication_factor is None
                         else opts.replication_factor,
                         configs=opts.configs, assignment=opts.replica_assignment or {})
        result = await admin.create_topics([topic], timeout_ms=30000)
        err = result.get(opts.topic)
        if err is not None:
            if isinstance(err, errors.TopicAlreadyExists) and opts.if_not_exists:
                return
            raise CommandError(str(err))
        click.echo(f"Created topic {opts.topic}.")
    elif opts.action == "list":
        for name in _matches(opts, await admin.list_topics(include_internal=True)):
            click.echo(name)
    elif opts.action == "describe":
        names = _matches(opts, await admin.list_topics(include_internal=True))
        if opts.topic and not names and not opts.if_exists:
            raise CommandError(f"Topic '{opts.topic}' does not exist as expected")
        described = await admin.describe_topics(names)
        for t in described:
            click.echo(format_description(_filter_partitions(opts, t, set())
                                          if opts.under_replicated else t))
    elif opts.action == "delete":
        names = _matches(opts, await admin.list_topics(include_internal=True))
        if not names:
            if opts.if_exists:
                return
            raise CommandError(f"Topic '{opts.topic}' does not exist as expected")
        result = await admin.delete_topics(names)
        for name in names:
            if result.get(name) is not None:
                raise CommandError(str(result[name]))
    elif opts.action == "alter":
        await _admin_alter(admin, opts)
    else:
        raise CommandError(f"--{opts.action} is not supported yet")


async def _admin_alter(admin, opts: Options) -> None:
    """Kafka's AdminClient TopicCommand.alterTopic: CreatePartitions on the controller.

    Silent on success, as Kafka's tool is; the first failed topic is the command's error.
    """
    from kafkalite.client.admin import NewPartitions

    names = _matches(opts, await admin.list_topics(include_internal=True))
    if not names:
        if opts.if_exists:
            return
        raise CommandError(f"Topic '{opts.topic}' does not exist as expected")
    current = {}
    if opts.replica_assignment is not None:
        current = {t.name: len(t.partitions)
                   for t in await admin.describe_topics(names, include_configs=False)}
    request = {name: NewPartitions(
        total_count=_new_partition_count(opts),
        assignments=_new_partition_replicas(opts, current.get(name, 0)))
        for name in names}
    # The controller waits for the new leaders; keep its wait inside our request timeout.
    result = await admin.create_partitions(request, timeout_ms=20_000)
    for name in names:
        if result.get(name) is not None:
            raise CommandError(str(result[name]))


# -- entry point -----------------------------------------------------------------------------

ACTIONS = ("create", "list", "describe", "delete", "alter")


@click.command(context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--zookeeper", help="DEPRECATED in Kafka 2.x: ZooKeeper connect string "
              "host:port[/chroot].")
@click.option("--bootstrap-server", help="The Kafka server to connect to.")
@click.option("--create", "actions", flag_value="create", multiple=True)
@click.option("--list", "actions", flag_value="list", multiple=True)
@click.option("--describe", "actions", flag_value="describe", multiple=True)
@click.option("--delete", "actions", flag_value="delete", multiple=True)
@click.option("--alter", "actions", flag_value="alter", multiple=True)
@click.option("--topic", help="The topic to create, alter, describe or delete (a regex for "
              "list/describe/delete).")
@click.option("--partitions", type=int)
@click.option("--replication-factor", type=int)
@click.option("--replica-assignment")
@click.option("--config", "configs", multiple=True, metavar="KEY=VALUE")
@click.option("--if-not-exists", is_flag=True)
@click.option("--if-exists", is_flag=True)
@click.option("--exclude-internal", is_flag=True)
@click.option("--under-replicated-partitions", "under_replicated", is_flag=True)
@click.option("--unavailable-partitions", "unavailable", is_flag=True)
@click.option("--command-config", type=click.Path(dir_okay=False),
              help="Property file containing configs to be passed to Admin Client (with "
              "--bootstrap-server): security.protocol, sasl.*, ssl.* for a secured listener.")
def kafka_topics(zookeeper, bootstrap_server, actions, topic, partitions, replication_factor,
                 replica_assignment, configs, if_not_exists, if_exists, exclude_internal,
                 under_replicated, unavailable, command_config) -> None:
    """Create, delete, describe, or change a topic."""
    if len(actions) != 1:
        raise click.UsageError("Command must include exactly one action: --list, --describe, "
                               "--create, --alter or --delete")
    if bool(zookeeper) == bool(bootstrap_server):
        raise click.UsageError("Exactly one of --bootstrap-server or --zookeeper must be given")
    action = actions[0]
    if action in ("create", "delete", "alter") and not topic:
        raise click.UsageError(f"Missing required argument \"[topic]\" for --{action}")
    if action == "alter":
        _check_alter_options(bool(bootstrap_server), partitions, replication_factor,
                             replica_assignment, configs)
    try:
        opts = Options(
            action=action, topic=topic, partitions=partitions,
            replication_factor=replication_factor,
            replica_assignment=parse_replica_assignment(replica_assignment)
            if replica_assignment else None,
            configs=parse_configs(configs), if_not_exists=if_not_exists, if_exists=if_exists,
            exclude_internal=exclude_internal, under_replicated=under_replicated,
            unavailable=unavailable)
        if action == "create" and replica_assignment is None:
            if partitions is not None and partitions < 1:
                raise CommandError("The partitions must be greater than 0")
            if replication_factor is not None and replication_factor < 1:
                raise CommandError("The replication factor must be greater than 0")
        if zookeeper:
            trio.run(_with_zk, zookeeper, lambda zk: _zk_command(zk, opts))
        else:
            from kafkalite.cli.common import cluster_kwargs, read_config_file, run_trio
            try:
                cluster_kw = cluster_kwargs(read_config_file(command_config))
            except errors.ConfigError as e:
                raise CommandError(str(e)) from None
            run_trio(lambda: _admin_command(bootstrap_server, opts, cluster_kw))
    except (CommandError, errors.KafkaError, NoAuthError) as e:
        click.echo(f"Error while executing topic command : {e}", err=True)
        sys.exit(1)


def _check_alter_options(bootstrap: bool, partitions, replication_factor, replica_assignment,
                         configs) -> None:
    if replication_factor is not None:
        raise click.UsageError('Option "[replication-factor]" can\'t be used with option '
                               '"[alter]"')
    if bootstrap and configs:
        raise click.UsageError('Option combination "[bootstrap-server],[config]" can\'t be used '
                               'with option "[alter]". To alter topic configs use '
                               'kafka-configs.sh.')
    if partitions is None and replica_assignment is None and not configs:
        raise click.UsageError("--alter needs --partitions (or --replica-assignment"
                               + (")" if bootstrap else ", or --config)"))


main = kafka_topics

if __name__ == "__main__":
    from kafkalite.cli.tools import run_module

    run_module("kafkalite.cli.topics")
