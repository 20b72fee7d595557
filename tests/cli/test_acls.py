"""kafka-acls.sh: Kafka's argument rules and messages, what --producer/--consumer expand to,
and the exact output of --add/--remove/--list (run against an in-memory ZooKeeper through the
same AclAuthorizer code the broker uses)."""

from __future__ import annotations

import io

import pytest
import trio
from click.testing import CliRunner

from kafkalite.cli import acls as cli
from kafkalite.cli.acls import (AclOptions, CommandError, check_args, filter_to_acls,
                                format_adding, format_current, format_remove_prompt,
                                resource_filters, resource_to_acls)
from kafkalite.security.acl import (AccessControlEntry, AclOperation, AclPermissionType,
                                    PatternType, ResourcePattern, ResourcePatternFilter,
                                    ResourceType)
from kafkalite.security.authorizer import Authorizer
from kafkalite.security.service import AclAuthorizerService
from kafkalite.zk.kafka_zk import KafkaZk
from tests.security.fake_zk import FakeZk

O, P, R, T = AclOperation, AclPermissionType, ResourceType, PatternType


def entry(principal, op, perm=P.ALLOW, host="*"):
    return AccessControlEntry(principal, host, op, perm)


def check(**kw):
    args = dict(bootstrap_server=None, command_config=None,
                authorizer_properties=("zookeeper.connect=z:2181",), actions=("add",),
                operation_given=False)
    args.update({k: kw.pop(k) for k in list(kw) if k in args})
    check_args(opts=AclOptions(action=args["actions"][0] if args["actions"] else "", **kw),
               **args)


@pytest.mark.parametrize("kw,message", [
    (dict(actions=()), "Command must include exactly one action: --list, --add, --remove. "),
    (dict(actions=("add", "list")), "Command must include exactly one action"),
    (dict(authorizer_properties=()), 'Missing required argument "[authorizer-properties]"'),
    (dict(bootstrap_server="b:9092"), "--authorizer-properties option can only be used with "
                                      "--authorizer option"),
    (dict(command_config="c.properties"), "--command-config option can only be used with "
                                          "--bootstrap-server"),
    (dict(actions=("list",), producer=True), 'Option "[list]" can\'t be used with option '
                                             '"[producer]"'),
    (dict(actions=("list",), allow_principals=("User:a",)), '"[allow-principal]"'),
    (dict(producer=True, topics=("t",), operation_given=True),
     'Option "[producer]" can\'t be used with option "[operation]"'),
    (dict(consumer=True, topics=("t",), groups=("g",), deny_principals=("User:x",)),
     'Option "[consumer]" can\'t be used with option "[deny-principal]"'),
    (dict(list_principals=("User:a",)), "The --principal option is only available if --list"),
    (dict(producer=True), "With --producer you must specify a --topic"),
    (dict(idempotent=True, topics=("t",)), "The --idempotent option is only available if "
                                           "--producer is set"),
    (dict(consumer=True, topics=("t",)), "With --consumer you must specify a --topic and a "
                                         "--group"),
    (dict(consumer=True, topics=("t",), groups=("g",), cluster=True), "no --cluster"),
])
def test_argument_rules(kw, message):
    with pytest.raises(CommandError) as e:
        check(**kw)
    assert message in str(e.value)


def test_valid_combinations_pass():
    check(topics=("t",), allow_principals=("User:a",))
    check(actions=("list",), list_principals=("User:a",))
    check(producer=True, consumer=True, topics=("t",), groups=("g",), transactional_ids=("x",),
          allow_principals=("User:a",))
    check(bootstrap_server="b:9092", command_config="c.properties", actions=("remove",),
          authorizer_properties=())


