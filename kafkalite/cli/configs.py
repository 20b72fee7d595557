"""``kafka-configs.sh``: describe and alter topic, broker and user configs (Kafka's ConfigCommand).

Two ways in, as in Kafka 2.x:

* ``--zookeeper`` reads ``/config/<type>/<name>`` directly and alters by rewriting that node
  and then posting ``/config/changes/config_change_<seq>``; every broker's config manager
  applies the change. Describe prints the stored overrides on one line
  (``Configs for topic 'foo' are retention.ms=1000``). Like Kafka, dynamic broker configs other
  than replication throttles may only be written this way while the broker is down.
* ``--bootstrap-server`` uses the Kafka APIs: DescribeConfigs (dynamic entries with their
  sources and synonyms, or ``--all``), IncrementalAlterConfigs SET/DELETE for topics and
  AlterConfigs (full replacement of the dynamic set) for brokers, sent to that broker.
  ``--command-config`` is the Admin client's properties file (``security.protocol``,
  ``sasl.*``, ``ssl.*`` to reach a secured listener).

Users (``--entity-type users`` / ``--user``) hold SCRAM credentials, as in Kafka:

* ``--zookeeper``: ``--add-config 'SCRAM-SHA-256=[iterations=8192,password=alice-secret]'``
  is turned into Kafka's stored credential here (random salt) and written to
  ``/config/users/<sanitized user>`` with its change notification; ``--describe`` prints the
  stored values (``Configs for user-principal 'alice' are SCRAM-SHA-256=salt=...``). Quota keys
  are accepted and stored (Kafka's validation) but not enforced by kafkalite brokers.
* ``--bootstrap-server``: AlterUserScramCredentials (password salted here, sent to the
  controller) and DescribeUserScramCredentials (``SCRAM credential configs for user-principal
  'alice' are SCRAM-SHA-256=iterations=8192``). Quota configs need AlterClientQuotas, which
  kafkalite does not implement.

``--add-config k1=v1,k2=[a,b]`` groups values containing commas in square brackets;
``--delete-config k1,k2`` removes overrides (deleting one that is not set is an error, as in
Kafka). Values are checked before anything is written; a refused value is reported on one line
(``INVALID_CONFIG: Invalid value ...``) with exit status 1.
"""

from __future__ import annotations

import os
import re
import sys
from collections.abc import Mapping, Sequence
from typing import Any

import attrs
import click
import trio

from kafkalite import errors
from kafkalite.config import load_properties
from kafkalite.errors import ConfigError, KafkaError
from kafkalite.security.credentials import (
    DEFAULT_USER, USER_QUOTA_CONFIGS, desanitize, sanitize, validate_user_config)
from kafkalite.security.scram import (
    DEFAULT_ITERATIONS, ScramMechanism, format_credential, make_credential)
from kafkalite.server.config_manager import ConfigSource
from kafkalite.zk.errors import ZkError

__all__ = ["main", "CommandError", "Entity", "parse_add_config", "parse_delete_config",
           "format_zk_describe", "format_entries", "describe_header", "alter_message",
           "zk_scram_credentials", "scram_alterations", "format_scram_describe"]

TOPICS, BROKERS, USERS = "topics", "brokers", "users"
DEFAULT_ENTITY = "<default>"
ZK_ENTITY_TYPES = (TOPICS, USERS, BROKERS)        # in Kafka's ConfigType.all order
BOOTSTRAP_ENTITY_TYPES = (TOPICS, USERS, BROKERS)
_SALT_BYTES = 32
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
    """A config entity: ``topics``/``brokers``/``users`` and a name (``<default>`` for the
    default). User names are kept as given; :meth:`zk_name` is the ZooKeeper node name."""

    type: str
    name: str | None

    @property
    def is_default(self) -> bool:
        return self.name == DEFAULT_ENTITY

    def zk_name(self) -> str:
        """The ``/config/<type>/<name>`` node name: user names are sanitized as Kafka does."""
        assert self.name is not None
        if self.type == USERS and not self.is_default:
            return sanitize(self.name)
        return self.name

    def zk_label(self) -> str:
        """Kafka's ConfigCommand.Entity.toString: ``topic 'foo'``, ``brokers '0'``,
        ``default brokers``, ``user-principal 'alice'``."""
        type_name = {TOPICS: "topic", USERS: "user-principal"}.get(self.type, self.type)
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


