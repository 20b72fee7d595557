"""Dynamic configuration: Kafka's config rules and the broker's config-change listener.

Two halves, as in Kafka 2.8 (``LogConfig``/``DynamicBrokerConfig`` rules + ``DynamicConfigManager``
with its ``ZkNodeChangeNotificationListener``):

**Rules (pure).** :func:`validate_topic_config` and :func:`validate_broker_config` check a
proposed entity config the way Kafka's ``ConfigDef`` does (types, ranges, allowed strings) with
Kafka's messages ("Invalid value x for configuration retention.ms: Not a number of type LONG"):
topic configs raise :class:`~kafkalite.errors.InvalidConfig`; broker configs raise
:class:`~kafkalite.errors.InvalidRequest`, as Kafka's AdminManager reports the
``ConfigException`` of ``DynamicBrokerConfig``. AlterConfigs, IncrementalAlterConfigs and
``kafka-configs --zookeeper`` share them, so nothing invalid reaches ZooKeeper through us.
:data:`TOPIC_CONFIG_SYNONYMS` names the broker keys a topic config falls back to, which
DescribeConfigs reports as synonyms.

**Listener (trio).** Writers update ``/config/<type>/<name>`` first, then create
``/config/changes/config_change_<seq>`` naming the entity (layout doc §3.14). Every broker runs
one :class:`ConfigManager`, which

* on start re-reads every topic config and this broker's dynamic broker configs
  (``/config/brokers/<default>``, ``/config/brokers/<id>``) and applies them to all local logs,
  so a notification missed while the broker was down does not matter;
* child-watches ``/config/changes``, remembers the highest sequence number it applied, and for
  each newer notification re-reads the entity it names (never trusting the notification's
  content) and applies it;
* deletes notifications older than 15 minutes (by znode ctime), whichever broker sees them;
* child-watches ``/brokers/topics`` so topics created straight in ZooKeeper
  (``kafka-topics --zookeeper --config``) get their overrides on every broker, and overrides
  of deleted topics are forgotten.

User entities (``/config/users/<sanitized user>``) carry SCRAM credentials: they are loaded
into ``broker.credentials`` at start and re-read on each ``users/<name>`` notification, so a
user added by ``kafka-configs`` or AlterUserScramCredentials can log in at once and a deleted
one cannot (Kafka's ``UserConfigHandler``). Their quota keys, ``users/<default>`` and
``users/<u>/clients/<c>`` are quotas, which kafkalite does not enforce.

Applying a topic config means ``broker.topic_overrides[topic] = config`` and
``log.update_config(broker.log_config(topic))`` for every local log of the topic. Dynamic broker
configs follow Kafka 2.8's rules over its full list of broker config names
(:mod:`kafkalite.config_names`): every dynamic name, listener-prefixed name and custom name is
stored and described, static names are refused, and stored ones a broker would ignore are
dropped with an error log, as Kafka's ``fromPersistentProps`` does. Only the log defaults in
:data:`APPLIED_BROKER_CONFIGS` take effect live (they are written into ``broker.config.values``
over the static value, per-broker before cluster default, and every log is re-configured).
Thread pools, cleaner and connection limits are not reconfigurable here.
"""

from __future__ import annotations

import logging
import re
import time
import weakref
from collections.abc import Callable, Iterable, Mapping
from typing import TYPE_CHECKING, Any

import attrs
import trio

from kafkalite import errors
from kafkalite.config import BROKER_CONFIGS, TOPIC_CONFIGS, ServerConfig
from kafkalite.config_names import (
    CLUSTER_LEVEL_LISTENER_CONFIGS, DYNAMIC_ONLY, KAFKA_BROKER_CONFIGS, LISTENER_PREFIX_ONLY,
    PER_BROKER, READ_ONLY, KafkaBrokerConfig, is_password_name)
from kafkalite.errors import ConfigError, InvalidConfig
from kafkalite.security.credentials import desanitize
from kafkalite.storage.config import TOPIC_CONFIG_NAMES, LogConfig
from kafkalite.zk.errors import NoNodeError
from kafkalite.zk.session import retry_zk
from kafkalite.zk.znodes import (ConfigEntityChangeNotificationZNode, ConfigEntityTypeZNode,
                                 ConfigEntityZNode, ConfigType, TopicsZNode)

if TYPE_CHECKING:
    from kafkalite.server.broker import Broker

__all__ = [
    "ConfigManager", "ConfigSource", "ConfigKey", "TOPIC_CONFIG_KEYS", "TOPIC_CONFIG_SYNONYMS",
    "DYNAMIC_BROKER_CONFIGS", "APPLIED_BROKER_CONFIGS", "ZK_UPDATABLE_BROKER_CONFIGS",
    "BROKER_CONFIG_KEYS", "PER_BROKER_CONFIGS", "STATIC_BROKER_CONFIGS", "listener_base_name",
    "check_broker_passwords", "persistent_broker_config",
    "DEFAULT_ENTITY", "CHANGE_EXPIRATION_MS", "validate_topic_config", "validate_broker_config",
    "config_text", "notifications_to_process", "notifications_to_purge", "effective_broker_values",
]

