"""``kafka-acls.sh``: add, remove and list ACLs (Kafka 2.8's ``kafka.admin.AclCommand``).

Two ways in, as in Kafka:

* ``--authorizer-properties zookeeper.connect=h:p[/chroot]`` works on ZooKeeper directly, the
  way Kafka's tool runs an ``AclAuthorizer`` in-process: it creates the ACL paths, loads every
  ACL, and writes each resource pattern's znode with a compare-and-set followed by a change
  notification, which every broker follows. Brokers need not be running.
* ``--bootstrap-server`` (with ``--command-config`` for the Admin client's properties:
  ``security.protocol``, ``sasl.*``, ``ssl.*`` to reach a secured listener, ``client.id``) uses
  CreateAcls, DescribeAcls and DeleteAcls; the principal needs Alter (Describe to list) on the
  cluster.

Resources: ``--topic``, ``--group``, ``--transactional-id``, ``--delegation-token`` (each
repeatable; ``*`` is every resource of the type) and ``--cluster``; ``--resource-pattern-type``
``literal`` (default), ``prefixed``, or for ``--list``/``--remove`` the filters ``any`` and
``match``. Entries: ``--allow-principal``/``--deny-principal`` ``User:name`` (repeatable),
``--allow-host``/``--deny-host`` (default ``*``), ``--operation`` (repeatable, default All).
``--producer`` grants Write, Describe and Create on the topics (Write and Describe on
transactional ids, IdempotentWrite on the cluster with ``--idempotent``); ``--consumer`` Read
and Describe on the topics and Read on the groups.

Output is Kafka's, e.g.::

    Adding ACLs for resource `ResourcePattern(resourceType=TOPIC, name=t, patternType=LITERAL)`:
     \t(principal=User:alice, host=*, operation=READ, permissionType=ALLOW)

followed by the ``Current ACLs for resource ...`` listing. Usage errors print Kafka's message
and exit 1; a failure while executing prints ``Error while executing ACL command: ...``.
"""

from __future__ import annotations

import sys
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import attrs
import click

from kafkalite.errors import ConfigError
from kafkalite.security.acl import (
    CLUSTER_NAME, WILDCARD_HOST, AccessControlEntry, AccessControlEntryFilter, AclBinding,
    AclBindingFilter, AclOperation, AclPermissionType, PatternType, ResourcePattern,
    ResourcePatternFilter, ResourceType, parse_pascal, parse_principal, supported_operations)
from kafkalite.security.authorizer import sort_entries

__all__ = ["main", "CommandError", "AclOptions", "resource_filters", "filter_to_acls",
           "resource_to_acls", "format_adding", "format_current", "format_remove_prompt",
           "group_bindings", "CLUSTER_FILTER"]

CLUSTER_FILTER = ResourcePatternFilter(ResourceType.CLUSTER, CLUSTER_NAME, PatternType.LITERAL)
_ANY_ENTRY = AccessControlEntryFilter(None, None, AclOperation.ANY, AclPermissionType.ANY)
_O = AclOperation


class CommandError(Exception):
    """A usage problem: Kafka's message is printed and the tool exits 1."""


@attrs.frozen(kw_only=True)
class AclOptions:
    """The command line, checked (Kafka's ``AclCommandOptions.checkArgs``)."""

    action: str                                    # "add", "remove" or "list"
    pattern_type: PatternType = PatternType.LITERAL
    topics: tuple[str, ...] = ()
    groups: tuple[str, ...] = ()
    transactional_ids: tuple[str, ...] = ()
    delegation_tokens: tuple[str, ...] = ()
    cluster: bool = False
    operations: tuple[str, ...] = ("All",)
    allow_principals: tuple[str, ...] = ()
    deny_principals: tuple[str, ...] = ()
    allow_hosts: tuple[str, ...] = ()
    deny_hosts: tuple[str, ...] = ()
    list_principals: tuple[str, ...] = ()
    producer: bool = False
    consumer: bool = False
    idempotent: bool = False
    force: bool = False


