"""DescribeConfigs (key 32), v0–4 (flexible from 4).

Topic resources (type 2) report every topic-level config: overrides stored in
``/config/topics/<t>`` (source DYNAMIC_TOPIC_CONFIG), else the broker's ``log.*`` setting when
set in server.properties (STATIC_BROKER_CONFIG), else Kafka's default (DEFAULT_CONFIG). The
overrides are read from ZooKeeper on every call, so the answer is right on any broker. Broker
resources (type 4) report this broker's static configuration. v0 has IsDefault instead of
ConfigSource; v1 adds synonyms, v3 config types and documentation.
"""

from __future__ import annotations

from kafkalite import errors
from kafkalite.config import BROKER_CONFIGS, TOPIC_CONFIGS
from kafkalite.protocol.api_keys import ApiKey
from kafkalite.protocol.messages.describe_configs import (
    DescribeConfigsResourceResult, DescribeConfigsResponse, DescribeConfigsResult,
    DescribeConfigsSynonym)
from kafkalite.server.dispatch import handler

TOPIC, BROKER = 2, 4
DYNAMIC_TOPIC_CONFIG, STATIC_BROKER_CONFIG, DEFAULT_CONFIG = 1, 4, 5
_TYPES = {bool: 1, str: 2, int: 5, float: 6, list: 7}


def _text(value) -> str | None:
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return ",".join(value)
    return str(value)


def _entry(name, value, source, version, synonyms=()):
    return DescribeConfigsResourceResult(
        name=name, value=_text(value), read_only=False, is_default=source == DEFAULT_CONFIG,
        config_source=source, is_sensitive=False, synonyms=list(synonyms),
        config_type=_TYPES.get(type(value), 0), documentation=None)


async def _topic_configs(ctx, topic: str, keys, include_synonyms: bool):
    broker = ctx.broker
    overrides = await broker.zk.get_topic_config(topic)
    defaults = broker.config.topic_defaults()
    out = []
    for name, (server_key, parse, _default) in sorted(TOPIC_CONFIGS.items()):
        if keys is not None and name not in keys:
            continue
        static = server_key is not None and server_key in broker.config.originals
        synonyms = []
        if name in overrides:
            try:
                value = parse(overrides[name])
            except ValueError:
                value = overrides[name]
            source = DYNAMIC_TOPIC_CONFIG
            synonyms.append(DescribeConfigsSynonym(name=name, value=overrides[name],
                                                   source=DYNAMIC_TOPIC_CONFIG))
        else:
            value = defaults[name]
            source = STATIC_BROKER_CONFIG if static else DEFAULT_CONFIG
        if static and include_synonyms:
            synonyms.append(DescribeConfigsSynonym(
                name=server_key, value=broker.config.originals[server_key],
                source=STATIC_BROKER_CONFIG))
        out.append(_entry(name, value, source, ctx.api_version,
                          synonyms if include_synonyms else ()))
    return out


def _broker_configs(ctx, keys):
    cfg = ctx.broker.config
    out = []
    for name in sorted(BROKER_CONFIGS):
        if keys is not None and name not in keys:
            continue
        source = STATIC_BROKER_CONFIG if name in cfg.originals else DEFAULT_CONFIG
        out.append(_entry(name, cfg[name], source, ctx.api_version))
    return out


@handler(ApiKey.DESCRIBE_CONFIGS, versions=(0, 4))
async def handle_describe_configs(ctx, req):
    broker = ctx.broker
    results = []
    for res in req.resources:
        keys = set(res.configuration_keys) if res.configuration_keys is not None else None
        err, configs = None, []
        if res.resource_type == TOPIC:
            if not await broker.zk.topic_exists(res.resource_name):
                err = errors.UnknownTopicOrPartition
            else:
                configs = await _topic_configs(ctx, res.resource_name, keys,
                                               bool(req.include_synonyms))
        elif res.resource_type == BROKER:
            if res.resource_name not in ("", str(broker.broker_id)):
                err = errors.InvalidRequest
            else:
                configs = _broker_configs(ctx, keys)
        else:
            err = errors.InvalidRequest
        results.append(DescribeConfigsResult(
            error_code=err.code if err else 0,
            error_message=err.default_message() if err else None,
            resource_type=res.resource_type, resource_name=res.resource_name, configs=configs))
    return DescribeConfigsResponse(throttle_time_ms=0, results=results)