# -- users: SCRAM credentials (pure) ---------------------------------------------------------

_ZK_CREDENTIAL = re.compile(r"(?:iterations=([0-9]*),)?password=(.*)")
_BOOTSTRAP_CREDENTIAL = re.compile(r"(?:iterations=(-?[0-9]*),)?password=(.*)")


def zk_scram_credentials(add: Mapping[str, str], *, salt: bytes | None = None
                         ) -> dict[str, str]:
    """``--add-config`` for a user with ``--zookeeper``: each ``SCRAM-SHA-*`` value
    ``[iterations=N,]password=P`` becomes Kafka's stored credential string (Kafka's
    ``preProcessScramCredentials``); other keys are left as they are.

    Args:
        salt: for tests; by default a fresh random salt per credential.

    Raises:
        CommandError: a value not of that form, or fewer than 4096 iterations.
    """
    out = dict(add)
    for mechanism in ScramMechanism:
        value = add.get(mechanism.mechanism_name)
        if value is None:
            continue
        m = _ZK_CREDENTIAL.fullmatch(value)
        if m is None or m[1] == "":
            raise CommandError(f"Invalid credential property {mechanism.name}={value}")
        iterations = int(m[1]) if m[1] is not None else DEFAULT_ITERATIONS
        if iterations < mechanism.min_iterations:
            raise CommandError(f"Iterations {iterations} is less than the minimum "
                               f"{mechanism.min_iterations} required for {mechanism.name}")
        credential = make_credential(mechanism, m[2], iterations=iterations,
                                     salt=salt if salt is not None else os.urandom(_SALT_BYTES))
        out[mechanism.mechanism_name] = format_credential(credential)
    return out


def scram_alterations(user: str, add: Mapping[str, str], delete: Sequence[str]) -> list:
    """``--add-config``/``--delete-config`` of a user with ``--bootstrap-server`` as admin
    alterations (Kafka's ``alterConfig`` for users, SCRAM part).

    Raises:
        CommandError: keys that are neither SCRAM nor quota configs, quota configs (kafkalite
            has no AlterClientQuotas), the default user, a bad credential value or too few
            iterations — with Kafka's messages.
    """
    from kafkalite.client.admin import UserScramCredentialDeletion, UserScramCredentialUpsertion

    scram_names = ScramMechanism.names()
    unknown_add = [k for k in add if k not in scram_names and k not in USER_QUOTA_CONFIGS]
    unknown_delete = [k for k in delete if k not in scram_names and k not in USER_QUOTA_CONFIGS]
    if unknown_add:
        raise CommandError(f"Only quota and SCRAM credential configs can be added for 'users' "
                           f"using --bootstrap-server. Unexpected config names: "
                           f"Set({', '.join(unknown_add)})")
    if unknown_delete:
        raise CommandError(f"Only quota and SCRAM credential configs can be deleted for "
                           f"'users' using --bootstrap-server. Unexpected config names: "
                           f"Buffer({', '.join(unknown_delete)})")
    scram_add = {k: v for k, v in add.items() if k in scram_names}
    scram_delete = [k for k in delete if k in scram_names]
    quotas = [k for k in (*add, *delete) if k in USER_QUOTA_CONFIGS]
    if scram_add or scram_delete:
        if user == DEFAULT_ENTITY:
            raise CommandError("The use of --entity-default or --user-defaults is not allowed "
                               "with User SCRAM Credentials using --bootstrap-server.")
        if quotas:
            raise CommandError("Cannot alter both quota and SCRAM credential configs "
                               "simultaneously for 'users' using --bootstrap-server.")
    if quotas:
        raise CommandError("Quota configs cannot be altered with --bootstrap-server: kafkalite "
                           "does not implement AlterClientQuotas (use --zookeeper)")
    alterations: list = [UserScramCredentialDeletion(user=user, mechanism=k)
                         for k in scram_delete]
    for name, value in scram_add.items():
        mechanism = ScramMechanism.for_name(name)
        assert mechanism is not None
        m = _BOOTSTRAP_CREDENTIAL.fullmatch(value)
        if m is None or m[1] == "" or m[1] == "-":
            raise CommandError(f"Invalid credential property {mechanism.name}={value}")
        iterations = DEFAULT_ITERATIONS if m[1] in (None, "-1") else int(m[1])
        if iterations < mechanism.min_iterations:
            raise CommandError(f"Iterations {iterations} is less than the minimum "
                               f"{mechanism.min_iterations} required for {name}")
        alterations.append(UserScramCredentialUpsertion(user=user, mechanism=name,
                                                        password=m[2], iterations=iterations))
    return alterations


