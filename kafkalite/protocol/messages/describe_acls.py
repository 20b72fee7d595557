"""DescribeAcls (key 29): the ACL bindings matching one filter.

v1 adds the pattern type filter and per-resource PatternType (KIP-290; v0 is LITERAL only, a
v0 filter defaults to LITERAL); v2 flexible.
"""

from __future__ import annotations

import attrs

from kafkalite.protocol.api_keys import ApiKey
from kafkalite.protocol.schema import INT8, INT16, INT32, STRING, Array, message, wire


@attrs.frozen(kw_only=True)
class AclDescription:
    principal: str = wire(STRING)
    host: str = wire(STRING)
    operation: int = wire(INT8)
    permission_type: int = wire(INT8)


@attrs.frozen(kw_only=True)
class DescribeAclsResource:
    resource_type: int = wire(INT8)
    resource_name: str = wire(STRING)
    pattern_type: int = wire(INT8, versions="1+", default=3)
    acls: tuple[AclDescription, ...] = wire(Array(AclDescription))


@message(api_key=ApiKey.DESCRIBE_ACLS, kind="request", versions="0-2", flexible="2+")
@attrs.frozen(kw_only=True)
class DescribeAclsRequest:
    resource_type_filter: int = wire(INT8)
    resource_name_filter: str | None = wire(STRING, nullable="0+")
    pattern_type_filter: int = wire(INT8, versions="1+", default=3)
    principal_filter: str | None = wire(STRING, nullable="0+")
    host_filter: str | None = wire(STRING, nullable="0+")
    operation: int = wire(INT8)
    permission_type: int = wire(INT8)


@message(api_key=ApiKey.DESCRIBE_ACLS, kind="response", versions="0-2", flexible="2+")
@attrs.frozen(kw_only=True)
class DescribeAclsResponse:
    throttle_time_ms: int = wire(INT32)
    error_code: int = wire(INT16)
    error_message: str | None = wire(STRING, nullable="0+")
    resources: tuple[DescribeAclsResource, ...] = wire(Array(DescribeAclsResource))