log = logging.getLogger(__name__)

DEFAULT_ENTITY = "<default>"          # ConfigEntityName.Default
CHANGE_EXPIRATION_MS = 15 * 60 * 1000  # notifications older than this are purged


class ConfigSource:
    """DescribeConfigs v1+ ``config_source`` values (KIP-226)."""

    UNKNOWN = 0
    DYNAMIC_TOPIC_CONFIG = 1
    DYNAMIC_BROKER_CONFIG = 2
    DYNAMIC_DEFAULT_BROKER_CONFIG = 3
    STATIC_BROKER_CONFIG = 4
    DEFAULT_CONFIG = 5
    DYNAMIC_BROKER_LOGGER_CONFIG = 6

    NAMES = {1: "DYNAMIC_TOPIC_CONFIG", 2: "DYNAMIC_BROKER_CONFIG",
             3: "DYNAMIC_DEFAULT_BROKER_CONFIG", 4: "STATIC_BROKER_CONFIG", 5: "DEFAULT_CONFIG",
             6: "DYNAMIC_BROKER_LOGGER_CONFIG", 0: "UNKNOWN"}


# -- Kafka's ConfigDef types and validators --------------------------------------------------

_INT_RE = re.compile(r"[+-]?\d+")
_RANGES = {"SHORT": (-2**15, 2**15 - 1), "INT": (-2**31, 2**31 - 1),
           "LONG": (-2**63, 2**63 - 1)}
# DescribeConfigs v3+ config_type ids
TYPE_IDS = {"BOOLEAN": 1, "STRING": 2, "INT": 3, "SHORT": 4, "LONG": 5, "DOUBLE": 6, "LIST": 7,
            "CLASS": 8, "PASSWORD": 9}


@attrs.frozen
class ConfigKey:
    """One config's type (Kafka's ``ConfigDef.Type`` name) and validator."""

    type: str
    at_least: float | None = None
    at_most: float | None = None
    one_of: tuple[str, ...] = ()

    def parse(self, name: str, value: str) -> Any:
        """Kafka's ``ConfigDef.parseType`` + validator.

        Raises:
            InvalidConfig: "Invalid value <v> for configuration <name>: <reason>".
        """
        def bad(reason: str) -> InvalidConfig:
            return InvalidConfig(f"Invalid value {value} for configuration {name}: {reason}")

        text = value.strip()
        if self.type in ("SHORT", "INT", "LONG"):
            if not _INT_RE.fullmatch(text):
                raise bad(f"Not a number of type {self.type}")
            parsed: Any = int(text)
            lo, hi = _RANGES[self.type]
            if not lo <= parsed <= hi:
                raise bad(f"Not a number of type {self.type}")
        elif self.type == "DOUBLE":
            try:
                parsed = float(text)
            except ValueError:
                raise bad("Not a number of type DOUBLE") from None
        elif self.type == "BOOLEAN":
            if text.lower() not in ("true", "false"):
                raise bad("Expected value to be either true or false")
            parsed = text.lower() == "true"
        elif self.type == "LIST":
            parsed = re.split(r"\s*,\s*", text) if text else []
            if self.one_of:
                for item in parsed:
                    if item not in self.one_of:
                        raise bad(f"String must be one of: {', '.join(self.one_of)}")
            return parsed
        else:
            parsed = text
            if self.one_of and parsed not in self.one_of:
                raise bad(f"String must be one of: {', '.join(self.one_of)}")
            return parsed
        if self.at_least is not None and parsed < self.at_least:
            raise bad(f"Value must be at least {_num(self.at_least)}")
        if self.at_most is not None and parsed > self.at_most:
            raise bad(f"Value must be no more than {_num(self.at_most)}")
        return parsed


def _num(x: float) -> str:
    return str(int(x)) if float(x).is_integer() else str(x)


_COMPRESSION = ("uncompressed", "zstd", "lz4", "snappy", "gzip", "producer")
_POLICIES = ("compact", "delete")
_TIMESTAMP_TYPES = ("CreateTime", "LogAppendTime")

