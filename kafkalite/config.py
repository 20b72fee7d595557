"""Broker configuration: Kafka's ``server.properties`` keys, types and defaults.

A Kafka user's ``server.properties`` must work unchanged, so the keys are Kafka's own and the
defaults are Kafka 2.8's (the last full ZooKeeper-era release). Keys we do not know are kept
and reported by :func:`parse_server_config` as warnings, never fatal, as Kafka does for unused
properties. Values are validated here, at the boundary, so nothing below has to re-check them.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any, Callable
from urllib.parse import urlsplit

import attrs

from kafkalite.config_names import KAFKA_BROKER_CONFIGS
from kafkalite.errors import ConfigError
from kafkalite.model import BrokerEndpoint

__all__ = ["ConfigDef", "BROKER_CONFIGS", "ServerConfig", "parse_properties", "load_properties",
           "parse_server_config", "parse_listeners", "http_listener_address", "TOPIC_CONFIGS",
           "topic_config_default"]

_LONG_MAX = 2**63 - 1


def _bool(v: str) -> bool:
    s = v.strip().lower()
    if s in ("true", "false"):
        return s == "true"
    raise ValueError(f"expected true or false, got {v!r}")


def _list(v: str) -> list[str]:
    return [x.strip() for x in v.split(",") if x.strip()]


def _http_listener(value: str, key: str) -> str | None:
    """Check ``http://host:port`` (empty host: all interfaces); kept as the string. An empty
    value turns the endpoint off (so ``--override metrics.listener=`` can)."""
    if not value.strip():
        return None
    http_listener_address(value, key)
    return value.strip()


def http_listener_address(value: str, key: str = "listener") -> tuple[str, int]:
    """``http://host:port`` as ``(host, port)``; ValueError naming ``key`` otherwise."""
    parts = urlsplit(value.strip())
    try:
        port = parts.port
    except ValueError:
        port = None
    if parts.scheme != "http" or port is None or parts.path not in ("", "/"):
        raise ValueError(f"{key} must look like http://host:port, got {value!r}")
    return parts.hostname or "", port


@attrs.frozen
class ConfigDef:
    name: str
    parse: Callable[[str], Any]
    default: Any
    doc: str = ""


def _d(name: str, parse: Callable[[str], Any], default: Any, doc: str = "") -> ConfigDef:
    return ConfigDef(name, parse, default, doc)


