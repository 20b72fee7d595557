"""DescribeConfigs (key 32), v0–4 (flexible from 4).

Topic resources (type 2) report every topic-level config. The value is the topic's override
from ``/config/topics/<t>`` (source DYNAMIC_TOPIC_CONFIG, read from ZooKeeper on every call so
the answer is right on any broker), else the broker's setting of a synonym key: dynamic
per-broker, dynamic cluster default, then server.properties (DYNAMIC_BROKER_CONFIG,
DYNAMIC_DEFAULT_BROKER_CONFIG, STATIC_BROKER_CONFIG), else Kafka's default (DEFAULT_CONFIG).
Synonyms list the sources that are set, highest priority first; default values are not listed
as synonyms.

Broker resources (type 4): name ``""`` is the cluster-wide dynamic default and lists only what
``/config/brokers/<default>`` sets; the broker's own id lists its whole configuration with
each key's source: all of Kafka 2.8's broker config names (``kafkalite.config_names``; Kafka's
default where kafkalite does not use a key), kafkalite's own keys and every dynamic config set.
Read-only is every name Kafka cannot update dynamically; passwords, and custom names whose type
nobody knows, are sensitive: value null, as Kafka answers. Another broker's id is INVALID_REQUEST (clients send broker resources to
that broker). Dynamic values come from the broker's config manager, which follows the change
notifications.

Version notes: v0 has IsDefault instead of ConfigSource; v1 adds include_synonyms, the source
and synonyms; v3 adds the config type and documentation (never sent: null); v4 is flexible. An
empty or null key list means every config, as in Kafka.

Authorization: DescribeConfigs on the topic, or on the cluster for broker resources, else
TOPIC_/CLUSTER_AUTHORIZATION_FAILED for that resource (Kafka 2.8).
"""

from __future__ import annotations

from collections.abc import Mapping

import attrs

from kafkalite import errors
from kafkalite.config import BROKER_CONFIGS, TOPIC_CONFIGS
from kafkalite.config_names import KAFKA_BROKER_CONFIGS, READ_ONLY
from kafkalite.model import validate_topic_name
from kafkalite.protocol.api_keys import ApiKey
from kafkalite.protocol.messages.describe_configs import (
    DescribeConfigsResourceResult, DescribeConfigsResponse, DescribeConfigsResult,
    DescribeConfigsSynonym)
from kafkalite.server.config_manager import (
    BROKER_CONFIG_KEYS, DEFAULT_ENTITY, TOPIC_CONFIG_KEYS, TOPIC_CONFIG_SYNONYMS, TYPE_IDS,
    ConfigManager, ConfigSource, broker_synonym_names, config_text, listener_base_name)
from kafkalite.security.acl import AclOperation
from kafkalite.server.dispatch import handler
from kafkalite.server.handlers.alter_configs import config_authorization_error

TOPIC, BROKER = 2, 4
_PY_TYPES = {bool: "BOOLEAN", str: "STRING", int: "LONG", float: "DOUBLE", list: "LIST"}


def _type_name(name: str, value=None) -> str | None:
    """Kafka's ConfigDef type of ``name`` (a listener-prefixed name: its base name's); for a
    name Kafka does not know, kafkalite's own key type; None for a custom config."""
    key = (TOPIC_CONFIG_KEYS.get(name) or BROKER_CONFIG_KEYS.get(name)
           or BROKER_CONFIG_KEYS.get(listener_base_name(name) or ""))
    if key is not None:
        return key.type
    if name in BROKER_CONFIGS:
        return _PY_TYPES.get(type(value), "STRING")
    return None


def _entry(name, value, source, synonyms, *, read_only=False):
    # Kafka hides passwords, and any config whose type it cannot tell (a custom one), with a
    # null value and is_sensitive (AdminManager's createBrokerConfigEntry).
    type_name = _type_name(name, value)
    sensitive = type_name in (None, "PASSWORD")
    if sensitive:
        synonyms = [attrs.evolve(s, value=None) for s in synonyms]
    return DescribeConfigsResourceResult(
        name=name, value=None if sensitive else config_text(value), read_only=read_only,
        is_default=source == ConfigSource.DEFAULT_CONFIG, config_source=source,
        is_sensitive=sensitive, synonyms=tuple(synonyms),
        config_type=TYPE_IDS.get(type_name or "", 0), documentation=None)


def _broker_layers(broker) -> list[tuple[int, Mapping[str, str]]]:
    """(source, settings) of the broker, highest priority first."""
    manager = ConfigManager.of(broker)
    layers = []
    if manager is not None:
        layers.append((ConfigSource.DYNAMIC_BROKER_CONFIG, manager.dynamic_broker))
        layers.append((ConfigSource.DYNAMIC_DEFAULT_BROKER_CONFIG, manager.dynamic_default))
    static = {k: v for k, v in broker.config.originals.items() if k in BROKER_CONFIGS}
    layers.append((ConfigSource.STATIC_BROKER_CONFIG, static))
    return layers


def _synonyms(names, layers) -> list[DescribeConfigsSynonym]:
    """Kafka's configSynonyms: each source in priority order, each synonym name within it."""
    out = []
    for source, settings in layers:
        for n in names:
            if n in settings:
                out.append(DescribeConfigsSynonym(name=n, value=settings[n], source=source))
    return out


def _wanted(keys, name: str) -> bool:
    return not keys or name in keys


