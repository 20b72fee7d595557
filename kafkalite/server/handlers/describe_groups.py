"""DescribeGroups (key 15), v0–5 (flexible from 5).

State, protocol and members of each group this broker coordinates (NOT_COORDINATOR for the
others). An unknown group is described as "Dead" with no error, as Kafka does. Member
metadata and assignments are filled only for Stable groups. v3 authorized operations (no
authorizer: READ, DELETE and DESCRIBE are allowed), v4 group instance ids.

Authorization: Describe on each group, else that group answers GROUP_AUTHORIZATION_FAILED;
v3+ AuthorizedOperations (KIP-430) are the group operations the principal may perform.
"""

from __future__ import annotations

from kafkalite import errors
from kafkalite.protocol.api_keys import ApiKey
from kafkalite.protocol.messages.describe_groups import (
    DescribedGroup, DescribedGroupMember, DescribeGroupsResponse)
from kafkalite.server import authorization as authz
from kafkalite.server.authorization import AclOperation, ResourceType
from kafkalite.server.dispatch import handler

_NOT_REQUESTED = authz.NOT_REQUESTED_OPERATIONS


@handler(ApiKey.DESCRIBE_GROUPS, versions=(0, 5))
async def handle_describe_groups(ctx, req):
    svc = ctx.broker.coordinator
    want_ops = ctx.api_version >= 3 and req.include_authorized_operations
    out = []
    for gid in req.groups:
        if not authz.authorize(ctx, AclOperation.DESCRIBE, ResourceType.GROUP, gid):
            out.append(DescribedGroup(error_code=errors.GroupAuthorizationFailed.code,
                                      group_id=gid, authorized_operations=_NOT_REQUESTED))
            continue
        ops = authz.authorized_operations(ctx, ResourceType.GROUP, gid) if want_ops \
            else _NOT_REQUESTED
        if svc is None:
            out.append(DescribedGroup(error_code=errors.CoordinatorNotAvailable.code,
                                      group_id=gid, authorized_operations=ops))
            continue
        d = svc.describe_group(gid)
        out.append(DescribedGroup(
            error_code=d.error.code if d.error else 0, group_id=gid, group_state=d.state,
            protocol_type=d.protocol_type, protocol_data=d.protocol,
            members=[DescribedGroupMember(
                member_id=m.member_id, group_instance_id=m.group_instance_id,
                client_id=m.client_id, client_host=m.client_host, member_metadata=m.metadata,
                member_assignment=m.assignment) for m in d.members],
            authorized_operations=ops))
    return DescribeGroupsResponse(throttle_time_ms=0, groups=out)