# Only keys something reads, plus the common ones users set; Kafka 2.8's full list of broker
# config names (never reported as unknown) is kafkalite.config_names.
BROKER_CONFIGS: dict[str, ConfigDef] = {d.name: d for d in [
    _d("broker.id", int, -1, "-1 = generate from /brokers/seqid"),
    _d("broker.id.generation.enable", _bool, True),
    _d("reserved.broker.max.id", int, 1000),
    _d("listeners", str, "PLAINTEXT://:9092"),
    _d("advertised.listeners", str, None),
    _d("listener.security.protocol.map", str,
       "PLAINTEXT:PLAINTEXT,SSL:SSL,SASL_PLAINTEXT:SASL_PLAINTEXT,SASL_SSL:SASL_SSL"),
    _d("inter.broker.listener.name", str, None),
    _d("security.inter.broker.protocol", str, "PLAINTEXT"),
    # TLS (any of them may also be set per listener: listener.name.<listener>.ssl.*)
    _d("ssl.keystore.type", str, "JKS"),
    _d("ssl.keystore.location", str, None),
    _d("ssl.keystore.password", str, None),
    _d("ssl.key.password", str, None),
    _d("ssl.keystore.key", str, None),
    _d("ssl.keystore.certificate.chain", str, None),
    _d("ssl.truststore.type", str, "JKS"),
    _d("ssl.truststore.location", str, None),
    _d("ssl.truststore.password", str, None),
    _d("ssl.truststore.certificates", str, None),
    _d("ssl.client.auth", str, "none"),
    _d("ssl.enabled.protocols", str, "TLSv1.2,TLSv1.3"),
    _d("ssl.protocol", str, "TLSv1.3"),
    _d("ssl.cipher.suites", str, ""),
    _d("ssl.endpoint.identification.algorithm", str, "https"),
    _d("ssl.principal.mapping.rules", str, "DEFAULT"),
    # SASL (also per listener: listener.name.<listener>.sasl.enabled.mechanisms,
    # listener.name.<listener>.<mechanism>.sasl.jaas.config)
    _d("sasl.enabled.mechanisms", str, "GSSAPI"),
    _d("sasl.mechanism.inter.broker.protocol", str, "GSSAPI"),
    _d("sasl.jaas.config", str, None),
    _d("connections.max.reauth.ms", int, 0),
    _d("connection.failed.authentication.delay.ms", int, 100),
    # connection limits
    _d("max.connections", int, 2147483647),
    _d("max.connections.per.ip", int, 2147483647),
    _d("max.connections.per.ip.overrides", str, ""),
    _d("host.name", str, ""),
    _d("port", int, 9092),
    _d("broker.rack", str, None),
    _d("num.network.threads", int, 3),
    _d("num.io.threads", int, 8),
    _d("socket.send.buffer.bytes", int, 102400),
    _d("socket.receive.buffer.bytes", int, 102400),
    _d("socket.request.max.bytes", int, 104857600),
    _d("queued.max.requests", int, 500),
    _d("connections.max.idle.ms", int, 600000),
    # observability (kafkalite's own: Kafka serves these through JMX and separate tools)
    _d("metrics.listener", lambda v: _http_listener(v, "metrics.listener"), None,
       "http://host:port for GET /metrics (Prometheus)"),
    _d("console.listener", lambda v: _http_listener(v, "console.listener"), None,
       "http://host:port for the web console"),
    _d("console.read.only", _bool, True),
    _d("log.dirs", _list, None),
    _d("log.dir", _list, ["/tmp/kafka-logs"]),
    _d("num.partitions", int, 1),
    _d("default.replication.factor", int, 1),
    _d("num.recovery.threads.per.data.dir", int, 1),
    _d("offsets.topic.replication.factor", int, 3),
    _d("offsets.topic.num.partitions", int, 50),
    _d("offsets.topic.segment.bytes", int, 104857600),
    _d("offsets.retention.minutes", int, 10080),
    _d("offset.metadata.max.bytes", int, 4096),
    _d("transaction.state.log.replication.factor", int, 3),
    _d("transaction.state.log.min.isr", int, 2),
    _d("transaction.max.timeout.ms", int, 900000),
    _d("transaction.state.log.num.partitions", int, 50),
    _d("transaction.state.log.segment.bytes", int, 104857600),
    _d("transactional.id.expiration.ms", int, 604800000),
    _d("transaction.abort.timed.out.transaction.cleanup.interval.ms", int, 10000),
    _d("transaction.remove.expired.transaction.cleanup.interval.ms", int, 3600000),
    _d("producer.id.expiration.ms", int, 86400000),
    _d("producer.id.expiration.check.interval.ms", int, 600000),
    _d("log.flush.interval.messages", int, _LONG_MAX),
    _d("log.flush.interval.ms", int, None),
    _d("log.flush.scheduler.interval.ms", int, _LONG_MAX),
    _d("log.retention.hours", int, 168),
    _d("log.retention.minutes", int, None),
    _d("log.retention.ms", int, None),
    _d("log.retention.bytes", int, -1),
    _d("log.segment.bytes", int, 1073741824),
    _d("log.roll.hours", int, 168),
    _d("log.roll.ms", int, None),
    _d("log.retention.check.interval.ms", int, 300000),
    _d("log.segment.delete.delay.ms", int, 60000),
    _d("log.index.interval.bytes", int, 4096),
    _d("log.index.size.max.bytes", int, 10485760),
    _d("log.cleanup.policy", _list, ["delete"]),
    _d("log.cleaner.enable", _bool, True),
    _d("log.cleaner.backoff.ms", int, 15000),
    _d("log.cleaner.threads", int, 1),
    _d("log.cleaner.dedupe.buffer.size", int, 134217728),
    _d("log.cleaner.delete.retention.ms", int, 86400000),
    _d("log.cleaner.min.cleanable.ratio", float, 0.5),
    _d("log.cleaner.min.compaction.lag.ms", int, 0),
    _d("log.cleaner.max.compaction.lag.ms", int, _LONG_MAX),
    _d("log.message.timestamp.type", str, "CreateTime"),
    _d("message.max.bytes", int, 1048588),
    _d("min.insync.replicas", int, 1),
    _d("unclean.leader.election.enable", _bool, False),
    _d("auto.create.topics.enable", _bool, True),
    _d("delete.topic.enable", _bool, True),
    _d("compression.type", str, "producer"),
    _d("zookeeper.connect", str, None),
    _d("zookeeper.connection.timeout.ms", int, None),
    _d("zookeeper.session.timeout.ms", int, 18000),
    _d("zookeeper.set.acl", _bool, False),
    _d("zookeeper.max.in.flight.requests", int, 10),
    # TLS to ZooKeeper's secureClientPort (KIP-515); read raw by kafkalite.security.zk_client
    _d("zookeeper.ssl.client.enable", _bool, False),
    _d("zookeeper.clientCnxnSocket", str, None),
    _d("zookeeper.ssl.keystore.location", str, None),
    _d("zookeeper.ssl.keystore.password", str, None),
    _d("zookeeper.ssl.keystore.type", str, None),
    _d("zookeeper.ssl.truststore.location", str, None),
    _d("zookeeper.ssl.truststore.password", str, None),
    _d("zookeeper.ssl.truststore.type", str, None),
    _d("zookeeper.ssl.protocol", str, "TLSv1.2"),
    _d("zookeeper.ssl.enabled.protocols", str, None),
    _d("zookeeper.ssl.cipher.suites", str, None),
    _d("zookeeper.ssl.endpoint.identification.enable", _bool, True),
    _d("zookeeper.ssl.crl.enable", _bool, False),
    _d("zookeeper.ssl.ocsp.enable", _bool, False),
    _d("controlled.shutdown.enable", _bool, True),
    _d("controlled.shutdown.max.retries", int, 3),
    _d("controlled.shutdown.retry.backoff.ms", int, 5000),
    _d("controller.socket.timeout.ms", int, 30000),
    _d("auto.leader.rebalance.enable", _bool, True),
    _d("leader.imbalance.check.interval.seconds", int, 300),
    _d("leader.imbalance.per.broker.percentage", int, 10),
    _d("replica.lag.time.max.ms", int, 30000),
    _d("replica.fetch.max.bytes", int, 1048576),
    _d("replica.fetch.wait.max.ms", int, 500),
    _d("replica.fetch.min.bytes", int, 1),
    _d("replica.fetch.response.max.bytes", int, 10485760),
    _d("replica.socket.timeout.ms", int, 30000),
    _d("num.replica.fetchers", int, 1),
    _d("replica.high.watermark.checkpoint.interval.ms", int, 5000),
    _d("fetch.max.bytes", int, 57671680),
    _d("max.incremental.fetch.session.cache.slots", int, 1000),
    _d("group.initial.rebalance.delay.ms", int, 3000),
    _d("group.min.session.timeout.ms", int, 6000),
    _d("group.max.session.timeout.ms", int, 1800000),
    _d("group.max.size", int, 2147483647),
    _d("request.timeout.ms", int, 30000),
    _d("cluster.id", str, None),
    # Authorization: AclAuthorizer's own keys (kafkalite.security.service)
    _d("authorizer.class.name", str, ""),
    _d("super.users", str, ""),
    _d("allow.everyone.if.no.acl.found", _bool, False),
]}

