"""Per-log configuration: Kafka's topic-level log configs, snake_cased.

Field names map one to one onto Kafka's topic config names (``segment.bytes`` ->
``segment_bytes``); the broker-level ``log.*`` defaults are mapped to these by the server's config
code. Values are validated once, here at the boundary (construction), never in the append path.
``with_overrides`` applies topic overrides spelled the Kafka way (what ZooKeeper's
``/config/topics/<topic>`` and CreateTopics carry).
"""

from __future__ import annotations

from typing import Any, Mapping

import attrs

from kafkalite.errors import ConfigError

__all__ = ["LogConfig", "TOPIC_CONFIG_NAMES"]

_LONG_MAX = 2**63 - 1
_CLEANUP_POLICIES = frozenset({"delete", "compact", "compact,delete", "delete,compact"})
_TIMESTAMP_TYPES = frozenset({"CreateTime", "LogAppendTime"})


def _at_least(minimum: int):
    def check(instance, attribute, value):
        if value is not None and value < minimum:
            raise ConfigError(f"{attribute.name.replace('_', '.')} must be at least {minimum}, "
                              f"got {value}")
    return check


def _one_of(choices: frozenset[str]):
    def check(instance, attribute, value):
        if value not in choices:
            raise ConfigError(f"{attribute.name.replace('_', '.')} must be one of "
                              f"{sorted(choices)}, got {value!r}")
    return check


@attrs.frozen(kw_only=True)
class LogConfig:
    """Kafka's topic-level log configuration (defaults are Kafka's)."""

    # Roll a new segment when the active one would exceed this many bytes (segment.bytes).
    segment_bytes: int = attrs.field(default=1073741824, validator=_at_least(14))
    # ... or when its first batch is older than this (segment.ms; 7 days).
    segment_ms: int = attrs.field(default=604800000, validator=_at_least(1))
    segment_jitter_ms: int = attrs.field(default=0, validator=_at_least(0))
    # Max size of one segment's offset index (segment.index.bytes); full index => roll.
    segment_index_bytes: int = attrs.field(default=10485760, validator=_at_least(12))
    # An index entry every this many bytes of appended data (index.interval.bytes).
    index_interval_bytes: int = attrs.field(default=4096, validator=_at_least(0))
    # Largest batch accepted from a producer (max.message.bytes).
    max_message_bytes: int = attrs.field(default=1048588, validator=_at_least(0))
    # fsync after this many unflushed messages / milliseconds (flush.messages / flush.ms).
    flush_interval_messages: int = attrs.field(default=_LONG_MAX, validator=_at_least(1))
    flush_interval_ms: int | None = attrs.field(default=None, validator=_at_least(0))
    retention_ms: int = attrs.field(default=604800000, validator=_at_least(-1))
    retention_bytes: int = attrs.field(default=-1, validator=_at_least(-1))
    cleanup_policy: str = attrs.field(default="delete", validator=_one_of(_CLEANUP_POLICIES))
    message_timestamp_type: str = attrs.field(default="CreateTime",
                                              validator=_one_of(_TIMESTAMP_TYPES))
    min_insync_replicas: int = attrs.field(default=1, validator=_at_least(1))
    file_delete_delay_ms: int = attrs.field(default=60000, validator=_at_least(0))
    unclean_leader_election_enable: bool = False
    compression_type: str = "producer"

    @property
    def max_index_entries(self) -> int:
        return self.segment_index_bytes // 8

    @property
    def log_append_time(self) -> bool:
        return self.message_timestamp_type == "LogAppendTime"

    def with_overrides(self, overrides: Mapping[str, Any]) -> LogConfig:
        """A copy with Kafka-named topic overrides (``{"segment.bytes": "1048576"}``) applied.

        Raises:
            ConfigError: unknown name or unparsable value.
        """
        changes: dict[str, Any] = {}
        for name, raw in overrides.items():
            field = TOPIC_CONFIG_NAMES.get(name)
            if field is None:
                raise ConfigError(f"Unknown topic config name: {name}")
            changes[field] = _parse(field, raw)
        return attrs.evolve(self, **changes)


TOPIC_CONFIG_NAMES: dict[str, str] = {
    "segment.bytes": "segment_bytes",
    "segment.ms": "segment_ms",
    "segment.jitter.ms": "segment_jitter_ms",
    "segment.index.bytes": "segment_index_bytes",
    "index.interval.bytes": "index_interval_bytes",
    "max.message.bytes": "max_message_bytes",
    "flush.messages": "flush_interval_messages",
    "flush.ms": "flush_interval_ms",
    "retention.ms": "retention_ms",
    "retention.bytes": "retention_bytes",
    "cleanup.policy": "cleanup_policy",
    "message.timestamp.type": "message_timestamp_type",
    "min.insync.replicas": "min_insync_replicas",
    "file.delete.delay.ms": "file_delete_delay_ms",
    "unclean.leader.election.enable": "unclean_leader_election_enable",
    "compression.type": "compression_type",
}

_STR_FIELDS = {"cleanup_policy", "message_timestamp_type", "compression_type"}


def _parse(field: str, raw: Any) -> Any:
    if field in _STR_FIELDS:
        return str(raw).replace(" ", "")
    if field == "unclean_leader_election_enable":
        if isinstance(raw, bool):
            return raw
        if str(raw).lower() not in ("true", "false"):
            raise ConfigError(f"Invalid boolean for {field.replace('_', '.')}: {raw!r}")
        return str(raw).lower() == "true"
    try:
        value = int(raw)
    except (TypeError, ValueError):
        raise ConfigError(f"Invalid value {raw!r} for {field.replace('_', '.')}") from None
    if field == "flush_interval_ms" and value >= _LONG_MAX:
        return None
    return value
