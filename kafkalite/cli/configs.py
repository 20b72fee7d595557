"""``kafka-configs.sh``: describe and alter topic and broker configs (Kafka's ConfigCommand).

Two ways in, as in Kafka 2.x:

* ``--zookeeper`` reads ``/config/<type>/<name>`` directly and alters by rewriting that node
  and then posting ``/config/changes/config_change_<seq>``; every broker's config manager
  applies the change. Describe prints the stored overrides on one line
  (``Configs for topic 'foo' are retention.ms=1000``). Like Kafka, dynamic broker configs other
  than replication throttles may only be written this way while the broker is down.
* ``--bootstrap-server`` uses the Kafka APIs: DescribeConfigs (dynamic entries with their
  sources and synonyms, or ``--all``), IncrementalAlterConfigs SET/DELETE for topics and
  AlterConfigs (full replacement of the dynamic set) for brokers, sent to that broker.

``--add-config k1=v1,k2=[a,b]`` groups values containing commas in square brackets;
``--delete-config k1,k2`` removes overrides (deleting one that is not set is an error, as in
Kafka). Values are checked before anything is written; a refused value is reported on one line
(``INVALID_CONFIG: Invalid value ...``) with exit status 1.
"""

from __future__ import annotations

import logging
import re
import sys
from collections.abc import Mapping, Sequence

import attrs
import click
import trio

from kafkalite import errors
from kafkalite.config import load_properties
from kafkalite.errors import ConfigError, KafkaError
from kafkalite.server.config_manager import ConfigSource
from kafkalite.zk.errors import ZkError

__all__ = ["main", "CommandError", "Entity", "parse_add_config", "parse_delete_config",
           "format_zk_describe", "format_entries", "describe_header", "alter_message"]

TOPICS, BROKERS = "topics", "brokers"
DEFAULT_ENTITY = "<default>"
ZK_ENTITY_TYPES = (TOPICS, BROKERS)
BOOTSTRAP_ENTITY_TYPES = (TOPICS, BROKERS)
_NOT_IN_BRACKETS = r"(?=[^\]]*(?:\[|$))"

_SOURCE_NAMES = ConfigSource.NAMES


class CommandError(Exception):
    """A usage or input problem: the message is printed as is, exit status 1."""


# -- parsing (pure) ----------------------------------------------------------------------------

def parse_add_config(text: str) -> dict[str, str]:
    """``--add-config`` as Kafka splits it: commas outside ``[...]`` separate entries, ``=``
    separates key and value, brackets are then dropped (``k=[a,b]`` -> ``{"k": "a,b"}``).

    Raises:
        CommandError: an entry that is not ``key=val``.
    """
    items = re.split("," + _NOT_IN_BRACKETS, text)
    while items and items[-1] == "":   # Java's split drops trailing empty strings
        items.pop()
    out: dict[str, str] = {}
    for item in items:
        pair = re.split(r"\s*=\s*" + _NOT_IN_BRACKETS, item)
        if len(pair) != 2:
            raise CommandError("Invalid entity config: all configs to be added must be in the "
                               "format \"key=val\".")
        out[pair[0].strip()] = re.sub(r"[\[\]]", "", pair[1]).strip()
    return out


def parse_delete_config(values: Sequence[str]) -> list[str]:
    """``--delete-config k1,k2`` (repeatable) -> ``["k1", "k2"]``."""
    out: list[str] = []
    for value in values:
        out.extend(k.strip() for k in value.split(",") if k.strip())
    return out


@attrs.frozen
class Entity:
    """A config entity: ``topics``/``brokers`` and a name (``<default>`` for the default)."""

    type: str
    name: str | None

    @property
    def is_default(self) -> bool:
        return self.name == DEFAULT_ENTITY

    def zk_label(self) -> str:
        """Kafka's ConfigCommand.Entity.toString: ``topic 'foo'``, ``brokers '0'``,
        ``default brokers``."""
        type_name = "topic" if self.type == TOPICS else self.type
        if self.name is None:
            return self.type
        if self.is_default:
            return f"default {type_name}"
        return f"{type_name} '{self.name}'"


def format_zk_describe(entity: Entity, configs: Mapping[str, str]) -> str:
    """``Configs for topic 'foo' are k1=v1,k2=v2`` (Kafka 2.x ``--zookeeper`` describe)."""
    return f"Configs for {entity.zk_label()} are " + \
        ",".join(f"{k}={v}" for k, v in configs.items())


