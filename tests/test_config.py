import pytest

from kafkalite.config import parse_properties, parse_server_config
from kafkalite.errors import ConfigError


def test_properties_syntax():
    text = "# c\n! c\na=1\nb : 2\nc 3\nd=x\\\n  y\nlisteners=PLAINTEXT://:9092\n"
    assert parse_properties(text) == {"a": "1", "b": "2", "c": "3", "d": "xy",
                                      "listeners": "PLAINTEXT://:9092"}


def test_kafka_defaults_and_overrides():
    cfg = parse_server_config({"zookeeper.connect": "h:2181/k", "broker.id": "3",
                               "bogus.key": "1", "sasl.kerberos.min.time.before.relogin": "1",
                               "log.message.format.version": "2.8"}, ["num.partitions=4"])
    assert cfg.broker_id == 3 and cfg["num.partitions"] == 4
    assert cfg["message.max.bytes"] == 1048588 and cfg["auto.create.topics.enable"] is True
    assert cfg.retention_ms == 168 * 3600 * 1000
    assert cfg.unknown == ["bogus.key"]
    assert cfg.listeners[0].port == 9092 and cfg.listeners[0].host == ""
    assert cfg.log_dirs == ["/tmp/kafka-logs"]


def test_retention_precedence():
    cfg = parse_server_config({"zookeeper.connect": "z", "log.retention.minutes": "5",
                               "log.retention.hours": "1"})
    assert cfg.retention_ms == 300000
    cfg = parse_server_config({"zookeeper.connect": "z", "log.retention.ms": "7",
                               "log.retention.minutes": "5"})
    assert cfg.retention_ms == 7


@pytest.mark.parametrize("props,overrides,message", [
    ({}, [], "zookeeper.connect"),
    ({"zookeeper.connect": "z", "broker.id": "x"}, [], "broker.id"),
    ({"zookeeper.connect": "z", "listeners": "nonsense"}, [], "listener"),
    ({"zookeeper.connect": "z", "listeners": "FOO://:1"}, [], "security protocol"),
    ({"zookeeper.connect": "z"}, ["novalue"], "--override"),
    ({"zookeeper.connect": "z", "auto.create.topics.enable": "yes"}, [], "true or false"),
    ({"zookeeper.connect": "z", "metrics.listener": "localhost:9404"}, [],
     "metrics.listener must look like http://host:port"),
    ({"zookeeper.connect": "z", "console.listener": "https://:1"}, [], "console.listener"),
])
def test_bad_config_is_a_clear_error(props, overrides, message):
    with pytest.raises(ConfigError, match=message):
        parse_server_config(props, overrides)


def test_http_listeners_are_off_unless_set():
    cfg = parse_server_config({"zookeeper.connect": "z"})
    assert cfg["metrics.listener"] is None and cfg["console.listener"] is None
    cfg = parse_server_config({"zookeeper.connect": "z", "metrics.listener": "http://:9404"},
                              ["metrics.listener="])
    assert cfg["metrics.listener"] is None
    cfg = parse_server_config({"zookeeper.connect": "z",
                               "console.listener": "http://127.0.0.1:9480"})
    assert cfg["console.listener"] == "http://127.0.0.1:9480"
