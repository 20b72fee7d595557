"""Heartbeat (key 12), v0–4 (flexible from 4).

Refreshes the member's session; REBALANCE_IN_PROGRESS tells it to rejoin, ILLEGAL_GENERATION
/ UNKNOWN_MEMBER_ID that it was fenced. v3+ GroupInstanceId (FENCED_INSTANCE_ID when a newer
instance took the id).

Authorization: Read on the group, else GROUP_AUTHORIZATION_FAILED.
"""

from __future__ import annotations

from kafkalite import errors
from kafkalite.protocol.api_keys import ApiKey
from kafkalite.protocol.messages.heartbeat import HeartbeatResponse
from kafkalite.server import authorization as authz
from kafkalite.server.authorization import AclOperation, ResourceType
from kafkalite.server.dispatch import handler


@handler(ApiKey.HEARTBEAT, versions=(0, 4))
async def handle_heartbeat(ctx, req):
    svc = ctx.broker.coordinator
    if not authz.authorize(ctx, AclOperation.READ, ResourceType.GROUP, req.group_id):
        return HeartbeatResponse(throttle_time_ms=0,
                                 error_code=errors.GroupAuthorizationFailed.code)
    if svc is None:
        return HeartbeatResponse(throttle_time_ms=0,
                                 error_code=errors.CoordinatorNotAvailable.code)
    error = await svc.heartbeat(
        req.group_id, req.generation_id, req.member_id,
        group_instance_id=req.group_instance_id if ctx.api_version >= 3 else None)
    return HeartbeatResponse(throttle_time_ms=0, error_code=error.code if error else 0)