def parse_pattern_type(text: str) -> PatternType:
    """``--resource-pattern-type``: an enum name, any case (joptsimple's EnumConverter)."""
    try:
        value = PatternType[text.strip().upper()]
    except KeyError:
        value = PatternType.UNKNOWN
    if value is PatternType.UNKNOWN:
        raise CommandError(f"Unknown resource-pattern-type: {text}")
    return value


def check_args(*, bootstrap_server, command_config, authorizer_properties, actions,
               opts: AclOptions, operation_given: bool) -> None:
    """Kafka's argument rules, with its messages.

    Raises:
        CommandError
    """
    if command_config and not bootstrap_server:
        raise CommandError("The --command-config option can only be used with "
                           "--bootstrap-server option")
    if authorizer_properties and bootstrap_server:
        raise CommandError("The --authorizer-properties option can only be used with "
                           "--authorizer option")
    if not bootstrap_server and not authorizer_properties:
        raise CommandError('Missing required argument "[authorizer-properties]"')
    if len(actions) != 1:
        raise CommandError("Command must include exactly one action: --list, --add, --remove. ")
    if opts.action == "list":
        for flag, used in (("producer", opts.producer), ("consumer", opts.consumer),
                           ("allow-host", opts.allow_hosts),
                           ("allow-principal", opts.allow_principals),
                           ("deny-host", opts.deny_hosts),
                           ("deny-principal", opts.deny_principals)):
            if used:
                raise CommandError(f'Option "[list]" can\'t be used with option "[{flag}]"')
    for role, on in (("producer", opts.producer), ("consumer", opts.consumer)):
        if not on:
            continue
        for flag, used in (("operation", operation_given),
                           ("deny-principal", opts.deny_principals),
                           ("deny-host", opts.deny_hosts)):
            if used:
                raise CommandError(f'Option "[{role}]" can\'t be used with option "[{flag}]"')
    if opts.list_principals and opts.action != "list":
        raise CommandError("The --principal option is only available if --list is set")
    if opts.producer and not opts.topics:
        raise CommandError("With --producer you must specify a --topic")
    if opts.idempotent and not opts.producer:
        raise CommandError("The --idempotent option is only available if --producer is set")
    if opts.consumer and (not opts.topics or not opts.groups or (
            not opts.producer and (opts.cluster or opts.transactional_ids))):
        raise CommandError("With --consumer you must specify a --topic and a --group and no "
                           "--cluster or --transactional-id option should be specified.")


# -- what the options mean (pure) ------------------------------------------------------------


def resource_filters(opts: AclOptions, *, required: bool = True) -> list[ResourcePatternFilter]:
    """The resources named on the command line, with the pattern type (Kafka's order:
    topics, the cluster, groups, transactional ids, delegation tokens)."""
    pt = opts.pattern_type
    out = [ResourcePatternFilter(ResourceType.TOPIC, t.strip(), pt) for t in opts.topics]
    if pt is PatternType.LITERAL and (opts.cluster or opts.idempotent):
        out.append(CLUSTER_FILTER)
    out += [ResourcePatternFilter(ResourceType.GROUP, g.strip(), pt) for g in opts.groups]
    out += [ResourcePatternFilter(ResourceType.TRANSACTIONAL_ID, t, pt)
            for t in opts.transactional_ids]
    out += [ResourcePatternFilter(ResourceType.DELEGATION_TOKEN, t.strip(), pt)
            for t in opts.delegation_tokens]
    out = list(dict.fromkeys(out))
    if not out and required:
        raise CommandError("You must provide at least one resource: --topic <topic> or "
                           "--cluster or --group <group> or --delegation-token <Delegation "
                           "Token ID>")
    return out


