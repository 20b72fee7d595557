"""The leader-epoch cache of one partition (KIP-101, KIP-279): where each leader epoch began.

Why it exists: offsets alone cannot tell a follower whether its log diverged from the leader's
after a leader change (the high watermark is not a safe truncation point, KIP-101). Every batch
carries the ``partitionLeaderEpoch`` of the leader that appended it, and this cache keeps the
first offset of each epoch, so a follower (or a KIP-320 consumer) can ask the leader
"where does my last epoch end on your side?" (OffsetForLeaderEpoch) and truncate exactly there.

Invariants: epochs strictly increase and start offsets never decrease from one entry to the
next; an entry's epoch covers ``[start_offset, next entry's start_offset)``, the latest one up to
the log end offset. As in Kafka 2.x's ``LeaderEpochFileCache``, a lower or equal epoch, or a
start offset below the latest entry's, is ignored by :meth:`LeaderEpochCache.assign`: the log
only appends at its end, and truncation cuts the cache first.

File format (``<partition dir>/leader-epoch-checkpoint``, Kafka's LeaderEpochCheckpointFile)::

    0            <- format version
    2            <- number of entries
    0 0          <- epoch, start offset, separated by one space
    3 1500

The cache changes rarely (once per leader epoch, or on truncation), so every change is written
at once, atomically (tmp file, fsync, rename, fsync dir). Only the ``load*`` constructors and
:meth:`flush` touch the file; every change returns True when it changed something, and the
owner (``storage/log.py``) then flushes.
"""

from __future__ import annotations

import bisect
import logging
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import NamedTuple, Protocol, TypeVar

from kafkalite.storage.checkpoint import (
    CorruptCheckpoint, atomic_write, read_checkpoint_entries)

__all__ = ["LeaderEpochCache", "EpochEntry", "LEADER_EPOCH_CHECKPOINT", "UNDEFINED_EPOCH",
           "UNDEFINED_EPOCH_OFFSET"]

LEADER_EPOCH_CHECKPOINT = "leader-epoch-checkpoint"
UNDEFINED_EPOCH = -1
UNDEFINED_EPOCH_OFFSET = -1
_VERSION = 0

logger = logging.getLogger(__name__)


class _HasEpoch(Protocol):
    """A record batch header (``storage._batch_header.BatchHeader`` or ``records`` views)."""

    @property
    def partition_leader_epoch(self) -> int: ...

    @property
    def base_offset(self) -> int: ...


_H = TypeVar("_H", bound=_HasEpoch)


class EpochEntry(NamedTuple):
    epoch: int
    start_offset: int