_UNIT_MS = {"ms": 1, "minutes": 60_000, "hours": 3_600_000}


# Topic-level configs: name -> (server default key or None, parser, Kafka default).
TOPIC_CONFIGS: dict[str, tuple[str | None, Callable[[str], Any], Any]] = {
    "cleanup.policy": ("log.cleanup.policy", _list, ["delete"]),
    "compression.type": ("compression.type", str, "producer"),
    "delete.retention.ms": ("log.cleaner.delete.retention.ms", int, 86400000),
    "file.delete.delay.ms": ("log.segment.delete.delay.ms", int, 60000),
    "flush.messages": ("log.flush.interval.messages", int, _LONG_MAX),
    "flush.ms": ("log.flush.interval.ms", int, _LONG_MAX),
    "index.interval.bytes": ("log.index.interval.bytes", int, 4096),
    "max.message.bytes": ("message.max.bytes", int, 1048588),
    "message.timestamp.type": ("log.message.timestamp.type", str, "CreateTime"),
    "message.timestamp.difference.max.ms": (None, int, _LONG_MAX),
    "min.cleanable.dirty.ratio": ("log.cleaner.min.cleanable.ratio", float, 0.5),
    "min.compaction.lag.ms": ("log.cleaner.min.compaction.lag.ms", int, 0),
    "max.compaction.lag.ms": ("log.cleaner.max.compaction.lag.ms", int, _LONG_MAX),
    "min.insync.replicas": ("min.insync.replicas", int, 1),
    "preallocate": (None, _bool, False),
    "retention.bytes": ("log.retention.bytes", int, -1),
    "retention.ms": (None, int, 604800000),
    "segment.bytes": ("log.segment.bytes", int, 1073741824),
    "segment.index.bytes": ("log.index.size.max.bytes", int, 10485760),
    "segment.jitter.ms": (None, int, 0),
    "segment.ms": (None, int, 604800000),
    "unclean.leader.election.enable": ("unclean.leader.election.enable", _bool, False),
    "message.downconversion.enable": (None, _bool, True),
}


