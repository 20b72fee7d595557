"""FindCoordinator (key 10), v0–4 (flexible from 3).

Any broker answers. The coordinator of a group is the leader of ``__consumer_offsets``
partition ``(String.hashCode(group) & 0x7fffffff) % partitions``, read from the metadata
cache. The first lookup creates the topic (``offsets.topic.*`` settings, compacted) and, like
every lookup before its partition has a live leader, gets COORDINATOR_NOT_AVAILABLE; clients
retry. The coordinator of a transactional id (KeyType 1) is likewise the leader of its
``__transaction_state`` partition (``abs(String.hashCode(id)) % partitions``), created on the
first lookup with the ``transaction.state.log.*`` settings. v0 ("GroupCoordinator") has only
the key; v1 adds KeyType and ErrorMessage; v4 (KIP-699) batches keys with an answer per key.

Authorization (Kafka 2.8): Describe on the group (GROUP_AUTHORIZATION_FAILED) or on the
transactional id (TRANSACTIONAL_ID_AUTHORIZATION_FAILED); v4 decides per key.
"""

from __future__ import annotations

from kafkalite import errors
from kafkalite.model import OFFSETS_TOPIC, TRANSACTION_TOPIC
from kafkalite.protocol.api_keys import ApiKey
from kafkalite.protocol.messages.find_coordinator import Coordinator, FindCoordinatorResponse
from kafkalite.server import authorization as authz
from kafkalite.server.authorization import AclOperation, ResourceType
from kafkalite.server.dispatch import handler

GROUP, TRANSACTION = 0, 1


async def _find(ctx, key: str, key_type: int) -> tuple[type[errors.KafkaError] | None, str | None,
                                                       int, str, int]:
    """(error, message, node id, host, port) for one key."""
    broker = ctx.broker
    if key_type == TRANSACTION:
        svc, topic = broker.txn_coordinator, TRANSACTION_TOPIC
        if not authz.authorize(ctx, AclOperation.DESCRIBE, ResourceType.TRANSACTIONAL_ID, key):
            return errors.TransactionalIdAuthorizationFailed, None, -1, "", -1
    elif key_type == GROUP:
        svc, topic = broker.coordinator, OFFSETS_TOPIC
        if not authz.authorize(ctx, AclOperation.DESCRIBE, ResourceType.GROUP, key):
            return errors.GroupAuthorizationFailed, None, -1, "", -1
    else:
        return errors.InvalidRequest, f"Unknown coordinator type {key_type}", -1, "", -1
    if svc is None:
        return errors.CoordinatorNotAvailable, None, -1, "", -1
    if key_type == TRANSACTION and not key:
        return errors.InvalidRequest, "Transactional id must not be empty", -1, "", -1
    parts = broker.metadata.topics.get(topic)
    if not parts:
        if key_type == TRANSACTION:
            await svc.ensure_topic()
        else:
            await svc.ensure_offsets_topic()
        return errors.CoordinatorNotAvailable, None, -1, "", -1
    meta = parts.get(svc.partition_for(key))
    if meta is None or meta.leader < 0 or not broker.metadata.alive(meta.leader):
        return errors.CoordinatorNotAvailable, None, -1, "", -1
    ep = broker.metadata.endpoint(meta.leader, ctx.listener)
    if ep is None:
        return errors.CoordinatorNotAvailable, None, -1, "", -1
    return None, None, meta.leader, ep.host, ep.port


@handler(ApiKey.FIND_COORDINATOR, versions=(0, 4))
async def handle_find_coordinator(ctx, req):
    version = ctx.api_version
    key_type = req.key_type if version >= 1 else GROUP
    if version >= 4:
        out = []
        for key in req.coordinator_keys:
            error, message, node, host, port = await _find(ctx, key, key_type)
            out.append(Coordinator(key=key, node_id=node, host=host, port=port,
                                   error_code=error.code if error else 0,
                                   error_message=(message or error.default_message())
                                   if error else None))
        return FindCoordinatorResponse(throttle_time_ms=0, coordinators=out)
    error, message, node, host, port = await _find(ctx, req.key, key_type)
    return FindCoordinatorResponse(
        throttle_time_ms=0, error_code=error.code if error else 0,
        error_message=(message or error.default_message()) if error else None,
        node_id=node, host=host, port=port)
