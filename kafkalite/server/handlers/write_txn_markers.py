"""WriteTxnMarkers (key 27), v0–1 (flexible from 1).

Sent by a transaction coordinator (and by ``kafka-transactions.sh abort``) to partition leaders:
append a COMMIT or ABORT control batch for a producer to each named partition. The markers are
appended with origin COORDINATOR (producer epoch and coordinator epoch are checked, see
``storage/producer_state.py``) and acks=all, answered per producer id and partition once
replicated (``request.timeout.ms`` at most), as Kafka does. Markers of one request are appended
concurrently, in request order.

Markers that land in ``__consumer_offsets`` complete the transactional offset commits of that
producer: the group coordinator makes them visible (COMMIT) or drops them (ABORT).

Authorization: ClusterAction on the cluster, else CLUSTER_AUTHORIZATION_FAILED (Kafka).
"""

from __future__ import annotations

import trio

from kafkalite import errors
from kafkalite.model import OFFSETS_TOPIC, TopicPartition
from kafkalite.protocol.api_keys import ApiKey
from kafkalite.protocol.messages.write_txn_markers import (
    WritableTxnMarkerPartitionResult, WritableTxnMarkerResult, WritableTxnMarkerTopicResult,
    WriteTxnMarkersResponse)
from kafkalite.records.builder import build_control_batch
from kafkalite.records.control import ControlType
from kafkalite.replication.service import now_ms
from kafkalite.server import authorization as authz
from kafkalite.server.authorization import AclOperation
from kafkalite.server.dispatch import handler
from kafkalite.storage.producer_state import AppendOrigin


async def _write_marker(broker, marker, out: dict) -> None:
    rm = broker.replica_manager
    control = ControlType.COMMIT if marker.transaction_result else ControlType.ABORT
    entries, results = [], {}
    for topic in marker.topics:
        for partition in topic.partition_indexes:
            tp = TopicPartition(topic.name, partition)
            if rm.get_partition(tp) is None:
                results[tp] = rm.missing_partition_error(tp)
                continue
            batch = build_control_batch(control, producer_id=marker.producer_id,
                                        producer_epoch=marker.producer_epoch,
                                        coordinator_epoch=marker.coordinator_epoch,
                                        timestamp_ms=now_ms())
            entries.append((tp, memoryview(bytearray(batch))))
    if entries:
        appended = await rm.append_records(entries, acks=-1,
                                           timeout_ms=broker.config["request.timeout.ms"],
                                           origin=AppendOrigin.COORDINATOR)
        results.update({tp: r.error for tp, r in appended.items()})
    offsets = [tp.partition for tp, error in results.items()
               if tp.topic == OFFSETS_TOPIC and error is None]
    if offsets and broker.coordinator is not None:
        broker.coordinator.complete_transaction(marker.producer_id, offsets,
                                                committed=bool(marker.transaction_result))
    out[marker.producer_id] = {**out.get(marker.producer_id, {}), **results}


@handler(ApiKey.WRITE_TXN_MARKERS, versions=(0, 1), inter_broker=True)
async def handle_write_txn_markers(ctx, req):
    out: dict[int, dict[TopicPartition, type | None]] = {}
    if not authz.authorize_cluster(ctx, AclOperation.CLUSTER_ACTION):
        for marker in req.markers:
            out[marker.producer_id] = {
                **out.get(marker.producer_id, {}),
                **{TopicPartition(t.name, p): errors.ClusterAuthorizationFailed
                   for t in marker.topics for p in t.partition_indexes}}
    else:
        async with trio.open_nursery() as nursery:
            for marker in req.markers:
                nursery.start_soon(_write_marker, ctx.broker, marker, out)
    markers = []
    for producer_id, results in out.items():
        by_topic: dict[str, list] = {}
        for tp, error in results.items():
            by_topic.setdefault(tp.topic, []).append(WritableTxnMarkerPartitionResult(
                partition_index=tp.partition, error_code=error.code if error else 0))
        markers.append(WritableTxnMarkerResult(
            producer_id=producer_id,
            topics=[WritableTxnMarkerTopicResult(name=t, partitions=ps)
                    for t, ps in by_topic.items()]))
    return WriteTxnMarkersResponse(markers=markers)
