"""CreateAcls (key 30): add ACL bindings.

v1 adds ResourcePatternType (KIP-290; v0 is LITERAL only); v2 flexible.
"""

from __future__ import annotations

import attrs

from kafkalite.protocol.api_keys import ApiKey
from kafkalite.protocol.schema import INT8, INT16, INT32, STRING, Array, message, wire


@attrs.frozen(kw_only=True)
class AclCreation:
    resource_type: int = wire(INT8)
    resource_name: str = wire(STRING)
    resource_pattern_type: int = wire(INT8, versions="1+", default=3)
    principal: str = wire(STRING)
    host: str = wire(STRING)
    operation: int = wire(INT8)
    permission_type: int = wire(INT8)


@attrs.frozen(kw_only=True)
class AclCreationResult:
    error_code: int = wire(INT16)
    error_message: str | None = wire(STRING, nullable="0+")


@message(api_key=ApiKey.CREATE_ACLS, kind="request", versions="0-2", flexible="2+")
@attrs.frozen(kw_only=True)
class CreateAclsRequest:
    creations: tuple[AclCreation, ...] = wire(Array(AclCreation))


@message(api_key=ApiKey.CREATE_ACLS, kind="response", versions="0-2", flexible="2+")
@attrs.frozen(kw_only=True)
class CreateAclsResponse:
    throttle_time_ms: int = wire(INT32)
    results: tuple[AclCreationResult, ...] = wire(Array(AclCreationResult))
