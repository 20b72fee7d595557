"""LeaveGroup (key 13), v0–4 (flexible from 4).

v0–2 name one member and answer with one error code; v3+ (KIP-345) batch members, each by
member id and/or group instance id, with an error per member (a static member may leave by
instance id alone). Leaving a Stable or CompletingRebalance group starts a rebalance.

Authorization: Read on the group, else GROUP_AUTHORIZATION_FAILED (top level, no members).
"""

from __future__ import annotations

from kafkalite import errors
from kafkalite.protocol.api_keys import ApiKey
from kafkalite.protocol.messages.leave_group import LeaveGroupResponse, MemberResponse
from kafkalite.server import authorization as authz
from kafkalite.server.authorization import AclOperation, ResourceType
from kafkalite.server.dispatch import handler


@handler(ApiKey.LEAVE_GROUP, versions=(0, 4))
async def handle_leave_group(ctx, req):
    version = ctx.api_version
    svc = ctx.broker.coordinator
    if not authz.authorize(ctx, AclOperation.READ, ResourceType.GROUP, req.group_id):
        return LeaveGroupResponse(throttle_time_ms=0,
                                  error_code=errors.GroupAuthorizationFailed.code)
    if svc is None:
        return LeaveGroupResponse(throttle_time_ms=0,
                                  error_code=errors.CoordinatorNotAvailable.code)
    if version >= 3:
        leaving = [(m.member_id, m.group_instance_id) for m in req.members]
    else:
        leaving = [(req.member_id, None)]
    r = await svc.leave_group(req.group_id, leaving)
    if version >= 3:
        return LeaveGroupResponse(
            throttle_time_ms=0, error_code=r.error.code if r.error else 0,
            members=[MemberResponse(member_id=m.member_id, group_instance_id=m.group_instance_id,
                                    error_code=m.error.code if m.error else 0)
                     for m in r.members])
    error = r.error or next((m.error for m in r.members if m.error), None)
    return LeaveGroupResponse(throttle_time_ms=0, error_code=error.code if error else 0)