def describe_header(entity: Entity, describe_all: bool) -> str:
    """The line before a bootstrap describe's entries."""
    if entity.type == BROKERS and entity.is_default:
        return "Default configs for brokers in the cluster are:"
    kind = "All" if describe_all else "Dynamic"
    return f"{kind} configs for {entity.type[:-1]} {entity.name} are:"


def _text(value: str | None) -> str:
    return "null" if value is None else value


def format_entries(entries) -> list[str]:
    """One ``  name=value sensitive=false synonyms={SOURCE:name=value, ...}`` per entry."""
    lines = []
    for e in entries:
        synonyms = ", ".join(f"{_SOURCE_NAMES.get(s.source, s.source)}:{s.name}={_text(s.value)}"
                             for s in e.synonyms)
        sensitive = "true" if e.is_sensitive else "false"
        lines.append(f"  {e.name}={_text(e.value)} sensitive={sensitive} synonyms={{{synonyms}}}")
    return lines


def alter_message(entity: Entity, *, zookeeper: bool) -> str:
    """The success line of ``--alter``."""
    if zookeeper:
        return f"Completed Updating config for entity: {entity.zk_label()}."
    if entity.is_default:
        return f"Completed updating default config for {entity.type} in the cluster."
    return f"Completed updating config for {entity.type[:-1]} {entity.name}."


@attrs.frozen
class Options:
    action: str
    entity: Entity
    add: dict[str, str]
    delete: list[str]
    describe_all: bool = False


def _merge(current: Mapping[str, str], opts: Options) -> dict[str, str]:
    """The override set after --add-config/--delete-config; unknown deletions are an error."""
    missing = [k for k in opts.delete if k not in current]
    if missing:
        raise errors.InvalidConfig(f"Invalid config(s): {','.join(missing)}")
    merged = {**current, **opts.add}
    for key in opts.delete:
        merged.pop(key, None)
    return merged


# -- --zookeeper -------------------------------------------------------------------------------

async def _with_zk(connect: str, fn):
    from kafkalite.zk.kafka_zk import KafkaZk
    from kafkalite.zk.session import ZkSession

    logging.getLogger("kazoo").setLevel(logging.CRITICAL)  # failures are reported below
    session = ZkSession(connect, session_timeout_ms=30000, connection_timeout_ms=10000)
    try:
        with trio.fail_after(15):
            await session.start()
    except Exception as e:  # noqa: BLE001 - whatever the reason, ZooKeeper is unreachable
        raise CommandError(f"Unable to connect to ZooKeeper at {connect}: "
                           f"{e or type(e).__name__}") from None
    try:
        return await fn(KafkaZk(session))
    finally:
        await session.close()


async def _zk_entity_names(zk, entity_type: str) -> list[str]:
    from kafkalite.zk.errors import NoNodeError
    from kafkalite.zk.znodes import ConfigEntityTypeZNode

    try:
        return sorted(await zk.session.get_children(ConfigEntityTypeZNode.path(entity_type)))
    except NoNodeError:
        return []


async def _zk_command(zk, opts: Options) -> None:
    from kafkalite.server.config_manager import (
        ZK_UPDATABLE_BROKER_CONFIGS, validate_broker_config, validate_topic_config)

    entity = opts.entity
    if opts.action == "describe":
        names = [entity.name] if entity.name is not None else \
            await _zk_entity_names(zk, entity.type)
        for name in names:
            configs = await zk.get_entity_config(entity.type, name)
            click.echo(format_zk_describe(Entity(entity.type, name), configs))
        return
    current = await zk.get_entity_config(entity.type, entity.name)
    merged = _merge(current, opts)
    if entity.type == TOPICS:
        if not await zk.topic_exists(entity.name):
            raise errors.UnknownTopicOrPartition(f"Topic '{entity.name}' does not exist.")
        merged = validate_topic_config(merged)
    else:
        dynamic = sorted(k for k in opts.add if k not in ZK_UPDATABLE_BROKER_CONFIGS)
        if dynamic:
            running = [b.broker_id for b in await zk.get_all_brokers()]
            message = (f"--bootstrap-server option must be specified to update broker configs "
                       f"Set({', '.join(dynamic)})")
            info = ("Broker configuration updates using ZooKeeper are supported for "
                    "bootstrapping before brokers are started to enable encrypted password "
                    "configs to be stored in ZooKeeper.")
            if entity.is_default and running:
                raise CommandError(f"{message} for default cluster if any broker is running. "
                                   f"{info}")
            if not entity.is_default and int(entity.name) in running:
                raise CommandError(f"{message} when broker {entity.name} is running. {info}")
        merged = validate_broker_config(merged)
    await zk.change_entity_config(entity.type, entity.name, merged)
    click.echo(alter_message(entity, zookeeper=True))


