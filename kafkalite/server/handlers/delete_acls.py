"""DeleteAcls (key 31), v0–2 (flexible from 2): remove the ACL bindings matching filters.

Kafka 2.8 order: Alter on the cluster is required (else every filter result is
CLUSTER_AUTHORIZATION_FAILED), then without an authorizer every filter result is
SECURITY_DISABLED. A filter with unknown codes is INVALID_REQUEST for that filter only.
Each filter result lists the bindings it removed (a binding matched by several filters is
reported under the first); each removal carries its own error, e.g. when ZooKeeper kept
conflicting. A filter naming exactly one resource also deletes ACLs this broker has not
learnt about yet; MATCH filters and null names work from this broker's cache.
"""

from __future__ import annotations

from kafkalite import errors
from kafkalite.errors import KafkaError
from kafkalite.protocol.api_keys import ApiKey
from kafkalite.protocol.messages.delete_acls import (
    DeleteAclsFilterResult, DeleteAclsMatchingAcl, DeleteAclsResponse)
from kafkalite.security.acl import AclOperation
from kafkalite.server.authorization import require_cluster
from kafkalite.server.dispatch import handler
from kafkalite.server.handlers.describe_acls import binding_filter


def _filter_error(error: KafkaError) -> DeleteAclsFilterResult:
    return DeleteAclsFilterResult(error_code=error.code, error_message=str(error),
                                  matching_acls=())


def _error_response(req, _version: int, error: KafkaError) -> DeleteAclsResponse:
    return DeleteAclsResponse(throttle_time_ms=0,
                              filter_results=tuple(_filter_error(error) for _ in req.filters))


def _matching(binding, error: KafkaError | None) -> DeleteAclsMatchingAcl:
    return DeleteAclsMatchingAcl(
        error_code=error.code if error else 0, error_message=str(error) if error else None,
        resource_type=int(binding.pattern.resource_type), resource_name=binding.pattern.name,
        pattern_type=int(binding.pattern.pattern_type), principal=binding.entry.principal,
        host=binding.entry.host, operation=int(binding.entry.operation),
        permission_type=int(binding.entry.permission_type))


@handler(ApiKey.DELETE_ACLS, versions=(0, 2), error_response=_error_response)
async def handle_delete_acls(ctx, req):
    require_cluster(ctx, AclOperation.ALTER)
    authorizer = ctx.broker.authorizer
    if authorizer is None:
        raise errors.SecurityDisabled("No Authorizer is configured on the broker.")
    results: list[DeleteAclsFilterResult | None] = [None] * len(req.filters)
    valid = []
    for i, f in enumerate(req.filters):
        try:
            valid.append((i, binding_filter(f)))
        except errors.InvalidRequest as e:
            results[i] = _filter_error(e)
    deleted = await authorizer.delete_acls([f for _, f in valid])
    for (i, _), removed in zip(valid, deleted):
        results[i] = DeleteAclsFilterResult(
            error_code=0, error_message=None,
            matching_acls=tuple(_matching(b, e) for b, e in removed))
    return DeleteAclsResponse(throttle_time_ms=0, filter_results=tuple(results))
