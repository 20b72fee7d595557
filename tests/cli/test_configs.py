"""kafka-configs.sh: argument parsing and Kafka's output formats (no broker; the users tests
run the ZooKeeper path over the in-memory ZooKeeper of the config manager tests)."""

from __future__ import annotations

import json

import attrs
import pytest
import trio
from click.testing import CliRunner

from kafkalite import errors
from kafkalite.cli import configs as configs_cli
from kafkalite.cli.configs import (
    CommandError, Entity, Options, _entity, _merge, alter_message, describe_header,
    format_entries, format_scram_describe, format_zk_describe, kafka_configs, parse_add_config,
    parse_delete_config, scram_alterations, zk_scram_credentials)
from kafkalite.client.admin import (
    ScramCredentialInfo, UserScramCredentialDeletion, UserScramCredentialUpsertion)
from kafkalite.security.scram import format_credential, make_credential, parse_credential


def test_add_config_splits_like_kafka():
    assert parse_add_config("retention.ms=1000") == {"retention.ms": "1000"}
    assert parse_add_config("a=1, b = 2 ,c=") == {"a": "1", "b": "2", "c": ""}
    # square brackets group values that contain commas; the brackets are dropped
    assert parse_add_config("cleanup.policy=[compact,delete],retention.ms=5") == {
        "cleanup.policy": "compact,delete", "retention.ms": "5"}
    assert parse_add_config("k=[a,b,c]") == {"k": "a,b,c"}
    assert parse_add_config("a=1,") == {"a": "1"}       # Java's split drops a trailing empty
    for bad in ("retention.ms", "a=1,b", "a=b=c", ",a=1"):
        with pytest.raises(CommandError, match="must be in the format \"key=val\""):
            parse_add_config(bad)


def test_delete_config_accepts_lists_and_repeats():
    assert parse_delete_config(["a,b", " c "]) == ["a", "b", "c"]
    assert parse_delete_config([]) == []


def test_entity_labels_and_messages():
    topic, broker, default = Entity("topics", "foo"), Entity("brokers", "0"), \
        Entity("brokers", "<default>")
    assert topic.zk_label() == "topic 'foo'"
    assert broker.zk_label() == "brokers '0'"
    assert default.zk_label() == "default brokers"
    assert format_zk_describe(topic, {"retention.ms": "1000", "cleanup.policy": "compact"}) == \
        "Configs for topic 'foo' are retention.ms=1000,cleanup.policy=compact"
    assert format_zk_describe(topic, {}) == "Configs for topic 'foo' are "
    assert alter_message(topic, zookeeper=True) == \
        "Completed Updating config for entity: topic 'foo'."
    assert alter_message(default, zookeeper=True) == \
        "Completed Updating config for entity: default brokers."
    assert alter_message(topic, zookeeper=False) == "Completed updating config for topic foo."
    assert alter_message(broker, zookeeper=False) == "Completed updating config for broker 0."
    assert alter_message(default, zookeeper=False) == \
        "Completed updating default config for brokers in the cluster."
    assert describe_header(topic, False) == "Dynamic configs for topic foo are:"
    assert describe_header(topic, True) == "All configs for topic foo are:"
    assert describe_header(broker, False) == "Dynamic configs for broker 0 are:"
    assert describe_header(default, False) == "Default configs for brokers in the cluster are:"


@attrs.frozen
class _Synonym:
    name: str
    value: str | None
    source: int


@attrs.frozen
class _Entry:
    name: str
    value: str | None
    is_sensitive: bool
    synonyms: tuple


def test_entries_format_with_synonyms():
    entries = [
        _Entry("retention.ms", "1000", False, (_Synonym("retention.ms", "1000", 1),)),
        _Entry("segment.ms", "5", False, (_Synonym("segment.ms", "5", 1),
                                          _Synonym("log.roll.hours", "1", 4))),
        _Entry("secret", None, True, ()),
    ]
    assert format_entries(entries) == [
        "  retention.ms=1000 sensitive=false synonyms={DYNAMIC_TOPIC_CONFIG:retention.ms=1000}",
        "  segment.ms=5 sensitive=false synonyms={DYNAMIC_TOPIC_CONFIG:segment.ms=5, "
        "STATIC_BROKER_CONFIG:log.roll.hours=1}",
        "  secret=null sensitive=true synonyms={}",
    ]


