"""Dynamic configs end to end: kafka-configs.sh both ways in, DescribeConfigs from
librdkafka, the change notification in ZooKeeper, and the change taking effect on the broker's
log without a restart (a lowered max.message.bytes refuses a big produce)."""

from __future__ import annotations

import json

import pytest

from kafkalite.testing.clients import create_topic
from kafkalite.testing.processes import run_script as run
from kafkalite.testing.processes import wait_for


def describe(bootstrap, resource_type, name):
    """{name: ConfigEntry} from librdkafka's AdminClient.describe_configs."""
    from confluent_kafka.admin import AdminClient, ConfigResource

    admin = AdminClient({"bootstrap.servers": bootstrap})
    resource = ConfigResource(resource_type, name)
    result = admin.describe_configs([resource])[resource].result(timeout=30)
    del admin
    return result


def produce(bootstrap, topic, value: bytes):
    """Produce one message; returns the delivery error (None on success)."""
    from confluent_kafka import Producer

    outcome = []
    p = Producer({"bootstrap.servers": bootstrap, "linger.ms": 0, "retries": 0,
                  "message.max.bytes": 10_000_000})
    p.produce(topic, value, on_delivery=lambda err, msg: outcome.append(err))
    p.flush(30)
    assert outcome, "no delivery report"
    return outcome[0]


def test_topic_configs_through_zookeeper_and_bootstrap(broker, zk_connect, kazoo_client):
    from confluent_kafka.admin import ConfigSource

    create_topic(broker.bootstrap, "foo", partitions=1)
    zk = ["--zookeeper", zk_connect]
    bs = ["--bootstrap-server", broker.bootstrap]
    entity = ["--entity-type", "topics", "--entity-name", "foo"]

    # --zookeeper: config node, then a v2 change notification naming the entity
    rc, out, err = run("kafka-configs.sh", *zk, *entity, "--alter",
                       "--add-config", "retention.ms=1000,cleanup.policy=[compact,delete]")
    assert rc == 0, err
    assert out.strip() == "Completed Updating config for entity: topic 'foo'."
    data, _ = kazoo_client.get("/config/topics/foo")
    assert json.loads(data) == {"version": 1, "config": {"retention.ms": "1000",
                                                         "cleanup.policy": "compact,delete"}}
    changes = kazoo_client.get_children("/config/changes")
    assert changes and all(c.startswith("config_change_") for c in changes)
    notes = [json.loads(kazoo_client.get(f"/config/changes/{c}")[0]) for c in changes]
    assert {"version": 2, "entity_path": "topics/foo"} in notes

    rc, out, err = run("kafka-configs.sh", *zk, *entity, "--describe")
    assert rc == 0, err
    assert out.strip() == "Configs for topic 'foo' are cleanup.policy=compact,delete," \
                          "retention.ms=1000"

    # --bootstrap-server describe: the dynamic entries with their sources (Kafka 2.8 format)
    rc, out, err = run("kafka-configs.sh", *bs, *entity, "--describe")
    assert rc == 0, err
    assert out.splitlines() == [
        "Dynamic configs for topic foo are:",
        "  cleanup.policy=compact,delete sensitive=false "
        "synonyms={DYNAMIC_TOPIC_CONFIG:cleanup.policy=compact,delete}",
        "  retention.ms=1000 sensitive=false synonyms={DYNAMIC_TOPIC_CONFIG:retention.ms=1000}",
    ]
    configs = describe(broker.bootstrap, "topic", "foo")
    assert configs["retention.ms"].value == "1000"
    assert configs["retention.ms"].source == ConfigSource.DYNAMIC_TOPIC_CONFIG.value
    assert configs["segment.bytes"].source == ConfigSource.DEFAULT_CONFIG.value

    # --bootstrap-server alter: IncrementalAlterConfigs SET + DELETE
    rc, out, err = run("kafka-configs.sh", *bs, *entity, "--alter",
                       "--add-config", "retention.ms=2000", "--delete-config", "cleanup.policy")
    assert rc == 0, err
    assert out.strip() == "Completed updating config for topic foo."
    configs = describe(broker.bootstrap, "topic", "foo")
    assert configs["retention.ms"].value == "2000"
    assert configs["cleanup.policy"].value == "delete"
    assert configs["cleanup.policy"].source == ConfigSource.DEFAULT_CONFIG.value
    assert json.loads(kazoo_client.get("/config/topics/foo")[0])["config"] == {
        "retention.ms": "2000"}

    # refused values: INVALID_CONFIG with Kafka's reason, nothing written, exit status 1
    for target in (zk, bs):
        rc, out, err = run("kafka-configs.sh", *target, *entity, "--alter",
                           "--add-config", "retention.ms=abc")
        assert rc == 1 and "Traceback" not in err
        assert "INVALID_CONFIG: Invalid value abc for configuration retention.ms: Not a " \
               "number of type LONG" in err
        rc, out, err = run("kafka-configs.sh", *target, *entity, "--alter",
                           "--add-config", "no.such.config=1")
        assert rc == 1 and "Unknown topic config name: no.such.config" in err
    rc, _, err = run("kafka-configs.sh", *bs, *entity, "--alter", "--delete-config", "flush.ms")
    assert rc == 1 and "Invalid config(s): flush.ms" in err
    rc, _, err = run("kafka-configs.sh", *bs, "--entity-type", "topics", "--entity-name", "nope",
                     "--describe")
    assert rc == 1 and "UNKNOWN_TOPIC_OR_PARTITION" in err
    assert json.loads(kazoo_client.get("/config/topics/foo")[0])["config"] == {
        "retention.ms": "2000"}