def format_scram_describe(user: str, infos) -> str:
    """``SCRAM credential configs for user-principal 'alice' are SCRAM-SHA-256=iterations=8192,
    SCRAM-SHA-512=iterations=4096`` (Kafka's bootstrap describe of a user)."""
    text = ", ".join(f"{i.mechanism}=iterations={i.iterations}" for i in infos)
    return f"SCRAM credential configs for user-principal '{user}' are {text}"


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

async def _with_zk(connect: str, fn, zk_tls_config_file: str | None = None):
    from kafkalite.zk.kafka_zk import KafkaZk
    from kafkalite.cli.common import open_tool_zk

    async with open_tool_zk(connect, zk_tls_config_file, error=CommandError) as session:
        return await fn(KafkaZk(session))


async def _zk_entity_names(zk, entity_type: str) -> list[str]:
    from kafkalite.zk.errors import NoNodeError
    from kafkalite.zk.znodes import ConfigEntityTypeZNode

    try:
        return sorted(await zk.session.get_children(ConfigEntityTypeZNode.path(entity_type)))
    except NoNodeError:
        return []


async def _zk_user_entities(zk) -> list[Entity]:
    out = []
    for name in await _zk_entity_names(zk, USERS):
        try:
            out.append(Entity(USERS, name if name == DEFAULT_USER else desanitize(name)))
        except ValueError:
            continue   # not a name Kafka's Sanitizer writes
    return out


async def _zk_command(zk, opts: Options) -> None:
    from kafkalite.server.config_manager import (
        ZK_UPDATABLE_BROKER_CONFIGS, validate_broker_config, validate_topic_config)

    entity = opts.entity
    if opts.action == "describe":
        if entity.name is not None:
            entities = [entity]
        elif entity.type == USERS:
            entities = await _zk_user_entities(zk)
        else:
            entities = [Entity(entity.type, n) for n in await _zk_entity_names(zk, entity.type)]
        for e in entities:
            configs = await zk.get_entity_config(e.type, e.zk_name())
            # describing all users skips nodes that only hold <user, client> children
            if configs or entity.name is not None or entity.type != USERS:
                click.echo(format_zk_describe(e, configs))
        return
    if entity.type == USERS:
        opts = attrs.evolve(opts, add=zk_scram_credentials(opts.add))
    current = await zk.get_entity_config(entity.type, entity.zk_name())
    merged = _merge(current, opts)
    if entity.type == USERS:
        try:
            validate_user_config(merged, default_entity=entity.is_default)
        except errors.InvalidConfig as e:   # Kafka's IllegalArgumentException: message only
            raise CommandError(str(e)) from None
    elif entity.type == TOPICS:
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
    await zk.change_entity_config(entity.type, entity.zk_name(), merged)
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


async def _admin_command(bootstrap: str, opts: Options, cluster_kw: Mapping[str, Any]) -> None:
    from kafkalite.client.admin import Admin
    from kafkalite.client.cluster import Cluster

    cluster = Cluster(bootstrap, client_id="kafka-configs", retry_timeout_ms=15000, **cluster_kw)
    try:
        client = _Client(cluster)
        entity = opts.entity
        if entity.type == USERS:
            await _admin_users(Admin(cluster), opts)
            return
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