async def _topic_configs(broker, topic: str, keys, include_synonyms: bool):
    overrides = await broker.zk.get_topic_config(topic)
    defaults = broker.config.topic_defaults()
    layers = _broker_layers(broker)
    out = []
    for name in sorted(TOPIC_CONFIGS):
        if not _wanted(keys, name):
            continue
        synonyms = _synonyms(TOPIC_CONFIG_SYNONYMS.get(name, ()), layers)
        if name in overrides:
            key = TOPIC_CONFIG_KEYS.get(name)
            try:
                value = key.parse(name, overrides[name]) if key else overrides[name]
            except errors.InvalidConfig:
                value = overrides[name]   # written by someone else: show it as stored
            synonyms.insert(0, DescribeConfigsSynonym(
                name=name, value=config_text(value), source=ConfigSource.DYNAMIC_TOPIC_CONFIG))
        else:
            value = defaults[name]
        source = synonyms[0].source if synonyms else ConfigSource.DEFAULT_CONFIG
        out.append(_entry(name, value, source, synonyms if include_synonyms else ()))
    return out


def _read_only(name: str) -> bool:
    """Kafka marks read-only every name outside ``DynamicBrokerConfig.AllDynamicConfigs``."""
    c = KAFKA_BROKER_CONFIGS.get(listener_base_name(name) or name)
    return c is None or c.mode == READ_ONLY


def _broker_configs(broker, keys, include_synonyms: bool):
    """Every config of this broker with its effective value and source: Kafka 2.8's whole list
    (defaults where kafkalite has no value of its own), kafkalite's own keys, and every
    dynamic name set for this broker."""
    layers = _broker_layers(broker)
    dynamic_set = {k for _, settings in layers[:-1] for k in settings}
    out = []
    for name in sorted(set(BROKER_CONFIGS) | set(KAFKA_BROKER_CONFIGS) | dynamic_set):
        if not _wanted(keys, name):
            continue
        synonyms = _synonyms(broker_synonym_names(name), layers)
        while synonyms and synonyms[0].name != name:   # Kafka's dropWhile(name != config)
            synonyms.pop(0)
        if name in BROKER_CONFIGS:
            value = broker.config[name]
        elif synonyms:
            value = synonyms[0].value
        else:
            value = KAFKA_BROKER_CONFIGS[name].default
        source = synonyms[0].source if synonyms else ConfigSource.DEFAULT_CONFIG
        out.append(_entry(name, value, source, synonyms if include_synonyms else (),
                          read_only=_read_only(name)))
    return out


def _default_broker_configs(broker, keys, include_synonyms: bool):
    """The cluster-wide dynamic defaults (``/config/brokers/<default>``) only."""
    manager = ConfigManager.of(broker)
    settings = manager.dynamic_default if manager is not None else {}
    out = []
    for name in sorted(settings):
        if not _wanted(keys, name):
            continue
        synonyms = [DescribeConfigsSynonym(name=name, value=settings[name],
                                           source=ConfigSource.DYNAMIC_DEFAULT_BROKER_CONFIG)]
        out.append(_entry(name, settings[name], ConfigSource.DYNAMIC_DEFAULT_BROKER_CONFIG,
                          synonyms if include_synonyms else (), read_only=_read_only(name)))
    return out


async def _describe(broker, res, include_synonyms: bool):
    keys = set(res.configuration_keys or ())
    name = res.resource_name
    if res.resource_type == TOPIC:
        reason = validate_topic_name(name)
        if reason:
            raise errors.InvalidTopicException(reason)
        if not await broker.zk.topic_exists(name):
            raise errors.UnknownTopicOrPartition(f"The topic '{name}' does not exist.")
        return await _topic_configs(broker, name, keys, include_synonyms)
    if res.resource_type == BROKER:
        if name in ("", DEFAULT_ENTITY):
            return _default_broker_configs(broker, keys, include_synonyms)
        try:
            broker_id = int(name)
        except ValueError:
            raise errors.InvalidRequest(f"Broker id must be an integer, but it is: {name}") \
                from None
        if broker_id != broker.broker_id:
            raise errors.InvalidRequest(f"Unexpected broker id, expected {broker.broker_id} or "
                                        f"empty string, but received {name}")
        return _broker_configs(broker, keys, include_synonyms)
    raise errors.InvalidRequest(f"Unsupported resource type: {res.resource_type}")


@handler(ApiKey.DESCRIBE_CONFIGS, versions=(0, 4))
async def handle_describe_configs(ctx, req):
    include_synonyms = bool(req.include_synonyms) and ctx.api_version >= 1
    results = []
    for res in req.resources:
        denied = config_authorization_error(ctx, res.resource_type, res.resource_name,
                                            AclOperation.DESCRIBE_CONFIGS)
        if denied is not None:
            results.append(DescribeConfigsResult(
                error_code=denied.code, error_message=denied.default_message(),
                resource_type=res.resource_type, resource_name=res.resource_name, configs=()))
            continue
        try:
            configs, err, message = await _describe(ctx.broker, res, include_synonyms), None, None
        except errors.KafkaError as e:
            configs, err, message = [], type(e), str(e)
        results.append(DescribeConfigsResult(
            error_code=err.code if err else 0, error_message=message,
            resource_type=res.resource_type, resource_name=res.resource_name,
            configs=tuple(configs)))
    return DescribeConfigsResponse(throttle_time_ms=0, results=tuple(results))