def _principals(values: Iterable[str]) -> list[str]:
    try:
        return list(dict.fromkeys(parse_principal(v.strip()) for v in values))
    except ValueError as e:
        raise CommandError(str(e)) from None


def _entries(opts: AclOptions, operations: Iterable[AclOperation]) -> frozenset:
    """Kafka's ``getAcl``: every principal x operation x host, allow and deny."""
    operations = list(operations)
    out = set()
    for principals, hosts, permission in (
            (opts.allow_principals, opts.allow_hosts, AclPermissionType.ALLOW),
            (opts.deny_principals, opts.deny_hosts, AclPermissionType.DENY)):
        names = _principals(principals)
        hosts = [h.strip() for h in hosts] if hosts else ([WILDCARD_HOST] if names else [])
        out |= {AccessControlEntry(p, h, op, permission)
                for p in names for op in operations for h in hosts}
    return frozenset(out)


def filter_to_acls(opts: AclOptions) -> dict[ResourcePatternFilter, frozenset]:
    """Resource filter -> entries to add or remove (``--producer``/``--consumer`` expanded),
    after Kafka's check that each operation exists for the resource type."""
    out: dict[ResourcePatternFilter, frozenset] = {}
    if not opts.producer and not opts.consumer:
        ops = [parse_pascal(AclOperation, o.strip()) for o in opts.operations]
        acls = _entries(opts, ops)
        out = {f: acls for f in resource_filters(opts)}
    if opts.producer:
        filters = resource_filters(opts)
        topic_acls = _entries(opts, (_O.WRITE, _O.DESCRIBE, _O.CREATE))
        txn_acls = _entries(opts, (_O.WRITE, _O.DESCRIBE))
        out.update({f: topic_acls for f in filters if f.resource_type is ResourceType.TOPIC})
        out.update({f: txn_acls for f in filters
                    if f.resource_type is ResourceType.TRANSACTIONAL_ID})
        if opts.idempotent:
            out[CLUSTER_FILTER] = _entries(opts, (_O.IDEMPOTENT_WRITE,))
    if opts.consumer:
        filters = resource_filters(opts)
        topic_acls = _entries(opts, (_O.READ, _O.DESCRIBE))
        group_acls = _entries(opts, (_O.READ,))
        for f in filters:
            if f.resource_type is ResourceType.TOPIC:
                out[f] = topic_acls | out.get(f, frozenset())
            elif f.resource_type is ResourceType.GROUP:
                out[f] = group_acls | out.get(f, frozenset())
    for f, acls in out.items():
        valid = supported_operations(f.resource_type) | {AclOperation.ALL}
        if any(a.operation not in valid for a in acls):
            names = ",".join(op.name for op in sorted(valid))
            raise CommandError(f"ResourceType {f.resource_type.name} only supports operations "
                               f"{names}")
    return out


def resource_to_acls(opts: AclOptions) -> dict[ResourcePattern, frozenset]:
    """What ``--add`` writes: concrete patterns, each with at least one entry."""
    if not opts.pattern_type.is_specific:
        raise CommandError(f"A '--resource-pattern-type' value of '{opts.pattern_type.name}' "
                           "is not valid when adding acls.")
    out = {ResourcePattern(f.resource_type, f.name, f.pattern_type): acls
           for f, acls in filter_to_acls(opts).items()}
    if any(not acls for acls in out.values()):
        raise CommandError("You must specify one of: --allow-principal, --deny-principal when "
                           "trying to add ACLs.")
    return out


def _entry_lines(acls: Iterable[AccessControlEntry]) -> str:
    return "\n".join(f"\t{a}" for a in sort_entries(acls))


def format_adding(pattern: ResourcePattern, acls: Iterable[AccessControlEntry]) -> str:
    return f"Adding ACLs for resource `{pattern}`: \n {_entry_lines(acls)} \n"


def format_current(pattern: ResourcePattern, acls: Iterable[AccessControlEntry]) -> str:
    return f"Current ACLs for resource `{pattern}`: \n {_entry_lines(acls)} \n"


