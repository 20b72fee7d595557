"""Idempotent-producer state of one partition (first cut of Kafka's ProducerStateManager).

For every producer id the partition remembers the producer epoch and the metadata of the last
five batches it appended: ``(first_seq, last_seq, first_offset, last_offset, max_timestamp)``.
Five is Kafka's number: a producer keeps at most ``max.in.flight.requests.per.connection = 5``
batches outstanding per partition, so any retry it can send is one of them.

Rules applied to a batch from a client (leader append), in Kafka's order:

1. Same epoch and ``(first_seq, last_seq)`` equal to a retained batch: a duplicate. The caller
   answers with the original offsets and appends nothing.
2. Epoch older than the current one: ``InvalidProducerEpoch``.
3. Newer epoch: its first sequence must be 0 (else ``OutOfOrderSequenceNumber``); the retained
   batches are dropped.
4. Same epoch: ``first_seq`` must be ``last_seq + 1`` of the previous batch, wrapping from
   2**31-1 to 0, else ``OutOfOrderSequenceNumber``.
5. Unknown producer id: the first sequence must be 0. Kafka >= 2.5 accepts any sequence here
   (KIP-360) or answers UNKNOWN_PRODUCER_ID; we pick ``OutOfOrderSequenceNumber``, which every
   client handles by resetting its sequence state.

Follower appends (replication) update the state without checks. The state is not persisted:
``Log.open`` rebuilds it by scanning batch headers (producer fields only, no decompression).
Kafka's ``<offset>.snapshot`` files would make that scan bounded; not written yet.
Control batches and batches without sequences (baseSequence -1) do not change the state.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable, Sequence

import attrs

from kafkalite.errors import (
    DuplicateSequenceNumber, InvalidProducerEpoch, OutOfOrderSequenceNumber,
)

__all__ = ["ProducerStateManager", "ProducerStateEntry", "BatchMetadata", "Duplicate",
           "NUM_BATCHES_TO_RETAIN"]

NUM_BATCHES_TO_RETAIN = 5
_MAX_SEQUENCE = 2**31 - 1


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


@attrs.define(eq=False)
class ProducerStateEntry:
    producer_id: int
    producer_epoch: int
    batches: deque[BatchMetadata] = attrs.field(
        factory=lambda: deque(maxlen=NUM_BATCHES_TO_RETAIN))

    @property
    def last_seq(self) -> int:
        return self.batches[-1].last_seq if self.batches else -1

    @property
    def last_offset(self) -> int:
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
                                  deque(self.batches, maxlen=NUM_BATCHES_TO_RETAIN))


def _in_sequence(last_seq: int, next_seq: int) -> bool:
    return next_seq == last_seq + 1 or (next_seq == 0 and last_seq == _MAX_SEQUENCE)


def _validate(entry: ProducerStateEntry | None, producer_id: int, producer_epoch: int,
              first_seq: int, last_seq: int) -> BatchMetadata | None:
    """Apply rules 1-5 of the module docstring; returns the duplicate batch, if any."""
    if entry is None:
        if first_seq != 0:
            raise OutOfOrderSequenceNumber(
                f"Invalid sequence number for new producer {producer_id}: {first_seq} "
                f"(incoming seq. number), expected 0")
        return None
    duplicate = entry.find_duplicate(producer_epoch, first_seq, last_seq)
    if duplicate is not None:
        return duplicate
    if producer_epoch < entry.producer_epoch:
        raise InvalidProducerEpoch(
            f"Epoch {producer_epoch} of producer {producer_id} is smaller than the last seen "
            f"epoch {entry.producer_epoch}")
    if producer_epoch > entry.producer_epoch:
        if first_seq != 0:
            raise OutOfOrderSequenceNumber(
                f"Invalid sequence number for new epoch of producer {producer_id}: "
                f"{producer_epoch} (request epoch), {first_seq} (seq. number), expected 0")
        return None
    if entry.batches and not _in_sequence(entry.last_seq, first_seq):
        raise OutOfOrderSequenceNumber(
            f"Out of order sequence number for producer {producer_id}: {first_seq} "
            f"(incoming seq. number), {entry.last_seq} (current end sequence number)")
    return None


def _apply(entry: ProducerStateEntry | None, producer_id: int, producer_epoch: int,
           batch: BatchMetadata) -> ProducerStateEntry:
    if entry is None:
        entry = ProducerStateEntry(producer_id, producer_epoch)
    elif producer_epoch != entry.producer_epoch:
        entry.producer_epoch = producer_epoch
        entry.batches.clear()
    entry.batches.append(batch)
    return entry


class ProducerStateManager:
    """Per-partition map producer id -> :class:`ProducerStateEntry` (module doc has the rules)."""

    def __init__(self) -> None:
        self._producers: dict[int, ProducerStateEntry] = {}

    def __len__(self) -> int:
        return len(self._producers)

    def get(self, producer_id: int) -> ProducerStateEntry | None:
        return self._producers.get(producer_id)

    @property
    def producers(self) -> dict[int, ProducerStateEntry]:
        return self._producers

    def check(self, producer_id: int, producer_epoch: int, base_sequence: int,
              last_sequence: int) -> Duplicate | None:
        """Validate one client batch before it is appended.

        Returns:
            ``Duplicate`` with the original offsets when the batch was already appended,
            None when it may be appended (also for non-idempotent batches, producer id < 0).
        Raises:
            OutOfOrderSequenceNumber: a sequence gap, or a new epoch/producer not at sequence 0.
            InvalidProducerEpoch: the epoch is older than the producer's current one.
        """
        if producer_id < 0 or base_sequence < 0:
            return None
        found = _validate(self._producers.get(producer_id), producer_id, producer_epoch,
                          base_sequence, last_sequence)
        if found is None:
            return None
        return Duplicate(found.first_offset, found.last_offset, found.max_timestamp)

    def validate_append(self, batches: Sequence[tuple[int, int, int, int]]) -> None:
        """Check the (producer_id, epoch, first_seq, last_seq) of every batch of one append,
        each against the state left by the ones before it; nothing is changed.

        Raises ``DuplicateSequenceNumber`` for a duplicate (callers must have called
        :meth:`check` and answered duplicates without appending), plus the errors of check.
        """
        pending: dict[int, ProducerStateEntry | None] = {}
        for producer_id, epoch, first_seq, last_seq in batches:
            if producer_id < 0 or first_seq < 0:
                continue
            if producer_id not in pending:
                current = self._producers.get(producer_id)
                pending[producer_id] = current.copy() if current is not None else None
            entry = pending[producer_id]
            if _validate(entry, producer_id, epoch, first_seq, last_seq) is not None:
                raise DuplicateSequenceNumber(
                    f"Batch {first_seq}..{last_seq} of producer {producer_id} is a duplicate")
            pending[producer_id] = _apply(entry, producer_id, epoch,
                                          BatchMetadata(first_seq, last_seq, -1, -1))

    def update(self, producer_id: int, producer_epoch: int, first_seq: int, last_seq: int,
               first_offset: int, last_offset: int, max_timestamp: int = -1) -> None:
        """Record an appended batch (no checks: leaders check first, followers trust)."""
        if producer_id < 0 or first_seq < 0:
            return
        self._producers[producer_id] = _apply(
            self._producers.get(producer_id), producer_id, producer_epoch,
            BatchMetadata(first_seq, last_seq, first_offset, last_offset, max_timestamp))

    def rebuild(self, headers: Iterable) -> None:
        """Replace the state by replaying batch headers (objects with the header fields)."""
        self._producers.clear()
        for h in headers:
            if h.producer_id >= 0 and not h.attributes & 0x20:
                self.update(h.producer_id, h.producer_epoch, h.base_sequence, h.last_sequence,
                            h.base_offset, h.last_offset, h.max_timestamp)

    def clear(self) -> None:
        self._producers.clear()