async def _admin_users(admin, opts: Options) -> None:
    """Users with --bootstrap-server: SCRAM credentials only (no quota APIs here)."""
    from kafkalite.client.errors import describe
    from kafkalite.errors import ResourceNotFound

    entity = opts.entity
    if opts.action == "describe":
        if entity.is_default:
            return   # Kafka shows only quotas for the default user
        names = [] if entity.name is None else [entity.name]
        found = await admin.describe_user_scram_credentials(names)
        for user, infos in found.items():
            if isinstance(infos, ResourceNotFound):
                continue   # the Java client's users() leaves these out
            if isinstance(infos, KafkaError):
                click.echo(f"Error retrieving SCRAM credential configs for user-principal "
                           f"'{user}': {describe(infos)}")
            else:
                click.echo(format_scram_describe(user, infos))
        return
    alterations = scram_alterations(entity.name, opts.add, opts.delete)
    results = await admin.alter_user_scram_credentials(alterations)
    error = results.get(entity.name)
    if error is not None:
        raise error
    click.echo(alter_message(entity, zookeeper=False))


# -- entry point -------------------------------------------------------------------------------

def _entity(entity_types: Sequence[str], entity_names: Sequence[str], entity_default: bool,
            action: str, zookeeper: bool) -> Entity:
    """Kafka's checkArgs for the entity options (topics, brokers and users)."""
    if len(entity_types) != len(set(entity_types)):
        dup = sorted({t for t in entity_types if entity_types.count(t) > 1})
        raise CommandError(f"Duplicate entity type(s) specified: {','.join(dup)}")
    allowed = ZK_ENTITY_TYPES if zookeeper else BOOTSTRAP_ENTITY_TYPES
    for entity_type in entity_types:
        if entity_type not in allowed:
            how = "--zookeeper" if zookeeper else "--bootstrap-server"
            raise CommandError(f"Invalid entity type {entity_type}, the entity type must be one "
                               f"of {','.join(allowed)} with the {how} argument")
    if not entity_types:
        raise CommandError("At least one entity type must be specified")
    if len(entity_types) > 1:
        raise CommandError("Only 'users' and 'clients' entity types may be specified together")
    entity_type = entity_types[0]
    if len(entity_names) + int(entity_default) > 1:
        raise CommandError("Exactly one entity name must be specified for every entity type")
    if entity_default:
        if entity_type not in (BROKERS, USERS):
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
        if entity_type in (BROKERS, USERS):
            raise CommandError("an entity-name or default entity must be specified with "
                               "--alter of users, clients, brokers or ips")
        raise CommandError(f"an entity name must be specified with --alter of {entity_type}")
    return Entity(entity_type, name)