#: Types and validators of the topic configs (Kafka 2.8 LogConfig.configDef). The set of names
#: is ``kafkalite.config.TOPIC_CONFIGS``; a name missing here is parsed as a string.
TOPIC_CONFIG_KEYS: dict[str, ConfigKey] = {
    "cleanup.policy": ConfigKey("LIST", one_of=_POLICIES),
    "compression.type": ConfigKey("STRING", one_of=_COMPRESSION),
    "delete.retention.ms": ConfigKey("LONG", at_least=0),
    "file.delete.delay.ms": ConfigKey("LONG", at_least=0),
    "flush.messages": ConfigKey("LONG", at_least=0),
    "flush.ms": ConfigKey("LONG", at_least=0),
    "index.interval.bytes": ConfigKey("INT", at_least=0),
    "max.message.bytes": ConfigKey("INT", at_least=0),
    "message.timestamp.type": ConfigKey("STRING", one_of=_TIMESTAMP_TYPES),
    "message.timestamp.difference.max.ms": ConfigKey("LONG", at_least=0),
    "min.cleanable.dirty.ratio": ConfigKey("DOUBLE", at_least=0, at_most=1),
    "min.compaction.lag.ms": ConfigKey("LONG", at_least=0),
    "max.compaction.lag.ms": ConfigKey("LONG", at_least=1),
    "min.insync.replicas": ConfigKey("INT", at_least=1),
    "preallocate": ConfigKey("BOOLEAN"),
    "retention.bytes": ConfigKey("LONG"),
    "retention.ms": ConfigKey("LONG", at_least=-1),
    "segment.bytes": ConfigKey("INT", at_least=14),
    "segment.index.bytes": ConfigKey("INT", at_least=0),
    "segment.jitter.ms": ConfigKey("LONG", at_least=0),
    "segment.ms": ConfigKey("LONG", at_least=1),
    "unclean.leader.election.enable": ConfigKey("BOOLEAN"),
    "message.downconversion.enable": ConfigKey("BOOLEAN"),
}

#: Topic config -> the broker keys it falls back to, highest priority first (Kafka's
#: LogConfig.TopicConfigSynonyms expanded by DynamicBrokerConfig.brokerConfigSynonyms). Only
#: keys kafkalite's broker actually reads are listed, so every synonym shown is in effect.
TOPIC_CONFIG_SYNONYMS: dict[str, tuple[str, ...]] = {
    "segment.bytes": ("log.segment.bytes",),
    "segment.ms": ("log.roll.ms", "log.roll.hours"),
    "segment.index.bytes": ("log.index.size.max.bytes",),
    "flush.messages": ("log.flush.interval.messages",),
    "flush.ms": ("log.flush.interval.ms",),
    "retention.bytes": ("log.retention.bytes",),
    "retention.ms": ("log.retention.ms", "log.retention.minutes", "log.retention.hours"),
    "max.message.bytes": ("message.max.bytes",),
    "index.interval.bytes": ("log.index.interval.bytes",),
    "cleanup.policy": ("log.cleanup.policy",),
    "unclean.leader.election.enable": ("unclean.leader.election.enable",),
    "min.insync.replicas": ("min.insync.replicas",),
    "compression.type": ("compression.type",),
    "message.timestamp.type": ("log.message.timestamp.type",),
}

# Broker keys that belong to one family (Kafka's brokerConfigSynonyms).
_BROKER_SYNONYM_FAMILIES = (
    ("log.retention.ms", "log.retention.minutes", "log.retention.hours"),
    ("log.roll.ms", "log.roll.hours"),
    ("log.roll.jitter.ms", "log.roll.jitter.hours"),
)

def _config_key(c: KafkaBrokerConfig) -> ConfigKey:
    return ConfigKey(c.type, at_least=c.at_least, at_most=c.at_most, one_of=c.one_of)


#: Types and validators of every Kafka 2.8 broker config (``kafkalite.config_names``).
BROKER_CONFIG_KEYS: dict[str, ConfigKey] = {
    name: _config_key(c) for name, c in {**KAFKA_BROKER_CONFIGS, **DYNAMIC_ONLY}.items()}

#: Log defaults the broker applies live: kafkalite checks them at least as strictly as its
#: storage layer needs (Kafka leaves e.g. log.roll.ms unchecked and fails later).
_APPLIED_LOG_DEFAULT_KEYS: dict[str, ConfigKey] = {
    # DynamicLogConfig: the broker-wide defaults of topic configs
    "log.segment.bytes": ConfigKey("INT", at_least=14),
    "log.roll.ms": ConfigKey("LONG", at_least=1),
    "log.roll.jitter.ms": ConfigKey("LONG", at_least=0),
    "log.index.size.max.bytes": ConfigKey("INT", at_least=4),
    "log.flush.interval.messages": ConfigKey("LONG", at_least=1),
    "log.flush.interval.ms": ConfigKey("LONG", at_least=0),
    "log.retention.bytes": ConfigKey("LONG"),
    "log.retention.ms": ConfigKey("LONG", at_least=-1),
    "message.max.bytes": ConfigKey("INT", at_least=0),
    "log.index.interval.bytes": ConfigKey("INT", at_least=0),
    "log.cleaner.delete.retention.ms": ConfigKey("LONG", at_least=0),
    "log.cleaner.min.compaction.lag.ms": ConfigKey("LONG", at_least=0),
    "log.cleaner.max.compaction.lag.ms": ConfigKey("LONG", at_least=1),
    "log.segment.delete.delay.ms": ConfigKey("LONG", at_least=0),
    "log.cleaner.min.cleanable.ratio": ConfigKey("DOUBLE", at_least=0, at_most=1),
    "log.cleanup.policy": ConfigKey("LIST", one_of=_POLICIES),
    "unclean.leader.election.enable": ConfigKey("BOOLEAN"),
    "min.insync.replicas": ConfigKey("INT", at_least=1),
    "compression.type": ConfigKey("STRING", one_of=_COMPRESSION),
    "log.preallocate": ConfigKey("BOOLEAN"),
    "log.message.timestamp.type": ConfigKey("STRING", one_of=_TIMESTAMP_TYPES),
    "log.message.timestamp.difference.max.ms": ConfigKey("LONG", at_least=0),
    "log.message.downconversion.enable": ConfigKey("BOOLEAN"),
    # LogCleaner
    "log.cleaner.threads": ConfigKey("INT", at_least=0),
    "log.cleaner.dedupe.buffer.size": ConfigKey("LONG"),
    "log.cleaner.io.buffer.size": ConfigKey("INT", at_least=0),
    "log.cleaner.io.buffer.load.factor": ConfigKey("DOUBLE"),
    "log.cleaner.io.max.bytes.per.second": ConfigKey("DOUBLE"),
    "log.cleaner.backoff.ms": ConfigKey("LONG", at_least=0),
    # DynamicThreadPool
    "num.io.threads": ConfigKey("INT", at_least=1),
    "num.network.threads": ConfigKey("INT", at_least=1),
    "num.replica.fetchers": ConfigKey("INT"),
    "num.recovery.threads.per.data.dir": ConfigKey("INT", at_least=1),
    "background.threads": ConfigKey("INT", at_least=1),
    # SocketServer / DynamicConfig.Broker
    "max.connections": ConfigKey("INT", at_least=0),
    "max.connections.per.ip": ConfigKey("INT", at_least=0),
    "max.connections.per.ip.overrides": ConfigKey("STRING"),
    "max.connection.creation.rate": ConfigKey("INT", at_least=0),
    "metric.reporters": ConfigKey("LIST"),
    "leader.replication.throttled.rate": ConfigKey("LONG", at_least=0),
    "follower.replication.throttled.rate": ConfigKey("LONG", at_least=0),
    "replica.alter.log.dirs.io.max.bytes.per.second": ConfigKey("LONG", at_least=0),
}


