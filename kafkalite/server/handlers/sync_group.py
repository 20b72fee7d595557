"""SyncGroup (key 14), v0–5 (flexible from 4).

The leader's assignments are written to ``__consumer_offsets`` (group metadata record), then
every member of the generation gets its own; followers wait for that. v3+ GroupInstanceId;
v5 ProtocolType/ProtocolName in request (checked against the group's) and response.

Authorization: Read on the group, else GROUP_AUTHORIZATION_FAILED.
"""

from __future__ import annotations

from kafkalite import errors
from kafkalite.protocol.api_keys import ApiKey
from kafkalite.protocol.messages.sync_group import SyncGroupResponse
from kafkalite.server import authorization as authz
from kafkalite.server.authorization import AclOperation, ResourceType
from kafkalite.server.dispatch import handler


@handler(ApiKey.SYNC_GROUP, versions=(0, 5))
async def handle_sync_group(ctx, req):
    version = ctx.api_version
    svc = ctx.broker.coordinator
    if not authz.authorize(ctx, AclOperation.READ, ResourceType.GROUP, req.group_id):
        return SyncGroupResponse(throttle_time_ms=0,
                                 error_code=errors.GroupAuthorizationFailed.code)
    if svc is None:
        return SyncGroupResponse(throttle_time_ms=0,
                                 error_code=errors.CoordinatorNotAvailable.code)
    r = await svc.sync_group(
        req.group_id, req.generation_id, req.member_id,
        group_instance_id=req.group_instance_id if version >= 3 else None,
        protocol_type=req.protocol_type if version >= 5 else None,
        protocol_name=req.protocol_name if version >= 5 else None,
        assignments={a.member_id: bytes(a.assignment) for a in req.assignments})
    return SyncGroupResponse(throttle_time_ms=0, error_code=r.error.code if r.error else 0,
                             protocol_type=r.protocol_type, protocol_name=r.protocol_name,
                             assignment=r.assignment)
