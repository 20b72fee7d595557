"""Producer state of one partition: idempotence and transactions (Kafka's ProducerStateManager).

For every producer id the partition remembers (:class:`ProducerStateEntry`) the producer epoch,
the metadata of its last five data batches (``first_seq, last_seq, first_offset, last_offset,
max_timestamp``), the epoch of the transaction coordinator that wrote its last marker, the
timestamp of its last write and, while it has a transaction open here, the offset where that
transaction began. Five is Kafka's number: a producer keeps at most
``max.in.flight.requests.per.connection = 5`` batches outstanding per partition, so any retry it
can send is one of them.

Appends go through :meth:`ProducerStateManager.prepare` (validate, compute the new entries on
copies; nothing changes) and, once the bytes are in the log, :meth:`ProducerStateManager.apply`.
How much is checked depends on the :class:`AppendOrigin`, as in Kafka:

- ``CLIENT`` (Produce): everything. A batch equal to a retained one is a duplicate (the caller
  asked :meth:`check` first and answered with the original offsets). An epoch older than the
  producer's is INVALID_PRODUCER_EPOCH. A new epoch must start at sequence 0, unless the
  producer is unknown here (its data may have been removed by retention): then any sequence is
  accepted (Kafka 2.5+, KIP-360; Kafka 2.8 never answers UNKNOWN_PRODUCER_ID). Within an epoch
  the sequence must continue the last batch (wrapping at 2**31-1), else
  OUT_OF_ORDER_SEQUENCE_NUMBER. A non-transactional batch while the producer has a transaction
  open is INVALID_TXN_STATE. Clients may not write control batches (the validator refuses them).
- ``COORDINATOR`` (transaction markers, group coordinator's transactional offset commits): the
  epoch is checked, sequences are not; a marker whose coordinator epoch is older than the last
  one seen is TRANSACTION_COORDINATOR_FENCED.
- ``REPLICATION`` (followers, and replaying the log on open): no checks; the leader decided.

Transactions. The first transactional batch of a producer opens a transaction at its base
offset; the producer's COMMIT or ABORT marker completes it (:class:`CompletedTxn`). The *first
unstable offset* is the smallest first offset of the transactions still open, or completed but
whose marker is not yet below the high watermark; the last stable offset (LSO) is that offset, or
the high watermark when it is smaller or there is none. read_committed consumers read up to the
LSO. Each ABORT yields an :class:`~kafkalite.storage.txn_index.AbortedTxn` for the segment's
transaction index, with the LSO right after it completed (Kafka's ``lastStableOffset(txn)``).

Producer ids expire (:meth:`remove_expired`, ``producer.id.expiration.ms``) once idle, unless a
transaction is open. The state survives restarts through snapshots (``producer_snapshot.py``).
"""

from __future__ import annotations

import enum
from collections import deque
from collections.abc import Iterable, Sequence

import attrs

from kafkalite.errors import (
    DuplicateSequenceNumber, InvalidProducerEpoch, InvalidTxnState, OutOfOrderSequenceNumber,
    TransactionCoordinatorFenced,
)
from kafkalite.storage.txn_index import AbortedTxn

__all__ = ["ProducerStateManager", "ProducerStateEntry", "BatchMetadata", "Duplicate",
           "AppendOrigin", "ProducerBatch", "CompletedTxn", "AppendPlan",
           "NUM_BATCHES_TO_RETAIN", "ABORT", "COMMIT"]

NUM_BATCHES_TO_RETAIN = 5
_MAX_SEQUENCE = 2**31 - 1
ABORT, COMMIT = 0, 1  # control record types of transaction markers


class AppendOrigin(enum.Enum):
    CLIENT = "client"
    COORDINATOR = "coordinator"
    REPLICATION = "replication"


@attrs.frozen
class BatchMetadata:
    first_seq: int
    last_seq: int
    first_offset: int
    last_offset: int
    max_timestamp: int = -1


@attrs.frozen
class Duplicate:
    """A retried batch already in the log: answer the producer with these offsets."""

    first_offset: int
    last_offset: int
    max_timestamp: int = -1


@attrs.frozen
class ProducerBatch:
    """What producer state needs of one batch with its final offsets.

    ``marker`` is ``(control type, coordinator epoch)`` for a transaction marker (a control
    batch whose record parsed as COMMIT/ABORT), None otherwise.
    """

    producer_id: int
    producer_epoch: int
    base_sequence: int
    last_sequence: int
    base_offset: int
    last_offset: int
    max_timestamp: int
    is_transactional: bool = False
    is_control: bool = False
    marker: tuple[int, int] | None = None

    @classmethod
    def from_header(cls, h, marker: tuple[int, int] | None = None) -> ProducerBatch:
        """From a storage ``BatchHeader`` (final offsets) and the marker of a control batch."""
        return cls(h.producer_id, h.producer_epoch, h.base_sequence, h.last_sequence,
                   h.base_offset, h.last_offset, h.max_timestamp,
                   bool(h.attributes & 0x10), bool(h.attributes & 0x20), marker)


