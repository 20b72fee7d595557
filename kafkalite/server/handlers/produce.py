"""Produce (key 0), v3–9 (flexible from 9).

v3+ carries record batch v2 only, which is why we start there: every client in scope then
speaks magic 2 both ways and no conversion is ever needed (wire-protocol.md §5). v7 allows
zstd, v8 adds RecordErrors/ErrorMessage. Records stay a memoryview of the request buffer all
the way to the log (patched in place). acks=0 gets no response at all; if any partition
failed, the connection is closed instead so the producer refreshes its metadata (Kafka).

Authorization (Kafka 2.8): transactional batches need Write on the request's transactional
id (else every partition answers TRANSACTIONAL_ID_AUTHORIZATION_FAILED); each topic needs
Write (else TOPIC_AUTHORIZATION_FAILED, nothing appended there). Since KIP-679 (2.8)
idempotent batches need no IdempotentWrite on the cluster here: InitProducerId checks it.
"""

from __future__ import annotations

from kafkalite import errors
from kafkalite.errors import ProtocolViolation
from kafkalite.model import TopicPartition
from kafkalite.protocol.api_keys import ApiKey
from kafkalite.protocol.codec import encode_values, value_layout
from kafkalite.protocol.messages.produce import (
    PartitionProduceResponse, ProduceResponse, TopicProduceResponse)
from kafkalite.records.batch import MAGIC_V2, TRANSACTIONAL_MASK
from kafkalite.replication.service import ProduceResult
from kafkalite.server import authorization as authz
from kafkalite.server.authorization import AclOperation, ResourceType
from kafkalite.server.dispatch import DeferredResponse, handler
from kafkalite.web.broker_metrics import count_produce


# The response is built as plain tuples in these field orders and encoded straight from the
# schema (codec.encode_values): attrs objects per partition were a visible share of a
# one-record produce. Checked at import, so a schema change cannot shift the values.
value_layout(ProduceResponse, "responses", "throttle_time_ms")
value_layout(TopicProduceResponse, "name", "partition_responses")
value_layout(PartitionProduceResponse, "index", "error_code", "base_offset",
             "log_append_time_ms", "log_start_offset", "record_errors", "error_message")


def _partition_response(index: int, r, version: int) -> tuple:
    """A PartitionProduceResponse as values (see the layout above)."""
    error = r.error
    if error is None:
        return index, 0, r.base_offset, r.log_append_time_ms, r.log_start_offset, (), None
    return (index, error.code, r.base_offset, r.log_append_time_ms, r.log_start_offset, (),
            r.message if version >= 8 else None)


# The TopicPartitions that Produce requests name, reused: building one (a frozen attrs class)
# per partition of every request was a visible share of a one-record produce. Emptied when it
# grows past _MAX_PARTITIONS (deleted topics would otherwise stay in it).
_PARTITIONS: dict[tuple[str, int], TopicPartition] = {}
_MAX_PARTITIONS = 100_000


def _partition(topic: str, index: int) -> TopicPartition:
    key = topic, index
    tp = _PARTITIONS.get(key)
    if tp is None:
        if len(_PARTITIONS) >= _MAX_PARTITIONS:
            _PARTITIONS.clear()
        tp = _PARTITIONS[key] = TopicPartition(topic, index)
    return tp


def _is_transactional(records) -> bool:
    """Kafka's ``RequestUtils.hasTransactionalRecords`` for one partition: its first batch."""
    return records is not None and len(records) > 22 and records[16] == MAGIC_V2 and \
        bool(records[22] & TRANSACTIONAL_MASK)


def _denied(ctx, req, entries) -> dict[TopicPartition, ProduceResult] | None:
    """Results of the partitions the principal may not write to; None if none."""
    if any(_is_transactional(records) for _, records in entries) and (
            req.transactional_id is None or not authz.authorize(
                ctx, AclOperation.WRITE, ResourceType.TRANSACTIONAL_ID, req.transactional_id)):
        return {tp: ProduceResult(errors.TransactionalIdAuthorizationFailed)
                for tp, _ in entries}
    allowed = authz.filter_authorized(ctx, AclOperation.WRITE, ResourceType.TOPIC,
                                      (t.name for t in req.topic_data))
    denied = {tp: ProduceResult(errors.TopicAuthorizationFailed)
              for tp, _ in entries if tp.topic not in allowed}
    return denied or None


@handler(ApiKey.PRODUCE, versions=(3, 9))
async def handle_produce(ctx, req):
    broker = ctx.broker
    rm = broker.replica_manager
    version = ctx.header.api_version
    entries = []
    known = _PARTITIONS
    for topic in req.topic_data:
        name = topic.name
        for part in topic.partition_data:
            index = part.index
            entries.append((known.get((name, index)) or _partition(name, index), part.records))
    denied = _denied(ctx, req, entries) \
        if broker.authorizer is not None and authz.enabled(ctx) else None
    if denied:
        entries = [(tp, records) for tp, records in entries if tp not in denied]
    if req.acks not in (0, 1, -1):
        results = {tp: ProduceResult(errors.InvalidRequiredAcks,
                                     message=errors.InvalidRequiredAcks.default_message())
                   for tp, _ in entries}
    elif entries or not denied:
        # zstd needs Produce v7+ (KIP-110): validation answers UNSUPPORTED_COMPRESSION_TYPE.
        results, acks_wait = rm.append_records_nowait(
            entries, acks=req.acks, timeout_ms=req.timeout_ms, allow_zstd=version >= 7)
        if acks_wait is not None:
            async def complete():
                return _response(ctx, req, entries, await acks_wait.wait(), denied)
            return DeferredResponse(complete, acks_wait.check)
    else:
        results = {}
    return _response(ctx, req, entries, results, denied)


def _response(ctx, req, entries, results, denied):
    version = ctx.header.api_version
    count_produce(ctx.broker.metrics, entries, results)
    if denied:
        results = {**results, **denied}
    if req.acks == 0:
        failed = [tp for tp, r in results.items() if r.error is not None]
        if failed:
            raise ProtocolViolation(f"acks=0 produce failed for {failed}: closing connection")
        return None
    if len(results) == 1:   # the usual one partition: no grouping
        ((tp, r),) = results.items()
        return encode_values(ProduceResponse, version, (
            [(tp.topic, [_partition_response(tp.partition, r, version)])], 0))
    by_topic: dict[str, list] = {}
    for tp, r in results.items():
        partitions = by_topic.get(tp.topic)
        if partitions is None:
            partitions = by_topic[tp.topic] = []
        partitions.append(_partition_response(tp.partition, r, version))
    return encode_values(ProduceResponse, version, (list(by_topic.items()), 0))