@click.command(context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--zookeeper", help="DEPRECATED. The ZooKeeper connect string host:port[/chroot].")
@click.option("--bootstrap-server", help="The Kafka server to connect to.")
@click.option("--command-config", type=click.Path(dir_okay=False),
              help="Property file containing configs to be passed to Admin Client (with "
              "--bootstrap-server): security.protocol, sasl.*, ssl.* for a secured listener.")
@click.option("--zk-tls-config-file", type=click.Path(dir_okay=False),
              help="With --zookeeper: ZooKeeper client TLS properties (zookeeper.ssl.*, "
              "zookeeper.clientCnxnSocket; other keys are ignored).")
@click.option("--describe", "actions", flag_value="describe", multiple=True,
              help="List configs for the given entity.")
@click.option("--alter", "actions", flag_value="alter", multiple=True,
              help="Alter the configuration for the entity.")
@click.option("--all", "describe_all", is_flag=True,
              help="List all configs of the entity, not only the dynamic ones.")
@click.option("--entity-type", "entity_types", multiple=True, help="topics, users or brokers.")
@click.option("--entity-name", "entity_names", multiple=True,
              help="Name of entity (topic name/user principal name/broker id).")
@click.option("--entity-default", is_flag=True,
              help="Default entity name for users/brokers (cluster-wide dynamic defaults).")
@click.option("--topic", help="Same as --entity-type topics --entity-name TOPIC.")
@click.option("--user", help="Same as --entity-type users --entity-name USER.")
@click.option("--broker", help="Same as --entity-type brokers --entity-name ID.")
@click.option("--user-defaults", is_flag=True,
              help="Same as --entity-type users --entity-default.")
@click.option("--broker-defaults", is_flag=True,
              help="Same as --entity-type brokers --entity-default.")
@click.option("--add-config", help="Key=value pairs to add: 'k1=v1,k2=[v1,v2,v2],k3=v3'.")
@click.option("--add-config-file", type=click.Path(dir_okay=False),
              help="A properties file with configs to add.")
@click.option("--delete-config", multiple=True, help="Config keys to remove: 'k1,k2'.")
@click.option("--force", is_flag=True, hidden=True)
def kafka_configs(zookeeper, bootstrap_server, command_config, zk_tls_config_file, actions,
                  describe_all,
                  entity_types, entity_names, entity_default, topic, user, broker,
                  user_defaults, broker_defaults, add_config, add_config_file, delete_config,
                  force) -> None:
    """Manipulate and describe entity configs for a topic, user or broker."""
    if len(actions) != 1:
        raise click.UsageError("Command must include exactly one action: --describe, --alter")
    action = actions[0]
    if action == "describe" and (add_config or add_config_file or delete_config):
        raise click.UsageError("Option \"[describe]\" can't be used with option "
                               "\"[add-config]\" or \"[delete-config]\"")
    rc = 0
    try:
        shortcut = [(TOPICS, topic), (USERS, user), (BROKERS, broker)]
        defaults = [(USERS, user_defaults), (BROKERS, broker_defaults)]
        if (entity_types or entity_names or entity_default) and \
                (topic or user or broker or user_defaults or broker_defaults):
            raise CommandError("--entity-{type,name,default} should not be used in conjunction "
                               "with specific entity flags")
        types = list(entity_types) + [t for t, v in shortcut if v] + \
            [t for t, v in defaults if v]
        names = list(entity_names) + [v for _, v in shortcut if v]
        if not zookeeper and not bootstrap_server:
            raise CommandError("One of the required --bootstrap-server or --zookeeper arguments "
                               "must be specified")
        if zookeeper and bootstrap_server:
            raise CommandError("Only one of --bootstrap-server or --zookeeper must be specified")
        if zk_tls_config_file and not zookeeper:
            raise CommandError("Only the --zookeeper option can be used with the "
                               "--zk-tls-config-file option.")
        if describe_all and zookeeper:
            raise CommandError("--bootstrap-server must be specified for --all")
        entity = _entity(types, names, entity_default or user_defaults or broker_defaults,
                         action, zookeeper=bool(zookeeper))
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
            trio.run(_with_zk, zookeeper, lambda zk: _zk_command(zk, opts),
                     zk_tls_config_file)
        else:
            from kafkalite.cli.common import cluster_kwargs, read_config_file, run_trio
            cluster_kw = cluster_kwargs(read_config_file(command_config))
            rc = run_trio(_run_reporting, bootstrap_server, opts, cluster_kw)
    except (CommandError, ConfigError) as e:
        click.echo(str(e), err=True)
        rc = 1
    except (KafkaError, ZkError) as e:
        click.echo(_error_line(e), err=True)
        rc = 1
    sys.exit(rc)


async def _run_reporting(bootstrap: str, opts: Options, cluster_kw: Mapping[str, Any]) -> int:
    """Broker-reported errors become the one-line report (not run_trio's generic one);
    connection failures and timeouts are left to :func:`run_trio`."""
    try:
        await _admin_command(bootstrap, opts, cluster_kw)
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
    from kafkalite.cli.tools import run_module

    run_module("kafkalite.cli.configs")
