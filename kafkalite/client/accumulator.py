"""Producer batching (pure): which records travel together, and when a batch may leave.

Why a separate, pure module: the batching rules are where producers get subtle, and they are
testable as a function of (records appended, time passed, answers received) with no trio, no
sockets and no sleeps. The trio sender loop in ``producer.py`` only asks :meth:`ready` what to
send, tells :meth:`complete` / :meth:`reenqueue` how it went, and sleeps until
:meth:`next_ready_ms`.

Rules (Kafka's RecordAccumulator, simplified):

* one open batch per partition; a record that would push it past ``batch_size`` seals it and
  starts the next (a single record larger than ``batch_size`` gets a batch of its own);
* a batch is ready when sealed, when its oldest record has waited ``linger_ms``, or when the
  caller is flushing;
* at most one batch per partition is in flight (max.in.flight.requests.per.connection = 1 per
  partition). That keeps per-partition order under retries without sequence-number juggling,
  and is what the idempotent producer's sequences rely on here;
* a failed batch that will be retried goes back to the *front* of its partition's queue with a
  ``retry_at_ms`` before which it is not ready.

Sizes are estimates (record overhead + key + value + headers, plus the 61-byte batch header):
compression and varints make the real size smaller, never much larger.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Sequence
from typing import Any

import attrs

from kafkalite.model import TopicPartition
from kafkalite.records.batch import RECORD_BATCH_OVERHEAD

__all__ = ["ProducerBatch", "RecordAccumulator", "estimate_record_size"]

_RECORD_OVERHEAD = 21  # length, attributes, deltas, key/value lengths, header count (max varints)


def estimate_record_size(key: bytes | None, value: bytes | None,
                         headers: Sequence[tuple[str, bytes | None]] = ()) -> int:
    """Upper-bound-ish size of one encoded record in a v2 batch."""
    size = _RECORD_OVERHEAD + (len(key) if key else 0) + (len(value) if value else 0)
    for h_key, h_value in headers:
        size += 10 + len(h_key.encode("utf-8")) + (len(h_value) if h_value else 0)
    return size


@attrs.define(kw_only=True)
class ProducerBatch:
    """Records bound for one partition, and the handles to resolve when they are acknowledged.

    ``records`` are ``(key, value, headers, timestamp_ms)`` tuples as ``build_batch`` takes them.
    ``payload`` is built once, when first drained, so retries resend identical bytes (same
    producer id, epoch and base sequence — required for idempotence).
    """

    tp: TopicPartition
    created_ms: float
    records: list[tuple] = attrs.field(factory=list)
    handles: list[Any] = attrs.field(factory=list)
    size_bytes: int = RECORD_BATCH_OVERHEAD
    sealed: bool = False
    attempts: int = 0
    retry_at_ms: float = 0.0
    payload: bytes | None = None
    producer_id: int = -1
    producer_epoch: int = -1
    base_sequence: int = -1

    @property
    def record_count(self) -> int:
        return len(self.records)


class RecordAccumulator:
    """Per-partition queues of batches.

    Args:
        batch_size: target batch size in bytes (Kafka's ``batch.size``).
        linger_ms: how long a non-full batch waits for more records (``linger.ms``).
    """

    def __init__(self, *, batch_size: int, linger_ms: float):
        if batch_size < 1:
            raise ValueError(f"batch_size must be positive, not {batch_size}")
        self.batch_size = batch_size
        self.linger_ms = max(0.0, float(linger_ms))
        self._queues: dict[TopicPartition, deque[ProducerBatch]] = {}
        self._in_flight: set[TopicPartition] = set()
        self._pending_bytes = 0
        self._pending_records = 0

    # --- appending -----------------------------------------------------------------------------

    def append(self, tp: TopicPartition, record: tuple, handle: Any, *, now_ms: float,
               size: int | None = None) -> bool:
        """Add one ``(key, value, headers, timestamp_ms)`` record for ``tp``.

        Returns:
            True if the record started a new batch.
        """
        if size is None:
            size = estimate_record_size(record[0], record[1], record[2])
        queue = self._queues.setdefault(tp, deque())
        created = self.would_create_batch(tp, size)
        if created:
            if queue and queue[-1].payload is None:
                queue[-1].sealed = True
            queue.append(ProducerBatch(tp=tp, created_ms=now_ms))
        batch = queue[-1]
        batch.records.append(record)
        batch.handles.append(handle)
        batch.size_bytes += size
        if batch.size_bytes >= self.batch_size:
            batch.sealed = True
        self._pending_bytes += size
        self._pending_records += 1
        return created

    def would_create_batch(self, tp: TopicPartition, size: int) -> bool:
        """Whether appending a record of ``size`` bytes to ``tp`` would start a new batch.

        The sticky partitioner asks this first and switches partition instead (KIP-480: a new
        batch is the moment to move on).
        """
        queue = self._queues.get(tp)
        if not queue:
            return True
        batch = queue[-1]
        if batch.sealed or batch.payload is not None:
            return True
        return bool(batch.records) and batch.size_bytes + size > self.batch_size

    # --- draining ------------------------------------------------------------------------------

    def ready(self, now_ms: float, *, flush: bool = False) -> list[ProducerBatch]:
        """Take the batches that may be sent now (at most one per partition) and mark them
        in flight. Empty partitions' queues are dropped."""
        out = []
        for tp, queue in list(self._queues.items()):
            if not queue:
                del self._queues[tp]
                continue
            if tp in self._in_flight:
                continue
            batch = queue[0]
            if self._ready_at(batch, len(queue), flush) <= now_ms:
                queue.popleft()
                batch.sealed = True
                self._in_flight.add(tp)
                out.append(batch)
        return out

    def next_ready_ms(self, now_ms: float, *, flush: bool = False) -> float | None:
        """Milliseconds until some batch becomes ready (0 = now); None if nothing is waiting
        (empty, or every non-empty partition has a batch in flight)."""
        best: float | None = None
        for tp, queue in self._queues.items():
            if not queue or tp in self._in_flight:
                continue
            wait = max(0.0, self._ready_at(queue[0], len(queue), flush) - now_ms)
            best = wait if best is None else min(best, wait)
        return best

    def _ready_at(self, batch: ProducerBatch, queued: int, flush: bool) -> float:
        # One expression for both ready() and next_ready_ms(): if they disagreed by a rounding
        # error the sender would spin without ever sleeping.
        if flush or batch.sealed or batch.payload is not None or queued > 1:
            return batch.retry_at_ms
        return max(batch.retry_at_ms, batch.created_ms + self.linger_ms)

    def complete(self, batch: ProducerBatch) -> None:
        """The batch is done (acknowledged or failed for good): its partition may send again."""
        self._in_flight.discard(batch.tp)
        self._pending_bytes -= batch.size_bytes - RECORD_BATCH_OVERHEAD
        self._pending_records -= batch.record_count

    def reenqueue(self, batch: ProducerBatch, *, retry_at_ms: float) -> None:
        """Put an in-flight batch back at the front of its queue, to be retried later."""
        batch.attempts += 1
        batch.retry_at_ms = retry_at_ms
        self._queues.setdefault(batch.tp, deque()).appendleft(batch)
        self._in_flight.discard(batch.tp)

    # --- state ---------------------------------------------------------------------------------

    @property
    def pending_bytes(self) -> int:
        """Estimated bytes of records appended and not yet completed (buffer.memory)."""
        return self._pending_bytes

    @property
    def pending_records(self) -> int:
        """Records appended and not yet completed."""
        return self._pending_records

    @property
    def in_flight(self) -> frozenset[TopicPartition]:
        return frozenset(self._in_flight)

    def is_empty(self) -> bool:
        """Nothing queued and nothing in flight."""
        return self._pending_records == 0