def topic_config_default(name: str) -> Any:
    return TOPIC_CONFIGS[name][2]


def parse_properties(text: str) -> dict[str, str]:
    """Java-properties subset: ``k=v`` / ``k: v`` / ``k v``, ``#``/``!`` comments, ``\\`` joins."""
    out: dict[str, str] = {}
    pending = ""
    for raw in text.splitlines():
        line = pending + raw.strip() if pending else raw.strip()
        pending = ""
        if not line or line[0] in "#!":
            continue
        if line.endswith("\\") and not line.endswith("\\\\"):
            pending = line[:-1]
            continue
        m = re.match(r"^((?:\\.|[^=:\s])+)\s*[=:\s]\s*(.*)$", line)
        if m:
            key, value = m.group(1), m.group(2)
        else:
            key, value = line, ""
        out[key.replace("\\", "")] = value.strip()
    return out


def load_properties(path: str) -> dict[str, str]:
    try:
        with open(path, encoding="utf-8") as f:
            return parse_properties(f.read())
    except OSError as e:
        raise ConfigError(f"cannot read {path}: {e.strerror}") from None


SECURITY_PROTOCOLS = ("PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL")
_LISTENER_PREFIX = re.compile(r"^listener\.name\.([a-z0-9_]+)\.(.+)$")


def parse_listeners(value: str, protocol_map: Mapping[str, str]) -> tuple[BrokerEndpoint, ...]:
    """``PLAINTEXT://host:9092,CLIENT://:9093`` -> endpoints (empty host = all interfaces)."""
    eps = []
    for item in _list(value):
        m = re.match(r"^([A-Za-z0-9_]+)://(\[[^\]]*\]|[^:/]*):(-?\d+)$", item)
        if not m:
            raise ConfigError(f"Invalid listener {item!r}: expected NAME://host:port")
        name = m.group(1).upper()
        host = m.group(2).strip("[]")
        proto = protocol_map.get(name)
        if proto is None:
            raise ConfigError(f"No security protocol defined for listener {name}")
        if proto not in SECURITY_PROTOCOLS:
            raise ConfigError(f"listener {name}: unknown security protocol {proto} (expected "
                              f"one of {', '.join(SECURITY_PROTOCOLS)})")
        eps.append(BrokerEndpoint(listener=name, host=host, port=int(m.group(3)),
                                  security_protocol=proto))
    if len({e.listener for e in eps}) != len(eps):
        raise ConfigError(f"Each listener must have a different name: {value}")
    return tuple(eps)


