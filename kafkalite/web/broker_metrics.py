"""What the broker counts while it works, for ``GET /metrics`` and the console's charts.

Only events are counted here (requests, batches, ISR changes, elections, ZooKeeper session
losses); states (partition counts, under-replicated partitions, log sizes, lag) are read from
the broker when scraped (``metrics_app.py``), so they cost nothing between scrapes. Counting is
per request and per partition of a request, never per record: messages-in is a batch's offset
span (last offset − base offset + 1), taken from the append result.

Request times follow Kafka's RequestChannel split: queue (read until handled), local (the
handler's own work), remote (waiting in purgatory: acks=all, fetch.max.wait, joins), response
send. The handler's purgatory waits add to the current request's remote time through a
context variable, so the waits need not know which request they serve.
"""

from __future__ import annotations

import contextvars
import time
from collections import Counter
from itertools import repeat
from operator import attrgetter, mul as _mul, sub as _sub
from collections.abc import Iterator
from contextlib import contextmanager

import trio

from kafkalite import errors
from kafkalite.protocol.api_keys import ApiKey
from kafkalite.web.registry import RESERVOIR, Timer

__all__ = ["BrokerMetrics", "TopicStats", "RequestStats", "remote_wait", "IdleMeter",
           "request_name", "count_produce", "count_fetch"]


class TopicStats:
    """One row of Kafka's BrokerTopicMetrics (per topic, and once for all topics)."""

    __slots__ = ("messages_in", "bytes_in", "bytes_out", "bytes_rejected",
                 "failed_produce_requests", "failed_fetch_requests",
                 "total_produce_requests", "total_fetch_requests")

    def __init__(self) -> None:
        for name in self.__slots__:
            setattr(self, name, 0)

    def add(self, other: "TopicStats") -> None:
        for name in self.__slots__:
            setattr(self, name, getattr(self, name) + getattr(other, name))


class RequestStats:
    """Kafka's RequestMetrics for one request name (``Produce``, ``FetchConsumer``, …)."""

    __slots__ = ("by_version", "total", "queue", "local", "remote", "send")

    def __init__(self) -> None:
        self.by_version: dict[int, int] = {}
        self.total = Timer()
        self.queue = Timer()
        self.local = Timer()
        self.remote = Timer()
        self.send = Timer()


def _camel(name: str) -> str:
    return "".join(w.capitalize() for w in name.lower().split("_"))


_NAMES = {int(k): _camel(k.name) for k in ApiKey}


def request_name(api_key: int, follower: bool = False) -> str:
    """Kafka's request label: the API name in CamelCase, Fetch split by who asks."""
    if api_key == ApiKey.FETCH:
        return "FetchFollower" if follower else "FetchConsumer"
    return _NAMES.get(api_key, str(api_key))


class _Remote:
    __slots__ = ("ms",)

    def __init__(self) -> None:
        self.ms = 0.0


_current_remote: contextvars.ContextVar[_Remote | None] = contextvars.ContextVar(
    "kafkalite_remote_time", default=None)


@contextmanager
def remote_wait() -> Iterator[None]:
    """Count the enclosed wait as the current request's remote (purgatory) time."""
    acc = _current_remote.get()
    if acc is None:
        yield
        return
    start = time.perf_counter()
    try:
        yield
    finally:
        acc.ms += (time.perf_counter() - start) * 1000