def format_remove_prompt(pattern_filter: ResourcePatternFilter,
                         acls: Iterable[AccessControlEntry]) -> str:
    acls = list(acls)
    if not acls:
        return (f"Are you sure you want to delete all ACLs for resource filter "
                f"`{pattern_filter}`? (y/n)")
    return (f"Are you sure you want to remove ACLs: \n {_entry_lines(acls)} \n from resource "
            f"filter `{pattern_filter}`? (y/n)")


def group_bindings(bindings: Iterable[AclBinding]) -> dict[ResourcePattern, list]:
    """Bindings per resource pattern, patterns in a stable order."""
    out: dict[ResourcePattern, set] = {}
    for b in bindings:
        out.setdefault(b.pattern, set()).add(b.entry)
    key = lambda p: (int(p.resource_type), int(p.pattern_type), p.name)  # noqa: E731
    return {p: sort_entries(out[p]) for p in sorted(out, key=key)}


# -- the two back ends ----------------------------------------------------------------------


class _ZkBackend:
    """An in-process AclAuthorizer on ZooKeeper (``--authorizer-properties``)."""

    def __init__(self, service):
        self.service = service

    async def create(self, bindings: Sequence[AclBinding]) -> None:
        for error in await self.service.create_acls(bindings):
            if error is not None:   # Kafka's tool reports and carries on
                click.echo(f"Error while adding ACLs: {error}")

    async def delete(self, filters: Sequence[AclBindingFilter]) -> None:
        for removed in await self.service.delete_acls(filters):
            for _binding, error in removed:
                if error is not None:
                    click.echo(f"Error while removing ACLs: {error}")

    async def describe(self, binding_filter: AclBindingFilter) -> list[AclBinding]:
        return self.service.acls(binding_filter)

    async def refresh(self) -> None:
        await self.service.load_cache()


class _ApiBackend:
    """CreateAcls / DescribeAcls / DeleteAcls through any broker (``--bootstrap-server``)."""

    def __init__(self, cluster):
        self.cluster = cluster

    async def _call(self, msg, what: str):
        return await self.cluster.call_with_retries(lambda: self.cluster.request(None, msg),
                                                    what=what)

    async def create(self, bindings: Sequence[AclBinding]) -> None:
        from kafkalite.client.errors import raise_for_code
        from kafkalite.protocol.messages.create_acls import AclCreation, CreateAclsRequest

        response = await self._call(CreateAclsRequest(creations=tuple(AclCreation(
            resource_type=int(b.pattern.resource_type), resource_name=b.pattern.name,
            resource_pattern_type=int(b.pattern.pattern_type), principal=b.entry.principal,
            host=b.entry.host, operation=int(b.entry.operation),
            permission_type=int(b.entry.permission_type)) for b in bindings)), "create ACLs")
        for r in response.results:
            raise_for_code(r.error_code, "", r.error_message)

    async def delete(self, filters: Sequence[AclBindingFilter]) -> None:
        from kafkalite.client.errors import raise_for_code
        from kafkalite.protocol.messages.delete_acls import DeleteAclsFilter, DeleteAclsRequest

        response = await self._call(DeleteAclsRequest(filters=tuple(
            DeleteAclsFilter(**_filter_fields(f)) for f in filters)), "delete ACLs")
        for r in response.filter_results:
            raise_for_code(r.error_code, "", r.error_message)
            for m in r.matching_acls:
                raise_for_code(m.error_code, "", m.error_message)

    async def describe(self, binding_filter: AclBindingFilter) -> list[AclBinding]:
        from kafkalite.client.errors import raise_for_code
        from kafkalite.protocol.messages.describe_acls import DescribeAclsRequest

        response = await self._call(DescribeAclsRequest(**_filter_fields(binding_filter)),
                                    "describe ACLs")
        raise_for_code(response.error_code, "", response.error_message)
        return [AclBinding(ResourcePattern(r.resource_type, r.resource_name, r.pattern_type),
                           AccessControlEntry(a.principal, a.host, a.operation,
                                              a.permission_type))
                for r in response.resources for a in r.acls]

    async def refresh(self) -> None:
        pass