@attrs.frozen
class CompletedTxn:
    producer_id: int
    first_offset: int
    last_offset: int  # offset of the marker
    is_aborted: bool


@attrs.define(eq=False)
class ProducerStateEntry:
    producer_id: int
    producer_epoch: int = -1
    batches: deque[BatchMetadata] = attrs.field(
        factory=lambda: deque(maxlen=NUM_BATCHES_TO_RETAIN))
    coordinator_epoch: int = -1
    last_timestamp: int = -1
    current_txn_first_offset: int = -1  # -1: no transaction open

    @property
    def last_seq(self) -> int:
        return self.batches[-1].last_seq if self.batches else -1

    @property
    def last_offset(self) -> int:
        """Offset of the producer's last data record (-1 if only markers are known)."""
        return self.batches[-1].last_offset if self.batches else -1

    def find_duplicate(self, epoch: int, first_seq: int, last_seq: int) -> BatchMetadata | None:
        if epoch != self.producer_epoch:
            return None
        for batch in self.batches:
            if batch.first_seq == first_seq and batch.last_seq == last_seq:
                return batch
        return None

    def copy(self) -> ProducerStateEntry:
        return ProducerStateEntry(self.producer_id, self.producer_epoch,
                                  deque(self.batches, maxlen=NUM_BATCHES_TO_RETAIN),
                                  self.coordinator_epoch, self.last_timestamp,
                                  self.current_txn_first_offset)

    def _set_epoch(self, epoch: int) -> None:
        if epoch != self.producer_epoch:
            self.producer_epoch = epoch
            self.batches.clear()


@attrs.define
class _Txn:
    producer_id: int
    first_offset: int
    last_offset: int = -1  # the marker's offset once completed


@attrs.frozen
class AppendPlan:
    """The producer-state changes of one append, validated but not applied."""

    entries: dict[int, ProducerStateEntry]
    started: tuple[tuple[int, int], ...]  # (producer id, first offset) of opened transactions
    completed: tuple[CompletedTxn, ...]
    end_offset: int


def _in_sequence(last_seq: int, next_seq: int) -> bool:
    return next_seq == last_seq + 1 or (next_seq == 0 and last_seq == _MAX_SEQUENCE)


def _check_epoch(entry: ProducerStateEntry, epoch: int, offset: int) -> None:
    if epoch < entry.producer_epoch:
        raise InvalidProducerEpoch(
            f"Epoch of producer {entry.producer_id} at offset {offset} is {epoch}, which is "
            f"smaller than the last seen epoch {entry.producer_epoch}")


def _check_sequence(entry: ProducerStateEntry, b: ProducerBatch) -> None:
    if b.producer_epoch != entry.producer_epoch:
        if b.base_sequence != 0 and entry.producer_epoch != -1:
            raise OutOfOrderSequenceNumber(
                f"Invalid sequence number for new epoch of producer {b.producer_id} at offset "
                f"{b.base_offset}: {b.producer_epoch} (request epoch), {b.base_sequence} (seq. "
                f"number), {entry.producer_epoch} (current producer epoch)")
        return
    if entry.producer_epoch != -1 and not _in_sequence(entry.last_seq, b.base_sequence):
        raise OutOfOrderSequenceNumber(
            f"Out of order sequence number for producer {b.producer_id} at offset "
            f"{b.base_offset}: {b.base_sequence} (incoming seq. number), {entry.last_seq} "
            f"(current end sequence number)")


