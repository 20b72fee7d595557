"""The aborted-transaction index of one segment: ``<base>.txnindex`` (Kafka's TransactionIndex).

A read_committed consumer must drop the records of aborted transactions. The log does not say
which transactions aborted until their ABORT marker, possibly much later, so every ABORT marker
appended to a segment adds one entry here, and a fetch returns the entries that overlap the
fetched range (``aborted_transactions`` of the Fetch response, KIP-98).

File layout: fixed 34-byte entries, big-endian, back to back, in the order the markers were
appended (so ``last_offset`` strictly increases)::

    int16 version (0) | int64 producer_id | int64 first_offset | int64 last_offset
    | int64 last_stable_offset

``first_offset`` is the transaction's first data offset in this partition, ``last_offset`` the
offset of its ABORT marker, ``last_stable_offset`` the partition's LSO right after the abort
completed. The LSO lets a search stop early: once an entry's LSO passes the upper bound of the
fetch, no later entry (in this or later segments) can start below it.

The file is created on the first abort only; most segments never have one. It is derived data:
recovery rebuilds it from the markers in the log (``Log.open``). Entries are few (one per aborted
transaction), so they are kept in memory once read.
"""

from __future__ import annotations

import os
import struct
from collections.abc import Iterable
from pathlib import Path

import attrs

__all__ = ["AbortedTxn", "TransactionIndex", "TXN_INDEX_SUFFIX", "CorruptTxnIndex"]

TXN_INDEX_SUFFIX = ".txnindex"
_ENTRY = struct.Struct(">hqqqq")
_VERSION = 0


class CorruptTxnIndex(ValueError):
    """A ``.txnindex`` file is not a whole number of valid entries."""


@attrs.frozen
class AbortedTxn:
    producer_id: int
    first_offset: int
    last_offset: int
    last_stable_offset: int

    def encode(self) -> bytes:
        return _ENTRY.pack(_VERSION, self.producer_id, self.first_offset, self.last_offset,
                           self.last_stable_offset)


class TransactionIndex:
    """The aborted transactions whose markers lie in one segment; see the module docstring."""

    def __init__(self, path: Path, start_offset: int):
        self.path = path if isinstance(path, Path) else Path(path)
        self.start_offset = start_offset
        self._entries: list[AbortedTxn] | None = None

    # -- reading ------------------------------------------------------------------------------

    @property
    def entries(self) -> list[AbortedTxn]:
        if self._entries is None:
            self._entries = _read(self.path)
        return self._entries

    def collect(self, fetch_offset: int, upper_bound: int) -> tuple[list[AbortedTxn], bool]:
        """Aborted transactions overlapping ``[fetch_offset, upper_bound)``, and whether the
        search is complete (no later segment can add one; Kafka's collectAbortedTxns)."""
        found = []
        for txn in self.entries:
            if txn.last_offset >= fetch_offset and txn.first_offset < upper_bound:
                found.append(txn)
            if txn.last_stable_offset >= upper_bound:
                return found, True
        return found, False

    def sanity_check(self) -> None:
        """Raises CorruptTxnIndex if the file is torn or an entry lies below the segment."""
        self._entries = None
        for txn in self.entries:
            if txn.last_offset < self.start_offset:
                raise CorruptTxnIndex(f"Last offset of aborted transaction {txn} in "
                                      f"{self.path} is below the segment start "
                                      f"{self.start_offset}")

    # -- writing ------------------------------------------------------------------------------

    def append(self, txn: AbortedTxn) -> None:
        entries = self.entries
        if entries and txn.last_offset <= entries[-1].last_offset:
            raise ValueError(f"Aborted transactions must be appended in offset order: "
                             f"{txn.last_offset} after {entries[-1].last_offset} in {self.path}")
        fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_APPEND | os.O_CLOEXEC, 0o644)
        try:
            os.write(fd, txn.encode())
        finally:
            os.close(fd)
        entries.append(txn)

    def append_all(self, txns: Iterable[AbortedTxn]) -> None:
        for txn in txns:
            self.append(txn)

    def truncate_to(self, offset: int) -> None:
        """Drop the entries whose marker is at or after ``offset`` (log truncation)."""
        kept = [t for t in self.entries if t.last_offset < offset]
        if len(kept) == len(self.entries):
            return
        if kept:
            os.truncate(self.path, len(kept) * _ENTRY.size)
        else:
            self.path.unlink(missing_ok=True)
        self._entries = kept

    def reset(self) -> None:
        """Forget every entry and remove the file (recovery rebuilds it)."""
        self.path.unlink(missing_ok=True)
        self._entries = []

    def flush(self) -> None:
        try:
            fd = os.open(self.path, os.O_RDONLY | os.O_CLOEXEC)
        except FileNotFoundError:
            return
        try:
            os.fsync(fd)
        finally:
            os.close(fd)

    def rename(self, new_path: Path) -> None:
        """Move the file (segment deletion suffix, swaps); missing files are fine."""
        new_path = Path(new_path)
        try:
            os.rename(self.path, new_path)
        except FileNotFoundError:
            pass
        self.path = new_path

    def delete(self) -> None:
        self.path.unlink(missing_ok=True)
        self._entries = []


def _read(path: Path) -> list[AbortedTxn]:
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return []
    if len(data) % _ENTRY.size:
        raise CorruptTxnIndex(f"{path} has {len(data)} bytes, not a multiple of "
                              f"{_ENTRY.size}")
    out = []
    for offset in range(0, len(data), _ENTRY.size):
        version, pid, first, last, lso = _ENTRY.unpack_from(data, offset)
        if version != _VERSION:
            raise CorruptTxnIndex(f"Unknown aborted transaction version {version} in {path}")
        out.append(AbortedTxn(pid, first, last, lso))
    return out
