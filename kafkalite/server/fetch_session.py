"""Incremental fetch sessions (KIP-227): the broker's session cache, sans-IO.

Theory of operation. A fetcher that fetches the same partitions over and over (a follower, a
consumer) can ask the broker to remember them. The request's ``(session_id, session_epoch)``
pair says what it wants (Kafka's FetchMetadata):

============  =========  =================================================================
session_id    epoch      meaning
============  =========  =================================================================
0             -1 FINAL   sessionless full fetch (every client before KIP-227)
X             -1 FINAL   close session X, then a sessionless full fetch
0 or X        0 INITIAL  (close X,) full fetch that creates a session if the cache admits it
X             N > 0      incremental fetch in session X; N must be the session's next epoch
============  =========  =================================================================

A full fetch answers every partition it asked for. An incremental request lists only the
partitions whose fetch parameters changed (added or updated) and ``forgotten_topics_data``
(removed); the broker fetches *all* the session's partitions and answers only those that
changed since the last response (:meth:`FetchSession.select_changed`). A wrong epoch or an
unknown id is a top-level error with no partitions and session id 0, and leaves the session as
it was. Each accepted incremental request advances the expected epoch (past 2**31-1 it wraps
to 1).

The cache has ``max.incremental.fetch.session.cache.slots`` slots. When full, a newcomer may
evict (Kafka's FetchSessionCache.tryEvict):

1. the least recently used session if it is stale (unused for more than ``eviction_ms``,
   Kafka's 120 s); else
2. the first session by ``(privileged, size, id)`` among those it may evict, if the newcomer's
   ``(privileged, size, 0)`` is not smaller. Privileged sessions are followers'
   (``replica_id >= 0``). A privileged newcomer may evict any unprivileged session and any
   session created more than ``eviction_ms`` ago; an unprivileged one only the latter. Which
   set a session belongs to is decided when it was last used, as Kafka does.

Nothing here does I/O or reads a clock: times come in as ``now_ms`` (monotonic: least
recently used is kept as touch order) and session ids from the ``random_int`` passed in.
Per-partition state is a 4-item list ``[request, high_watermark, last_stable_offset,
log_start_offset]`` kept in a dict whose order is the session's partition order: the request
is whatever the handler fetches with (opaque here), the rest is what the last response said.
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Iterable
from typing import Any

import attrs

from kafkalite import errors
from kafkalite.model import TopicPartition

__all__ = ["FINAL_EPOCH", "INITIAL_EPOCH", "INVALID_SESSION_ID", "EVICTION_MS", "next_epoch",
           "ContextKind", "FetchContext", "FetchSession", "FetchSessionCache"]

INVALID_SESSION_ID = 0
INITIAL_EPOCH = 0
FINAL_EPOCH = -1
EVICTION_MS = 120_000  # Kafka's MIN_INCREMENTAL_FETCH_SESSION_EVICTION_MS
_INT32_MAX = 2**31 - 1

# Indexes into a cached partition's list.
REQUEST, HIGH_WATERMARK, LAST_STABLE_OFFSET, LOG_START_OFFSET = range(4)


def next_epoch(epoch: int) -> int:
    """The epoch after ``epoch``: FINAL stays FINAL, 2**31-1 wraps to 1 (0 means INITIAL)."""
    if epoch < 0:
        return FINAL_EPOCH
    return 1 if epoch == _INT32_MAX else epoch + 1


class FetchSession:
    """One session: its partitions in fetch order and the epoch the next request must carry."""

    __slots__ = ("id", "privileged", "creation_ms", "last_used_ms", "epoch", "partitions",
                 "cached_size", "evictable_by_privileged", "evictable_by_all", "_requests")

    def __init__(self, session_id: int, privileged: bool, partitions: dict[TopicPartition, list],
                 now_ms: int):
        self.id = session_id
        self.privileged = privileged
        self.creation_ms = now_ms
        self.last_used_ms = now_ms
        self.epoch = next_epoch(INITIAL_EPOCH)
        self.partitions = partitions
        self.cached_size = -1  # the size the cache last counted; -1: not in a cache
        self.evictable_by_privileged = False
        self.evictable_by_all = False
        self._requests: tuple | None = None

    def __repr__(self) -> str:
        return (f"FetchSession(id={self.id}, privileged={self.privileged}, "
                f"partitions={len(self.partitions)}, epoch={self.epoch})")

    @property
    def evictable_key(self) -> tuple[bool, int, int]:
        return (self.privileged, self.cached_size, self.id)

    def requests(self) -> tuple:
        """Every partition's request, in session order; the same tuple until the session's
        partitions or their order change (an idle incremental fetch allocates nothing)."""
        reqs = self._requests
        if reqs is None:
            reqs = self._requests = tuple(e[REQUEST] for e in self.partitions.values())
        return reqs

    def update(self, fetch_data: Iterable[tuple[TopicPartition, Any]],
               forgotten: Iterable[TopicPartition]) -> None:
        """Apply an incremental request: listed partitions are added (at the end) or get the
        new request; forgotten ones are dropped. A newly added partition has no last response
        (-1s), so the next response includes it."""
        parts = self.partitions
        changed = False
        for tp, req in fetch_data:
            entry = parts.get(tp)
            if entry is None:
                parts[tp] = [req, -1, -1, -1]
            else:
                entry[REQUEST] = req
            changed = True
        for tp in forgotten:
            if parts.pop(tp, None) is not None:
                changed = True
        if changed:
            self._requests = None

    def select_changed(self, results: dict[TopicPartition, Any]) -> list[tuple[TopicPartition, Any]]:
        """The ``(tp, result)`` pairs an incremental response carries, in session order, and
        remember what they said (Kafka's CachedPartition.maybeUpdateResponseData).

        A partition is answered when it has records, an error, or a high watermark, last
        stable offset or log start offset other than the one last sent. An error resets the
        remembered high watermark to -1, so the partition is sent again once the error
        clears. Partitions that returned records move to the end of the session, so that
        under ``max_bytes`` the others get their turn next time.

        ``results`` maps each session partition to an object with ``error``, ``size``,
        ``high_watermark``, ``last_stable_offset`` and ``log_start_offset``.
        """
        out = []
        moved = []
        for tp, entry in self.partitions.items():
            r = results.get(tp)
            if r is None:
                continue
            if r.error is not None:
                entry[HIGH_WATERMARK] = -1
                entry[LOG_START_OFFSET] = r.log_start_offset
                entry[LAST_STABLE_OFFSET] = r.last_stable_offset
                out.append((tp, r))
                continue
            hw = r.high_watermark
            lso = r.last_stable_offset
            start = r.log_start_offset
            if (r.size or hw != entry[HIGH_WATERMARK] or lso != entry[LAST_STABLE_OFFSET]
                    or start != entry[LOG_START_OFFSET]):
                entry[HIGH_WATERMARK] = hw
                entry[LAST_STABLE_OFFSET] = lso
                entry[LOG_START_OFFSET] = start
                out.append((tp, r))
                if r.size:
                    moved.append(tp)
        if moved:
            parts = self.partitions
            for tp in moved:
                parts[tp] = parts.pop(tp)
            self._requests = None
        return out


class ContextKind(enum.Enum):
    SESSION_ERROR = "session_error"  # answer ``error`` with no partitions, session id 0
    SESSIONLESS = "sessionless"      # fetch the request's partitions; session id 0
    FULL = "full"                    # fetch the request's partitions, then try to cache them
    INCREMENTAL = "incremental"      # fetch all of ``session``'s partitions; answer changes


@attrs.frozen
class FetchContext:
    """What :meth:`FetchSessionCache.new_context` decided for one request."""

    kind: ContextKind
    error: type[errors.KafkaError] | None = None
    session: FetchSession | None = None
    # INCREMENTAL: the epoch the session expects after this request; if it changed by the time
    # the response is made, another request used the session meanwhile (a duplicate).
    next_epoch: int = 0


_SESSIONLESS = FetchContext(ContextKind.SESSIONLESS)
_FULL = FetchContext(ContextKind.FULL)
_NOT_FOUND = FetchContext(ContextKind.SESSION_ERROR, errors.FetchSessionIdNotFound)
_BAD_EPOCH = FetchContext(ContextKind.SESSION_ERROR, errors.InvalidFetchSessionEpoch)


class FetchSessionCache:
    """Kafka's FetchSessionCache and FetchManager.newContext: at most ``max_slots`` sessions.

    Args:
        max_slots: ``max.incremental.fetch.session.cache.slots`` (0: never create sessions).
        random_int: ``random_int(a, b)`` returns an int in ``[a, b]``; session ids are drawn
            from ``[1, 2**31-2]`` as Kafka does.
        eviction_ms: how long a session must be unused to be stale, and how old one must be
            before sessions it does not outrank by privilege may evict it.
    """

    def __init__(self, max_slots: int, random_int: Callable[[int, int], int], *,
                 eviction_ms: int = EVICTION_MS):
        self.max_slots = max_slots
        self.eviction_ms = eviction_ms
        self._random_int = random_int
        # id -> session, least recently used first (touch moves a session to the end).
        self._sessions: dict[int, FetchSession] = {}
        self.num_partitions = 0  # NumIncrementalFetchPartitionsCached
        self.evictions = 0       # IncrementalFetchSessionEvictionsPerSec (a count)

    def __len__(self) -> int:
        """NumIncrementalFetchSessions."""
        return len(self._sessions)

    def get(self, session_id: int) -> FetchSession | None:
        return self._sessions.get(session_id)

    # -- contexts ------------------------------------------------------------------------

    def new_context(self, session_id: int, epoch: int,
                    fetch_data: Iterable[tuple[TopicPartition, Any]],
                    forgotten: Iterable[TopicPartition], *, now_ms: int) -> FetchContext:
        """Decide how to serve one Fetch request (v7+; older versions are SESSIONLESS).

        A full request (epoch 0 or -1) first closes the session it names. An incremental
        request is checked (unknown id: FETCH_SESSION_ID_NOT_FOUND; epoch other than the
        expected one: INVALID_FETCH_SESSION_EPOCH, the session untouched), then applied to
        the session, which advances its epoch. If that leaves the session empty it is closed
        and the request served sessionless, as Kafka does.
        """
        if epoch in (INITIAL_EPOCH, FINAL_EPOCH):
            if session_id != INVALID_SESSION_ID:
                self.remove(session_id)
            return _SESSIONLESS if epoch == FINAL_EPOCH else _FULL
        session = self._sessions.get(session_id)
        if session is None:
            return _NOT_FOUND
        if session.epoch != epoch:
            return _BAD_EPOCH
        session.update(fetch_data, forgotten)
        if not session.partitions:
            self.remove(session_id)
            return _SESSIONLESS
        self.touch(session, now_ms)
        session.epoch = next_epoch(session.epoch)
        return FetchContext(ContextKind.INCREMENTAL, session=session, next_epoch=session.epoch)

    # -- the cache -----------------------------------------------------------------------

    def maybe_create_session(self, now_ms: int, privileged: bool, size: int,
                             make_partitions: Callable[[], dict[TopicPartition, list]]) -> int:
        """A new session's id, or 0 when the cache is full and nothing may be evicted.
        ``make_partitions`` is only called when the session is created."""
        if len(self._sessions) >= self.max_slots and not self._try_evict(privileged, size,
                                                                         now_ms):
            return INVALID_SESSION_ID
        sessions = self._sessions
        while True:
            session_id = self._random_int(1, _INT32_MAX - 1)
            if session_id not in sessions:
                break
        session = FetchSession(session_id, privileged, make_partitions(), now_ms)
        sessions[session_id] = session
        self.touch(session, now_ms)
        return session_id

    def touch(self, session: FetchSession, now_ms: int) -> None:
        """Mark ``session`` used now and recount its size and evictability."""
        sessions = self._sessions
        del sessions[session.id]
        sessions[session.id] = session
        session.last_used_ms = now_ms
        if session.cached_size != -1:
            self.num_partitions -= session.cached_size
        session.cached_size = len(session.partitions)
        self.num_partitions += session.cached_size
        old = now_ms - session.creation_ms > self.eviction_ms
        session.evictable_by_privileged = old or not session.privileged
        session.evictable_by_all = old

    def remove(self, session_id: int) -> FetchSession | None:
        session = self._sessions.pop(session_id, None)
        if session is not None:
            self.num_partitions -= session.cached_size
            session.cached_size = -1
        return session

    def _try_evict(self, privileged: bool, size: int, now_ms: int) -> bool:
        if not self._sessions:
            return False
        lru = next(iter(self._sessions.values()))
        if now_ms - lru.last_used_ms > self.eviction_ms:
            self.remove(lru.id)
            self.evictions += 1
            return True
        # Only reached when the cache is full: a scan of at most max_slots sessions.
        if privileged:
            keys = [s.evictable_key for s in self._sessions.values() if s.evictable_by_privileged]
        else:
            keys = [s.evictable_key for s in self._sessions.values() if s.evictable_by_all]
        if not keys:
            return False
        victim = min(keys)
        if (privileged, size, 0) < victim:
            return False
        self.remove(victim[2])
        self.evictions += 1
        return True