@pytest.mark.filterwarnings("ignore:alter_configs has been deprecated:DeprecationWarning")
def test_admin_client_alter_configs_validation(broker):
    from confluent_kafka import KafkaError, KafkaException
    from confluent_kafka.admin import (AdminClient, AlterConfigOpType, ConfigEntry,
                                       ConfigResource)

    create_topic(broker.bootstrap, "bar", partitions=1, **{"retention.ms": "5000"})
    admin = AdminClient({"bootstrap.servers": broker.bootstrap})

    def alter(resource, **kwargs):
        return admin.alter_configs([resource], **kwargs)[resource].result(timeout=30)

    # AlterConfigs replaces the whole set: retention.ms goes away
    alter(ConfigResource("topic", "bar", set_config={"segment.ms": "60000"}))
    configs = describe(broker.bootstrap, "topic", "bar")
    assert configs["segment.ms"].value == "60000"
    assert configs["retention.ms"].value == "604800000"

    # validate_only writes nothing
    alter(ConfigResource("topic", "bar", set_config={"segment.ms": "1"}), validate_only=True)
    assert describe(broker.bootstrap, "topic", "bar")["segment.ms"].value == "60000"

    for bad in ({"segment.bytes": "10"}, {"cleanup.policy": "shred"}, {"bogus": "1"}):
        with pytest.raises(KafkaException) as info:
            alter(ConfigResource("topic", "bar", set_config=bad))
        assert info.value.args[0].code() == KafkaError.INVALID_CONFIG
    with pytest.raises(KafkaException) as info:
        alter(ConfigResource("topic", "missing", set_config={"segment.ms": "1000"}))
    assert info.value.args[0].code() == KafkaError.UNKNOWN_TOPIC_OR_PART
    with pytest.raises(KafkaException) as info:
        alter(ConfigResource("group", "g", set_config={"x": "1"}))
    assert info.value.args[0].code() == KafkaError.INVALID_REQUEST

    # IncrementalAlterConfigs: APPEND/SUBTRACT on the list config cleanup.policy
    def incremental(*ops):
        resource = ConfigResource("topic", "bar", incremental_configs=list(ops))
        return admin.incremental_alter_configs([resource])[resource].result(timeout=30)

    incremental(ConfigEntry("cleanup.policy", "compact",
                            incremental_operation=AlterConfigOpType.APPEND))
    assert describe(broker.bootstrap, "topic", "bar")["cleanup.policy"].value == "delete,compact"
    incremental(ConfigEntry("cleanup.policy", "delete",
                            incremental_operation=AlterConfigOpType.SUBTRACT),
                ConfigEntry("segment.ms", None, incremental_operation=AlterConfigOpType.DELETE))
    configs = describe(broker.bootstrap, "topic", "bar")
    assert configs["cleanup.policy"].value == "compact"
    assert configs["segment.ms"].value == "604800000"
    with pytest.raises(KafkaException) as info:
        incremental(ConfigEntry("retention.ms", "1",
                                incremental_operation=AlterConfigOpType.APPEND))
    assert info.value.args[0].code() == KafkaError.INVALID_REQUEST
    del admin


