"""DeleteGroups (key 42), v0–2 (flexible from 2).

Only Empty groups can go (NON_EMPTY_GROUP otherwise, GROUP_ID_NOT_FOUND for unknown ones);
their offsets and metadata get tombstones in ``__consumer_offsets`` before the answer.

Authorization: Delete on each group, else that group answers GROUP_AUTHORIZATION_FAILED.
"""

from __future__ import annotations

from kafkalite import errors
from kafkalite.protocol.api_keys import ApiKey
from kafkalite.protocol.messages.delete_groups import DeletableGroupResult, DeleteGroupsResponse
from kafkalite.server import authorization as authz
from kafkalite.server.authorization import AclOperation, ResourceType
from kafkalite.server.dispatch import handler


@handler(ApiKey.DELETE_GROUPS, versions=(0, 2))
async def handle_delete_groups(ctx, req):
    svc = ctx.broker.coordinator
    names = list(req.groups_names)
    allowed = authz.filter_authorized(ctx, AclOperation.DELETE, ResourceType.GROUP, names)
    denied = {g: errors.GroupAuthorizationFailed for g in names if g not in allowed}
    names = [g for g in names if g in allowed]
    if svc is None:
        results = {g: errors.CoordinatorNotAvailable for g in names}
    elif names or not denied:
        results = await svc.delete_groups(names)
    else:
        results = {}
    results = {**results, **denied}
    names = list(req.groups_names)
    return DeleteGroupsResponse(
        throttle_time_ms=0,
        results=[DeletableGroupResult(group_id=g, error_code=results[g].code if results[g] else 0)
                 for g in dict.fromkeys(names)])