@attrs.define
class ServerConfig:
    """Parsed broker configuration; ``values`` holds every known key, typed."""

    values: dict[str, Any]
    originals: dict[str, str]
    unknown: list[str] = attrs.field(factory=list)
    # (the raw settings, the parsed listeners): asked on every replica fetch, through the
    # inter-broker listener, so parsed again only when the settings change.
    _listeners: tuple | None = attrs.field(default=None, init=False, eq=False, repr=False)

    def __getitem__(self, key: str) -> Any:
        return self.values[key]

    def get(self, key: str, default: Any = None) -> Any:
        return self.values.get(key, default)

    @property
    def broker_id(self) -> int:
        return self.values["broker.id"]

    @property
    def log_dirs(self) -> list[str]:
        return self.values["log.dirs"] or self.values["log.dir"]

    @property
    def protocol_map(self) -> dict[str, str]:
        out = {}
        for item in _list(self.values["listener.security.protocol.map"]):
            name, _, proto = item.partition(":")
            out[name.strip().upper()] = proto.strip().upper()
        return out

    @property
    def listeners(self) -> tuple[BrokerEndpoint, ...]:
        key = (self.values["listeners"], self.values["listener.security.protocol.map"])
        cached = self._listeners
        if cached is None or cached[0] != key:
            cached = self._listeners = (key, parse_listeners(key[0], self.protocol_map))
        return cached[1]

    @property
    def advertised_listeners(self) -> tuple[BrokerEndpoint, ...]:
        adv = self.values["advertised.listeners"]
        return parse_listeners(adv, self.protocol_map) if adv else self.listeners

    def listener_value(self, listener: str, key: str) -> Any:
        """``listener.name.<listener>.<key>`` if set (Kafka's per-listener overrides; the
        listener name lower-cased), else the broker-wide ``key``. Values of keys that are
        not in the table come back as the raw strings."""
        raw = self.originals.get(f"listener.name.{listener.lower()}.{key}")
        d = BROKER_CONFIGS.get(key)
        if raw is not None:
            return d.parse(raw) if d is not None else raw
        if d is not None:
            return self.values[key]
        return self.originals.get(key)

    def security_protocol(self, listener: str) -> str:
        return self.protocol_map.get(listener.upper(), "PLAINTEXT")

    @property
    def retention_ms(self) -> int:
        for key in ("log.retention.ms", "log.retention.minutes", "log.retention.hours"):
            v = self.values[key]
            if v is not None:
                return v * _UNIT_MS[key.rsplit(".", 1)[1]]
        raise AssertionError("log.retention.hours has a default")

    @property
    def roll_ms(self) -> int:
        if self.values["log.roll.ms"] is not None:
            return self.values["log.roll.ms"]
        return self.values["log.roll.hours"] * 3_600_000

    @property
    def session_timeout_ms(self) -> int:
        return self.values["zookeeper.session.timeout.ms"]

    @property
    def connection_timeout_ms(self) -> int:
        v = self.values["zookeeper.connection.timeout.ms"]
        return v if v is not None else self.session_timeout_ms

    def topic_defaults(self) -> dict[str, Any]:
        """Topic-level defaults derived from the broker's ``log.*`` settings."""
        out = {}
        for name, (server_key, _parse, default) in TOPIC_CONFIGS.items():
            value = self.values.get(server_key) if server_key else None
            out[name] = default if value is None else value
        out["retention.ms"] = self.retention_ms
        out["segment.ms"] = self.roll_ms
        return out


def parse_server_config(props: Mapping[str, str],
                        overrides: Iterable[str] = ()) -> ServerConfig:
    """Type-check ``props`` (plus ``--override k=v`` items) against Kafka's broker configs."""
    merged = dict(props)
    for item in overrides:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise ConfigError(f"Invalid --override {item!r}: expected key=value")
        merged[key.strip()] = value.strip()
    values: dict[str, Any] = {name: d.default for name, d in BROKER_CONFIGS.items()}
    unknown = []
    for key, raw in merged.items():
        d = BROKER_CONFIGS.get(key)
        if d is None:
            # a Kafka 2.8 broker config kafkalite does not use is known, not "unknown"
            if not _LISTENER_PREFIX.match(key) and key not in KAFKA_BROKER_CONFIGS:
                unknown.append(key)
            continue
        try:
            values[key] = d.parse(raw)
        except ValueError as e:
            raise ConfigError(f"Invalid value {raw!r} for configuration {key}: {e}") from None
    if not values["zookeeper.connect"]:
        raise ConfigError("Missing required configuration \"zookeeper.connect\" which has no "
                          "default value.")
    if values["message.max.bytes"] < 0 or values["socket.request.max.bytes"] <= 0:
        raise ConfigError("message.max.bytes and socket.request.max.bytes must be positive")
    cfg = ServerConfig(values=values, originals=merged, unknown=sorted(unknown))
    cfg.listeners  # validate early  # noqa: B018
    cfg.advertised_listeners  # noqa: B018
    return cfg
