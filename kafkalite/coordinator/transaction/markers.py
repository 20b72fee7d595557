"""Writing transaction markers and completing transactions (part of the pure coordinator).

Kafka's ``TransactionMarkerChannelManager`` and ``TransactionMarkerRequestCompletionHandler``,
minus the network: we decide, the shell sends.

Flow. When a PREPARE_COMMIT/PREPARE_ABORT record is committed (EndTxn, a fence, or found
while loading), the machine stages COMPLETE_* (``prepare_complete``; the pending state blocks
every other change) and emits :class:`~kafkalite.coordinator.transaction.results.SendMarkers`
for the partitions of the transaction. Each partition whose marker is written is removed from
``TransactionMetadata.partitions``; when none is left the COMPLETE_* record is appended, and
the transaction is over once it is committed.

Marker results, per partition (Kafka's completion handler):

- None (written), or a deleted topic (``deleted``), UNSUPPORTED_FOR_MESSAGE_FORMAT,
  UNSUPPORTED_VERSION -> the partition needs no marker any more;
- INVALID_PRODUCER_EPOCH, PRODUCER_FENCED, TRANSACTION_COORDINATOR_FENCED -> a newer producer
  or coordinator took over: stop sending for this transaction (it stays PREPARE_* until the
  partition is loaded again, as in Kafka);
- anything else (UNKNOWN_TOPIC_OR_PARTITION for a topic that exists, NOT_LEADER_OR_FOLLOWER,
  NOT_ENOUGH_REPLICAS*, REQUEST_TIMED_OUT, KAFKA_STORAGE_ERROR, NETWORK_EXCEPTION, ...) ->
  retry those partitions: a new SendMarkers with ``retry_after_ms``. (Kafka treats
  unexpected errors as fatal and drops the transaction's markers; retrying keeps it alive.)

The COMPLETE_* append is retried (the same Append again) on every error except NOT_COORDINATOR
and COORDINATOR_LOAD_IN_PROGRESS, which mean another load will finish the job.

Results of a SendMarkers from an earlier coordinator epoch, of an unloaded partition, or of a
transaction whose sending was stopped are ignored.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from typing import TYPE_CHECKING

import attrs

from kafkalite import errors
from kafkalite.coordinator.results import ErrorType, Result
from kafkalite.coordinator.transaction.metadata import TransactionMetadata, TxnTransitMetadata
from kafkalite.coordinator.transaction.results import Out, SendMarkers, TxnWrite
from kafkalite.model import TopicPartition

if TYPE_CHECKING:
    from kafkalite.coordinator.transaction.machine import TransactionCoordinator

__all__ = ["MarkersMixin"]

# The partition needs no marker: its producer could not have written to it.
_DROP_PARTITION = frozenset({errors.UnsupportedForMessageFormat, errors.UnsupportedVersion})
# A newer producer epoch or coordinator exists: the markers are obsolete.
_STOP_SENDING = frozenset({errors.InvalidProducerEpoch, errors.ProducerFenced,
                           errors.TransactionCoordinatorFenced})
# The COMPLETE_* record is not ours to write any more.
_GIVE_UP_COMPLETION = frozenset({errors.NotCoordinator, errors.CoordinatorLoadInProgress})


@attrs.frozen(eq=False)
class PendingMarkers:
    """A transaction whose markers are being written (Kafka's ``PendingCompleteTxn``)."""

    txn: TransactionMetadata
    coordinator_epoch: int
    commit: bool
    complete: TxnTransitMetadata   # staged by prepare_complete: the record written at the end


class MarkersMixin:
    """Marker sending and transaction completion for :class:`TransactionCoordinator`."""

    def _start_markers(self: TransactionCoordinator, out: Out, txn: TransactionMetadata,
                       coordinator_epoch: int, commit: bool,
                       complete: TxnTransitMetadata) -> None:
        pending = PendingMarkers(txn, coordinator_epoch, commit, complete)
        self._markers[txn.transactional_id] = pending
        if txn.partitions:
            out.send_markers(SendMarkers(
                transactional_id=txn.transactional_id, producer_id=txn.producer_id,
                producer_epoch=txn.producer_epoch, commit=commit,
                coordinator_epoch=coordinator_epoch, partitions=frozenset(txn.partitions)))
        else:  # nothing was written in the transaction: complete at once
            self._maybe_write_completion(out, txn.transactional_id)

    def markers_written(self: TransactionCoordinator, send: SendMarkers,
                        results: Mapping[TopicPartition, ErrorType], *,
                        deleted: Collection[TopicPartition] = (), now_ms: int) -> Result:
        """WriteTxnMarkers of ``send`` answered for the partitions in ``results``.

        Args:
            results: partition -> None or the partition's error class, for some or all
                partitions of ``send`` (see :class:`SendMarkers`).
            deleted: partitions whose topic no longer exists; they are dropped from the
                transaction whatever their result.
        """
        out = Out(self)
        tid = send.transactional_id
        pending = self._markers.get(tid)
        txn = self._current(tid, send.coordinator_epoch)
        if pending is None or txn is None or pending.txn is not txn \
                or pending.coordinator_epoch != send.coordinator_epoch \
                or txn.producer_id != send.producer_id \
                or txn.producer_epoch != send.producer_epoch:
            return out.result()  # stale: unloaded, reloaded or stopped meanwhile
        gone = set(deleted)
        retry = set()
        stop = False
        for tp, error in results.items():
            if tp not in send.partitions:
                continue
            if error is None or tp in gone or error in _DROP_PARTITION:
                txn.remove_partition(tp)
            elif error in _STOP_SENDING:
                stop = True
            else:
                retry.add(tp)
        if stop:
            del self._markers[tid]
        elif retry:
            out.send_markers(attrs.evolve(send, partitions=frozenset(retry),
                                          retry_after_ms=self.config.marker_retry_backoff_ms))
        else:
            self._maybe_write_completion(out, tid)
        return out.result()

    def _maybe_write_completion(self: TransactionCoordinator, out: Out, tid: str) -> None:
        pending = self._markers.get(tid)
        if pending is None or pending.txn.partitions:
            return
        del self._markers[tid]
        if self._current(tid, pending.coordinator_epoch) is pending.txn:
            self._append_transit(out, TxnWrite("complete", pending.txn,
                                               pending.coordinator_epoch, pending.complete,
                                               commit=pending.commit))

    def _completion_written(self: TransactionCoordinator, out: Out, w: TxnWrite,
                            error: ErrorType) -> None:
        retry = error is not None and error not in _GIVE_UP_COMPLETION
        self._apply_write(w, error, retry=retry)
        if retry and self._current(w.txn.transactional_id, w.coordinator_epoch) is w.txn:
            self._append_transit(out, w)

    def pending_markers(self: TransactionCoordinator) -> list[str]:
        """Transactional ids whose markers are being written (tests and metrics)."""
        return sorted(self._markers)
