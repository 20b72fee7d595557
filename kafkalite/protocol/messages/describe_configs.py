"""DescribeConfigs (key 32): topic and broker configuration.

v1 include_synonyms, config source and synonyms; v3 include_documentation, config type and
documentation; v4 flexible.
"""

from __future__ import annotations

import attrs

from kafkalite.protocol.api_keys import ApiKey
from kafkalite.protocol.schema import BOOLEAN, INT16, INT32, INT8, STRING, Array, message, wire


@attrs.frozen(kw_only=True)
class DescribeConfigsResource:
    resource_type: int = wire(INT8)
    resource_name: str = wire(STRING)
    configuration_keys: tuple[str, ...] | None = wire(Array(STRING), nullable="0+")


@attrs.frozen(kw_only=True)
class DescribeConfigsSynonym:
    name: str = wire(STRING, versions="1+")
    value: str | None = wire(STRING, versions="1+", nullable="1+")
    source: int = wire(INT8, versions="1+")


@attrs.frozen(kw_only=True)
class DescribeConfigsResourceResult:
    name: str = wire(STRING)
    value: str | None = wire(STRING, nullable="0+")
    read_only: bool = wire(BOOLEAN)
    is_default: bool = wire(BOOLEAN, versions="0")
    config_source: int = wire(INT8, versions="1+", default=-1)
    is_sensitive: bool = wire(BOOLEAN)
    synonyms: tuple[DescribeConfigsSynonym, ...] = wire(
        Array(DescribeConfigsSynonym), versions="1+"
    )
    config_type: int = wire(INT8, versions="3+")
    documentation: str | None = wire(STRING, versions="3+", nullable="3+")


@attrs.frozen(kw_only=True)
class DescribeConfigsResult:
    error_code: int = wire(INT16)
    error_message: str | None = wire(STRING, nullable="0+")
    resource_type: int = wire(INT8)
    resource_name: str = wire(STRING)
    configs: tuple[DescribeConfigsResourceResult, ...] = wire(Array(DescribeConfigsResourceResult))


@message(api_key=ApiKey.DESCRIBE_CONFIGS, kind="request", versions="0-4", flexible="4+")
@attrs.frozen(kw_only=True)
class DescribeConfigsRequest:
    resources: tuple[DescribeConfigsResource, ...] = wire(Array(DescribeConfigsResource))
    include_synonyms: bool = wire(BOOLEAN, versions="1+")
    include_documentation: bool = wire(BOOLEAN, versions="3+")


@message(api_key=ApiKey.DESCRIBE_CONFIGS, kind="response", versions="0-4", flexible="4+")
@attrs.frozen(kw_only=True)
class DescribeConfigsResponse:
    throttle_time_ms: int = wire(INT32)
    results: tuple[DescribeConfigsResult, ...] = wire(Array(DescribeConfigsResult))
