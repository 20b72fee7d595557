"""DescribeLogDirs (key 35): log directories and partition sizes of a broker.

v1 same as v0; v2 flexible.
"""

from __future__ import annotations

import attrs

from kafkalite.protocol.api_keys import ApiKey
from kafkalite.protocol.schema import BOOLEAN, INT16, INT32, INT64, STRING, Array, message, wire


@attrs.frozen(kw_only=True)
class DescribableLogDirTopic:
    topic: str = wire(STRING)
    partitions: tuple[int, ...] = wire(Array(INT32))


@attrs.frozen(kw_only=True)
class DescribeLogDirsPartition:
    partition_index: int = wire(INT32)
    partition_size: int = wire(INT64)
    offset_lag: int = wire(INT64)
    is_future_key: bool = wire(BOOLEAN)


@attrs.frozen(kw_only=True)
class DescribeLogDirsTopic:
    name: str = wire(STRING)
    partitions: tuple[DescribeLogDirsPartition, ...] = wire(Array(DescribeLogDirsPartition))


@attrs.frozen(kw_only=True)
class DescribeLogDirsResult:
    error_code: int = wire(INT16)
    log_dir: str = wire(STRING)
    topics: tuple[DescribeLogDirsTopic, ...] = wire(Array(DescribeLogDirsTopic))


@message(api_key=ApiKey.DESCRIBE_LOG_DIRS, kind="request", versions="0-2", flexible="2+")
@attrs.frozen(kw_only=True)
class DescribeLogDirsRequest:
    topics: tuple[DescribableLogDirTopic, ...] | None = wire(
        Array(DescribableLogDirTopic), nullable="0+"
    )


@message(api_key=ApiKey.DESCRIBE_LOG_DIRS, kind="response", versions="0-2", flexible="2+")
@attrs.frozen(kw_only=True)
class DescribeLogDirsResponse:
    throttle_time_ms: int = wire(INT32)
    results: tuple[DescribeLogDirsResult, ...] = wire(Array(DescribeLogDirsResult))
