"""DeleteAcls (key 31): remove the ACL bindings matching each filter.

v1 adds the pattern type filter and the matching ACL's PatternType (KIP-290; v0 filters
default to LITERAL); v2 flexible.
"""

from __future__ import annotations

import attrs

from kafkalite.protocol.api_keys import ApiKey
from kafkalite.protocol.schema import INT8, INT16, INT32, STRING, Array, message, wire


@attrs.frozen(kw_only=True)
class DeleteAclsFilter:
    resource_type_filter: int = wire(INT8)
    resource_name_filter: str | None = wire(STRING, nullable="0+")
    pattern_type_filter: int = wire(INT8, versions="1+", default=3)
    principal_filter: str | None = wire(STRING, nullable="0+")
    host_filter: str | None = wire(STRING, nullable="0+")
    operation: int = wire(INT8)
    permission_type: int = wire(INT8)


@attrs.frozen(kw_only=True)
class DeleteAclsMatchingAcl:
    error_code: int = wire(INT16)
    error_message: str | None = wire(STRING, nullable="0+")
    resource_type: int = wire(INT8)
    resource_name: str = wire(STRING)
    pattern_type: int = wire(INT8, versions="1+", default=3)
    principal: str = wire(STRING)
    host: str = wire(STRING)
    operation: int = wire(INT8)
    permission_type: int = wire(INT8)


@attrs.frozen(kw_only=True)
class DeleteAclsFilterResult:
    error_code: int = wire(INT16)
    error_message: str | None = wire(STRING, nullable="0+")
    matching_acls: tuple[DeleteAclsMatchingAcl, ...] = wire(Array(DeleteAclsMatchingAcl))


@message(api_key=ApiKey.DELETE_ACLS, kind="request", versions="0-2", flexible="2+")
@attrs.frozen(kw_only=True)
class DeleteAclsRequest:
    filters: tuple[DeleteAclsFilter, ...] = wire(Array(DeleteAclsFilter))


@message(api_key=ApiKey.DELETE_ACLS, kind="response", versions="0-2", flexible="2+")
@attrs.frozen(kw_only=True)
class DeleteAclsResponse:
    throttle_time_ms: int = wire(INT32)
    filter_results: tuple[DeleteAclsFilterResult, ...] = wire(Array(DeleteAclsFilterResult))