def _apply_batch(entry: ProducerStateEntry, b: ProducerBatch, origin: AppendOrigin,
                 started: list[tuple[int, int]], completed: list[CompletedTxn]) -> None:
    """Validate (per ``origin``) and apply one batch to ``entry`` (a copy)."""
    checks = origin is not AppendOrigin.REPLICATION
    if b.is_control:
        if b.marker is None:
            return  # an empty control batch: its transaction was cleaned away
        control_type, coordinator_epoch = b.marker
        if checks:
            _check_epoch(entry, b.producer_epoch, b.base_offset)
            if coordinator_epoch < entry.coordinator_epoch:
                raise TransactionCoordinatorFenced(
                    f"Invalid coordinator epoch for producer {b.producer_id} at offset "
                    f"{b.base_offset}: {coordinator_epoch} (zombie), "
                    f"{entry.coordinator_epoch} (current)")
        if entry.current_txn_first_offset >= 0:
            completed.append(CompletedTxn(b.producer_id, entry.current_txn_first_offset,
                                          b.base_offset, control_type == ABORT))
        entry._set_epoch(b.producer_epoch)
        entry.coordinator_epoch = coordinator_epoch
        entry.last_timestamp = b.max_timestamp
        entry.current_txn_first_offset = -1
        return
    if checks:
        _check_epoch(entry, b.producer_epoch, b.base_offset)
        if origin is AppendOrigin.CLIENT:
            _check_sequence(entry, b)
    entry._set_epoch(b.producer_epoch)
    if b.base_sequence >= 0:
        entry.batches.append(BatchMetadata(b.base_sequence, b.last_sequence, b.base_offset,
                                           b.last_offset, b.max_timestamp))
    entry.last_timestamp = b.max_timestamp
    if entry.current_txn_first_offset >= 0 and not b.is_transactional:
        if checks:
            raise InvalidTxnState(f"Expected transactional write from producer "
                                  f"{b.producer_id} at offset {b.base_offset}")
    elif entry.current_txn_first_offset < 0 and b.is_transactional:
        entry.current_txn_first_offset = b.base_offset
        started.append((b.producer_id, b.base_offset))


