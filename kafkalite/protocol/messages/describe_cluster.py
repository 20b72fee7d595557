"""DescribeCluster (key 60): brokers, controller and cluster id for admin clients (KIP-700).

v1 endpoint type (KIP-919).
"""

from __future__ import annotations

import attrs

from kafkalite.protocol.api_keys import ApiKey
from kafkalite.protocol.schema import BOOLEAN, INT16, INT32, INT8, STRING, Array, message, wire


@attrs.frozen(kw_only=True)
class DescribeClusterBroker:
    broker_id: int = wire(INT32)
    host: str = wire(STRING)
    port: int = wire(INT32)
    rack: str | None = wire(STRING, nullable="0+")


@message(api_key=ApiKey.DESCRIBE_CLUSTER, kind="request", versions="0-1", flexible="0+")
@attrs.frozen(kw_only=True)
class DescribeClusterRequest:
    include_cluster_authorized_operations: bool = wire(BOOLEAN)
    endpoint_type: int = wire(INT8, versions="1+", default=1)


@message(api_key=ApiKey.DESCRIBE_CLUSTER, kind="response", versions="0-1", flexible="0+")
@attrs.frozen(kw_only=True)
class DescribeClusterResponse:
    throttle_time_ms: int = wire(INT32)
    error_code: int = wire(INT16)
    error_message: str | None = wire(STRING, nullable="0+")
    endpoint_type: int = wire(INT8, versions="1+", default=1)
    cluster_id: str = wire(STRING)
    controller_id: int = wire(INT32, default=-1)
    brokers: tuple[DescribeClusterBroker, ...] = wire(Array(DescribeClusterBroker))
    cluster_authorized_operations: int = wire(INT32, default=-(2**31))
