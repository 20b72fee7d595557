"""AlterConfigs (key 33), v0–2 (flexible from 2): replace a resource's whole configuration.

Full replacement: the request's entries become the entity's complete override set; keys left
out are removed. As in ZooKeeper-mode Kafka any broker handles topic resources: it validates
(Kafka's LogConfig rules, INVALID_CONFIG with the reason), writes ``/config/topics/<t>`` and
then the change notification, and every broker's config manager applies it to its logs. This
broker applies it at once as well, so a client that alters and then produces here sees the new
limits. Broker resources: ``""`` is the cluster-wide default (``/config/brokers/<default>``),
the broker's own id its per-broker config; another id is INVALID_REQUEST, as are null values and
resource types other than topic (2) and broker (4). Broker configs follow Kafka 2.8's dynamic
config rules over all of its broker config names (see ``alter_broker_config``). ``validate_only``
checks without writing.

Version notes: v1 is v0; v2 is flexible.

Authorization: AlterConfigs on the topic, or on the cluster for broker resources, else
TOPIC_/CLUSTER_AUTHORIZATION_FAILED for that resource (Kafka 2.8).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping

from kafkalite import errors
from kafkalite.model import validate_topic_name
from kafkalite.protocol.api_keys import ApiKey
from kafkalite.protocol.messages.alter_configs import (
    AlterConfigsResourceResponse, AlterConfigsResponse)
from kafkalite.server import authorization as authz
from kafkalite.server.authorization import AclOperation, ResourceType
from kafkalite.server.config_manager import (
    DEFAULT_ENTITY, ConfigManager, check_broker_passwords, persistent_broker_config,
    validate_broker_config, validate_topic_config)
from kafkalite.server.dispatch import handler
from kafkalite.zk.znodes import ConfigType

__all__ = ["TOPIC", "BROKER", "BROKER_LOGGER", "alter_topic_config", "alter_broker_config",
           "broker_entity", "current_config", "resource_result", "config_authorization_error",
           "alter_denied"]

log = logging.getLogger(__name__)

TOPIC, BROKER, BROKER_LOGGER = 2, 4, 8


def config_authorization_error(ctx, resource_type: int, resource_name: str,
                               operation: AclOperation) -> type[errors.KafkaError] | None:
    """DescribeConfigs/AlterConfigs on a config resource (Kafka 2.8): topics on the topic
    (TOPIC_AUTHORIZATION_FAILED), brokers and broker loggers on the cluster
    (CLUSTER_AUTHORIZATION_FAILED); other types are refused later as invalid."""
    if resource_type == TOPIC:
        if not authz.authorize(ctx, operation, ResourceType.TOPIC, resource_name):
            return errors.TopicAuthorizationFailed
    elif resource_type in (BROKER, BROKER_LOGGER):
        if not authz.authorize_cluster(ctx, operation):
            return errors.ClusterAuthorizationFailed
    return None


def broker_entity(broker, resource_name: str) -> str:
    """The ``/config/brokers`` entity of a broker resource: ``<default>`` or this broker's id.

    Raises:
        InvalidRequest: not an integer, or another broker's id.
    """
    if resource_name in ("", DEFAULT_ENTITY):
        return DEFAULT_ENTITY
    try:
        broker_id = int(resource_name)
    except ValueError:
        raise errors.InvalidRequest(f"Broker id must be an integer, but it is: "
                                    f"{resource_name}") from None
    if broker_id != broker.broker_id:
        raise errors.InvalidRequest(f"Unexpected broker id, expected {broker.broker_id}, but "
                                    f"received {resource_name}")
    return str(broker_id)


async def current_config(broker, resource_type: int, resource_name: str) -> dict[str, str]:
    """The stored overrides of a topic or broker resource (checks the resource first).

    Raises:
        InvalidTopicException, UnknownTopicOrPartition, InvalidRequest.
    """
    if resource_type == TOPIC:
        await _check_topic(broker, resource_name)
        return await broker.zk.get_topic_config(resource_name)
    if resource_type == BROKER:
        entity = broker_entity(broker, resource_name)
        stored = await broker.zk.get_entity_config(ConfigType.BROKER, entity)
        # what a broker ignores is not carried over (Kafka's fromPersistentProps)
        return persistent_broker_config(stored, per_broker=entity != DEFAULT_ENTITY)[0]
    raise errors.InvalidRequest(f"AlterConfigs is only supported for topics and brokers, but "
                                f"resource type is {_type_name(resource_type)}")


async def _check_topic(broker, topic: str) -> None:
    reason = validate_topic_name(topic)
    if reason:
        raise errors.InvalidTopicException(reason)
    if not await broker.zk.topic_exists(topic):
        raise errors.UnknownTopicOrPartition(f"The topic '{topic}' does not exist.")


async def alter_topic_config(broker, topic: str, config: Mapping[str, str | None], *,
                             validate_only: bool) -> None:
    """Validate and store a topic's complete override set, then apply it here.

    Raises:
        InvalidTopicException, UnknownTopicOrPartition, InvalidConfig.
    """
    await _check_topic(broker, topic)
    valid = validate_topic_config(config)
    if validate_only:
        return
    log.info("Updating topic %s with new configuration : %s", topic,
             ",".join(f"{k}={v}" for k, v in sorted(valid.items())))
    await broker.zk.set_topic_config(topic, valid)
    manager = ConfigManager.of(broker)
    if manager is not None:
        await manager.refresh_topic(topic)


async def alter_broker_config(broker, resource_name: str, config: Mapping[str, str | None], *,
                              validate_only: bool) -> None:
    """Validate and store a dynamic broker config (per-broker or cluster default).

    Kafka 2.8's rules (``config_manager.validate_broker_config``): any dynamic, listener-prefixed
    or custom name is stored in ``/config/brokers/<id>`` (or ``<default>``) in Kafka's JSON,
    then the change notification is posted; static names and the other refusals are
    INVALID_REQUEST "Invalid config value for resource ConfigResource(type=BROKER, name='0'):
    ...", as Kafka's AdminManager answers a ``ConfigException``.

    Raises:
        InvalidRequest: a bad broker id, or a config Kafka would refuse.
    """
    entity = broker_entity(broker, resource_name)
    manager = ConfigManager.of(broker)
    try:
        valid = validate_broker_config(config, per_broker=entity != DEFAULT_ENTITY)
        if manager is not None:
            manager.check_broker_config(entity, valid)
        if not validate_only:
            check_broker_passwords(valid, broker.config.originals)
    except (errors.InvalidRequest, errors.InvalidConfig) as e:
        raise errors.InvalidRequest(f"Invalid config value for resource ConfigResource("
                                    f"type=BROKER, name='{resource_name}'): {e}") from None
    if validate_only:
        return
    log.info("Updating %s with new configuration : %s",
             "brokers" if entity == DEFAULT_ENTITY else f"broker {entity}",
             ",".join(f"{k}={v}" for k, v in sorted(valid.items())))
    await broker.zk.change_entity_config(ConfigType.BROKER, entity, valid)
    if manager is not None:
        await manager.refresh_broker_configs()


def _type_name(resource_type: int) -> str:
    return {0: "UNKNOWN", 1: "ANY", 2: "TOPIC", 3: "GROUP", 4: "BROKER", 5: "CLUSTER",
            8: "BROKER_LOGGER"}.get(resource_type, str(resource_type))


def alter_denied(ctx, res) -> AlterConfigsResourceResponse | None:
    """The answer for a resource the principal may not AlterConfigs (no message, as Kafka),
    or None when allowed (both AlterConfigs and IncrementalAlterConfigs)."""
    denied = config_authorization_error(ctx, res.resource_type, res.resource_name,
                                        AclOperation.ALTER_CONFIGS)
    if denied is None:
        return None
    return AlterConfigsResourceResponse(error_code=denied.code, error_message=None,
                                        resource_type=res.resource_type,
                                        resource_name=res.resource_name)


def resource_result(res, error: errors.KafkaError | None) -> AlterConfigsResourceResponse:
    """The per-resource answer (the same shape in IncrementalAlterConfigs)."""
    return AlterConfigsResourceResponse(
        error_code=error.code if error else 0, error_message=str(error) if error else None,
        resource_type=res.resource_type, resource_name=res.resource_name)


async def _alter(broker, res, validate_only: bool) -> None:
    nulls = [c.name for c in res.configs if c.value is None]
    if nulls:
        raise errors.InvalidRequest(f"Null value not supported for : {','.join(nulls)}")
    config = {c.name: c.value for c in res.configs}
    if res.resource_type == TOPIC:
        await alter_topic_config(broker, res.resource_name, config, validate_only=validate_only)
    elif res.resource_type == BROKER:
        await alter_broker_config(broker, res.resource_name, config,
                                  validate_only=validate_only)
    else:
        raise errors.InvalidRequest(f"AlterConfigs is only supported for topics and brokers, "
                                    f"but resource type is {_type_name(res.resource_type)}")


@handler(ApiKey.ALTER_CONFIGS, versions=(0, 2))
async def handle_alter_configs(ctx, req):
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
            log.info("Error processing alter configs request for resource %s %s: %s",
                     _type_name(res.resource_type), res.resource_name, e)
            error = e
        responses.append(resource_result(res, error))
    return AlterConfigsResponse(throttle_time_ms=0, responses=tuple(responses))
