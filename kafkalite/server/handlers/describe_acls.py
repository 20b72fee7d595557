"""DescribeAcls (key 29), v0–2 (flexible from 2): the ACL bindings matching one filter.

Kafka 2.8 order: the principal needs Describe on the cluster (else CLUSTER_AUTHORIZATION_FAILED
at the top level), then without an authorizer the answer is SECURITY_DISABLED. The filter's
codes must be known ones (Kafka refuses UNKNOWN elements while parsing; we answer
INVALID_REQUEST instead of closing the connection). v0 knows LITERAL patterns only: its
filter is LITERAL, and prefixed bindings are not returned to it. Bindings are grouped by
resource pattern, as Kafka's ``DescribeAclsResponse.aclsResources``.
"""

from __future__ import annotations

from kafkalite import errors
from kafkalite.errors import KafkaError
from kafkalite.protocol.api_keys import ApiKey
from kafkalite.protocol.messages.describe_acls import (
    AclDescription, DescribeAclsResource, DescribeAclsResponse)
from kafkalite.security.acl import (
    AccessControlEntryFilter, AclBindingFilter, AclOperation, AclPermissionType, PatternType,
    ResourcePatternFilter, ResourceType, from_code)
from kafkalite.server.authorization import require_cluster
from kafkalite.server.dispatch import handler

__all__ = ["binding_filter"]


def binding_filter(f) -> AclBindingFilter:
    """The filter of a DescribeAcls request or a DeleteAcls filter entry (same field names).

    Raises:
        InvalidRequest: an UNKNOWN (or unknown) code.
    """
    result = AclBindingFilter(
        ResourcePatternFilter(from_code(ResourceType, f.resource_type_filter),
                              f.resource_name_filter,
                              from_code(PatternType, f.pattern_type_filter)),
        AccessControlEntryFilter(f.principal_filter, f.host_filter,
                                 from_code(AclOperation, f.operation),
                                 from_code(AclPermissionType, f.permission_type)))
    if result.is_unknown:
        raise errors.InvalidRequest(f"The filter contains UNKNOWN elements: {result}")
    return result


def _error(error: type[KafkaError], message: str | None = None) -> DescribeAclsResponse:
    return DescribeAclsResponse(throttle_time_ms=0, error_code=error.code,
                                error_message=message or error.default_message(),
                                resources=())


def _error_response(_request, _version: int, error: KafkaError) -> DescribeAclsResponse:
    return _error(type(error), str(error))


@handler(ApiKey.DESCRIBE_ACLS, versions=(0, 2), error_response=_error_response)
async def handle_describe_acls(ctx, req):
    require_cluster(ctx, AclOperation.DESCRIBE)
    authorizer = ctx.broker.authorizer
    if authorizer is None:
        return _error(errors.SecurityDisabled, "No Authorizer is configured on the broker")
    try:
        binding_filter_ = binding_filter(req)
    except errors.InvalidRequest as e:
        return _error(type(e), str(e))
    resources: dict = {}
    for binding in authorizer.acls(binding_filter_):
        if ctx.api_version == 0 and binding.pattern.pattern_type is not PatternType.LITERAL:
            continue
        resources.setdefault(binding.pattern, []).append(AclDescription(
            principal=binding.entry.principal, host=binding.entry.host,
            operation=int(binding.entry.operation),
            permission_type=int(binding.entry.permission_type)))
    return DescribeAclsResponse(
        throttle_time_ms=0, error_code=0, error_message=None,
        resources=tuple(DescribeAclsResource(
            resource_type=int(p.resource_type), resource_name=p.name,
            pattern_type=int(p.pattern_type), acls=tuple(acls))
            for p, acls in resources.items()))