def test_entity_checks():
    assert _entity(["topics"], ["foo"], False, "describe", zookeeper=True) == \
        Entity("topics", "foo")
    assert _entity(["topics"], [], False, "describe", zookeeper=True) == Entity("topics", None)
    assert _entity(["brokers"], [], True, "alter", zookeeper=False) == \
        Entity("brokers", "<default>")
    cases = [
        ((["topics"], [], False, "alter"), "an entity name must be specified with --alter"),
        ((["brokers"], [], False, "alter"), "an entity-name or default entity must be"),
        ((["brokers"], ["x"], False, "describe"), "must be a valid integer broker id"),
        ((["clients"], ["c"], False, "describe"), "Invalid entity type clients, the entity "
                                                   "type must be one of topics,users,brokers"),
        ((["users", "clients"], ["u"], False, "describe"), "Invalid entity type clients"),
        (([], [], False, "describe"), "At least one entity type must be specified"),
        ((["topics", "topics"], ["a"], False, "describe"), "Duplicate entity type"),
        ((["topics"], ["a b"], False, "describe"), "is illegal, it contains a character"),
        ((["topics"], [], True, "describe"), "--entity-default is not supported for topics"),
    ]
    for args, message in cases:
        with pytest.raises(CommandError, match=message):
            _entity(*args, zookeeper=False)


def test_merge_adds_deletes_and_refuses_unknown_deletions():
    opts = Options(action="alter", entity=Entity("topics", "t"), add={"a": "2", "c": "3"},
                   delete=["b"])
    assert _merge({"a": "1", "b": "x"}, opts) == {"a": "2", "c": "3"}
    with pytest.raises(errors.InvalidConfig, match=r"Invalid config\(s\): b"):
        _merge({"a": "1"}, opts)


def test_command_line_errors_are_one_line():
    runner = CliRunner()
    r = runner.invoke(kafka_configs, ["--zookeeper", "x:1", "--entity-type", "topics"])
    assert r.exit_code == 2 and "exactly one action" in r.output
    r = runner.invoke(kafka_configs, ["--entity-type", "topics", "--describe"])
    assert r.exit_code == 1 and "One of the required --bootstrap-server or --zookeeper" in \
        r.output
    r = runner.invoke(kafka_configs, ["--zookeeper", "x:1", "--bootstrap-server", "y:2",
                                      "--entity-type", "topics", "--describe"])
    assert r.exit_code == 1 and "Only one of --bootstrap-server or --zookeeper" in r.output
    r = runner.invoke(kafka_configs, ["--zookeeper", "x:1", "--entity-type", "topics",
                                      "--entity-name", "t", "--alter"])
    assert r.exit_code == 1 and "At least one of --add-config" in r.output
    r = runner.invoke(kafka_configs, ["--zookeeper", "x:1", "--topic", "t", "--describe",
                                      "--all"])
    assert r.exit_code == 1 and "--bootstrap-server must be specified for --all" in r.output
    r = runner.invoke(kafka_configs, ["--zookeeper", "x:1", "--topic", "t", "--entity-type",
                                      "topics", "--describe"])
    assert r.exit_code == 1 and "should not be used in conjunction" in r.output


# -- users: SCRAM credentials --------------------------------------------------------------------

SALT = b"fixed-salt-for-tests"


def test_user_entities_labels_and_messages():
    alice, odd, default = Entity("users", "alice"), Entity("users", "bob@x.com"), \
        Entity("users", "<default>")
    assert alice.zk_label() == "user-principal 'alice'"
    assert odd.zk_label() == "user-principal 'bob@x.com'" and odd.zk_name() == "bob%40x.com"
    assert default.zk_label() == "default user-principal" and default.zk_name() == "<default>"
    assert alter_message(alice, zookeeper=False) == "Completed updating config for user alice."
    assert alter_message(alice, zookeeper=True) == \
        "Completed Updating config for entity: user-principal 'alice'."
    assert _entity(["users"], [], True, "alter", zookeeper=True) == default
    assert _entity(["users"], ["a b"], False, "alter", zookeeper=False) == Entity("users", "a b")
    with pytest.raises(CommandError, match="an entity-name or default entity must be specified"):
        _entity(["users"], [], False, "alter", zookeeper=True)