class LeaderEpochCache:
    """Ordered ``(epoch, start_offset)`` entries; see the module docstring.

    Args:
        path: where :meth:`flush` writes (None: an in-memory cache that cannot be flushed).
        entries: initial entries, already in order (as read from a checkpoint).
    """

    def __init__(self, path: Path | None = None, entries: Iterable[tuple[int, int]] = ()):
        self.path = path if path is None or isinstance(path, Path) else Path(path)
        # Two parallel lists so lookups are a bisect on plain ints.
        self._epochs: list[int] = []
        self._starts: list[int] = []
        for epoch, start_offset in entries:
            if self._epochs and (epoch <= self._epochs[-1] or start_offset < self._starts[-1]):
                raise ValueError(f"Leader epoch entries out of order at {epoch} {start_offset}")
            self._epochs.append(epoch)
            self._starts.append(start_offset)
        # Changed since the last write, and not written yet on purpose (see
        # Log.assign_epoch_start_offset): the next flush, the log's close or the log
        # service's periodic pass writes it.
        self.dirty = False

    # -- file ---------------------------------------------------------------------------------

    @classmethod
    def load(cls, path: Path) -> LeaderEpochCache:
        """Read the checkpoint at ``path``; a missing or empty file is an empty cache (Kafka
        creates the file empty).

        Raises:
            CorruptCheckpoint: unknown version, malformed line, wrong count or entries out of
                order.
        """
        path = Path(path)
        entries = []
        for parts in read_checkpoint_entries(path, 2, empty_ok=True):
            try:
                epoch, start_offset = (int(x) for x in parts)
            except ValueError:
                raise CorruptCheckpoint(f"Malformed line in checkpoint file {path}: "
                                        f"{' '.join(parts)!r}") from None
            entries.append((epoch, start_offset))
        try:
            return cls(path, entries)
        except ValueError as e:
            raise CorruptCheckpoint(f"{e} in checkpoint file {path}") from None

    @classmethod
    def load_or_empty(cls, path: Path) -> LeaderEpochCache:
        """:meth:`load`, but a corrupt file gives an empty cache (with a warning): the log's
        batches carry every epoch that still has data, and ``Log.open`` rebuilds from them."""
        try:
            return cls.load(path)
        except CorruptCheckpoint as e:
            logger.warning("Ignoring corrupt leader epoch checkpoint: %s", e)
            return cls(path)

    def encode(self) -> bytes:
        """The checkpoint file's bytes."""
        lines = [str(_VERSION), str(len(self._epochs))]
        lines += [f"{e} {s}" for e, s in zip(self._epochs, self._starts)]
        return ("\n".join(lines) + "\n").encode()

    def flush(self, *, durable: bool = True) -> None:
        """Write the checkpoint atomically (and, unless ``durable`` is false, durably: see
        :func:`~kafkalite.storage.checkpoint.atomic_write`) to :attr:`path`."""
        if self.path is None:
            raise ValueError("This leader epoch cache has no checkpoint path")
        atomic_write(self.path, self.encode(), durable=durable)
        self.dirty = False

    # -- queries ------------------------------------------------------------------------------

    @property
    def entries(self) -> tuple[EpochEntry, ...]:
        return tuple(EpochEntry(e, s) for e, s in zip(self._epochs, self._starts))

    @property
    def latest_epoch(self) -> int | None:
        return self._epochs[-1] if self._epochs else None

    @property
    def latest_entry(self) -> EpochEntry | None:
        return EpochEntry(self._epochs[-1], self._starts[-1]) if self._epochs else None

    @property
    def earliest_entry(self) -> EpochEntry | None:
        return EpochEntry(self._epochs[0], self._starts[0]) if self._epochs else None

    def __len__(self) -> int:
        return len(self._epochs)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, LeaderEpochCache):
            return NotImplemented
        return self._epochs == other._epochs and self._starts == other._starts

    def __repr__(self) -> str:
        return f"LeaderEpochCache({list(self.entries)})"

    def end_offset_for(self, requested_epoch: int, log_end_offset: int) -> tuple[int, int]:
        """``(epoch, end_offset)`` answering OffsetForLeaderEpoch for ``requested_epoch``.

        Kafka's ``LeaderEpochFileCache.endOffsetFor``:

        - the latest epoch: ``(latest, log_end_offset)`` (it is still being written);
        - between known epochs: the largest epoch <= requested, and the start offset of the
          first epoch above it (where the requester's epoch ended on this log);
        - below every known epoch: ``(requested, first start offset)`` — the history was
          deleted (retention), the requester must not keep anything past this log's start;
        - above the latest, undefined (-1) or an empty cache: ``(-1, -1)``.
        """
        if requested_epoch == UNDEFINED_EPOCH or not self._epochs:
            return UNDEFINED_EPOCH, UNDEFINED_EPOCH_OFFSET
        if requested_epoch == self._epochs[-1]:
            return requested_epoch, log_end_offset
        higher = bisect.bisect_right(self._epochs, requested_epoch)
        if higher == len(self._epochs):
            return UNDEFINED_EPOCH, UNDEFINED_EPOCH_OFFSET
        if higher == 0:
            return requested_epoch, self._starts[0]
        return self._epochs[higher - 1], self._starts[higher]

    def epoch_for_offset(self, offset: int) -> int | None:
        """The epoch whose range holds ``offset`` (the latest one for offsets past its start),
        None below the first entry or for an empty cache."""
        i = bisect.bisect_right(self._starts, offset)
        return self._epochs[i - 1] if i else None

    # -- changes (True when something changed: the caller flushes) -----------------------------

    def assign(self, epoch: int, start_offset: int) -> bool:
        """Record that ``epoch`` begins at ``start_offset``, if it is newer than every entry.

        Ignored (False): a negative epoch (batches written without one), an epoch not above
        the latest, or a start offset below the latest entry's.
        """
        if epoch < 0 or start_offset < 0:
            return False
        if self._epochs and (epoch <= self._epochs[-1] or start_offset < self._starts[-1]):
            return False
        self._epochs.append(epoch)
        self._starts.append(start_offset)
        return True

    def assigning(self, headers: Iterable[_H]) -> Iterator[_H]:
        """Pass batch headers through, assigning each epoch newer than the latest at the
        batch's base offset: rebuilds the cache during a header scan made for another reason
        (one comparison per batch)."""
        latest = self._epochs[-1] if self._epochs else UNDEFINED_EPOCH
        for header in headers:
            if header.partition_leader_epoch > latest and self.assign(
                    header.partition_leader_epoch, header.base_offset):
                latest = header.partition_leader_epoch
            yield header

    def truncate_from_end(self, end_offset: int) -> bool:
        """Forget the epochs that start at or after ``end_offset`` (the log was truncated to
        it: their data is gone)."""
        keep = bisect.bisect_left(self._starts, end_offset)
        if keep == len(self._starts):
            return False
        del self._epochs[keep:]
        del self._starts[keep:]
        return True

    def truncate_from_start(self, start_offset: int) -> bool:
        """The log now starts at ``start_offset``: drop the epochs wholly before it; the one
        covering it starts there."""
        covering = bisect.bisect_right(self._starts, start_offset) - 1
        if covering < 0:
            return False
        changed = covering > 0 or self._starts[covering] != start_offset
        del self._epochs[:covering]
        del self._starts[:covering]
        self._starts[0] = start_offset
        return changed

    def clear(self) -> bool:
        if not self._epochs:
            return False
        self._epochs.clear()
        self._starts.clear()
        return True
