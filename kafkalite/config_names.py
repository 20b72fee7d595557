"""Every broker config name Apache Kafka 2.8 knows, with its type, default and update mode.

One data table, used wherever a broker config name is judged: ``server.properties`` parsing
(a Kafka name is never "unknown"), AlterConfigs / IncrementalAlterConfigs on a broker resource
(which names may change dynamically, per broker or cluster-wide) and DescribeConfigs (every
config of a broker, its type, whether it is read-only or sensitive).

Sources of the facts (Kafka 2.8, ZooKeeper mode):

* the names, types and defaults are ``KafkaConfig``'s ConfigDef, the list a 2.8.0 broker logs
  at start-up under ``KafkaConfig values:``;
* the update mode is ``DynamicBrokerConfig.dynamicConfigUpdateModes`` (the "Dynamic Update Mode"
  column of Kafka's broker-config docs): a name is dynamic when it is in
  ``DynamicBrokerConfig.AllDynamicConfigs`` (TLS keystores and truststores, ``LogCleaner``,
  ``DynamicLogConfig``, ``DynamicThreadPool``, ``metric.reporters``,
  ``DynamicListenerConfig``, the ``SocketServer`` connection quotas); ``per-broker`` names
  (``DynamicListenerConfig`` and the TLS stores, except ``max.connections`` and
  ``max.connection.creation.rate``) may not be set as the cluster-wide default;
* :data:`LISTENER_PREFIX_ONLY` are the TLS store configs Kafka only takes dynamically with a
  ``listener.name.<listener>.`` prefix (``SslConfigs.RECONFIGURABLE_CONFIGS``);
* :data:`DYNAMIC_ONLY` are ``DynamicConfig.Broker``'s own names (replication throttles), which
  are not ``KafkaConfig`` names at all.

The rules that use this table are in :mod:`kafkalite.server.config_manager`. Pure data: no
imports beyond the standard library, so every layer may read it.
"""

from __future__ import annotations

from typing import NamedTuple

__all__ = [
    "KafkaBrokerConfig", "KAFKA_BROKER_CONFIGS", "DYNAMIC_ONLY", "LISTENER_PREFIX_ONLY",
    "CLUSTER_LEVEL_LISTENER_CONFIGS", "READ_ONLY", "PER_BROKER", "CLUSTER_WIDE",
    "is_password_name",
]

READ_ONLY, PER_BROKER, CLUSTER_WIDE = "read-only", "per-broker", "cluster-wide"

_INT_MAX = 2**31 - 1
_LONG_MAX = 2**63 - 1
_DOUBLE_MAX = "1.7976931348623157E308"


class KafkaBrokerConfig(NamedTuple):
    """One Kafka broker config: ConfigDef type name, default as Kafka prints it (None: no
    default), update mode, and the validator bounds Kafka checks."""

    name: str
    type: str
    default: str | None
    mode: str = READ_ONLY
    at_least: float | None = None
    at_most: float | None = None
    one_of: tuple[str, ...] = ()


def _table(*rows: tuple) -> dict[str, KafkaBrokerConfig]:
    out: dict[str, KafkaBrokerConfig] = {}
    for row in rows:
        entry = KafkaBrokerConfig(*row)
        out[entry.name] = entry
    return out


_RO, _PB, _CW = READ_ONLY, PER_BROKER, CLUSTER_WIDE
_COMPRESSION = ("uncompressed", "zstd", "lz4", "snappy", "gzip", "producer")
_TIMESTAMP_TYPES = ("CreateTime", "LogAppendTime")
_POLICIES = ("compact", "delete")

