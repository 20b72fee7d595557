"""One transactional id as its coordinator holds it (Kafka's ``TransactionMetadata``).

Every change is two-phase, because the coordinator may only believe what is in the log:

1. ``prepare_*`` checks the move (the table in ``state.py``, the epoch rules below), sets
   :attr:`TransactionMetadata.pending_state` and returns a frozen :class:`TxnTransitMetadata`:
   the whole target state, which is also the record to append.
2. Once the record is committed, :meth:`TransactionMetadata.complete_transition_to` applies the
   transit (after re-checking it against the current values); if the append fails the caller
   clears ``pending_state`` instead.

While ``pending_state`` is set no other ``prepare_*`` may run: the machine answers
CONCURRENT_TRANSACTIONS. Two exceptions, both Kafka's:

- PREPARE_EPOCH_FENCE is never completed. Fencing (a new producer instance during a
  transaction, or a timed-out transaction) bumps the epoch and immediately continues with
  :meth:`TransactionMetadata.take_fenced_epoch` + ``prepare_abort_or_commit(PREPARE_ABORT)``,
  whose record carries the bumped epoch. If that record fails, ``has_failed_epoch_fence``
  records that the in-memory epoch is already bumped, so the next fence does not bump again.
- DEAD (expiry) is never completed either: once its tombstone is written the id is forgotten.

Epochs (KIP-360). ``producer_epoch`` is an int16; an epoch >= 32766 is *exhausted*: the next
InitProducerId rotates to a fresh producer id at epoch 0, keeping 32767 free so the coordinator
can always fence once more. ``last_producer_id`` / ``last_producer_epoch`` remember the values
before the last bump, so an InitProducerId retried after a lost response returns the same
epoch instead of fencing the caller. Kafka 2.8 does not write them to the log (v0 records), so
they are -1 after a reload.

Illegal calls raise :class:`~kafkalite.coordinator.transaction.state.IllegalStateTransition`:
they are coordinator bugs, not client errors.
"""

from __future__ import annotations

from collections.abc import Iterable

import attrs

from kafkalite import errors
from kafkalite.coordinator.transaction.log import TxnLogValue
from kafkalite.coordinator.transaction.state import (
    IllegalStateTransition, TxnState, check_transition)
from kafkalite.model import TopicPartition

__all__ = ["TransactionMetadata", "TxnTransitMetadata", "is_epoch_exhausted",
           "NO_PRODUCER_ID", "NO_PRODUCER_EPOCH", "MAX_PRODUCER_EPOCH"]

S = TxnState

NO_PRODUCER_ID = -1
NO_PRODUCER_EPOCH = -1
MAX_PRODUCER_EPOCH = 32767  # Short.MaxValue


def is_epoch_exhausted(producer_epoch: int) -> bool:
    """No further epoch may be handed to a client (Kafka's ``isEpochExhausted``)."""
    return producer_epoch >= MAX_PRODUCER_EPOCH - 1


@attrs.frozen(kw_only=True)
class TxnTransitMetadata:
    """The complete target of one prepared state change; also the record to write."""

    producer_id: int
    last_producer_id: int
    producer_epoch: int
    last_producer_epoch: int
    timeout_ms: int
    state: TxnState
    partitions: frozenset[TopicPartition]
    start_ms: int
    last_update_ms: int

    def to_log_value(self) -> TxnLogValue:
        """The ``__transaction_state`` value of this target (partitions sorted)."""
        return TxnLogValue(producer_id=self.producer_id, producer_epoch=self.producer_epoch,
                           timeout_ms=self.timeout_ms, state=self.state,
                           partitions=tuple(sorted(self.partitions)),
                           last_update_ms=self.last_update_ms, start_ms=self.start_ms)


