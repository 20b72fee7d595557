"""Kafka producer and consumer properties -> kafkalite client arguments, with Kafka's defaults.

The perf tests, the verifiable tools and the mirror maker take a Kafka client properties file
(``--producer.config``, ``--consumer.config``, ``--producer-props k=v``). These functions read
the keys kafkalite's client has an equivalent for, with the Java client's defaults (Kafka
2.8: ``acks=1``, ``linger.ms=0``, ``enable.idempotence=false``, ``session.timeout.ms=10000``,
``auto.offset.reset=latest``, ``enable.auto.commit=true``, ...); accept the Java-only keys
(serializers, socket buffers, interceptors ...) without effect; and warn, as Kafka does,
about keys nobody knows. Security keys (``security.protocol``, ``sasl.*``, ``ssl.*``) go to
:func:`kafkalite.cli.common.cluster_kwargs`.

Each result keeps the Cluster's and the client's arguments apart:
``Cluster(bootstrap, **options.cluster)`` and ``Producer(cluster, **options.producer)``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import attrs

from kafkalite.cli.common import CLIENT_SECURITY_KEYS, cluster_kwargs, parse_bool, parse_int, \
    warn_unknown
from kafkalite.client.assignors import assignor_for
from kafkalite.client.producer import parse_acks
from kafkalite.compression import CODEC_NAMES
from kafkalite.errors import ConfigError

__all__ = ["ClientOptions", "producer_options", "consumer_options", "PRODUCER_KEYS",
           "CONSUMER_KEYS"]

_COMMON_IGNORED = {
    "send.buffer.bytes", "receive.buffer.bytes", "reconnect.backoff.ms",
    "reconnect.backoff.max.ms", "connections.max.idle.ms", "client.dns.lookup",
    "interceptor.classes", "metric.reporters", "metrics.num.samples", "metrics.sample.window.ms",
    "metrics.recording.level", "socket.connection.setup.timeout.ms",
    "socket.connection.setup.timeout.max.ms", "client.rack",
}

#: Producer keys read here or accepted without effect.
PRODUCER_KEYS = frozenset({
    "bootstrap.servers", "client.id", "acks", "compression.type", "linger.ms", "batch.size",
    "enable.idempotence", "delivery.timeout.ms", "retries", "retry.backoff.ms",
    "max.request.size", "buffer.memory", "request.timeout.ms", "max.block.ms",
    "metadata.max.age.ms", "key.serializer", "value.serializer",
    "max.in.flight.requests.per.connection", "partitioner.class", "transactional.id",
    "transaction.timeout.ms", "producer.type",
}) | _COMMON_IGNORED | CLIENT_SECURITY_KEYS

#: Consumer keys read here or accepted without effect.
CONSUMER_KEYS = frozenset({
    "bootstrap.servers", "client.id", "group.id", "group.instance.id", "auto.offset.reset",
    "enable.auto.commit", "auto.commit.interval.ms", "isolation.level", "fetch.max.wait.ms",
    "fetch.min.bytes", "fetch.max.bytes", "max.partition.fetch.bytes", "check.crcs",
    "max.poll.records", "session.timeout.ms", "heartbeat.interval.ms", "max.poll.interval.ms",
    "partition.assignment.strategy", "allow.auto.create.topics", "request.timeout.ms",
    "default.api.timeout.ms", "retry.backoff.ms", "metadata.max.age.ms", "key.deserializer",
    "value.deserializer", "exclude.internal.topics",
}) | _COMMON_IGNORED | CLIENT_SECURITY_KEYS


@attrs.frozen
class ClientOptions:
    """``bootstrap`` (None when the properties have none), Cluster and client arguments."""

    bootstrap: str | None
    cluster: dict[str, Any]
    client: dict[str, Any]


def _reader(props: Mapping[str, str]):
    def integer(key: str, default: int) -> int:
        return parse_int(props[key], key=key) if key in props else default

    def boolean(key: str, default: bool) -> bool:
        return parse_bool(props[key], key=key) if key in props else default

    return integer, boolean


def producer_options(props: Mapping[str, str], *, client_id: str, warn: bool = True
                     ) -> ClientOptions:
    """Arguments for ``Cluster`` and ``Producer`` from producer properties.

    Args:
        props: the merged properties (config file, then command-line overrides).
        client_id: the tool's default ``client.id``.
        warn: print Kafka's warning for unknown keys on stderr.

    Raises:
        ConfigError: an invalid value (the message names the key).
    """
    if warn:
        warn_unknown(props, PRODUCER_KEYS)
    integer, boolean = _reader(props)
    compression = props.get("compression.type", "none").strip().lower()
    if compression not in CODEC_NAMES:
        raise ConfigError(f"Invalid value {compression} for configuration compression.type: "
                          f"String must be one of: {', '.join(CODEC_NAMES)}")
    acks = parse_acks(props.get("acks", "1"))
    # Java takes max.block.ms=Long.MAX_VALUE (the mirror maker's default) as "forever".
    max_block_ms = min(integer("max.block.ms", 60_000), 2**31 - 1)
    cluster = cluster_kwargs(props, client_id=client_id)
    cluster.update(request_timeout_ms=integer("request.timeout.ms", 30_000),
                   retry_backoff_ms=integer("retry.backoff.ms", 100),
                   retry_timeout_ms=max_block_ms,
                   metadata_max_age_ms=integer("metadata.max.age.ms", 300_000))
    producer = {
        "acks": acks,
        "compression": compression,
        "linger_ms": integer("linger.ms", 0),
        "batch_size": integer("batch.size", 16_384),
        "enable_idempotence": boolean("enable.idempotence", False),
        "delivery_timeout_ms": integer("delivery.timeout.ms", 120_000),
        "retries": integer("retries", 2_147_483_647),
        "retry_backoff_ms": integer("retry.backoff.ms", 100),
        "max_request_size": integer("max.request.size", 1_048_576),
        "buffer_memory": integer("buffer.memory", 33_554_432),
    }
    return ClientOptions(props.get("bootstrap.servers"), cluster, producer)


def consumer_options(props: Mapping[str, str], *, client_id: str, warn: bool = True
                     ) -> ClientOptions:
    """Arguments for ``Cluster`` and ``Consumer`` from consumer properties.

    Raises:
        ConfigError: an invalid value (the message names the key).
    """
    if warn:
        warn_unknown(props, CONSUMER_KEYS)
    integer, boolean = _reader(props)
    reset = props.get("auto.offset.reset", "latest").strip().lower()
    if reset not in ("earliest", "latest", "none"):
        raise ConfigError(f"Invalid value {reset} for configuration auto.offset.reset: "
                          "String must be one of: latest, earliest, none")
    isolation = props.get("isolation.level", "read_uncommitted").strip().lower()
    if isolation not in ("read_uncommitted", "read_committed"):
        raise ConfigError(f"Invalid value {isolation} for configuration isolation.level: "
                          "String must be one of: read_committed, read_uncommitted")
    strategy = props.get("partition.assignment.strategy", "range")
    try:
        for name in strategy.split(","):
            if name.strip():
                assignor_for(name)
    except ValueError as exc:
        raise ConfigError(f"Invalid value {strategy} for configuration "
                          f"partition.assignment.strategy: {exc}") from None
    allow_create = boolean("allow.auto.create.topics", True)
    cluster = cluster_kwargs(props, client_id=client_id)
    cluster.update(request_timeout_ms=integer("request.timeout.ms", 30_000),
                   retry_backoff_ms=integer("retry.backoff.ms", 100),
                   retry_timeout_ms=integer("default.api.timeout.ms", 60_000),
                   metadata_max_age_ms=integer("metadata.max.age.ms", 300_000),
                   allow_auto_topic_creation=allow_create)
    group_id = (props.get("group.id") or "").strip() or None
    consumer = {
        "group_id": group_id,
        "group_instance_id": (props.get("group.instance.id") or "").strip() or None,
        "auto_offset_reset": reset,
        "isolation_level": isolation,
        "fetch_max_wait_ms": integer("fetch.max.wait.ms", 500),
        "fetch_min_bytes": integer("fetch.min.bytes", 1),
        "fetch_max_bytes": integer("fetch.max.bytes", 52_428_800),
        "max_partition_fetch_bytes": integer("max.partition.fetch.bytes", 1_048_576),
        "check_crcs": boolean("check.crcs", True),
        "allow_auto_create_topics": allow_create,
        "max_poll_records": integer("max.poll.records", 500),
        "enable_auto_commit": boolean("enable.auto.commit", True),
        "auto_commit_interval_ms": integer("auto.commit.interval.ms", 5_000),
        "partition_assignment_strategy": strategy,
        "session_timeout_ms": integer("session.timeout.ms", 10_000),
        "heartbeat_interval_ms": integer("heartbeat.interval.ms", 3_000),
        "max_poll_interval_ms": integer("max.poll.interval.ms", 300_000),
    }
    return ClientOptions(props.get("bootstrap.servers"), cluster, consumer)