def test_zookeeper_scram_values_become_kafka_credentials():
    out = zk_scram_credentials({"SCRAM-SHA-256": "iterations=8192,password=alice-secret",
                                "SCRAM-SHA-512": "password=p,w=x", "producer_byte_rate": "9"},
                               salt=SALT)
    assert out["producer_byte_rate"] == "9"
    assert out["SCRAM-SHA-256"] == format_credential(
        make_credential("SCRAM-SHA-256", "alice-secret", salt=SALT, iterations=8192))
    assert parse_credential(out["SCRAM-SHA-512"]) == make_credential(
        "SCRAM-SHA-512", "p,w=x", salt=SALT, iterations=4096)
    # without a given salt every credential gets a fresh random one
    a, b = (zk_scram_credentials({"SCRAM-SHA-256": "password=x"})["SCRAM-SHA-256"]
            for _ in range(2))
    assert parse_credential(a).salt != parse_credential(b).salt
    with pytest.raises(CommandError, match="^Invalid credential property SCRAM_SHA_256=pw$"):
        zk_scram_credentials({"SCRAM-SHA-256": "pw"})
    with pytest.raises(CommandError, match="^Iterations 100 is less than the minimum 4096 "
                                           "required for SCRAM_SHA_512$"):
        zk_scram_credentials({"SCRAM-SHA-512": "iterations=100,password=x"})


def test_bootstrap_scram_alterations():
    assert scram_alterations("alice", {"SCRAM-SHA-256": "iterations=8192,password=s1",
                                       "SCRAM-SHA-512": "iterations=-1,password=s2"},
                             ["SCRAM-SHA-512"]) == [
        UserScramCredentialDeletion(user="alice", mechanism="SCRAM-SHA-512"),
        UserScramCredentialUpsertion(user="alice", mechanism="SCRAM-SHA-256", password="s1",
                                     iterations=8192),
        UserScramCredentialUpsertion(user="alice", mechanism="SCRAM-SHA-512", password="s2",
                                     iterations=4096)]
    cases = [
        (("alice", {"nope": "1"}, []), r"Only quota and SCRAM credential configs can be added "
                                       r"for 'users' using --bootstrap-server\. Unexpected "
                                       r"config names: Set\(nope\)"),
        (("alice", {}, ["nope"]), "can be deleted for 'users'"),
        (("<default>", {"SCRAM-SHA-256": "password=x"}, []),
         "--entity-default or --user-defaults is not allowed with User SCRAM Credentials"),
        (("alice", {"SCRAM-SHA-256": "password=x"}, ["producer_byte_rate"]),
         "Cannot alter both quota and SCRAM credential configs simultaneously"),
        (("alice", {"producer_byte_rate": "1"}, []), "does not implement AlterClientQuotas"),
        (("alice", {"SCRAM-SHA-256": "iterations=,password=x"}, []),
         "Invalid credential property SCRAM_SHA_256="),
        (("alice", {"SCRAM-SHA-256": "iterations=10,password=x"}, []),
         "Iterations 10 is less than the minimum 4096 required for SCRAM-SHA-256"),
    ]
    for args, message in cases:
        with pytest.raises(CommandError, match=message):
            scram_alterations(*args)


def test_scram_describe_line():
    assert format_scram_describe("alice", [ScramCredentialInfo("SCRAM-SHA-256", 8192),
                                           ScramCredentialInfo("SCRAM-SHA-512", 4096)]) == \
        "SCRAM credential configs for user-principal 'alice' are " \
        "SCRAM-SHA-256=iterations=8192, SCRAM-SHA-512=iterations=4096"


def _run_zk(monkeypatch, session, *args):
    """kafka-configs --zookeeper with the in-memory ZooKeeper of the config manager tests."""
    from kafkalite.zk.kafka_zk import KafkaZk

    async def with_zk(_connect, fn, _zk_tls_config_file=None):
        return await fn(KafkaZk(session))

    monkeypatch.setattr(configs_cli, "_with_zk", with_zk)
    return CliRunner().invoke(kafka_configs, ["--zookeeper", "zk:2181", *args])


