"""IncrementalAlterConfigs (key 44), v0–1 (flexible from 1): change single keys (KIP-339).

Each resource carries operations on its stored overrides: SET (0) a value, DELETE (1) a key
(back to the broker default; deleting an unset key is fine), APPEND (2) / SUBTRACT (3) items of
a list config (``cleanup.policy``; starting from the default when unset). The result is
validated and written like AlterConfigs (``alter_configs``): config node, then the change
notification, then applied here at once. Errors are per resource: a key twice or a null value
for SET/APPEND/SUBTRACT is INVALID_REQUEST, APPEND/SUBTRACT of a non-list config too, a bad
resulting value INVALID_CONFIG, a missing topic UNKNOWN_TOPIC_OR_PARTITION.

Version notes: v1 is flexible.

Authorization: AlterConfigs on the topic, or on the cluster for broker resources, else
TOPIC_/CLUSTER_AUTHORIZATION_FAILED for that resource (Kafka 2.8): ``alter_denied``, shared
with AlterConfigs, asks :mod:`kafkalite.server.authorization`.
"""

from __future__ import annotations

import logging

from kafkalite import errors
from kafkalite.config import TOPIC_CONFIGS
from kafkalite.config_names import KAFKA_BROKER_CONFIGS
from kafkalite.protocol.api_keys import ApiKey
from kafkalite.protocol.messages.incremental_alter_configs import IncrementalAlterConfigsResponse
from kafkalite.server.config_manager import (
    BROKER_CONFIG_KEYS, TOPIC_CONFIG_KEYS, config_text, listener_base_name)
from kafkalite.server.dispatch import handler
from kafkalite.server.handlers.alter_configs import (
    TOPIC, alter_broker_config, alter_topic_config, alter_denied, current_config,
    resource_result)

__all__ = ["SET", "DELETE", "APPEND", "SUBTRACT", "apply_operations"]

log = logging.getLogger(__name__)

SET, DELETE, APPEND, SUBTRACT = 0, 1, 2, 3
_OP_NAMES = {SET: "SET", DELETE: "DELETE", APPEND: "APPEND", SUBTRACT: "SUBTRACT"}


def _list_default(resource_type: int, name: str) -> list[str]:
    """Kafka's default of a list config (the starting point of APPEND/SUBTRACT)."""
    if resource_type == TOPIC:
        default = TOPIC_CONFIGS[name][2] if name in TOPIC_CONFIGS else None
        return list(default) if isinstance(default, list) else []
    c = KAFKA_BROKER_CONFIGS.get(listener_base_name(name) or name)
    return [x.strip() for x in c.default.split(",") if x.strip()] if c and c.default else []


def _is_list(resource_type: int, name: str) -> bool:
    """Raises InvalidConfig for a name the resource type does not know (a listener-prefixed
    broker config is known by its base name)."""
    if resource_type == TOPIC:
        if name not in TOPIC_CONFIGS:
            raise errors.InvalidConfig(f"Unknown topic config name: {name}")
        key = TOPIC_CONFIG_KEYS.get(name)
    else:
        key = BROKER_CONFIG_KEYS.get(listener_base_name(name) or name)
        if key is None:
            raise errors.InvalidConfig(f"Unknown broker config name: {name}")
    return key is not None and key.type == "LIST"


def apply_operations(resource_type: int, current: dict[str, str],
                     operations: list[tuple[str, int, str | None]]) -> dict[str, str]:
    """The override set after ``operations`` ``(name, op, value)`` (Kafka's
    prepareIncrementalConfigs). Pure: validation of the result is the caller's.

    Raises:
        InvalidRequest: duplicate keys, null value, unknown op, APPEND/SUBTRACT on a non-list.
        InvalidConfig: APPEND/SUBTRACT of an unknown config.
    """
    seen, duplicates = set(), []
    for name, _op, _value in operations:
        if name in seen and name not in duplicates:
            duplicates.append(name)
        seen.add(name)
    if duplicates:
        raise errors.InvalidRequest(f"Error due to duplicate config keys : "
                                    f"{','.join(duplicates)}")
    nulls = [f"{_OP_NAMES.get(op, op)}:{name}" for name, op, value in operations
             if value is None and op != DELETE]
    if nulls:
        raise errors.InvalidRequest(f"Null value not supported for : {','.join(nulls)}")
    out = dict(current)
    for name, op, value in operations:
        if op == SET:
            out[name] = value
        elif op == DELETE:
            out.pop(name, None)
        elif op in (APPEND, SUBTRACT):
            if not _is_list(resource_type, name):
                verb = "append" if op == APPEND else "subtract"
                raise errors.InvalidRequest(f"Config value {verb} is not allowed for config "
                                            f"key: {name}")
            old = [x.strip() for x in out[name].split(",") if x.strip()] if name in out \
                else _list_default(resource_type, name)
            items = [x.strip() for x in value.split(",") if x.strip()]
            if op == APPEND:
                new = old + [x for x in items if x not in old]
            else:
                new = [x for x in old if x not in items]
            out[name] = config_text(new)
        else:
            raise errors.InvalidRequest(f"Unknown config operation {op} for config key: {name}")
    return out


async def _alter(broker, res, validate_only: bool) -> None:
    current = await current_config(broker, res.resource_type, res.resource_name)
    new = apply_operations(res.resource_type, current,
                           [(c.name, c.config_operation, c.value) for c in res.configs])
    if res.resource_type == TOPIC:
        await alter_topic_config(broker, res.resource_name, new, validate_only=validate_only)
    else:
        await alter_broker_config(broker, res.resource_name, new, validate_only=validate_only)


@handler(ApiKey.INCREMENTAL_ALTER_CONFIGS, versions=(0, 1))
async def handle_incremental_alter_configs(ctx, req):
    responses = []
    for res in req.resources:
        denied = alter_denied(ctx, res)
        if denied is not None:
            responses.append(denied)
            continue
        try:
            await _alter(ctx.broker, res, bool(req.validate_only))
            error = None
        except errors.KafkaError as e:
            log.info("Error processing incremental alter configs request for resource %s: %s",
                     res.resource_name, e)
            error = e
        responses.append(resource_result(res, error))
    return IncrementalAlterConfigsResponse(throttle_time_ms=0, responses=tuple(responses))