class ProducerStateManager:
    """Per-partition map producer id -> :class:`ProducerStateEntry` plus open transactions."""

    def __init__(self) -> None:
        self._producers: dict[int, ProducerStateEntry] = {}
        self._ongoing: dict[int, _Txn] = {}       # first offset -> transaction
        self._unreplicated: dict[int, _Txn] = {}  # first offset -> completed, marker >= HW
        self.map_end_offset = 0   # the log end offset this state reflects
        self.last_snapshot_offset = -1

    def __len__(self) -> int:
        return len(self._producers)

    def get(self, producer_id: int) -> ProducerStateEntry | None:
        return self._producers.get(producer_id)

    @property
    def producers(self) -> dict[int, ProducerStateEntry]:
        return self._producers

    # -- idempotence -----------------------------------------------------------------------

    def check(self, producer_id: int, producer_epoch: int, base_sequence: int,
              last_sequence: int) -> Duplicate | None:
        """Is this client batch a retry of one already appended?

        Returns ``Duplicate`` with the original offsets, None otherwise (also for
        non-idempotent batches). Other problems are found by :meth:`prepare`.
        """
        if producer_id < 0 or base_sequence < 0:
            return None
        entry = self._producers.get(producer_id)
        found = entry.find_duplicate(producer_epoch, base_sequence, last_sequence) \
            if entry is not None else None
        if found is None:
            return None
        return Duplicate(found.first_offset, found.last_offset, found.max_timestamp)

    # -- appends -----------------------------------------------------------------------------

    def prepare(self, batches: Iterable[ProducerBatch], origin: AppendOrigin,
                end_offset: int) -> AppendPlan:
        """Validate the batches of one append, in order, each against the state the earlier ones
        leave; nothing changes until :meth:`apply`. ``end_offset`` = log end after the append.

        Raises (CLIENT and COORDINATOR origins only): DuplicateSequenceNumber (a batch repeats a
        retained one; callers answer retries via :meth:`check` first), OutOfOrderSequenceNumber, InvalidProducerEpoch,
        InvalidTxnState, TransactionCoordinatorFenced.
        """
        entries: dict[int, ProducerStateEntry] = {}
        started: list[tuple[int, int]] = []
        completed: list[CompletedTxn] = []
        for b in batches:
            if b.producer_id < 0:
                continue
            entry = entries.get(b.producer_id)
            if entry is None:
                current = self._producers.get(b.producer_id)
                entry = current.copy() if current is not None else \
                    ProducerStateEntry(b.producer_id)
                entries[b.producer_id] = entry
            if origin is AppendOrigin.CLIENT and not b.is_control and b.base_sequence >= 0 and \
                    entry.find_duplicate(b.producer_epoch, b.base_sequence, b.last_sequence):
                raise DuplicateSequenceNumber(
                    f"Batch {b.base_sequence}..{b.last_sequence} of producer {b.producer_id} "
                    f"is a duplicate")
            _apply_batch(entry, b, origin, started, completed)
        return AppendPlan(entries, tuple(started), tuple(completed), end_offset)

    def apply(self, plan: AppendPlan) -> list[AbortedTxn]:
        """Make a prepared append's changes; returns the aborted transactions to index."""
        self._producers.update(plan.entries)
        for producer_id, first_offset in plan.started:
            self._ongoing[first_offset] = _Txn(producer_id, first_offset)
        aborted = []
        for txn in plan.completed:
            if txn.is_aborted:
                aborted.append(AbortedTxn(txn.producer_id, txn.first_offset, txn.last_offset,
                                          self._stable_offset_after(txn)))
            ongoing = self._ongoing.pop(txn.first_offset, None)
            if ongoing is None:  # e.g. its start was below a snapshot that lacked it
                ongoing = _Txn(txn.producer_id, txn.first_offset)
            ongoing.last_offset = txn.last_offset
            self._unreplicated[txn.first_offset] = ongoing
        self.map_end_offset = max(self.map_end_offset, plan.end_offset)
        return aborted

    def replay(self, batches: Iterable[ProducerBatch], end_offset: int) -> list[AbortedTxn]:
        """Apply batches read back from the log (no checks); returns aborted transactions."""
        return self.apply(self.prepare(batches, AppendOrigin.REPLICATION, end_offset))

    def _stable_offset_after(self, txn: CompletedTxn) -> int:
        others = [t.first_offset for t in self._ongoing.values()
                  if t.producer_id != txn.producer_id]
        return min(others) if others else txn.last_offset + 1

    # -- last stable offset ---------------------------------------------------------------------

    @property
    def first_unstable_offset(self) -> int | None:
        """Smallest first offset of a transaction not yet decided, or decided but whose marker
        is not below the high watermark yet; None if there is none."""
        if not self._ongoing and not self._unreplicated:
            return None
        return min(min(self._ongoing, default=2**63), min(self._unreplicated, default=2**63))

    def last_stable_offset(self, high_watermark: int) -> int:
        first = self.first_unstable_offset
        return first if first is not None and first < high_watermark else high_watermark

    def on_high_watermark_updated(self, high_watermark: int) -> None:
        """Completed transactions whose marker is below the high watermark are stable."""
        if self._unreplicated:
            for first, txn in list(self._unreplicated.items()):
                if txn.last_offset < high_watermark:
                    del self._unreplicated[first]

    def on_log_start_offset_incremented(self, log_start_offset: int) -> None:
        self.on_high_watermark_updated(log_start_offset)
        self.map_end_offset = max(self.map_end_offset, log_start_offset)

    @property
    def ongoing_transactions(self) -> list[tuple[int, int]]:
        """(producer id, first offset) of the open transactions, oldest first."""
        return [(t.producer_id, t.first_offset) for _, t in sorted(self._ongoing.items())]

    # -- lifecycle ------------------------------------------------------------------------------

    def load(self, entries: Iterable[ProducerStateEntry], offset: int) -> None:
        """Replace the state by a snapshot's entries taken at ``offset``."""
        self.clear()
        for entry in entries:
            self._producers[entry.producer_id] = entry
            if entry.current_txn_first_offset >= 0:
                self._ongoing[entry.current_txn_first_offset] = _Txn(
                    entry.producer_id, entry.current_txn_first_offset)
        self.map_end_offset = offset

    def remove_expired(self, now_ms: int, expiration_ms: int) -> list[int]:
        """Forget producers idle for ``expiration_ms`` without an open transaction."""
        expired = [pid for pid, e in self._producers.items()
                   if e.current_txn_first_offset < 0 and now_ms - e.last_timestamp >= expiration_ms]
        for pid in expired:
            del self._producers[pid]
        return expired

    def clear(self, offset: int = 0) -> None:
        self._producers.clear()
        self._ongoing.clear()
        self._unreplicated.clear()
        self.map_end_offset = offset

    # -- compatibility helpers used by tests and tools ----------------------------------------

    def update(self, producer_id: int, producer_epoch: int, first_seq: int, last_seq: int,
               first_offset: int, last_offset: int, max_timestamp: int = -1) -> None:
        """Record one non-transactional data batch without checks."""
        self.replay([ProducerBatch(producer_id, producer_epoch, first_seq, last_seq,
                                   first_offset, last_offset, max_timestamp)], last_offset + 1)

    def validate_append(self, batches: Sequence[tuple[int, int, int, int]]) -> None:
        """Check ``(producer_id, epoch, first_seq, last_seq)`` of client batches (offsets
        unknown, non-transactional); nothing is changed. Errors as :meth:`prepare`."""
        self.prepare([ProducerBatch(pid, epoch, first, last, -1, -1, -1)
                      for pid, epoch, first, last in batches], AppendOrigin.CLIENT,
                     self.map_end_offset)