@attrs.define(kw_only=True, eq=False)
class TransactionMetadata:
    """The coordinator's state of one transactional id (mutable, owned by the machine).

    ``partitions`` are the partitions of the current transaction; while markers are written
    (PREPARE_*) the ones already marked are removed from it (:meth:`remove_partition`).
    ``start_ms`` is when the first partition was added (-1 when no transaction was started
    since the last InitProducerId); ``last_update_ms`` drives transactional id expiry.
    """

    transactional_id: str
    producer_id: int
    last_producer_id: int = NO_PRODUCER_ID
    producer_epoch: int
    last_producer_epoch: int = NO_PRODUCER_EPOCH
    timeout_ms: int
    state: TxnState = S.EMPTY
    partitions: set[TopicPartition] = attrs.field(factory=set)
    start_ms: int = -1
    last_update_ms: int
    pending_state: TxnState | None = None
    has_failed_epoch_fence: bool = False

    @classmethod
    def from_log_value(cls, transactional_id: str, value: TxnLogValue) -> TransactionMetadata:
        """The state a record describes (a replayed ``__transaction_state`` record)."""
        return cls(transactional_id=transactional_id, producer_id=value.producer_id,
                   producer_epoch=value.producer_epoch, timeout_ms=value.timeout_ms,
                   state=value.state, partitions=set(value.partitions),
                   start_ms=value.start_ms, last_update_ms=value.last_update_ms)

    # -- queries -------------------------------------------------------------------------

    @property
    def pending_transition_in_progress(self) -> bool:
        return self.pending_state is not None

    @property
    def is_epoch_exhausted(self) -> bool:
        return is_epoch_exhausted(self.producer_epoch)

    @property
    def has_pending_transaction(self) -> bool:
        return self.state in (S.ONGOING, S.PREPARE_COMMIT, S.PREPARE_ABORT)

    # -- prepare -------------------------------------------------------------------------

    def prepare_fence_producer_epoch(self) -> TxnTransitMetadata:
        """Bump the epoch to fence the current producer (PREPARE_EPOCH_FENCE); the epoch is
        not bumped again if the previous fence's record failed (``has_failed_epoch_fence``)."""
        if self.has_failed_epoch_fence:
            epoch = self.producer_epoch
        elif self.producer_epoch >= MAX_PRODUCER_EPOCH:
            raise IllegalStateTransition(
                f"{self.transactional_id}: cannot fence epoch {self.producer_epoch}: overflow")
        else:
            epoch = self.producer_epoch + 1
        return self._prepare(S.PREPARE_EPOCH_FENCE, self.producer_id, epoch, NO_PRODUCER_EPOCH,
                             self.timeout_ms, self.partitions, self.start_ms,
                             self.last_update_ms)

    def prepare_increment_producer_epoch(self, timeout_ms: int, expected_epoch: int | None,
                                         now_ms: int
                                         ) -> TxnTransitMetadata | type[errors.ProducerFenced]:
        """InitProducerId on EMPTY / COMPLETE_*: the next epoch, as KIP-360 rules it.

        - no expected epoch (a new producer instance): bump, forget the last epoch;
        - expected == current, or no current epoch yet (a producer recovering from an
          abortable error): bump, remember the current epoch as the last one;
        - expected == last epoch: a retry of a bump whose answer was lost: same epoch again;
        - anything else: the caller was fenced -> returns ``errors.ProducerFenced``.

        Only a bump needs a free epoch: the caller rotates the producer id instead when the
        epoch is exhausted (Kafka raises for an exhausted retry; we answer it).
        """
        if expected_epoch is not None and self.producer_epoch != NO_PRODUCER_EPOCH \
                and expected_epoch != self.producer_epoch:
            if expected_epoch != self.last_producer_epoch:
                return errors.ProducerFenced
            epoch, last_epoch = self.producer_epoch, self.last_producer_epoch
        else:
            if self.is_epoch_exhausted:
                raise IllegalStateTransition(
                    f"{self.transactional_id}: producer id {self.producer_id} has no epoch left")
            epoch = self.producer_epoch + 1
            last_epoch = NO_PRODUCER_EPOCH if expected_epoch is None else self.producer_epoch
        return self._prepare(S.EMPTY, self.producer_id, epoch, last_epoch, timeout_ms,
                             (), -1, now_ms)

    def prepare_producer_id_rotation(self, new_producer_id: int, timeout_ms: int, now_ms: int,
                                     *, record_last_epoch: bool) -> TxnTransitMetadata:
        """InitProducerId when the epoch is exhausted: a new producer id at epoch 0."""
        if self.has_pending_transaction:
            raise IllegalStateTransition(
                f"{self.transactional_id}: cannot rotate the producer id during a transaction")
        last_epoch = self.producer_epoch if record_last_epoch else NO_PRODUCER_EPOCH
        return self._prepare(S.EMPTY, new_producer_id, 0, last_epoch, timeout_ms, (), -1,
                             now_ms)

    def prepare_add_partitions(self, added: Iterable[TopicPartition], now_ms: int
                               ) -> TxnTransitMetadata:
        """AddPartitionsToTxn: ONGOING with the union; a new transaction starts now."""
        start_ms = now_ms if self.state in (S.EMPTY, S.COMPLETE_COMMIT, S.COMPLETE_ABORT) \
            else self.start_ms
        return self._prepare(S.ONGOING, self.producer_id, self.producer_epoch,
                             self.last_producer_epoch, self.timeout_ms,
                             self.partitions | set(added), start_ms, now_ms)

    def prepare_abort_or_commit(self, target: TxnState, now_ms: int) -> TxnTransitMetadata:
        """EndTxn (or a fence): PREPARE_COMMIT / PREPARE_ABORT with the same partitions."""
        return self._prepare(target, self.producer_id, self.producer_epoch,
                             self.last_producer_epoch, self.timeout_ms, self.partitions,
                             self.start_ms, now_ms)

    def prepare_complete(self, now_ms: int) -> TxnTransitMetadata:
        """Markers are about to be written: stage COMPLETE_COMMIT / COMPLETE_ABORT.

        Called when the PREPARE_* record is committed (or replayed); the transit is written
        once every marker is, with ``now_ms`` of this call as its update time (as Kafka)."""
        target = S.COMPLETE_COMMIT if self.state is S.PREPARE_COMMIT else S.COMPLETE_ABORT
        # The abort record of a fence is durable now: a new fence may bump again.
        self.has_failed_epoch_fence = False
        return self._prepare(target, self.producer_id, self.producer_epoch,
                             self.last_producer_epoch, self.timeout_ms, (), self.start_ms,
                             now_ms)

    def prepare_dead(self) -> TxnTransitMetadata:
        """Expiry of the transactional id (its tombstone is about to be written)."""
        return self._prepare(S.DEAD, self.producer_id, self.producer_epoch,
                             self.last_producer_epoch, self.timeout_ms, (), self.start_ms,
                             self.last_update_ms)

    def _prepare(self, target: TxnState, producer_id: int, epoch: int, last_epoch: int,
                 timeout_ms: int, partitions: Iterable[TopicPartition], start_ms: int,
                 now_ms: int) -> TxnTransitMetadata:
        if self.pending_state is not None:
            raise IllegalStateTransition(
                f"{self.transactional_id}: preparing {target.kafka_name} while "
                f"{self.pending_state.kafka_name} is pending")
        if producer_id < 0 or epoch < 0:
            raise IllegalStateTransition(
                f"{self.transactional_id}: illegal producer id/epoch {producer_id}/{epoch}")
        check_transition(self.state, target)
        self.pending_state = target
        # As Kafka: the id before this change becomes the last producer id.
        return TxnTransitMetadata(
            producer_id=producer_id, last_producer_id=self.producer_id, producer_epoch=epoch,
            last_producer_epoch=last_epoch, timeout_ms=timeout_ms, state=target,
            partitions=frozenset(partitions), start_ms=start_ms, last_update_ms=now_ms)

    # -- in-place changes ----------------------------------------------------------------

    def take_fenced_epoch(self, producer_epoch: int) -> None:
        """Continue a PREPARE_EPOCH_FENCE with its abort: adopt the bumped epoch now and clear
        the pending fence so ``prepare_abort_or_commit(PREPARE_ABORT)`` can run."""
        if self.pending_state is not S.PREPARE_EPOCH_FENCE:
            raise IllegalStateTransition(f"{self.transactional_id}: no epoch fence pending")
        self.pending_state = None
        self.producer_epoch = producer_epoch
        self.last_producer_epoch = NO_PRODUCER_EPOCH

    def remove_partition(self, tp: TopicPartition) -> None:
        """A marker for ``tp`` is written (or ``tp`` was deleted): it needs no marker."""
        if not self.state.is_prepare:
            raise IllegalStateTransition(
                f"{self.transactional_id}: removing a marked partition in {self.state.kafka_name}")
        self.partitions.discard(tp)

    # -- complete ------------------------------------------------------------------------

    def complete_transition_to(self, transit: TxnTransitMetadata) -> None:
        """The record of ``transit`` is committed: apply it (Kafka's checks included)."""
        target = self.pending_state
        if target is None or target is not transit.state:
            self._fail(transit)
        same_producer = transit.producer_epoch == self.producer_epoch \
            and transit.producer_id == self.producer_id
        if target is S.EMPTY:  # InitProducerId
            bumped = transit.producer_epoch == self.producer_epoch + 1 or \
                (transit.producer_epoch == 0 and transit.producer_id != self.producer_id)
            if (transit.producer_epoch != self.producer_epoch and not bumped) \
                    or transit.partitions or transit.start_ms != -1:
                self._fail(transit)
            self.timeout_ms = transit.timeout_ms
            self.producer_epoch = transit.producer_epoch
            self.last_producer_epoch = transit.last_producer_epoch
            self.producer_id = transit.producer_id
            self.last_producer_id = transit.last_producer_id
        elif target is S.ONGOING:  # AddPartitionsToTxn
            if not same_producer or not self.partitions <= transit.partitions \
                    or self.timeout_ms != transit.timeout_ms:
                self._fail(transit)
            self.start_ms = transit.start_ms
            self.partitions |= transit.partitions
        elif target.is_prepare:  # EndTxn
            if not same_producer or self.partitions != transit.partitions \
                    or self.timeout_ms != transit.timeout_ms \
                    or self.start_ms != transit.start_ms:
                self._fail(transit)
        elif target.is_complete:  # every marker written
            if not same_producer or self.timeout_ms != transit.timeout_ms \
                    or transit.start_ms == -1:
                self._fail(transit)
            self.start_ms = transit.start_ms
            self.partitions.clear()
        else:  # PREPARE_EPOCH_FENCE and DEAD are never completed (module docstring)
            self._fail(transit)
        self.last_update_ms = transit.last_update_ms
        self.pending_state = None
        self.state = target

    def _fail(self, transit: TxnTransitMetadata):
        raise IllegalStateTransition(
            f"{self.transactional_id}: cannot complete {transit} from {self}")