def _filter_fields(f: AclBindingFilter) -> dict:
    return dict(resource_type_filter=int(f.pattern_filter.resource_type),
                resource_name_filter=f.pattern_filter.name,
                pattern_type_filter=int(f.pattern_filter.pattern_type),
                principal_filter=f.entry_filter.principal, host_filter=f.entry_filter.host,
                operation=int(f.entry_filter.operation),
                permission_type=int(f.entry_filter.permission_type))


# -- the commands (shared by both back ends) --------------------------------------------------


def _confirm(opts: AclOptions, message: str) -> bool:
    if opts.force:
        return True
    click.echo(message)
    return sys.stdin.readline().strip().lower() == "y"


async def add_acls(backend, opts: AclOptions) -> None:
    for pattern, acls in resource_to_acls(opts).items():
        click.echo(format_adding(pattern, acls))
        await backend.create([AclBinding(pattern, a) for a in sort_entries(acls)])
    await list_acls(backend, opts)


async def remove_acls(backend, opts: AclOptions) -> None:
    for pattern_filter, acls in filter_to_acls(opts).items():
        if not _confirm(opts, format_remove_prompt(pattern_filter, acls)):
            continue
        if acls:
            await backend.delete([AclBindingFilter(pattern_filter, a.to_filter())
                                  for a in sort_entries(acls)])
        else:
            await backend.delete([AclBindingFilter(pattern_filter, _ANY_ENTRY)])
    await list_acls(backend, opts)


async def list_acls(backend, opts: AclOptions) -> None:
    await backend.refresh()
    filters = resource_filters(opts, required=False)
    bindings: list[AclBinding] = []
    if not filters:
        bindings = await backend.describe(AclBindingFilter(
            ResourcePatternFilter(ResourceType.ANY, None, PatternType.ANY), _ANY_ENTRY))
    for f in filters:
        bindings += await backend.describe(AclBindingFilter(f, _ANY_ENTRY))
    grouped = group_bindings(bindings)
    if not opts.list_principals:
        for pattern, acls in grouped.items():
            click.echo(format_current(pattern, acls))
        return
    for principal in _principals(opts.list_principals):
        click.echo(f"ACLs for principal `{principal}`")
        for pattern, acls in grouped.items():
            mine = [a for a in acls if a.principal == principal]
            if mine:
                click.echo(format_current(pattern, mine))


async def _run(opts: AclOptions, *, zookeeper: str | None, bootstrap: str | None,
               cluster_kw: Mapping[str, Any],
               zk_tls_config: Mapping[str, str] | None = None) -> None:
    action = {"add": add_acls, "remove": remove_acls, "list": list_acls}[opts.action]
    if bootstrap:
        from kafkalite.client.cluster import Cluster

        cluster = Cluster(bootstrap, retry_timeout_ms=15000, **cluster_kw)
        try:
            await action(_ApiBackend(cluster), opts)
        finally:
            await cluster.aclose()
        return
    from kafkalite.security.authorizer import Authorizer
    from kafkalite.security.service import AclAuthorizerService
    from kafkalite.zk.kafka_zk import KafkaZk
    from kafkalite.cli.common import open_tool_zk

    async with open_tool_zk(zookeeper, zk_tls_config=zk_tls_config) as session:
        service = AclAuthorizerService(Authorizer())
        await service.start(KafkaZk(session))
        await action(_ZkBackend(service), opts)