def test_resources_and_entries():
    opts = AclOptions(action="add", topics=("t", " u "), groups=("g",), cluster=True,
                      transactional_ids=("x",), delegation_tokens=("d",),
                      allow_principals=("User:alice", "User:bob"), allow_hosts=("h1",),
                      deny_principals=("User:eve",), operations=("Read", "WRITE"))
    assert [(f.resource_type.name, f.name) for f in resource_filters(opts)] == [
        ("TOPIC", "t"), ("TOPIC", "u"), ("CLUSTER", "kafka-cluster"), ("GROUP", "g"),
        ("TRANSACTIONAL_ID", "x"), ("DELEGATION_TOKEN", "d")]
    with pytest.raises(CommandError, match="ResourceType CLUSTER only supports operations "
                                           "ALL,CREATE,ALTER,DESCRIBE,CLUSTER_ACTION"):
        filter_to_acls(opts)     # Read means nothing on the cluster
    opts = AclOptions(action="add", topics=("t",), allow_principals=("User:alice",),
                      allow_hosts=("h1",), deny_principals=("User:eve",),
                      operations=("Read", "write"))
    (f, acls), = filter_to_acls(opts).items()
    assert acls == {entry("User:alice", O.READ, host="h1"), entry("User:alice", O.WRITE,
                                                                  host="h1"),
                    entry("User:eve", O.READ, P.DENY), entry("User:eve", O.WRITE, P.DENY)}
    opts = AclOptions(action="add", topics=("t",), allow_principals=("alice",))
    with pytest.raises(CommandError, match="principalType:principalName"):
        filter_to_acls(opts)
    # the cluster filter only exists for literal patterns
    opts = AclOptions(action="list", cluster=True, pattern_type=T.PREFIXED)
    assert resource_filters(opts, required=False) == []
    with pytest.raises(CommandError, match="You must provide at least one resource"):
        resource_filters(AclOptions(action="add"))


def test_producer_and_consumer_shortcuts():
    opts = AclOptions(action="add", producer=True, consumer=True, idempotent=True,
                      topics=("t",), groups=("g",), transactional_ids=("x",),
                      allow_principals=("User:app",))
    got = {(f.resource_type.name, f.name): {a.operation.name for a in acls}
           for f, acls in filter_to_acls(opts).items()}
    assert got == {("TOPIC", "t"): {"WRITE", "DESCRIBE", "CREATE", "READ"},
                   ("TRANSACTIONAL_ID", "x"): {"WRITE", "DESCRIBE"},
                   ("CLUSTER", "kafka-cluster"): {"IDEMPOTENT_WRITE"},
                   ("GROUP", "g"): {"READ"}}


def test_add_needs_a_specific_pattern_and_a_principal():
    with pytest.raises(CommandError, match="A '--resource-pattern-type' value of 'MATCH' is "
                                           "not valid when adding acls."):
        resource_to_acls(AclOptions(action="add", topics=("t",), pattern_type=T.MATCH,
                                    allow_principals=("User:a",)))
    with pytest.raises(CommandError, match="You must specify one of: --allow-principal, "
                                           "--deny-principal when trying to add ACLs."):
        resource_to_acls(AclOptions(action="add", topics=("t",)))
    assert cli.parse_pattern_type("Prefixed") is T.PREFIXED
    with pytest.raises(CommandError, match="Unknown resource-pattern-type: fuzzy"):
        cli.parse_pattern_type("fuzzy")


def test_output_is_kafkas():
    pattern = ResourcePattern(R.TOPIC, "t")
    acls = [entry("User:b", O.WRITE), entry("User:a", O.READ)]
    assert format_adding(pattern, acls) == (
        "Adding ACLs for resource `ResourcePattern(resourceType=TOPIC, name=t, "
        "patternType=LITERAL)`: \n"
        " \t(principal=User:a, host=*, operation=READ, permissionType=ALLOW)\n"
        "\t(principal=User:b, host=*, operation=WRITE, permissionType=ALLOW) \n")
    assert format_current(pattern, acls[:1]).startswith("Current ACLs for resource `")
    f = ResourcePatternFilter(R.GROUP, "g", T.ANY)
    assert format_remove_prompt(f, []) == (
        "Are you sure you want to delete all ACLs for resource filter `ResourcePattern("
        "resourceType=GROUP, name=g, patternType=ANY)`? (y/n)")
    assert format_remove_prompt(f, acls[:1]) == (
        "Are you sure you want to remove ACLs: \n \t(principal=User:b, host=*, "
        "operation=WRITE, permissionType=ALLOW) \n from resource filter `ResourcePattern("
        "resourceType=GROUP, name=g, patternType=ANY)`? (y/n)")


# -- the commands over an in-memory ZooKeeper ----------------------------------------------