#: Kafka 2.8's dynamically updatable broker configs (``DynamicBrokerConfig.AllDynamicConfigs``
#: plus ``DynamicConfig.Broker``'s replication throttles), with their types: all of them may be
#: stored; only :data:`APPLIED_BROKER_CONFIGS` change what kafkalite's broker does.
DYNAMIC_BROKER_CONFIGS: dict[str, ConfigKey] = {
    **{name: _config_key(c) for name, c in KAFKA_BROKER_CONFIGS.items() if c.mode != READ_ONLY},
    **{name: _config_key(c) for name, c in DYNAMIC_ONLY.items()},
    **_APPLIED_LOG_DEFAULT_KEYS,
}

#: Dynamic names that only a per-broker entity may set (Kafka's ``PerBrokerConfigs``).
PER_BROKER_CONFIGS: frozenset[str] = frozenset(
    name for name, c in KAFKA_BROKER_CONFIGS.items() if c.mode == PER_BROKER)

#: Names this broker knows that can only be set in server.properties: Kafka's read-only
#: configs and kafkalite's own keys (Kafka would store an unknown name as a custom config).
STATIC_BROKER_CONFIGS: frozenset[str] = frozenset(
    (set(KAFKA_BROKER_CONFIGS) | set(BROKER_CONFIGS)) - set(DYNAMIC_BROKER_CONFIGS))

_LISTENER_CONFIG = re.compile(r"^listener\.name\.[^.]*\.(.*)$")


#: Dynamic broker configs that take effect live here: the log defaults kafkalite's broker reads.
APPLIED_BROKER_CONFIGS: frozenset[str] = frozenset({
    "log.segment.bytes", "log.roll.ms", "log.index.size.max.bytes", "log.flush.interval.messages",
    "log.flush.interval.ms", "log.retention.bytes", "log.retention.ms", "message.max.bytes",
    "log.index.interval.bytes", "log.cleanup.policy", "unclean.leader.election.enable",
    "min.insync.replicas", "compression.type", "log.message.timestamp.type",
})

#: Broker configs ``kafka-configs --zookeeper`` may change while brokers run (Kafka's
#: BrokerConfigsUpdatableUsingZooKeeperWhileBrokerRunning); the others need --bootstrap-server.
ZK_UPDATABLE_BROKER_CONFIGS: frozenset[str] = frozenset({
    "leader.replication.throttled.rate", "follower.replication.throttled.rate",
    "replica.alter.log.dirs.io.max.bytes.per.second",
})


def config_text(value: Any) -> str | None:
    """A typed config value as Kafka prints it (``ConfigDef.convertToString``)."""
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (list, tuple)):
        return ",".join(str(v) for v in value)
    return str(value)


def _scala_set(names: Iterable[str]) -> str:
    return "Set(" + ", ".join(names) + ")"


