"""DescribeLogDirs (key 35), v0–2 (flexible from 2): this broker's log dirs and their replicas.

One result per configured ``log.dirs`` entry, in configuration order, with the absolute path
Kafka reports. Each lists the partition replicas stored there (all of them, or those the
request names; null topics = everything) with their size in bytes (sum of the segment files),
offset lag 0 (a current replica is never behind itself; only ``-future`` replicas of an
intra-broker move lag, and kafkalite does not move replicas between dirs) and is_future false.
A directory that failed (offline since an I/O error, e.g. a full disk) or that the broker can
no longer read or write answers KAFKA_STORAGE_ERROR with no topics.

Version notes: v1 is v0; v2 is flexible.

Authorization: Describe on the cluster; without it the answer lists no log dirs (Kafka 2.8
has no error code in this response).
"""

from __future__ import annotations

import os
from collections import defaultdict

from kafkalite import errors
from kafkalite.protocol.api_keys import ApiKey
from kafkalite.protocol.messages.describe_log_dirs import (
    DescribeLogDirsPartition, DescribeLogDirsResponse, DescribeLogDirsResult,
    DescribeLogDirsTopic)
from kafkalite.server import authorization as authz
from kafkalite.server.authorization import AclOperation
from kafkalite.server.dispatch import handler


def _wanted(req) -> dict[str, set[int]] | None:
    if req.topics is None:
        return None
    out: dict[str, set[int]] = defaultdict(set)
    for t in req.topics:
        out[t.topic].update(t.partitions)
    return out


@handler(ApiKey.DESCRIBE_LOG_DIRS, versions=(0, 2))
async def handle_describe_log_dirs(ctx, req):
    if not authz.authorize_cluster(ctx, AclOperation.DESCRIBE):
        return DescribeLogDirsResponse(throttle_time_ms=0, results=())
    manager = ctx.broker.log_manager
    wanted = _wanted(req)
    by_dir: dict[str, dict[str, list[DescribeLogDirsPartition]]] = defaultdict(
        lambda: defaultdict(list))
    for tp, log in sorted(manager.logs.items(), key=lambda item: (item[0].topic,
                                                                  item[0].partition)):
        if wanted is not None and tp.partition not in wanted.get(tp.topic, ()):
            continue
        log_dir = manager.log_dir_of(tp.topic, tp.partition)
        if log_dir is None:
            continue
        by_dir[os.path.abspath(log_dir)][tp.topic].append(DescribeLogDirsPartition(
            partition_index=tp.partition, partition_size=log.size, offset_lag=0,
            is_future_key=False))
    results = []
    for log_dir in manager.log_dirs:
        path = os.path.abspath(log_dir)
        if log_dir in manager.offline_dirs or not (
                os.path.isdir(path) and os.access(path, os.R_OK | os.W_OK | os.X_OK)):
            results.append(DescribeLogDirsResult(error_code=errors.KafkaStorageError.code,
                                                 log_dir=path, topics=()))
            continue
        topics = tuple(DescribeLogDirsTopic(name=topic, partitions=tuple(parts))
                       for topic, parts in sorted(by_dir.get(path, {}).items()))
        results.append(DescribeLogDirsResult(error_code=0, log_dir=path, topics=topics))
    return DescribeLogDirsResponse(throttle_time_ms=0, results=tuple(results))