@pytest.fixture
def zk_backend():
    store = FakeZk()
    service = AclAuthorizerService(Authorizer())
    trio.run(service.start, KafkaZk(store))
    return store, cli._ZkBackend(service)


def test_add_list_remove(zk_backend, capsys, monkeypatch):
    store, backend = zk_backend
    add = AclOptions(action="add", topics=("t",), allow_principals=("User:alice",),
                     operations=("Read",))
    trio.run(cli.add_acls, backend, add)
    out = capsys.readouterr().out
    header = "ResourcePattern(resourceType=TOPIC, name=t, patternType=LITERAL)"
    line = "(principal=User:alice, host=*, operation=READ, permissionType=ALLOW)"
    assert out == (f"Adding ACLs for resource `{header}`: \n \t{line} \n\n"
                   f"Current ACLs for resource `{header}`: \n \t{line} \n\n")
    assert store.data("/kafka-acl/Topic/t") == (
        b'{"version":1,"acls":[{"principal":"User:alice","permissionType":"Allow",'
        b'"operation":"Read","host":"*"}]}')
    trio.run(cli.add_acls, backend, AclOptions(
        action="add", producer=True, topics=("pre",), pattern_type=T.PREFIXED,
        allow_principals=("User:bob",)))
    capsys.readouterr()

    trio.run(cli.list_acls, backend, AclOptions(action="list"))
    out = capsys.readouterr().out
    assert out.index("name=t, patternType=LITERAL") < out.index("name=pre, patternType=PREFIXED")
    trio.run(cli.list_acls, backend, AclOptions(action="list", topics=("pre-x",),
                                                pattern_type=T.MATCH,
                                                list_principals=("User:alice", "User:bob")))
    out = capsys.readouterr().out
    assert out.startswith("ACLs for principal `User:alice`\nACLs for principal `User:bob`\n"
                          "Current ACLs for resource `ResourcePattern(resourceType=TOPIC, "
                          "name=pre, patternType=PREFIXED)`:")

    # --remove asks first; "n" keeps everything
    monkeypatch.setattr("sys.stdin", io.StringIO("n\n"))
    remove = AclOptions(action="remove", topics=("t",))
    trio.run(cli.remove_acls, backend, remove)
    assert capsys.readouterr().out.startswith(
        f"Are you sure you want to delete all ACLs for resource filter `{header}`? (y/n)\n")
    assert "/kafka-acl/Topic/t" in store.nodes
    monkeypatch.setattr("sys.stdin", io.StringIO("y\n"))
    trio.run(cli.remove_acls, backend, remove)
    assert "/kafka-acl/Topic/t" not in store.nodes
    trio.run(cli.remove_acls, backend, AclOptions(
        action="remove", force=True, topics=("pre",), pattern_type=T.PREFIXED,
        allow_principals=("User:bob",), operations=("Create",)))
    left = {a.operation for b in backend.service.acls(
        cli.AclBindingFilter(ResourcePatternFilter(R.ANY, None, T.ANY), cli._ANY_ENTRY))
        for a in [b.entry]}
    assert left == {O.WRITE, O.DESCRIBE}


def test_command_line_usage_errors_exit_1():
    runner = CliRunner()
    r = runner.invoke(cli.kafka_acls, ["--list"])
    assert r.exit_code == 1 and 'Missing required argument "[authorizer-properties]"' in r.output
    r = runner.invoke(cli.kafka_acls, ["--authorizer-properties", "zookeeper.connect=z:1",
                                       "--add", "--topic", "t"])
    assert r.exit_code == 1 and "You must specify one of: --allow-principal" in r.output
    r = runner.invoke(cli.kafka_acls, ["--authorizer-properties", "x=y", "--list"])
    assert r.exit_code == 1 and 'Missing required configuration "zookeeper.connect"' in r.output
    r = runner.invoke(cli.kafka_acls, ["--bootstrap-server", "b:1", "--authorizer", "x.Y",
                                       "--list"])
    assert r.exit_code == 1 and "Only one of --bootstrap-server or --authorizer" in r.output
    r = runner.invoke(cli.kafka_acls, ["--authorizer", "com.example.Auth",
                                       "--authorizer-properties", "zookeeper.connect=z:1",
                                       "--list"])
    assert r.exit_code == 1 and "com.example.Auth is not supported" in r.output