def validate_topic_config(config: Mapping[str, str | None]) -> dict[str, str]:
    """Check a topic's complete override set as Kafka's ``LogConfig.validate`` does.

    Returns:
        The overrides as stored in ZooKeeper (values trimmed, as given otherwise).

    Raises:
        InvalidConfig: unknown name, null or unparsable value, value out of range, or
            min.compaction.lag.ms > max.compaction.lag.ms.
    """
    out: dict[str, str] = {}
    parsed: dict[str, Any] = {}
    for name, value in config.items():
        if name not in TOPIC_CONFIGS:
            raise InvalidConfig(f"Unknown topic config name: {name}")
        if value is None:
            raise InvalidConfig(f"Null value not supported for topic config {name}")
        key = TOPIC_CONFIG_KEYS.get(name, ConfigKey("STRING"))
        parsed[name] = key.parse(name, value)
        out[name] = value.strip()
    min_lag = parsed.get("min.compaction.lag.ms", 0)
    max_lag = parsed.get("max.compaction.lag.ms", 2**63 - 1)
    if min_lag > max_lag:
        raise InvalidConfig(f"conflict topic config setting min.compaction.lag.ms ({min_lag}) > "
                            f"max.compaction.lag.ms ({max_lag})")
    # The storage layer has limits of its own (e.g. an index must hold one entry): refuse what
    # the broker could not apply rather than store it.
    try:
        LogConfig().with_overrides({k: config_text(v) for k, v in parsed.items()
                                    if k in TOPIC_CONFIG_NAMES})
    except ConfigError as e:
        raise InvalidConfig(f"Invalid topic config: {e}") from None
    return out


def listener_base_name(name: str) -> str | None:
    """``listener.name.<listener>.<base>`` -> ``<base>``; None for an unprefixed name."""
    m = _LISTENER_CONFIG.match(name)
    return m.group(1) if m else None


def validate_broker_config(config: Mapping[str, str | None], *,
                           per_broker: bool = True) -> dict[str, str]:
    """Check a dynamic broker config as Kafka 2.8's ``DynamicBrokerConfig.validateConfigs``.

    In Kafka's order: no name may be a static config ("Cannot update these configs
    dynamically: Set(broker.id)"); TLS store configs only with a listener prefix; values of
    known dynamic names (a prefixed name by its base name) must parse; and the cluster-wide
    default (``per_broker`` False) may not hold per-broker configs ("Cannot update these
    configs at default cluster level, broker id must be specified"). Every other name is
    accepted, as Kafka accepts custom configs.

    Returns:
        The config as stored in ZooKeeper (values trimmed).

    Raises:
        InvalidRequest: with Kafka's ``ConfigException`` message; the AlterConfigs handlers
            prefix it with the resource, as Kafka's AdminManager does.
    """
    def refuse(names: Iterable[str], message: str) -> None:
        names = sorted(names)
        if names:
            raise errors.InvalidRequest(f"{message}: {_scala_set(names)}")

    nulls = sorted(k for k, v in config.items() if v is None)
    if nulls:
        raise errors.InvalidRequest(f"Null value not supported for : {','.join(nulls)}")
    refuse((k for k in config if k in STATIC_BROKER_CONFIGS),
           "Cannot update these configs dynamically")
    refuse((k for k in config if k in LISTENER_PREFIX_ONLY),
           "These security configs can be dynamically updated only per-listener using the "
           "listener prefix")
    out: dict[str, str] = {}
    for name, value in config.items():
        base = listener_base_name(name) or name
        key = DYNAMIC_BROKER_CONFIGS.get(base)
        if key is not None:
            try:
                key.parse(base, value)
            except InvalidConfig as e:
                raise errors.InvalidRequest(str(e)) from None
        out[name] = value.strip()
    if not per_broker:
        refuse((k for k in config if k in PER_BROKER_CONFIGS or (
                    listener_base_name(k) is not None
                    and listener_base_name(k) not in CLUSTER_LEVEL_LISTENER_CONFIGS)),
               "Cannot update these configs at default cluster level, broker id must be "
               "specified")
    return out


def check_broker_passwords(config: Mapping[str, str], static: Mapping[str, str]) -> None:
    """Kafka stores dynamic password configs encrypted with ``password.encoder.secret``
    (``DynamicBrokerConfig.toPersistentProps``); without a secret it refuses them.

    Raises:
        InvalidRequest: a password config is set. With no secret configured the message is
            Kafka's; with one, kafkalite still refuses, since it cannot encrypt them.
    """
    passwords = sorted(k for k in config if is_password_name(k))
    if not passwords:
        return
    if not static.get("password.encoder.secret"):
        raise errors.InvalidRequest("Password encoder secret not configured")
    raise errors.InvalidRequest(f"kafkalite does not store encrypted dynamic password configs: "
                                f"{_scala_set(passwords)}")