#: name -> KafkaBrokerConfig for all of Kafka 2.8's ``KafkaConfig`` names (sorted).
KAFKA_BROKER_CONFIGS: dict[str, KafkaBrokerConfig] = _table(
    ("advertised.host.name", "STRING", None),
    ("advertised.listeners", "STRING", None, _PB),
    ("advertised.port", "INT", None),
    ("alter.config.policy.class.name", "CLASS", None),
    ("alter.log.dirs.replication.quota.window.num", "INT", "11", _RO, 1),
    ("alter.log.dirs.replication.quota.window.size.seconds", "INT", "1", _RO, 1),
    ("authorizer.class.name", "STRING", ""),
    ("auto.create.topics.enable", "BOOLEAN", "true"),
    ("auto.leader.rebalance.enable", "BOOLEAN", "true"),
    ("background.threads", "INT", "10", _CW, 1),
    ("broker.heartbeat.interval.ms", "INT", "2000"),
    ("broker.id", "INT", "-1"),
    ("broker.id.generation.enable", "BOOLEAN", "true"),
    ("broker.rack", "STRING", None),
    ("broker.session.timeout.ms", "INT", "9000"),
    ("client.quota.callback.class", "CLASS", None),
    ("compression.type", "STRING", "producer", _CW, None, None, _COMPRESSION),
    ("connection.failed.authentication.delay.ms", "INT", "100", _RO, 0),
    ("connections.max.idle.ms", "LONG", "600000"),
    ("connections.max.reauth.ms", "LONG", "0"),
    ("control.plane.listener.name", "STRING", None),
    ("controlled.shutdown.enable", "BOOLEAN", "true"),
    ("controlled.shutdown.max.retries", "INT", "3"),
    ("controlled.shutdown.retry.backoff.ms", "LONG", "5000"),
    ("controller.listener.names", "STRING", None),
    ("controller.quorum.append.linger.ms", "INT", "25"),
    ("controller.quorum.election.backoff.max.ms", "INT", "1000"),
    ("controller.quorum.election.timeout.ms", "INT", "1000"),
    ("controller.quorum.fetch.timeout.ms", "INT", "2000"),
    ("controller.quorum.request.timeout.ms", "INT", "2000"),
    ("controller.quorum.retry.backoff.ms", "INT", "20"),
    ("controller.quorum.voters", "LIST", ""),
    ("controller.quota.window.num", "INT", "11", _RO, 1),
    ("controller.quota.window.size.seconds", "INT", "1", _RO, 1),
    ("controller.socket.timeout.ms", "INT", "30000"),
    ("create.topic.policy.class.name", "CLASS", None),
    ("default.replication.factor", "INT", "1"),
    ("delegation.token.expiry.check.interval.ms", "LONG", "3600000", _RO, 1),
    ("delegation.token.expiry.time.ms", "LONG", "86400000", _RO, 1),
    ("delegation.token.master.key", "PASSWORD", None),
    ("delegation.token.max.lifetime.ms", "LONG", "604800000", _RO, 1),
    ("delegation.token.secret.key", "PASSWORD", None),
    ("delete.records.purgatory.purge.interval.requests", "INT", "1"),
    ("delete.topic.enable", "BOOLEAN", "true"),
    ("fetch.max.bytes", "INT", "57671680", _RO, 1024),
    ("fetch.purgatory.purge.interval.requests", "INT", "1000"),
    ("group.initial.rebalance.delay.ms", "INT", "3000"),
    ("group.max.session.timeout.ms", "INT", "1800000"),
    ("group.max.size", "INT", str(_INT_MAX), _RO, 1),
    ("group.min.session.timeout.ms", "INT", "6000"),
    ("host.name", "STRING", ""),
    ("initial.broker.registration.timeout.ms", "INT", "60000"),
    ("inter.broker.listener.name", "STRING", None),
    ("inter.broker.protocol.version", "STRING", "2.8-IV1"),
    ("kafka.metrics.polling.interval.secs", "INT", "10", _RO, 1),
    ("kafka.metrics.reporters", "LIST", ""),
    ("leader.imbalance.check.interval.seconds", "LONG", "300"),
    ("leader.imbalance.per.broker.percentage", "INT", "10"),
    ("listener.security.protocol.map", "STRING",
     "PLAINTEXT:PLAINTEXT,SSL:SSL,SASL_PLAINTEXT:SASL_PLAINTEXT,SASL_SSL:SASL_SSL", _PB),
    ("listeners", "STRING", None, _PB),
    ("log.cleaner.backoff.ms", "LONG", "15000", _CW, 0),
    ("log.cleaner.dedupe.buffer.size", "LONG", "134217728", _CW),
    ("log.cleaner.delete.retention.ms", "LONG", "86400000", _CW),
    ("log.cleaner.enable", "BOOLEAN", "true"),
    ("log.cleaner.io.buffer.load.factor", "DOUBLE", "0.9", _CW),
    ("log.cleaner.io.buffer.size", "INT", "524288", _CW, 0),
    ("log.cleaner.io.max.bytes.per.second", "DOUBLE", _DOUBLE_MAX, _CW),
    ("log.cleaner.max.compaction.lag.ms", "LONG", str(_LONG_MAX), _CW, 1),
    ("log.cleaner.min.cleanable.ratio", "DOUBLE", "0.5", _CW, 0, 1),
    ("log.cleaner.min.compaction.lag.ms", "LONG", "0", _CW, 0),
    ("log.cleaner.threads", "INT", "1", _CW, 0),
    ("log.cleanup.policy", "LIST", "delete", _CW, None, None, _POLICIES),
    ("log.dir", "STRING", "/tmp/kafka-logs"),
    ("log.dirs", "STRING", None),
    ("log.flush.interval.messages", "LONG", str(_LONG_MAX), _CW, 1),
    ("log.flush.interval.ms", "LONG", None, _CW),
    ("log.flush.offset.checkpoint.interval.ms", "INT", "60000", _RO, 0),
    ("log.flush.scheduler.interval.ms", "LONG", str(_LONG_MAX)),
    ("log.flush.start.offset.checkpoint.interval.ms", "INT", "60000", _RO, 0),
    ("log.index.interval.bytes", "INT", "4096", _CW, 0),
    ("log.index.size.max.bytes", "INT", "10485760", _CW, 4),
    ("log.message.downconversion.enable", "BOOLEAN", "true", _CW),
    ("log.message.format.version", "STRING", "2.8-IV1"),
    ("log.message.timestamp.difference.max.ms", "LONG", str(_LONG_MAX), _CW),
    ("log.message.timestamp.type", "STRING", "CreateTime", _CW, None, None, _TIMESTAMP_TYPES),
    ("log.preallocate", "BOOLEAN", "false", _CW),
    ("log.retention.bytes", "LONG", "-1", _CW),
    ("log.retention.check.interval.ms", "LONG", "300000", _RO, 1),
    ("log.retention.hours", "INT", "168"),
    ("log.retention.minutes", "INT", None),
    ("log.retention.ms", "LONG", None, _CW),
    ("log.roll.hours", "INT", "168", _RO, 1),
    ("log.roll.jitter.hours", "INT", "0", _RO, 0),
    ("log.roll.jitter.ms", "LONG", None, _CW),
    ("log.roll.ms", "LONG", None, _CW),
    ("log.segment.bytes", "INT", "1073741824", _CW, 14),
    ("log.segment.delete.delay.ms", "LONG", "60000", _CW, 0),
    ("max.connection.creation.rate", "INT", str(_INT_MAX), _CW, 0),
    ("max.connections", "INT", str(_INT_MAX), _CW, 0),
    ("max.connections.per.ip", "INT", str(_INT_MAX), _CW, 0),
    ("max.connections.per.ip.overrides", "STRING", "", _CW),
    ("max.incremental.fetch.session.cache.slots", "INT", "1000", _RO, 0),
    ("message.max.bytes", "INT", "1048588", _CW, 0),
    ("metadata.log.dir", "STRING", None),
    ("metric.reporters", "LIST", "", _CW),
    ("metrics.num.samples", "INT", "2", _RO, 1),
    ("metrics.recording.level", "STRING", "INFO"),
    ("metrics.sample.window.ms", "LONG", "30000", _RO, 1),
    ("min.insync.replicas", "INT", "1", _CW, 1),
    ("node.id", "INT", "-1"),
    ("num.io.threads", "INT", "8", _CW, 1),
    ("num.network.threads", "INT", "3", _CW, 1),
    ("num.partitions", "INT", "1", _RO, 1),
    ("num.recovery.threads.per.data.dir", "INT", "1", _CW, 1),
    ("num.replica.alter.log.dirs.threads", "INT", None),
    ("num.replica.fetchers", "INT", "1", _CW),
    ("offset.metadata.max.bytes", "INT", "4096"),
    ("offsets.commit.required.acks", "SHORT", "-1"),
    ("offsets.commit.timeout.ms", "INT", "5000", _RO, 1),
    ("offsets.load.buffer.size", "INT", "5242880", _RO, 1),
    ("offsets.retention.check.interval.ms", "LONG", "600000", _RO, 1),
    ("offsets.retention.minutes", "INT", "10080", _RO, 1),
    ("offsets.topic.compression.codec", "INT", "0"),
    ("offsets.topic.num.partitions", "INT", "50", _RO, 1),
    ("offsets.topic.replication.factor", "SHORT", "3", _RO, 1),
    ("offsets.topic.segment.bytes", "INT", "104857600", _RO, 1),
    ("password.encoder.cipher.algorithm", "STRING", "AES/CBC/PKCS5Padding"),
    ("password.encoder.iterations", "INT", "4096", _RO, 1024),
    ("password.encoder.key.length", "INT", "128", _RO, 8),
    ("password.encoder.keyfactory.algorithm", "STRING", None),
    ("password.encoder.old.secret", "PASSWORD", None),
    ("password.encoder.secret", "PASSWORD", None),
    ("port", "INT", "9092"),
    ("principal.builder.class", "CLASS", None, _PB),
    ("process.roles", "LIST", ""),
    ("producer.purgatory.purge.interval.requests", "INT", "1000"),
    ("queued.max.request.bytes", "LONG", "-1"),
    ("queued.max.requests", "INT", "500", _RO, 1),
    ("quota.consumer.default", "LONG", str(_LONG_MAX), _RO, 1),
    ("quota.producer.default", "LONG", str(_LONG_MAX), _RO, 1),
    ("quota.window.num", "INT", "11", _RO, 1),
    ("quota.window.size.seconds", "INT", "1", _RO, 1),
    ("replica.fetch.backoff.ms", "INT", "1000", _RO, 0),
    ("replica.fetch.max.bytes", "INT", "1048576", _RO, 0),
    ("replica.fetch.min.bytes", "INT", "1"),
    ("replica.fetch.response.max.bytes", "INT", "10485760", _RO, 0),
    ("replica.fetch.wait.max.ms", "INT", "500"),
    ("replica.high.watermark.checkpoint.interval.ms", "LONG", "5000"),
    ("replica.lag.time.max.ms", "LONG", "30000"),
    ("replica.selector.class", "STRING", None),
    ("replica.socket.receive.buffer.bytes", "INT", "65536"),
    ("replica.socket.timeout.ms", "INT", "30000"),
    ("replication.quota.window.num", "INT", "11", _RO, 1),
    ("replication.quota.window.size.seconds", "INT", "1", _RO, 1),
    ("request.timeout.ms", "INT", "30000"),
    ("reserved.broker.max.id", "INT", "1000", _RO, 0),
    ("sasl.client.callback.handler.class", "CLASS", None),
    ("sasl.enabled.mechanisms", "LIST", "GSSAPI", _PB),
    ("sasl.jaas.config", "PASSWORD", None, _PB),
    ("sasl.kerberos.kinit.cmd", "STRING", "/usr/bin/kinit", _PB),
    ("sasl.kerberos.min.time.before.relogin", "LONG", "60000", _PB),
    ("sasl.kerberos.principal.to.local.rules", "LIST", "DEFAULT", _PB),
    ("sasl.kerberos.service.name", "STRING", None, _PB),
    ("sasl.kerberos.ticket.renew.jitter", "DOUBLE", "0.05", _PB),
    ("sasl.kerberos.ticket.renew.window.factor", "DOUBLE", "0.8", _PB),
    ("sasl.login.callback.handler.class", "CLASS", None),
    ("sasl.login.class", "CLASS", None),
    ("sasl.login.refresh.buffer.seconds", "SHORT", "300", _PB),
    ("sasl.login.refresh.min.period.seconds", "SHORT", "60", _PB),
    ("sasl.login.refresh.window.factor", "DOUBLE", "0.8", _PB),
    ("sasl.login.refresh.window.jitter", "DOUBLE", "0.05", _PB),
    ("sasl.mechanism.controller.protocol", "STRING", "GSSAPI"),
    ("sasl.mechanism.inter.broker.protocol", "STRING", "GSSAPI", _PB),
    ("sasl.server.callback.handler.class", "CLASS", None),
    ("security.inter.broker.protocol", "STRING", "PLAINTEXT"),
    ("security.providers", "STRING", None),
    ("socket.connection.setup.timeout.max.ms", "LONG", "30000"),
    ("socket.connection.setup.timeout.ms", "LONG", "10000"),
    ("socket.receive.buffer.bytes", "INT", "102400"),
    ("socket.request.max.bytes", "INT", "104857600", _RO, 1),
    ("socket.send.buffer.bytes", "INT", "102400"),
    ("ssl.cipher.suites", "LIST", "", _PB),
    ("ssl.client.auth", "STRING", "none", _PB, None, None, ("required", "requested", "none")),
    ("ssl.enabled.protocols", "LIST", "TLSv1.2,TLSv1.3", _PB),
    ("ssl.endpoint.identification.algorithm", "STRING", "https", _PB),
    ("ssl.engine.factory.class", "CLASS", None, _PB),
    ("ssl.key.password", "PASSWORD", None, _PB),
    ("ssl.keymanager.algorithm", "STRING", "SunX509", _PB),
    ("ssl.keystore.certificate.chain", "PASSWORD", None, _PB),
    ("ssl.keystore.key", "PASSWORD", None, _PB),
    ("ssl.keystore.location", "STRING", None, _PB),
    ("ssl.keystore.password", "PASSWORD", None, _PB),
    ("ssl.keystore.type", "STRING", "JKS", _PB),
    ("ssl.principal.mapping.rules", "STRING", "DEFAULT"),
    ("ssl.protocol", "STRING", "TLSv1.3", _PB),
    ("ssl.provider", "STRING", None, _PB),
    ("ssl.secure.random.implementation", "STRING", None, _PB),
    ("ssl.trustmanager.algorithm", "STRING", "PKIX", _PB),
    ("ssl.truststore.certificates", "PASSWORD", None, _PB),
    ("ssl.truststore.location", "STRING", None, _PB),
    ("ssl.truststore.password", "PASSWORD", None, _PB),
    ("ssl.truststore.type", "STRING", "JKS", _PB),
    ("transaction.abort.timed.out.transaction.cleanup.interval.ms", "INT", "10000", _RO, 1),
    ("transaction.max.timeout.ms", "INT", "900000", _RO, 1),
    ("transaction.remove.expired.transaction.cleanup.interval.ms", "INT", "3600000", _RO, 1),
    ("transaction.state.log.load.buffer.size", "INT", "5242880", _RO, 1),
    ("transaction.state.log.min.isr", "INT", "2", _RO, 1),
    ("transaction.state.log.num.partitions", "INT", "50", _RO, 1),
    ("transaction.state.log.replication.factor", "SHORT", "3", _RO, 1),
    ("transaction.state.log.segment.bytes", "INT", "104857600", _RO, 1),
    ("transactional.id.expiration.ms", "INT", "604800000", _RO, 1),
    ("unclean.leader.election.enable", "BOOLEAN", "false", _CW),
    ("zookeeper.clientCnxnSocket", "STRING", None),
    ("zookeeper.connect", "STRING", None),
    ("zookeeper.connection.timeout.ms", "INT", None),
    ("zookeeper.max.in.flight.requests", "INT", "10", _RO, 1),
    ("zookeeper.session.timeout.ms", "INT", "18000"),
    ("zookeeper.set.acl", "BOOLEAN", "false"),
    ("zookeeper.ssl.cipher.suites", "LIST", None),
    ("zookeeper.ssl.client.enable", "BOOLEAN", "false"),
    ("zookeeper.ssl.crl.enable", "BOOLEAN", "false"),
    ("zookeeper.ssl.enabled.protocols", "LIST", None),
    ("zookeeper.ssl.endpoint.identification.algorithm", "STRING", "HTTPS"),
    ("zookeeper.ssl.keystore.location", "STRING", None),
    ("zookeeper.ssl.keystore.password", "PASSWORD", None),
    ("zookeeper.ssl.keystore.type", "STRING", None),
    ("zookeeper.ssl.ocsp.enable", "BOOLEAN", "false"),
    ("zookeeper.ssl.protocol", "STRING", "TLSv1.2"),
    ("zookeeper.ssl.truststore.location", "STRING", None),
    ("zookeeper.ssl.truststore.password", "PASSWORD", None),
    ("zookeeper.ssl.truststore.type", "STRING", None),
    ("zookeeper.sync.time.ms", "INT", "2000"),
)

