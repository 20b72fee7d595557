"""kafka-configs.sh: argument parsing and Kafka's output formats (pure, no broker)."""

from __future__ import annotations

import attrs
import pytest
from click.testing import CliRunner

from kafkalite import errors
from kafkalite.cli.configs import (
    CommandError, Entity, Options, _entity, _merge, alter_message, describe_header,
    format_entries, format_zk_describe, kafka_configs, parse_add_config, parse_delete_config)


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
        ((["users"], ["u"], False, "describe"), "Invalid entity type users"),
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
