"""Dynamic configs without sockets: Kafka's config rules, the change-notification listener and
the AlterConfigs / IncrementalAlterConfigs / DescribeConfigs / DescribeLogDirs handlers, over
an in-memory ZooKeeper and a real broker object with real logs in a temp dir."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import trio

from kafkalite import errors
from kafkalite.config import parse_server_config
from kafkalite.protocol.header import RequestHeader
from kafkalite.protocol.messages.alter_configs import (
    AlterableConfig, AlterConfigsRequest, AlterConfigsResource)
from kafkalite.protocol.messages.describe_configs import (
    DescribeConfigsRequest, DescribeConfigsResource)
from kafkalite.protocol.messages.describe_log_dirs import (
    DescribableLogDirTopic, DescribeLogDirsRequest)
from kafkalite.protocol.messages import incremental_alter_configs as iac
from kafkalite.server.broker import Broker
from kafkalite.config_names import KAFKA_BROKER_CONFIGS, LISTENER_PREFIX_ONLY, PER_BROKER
from kafkalite.server.config_manager import (
    ConfigManager, ConfigSource, check_broker_passwords, effective_broker_values,
    notifications_to_process, notifications_to_purge, persistent_broker_config,
    split_entity_path, validate_broker_config, validate_topic_config)
from kafkalite.server.dispatch import RequestContext
from kafkalite.server.handlers.alter_configs import handle_alter_configs
from kafkalite.server.handlers.describe_configs import handle_describe_configs
from kafkalite.server.handlers.describe_log_dirs import handle_describe_log_dirs
from kafkalite.server.handlers.incremental_alter_configs import (
    APPEND, DELETE, SET, SUBTRACT, apply_operations, handle_incremental_alter_configs)
from kafkalite.storage.manager import LogManager
from kafkalite.zk.kafka_zk import KafkaZk
from tests.security.fake_zk import FakeZk

NOW = 1_700_000_000_000


# -- the rules -------------------------------------------------------------------------------

def test_topic_config_rules_and_messages():
    assert validate_topic_config({"retention.ms": " 1000 ", "cleanup.policy": "compact, delete",
                                  "preallocate": "TRUE"}) == {
        "retention.ms": "1000", "cleanup.policy": "compact, delete", "preallocate": "TRUE"}
    bad = {
        ("retention.ms", "abc"): "Invalid value abc for configuration retention.ms: Not a "
                                 "number of type LONG",
        ("segment.bytes", "3000000000"): "Not a number of type INT",
        ("segment.bytes", "13"): "Invalid value 13 for configuration segment.bytes: Value must "
                                 "be at least 14",
        ("retention.ms", "-2"): "Value must be at least -1",
        ("min.cleanable.dirty.ratio", "1.5"): "Value must be no more than 1",
        ("cleanup.policy", "compact,shred"): "String must be one of: compact, delete",
        ("compression.type", "brotli"): "String must be one of: uncompressed, zstd, lz4, "
                                        "snappy, gzip, producer",
        ("preallocate", "yes"): "Expected value to be either true or false",
        ("nope", "1"): "Unknown topic config name: nope",
        ("segment.index.bytes", "4"): "segment.index.bytes must be at least 12",
    }
    for (name, value), message in bad.items():
        with pytest.raises(errors.InvalidConfig, match=message.replace(".", r"\.")):
            validate_topic_config({name: value})
    with pytest.raises(errors.InvalidConfig, match="conflict topic config setting"):
        validate_topic_config({"min.compaction.lag.ms": "10", "max.compaction.lag.ms": "5"})


def test_broker_config_rules():
    assert validate_broker_config({"log.retention.ms": "5000", "num.io.threads": "4"}) == {
        "log.retention.ms": "5000", "num.io.threads": "4"}
    # Kafka 2.8 refuses static names with a ConfigException: INVALID_REQUEST, not INVALID_CONFIG
    with pytest.raises(errors.InvalidRequest, match=r"Cannot update these configs dynamically: "
                                                    r"Set\(broker.id, log.dirs\)"):
        validate_broker_config({"broker.id": "1", "log.dirs": "/x"})
    with pytest.raises(errors.InvalidRequest, match="Not a number of type INT"):
        validate_broker_config({"message.max.bytes": "big"})
    # a name Kafka does not know is a custom config, stored as given
    assert validate_broker_config({"whatever": " 1 "}) == {"whatever": "1"}


@pytest.mark.parametrize("name,value", [
    (n, "60000" if c.type in ("INT", "LONG", "SHORT") else "1.0" if c.type == "DOUBLE"
     else "true" if c.type == "BOOLEAN" else c.one_of[0] if c.one_of else "x")
    for n, c in sorted(KAFKA_BROKER_CONFIGS.items())
    if c.mode == PER_BROKER and n not in LISTENER_PREFIX_ONLY and c.type != "PASSWORD"])
def test_every_per_broker_config_is_accepted_per_broker_only(name, value):
    value = {"sasl.login.refresh.buffer.seconds": "300", "sasl.login.refresh.min.period.seconds":
             "60", "sasl.login.refresh.window.factor": "0.8",
             "sasl.kerberos.ticket.renew.jitter": "0.05"}.get(name, value)
    assert validate_broker_config({name: value}) == {name: value}
    with pytest.raises(errors.InvalidRequest, match="Cannot update these configs at default "
                                                    "cluster level, broker id must be specified"):
        validate_broker_config({name: value}, per_broker=False)


def test_dynamic_broker_config_names_follow_kafka_28():
    dynamic = {n for n, c in KAFKA_BROKER_CONFIGS.items() if c.mode != "read-only"}
    assert {"sasl.kerberos.min.time.before.relogin", "listeners", "advertised.listeners",
            "log.cleaner.threads", "num.io.threads", "max.connections.per.ip",
            "metric.reporters", "ssl.keystore.location"} <= dynamic
    assert not dynamic & {"broker.id", "log.dirs", "zookeeper.connect", "log.retention.hours",
                          "log.roll.hours", "num.partitions", "inter.broker.protocol.version"}
    assert len(KAFKA_BROKER_CONFIGS) == 232  # KafkaConfig's ConfigDef in 2.8.0
    for name in sorted(KAFKA_BROKER_CONFIGS):  # every static name is refused
        if name not in dynamic:
            with pytest.raises(errors.InvalidRequest, match="dynamically"):
                validate_broker_config({name: "1"})


def test_listener_prefixed_and_security_configs():
    with pytest.raises(errors.InvalidRequest, match=r"only per-listener using the listener "
                                                    r"prefix: Set\(ssl.keystore.location\)"):
        validate_broker_config({"ssl.keystore.location": "/ks.jks"})
    prefixed = {"listener.name.internal.ssl.keystore.location": "/ks.jks",
                "listener.name.internal.ssl.keystore.type": "PKCS12"}
    assert validate_broker_config(prefixed) == prefixed
    with pytest.raises(errors.InvalidRequest, match="at default cluster level"):
        validate_broker_config(prefixed, per_broker=False)
    # max.connections is a cluster-level listener config
    assert validate_broker_config({"listener.name.internal.max.connections": "10"},
                                  per_broker=False)
    with pytest.raises(errors.InvalidRequest, match="Invalid value x for configuration "
                                                    "max.connections: Not a number of type INT"):
        validate_broker_config({"listener.name.internal.max.connections": "x"})
    with pytest.raises(errors.InvalidRequest, match="Password encoder secret not configured"):
        check_broker_passwords({"listener.name.internal.ssl.keystore.password": "p"}, {})
    check_broker_passwords(prefixed, {})


def test_persisted_broker_config_drops_what_kafka_ignores():
    kept, messages = persistent_broker_config(
        {"broker.id": "3", "ssl.truststore.location": "/t", "sasl.kerberos.service.name": "k",
         "log.cleaner.threads": "2", "custom": "1"}, per_broker=False)
    assert kept == {"log.cleaner.threads": "2", "custom": "1"}
    assert messages == [
        "Non-dynamic configs configured in ZooKeeper will be ignored: Set(broker.id)",
        "Security configs can be dynamically updated only using listener prefix, base configs "
        "will be ignored: Set(ssl.truststore.location)",
        "Per-broker configs defined at default cluster level will be ignored: "
        "Set(sasl.kerberos.service.name)"]


def test_effective_broker_values_layering():
    static = {"message.max.bytes": 100, "log.retention.ms": None}
    values = effective_broker_values(static, {"message.max.bytes": "200",
                                              "log.retention.ms": "5"},
                                     {"message.max.bytes": "300", "log.retention.ms": "x"})
    assert values["message.max.bytes"] == 300
    assert values["log.retention.ms"] == 5     # the invalid per-broker value is ignored


def test_notification_bookkeeping():
    children = ["config_change_0000000003", "config_change_0000000001", "junk",
                "config_change_0000000002"]
    assert notifications_to_process(children, 1) == [(2, "config_change_0000000002"),
                                                     (3, "config_change_0000000003")]
    assert notifications_to_process(children, 3) == []
    fifteen_minutes = 15 * 60 * 1000
    assert notifications_to_purge({"a": NOW - fifteen_minutes - 1, "b": NOW - fifteen_minutes,
                                   "c": NOW}, NOW) == ["a"]
    assert split_entity_path("topics/foo") == ("topics", "foo")
    assert split_entity_path("users/a/clients/b") == ("users", "a/clients/b")
    with pytest.raises(ValueError):
        split_entity_path("topics")


def test_incremental_operations():
    current = {"retention.ms": "5", "segment.ms": "9"}
    new = apply_operations(2, current, [("retention.ms", SET, "7"), ("segment.ms", DELETE, None),
                                        ("cleanup.policy", APPEND, "compact")])
    assert new == {"retention.ms": "7", "cleanup.policy": "delete,compact"}
    assert apply_operations(2, new, [("cleanup.policy", SUBTRACT, "delete")])[
        "cleanup.policy"] == "compact"
    assert apply_operations(2, new, [("cleanup.policy", APPEND, "delete")])[
        "cleanup.policy"] == "delete,compact"
    cases = [
        ([("a", SET, "1"), ("a", DELETE, None)], errors.InvalidRequest, "duplicate config keys"),
        ([("retention.ms", SET, None)], errors.InvalidRequest, "SET:retention.ms"),
        ([("retention.ms", APPEND, "1")], errors.InvalidRequest, "append is not allowed"),
        ([("nope", SUBTRACT, "1")], errors.InvalidConfig, "Unknown topic config name"),
        ([("retention.ms", 9, "1")], errors.InvalidRequest, "Unknown config operation"),
    ]
    for ops, error, message in cases:
        with pytest.raises(error, match=message):
            apply_operations(2, current, ops)


# -- an in-memory ZooKeeper and a broker -------------------------------------------------------

class FakeSession(FakeZk):
    """The ZkSession calls KafkaZk and the config manager use, over a dict (the clock at NOW)."""

    def __init__(self):
        super().__init__(now_ms=NOW)


@pytest.fixture
def broker(tmp_path: Path):
    config = parse_server_config({"zookeeper.connect": "x:1", "broker.id": "0",
                                  "log.dirs": f"{tmp_path / 'a'},{tmp_path / 'b'}",
                                  "log.retention.hours": "100"})
    b = Broker(config)
    b.session = FakeSession()
    b.zk = KafkaZk(b.session)
    b.log_manager = LogManager([tmp_path / "a", tmp_path / "b"], b.log_config(""),
                               config_for_topic=b.log_config)
    return b


def _ctx(broker, api_key, version):
    return RequestContext(broker, RequestHeader(api_key, version, 1, "test"), None)


async def _create_topic(broker, name, config=None, partitions=1):
    await broker.zk.create_topic(name, {p: [0] for p in range(partitions)}, config or {})
    for p in range(partitions):
        broker.log_manager.get_or_create_log(name, p)


def test_listener_applies_changes_written_by_anyone(broker):
    async def main():
        await broker.session.ensure_path("/config/changes")
        await broker.session.ensure_path("/brokers/topics")
        await _create_topic(broker, "t", {"max.message.bytes": "500"})
        manager = ConfigManager(broker, wall_clock_ms=lambda: broker.session.now_ms)
        assert ConfigManager.of(broker) is manager
        # start-up: logs loaded before the overrides were known get them now
        await manager.reload_all()
        log = broker.log_manager.get_log("t", 0)
        assert log.config.max_message_bytes == 500

        # a change by another broker or the tool: config node, then the notification
        await broker.zk.set_topic_config("t", {"max.message.bytes": "700",
                                               "retention.ms": "1000"})
        await manager.process_notifications()
        assert log.config.max_message_bytes == 700 and log.config.retention_ms == 1000
        assert broker.topic_overrides["t"] == {"max.message.bytes": "700", "retention.ms": "1000"}
        assert manager.last_executed_change == 0

        # already applied notifications are not re-read; a new one is
        broker.session.nodes["/config/topics/t"] = [b'{"version":1,"config":{}}', NOW, 9]
        await manager.process_notifications()
        assert log.config.max_message_bytes == 700
        await broker.zk.change_entity_config("topics", "t", {})
        await manager.process_notifications()
        assert log.config.max_message_bytes == 1048588 and "t" not in broker.topic_overrides

        # dynamic broker configs: cluster default, then the per-broker value wins
        await broker.zk.change_entity_config("brokers", "<default>", {"message.max.bytes": "900",
                                                                      "num.io.threads": "2"})
        await broker.zk.change_entity_config("brokers", "1", {"message.max.bytes": "1"})
        await manager.process_notifications()
        assert log.config.max_message_bytes == 900 and broker.config["message.max.bytes"] == 900
        await broker.zk.change_entity_config("brokers", "0", {"message.max.bytes": "800"})
        await manager.process_notifications()
        assert log.config.max_message_bytes == 800
        await broker.zk.change_entity_config("brokers", "0", {})
        await broker.zk.change_entity_config("brokers", "<default>", {})
        await manager.process_notifications()
        assert log.config.max_message_bytes == 1048588
        assert broker.config["message.max.bytes"] == 1048588

        # notifications older than 15 minutes are purged by whoever sees them
        assert len(broker.session.children("/config/changes")) == 7
        broker.session.now_ms = NOW + 15 * 60 * 1000 + 1
        await broker.zk.change_entity_config("topics", "t", {"segment.ms": "60000"})
        await manager.process_notifications()
        assert broker.session.children("/config/changes") == ["config_change_0000000007"]
        assert log.config.segment_ms == 60000

        # topics created straight in ZooKeeper get their overrides; deleted ones are dropped
        await _create_topic(broker, "direct", {"retention.ms": "42"})
        await manager._topics_changed(["direct", "t"])
        assert broker.log_manager.get_log("direct", 0).config.retention_ms == 42
        await manager._topics_changed(["t"])
        assert "direct" not in broker.topic_overrides

    trio.run(main)


def _alter(broker, resources, validate_only=False, version=1):
    request = AlterConfigsRequest(resources=tuple(
        AlterConfigsResource(resource_type=t, resource_name=n, configs=tuple(
            AlterableConfig(name=k, value=v) for k, v in c.items()))
        for t, n, c in resources), validate_only=validate_only)
    response = trio.run(handle_alter_configs, _ctx(broker, 33, version), request)
    return [(r.error_code, r.error_message) for r in response.responses]


def _describe(broker, resources, version=4, synonyms=True):
    request = DescribeConfigsRequest(resources=tuple(
        DescribeConfigsResource(resource_type=t, resource_name=n, configuration_keys=keys)
        for t, n, keys in resources), include_synonyms=synonyms, include_documentation=False)
    return trio.run(handle_describe_configs, _ctx(broker, 32, version), request).results


def test_alter_and_describe_handlers(broker):
    trio.run(_create_topic, broker, "t")
    assert _alter(broker, [(2, "t", {"retention.ms": "1000", "segment.ms": "5000"})]) == \
        [(0, None)]
    stored = json.loads(broker.session.nodes["/config/topics/t"][0])
    assert stored == {"version": 1, "config": {"retention.ms": "1000", "segment.ms": "5000"}}
    note = broker.session.children("/config/changes")
    assert note == ["config_change_0000000000"]
    assert json.loads(broker.session.nodes["/config/changes/" + note[0]][0]) == {
        "version": 2, "entity_path": "topics/t"}

    # full replacement; validate_only writes nothing
    assert _alter(broker, [(2, "t", {"segment.ms": "6000"})]) == [(0, None)]
    assert _alter(broker, [(2, "t", {"segment.ms": "1"})], validate_only=True) == [(0, None)]
    assert broker.zk and trio.run(broker.zk.get_topic_config, "t") == {"segment.ms": "6000"}

    results = _alter(broker, [(2, "t", {"retention.ms": "x"}), (2, "missing", {}),
                              (3, "group", {}), (4, "1", {}), (2, "t", {"segment.ms": None}),
                              (4, "", {"log.dirs": "/x"})])
    assert [code for code, _ in results] == [40, 3, 42, 42, 42, 42]
    assert results[0][1] == "Invalid value x for configuration retention.ms: Not a number of " \
                            "type LONG"
    assert results[5][1] == "Invalid config value for resource ConfigResource(type=BROKER, " \
                            "name=''): Cannot update these configs dynamically: Set(log.dirs)"
    assert results[1][1] == "The topic 'missing' does not exist."
    assert results[3][1] == "Unexpected broker id, expected 0, but received 1"

    (result,) = _describe(broker, [(2, "t", None)])
    entries = {c.name: c for c in result.configs}
    assert entries["segment.ms"].value == "6000"
    assert entries["segment.ms"].config_source == ConfigSource.DYNAMIC_TOPIC_CONFIG
    assert [(s.name, s.source) for s in entries["segment.ms"].synonyms] == [
        ("segment.ms", ConfigSource.DYNAMIC_TOPIC_CONFIG)]
    assert entries["retention.ms"].value == str(100 * 3600 * 1000)
    assert entries["retention.ms"].config_source == ConfigSource.STATIC_BROKER_CONFIG
    assert [(s.name, s.value) for s in entries["retention.ms"].synonyms] == [
        ("log.retention.hours", "100")]
    assert entries["cleanup.policy"].config_source == ConfigSource.DEFAULT_CONFIG
    assert entries["cleanup.policy"].config_type == 7     # LIST

    (v0,) = _describe(broker, [(2, "t", ["segment.ms"])], version=0, synonyms=False)
    assert [(c.name, c.is_default) for c in v0.configs] == [("segment.ms", False)]
    missing, bad_broker, bad_type, mine = _describe(
        broker, [(2, "nope", None), (4, "7", None), (3, "g", None), (4, "0", ["broker.id"])])
    assert missing.error_code == 3 and bad_broker.error_code == 42 and bad_type.error_code == 42
    assert [(c.name, c.value, c.read_only) for c in mine.configs] == [("broker.id", "0", True)]


def test_incremental_alter_and_broker_resources(broker):
    trio.run(_create_topic, broker, "t", {"retention.ms": "5"})

    def incremental(resource_type, name, *ops, version=1):
        request = iac.IncrementalAlterConfigsRequest(resources=(iac.AlterConfigsResource(
            resource_type=resource_type, resource_name=name, configs=tuple(
                iac.AlterableConfig(name=k, config_operation=op, value=v) for k, op, v in ops)),),
            validate_only=False)
        response = trio.run(handle_incremental_alter_configs, _ctx(broker, 44, version), request)
        return [(r.error_code, r.error_message) for r in response.responses]

    assert incremental(2, "t", ("cleanup.policy", APPEND, "compact"),
                       ("segment.ms", SET, "7000")) == [(0, None)]
    assert trio.run(broker.zk.get_topic_config, "t") == {
        "retention.ms": "5", "cleanup.policy": "delete,compact", "segment.ms": "7000"}
    assert incremental(2, "t", ("retention.ms", DELETE, None), ("nope", DELETE, None)) == \
        [(0, None)]
    assert incremental(2, "t", ("segment.bytes", SET, "1"))[0][0] == 40
    assert incremental(2, "t", ("segment.ms", APPEND, "1"))[0][0] == 42
    assert incremental(2, "gone", ("segment.ms", SET, "1"))[0][0] == 3

    # broker resources: "" = the cluster default, our id = per broker
    assert incremental(4, "", ("log.retention.ms", SET, "60000")) == [(0, None)]
    assert incremental(4, "0", ("num.io.threads", SET, "2")) == [(0, None)]
    assert json.loads(broker.session.nodes["/config/brokers/<default>"][0])["config"] == {
        "log.retention.ms": "60000"}
    assert json.loads(broker.session.nodes["/config/brokers/0"][0])["config"] == {
        "num.io.threads": "2"}
    entity_paths = sorted(json.loads(broker.session.nodes[f"/config/changes/{n}"][0])[
        "entity_path"] for n in broker.session.children("/config/changes"))
    assert entity_paths == ["brokers/0", "brokers/<default>", "topics/t", "topics/t"]


def test_every_kafka_broker_config_name_through_the_handlers(broker):
    """AlterConfigs/IncrementalAlterConfigs take any dynamic Kafka 2.8 broker config (here one
    Kafka applies to SASL listeners), store it in Kafka's JSON and DescribeConfigs shows it."""

    async def main():
        await broker.session.ensure_path("/config/changes")
        await broker.session.ensure_path("/brokers/topics")
        manager = ConfigManager(broker, wall_clock_ms=lambda: broker.session.now_ms)
        await manager.reload_all()

    trio.run(main)
    name = "sasl.kerberos.min.time.before.relogin"
    assert _alter(broker, [(4, "0", {name: "60000", "custom.plugin.setting": "a"})]) == \
        [(0, None)]
    assert json.loads(broker.session.nodes["/config/brokers/0"][0]) == {
        "version": 1, "config": {name: "60000", "custom.plugin.setting": "a"}}
    notes = [json.loads(broker.session.nodes[f"/config/changes/{n}"][0])
             for n in broker.session.children("/config/changes")]
    assert notes[-1] == {"version": 2, "entity_path": "brokers/0"}

    (result,) = _describe(broker, [(4, "0", None)])
    entries = {c.name: c for c in result.configs}
    entry = entries[name]
    assert (entry.value, entry.config_source, entry.read_only, entry.is_sensitive) == \
        ("60000", ConfigSource.DYNAMIC_BROKER_CONFIG, False, False)
    assert [(s.name, s.value, s.source) for s in entry.synonyms] == [
        (name, "60000", ConfigSource.DYNAMIC_BROKER_CONFIG)]
    assert entry.config_type == 5  # LONG
    custom = entries["custom.plugin.setting"]   # type unknown: sensitive, as Kafka answers
    assert (custom.value, custom.is_sensitive, custom.read_only) == (None, True, True)
    # every Kafka 2.8 name is described, with Kafka's default where kafkalite has no value
    assert set(KAFKA_BROKER_CONFIGS) <= set(entries)
    assert entries["log.message.format.version"].value == "2.8-IV1"
    assert entries["log.message.format.version"].read_only
    assert entries["ssl.keystore.password"].is_sensitive
    assert entries["ssl.keystore.password"].value is None

    # per-broker configs are refused at the cluster default; static ones everywhere
    (code, message), = _alter(broker, [(4, "", {name: "1"})])
    assert code == 42 and message == (
        "Invalid config value for resource ConfigResource(type=BROKER, name=''): Cannot update "
        "these configs at default cluster level, broker id must be specified: "
        f"Set({name})")
    (code, message), = _alter(broker, [(4, "0", {"zookeeper.connect": "elsewhere:2181"})])
    assert code == 42 and "Cannot update these configs dynamically: Set(zookeeper.connect)" \
        in message
    (code, message), = _alter(broker, [(4, "0", {"listener.name.x.ssl.key.password": "p"})])
    assert code == 42 and message.endswith("Password encoder secret not configured")
    assert json.loads(broker.session.nodes["/config/brokers/0"][0])["config"][name] == "60000"

    # IncrementalAlterConfigs keeps the rest; APPEND works on a broker LIST config
    request = iac.IncrementalAlterConfigsRequest(resources=(iac.AlterConfigsResource(
        resource_type=4, resource_name="0", configs=(
            iac.AlterableConfig(name="sasl.enabled.mechanisms", config_operation=APPEND,
                                value="SCRAM-SHA-512"),
            iac.AlterableConfig(name="custom.plugin.setting", config_operation=DELETE,
                                value=None))),), validate_only=False)
    response = trio.run(handle_incremental_alter_configs, _ctx(broker, 44, 1), request)
    assert [(r.error_code, r.error_message) for r in response.responses] == [(0, None)]
    assert json.loads(broker.session.nodes["/config/brokers/0"][0])["config"] == {
        name: "60000", "sasl.enabled.mechanisms": "GSSAPI,SCRAM-SHA-512"}