def _zk_tls_keys(props: Mapping[str, str]) -> dict[str, str]:
    """ZooKeeper TLS keys, with or without the ``authorizer.`` prefix (Kafka's AclCommand)."""
    from kafkalite.security.zk_client import ZK_SSL_KEYS

    out = {}
    for key, value in props.items():
        bare = key.removeprefix("authorizer.")
        if bare in ZK_SSL_KEYS:
            out[bare] = value
    return out


def _authorizer_properties(items: Sequence[str]) -> dict[str, str]:
    out = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key.strip() or not value:
            raise CommandError(f"Invalid authorizer property '{item}': expected key=value")
        out[key.strip()] = value.strip()
    return out


@click.command(context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--bootstrap-server", help="host:port[,host:port] of brokers, for the Kafka APIs.")
@click.option("--command-config", type=click.Path(dir_okay=False),
              help="Admin client properties for --bootstrap-server (security.protocol, "
              "sasl.*, ssl.* for a secured listener; client.id).")
@click.option("--authorizer", help="Authorizer class (kafka.security.authorizer.AclAuthorizer).")
@click.option("--authorizer-properties", multiple=True,
              help="key=val, e.g. zookeeper.connect=localhost:2181[/chroot].")
@click.option("--add", "actions", flag_value="add", multiple=True, help="Add ACLs.")
@click.option("--remove", "actions", flag_value="remove", multiple=True, help="Remove ACLs.")
@click.option("--list", "actions", flag_value="list", multiple=True, help="List ACLs.")
@click.option("--zk-tls-config-file", type=click.Path(dir_okay=False),
              help="With --authorizer-properties: ZooKeeper client TLS properties "
              "(zookeeper.ssl.*, zookeeper.clientCnxnSocket, with or without an 'authorizer.' "
              "prefix; other keys are ignored).")
@click.option("--topic", multiple=True, help="Topic (* = all topics).")
@click.option("--cluster", is_flag=True, help="The cluster resource.")
@click.option("--group", multiple=True, help="Consumer group (* = all groups).")
@click.option("--transactional-id", multiple=True, help="Transactional id (* = all).")
@click.option("--delegation-token", multiple=True, help="Delegation token id (* = all).")
@click.option("--resource-pattern-type", default="literal", show_default=True,
              help="literal|prefixed (add); any|match also for list and remove.")
@click.option("--operation", multiple=True, help="Read, Write, Create, Delete, Alter, "
              "Describe, ClusterAction, DescribeConfigs, AlterConfigs, IdempotentWrite, All.")
@click.option("--allow-principal", multiple=True, help="Type:name, e.g. User:alice (User:*).")
@click.option("--deny-principal", multiple=True, help="Type:name; deny wins over allow.")
@click.option("--principal", "list_principals", multiple=True,
              help="With --list: only this principal's ACLs.")
@click.option("--allow-host", multiple=True, help="Host of --allow-principal (default *).")
@click.option("--deny-host", multiple=True, help="Host of --deny-principal (default *).")
@click.option("--producer", is_flag=True, help="Write, Describe, Create on the topics.")
@click.option("--consumer", is_flag=True, help="Read, Describe on topics; Read on groups.")
@click.option("--idempotent", is_flag=True, help="With --producer: IdempotentWrite on cluster.")
@click.option("--force", is_flag=True, help="Assume yes to every question.")
def kafka_acls(bootstrap_server, command_config, authorizer, authorizer_properties, actions,
               zk_tls_config_file, topic, cluster, group, transactional_id, delegation_token, resource_pattern_type,
               operation, allow_principal, deny_principal, list_principals, allow_host,
               deny_host, producer, consumer, idempotent, force) -> None:
    """This tool helps to manage acls on kafka."""
    try:
        if bootstrap_server and authorizer:
            raise CommandError("Only one of --bootstrap-server or --authorizer must be "
                               "specified")
        opts = AclOptions(
            action=actions[0] if len(actions) == 1 else "", pattern_type=parse_pattern_type(
                resource_pattern_type), topics=tuple(topic), groups=tuple(group),
            transactional_ids=tuple(transactional_id),
            delegation_tokens=tuple(delegation_token), cluster=cluster,
            operations=tuple(operation) or ("All",), allow_principals=tuple(allow_principal),
            deny_principals=tuple(deny_principal), allow_hosts=tuple(allow_host),
            deny_hosts=tuple(deny_host), list_principals=tuple(list_principals),
            producer=producer, consumer=consumer, idempotent=idempotent, force=force)
        check_args(bootstrap_server=bootstrap_server, command_config=command_config,
                   authorizer_properties=authorizer_properties, actions=actions, opts=opts,
                   operation_given=bool(operation))
        zookeeper = None
        cluster_kw: dict[str, Any] = {}
        zk_tls_config: dict[str, str] = {}
        if bootstrap_server:
            from kafkalite.cli.common import cluster_kwargs, read_config_file
            try:
                cluster_kw = cluster_kwargs(read_config_file(command_config),
                                            client_id="kafka-acls")
            except ConfigError as e:
                raise CommandError(str(e)) from None
        else:
            from kafkalite.security.service import AUTHORIZER_CLASSES
            if authorizer and authorizer not in AUTHORIZER_CLASSES:
                raise CommandError(f"Authorizer {authorizer} is not supported: kafkalite "
                                   f"implements {' and '.join(AUTHORIZER_CLASSES)}")
            props = _authorizer_properties(authorizer_properties)
            zookeeper = props.get("zookeeper.connect")
            if not zookeeper:
                raise CommandError('Missing required configuration "zookeeper.connect" which '
                                   'has no default value.')
            zk_tls_config = _zk_tls_keys(props)
            if zk_tls_config_file:
                from kafkalite.config import load_properties
                try:
                    zk_tls_config.update(_zk_tls_keys(load_properties(zk_tls_config_file)))
                except ConfigError as e:
                    raise CommandError(f"--zk-tls-config-file: {e}") from None
        if zk_tls_config_file and bootstrap_server:
            raise CommandError("--zk-tls-config-file can only be used with "
                               "--authorizer-properties")
        if opts.action == "add":
            resource_to_acls(opts)    # usage errors before connecting
        elif opts.action == "remove":
            filter_to_acls(opts)
    except CommandError as e:
        click.echo(str(e), err=True)
        sys.exit(1)
    sys.exit(_execute(opts, zookeeper=zookeeper, bootstrap=bootstrap_server,
                      cluster_kw=cluster_kw, zk_tls_config=zk_tls_config))


def _leaves(exc: BaseException) -> list[BaseException]:
    if isinstance(exc, BaseExceptionGroup):
        return [leaf for inner in exc.exceptions for leaf in _leaves(inner)]
    return [exc]


def _execute(opts: AclOptions, **kw) -> int:
    """Run the command; an expected failure is Kafka's one-line report and status 1."""
    import trio

    from kafkalite.cli.common import EXPECTED_ERRORS
    from kafkalite.client.errors import describe
    from kafkalite.zk.errors import ZkError

    try:
        trio.run(lambda: _run(opts, **kw))
    except BaseException as exc:  # noqa: BLE001 - sorted below; bugs are re-raised
        leaves = _leaves(exc)
        if any(isinstance(e, KeyboardInterrupt) for e in leaves):
            return 130
        if any(isinstance(e, CommandError) for e in leaves):
            click.echo(str(next(e for e in leaves if isinstance(e, CommandError))), err=True)
            return 1
        if leaves and all(isinstance(e, (*EXPECTED_ERRORS, ZkError)) for e in leaves):
            click.echo(f"Error while executing ACL command: {describe(leaves[0])}")
            return 1
        raise
    return 0

main = kafka_acls

if __name__ == "__main__":
    from kafkalite.cli.tools import run_module

    run_module("kafkalite.cli.acls")