def test_changes_apply_live_to_the_log(broker, zk_connect):
    """max.message.bytes lowered through ZooKeeper only (no broker API involved): the broker's
    config manager picks the notification up and the next big produce is refused."""
    create_topic(broker.bootstrap, "live", partitions=1)
    big = b"x" * 5000
    assert produce(broker.bootstrap, "live", big) is None
    rc, _, err = run("kafka-configs.sh", "--zookeeper", zk_connect, "--entity-type", "topics",
                     "--entity-name", "live", "--alter", "--add-config", "max.message.bytes=1000")
    assert rc == 0, err

    def refused():
        e = produce(broker.bootstrap, "live", big)
        return e is not None and e.code() == e.MSG_SIZE_TOO_LARGE
    wait_for(refused, 20, "max.message.bytes=1000 to take effect")
    assert produce(broker.bootstrap, "live", b"small") is None

    # a topic created straight in ZooKeeper gets its overrides too
    rc, _, err = run("kafka-topics.sh", "--zookeeper", zk_connect, "--create", "--topic", "zk",
                     "--partitions", "1", "--replication-factor", "1",
                     "--config", "max.message.bytes=1000")
    assert rc == 0, err
    wait_for(lambda: produce(broker.bootstrap, "zk", b"small") is None, 20, "topic zk")
    e = produce(broker.bootstrap, "zk", big)
    assert e is not None and e.code() == e.MSG_SIZE_TOO_LARGE

    # cluster-wide dynamic default (bootstrap only while brokers run, as in Kafka)
    rc, _, err = run("kafka-configs.sh", "--zookeeper", zk_connect, "--entity-type", "brokers",
                     "--entity-default", "--alter", "--add-config", "message.max.bytes=2000")
    assert rc == 1 and "--bootstrap-server option must be specified" in err
    create_topic(broker.bootstrap, "plain", partitions=1)
    assert produce(broker.bootstrap, "plain", big) is None
    bs = ["--bootstrap-server", broker.bootstrap]
    rc, out, err = run("kafka-configs.sh", *bs, "--entity-type", "brokers", "--entity-default",
                       "--alter", "--add-config", "message.max.bytes=2000")
    assert rc == 0, err
    assert out.strip() == "Completed updating default config for brokers in the cluster."
    e = produce(broker.bootstrap, "plain", big)
    assert e is not None and e.code() == e.MSG_SIZE_TOO_LARGE
    rc, out, err = run("kafka-configs.sh", *bs, "--entity-type", "brokers", "--entity-default",
                       "--describe")
    assert rc == 0, err
    assert out.splitlines() == [
        "Default configs for brokers in the cluster are:",
        "  message.max.bytes=2000 sensitive=false "
        "synonyms={DYNAMIC_DEFAULT_BROKER_CONFIG:message.max.bytes=2000}"]
    configs = describe(broker.bootstrap, "topic", "plain")
    assert configs["max.message.bytes"].value == "2000"
    configs = describe(broker.bootstrap, "broker", "0")
    assert configs["message.max.bytes"].value == "2000"
    assert configs["broker.id"].is_read_only

    # per-broker config overrides the default; deleting it restores the default
    rc, out, err = run("kafka-configs.sh", *bs, "--entity-type", "brokers", "--entity-name", "0",
                       "--alter", "--add-config", "message.max.bytes=9000")
    assert rc == 0 and out.strip() == "Completed updating config for broker 0.", err
    assert produce(broker.bootstrap, "plain", big) is None
    rc, out, err = run("kafka-configs.sh", *bs, "--entity-type", "brokers", "--entity-name", "0",
                       "--describe")
    assert out.splitlines() == [
        "Dynamic configs for broker 0 are:",
        "  message.max.bytes=9000 sensitive=false "
        "synonyms={DYNAMIC_BROKER_CONFIG:message.max.bytes=9000, "
        "DYNAMIC_DEFAULT_BROKER_CONFIG:message.max.bytes=2000}"], err
    rc, _, err = run("kafka-configs.sh", *bs, "--entity-type", "brokers", "--entity-name", "0",
                     "--alter", "--add-config", "broker.id=7")
    assert rc == 1 and "Cannot update these configs dynamically: Set(broker.id)" in err
    rc, _, err = run("kafka-configs.sh", *bs, "--entity-type", "brokers", "--entity-default",
                     "--alter", "--delete-config", "message.max.bytes")
    assert rc == 0, err
    rc, _, err = run("kafka-configs.sh", *bs, "--entity-type", "brokers", "--entity-name", "0",
                     "--alter", "--delete-config", "message.max.bytes")
    assert rc == 0, err
    assert produce(broker.bootstrap, "plain", big) is None


