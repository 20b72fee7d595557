"""Opening a partition's log (Kafka's LogLoader): what :meth:`Log.open` does.

1. **Scan the directory** (:func:`_scan_dir`): a cleaner swap a crash interrupted after its
   commit point is completed, leftovers of interrupted deletes and cleanings and index files
   without a ``.log`` are removed, and the remaining ``.log`` files give the segment bases.
2. **Recover the segments.** After a clean shutdown only the active segment's tail is checked.
   After a crash, segments from the one containing the recovery point onward are re-verified
   (length, magic, CRC-32C, monotonic offsets); the first invalid batch and everything after it
   are cut, later segments deleted, indexes rebuilt. The segments' files are opened only
   for these reads and closed once the log is loaded (``storage/descriptors.py``).
3. **Load the leader-epoch cache** (``storage/leader_epoch.py``) and cut it to the recovered log.
4. **Load the producer state** (:func:`load_producer_state`): the newest ``<offset>.snapshot``
   not beyond the recovered log end is loaded and only the batches after it are replayed, which
   also re-adds aborted-transaction entries a crash kept from being indexed. The leader-epoch
   cache is completed from the batch headers this replay scans anyway, so a missing checkpoint
   or one older than the data is repaired without extra reads (a cache that lacks the last
   batch's epoch makes the replay cover the whole log).

:meth:`Log.truncate_to` reloads the producer state with :func:`load_producer_state` too. The
functions here work on a :class:`~kafkalite.storage.log.Log`'s internals (its segment list and
log end offset) as its own methods would; ``log.py`` imports this module inside the two methods
that use it, since this module imports ``log.py``.
"""

from __future__ import annotations

import bisect
import logging
import os
from collections.abc import Iterator
from pathlib import Path

from kafkalite.model import TopicPartition
from kafkalite.storage._batch_header import BatchHeader
from kafkalite.storage.cleaner import SWAP_SUFFIX, complete_interrupted_swaps
from kafkalite.storage.config import LogConfig
from kafkalite.storage.leader_epoch import LEADER_EPOCH_CHECKPOINT, LeaderEpochCache
from kafkalite.storage.log import _CONTROL, Log, _marker, parse_topic_partition
from kafkalite.storage.producer_snapshot import CorruptSnapshot, list_snapshots, read_snapshot
from kafkalite.storage.producer_state import ProducerBatch
from kafkalite.storage.segment import (
    INDEX_SUFFIX, LOG_SUFFIX, TIME_INDEX_SUFFIX, LogSegment,
)
from kafkalite.storage.txn_index import TXN_INDEX_SUFFIX

__all__ = ["load_log", "load_producer_state"]

logger = logging.getLogger(__name__)

_LEFTOVER_SUFFIXES = (".deleted", ".cleaned", ".tmp")