# -- --bootstrap-server ------------------------------------------------------------------------

def _raise_for(result) -> None:
    if result.error_code:
        from kafkalite.client.errors import error_for
        raise error_for(result.error_code, "", result.error_message)


class _Client:
    """The few admin calls ConfigCommand makes, over a :class:`Cluster`."""

    def __init__(self, cluster):
        self.cluster = cluster

    def _node_for(self, entity: Entity) -> int | None:
        """Broker resources go to that broker; topics and the default to any broker."""
        if entity.type == BROKERS and not entity.is_default:
            return int(entity.name)
        return None

    @staticmethod
    def _resource(entity: Entity) -> tuple[int, str]:
        if entity.type == TOPICS:
            return 2, entity.name
        return 4, "" if entity.is_default else entity.name

    async def describe(self, entity: Entity):
        from kafkalite.protocol.messages.describe_configs import (
            DescribeConfigsRequest, DescribeConfigsResource)

        rtype, rname = self._resource(entity)
        request = DescribeConfigsRequest(
            resources=(DescribeConfigsResource(resource_type=rtype, resource_name=rname,
                                               configuration_keys=None),),
            include_synonyms=True, include_documentation=False)
        response = await self.cluster.call_with_retries(
            lambda: self.cluster.request(self._node_for(entity), request),
            what="describe configs")
        result = response.results[0]
        _raise_for(result)
        return result.configs

    async def dynamic_configs(self, entity: Entity) -> dict[str, str]:
        """The entity's dynamic entries (what ``--describe`` without ``--all`` shows)."""
        wanted = _dynamic_source(entity)
        return {e.name: e.value for e in await self.describe(entity)
                if e.config_source == wanted}

    async def incremental_alter(self, entity: Entity, add: Mapping[str, str],
                                delete: Sequence[str]) -> None:
        from kafkalite.protocol.messages.incremental_alter_configs import (
            AlterableConfig, AlterConfigsResource, IncrementalAlterConfigsRequest)

        rtype, rname = self._resource(entity)
        ops = [AlterableConfig(name=k, config_operation=0, value=v) for k, v in add.items()]
        ops += [AlterableConfig(name=k, config_operation=1, value="") for k in delete]
        request = IncrementalAlterConfigsRequest(resources=(AlterConfigsResource(
            resource_type=rtype, resource_name=rname, configs=tuple(ops)),), validate_only=False)
        response = await self.cluster.call_with_retries(
            lambda: self.cluster.request(self._node_for(entity), request),
            what="alter configs")
        _raise_for(response.responses[0])

    async def alter(self, entity: Entity, config: Mapping[str, str]) -> None:
        from kafkalite.protocol.messages.alter_configs import (
            AlterableConfig, AlterConfigsRequest, AlterConfigsResource)

        rtype, rname = self._resource(entity)
        request = AlterConfigsRequest(resources=(AlterConfigsResource(
            resource_type=rtype, resource_name=rname,
            configs=tuple(AlterableConfig(name=k, value=v) for k, v in config.items())),),
            validate_only=False)
        response = await self.cluster.call_with_retries(
            lambda: self.cluster.request(self._node_for(entity), request),
            what="alter configs")
        _raise_for(response.responses[0])


def _dynamic_source(entity: Entity) -> int:
    if entity.type == TOPICS:
        return ConfigSource.DYNAMIC_TOPIC_CONFIG
    return ConfigSource.DYNAMIC_DEFAULT_BROKER_CONFIG if entity.is_default else \
        ConfigSource.DYNAMIC_BROKER_CONFIG


