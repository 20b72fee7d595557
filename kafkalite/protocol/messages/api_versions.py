"""ApiVersions (key 18): the client asks which API versions the broker speaks (KIP-35).

v0 ranges only; v1 throttle time; v2 same; v3 flexible, client software name/version in the
request and optional feature tags in the response (KIP-511, KIP-584). A request above our maximum
is answered with a v0 body and error 35 (see framing.py). The feature tags are written only when
non-default so old librdkafka keeps working (wire-protocol.md §3).
"""

from __future__ import annotations

import attrs

from kafkalite.protocol.api_keys import ApiKey
from kafkalite.protocol.schema import BOOLEAN, INT16, INT32, INT64, STRING, Array, message, wire


@attrs.frozen(kw_only=True)
class ApiVersion:
    api_key: int = wire(INT16)
    min_version: int = wire(INT16)
    max_version: int = wire(INT16)


@attrs.frozen(kw_only=True)
class SupportedFeatureKey:
    name: str = wire(STRING, versions="3+")
    min_version: int = wire(INT16, versions="3+")
    max_version: int = wire(INT16, versions="3+")


@attrs.frozen(kw_only=True)
class FinalizedFeatureKey:
    name: str = wire(STRING, versions="3+")
    max_version_level: int = wire(INT16, versions="3+")
    min_version_level: int = wire(INT16, versions="3+")


@message(api_key=ApiKey.API_VERSIONS, kind="request", versions="0-3", flexible="3+")
@attrs.frozen(kw_only=True)
class ApiVersionsRequest:
    client_software_name: str = wire(STRING, versions="3+")
    client_software_version: str = wire(STRING, versions="3+")


@message(api_key=ApiKey.API_VERSIONS, kind="response", versions="0-3", flexible="3+")
@attrs.frozen(kw_only=True)
class ApiVersionsResponse:
    error_code: int = wire(INT16)
    api_keys: tuple[ApiVersion, ...] = wire(Array(ApiVersion))
    throttle_time_ms: int = wire(INT32, versions="1+")
    supported_features: tuple[SupportedFeatureKey, ...] = wire(
        Array(SupportedFeatureKey), versions="3+", tag=0
    )
    finalized_features_epoch: int = wire(INT64, versions="3+", tag=1, default=-1)
    finalized_features: tuple[FinalizedFeatureKey, ...] = wire(
        Array(FinalizedFeatureKey), versions="3+", tag=2
    )
    zk_migration_ready: bool = wire(BOOLEAN, versions="3+", tag=3)
