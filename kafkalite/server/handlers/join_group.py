"""JoinGroup (key 11), v0–7 (flexible from 6).

Parked until the rebalance completes (or answered at once: errors, MEMBER_ID_REQUIRED,
unchanged rejoins). v0 has no rebalance timeout (the session timeout serves); v4+ (KIP-394):
a member without an id gets MEMBER_ID_REQUIRED with ``<client id>-<uuid>`` and joins again
with it; v5+ GroupInstanceId (static membership, KIP-345); v7 ProtocolType in the response
and a nullable ProtocolName. The client host recorded is Kafka's ``/<address>``.

Authorization: Read on the group, else GROUP_AUTHORIZATION_FAILED with an empty member id.
"""

from __future__ import annotations

from kafkalite import errors
from kafkalite.coordinator.results import JoinGroupArgs
from kafkalite.protocol.api_keys import ApiKey
from kafkalite.protocol.messages.join_group import JoinGroupResponse, JoinGroupResponseMember
from kafkalite.server import authorization as authz
from kafkalite.server.authorization import AclOperation, ResourceType
from kafkalite.server.dispatch import handler


def client_host(ctx) -> str:
    return f"/{ctx.connection.client_host}" if ctx.connection else "/127.0.0.1"


@handler(ApiKey.JOIN_GROUP, versions=(0, 7))
async def handle_join_group(ctx, req):
    version = ctx.api_version
    svc = ctx.broker.coordinator
    if not authz.authorize(ctx, AclOperation.READ, ResourceType.GROUP, req.group_id):
        return JoinGroupResponse(throttle_time_ms=0,
                                 error_code=errors.GroupAuthorizationFailed.code,
                                 generation_id=-1, protocol_name="" if version < 7 else None,
                                 leader="", member_id="")
    if svc is None:
        return JoinGroupResponse(throttle_time_ms=0,
                                 error_code=errors.CoordinatorNotAvailable.code,
                                 protocol_name="" if version < 7 else None,
                                 member_id=req.member_id)
    r = await svc.join_group(JoinGroupArgs(
        group_id=req.group_id, member_id=req.member_id,
        group_instance_id=req.group_instance_id if version >= 5 else None,
        client_id=ctx.header.client_id or "", client_host=client_host(ctx),
        session_timeout_ms=req.session_timeout_ms,
        rebalance_timeout_ms=req.rebalance_timeout_ms if version >= 1 else req.session_timeout_ms,
        protocol_type=req.protocol_type,
        protocols=tuple((p.name, bytes(p.metadata)) for p in req.protocols),
        require_known_member_id=version >= 4))
    return JoinGroupResponse(
        throttle_time_ms=0, error_code=r.error.code if r.error else 0,
        generation_id=r.generation_id, protocol_type=r.protocol_type,
        protocol_name=r.protocol_name if version >= 7 else (r.protocol_name or ""),
        leader=r.leader_id, member_id=r.member_id,
        members=[JoinGroupResponseMember(member_id=m.member_id,
                                         group_instance_id=m.group_instance_id,
                                         metadata=m.metadata) for m in r.members])
