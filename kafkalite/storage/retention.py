"""Retention decisions: which whole segments of a log may go, and when an idle segment rolls.

Pure functions over segment metadata (no files, no clock: ``now_ms`` is an argument), so the
rules are unit- and property-tested on their own; ``server/log_service.py`` applies them with
:meth:`kafkalite.storage.log.Log.delete_segments` every ``log.retention.check.interval.ms``.

The rules are Kafka's (``UnifiedLog.deleteOldSegments``), in Kafka's order, each pass seeing the
log as the previous pass left it:

1. ``retention.ms`` (when ``cleanup.policy`` contains ``delete`` and it is >= 0): a segment is
   breached when ``now_ms - largest_timestamp > retention.ms``. ``largest_timestamp`` is the
   segment's largest batch timestamp, or its file's mtime when it has none.
2. ``retention.bytes`` (same policy condition, >= 0): with ``diff = log size - retention.bytes``,
   the oldest segments go while ``diff - segment.size >= 0`` (and ``diff`` shrinks by each).
3. log start offset (always, whatever the policy): a segment goes when the *next* segment's
   base offset is <= the log start offset (DeleteRecords moved it past the whole segment).

Each pass deletes a *prefix* of the segment list and stops at the first segment that is not
deletable, where "deletable" also requires:

- the segment lies wholly below the high watermark (its upper bound — the next base offset, or
  the log end offset for the last segment — is <= HW), so the log start offset, which follows
  the deletion, never passes the high watermark;
- it is not the last segment while that is empty (deleting it would just recreate it).

The active (last) segment may therefore go when it is non-empty, fully replicated and breached;
the log then rolls first, so there is always a segment, and the new empty active segment starts
at the log end offset (which becomes the log start offset). After a pass the log start offset is
at least the base offset of the first remaining segment.
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Sequence
from typing import Protocol

import attrs

__all__ = ["DeletionReason", "SegmentDeletion", "SegmentMeta", "SegmentInfo", "plan_deletions",
           "time_to_roll"]


class SegmentMeta(Protocol):
    """What the decisions read of a segment (:class:`LogSegment` has these attributes)."""

    @property
    def base_offset(self) -> int: ...

    @property
    def size(self) -> int: ...

    @property
    def largest_timestamp(self) -> int: ...


@attrs.frozen
class SegmentInfo:
    """A plain :class:`SegmentMeta` (tests, and the empty segment a full deletion rolls to)."""

    base_offset: int
    size: int
    largest_timestamp: int = -1


class DeletionReason(enum.Enum):
    """Why segments were deleted; the value completes "due to ..." in the broker's log."""

    RETENTION_MS = "retention time breach"
    RETENTION_BYTES = "retention size breach"
    LOG_START_OFFSET = "log start offset breach"


@attrs.frozen
class SegmentDeletion:
    """One pass's result: delete the segments with these base offsets (the oldest ones, in
    order). ``rolls`` says the pass takes every segment, so the log must roll first."""

    reason: DeletionReason
    base_offsets: tuple[int, ...]
    rolls: bool = False


def _deletable_prefix(segments: Sequence[SegmentMeta], *, log_end_offset: int,
                      high_watermark: int,
                      predicate: Callable[[SegmentMeta, SegmentMeta | None], bool]) -> int:
    """How many of the oldest segments one pass deletes (Kafka's deletableSegments)."""
    count = 0
    for i, segment in enumerate(segments):
        last = i + 1 == len(segments)
        following = None if last else segments[i + 1]
        upper_bound = log_end_offset if following is None else following.base_offset
        if high_watermark < upper_bound:
            break
        if last and segment.size == 0:
            break
        if not predicate(segment, following):
            break
        count += 1
    return count


def plan_deletions(segments: Sequence[SegmentMeta], *, log_end_offset: int, high_watermark: int,
                   log_start_offset: int, retention_ms: int, retention_bytes: int,
                   delete_enabled: bool, now_ms: int) -> list[SegmentDeletion]:
    """The segment deletions one retention check makes, pass by pass (see the module doc).

    Args:
        segments: the log's segments, oldest first (the last one is the active segment).
        log_end_offset, high_watermark, log_start_offset: the log's offsets now.
        retention_ms, retention_bytes: the topic's ``retention.ms`` / ``retention.bytes``
            (negative = unlimited).
        delete_enabled: ``cleanup.policy`` contains ``delete``; otherwise only pass 3 runs.
        now_ms: the wall clock, compared with segment timestamps.

    Returns:
        Non-empty deletions in the order to apply them; empty when nothing is due.
    """
    remaining: list[SegmentMeta] = list(segments)
    start = log_start_offset
    plan: list[SegmentDeletion] = []

    def run_pass(reason: DeletionReason,
                 predicate: Callable[[SegmentMeta, SegmentMeta | None], bool]) -> None:
        nonlocal remaining, start
        count = _deletable_prefix(remaining, log_end_offset=log_end_offset,
                                  high_watermark=high_watermark, predicate=predicate)
        if not count:
            return
        rolls = count == len(remaining)
        plan.append(SegmentDeletion(reason, tuple(s.base_offset for s in remaining[:count]),
                                    rolls=rolls))
        remaining = remaining[count:] or [SegmentInfo(log_end_offset, 0)]
        start = max(start, remaining[0].base_offset)

    if delete_enabled and retention_ms >= 0:
        run_pass(DeletionReason.RETENTION_MS,
                 lambda segment, _next: now_ms - segment.largest_timestamp > retention_ms)
    if delete_enabled and retention_bytes >= 0:
        diff = sum(s.size for s in remaining) - retention_bytes

        def size_breached(segment: SegmentMeta, _next: SegmentMeta | None) -> bool:
            nonlocal diff
            if diff - segment.size >= 0:
                diff -= segment.size
                return True
            return False

        if diff >= 0:
            run_pass(DeletionReason.RETENTION_BYTES, size_breached)
    run_pass(DeletionReason.LOG_START_OFFSET,
             lambda _segment, following: following is not None
             and following.base_offset <= start)
    return plan


def time_to_roll(*, size: int, rolling_based_timestamp: int | None, created_ms: int | None,
                 now_ms: int, segment_ms: int, segment_jitter_ms: int = 0) -> bool:
    """Whether an active segment nobody appends to has outlived ``segment.ms``.

    Kafka rolls on append when the incoming batch's timestamp is more than ``segment.ms`` after
    the segment's first batch timestamp (or, without timestamps, its creation time); the storage
    engine does that in ``LogSegment.should_roll``. The retention task also closes an idle
    segment (so retention and compaction can reach its data), with ``now_ms`` in the place of
    the incoming timestamp, measured from the later of the first batch timestamp and the
    segment's creation: data produced with old timestamps (a replay of history) would otherwise
    roll a new segment at every check. An empty segment never rolls.
    """
    if size <= 0:
        return False
    known = [t for t in (rolling_based_timestamp, created_ms) if t is not None and t >= 0]
    if not known:
        return False
    return now_ms - max(known) > segment_ms - segment_jitter_ms