def load_log(log_class: type[Log], directory: Path, config: LogConfig, *, recovery_point: int,
             clean_shutdown: bool, log_start_offset: int | None) -> Log:
    """The body of :meth:`Log.open` (see it for the arguments): build a ``log_class`` from the
    segments in ``directory``, creating it if needed, after recovery (module docstring)."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    tp = parse_topic_partition(directory.name)
    segments = [LogSegment.open(directory, base, config) for base in _scan_dir(directory)]
    if not segments:
        segments.append(LogSegment.create(directory, log_start_offset or 0, config))
    if clean_shutdown:
        active = segments[-1]
        active.sanity_check()
        problem = active.check_tail()
        if problem is not None:
            logger.warning("[Log partition=%s, dir=%s] Active segment %s has a damaged tail "
                           "despite a clean shutdown (%s); recovering it", tp, directory.parent,
                           active.log_path, problem)
            _recover_segments(tp, segments, len(segments) - 1)
            # the shutdown was not clean after all: only trust what precedes the segment
            clean_shutdown, recovery_point = False, active.base_offset
    else:
        first = max(bisect.bisect_right([s.base_offset for s in segments],
                                        recovery_point) - 1, 0)
        _recover_segments(tp, segments, first)
    log_end = segments[-1].next_offset
    start = max(log_start_offset or 0, segments[0].base_offset)
    if start > log_end:
        logger.warning("[Log partition=%s, dir=%s] Log start offset %d is beyond the log end "
                       "offset %d; using the log end offset", tp, directory.parent, start, log_end)
        start = log_end
    epochs = LeaderEpochCache.load_or_empty(directory / LEADER_EPOCH_CHECKPOINT)
    loaded = epochs.entries
    epochs.truncate_from_end(log_end)
    log = log_class(directory, config, segments, log_start_offset=start,
                    recovery_point=log_end if clean_shutdown else min(recovery_point, log_end),
                    leader_epoch_cache=epochs)
    replay_limit = log_end if clean_shutdown else min(log.recovery_point, log_end)
    if _epoch_cache_behind(log):
        replay_limit = 0  # the whole log is scanned to rebuild the leader-epoch cache
    load_producer_state(log, replay_limit, headers_seen=epochs.assigning)
    epochs.truncate_from_start(start)
    if epochs.entries != loaded:
        logger.info("[Log partition=%s, dir=%s] Leader epoch cache rebuilt from the log: %s",
                    tp, directory.parent, epochs.entries)
        # Not fsynced: every load derives the cache again from the log (entries past its end
        # dropped, missing ones rebuilt from batch headers), so a lost write only repeats
        # this. A new leader's entry on an empty log is dropped here at every start: with
        # thousands of partitions, two fsyncs each made loading several times slower.
        epochs.flush(durable=False)
    for segment in segments:
        segment.release_file()   # loading read them; an idle partition keeps no file open
    logger.info("[Log partition=%s, dir=%s] Completed load of log with %d segments, log start "
                "offset %d and log end offset %d", tp, directory.parent, len(segments), start,
                log_end)
    return log


# -- producer state -----------------------------------------------------------------------------


def load_producer_state(log: Log, replay_limit: int, *, headers_seen=None) -> None:
    """Load the newest snapshot at or below ``replay_limit`` (and the log end) and replay
    the batches after it (Kafka's rebuildProducerState).

    Snapshots beyond the log end describe data that is gone and are deleted, so are
    unreadable ones. ``replay_limit`` below the log end (after an unclean stop: the start
    of the recovered segments) makes the replay cover data whose side effects (transaction
    index entries) a crash may have lost. ``headers_seen`` wraps the replayed headers (the
    leader-epoch cache completes itself from them on open).
    """
    state = log.producer_state
    log_end = log._log_end_offset
    first_base = log._bases[0]
    loaded_at = None
    for offset, path in reversed(list_snapshots(log.dir).items()):
        if offset > log_end:
            path.unlink(missing_ok=True)
            continue
        if loaded_at is not None or offset > replay_limit or offset < first_base:
            continue
        try:
            state.load(read_snapshot(path), offset)
            loaded_at = offset
        except (CorruptSnapshot, OSError) as exc:
            logger.warning("[Log partition=%s, dir=%s] Ignoring producer snapshot %s: %s",
                           log.topic_partition, log.dir.parent, path.name, exc)
            path.unlink(missing_ok=True)
    if loaded_at is None:
        state.clear(first_base)
        loaded_at = first_base
    state.last_snapshot_offset = loaded_at
    scan = _headers_from(log, loaded_at)
    if headers_seen is not None:
        scan = _tap(scan, headers_seen)
    log._index_aborted(state.replay(_producer_batches(scan), log_end))
    if loaded_at < log_end:
        logger.info("[Log partition=%s, dir=%s] Rebuilt producer state from offset %d to %d "
                    "(%d producers)", log.topic_partition, log.dir.parent, loaded_at, log_end,
                    len(state))


def _epoch_cache_behind(log: Log) -> bool:
    """True when the last batch carries a leader epoch the cache does not know (a missing
    or stale ``leader-epoch-checkpoint``)."""
    for segment in reversed(log._segments):
        if segment.size:
            found = segment.translate_offset(segment.next_offset - 1)
            if found is None:
                return False
            latest = log.leader_epoch_cache.latest_epoch
            return found[1].partition_leader_epoch > (-1 if latest is None else latest)
    return False


def _headers_from(log: Log, offset: int) -> Iterator[tuple[LogSegment, int, BatchHeader]]:
    for segment in log._segments[log._segment_index(offset):]:
        for pos, header in segment.batches():
            if header.last_offset >= offset:
                yield segment, pos, header


def _producer_batches(scan) -> Iterator[ProducerBatch]:
    for segment, pos, header in scan:
        if header.producer_id < 0:
            continue
        marker = None
        if header.attributes & _CONTROL:
            marker = _marker(os.pread(segment.fd, header.size, pos))
        yield ProducerBatch.from_header(header, marker)


def _tap(scan, transform):
    """Pass the headers of ``(segment, position, header)`` triples through ``transform`` (a
    generator over headers yielding each one back, like ``LeaderEpochCache.assigning``)."""
    places: list[tuple[LogSegment, int]] = []

    def headers():
        for segment, pos, header in scan:
            places.append((segment, pos))
            yield header

    for header in transform(headers()):
        segment, pos = places.pop()
        yield segment, pos, header


# -- the directory and its segments -------------------------------------------------------------


def _scan_dir(directory: Path) -> list[int]:
    """Base offsets of the segments in ``directory``, after removing leftovers.

    Leftovers of interrupted deletes/cleanings (``*.deleted``, ``*.cleaned``, ``*.tmp``) and
    index files without a ``.log`` are removed, as Kafka does; a ``*.swap`` (a cleaner swap
    interrupted after its commit point) is completed first, see
    :func:`~kafkalite.storage.cleaner.complete_interrupted_swaps`.
    """
    names = os.listdir(directory)
    if any(name.endswith(SWAP_SUFFIX) for name in names):
        complete_interrupted_swaps(directory)
        names = os.listdir(directory)
    bases, indexes = [], []
    for name in names:
        if name.endswith(_LEFTOVER_SUFFIXES):
            path = os.path.join(directory, name)
            logger.info("Deleting leftover file %s", path)
            os.unlink(path)
            continue
        stem, dot, suffix = name.partition(".")
        if len(stem) != 20 or not stem.isdigit():
            continue
        if "." + suffix == LOG_SUFFIX:
            bases.append(int(stem))
        elif "." + suffix in (INDEX_SUFFIX, TIME_INDEX_SUFFIX, TXN_INDEX_SUFFIX):
            indexes.append((int(stem), os.path.join(directory, name)))
    present = set(bases)
    for base, path in indexes:
        if base not in present:
            logger.warning("Deleting orphaned index file %s", path)
            os.unlink(path)
    return sorted(bases)


def _recover_segments(tp: TopicPartition, segments: list[LogSegment], first: int) -> None:
    """Recover ``segments[first:]`` in place; after the first cut, later segments are deleted."""
    for i in range(first, len(segments)):
        truncated = segments[i].recover()
        if truncated:
            logger.warning("[Log partition=%s, dir=%s] Recovery cut %d invalid bytes from "
                           "segment %s; log now ends at offset %d", tp,
                           segments[i].log_path.parent.parent, truncated, segments[i].log_path,
                           segments[i].next_offset)
            for dropped in segments[i + 1:]:
                logger.warning("[Log partition=%s, dir=%s] Deleting segment %s after the "
                               "corruption", tp, dropped.log_path.parent.parent, dropped.log_path)
                dropped.delete()
            del segments[i + 1:]
            return