def test_describe_log_dirs(broker, tmp_path):
    trio.run(_create_topic, broker, "t", None, 3)
    trio.run(_create_topic, broker, "u", None, 1)
    log = broker.log_manager.get_log("t", 0)
    from kafkalite.records.builder import build_batch
    batch = bytearray(build_batch([(b"k", b"v" * 100, [], NOW)]))
    log.append_as_leader([(memoryview(batch), 1)], leader_epoch=0, now_ms=NOW)

    def describe(topics, version=2):
        return trio.run(handle_describe_log_dirs, _ctx(broker, 35, version),
                        DescribeLogDirsRequest(topics=topics)).results

    a, b = describe(None)
    assert (a.log_dir, b.log_dir) == (str(tmp_path / "a"), str(tmp_path / "b"))
    placed = {(t.name, p.partition_index): (r.log_dir, p.partition_size, p.offset_lag,
                                            p.is_future_key)
              for r in (a, b) for t in r.topics for p in t.partitions}
    assert sorted(placed) == [("t", 0), ("t", 1), ("t", 2), ("u", 0)]
    assert sum(1 for d, *_ in placed.values() if d == a.log_dir) == 2   # fewest-partitions rule
    assert placed[("t", 0)][1:] == (len(batch), 0, False)
    assert placed[("t", 1)][1] == 0

    only = describe((DescribableLogDirTopic(topic="t", partitions=(1,)),), version=0)
    assert [(t.name, [p.partition_index for p in t.partitions]) for r in only for t in r.topics] \
        == [("t", [1])]