async def _admin_command(bootstrap: str, opts: Options) -> None:
    from kafkalite.client.admin import Admin
    from kafkalite.client.cluster import Cluster

    cluster = Cluster(bootstrap, client_id="kafka-configs", retry_timeout_ms=15000)
    try:
        client = _Client(cluster)
        entity = opts.entity
        if opts.action == "describe":
            if entity.name is not None:
                entities = [entity]
            elif entity.type == TOPICS:
                entities = [Entity(TOPICS, n) for n in
                            await Admin(cluster).list_topics(include_internal=True)]
            else:
                await cluster.refresh_metadata([])
                entities = [Entity(BROKERS, str(b)) for b in sorted(cluster.metadata.brokers)]
                entities.append(Entity(BROKERS, DEFAULT_ENTITY))
            for e in entities:
                configs = await client.describe(e)
                if not opts.describe_all:
                    configs = [c for c in configs if c.config_source == _dynamic_source(e)]
                click.echo(describe_header(e, opts.describe_all))
                for line in format_entries(configs):
                    click.echo(line)
            return
        current = await client.dynamic_configs(entity)
        if entity.type == TOPICS:
            _merge(current, opts)   # checks the deletions
            await client.incremental_alter(entity, opts.add, opts.delete)
        else:
            await client.alter(entity, _merge(current, opts))
        click.echo(alter_message(entity, zookeeper=False))
    finally:
        await cluster.aclose()


# -- entry point -------------------------------------------------------------------------------

def _entity(entity_types: Sequence[str], entity_names: Sequence[str], entity_default: bool,
            action: str, zookeeper: bool) -> Entity:
    """Kafka's checkArgs for the entity options (topics and brokers)."""
    if len(entity_types) != len(set(entity_types)):
        dup = sorted({t for t in entity_types if entity_types.count(t) > 1})
        raise CommandError(f"Duplicate entity type(s) specified: {','.join(dup)}")
    if not entity_types:
        raise CommandError("At least one entity type must be specified")
    if len(entity_types) > 1:
        raise CommandError("Only 'users' and 'clients' entity types may be specified together")
    entity_type = entity_types[0]
    allowed = ZK_ENTITY_TYPES if zookeeper else BOOTSTRAP_ENTITY_TYPES
    if entity_type not in allowed:
        how = "--zookeeper" if zookeeper else "--bootstrap-server"
        raise CommandError(f"Invalid entity type {entity_type}, the entity type must be one of "
                           f"{','.join(allowed)} with the {how} argument")
    if len(entity_names) + int(entity_default) > 1:
        raise CommandError("Exactly one entity name must be specified for every entity type")
    if entity_default:
        if entity_type != BROKERS:
            raise CommandError(f"--entity-default is not supported for {entity_type}")
        return Entity(entity_type, DEFAULT_ENTITY)
    name = entity_names[0] if entity_names else None
    if name is not None and entity_type == BROKERS:
        try:
            int(name)
        except ValueError:
            raise CommandError(f"The entity name for brokers must be a valid integer broker "
                               f"id, but it is: {name}") from None
    if name is not None and entity_type == TOPICS:
        from kafkalite.model import validate_topic_name
        reason = validate_topic_name(name)
        if reason:
            raise CommandError(reason)
    if action == "alter" and name is None:
        if entity_type == BROKERS:
            raise CommandError("an entity-name or default entity must be specified with "
                               "--alter of users, clients, brokers or ips")
        raise CommandError(f"an entity name must be specified with --alter of {entity_type}")
    return Entity(entity_type, name)


