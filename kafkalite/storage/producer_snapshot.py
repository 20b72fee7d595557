"""Producer-state snapshots: ``<20-digit offset>.snapshot`` in a partition directory (Kafka's
ProducerSnapshot, version 1).

Why: without them, opening a log means reading every batch header of every segment to rebuild
idempotence and transaction state. A snapshot records that state as of an offset (the log end
when it was taken, at every segment roll and at a clean shutdown), so opening reads the newest
one and replays only the batches after it.

File layout (big-endian, Kafka's non-flexible encoding)::

    int16  version (1)
    uint32 crc            CRC-32C of every byte after this field
    int32  n, then n entries of:
        int64 producer_id | int16 epoch | int32 last_sequence | int64 last_offset
        | int32 offset_delta | int64 timestamp | int32 coordinator_epoch
        | int64 current_txn_first_offset (-1: no open transaction)

``last_offset``/``last_sequence`` describe the producer's last data batch and ``offset_delta``
its length minus one (-1 offsets: only markers known). So a snapshot keeps one batch per
producer, not five: after a restart a retry of an older batch is no longer recognised, exactly as
in Kafka. A file with a bad CRC or version is reported as :class:`CorruptSnapshot`; the caller
deletes it and falls back to an older one or to the log.
"""

from __future__ import annotations

import os
import struct
from pathlib import Path

import crc32c

from kafkalite.storage.checkpoint import read_small_file
from kafkalite.storage.producer_state import BatchMetadata, ProducerStateEntry

__all__ = ["SNAPSHOT_SUFFIX", "CorruptSnapshot", "snapshot_path", "list_snapshots",
           "write_snapshot", "read_snapshot"]

SNAPSHOT_SUFFIX = ".snapshot"
_VERSION = 1
_HEADER = struct.Struct(">hIi")
_ENTRY = struct.Struct(">qhiqiqiq")
_CRC_START = 6
_MAX_SEQUENCE = 2**31 - 1


class CorruptSnapshot(ValueError):
    """A snapshot file that cannot be trusted (truncated, wrong version, CRC mismatch)."""


def snapshot_path(directory: Path, offset: int) -> Path:
    return Path(directory) / f"{offset:020d}{SNAPSHOT_SUFFIX}"


def list_snapshots(directory: Path) -> dict[int, Path]:
    """offset -> path of every snapshot file in ``directory``."""
    out = {}
    directory = Path(directory)
    for name in os.listdir(directory):
        if name.endswith(SNAPSHOT_SUFFIX):
            stem = name[:-len(SNAPSHOT_SUFFIX)]
            if len(stem) == 20 and stem.isdigit():
                out[int(stem)] = directory / name
    return dict(sorted(out.items()))


def write_snapshot(path: Path, entries: list[ProducerStateEntry]) -> None:
    """Write the snapshot (tmp file + rename, so a crashed process never leaves a torn one).

    Not fsynced: it runs on the event loop at every roll, and a snapshot lost or torn by a
    power failure is harmless (its CRC fails, and opening falls back to an older snapshot or
    to the log)."""
    body = bytearray(_HEADER.pack(_VERSION, 0, len(entries)))
    for e in entries:
        last = e.batches[-1] if e.batches else None
        body += _ENTRY.pack(
            e.producer_id, e.producer_epoch, last.last_seq if last else -1,
            last.last_offset if last else -1,
            last.last_offset - last.first_offset if last else 0,
            e.last_timestamp, e.coordinator_epoch, e.current_txn_first_offset)
    struct.pack_into(">I", body, 2, crc32c.crc32c(memoryview(body)[_CRC_START:]))
    tmp = Path(path).with_name(Path(path).name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, 0o644)
    try:
        os.write(fd, body)
    finally:
        os.close(fd)
    os.rename(tmp, path)


def read_snapshot(path: Path) -> list[ProducerStateEntry]:
    """The entries of a snapshot file.

    Raises:
        CorruptSnapshot: bad version, size or CRC.
    """
    data = read_small_file(path)
    if len(data) < _HEADER.size:
        raise CorruptSnapshot(f"{path} is shorter than a snapshot header")
    version, crc, count = _HEADER.unpack_from(data, 0)
    if version != _VERSION:
        raise CorruptSnapshot(f"{path}: unknown snapshot version {version}")
    if crc32c.crc32c(memoryview(data)[_CRC_START:]) != crc:
        raise CorruptSnapshot(f"{path}: CRC mismatch")
    if count < 0 or len(data) != _HEADER.size + count * _ENTRY.size:
        raise CorruptSnapshot(f"{path}: {count} entries do not match {len(data)} bytes")
    entries = []
    for i in range(count):
        (pid, epoch, last_seq, last_offset, offset_delta, timestamp, coordinator_epoch,
         txn_first) = _ENTRY.unpack_from(data, _HEADER.size + i * _ENTRY.size)
        entry = ProducerStateEntry(pid, epoch, coordinator_epoch=coordinator_epoch,
                                   last_timestamp=timestamp,
                                   current_txn_first_offset=txn_first)
        if last_offset >= 0:
            first_seq = last_seq - offset_delta
            if last_seq >= 0 and first_seq < 0:
                first_seq += _MAX_SEQUENCE + 1  # the batch wrapped past 2**31-1
            entry.batches.append(BatchMetadata(first_seq, last_seq, last_offset - offset_delta,
                                               last_offset, timestamp))
        entries.append(entry)
    return entries
