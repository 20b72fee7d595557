"""DeleteTopics (key 20), v0–5 (flexible from 4).

Only the controller accepts deletions (NOT_CONTROLLER elsewhere). The topic is marked in
``/admin/delete_topics``; the controller stops and deletes the replicas and removes the
znodes; the answer waits until the metadata no longer lists the topic (or TimeoutMs).

Authorization: Delete on each topic, else TOPIC_AUTHORIZATION_FAILED (checked before existence).
"""

from __future__ import annotations

from kafkalite import errors
from kafkalite.protocol.api_keys import ApiKey
from kafkalite.protocol.messages.delete_topics import DeletableTopicResult, DeleteTopicsResponse
from kafkalite.server import authorization as authz
from kafkalite.server.authorization import AclOperation, ResourceType
from kafkalite.server.dispatch import handler
from kafkalite.server.topic_admin import wait_for_metadata


@handler(ApiKey.DELETE_TOPICS, versions=(0, 5))
async def handle_delete_topics(ctx, req):
    broker = ctx.broker
    version = ctx.api_version
    results = {}
    waiting = {}
    allowed = authz.filter_authorized(ctx, AclOperation.DELETE, ResourceType.TOPIC,
                                      req.topic_names)
    for name in req.topic_names:
        err = None
        if broker.controller is None:
            err = errors.NotController
        elif not broker.config["delete.topic.enable"]:
            err = errors.TopicDeletionDisabled if version >= 3 else errors.InvalidRequest
        elif name not in allowed:
            err = errors.TopicAuthorizationFailed
        elif name not in broker.controller.ctx.assignments:
            err = errors.UnknownTopicOrPartition
        if err is not None:
            results[name] = DeletableTopicResult(
                name=name, error_code=err.code,
                error_message=err.default_message() if version >= 5 else None)
            continue
        await broker.zk.mark_topic_for_deletion(name)
        waiting[name] = None
        results[name] = DeletableTopicResult(name=name, error_code=0)
    if waiting:
        late = await wait_for_metadata(broker, waiting, req.timeout_ms, present=False)
        for name in late:
            results[name] = DeletableTopicResult(name=name, error_code=errors.RequestTimedOut.code)
    return DeleteTopicsResponse(throttle_time_ms=0, responses=list(results.values()))