@click.command(context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--zookeeper", help="DEPRECATED. The ZooKeeper connect string host:port[/chroot].")
@click.option("--bootstrap-server", help="The Kafka server to connect to.")
@click.option("--command-config", type=click.Path(dir_okay=False),
              help="Admin client properties (accepted for compatibility).")
@click.option("--describe", "actions", flag_value="describe", multiple=True,
              help="List configs for the given entity.")
@click.option("--alter", "actions", flag_value="alter", multiple=True,
              help="Alter the configuration for the entity.")
@click.option("--all", "describe_all", is_flag=True,
              help="List all configs of the entity, not only the dynamic ones.")
@click.option("--entity-type", "entity_types", multiple=True, help="topics or brokers.")
@click.option("--entity-name", "entity_names", multiple=True,
              help="Name of entity (topic name/broker id).")
@click.option("--entity-default", is_flag=True,
              help="Default entity name for brokers (cluster-wide dynamic defaults).")
@click.option("--topic", help="Same as --entity-type topics --entity-name TOPIC.")
@click.option("--broker", help="Same as --entity-type brokers --entity-name ID.")
@click.option("--broker-defaults", is_flag=True,
              help="Same as --entity-type brokers --entity-default.")
@click.option("--add-config", help="Key=value pairs to add: 'k1=v1,k2=[v1,v2,v2],k3=v3'.")
@click.option("--add-config-file", type=click.Path(dir_okay=False),
              help="A properties file with configs to add.")
@click.option("--delete-config", multiple=True, help="Config keys to remove: 'k1,k2'.")
@click.option("--force", is_flag=True, hidden=True)
def kafka_configs(zookeeper, bootstrap_server, command_config, actions, describe_all,
                  entity_types, entity_names, entity_default, topic, broker, broker_defaults,
                  add_config, add_config_file, delete_config, force) -> None:
    """Manipulate and describe entity configs for a topic or broker."""
    if len(actions) != 1:
        raise click.UsageError("Command must include exactly one action: --describe, --alter")
    action = actions[0]
    if action == "describe" and (add_config or add_config_file or delete_config):
        raise click.UsageError("Option \"[describe]\" can't be used with option "
                               "\"[add-config]\" or \"[delete-config]\"")
    rc = 0
    try:
        shortcut = [(TOPICS, topic), (BROKERS, broker)]
        if (entity_types or entity_names or entity_default) and \
                (topic or broker or broker_defaults):
            raise CommandError("--entity-{type,name,default} should not be used in conjunction "
                               "with specific entity flags")
        types = list(entity_types) + [t for t, v in shortcut if v] + \
            ([BROKERS] if broker_defaults else [])
        names = list(entity_names) + [v for _, v in shortcut if v]
        if not zookeeper and not bootstrap_server:
            raise CommandError("One of the required --bootstrap-server or --zookeeper arguments "
                               "must be specified")
        if zookeeper and bootstrap_server:
            raise CommandError("Only one of --bootstrap-server or --zookeeper must be specified")
        if describe_all and zookeeper:
            raise CommandError("--bootstrap-server must be specified for --all")
        entity = _entity(types, names, entity_default or broker_defaults, action,
                         zookeeper=bool(zookeeper))
        add: dict[str, str] = {}
        if action == "alter":
            if add_config and add_config_file:
                raise CommandError("Only one of --add-config or --add-config-file must be "
                                   "specified")
            if not (add_config or add_config_file or delete_config):
                raise CommandError("At least one of --add-config, --add-config-file, or "
                                   "--delete-config must be specified with --alter")
            if add_config_file:
                add = load_properties(add_config_file)
            if add_config:
                add = parse_add_config(add_config)
        opts = Options(action=action, entity=entity, add=add,
                       delete=parse_delete_config(delete_config), describe_all=describe_all)
        if zookeeper:
            click.echo("Warning: --zookeeper is deprecated and will be removed in a future "
                       "version of Kafka.\nUse --bootstrap-server instead to specify a broker "
                       "to connect to.", err=True)
            trio.run(_with_zk, zookeeper, lambda zk: _zk_command(zk, opts))
        else:
            from kafkalite.cli.common import run_trio
            rc = run_trio(_run_reporting, bootstrap_server, opts)
    except (CommandError, ConfigError) as e:
        click.echo(str(e), err=True)
        rc = 1
    except (KafkaError, ZkError) as e:
        click.echo(_error_line(e), err=True)
        rc = 1
    sys.exit(rc)


async def _run_reporting(bootstrap: str, opts: Options) -> int:
    """Broker-reported errors become the one-line report (not run_trio's generic one);
    connection failures and timeouts are left to :func:`run_trio`."""
    try:
        await _admin_command(bootstrap, opts)
    except (KafkaError, CommandError) as e:
        click.echo(_error_line(e) if isinstance(e, KafkaError) else str(e), err=True)
        return 1
    return 0


def _error_line(e: Exception) -> str:
    """``Error while executing config command : INVALID_CONFIG: Invalid value ...``."""
    from kafkalite.client.errors import describe
    return f"Error while executing config command : {describe(e)}"


main = kafka_configs

if __name__ == "__main__":
    main()