def persistent_broker_config(stored: Mapping[str, str], *, per_broker: bool
                             ) -> tuple[dict[str, str], list[str]]:
    """Kafka's ``fromPersistentProps``: the stored dynamic config minus what a broker ignores
    (static names, unprefixed TLS store configs, per-broker names at the default level).

    Returns:
        ``(kept, messages)``: the configs in force and one error message per ignored group.
    """
    kept = dict(stored)
    messages = []

    def drop(names: Iterable[str], message: str) -> None:
        names = sorted(names)
        if names:
            for n in names:
                kept.pop(n, None)
            messages.append(f"{message}: {_scala_set(names)}")

    drop([k for k in kept if k in STATIC_BROKER_CONFIGS],
         "Non-dynamic configs configured in ZooKeeper will be ignored")
    drop([k for k in kept if k in LISTENER_PREFIX_ONLY],
         "Security configs can be dynamically updated only using listener prefix, base "
         "configs will be ignored")
    if not per_broker:
        drop([k for k in kept if k in PER_BROKER_CONFIGS or (
                  listener_base_name(k) is not None
                  and listener_base_name(k) not in CLUSTER_LEVEL_LISTENER_CONFIGS)],
             "Per-broker configs defined at default cluster level will be ignored")
    return kept, messages


def effective_broker_values(static: Mapping[str, Any], default: Mapping[str, str],
                            per_broker: Mapping[str, str]) -> dict[str, Any]:
    """The applied broker keys' values: per-broker dynamic > cluster default > static.

    Invalid stored values are skipped (logged), as Kafka ignores invalid dynamic configs.
    """
    out: dict[str, Any] = {}
    for name in sorted(APPLIED_BROKER_CONFIGS):
        value = static.get(name)
        for layer, what in ((default, "default cluster"), (per_broker, "broker")):
            if name in layer:
                try:
                    value = DYNAMIC_BROKER_CONFIGS[name].parse(name, layer[name])
                except InvalidConfig as e:
                    log.error("Dynamic %s config contains an invalid value, ignored: %s", what, e)
        out[name] = value
    return out


def check_log_defaults(topic_defaults: Mapping[str, Any]) -> None:
    """Raise InvalidConfig if broker-level topic defaults would not make a valid LogConfig."""
    try:
        LogConfig().with_overrides({k: config_text(v) for k, v in topic_defaults.items()
                                    if k in TOPIC_CONFIG_NAMES})
    except ConfigError as e:
        raise InvalidConfig(f"Invalid broker log config: {e}") from None


def broker_synonym_names(name: str) -> tuple[str, ...]:
    """Kafka's ``brokerConfigSynonyms``: the family of ``name``, highest priority first."""
    for family in _BROKER_SYNONYM_FAMILIES:
        if name in family:
            return family
    return (name,)


# -- notification bookkeeping (pure) ----------------------------------------------------------

def notifications_to_process(children: Iterable[str], last_executed: int
                             ) -> list[tuple[int, str]]:
    """``(sequence, name)`` of the notifications newer than ``last_executed``, oldest first."""
    out = []
    for name in children:
        if not name.startswith(ConfigEntityChangeNotificationZNode.PREFIX):
            continue
        try:
            seq = ConfigEntityChangeNotificationZNode.sequence_number(name)
        except ValueError:
            continue
        if seq > last_executed:
            out.append((seq, name))
    return sorted(out)


def notifications_to_purge(ctimes: Mapping[str, int], now_ms: int,
                           expiration_ms: int = CHANGE_EXPIRATION_MS) -> list[str]:
    """Names whose znode was created more than ``expiration_ms`` before ``now_ms``."""
    return sorted(name for name, ctime in ctimes.items() if now_ms - ctime > expiration_ms)


def split_entity_path(entity_path: str) -> tuple[str, str]:
    """``"topics/foo"`` -> ``("topics", "foo")``;
    ``"users/a/clients/b"`` -> ``("users", "a/clients/b")``."""
    entity_type, sep, name = entity_path.partition("/")
    if not sep or not name:
        raise ValueError(f"invalid entity path {entity_path!r}")
    return entity_type, name


# -- the listener service ---------------------------------------------------------------------

_MANAGERS: "weakref.WeakKeyDictionary[Broker, ConfigManager]" = weakref.WeakKeyDictionary()