def test_configs_survive_restart(broker_factory, zk_connect):
    """Overrides are applied to logs loaded at start-up (not only to logs created later)."""
    b = broker_factory(0)
    create_topic(b.bootstrap, "kept", partitions=1, **{"max.message.bytes": "1000"})
    assert produce(b.bootstrap, "kept", b"y" * 3000) is not None
    b.stop()
    b.start()
    e = produce(b.bootstrap, "kept", b"y" * 3000)
    assert e is not None and e.code() == e.MSG_SIZE_TOO_LARGE
    assert produce(b.bootstrap, "kept", b"y" * 10) is None


def test_any_kafka_broker_config_name_is_stored_and_described(broker, kazoo_client):
    """``kafka-configs.sh --entity-type brokers --entity-name 0 --add-config`` with a Kafka 2.8
    config kafkalite does not use itself: stored in Kafka's JSON, described back; static and
    per-broker-only names are refused as Kafka refuses them (INVALID_REQUEST)."""
    from confluent_kafka.admin import ConfigSource

    bs = ["--bootstrap-server", broker.bootstrap]
    b0 = ["--entity-type", "brokers", "--entity-name", "0"]
    rc, out, err = run("kafka-configs.sh", *bs, *b0, "--alter",
                       "--add-config", "sasl.kerberos.min.time.before.relogin=60000")
    assert rc == 0, err
    assert out.strip() == "Completed updating config for broker 0."
    assert json.loads(kazoo_client.get("/config/brokers/0")[0]) == {
        "version": 1, "config": {"sasl.kerberos.min.time.before.relogin": "60000"}}
    notes = [json.loads(kazoo_client.get(f"/config/changes/{c}")[0])
             for c in kazoo_client.get_children("/config/changes")]
    assert {"version": 2, "entity_path": "brokers/0"} in notes

    rc, out, err = run("kafka-configs.sh", *bs, *b0, "--describe")
    assert rc == 0, err
    assert out.splitlines() == [
        "Dynamic configs for broker 0 are:",
        "  sasl.kerberos.min.time.before.relogin=60000 sensitive=false "
        "synonyms={DYNAMIC_BROKER_CONFIG:sasl.kerberos.min.time.before.relogin=60000}"]
    entry = describe(broker.bootstrap, "broker", "0")["sasl.kerberos.min.time.before.relogin"]
    assert entry.value == "60000" and entry.source == ConfigSource.DYNAMIC_BROKER_CONFIG.value
    assert not entry.is_read_only

    # more names at once, including a listener-prefixed one and a LIST config
    rc, _, err = run("kafka-configs.sh", *bs, *b0, "--alter", "--add-config",
                     "listener.name.plaintext.max.connections=100,"
                     "sasl.enabled.mechanisms=[PLAIN,SCRAM-SHA-256],log.cleaner.threads=2")
    assert rc == 0, err
    stored = json.loads(kazoo_client.get("/config/brokers/0")[0])["config"]
    assert stored == {"sasl.kerberos.min.time.before.relogin": "60000",
                      "listener.name.plaintext.max.connections": "100",
                      "sasl.enabled.mechanisms": "PLAIN,SCRAM-SHA-256",
                      "log.cleaner.threads": "2"}

    # refusals, as Kafka 2.8's DynamicBrokerConfig.validateConfigs words them
    refused = [
        (b0, "log.retention.hours=1", "Cannot update these configs dynamically: "
                                      "Set(log.retention.hours)"),
        (["--entity-type", "brokers", "--entity-default"],
         "sasl.kerberos.min.time.before.relogin=1",
         "Cannot update these configs at default cluster level, broker id must be specified: "
         "Set(sasl.kerberos.min.time.before.relogin)"),
        (b0, "ssl.truststore.location=/tmp/t.jks", "only per-listener using the listener "
                                                   "prefix: Set(ssl.truststore.location)"),
        (b0, "sasl.kerberos.min.time.before.relogin=soon",
         "Invalid value soon for configuration sasl.kerberos.min.time.before.relogin: Not a "
         "number of type LONG"),
    ]
    for entity, config, message in refused:
        rc, _, err = run("kafka-configs.sh", *bs, *entity, "--alter", "--add-config", config)
        assert rc == 1 and "Traceback" not in err, err
        assert "INVALID_REQUEST" in err and message in err, err
    assert json.loads(kazoo_client.get("/config/brokers/0")[0])["config"] == stored

    rc, _, err = run("kafka-configs.sh", *bs, *b0, "--alter", "--delete-config",
                     "sasl.kerberos.min.time.before.relogin")
    assert rc == 0, err
    entry = describe(broker.bootstrap, "broker", "0")["sasl.kerberos.min.time.before.relogin"]
    assert entry.value == "60000" and entry.source == ConfigSource.DEFAULT_CONFIG.value