class IdleMeter(trio.abc.Instrument):
    """How long the event loop was not working: the one thread both reads sockets and runs
    handlers, so this is both Kafka's network-processor and request-handler idle figure.

    Idle time is wall time minus the process's CPU time (the event loop is nearly all of it;
    ZooKeeper and file-sync threads add a little, which counts as busy). It used to be timed
    around each wait for I/O with trio's ``before_io_wait``/``after_io_wait`` hooks, but those
    run on every pass of the scheduler, a few µs of every small request. This class still is
    an Instrument (``add_instrument`` accepts it) but overrides no hook, so trio never calls it.
    """

    def __init__(self) -> None:
        self.started = time.monotonic()
        self._cpu0 = time.process_time()
        self._window = (self.started, self._cpu0)  # (wall, cpu) at the previous reading

    @property
    def idle_s(self) -> float:
        """Seconds of idleness since this meter was created."""
        wall = time.monotonic() - self.started
        return max(0.0, wall - (time.process_time() - self._cpu0))

    def idle_fraction(self) -> float:
        """Idle share since the previous call (since start on the first)."""
        now, cpu = time.monotonic(), time.process_time()
        wall0, cpu0 = self._window
        self._window = (now, cpu)
        span = now - wall0
        return min(1.0, max(0.0, 1.0 - (cpu - cpu0) / span)) if span > 0 else 1.0


# Recorded requests not yet folded into their RequestStats: a scrape folds them, and so does
# the request that fills this many (memory stays bounded when nobody scrapes).
_FOLD_AT = 4 * RESERVOIR


class BrokerMetrics:
    """Event counts of one broker.

    Request times are recorded per request as a few values added to one flat list
    (:meth:`record_request`) and folded into the per-name :class:`RequestStats` when read
    (``requests``) or when the list is full: a small request used to pay five timer updates
    and a label lookup, a few µs of its CPU. Folding gives the same counts, sums (added in
    request order) and the same sliding windows of recent samples, since only the last
    ``RESERVOIR`` of them can be in a window anyway.
    """

    def __init__(self) -> None:
        self.all_topics = TopicStats()
        self.topics: dict[str, TopicStats] = {}
        self._requests: dict[str, RequestStats] = {}
        self._recorded: list = []   # flat: _RECORD values a request
        self.isr_shrinks = 0
        self.isr_expands = 0
        self.unclean_elections = 0
        self.leader_elections = Timer()
        self.zk_expires = 0
        self.zk_disconnects = 0
        self.idle = IdleMeter()

    def topic(self, name: str) -> TopicStats:
        stats = self.topics.get(name)
        if stats is None:
            stats = self.topics[name] = TopicStats()
        return stats

    def forget_topic(self, name: str) -> None:
        """A deleted topic's series go away (Kafka removes its MBeans); totals keep counting."""
        self.topics.pop(name, None)

    @property
    def requests(self) -> dict[str, RequestStats]:
        """RequestStats by request name, with every request recorded so far."""
        if self._recorded:
            self._fold()
        return self._requests

    def request(self, name: str) -> RequestStats:
        stats = self.requests.get(name)
        if stats is None:
            stats = self._requests[name] = RequestStats()
        return stats

    def start_request(self) -> _Remote:
        """Begin timing a request; pass the result to :meth:`end_request`."""
        acc = _Remote()
        _current_remote.set(acc)
        return acc

    def resume_request(self, acc: _Remote) -> None:
        """Time a request again whose answer was deferred while others ran (a pipelined
        acks=all produce): its remaining wait counts as its own remote time."""
        _current_remote.set(acc)

    def record_request(self, api_key: int, follower: bool, version: int, acc: _Remote,
                       arrived: float, started: float, handled: float, sent: float) -> None:
        """Record one request (``time.perf_counter`` readings, in seconds); ``follower``
        tells a follower's Fetch from a consumer's. Costs one list extension: the values
        go flat into one list, _RECORD of them a request."""
        _current_remote.set(None)
        recorded = self._recorded
        recorded += api_key, follower, version, acc, arrived, started, handled, sent
        if len(recorded) >= _FOLD_AT * _RECORD:
            self._fold()

    def end_request(self, name: str, version: int, acc: _Remote, arrived: float,
                    started: float, handled: float, sent: float) -> None:
        """Record one request under the request name ``name``."""
        if self._recorded:
            self._fold()
        _current_remote.set(None)
        self._fold_into(name, [0, False, version, acc, arrived, started, handled, sent])

    def _fold(self) -> None:
        recorded, self._recorded = self._recorded, []
        keys = set(zip(recorded[0::_RECORD], recorded[1::_RECORD]))
        if len(keys) == 1:   # one kind of request only, as under a steady load
            self._fold_into(request_name(*keys.pop()), recorded)
            return
        by_key: dict[tuple[int, bool], list] = {key: [] for key in keys}
        for i in range(0, len(recorded), _RECORD):
            by_key[recorded[i], recorded[i + 1]] += recorded[i:i + _RECORD]
        for key, entries in by_key.items():
            self._fold_into(request_name(*key), entries)

    def _fold_into(self, name: str, entries: list) -> None:
        """Add requests recorded flat in ``entries`` (see :meth:`record_request`)."""
        stats = self._requests.get(name)
        if stats is None:
            stats = self._requests[name] = RequestStats()
        by_version = stats.by_version
        for version, n in Counter(entries[2::_RECORD]).items():
            by_version[version] = by_version.get(version, 0) + n
        arrived, started = entries[4::_RECORD], entries[5::_RECORD]
        handled, sent = entries[6::_RECORD], entries[7::_RECORD]
        # the same float operations as one request at a time: (b - a) * 1000, and the local
        # time max(0.0, (handled - started) * 1000 - remote)
        remote = list(map(_MS_OF, entries[3::_RECORD]))
        ms = _MS
        stats.total.update_many(list(map(_mul, map(_sub, sent, arrived), ms)))
        stats.queue.update_many(list(map(_mul, map(_sub, started, arrived), ms)))
        stats.local.update_many(list(map(max, _ZEROS, map(
            _sub, map(_mul, map(_sub, handled, started), ms), remote))))
        stats.remote.update_many(remote)
        stats.send.update_many(list(map(_mul, map(_sub, sent, handled), ms)))