class ConfigManager:
    """The broker's dynamic-config state and its ZooKeeper change listener.

    Attributes:
        dynamic_default: ``/config/brokers/<default>`` as last read.
        dynamic_broker: ``/config/brokers/<this broker id>`` as last read.
        last_executed_change: sequence number of the newest notification applied (-1: none).
    """

    def __init__(self, broker: Broker, *, wall_clock_ms: Callable[[], int] | None = None):
        self.broker = broker
        self.dynamic_default: dict[str, str] = {}
        self.dynamic_broker: dict[str, str] = {}
        self.last_executed_change = -1
        self._static_values = {k: broker.config.values.get(k) for k in APPLIED_BROKER_CONFIGS}
        self._known_topics: set[str] = set()
        self._lock = trio.Lock()
        self._clock = wall_clock_ms or (lambda: int(time.time() * 1000))
        _MANAGERS[broker] = self

    @staticmethod
    def of(broker: Broker) -> ConfigManager | None:
        """The manager running for ``broker`` (None before it starts, e.g. in unit tests)."""
        return _MANAGERS.get(broker)

    # -- lifecycle ------------------------------------------------------------------------

    async def run(self, *, task_status=trio.TASK_STATUS_IGNORED) -> None:
        """Load every config, report started, then follow the change notifications."""
        session = self.broker.session
        changes = await session.watch_children(ConfigEntityChangeNotificationZNode.PARENT)
        topics = await session.watch_children(TopicsZNode.path())
        await self._with_retries(self.reload_all, "loading configs")
        task_status.started()
        async with trio.open_nursery() as nursery:
            nursery.start_soon(self._follow_changes, changes)
            nursery.start_soon(self._follow_topics, topics)

    async def _with_retries(self, fn, what: str, *args: Any) -> None:
        await retry_zk(fn, *args, what=what, logger=log,
                       prefix=f"[ConfigManager broker={self.broker.broker_id}]")

    async def _follow_changes(self, channel) -> None:
        async for children in channel:
            await self._with_retries(self.process_notifications, "processing config changes",
                                     children)

    async def _follow_topics(self, channel) -> None:
        async for children in channel:
            await self._with_retries(self._topics_changed, "loading configs of new topics",
                                     children)

    # -- loading ----------------------------------------------------------------------------

    async def reload_all(self) -> None:
        """Re-read every topic config and this broker's dynamic configs; apply them all."""
        session = self.broker.session
        # Notifications up to the newest one existing now are covered by this full load: a
        # writer updates the config node before it creates the notification.
        try:
            changes = await session.get_children(ConfigEntityChangeNotificationZNode.PARENT)
        except NoNodeError:
            changes = []
        covered = notifications_to_process(changes, self.last_executed_change)
        try:
            names = await session.get_children(ConfigEntityTypeZNode.path(ConfigType.TOPIC))
        except NoNodeError:
            names = []
        try:
            self._known_topics = set(await session.get_children(TopicsZNode.path()))
        except NoNodeError:
            self._known_topics = set()
        async with self._lock:
            got = await session.get_many([ConfigEntityZNode.path(ConfigType.TOPIC, n)
                                          for n in names])
            for name, r in zip(names, got):
                self._set_overrides(name, _decode(r))
            await self._read_user_credentials()
            await self._read_broker_configs()
            self._apply_broker_values()
            self._update_logs(None)
            if covered:
                self.last_executed_change = covered[-1][0]

    async def _topics_changed(self, children: list[str]) -> None:
        current = set(children)
        for gone in self._known_topics - current:
            self.broker.topic_overrides.pop(gone, None)
        new = sorted(current - self._known_topics)
        self._known_topics = current
        for topic in new:
            await self.refresh_topic(topic)

    # -- notifications ----------------------------------------------------------------------

    async def process_notifications(self, children: list[str] | None = None) -> None:
        """Apply every notification newer than the last one applied, then purge old ones."""
        session = self.broker.session
        if children is None:
            try:
                children = await session.get_children(ConfigEntityChangeNotificationZNode.PARENT)
            except NoNodeError:
                return
        pending = notifications_to_process(children, self.last_executed_change)
        if pending:
            got = await session.get_many([ConfigEntityChangeNotificationZNode.child_path(n)
                                          for _, n in pending])
            entities: list[str] = []
            for (seq, name), r in zip(pending, got):
                if r is not None and r[0]:
                    try:
                        entity = ConfigEntityChangeNotificationZNode.decode(r[0])
                    except (ValueError, KeyError, TypeError) as e:
                        log.error("error processing change notification %s: %r", name, e)
                    else:
                        if entity not in entities:
                            entities.append(entity)
            for entity in entities:
                await self.process_entity_change(entity)
            self.last_executed_change = pending[-1][0]
        await self._purge_obsolete(children)

    async def process_entity_change(self, entity_path: str) -> None:
        """Re-read the entity named by a notification and apply it."""
        try:
            entity_type, name = split_entity_path(entity_path)
        except ValueError:
            log.error("ignoring config change notification for %r", entity_path)
            return
        if entity_type == ConfigType.TOPIC:
            await self.refresh_topic(name)
        elif entity_type == ConfigType.BROKER:
            if name in (DEFAULT_ENTITY, str(self.broker.broker_id)):
                await self.refresh_broker_configs()
        elif entity_type == ConfigType.USER and "/" not in name and name != DEFAULT_ENTITY:
            await self.refresh_user(name)
        else:
            log.debug("config change of %s ignored: quotas are not implemented", entity_path)

    async def _purge_obsolete(self, children: list[str]) -> None:
        session = self.broker.session
        if not children:
            return
        paths = [ConfigEntityChangeNotificationZNode.child_path(n) for n in children]
        stats = await session.get_many(paths)
        ctimes = {n: r[1].ctime for n, r in zip(children, stats) if r is not None}
        for name in notifications_to_purge(ctimes, self._clock()):
            log.debug("Purging change notification %s", name)
            try:
                await session.delete(ConfigEntityChangeNotificationZNode.child_path(name))
            except NoNodeError:
                pass   # another broker purged it first

    # -- applying ---------------------------------------------------------------------------

    async def refresh_topic(self, topic: str) -> None:
        """Read ``/config/topics/<topic>`` and apply it to the topic's local logs."""
        async with self._lock:
            r = await self.broker.session.get_or_none(
                ConfigEntityZNode.path(ConfigType.TOPIC, topic))
            self._set_overrides(topic, _decode(r))
            self._update_logs(topic)

    async def refresh_user(self, sanitized_user: str) -> None:
        """Read ``/config/users/<sanitized_user>`` and make its SCRAM credentials the ones
        this broker accepts (none if the node or its keys are gone)."""
        user = _user_name(sanitized_user)
        if user is None:
            return
        async with self._lock:
            r = await self.broker.session.get_or_none(
                ConfigEntityZNode.path(ConfigType.USER, sanitized_user))
            self.broker.credentials.update_user(user, _decode(r))

    async def _read_user_credentials(self) -> None:
        session = self.broker.session
        try:
            names = await session.get_children(ConfigEntityTypeZNode.path(ConfigType.USER))
        except NoNodeError:
            names = []
        names = [n for n in names if n != DEFAULT_ENTITY]
        got = await session.get_many([ConfigEntityZNode.path(ConfigType.USER, n)
                                      for n in names])
        configs = {}
        for name, r in zip(names, got):
            user = _user_name(name)
            if user is not None:
                configs[user] = _decode(r)
        self.broker.credentials.replace_all(configs)

    async def refresh_broker_configs(self) -> None:
        """Read this broker's dynamic configs and apply the log defaults to every log."""
        async with self._lock:
            await self._read_broker_configs()
            self._apply_broker_values()
            self._update_logs(None)

    async def _read_broker_configs(self) -> None:
        session = self.broker.session
        default, own = await session.get_many([
            ConfigEntityZNode.path(ConfigType.BROKER, DEFAULT_ENTITY),
            ConfigEntityZNode.path(ConfigType.BROKER, str(self.broker.broker_id))])
        self.dynamic_default = self._in_force(_decode(default), per_broker=False)
        self.dynamic_broker = self._in_force(_decode(own), per_broker=True)

    def _in_force(self, stored: dict[str, str], *, per_broker: bool) -> dict[str, str]:
        kept, messages = persistent_broker_config(stored, per_broker=per_broker)
        for message in messages:
            log.error("[ConfigManager broker=%d] %s", self.broker.broker_id, message)
        return kept

    def check_broker_config(self, entity: str, config: Mapping[str, str]) -> None:
        """Raise InvalidConfig if storing ``config`` as ``entity`` (``<default>`` or this
        broker's id) would give this broker log defaults it cannot apply."""
        default = config if entity == DEFAULT_ENTITY else self.dynamic_default
        own = self.dynamic_broker if entity == DEFAULT_ENTITY else config
        values = effective_broker_values(self._static_values, default, own)
        check_log_defaults(_topic_defaults_with(self.broker, values))

    def _set_overrides(self, topic: str, config: dict[str, str]) -> None:
        if config:
            self.broker.topic_overrides[topic] = config
        else:
            self.broker.topic_overrides.pop(topic, None)

    def _apply_broker_values(self) -> None:
        values = effective_broker_values(self._static_values, self.dynamic_default,
                                         self.dynamic_broker)
        try:
            check_log_defaults(_topic_defaults_with(self.broker, values))
        except InvalidConfig as e:
            log.error("[ConfigManager broker=%d] dynamic broker configs not applied: %s",
                      self.broker.broker_id, e)
            return
        changed = {k: v for k, v in values.items() if self.broker.config.values.get(k) != v}
        self.broker.config.values.update(values)
        if changed:
            log.info("[ConfigManager broker=%d] dynamic broker configs now %s",
                     self.broker.broker_id, changed)

    def _update_logs(self, topic: str | None) -> None:
        manager = self.broker.log_manager
        if manager is None:
            return
        configs: dict[str, LogConfig | None] = {}
        for tp, lg in manager.logs.items():
            if topic is not None and tp.topic != topic:
                continue
            if tp.topic not in configs:
                try:
                    configs[tp.topic] = self.broker.log_config(tp.topic)
                except ConfigError as e:
                    log.error("[ConfigManager broker=%d] invalid config for topic %s, keeping "
                              "the current one: %s", self.broker.broker_id, tp.topic, e)
                    configs[tp.topic] = None
            new = configs[tp.topic]
            if new is not None and new != lg.config:
                lg.update_config(new)
                log.info("[ConfigManager broker=%d] updated log config of %s",
                         self.broker.broker_id, tp)


def _user_name(sanitized: str) -> str | None:
    try:
        return desanitize(sanitized)
    except ValueError as e:
        log.error("ignoring config of user entity %r: %s", sanitized, e)
        return None


def _decode(r: tuple[bytes | None, Any] | None) -> dict[str, str]:
    if r is None or not r[0]:
        return {}
    try:
        return ConfigEntityZNode.decode(r[0])
    except (ValueError, TypeError, AttributeError) as e:
        log.error("unreadable config znode: %r", e)
        return {}


def _topic_defaults_with(broker: Broker, values: Mapping[str, Any]) -> dict[str, Any]:
    """The broker's topic defaults as they would be with ``values`` applied."""
    candidate = ServerConfig(values={**broker.config.values, **values},
                             originals=broker.config.originals)
    return candidate.topic_defaults()
