"""AlterConfigs (key 33): replace a resource's whole configuration (legacy, non-incremental).

v1 same as v0; v2 flexible.
"""

from __future__ import annotations

import attrs

from kafkalite.protocol.api_keys import ApiKey
from kafkalite.protocol.schema import BOOLEAN, INT16, INT32, INT8, STRING, Array, message, wire


@attrs.frozen(kw_only=True)
class AlterableConfig:
    name: str = wire(STRING)
    value: str | None = wire(STRING, nullable="0+")


@attrs.frozen(kw_only=True)
class AlterConfigsResource:
    resource_type: int = wire(INT8)
    resource_name: str = wire(STRING)
    configs: tuple[AlterableConfig, ...] = wire(Array(AlterableConfig))


@attrs.frozen(kw_only=True)
class AlterConfigsResourceResponse:
    error_code: int = wire(INT16)
    error_message: str | None = wire(STRING, nullable="0+")
    resource_type: int = wire(INT8)
    resource_name: str = wire(STRING)


@message(api_key=ApiKey.ALTER_CONFIGS, kind="request", versions="0-2", flexible="2+")
@attrs.frozen(kw_only=True)
class AlterConfigsRequest:
    resources: tuple[AlterConfigsResource, ...] = wire(Array(AlterConfigsResource))
    validate_only: bool = wire(BOOLEAN)


@message(api_key=ApiKey.ALTER_CONFIGS, kind="response", versions="0-2", flexible="2+")
@attrs.frozen(kw_only=True)
class AlterConfigsResponse:
    throttle_time_ms: int = wire(INT32)
    responses: tuple[AlterConfigsResourceResponse, ...] = wire(Array(AlterConfigsResourceResponse))