def test_users_through_zookeeper(monkeypatch):
    from tests.server.test_config_manager import FakeSession

    session = FakeSession()
    r = _run_zk(monkeypatch, session, "--entity-type", "users", "--entity-name", "alice",
                "--alter", "--add-config",
                "SCRAM-SHA-256=[iterations=8192,password=alice-secret],"
                "SCRAM-SHA-512=[password=alice-secret]")
    assert r.exit_code == 0, r.output
    assert r.stdout == "Completed Updating config for entity: user-principal 'alice'.\n"
    stored = json.loads(session.nodes["/config/users/alice"][0])["config"]
    assert sorted(stored) == ["SCRAM-SHA-256", "SCRAM-SHA-512"]
    assert parse_credential(stored["SCRAM-SHA-256"]).iterations == 8192
    note = session.children("/config/changes")
    assert json.loads(session.nodes[f"/config/changes/{note[-1]}"][0]) == {
        "version": 2, "entity_path": "users/alice"}

    r = _run_zk(monkeypatch, session, "--user", "alice", "--describe")
    assert r.stdout == (f"Configs for user-principal 'alice' are SCRAM-SHA-256="
                        f"{stored['SCRAM-SHA-256']},SCRAM-SHA-512={stored['SCRAM-SHA-512']}\n")

    r = _run_zk(monkeypatch, session, "--user", "alice", "--alter",
                "--delete-config", "SCRAM-SHA-512")
    assert r.exit_code == 0, r.output
    assert list(json.loads(session.nodes["/config/users/alice"][0])["config"]) == \
        ["SCRAM-SHA-256"]

    r = _run_zk(monkeypatch, session, "--user", "alice", "--alter",
                "--delete-config", "SCRAM-SHA-512")
    assert r.exit_code == 1 and "Invalid config(s): SCRAM-SHA-512" in r.output
    r = _run_zk(monkeypatch, session, "--user", "alice", "--alter", "--add-config", "nope=1")
    assert r.exit_code == 1 and \
        "requirement failed: Unknown Dynamic Configuration: Set(nope)." in r.output
    r = _run_zk(monkeypatch, session, "--user", "alice", "--alter", "--add-config",
                "SCRAM-SHA-256=[iterations=1,password=x]")
    assert r.exit_code == 1 and "Iterations 1 is less than the minimum 4096" in r.output

    # all users: sanitized names shown as given, nodes without configs skipped
    _run_zk(monkeypatch, session, "--user", "bob@x.com", "--alter", "--add-config",
            "SCRAM-SHA-512=[password=b]")
    _run_zk(monkeypatch, session, "--user-defaults", "--alter", "--add-config",
            "producer_byte_rate=1024")
    session.nodes["/config/users/empty"] = (b'{"version":1,"config":{}}', 0, 0)
    assert "/config/users/bob%40x.com" in session.nodes
    r = _run_zk(monkeypatch, session, "--entity-type", "users", "--describe")
    lines = r.stdout.splitlines()
    assert [line.split(" are ")[0] for line in lines] == [
        "Configs for default user-principal", "Configs for user-principal 'alice'",
        "Configs for user-principal 'bob@x.com'"]
    assert lines[0] == "Configs for default user-principal are producer_byte_rate=1024"


class _FakeAdmin:
    def __init__(self, described=None, altered=None):
        self.described, self.altered, self.calls = described or {}, altered or {}, []

    async def describe_user_scram_credentials(self, users):
        self.calls.append(("describe", list(users)))
        return self.described

    async def alter_user_scram_credentials(self, alterations):
        self.calls.append(("alter", list(alterations)))
        return self.altered


def test_users_through_bootstrap(capsys):
    admin = _FakeAdmin(described={
        "alice": (ScramCredentialInfo("SCRAM-SHA-256", 8192),),
        "ghost": errors.ResourceNotFound("Attempt to describe a user credential that does not "
                                         "exist: ghost"),
        "broken": errors.UnknownServerError("bad data")})
    opts = Options(action="describe", entity=Entity("users", None), add={}, delete=[])
    trio.run(configs_cli._admin_users, admin, opts)
    assert capsys.readouterr().out.splitlines() == [
        "SCRAM credential configs for user-principal 'alice' are SCRAM-SHA-256=iterations=8192",
        "Error retrieving SCRAM credential configs for user-principal 'broken': "
        "UNKNOWN_SERVER_ERROR: bad data"]
    assert admin.calls == [("describe", [])]

    admin = _FakeAdmin(altered={"alice": None})
    opts = Options(action="alter", entity=Entity("users", "alice"),
                   add={"SCRAM-SHA-512": "password=x"}, delete=[])
    trio.run(configs_cli._admin_users, admin, opts)
    assert capsys.readouterr().out == "Completed updating config for user alice.\n"
    assert admin.calls[0][1][0].mechanism == "SCRAM-SHA-512"

    admin = _FakeAdmin(altered={"alice": errors.ResourceNotFound("Attempt to delete a user "
                                                                 "credential that does not "
                                                                 "exist")})
    opts = Options(action="alter", entity=Entity("users", "alice"), add={},
                   delete=["SCRAM-SHA-256"])
    with pytest.raises(errors.ResourceNotFound):
        trio.run(configs_cli._admin_users, admin, opts)
