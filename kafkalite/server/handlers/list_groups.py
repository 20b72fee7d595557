"""ListGroups (key 16), v0–4 (flexible from 3).

The groups this broker coordinates (tools ask every broker). v4 (KIP-518) filters by state
names (case-insensitive) and reports each group's state. While an offsets partition is still
loading the error is COORDINATOR_LOAD_IN_PROGRESS, with the groups known so far.

Authorization: Describe on the cluster lists every group; otherwise only the groups the
principal may Describe (Kafka 2.8).
"""

from __future__ import annotations

from kafkalite import errors
from kafkalite.coordinator.group_state import parse_state
from kafkalite.protocol.api_keys import ApiKey
from kafkalite.protocol.messages.list_groups import ListedGroup, ListGroupsResponse
from kafkalite.server import authorization as authz
from kafkalite.server.authorization import AclOperation, ResourceType
from kafkalite.server.dispatch import handler


@handler(ApiKey.LIST_GROUPS, versions=(0, 4))
async def handle_list_groups(ctx, req):
    svc = ctx.broker.coordinator
    if svc is None:
        return ListGroupsResponse(throttle_time_ms=0,
                                  error_code=errors.CoordinatorNotAvailable.code)
    names = list(req.states_filter) if ctx.api_version >= 4 else []
    states = [s for s in map(parse_state, names) if s is not None]
    if names and not states:  # only unknown state names: nothing matches
        return ListGroupsResponse(throttle_time_ms=0, error_code=0, groups=[])
    r = svc.list_groups(states)
    groups = r.groups
    if authz.enabled(ctx) and not authz.authorize_cluster(ctx, AclOperation.DESCRIBE):
        allowed = authz.filter_authorized(ctx, AclOperation.DESCRIBE, ResourceType.GROUP,
                                          (g.group_id for g in groups))
        groups = [g for g in groups if g.group_id in allowed]
    return ListGroupsResponse(
        throttle_time_ms=0, error_code=r.error.code if r.error else 0,
        groups=[ListedGroup(group_id=g.group_id, protocol_type=g.protocol_type,
                            group_state=g.state) for g in groups])
