"""CreateAcls (key 30), v0–2 (flexible from 2): add ACL bindings.

Kafka 2.8 order: Alter on the cluster is required (else every result is
CLUSTER_AUTHORIZATION_FAILED), then without an authorizer every result is SECURITY_DISABLED.
Each binding is checked on its own: unknown codes, ANY/MATCH values, a CLUSTER name other
than ``kafka-cluster``, an empty name or a principal that is not ``Type:name`` are
INVALID_REQUEST for that binding only. The others are written to ZooKeeper (per resource
pattern: compare-and-set, then a change notification) before the answer; adding a binding
that exists already succeeds. One result per creation, in request order.
"""

from __future__ import annotations

from kafkalite import errors
from kafkalite.errors import KafkaError
from kafkalite.protocol.api_keys import ApiKey
from kafkalite.protocol.messages.create_acls import AclCreationResult, CreateAclsResponse
from kafkalite.security.acl import (
    AccessControlEntry, AclBinding, AclOperation, AclPermissionType, PatternType,
    ResourcePattern, ResourceType, from_code)
from kafkalite.server.authorization import require_cluster
from kafkalite.server.dispatch import handler

__all__ = ["creation_binding"]


def creation_binding(c) -> AclBinding:
    """Raises InvalidRequest for codes that cannot make a binding (ANY, MATCH)."""
    try:
        return AclBinding(
            ResourcePattern(from_code(ResourceType, c.resource_type), c.resource_name,
                            from_code(PatternType, c.resource_pattern_type)),
            AccessControlEntry(c.principal, c.host, from_code(AclOperation, c.operation),
                               from_code(AclPermissionType, c.permission_type)))
    except ValueError as e:
        raise errors.InvalidRequest(f"Failed to create ACL: {e}") from None


def _result(error: KafkaError | None) -> AclCreationResult:
    if error is None:
        return AclCreationResult(error_code=0, error_message=None)
    return AclCreationResult(error_code=error.code, error_message=str(error))


def _error_response(req, _version: int, error: KafkaError) -> CreateAclsResponse:
    return CreateAclsResponse(throttle_time_ms=0,
                              results=tuple(_result(error) for _ in req.creations))


@handler(ApiKey.CREATE_ACLS, versions=(0, 2), error_response=_error_response)
async def handle_create_acls(ctx, req):
    require_cluster(ctx, AclOperation.ALTER)
    authorizer = ctx.broker.authorizer
    if authorizer is None:
        raise errors.SecurityDisabled("No Authorizer is configured on the broker.")
    results: list[KafkaError | None] = [None] * len(req.creations)
    valid: list[tuple[int, AclBinding]] = []
    for i, c in enumerate(req.creations):
        try:
            valid.append((i, creation_binding(c)))
        except errors.InvalidRequest as e:
            results[i] = e
    created = await authorizer.create_acls([b for _, b in valid])
    for (i, _), error in zip(valid, created):
        results[i] = error
    return CreateAclsResponse(throttle_time_ms=0, results=tuple(map(_result, results)))