_RECORD = 8   # values per recorded request
_MS_OF = attrgetter("ms")
_MS = repeat(1000)
_ZEROS = repeat(0.0)


# Errors for which Kafka also counts the batch's bytes as rejected (BytesRejectedPerSec).
_REJECTED = frozenset({errors.MessageTooLarge, errors.CorruptMessage, errors.InvalidRecord,
                       errors.InvalidTimestamp})


def count_produce(metrics: BrokerMetrics, entries, results) -> None:
    """BrokerTopicMetrics for one Produce request: ``entries`` (tp, records) and the
    per-partition append results. One update per partition, whatever its record count."""
    every = metrics.all_topics
    topics = metrics.topics
    for tp, records in entries:
        r = results.get(tp)
        if r is None:
            continue
        stats = topics.get(tp.topic) or metrics.topic(tp.topic)
        stats.total_produce_requests += 1
        every.total_produce_requests += 1
        size = len(records) if records is not None else 0
        if r.error is None:
            n = r.last_offset - r.base_offset + 1 if r.last_offset >= 0 else 0
            stats.messages_in += n
            every.messages_in += n
            stats.bytes_in += size
            every.bytes_in += size
        else:
            stats.failed_produce_requests += 1
            every.failed_produce_requests += 1
            if r.error in _REJECTED:
                stats.bytes_rejected += size
                every.bytes_rejected += size


def count_fetch(metrics: BrokerMetrics, results, follower: bool) -> None:
    """BrokerTopicMetrics for one Fetch request; followers' bytes are replication traffic,
    not BytesOut (Kafka counts them apart)."""
    every = metrics.all_topics
    topic_stats = metrics.topic
    for tp, r in results.items():
        stats = topic_stats(tp.topic)
        stats.total_fetch_requests += 1
        every.total_fetch_requests += 1
        if r.error is not None:
            stats.failed_fetch_requests += 1
            every.failed_fetch_requests += 1
        elif not follower:
            stats.bytes_out += r.size
            every.bytes_out += r.size