#: ``DynamicConfig.Broker``'s own dynamic names (not ``KafkaConfig`` names): replication
#: throttles, settable per broker or as the cluster default.
DYNAMIC_ONLY: dict[str, KafkaBrokerConfig] = _table(
    ("leader.replication.throttled.rate", "LONG", str(_LONG_MAX), _CW, 0),
    ("follower.replication.throttled.rate", "LONG", str(_LONG_MAX), _CW, 0),
    ("replica.alter.log.dirs.io.max.bytes.per.second", "LONG", str(_LONG_MAX), _CW, 0),
)

#: TLS store configs that are dynamic only with a ``listener.name.<listener>.`` prefix.
LISTENER_PREFIX_ONLY: frozenset[str] = frozenset({
    "ssl.keystore.type", "ssl.keystore.location", "ssl.keystore.password", "ssl.key.password",
    "ssl.truststore.type", "ssl.truststore.location", "ssl.truststore.password",
    "ssl.keystore.certificate.chain", "ssl.keystore.key", "ssl.truststore.certificates",
})

#: Listener configs that may also be set cluster-wide with a listener prefix.
CLUSTER_LEVEL_LISTENER_CONFIGS: frozenset[str] = frozenset({
    "max.connections", "max.connection.creation.rate"})

_DYNAMIC_PASSWORDS = tuple(sorted(
    name for name, c in KAFKA_BROKER_CONFIGS.items() if c.type == "PASSWORD" and c.mode != _RO))


def is_password_name(name: str) -> bool:
    """Kafka's ``DynamicBrokerConfig.isPasswordConfig``: the name ends with a dynamic password
    config name (so ``listener.name.x.ssl.keystore.password`` and
    ``listener.name.x.plain.sasl.jaas.config`` are passwords too)."""
    return name.endswith(_DYNAMIC_PASSWORDS)
