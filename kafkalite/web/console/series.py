"""Ten minutes of samples and the per-second rates the console's charts draw (pure).

The console polls every few seconds: each broker's ``/metrics`` (counters such as messages
in, and latency percentiles) and every topic's log end offsets (for the topic list's message
rate sparklines, which work without any metrics listener). A :class:`History` keeps the last
``window_s`` of those snapshots in a ring buffer; nothing is stored on disk and a restarted
broker starts with empty charts, as EFAK's in-memory JMX charts do.

A rate is the increase between consecutive snapshots over the time between them. A counter
that went *down* belongs to a restarted broker (or a re-created topic): like Prometheus's
``rate()``, the new value is then taken as the whole increase since the restart. A key missing
from either snapshot of a pair (a broker that did not answer, a topic not there yet) leaves a
gap rather than a made-up zero.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Iterable, Mapping, Sequence

import attrs

from kafkalite.web.prometheus_text import Sample, total, value_of

__all__ = ["Snapshot", "History", "counter_rates", "broker_values", "is_counter",
           "CHART_REQUESTS"]

#: Request names whose rate and latency the broker charts show (Kafka's request labels).
CHART_REQUESTS = ("Produce", "FetchConsumer", "FetchFollower")

_BROKER_COUNTERS = {
    "messages_in": "kafka_server_brokertopicmetrics_messagesin_total",
    "bytes_in": "kafka_server_brokertopicmetrics_bytesin_total",
    "bytes_out": "kafka_server_brokertopicmetrics_bytesout_total",
}
_TOTAL_TIME = "kafka_network_requestmetrics_totaltimems"


@attrs.frozen
class Snapshot:
    at_ms: int                      # wall clock: the charts label their x axis with it
    values: Mapping[str, float]


def is_counter(key: str) -> bool:
    """Counters are drawn as rates, gauges as they are."""
    return not key.startswith("p99.")


def broker_values(samples: Sequence[Sample]) -> dict[str, float]:
    """The numbers a broker's charts need, from one scrape of its ``/metrics``.

    Keys: ``messages_in``, ``bytes_in``, ``bytes_out`` (counters), ``requests.<name>`` (a
    counter: requests answered) and ``p99.<name>`` (a gauge: total time in ms) for each of
    :data:`CHART_REQUESTS` the broker reports. Families it does not expose are left out.
    """
    out: dict[str, float] = {}
    finite = [s for s in samples if math.isfinite(s.value)]  # JSON has no NaN or Inf
    for key, name in _BROKER_COUNTERS.items():
        value = total(finite, name)
        if value is not None:
            out[key] = value
    for request in CHART_REQUESTS:
        count = value_of(finite, f"{_TOTAL_TIME}_count", request=request)
        if count is not None:
            out[f"requests.{request}"] = count
        p99 = value_of(finite, _TOTAL_TIME, request=request, quantile="0.99")
        if p99 is not None:
            out[f"p99.{request}"] = p99
    return out


def counter_rates(points: Sequence[tuple[int, float]]) -> list[tuple[int, float]]:
    """Per-second rates between consecutive ``(at_ms, value)`` points, stamped with the later
    time; a decrease counts as a restart (the new value is the increase)."""
    out = []
    for (t0, v0), (t1, v1) in zip(points, points[1:]):
        if t1 <= t0:
            continue
        increase = v1 - v0 if v1 >= v0 else v1
        out.append((t1, increase * 1000.0 / (t1 - t0)))
    return out


class History:
    """The last ``window_s`` seconds of snapshots (one source: a broker, or the topics)."""

    def __init__(self, *, window_s: float = 600, interval_s: float = 5):
        self.window_s = window_s
        self._snapshots: deque[Snapshot] = deque(maxlen=int(window_s / interval_s) + 2)

    def add(self, snapshot: Snapshot) -> None:
        self._snapshots.append(snapshot)
        oldest = snapshot.at_ms - self.window_s * 1000
        while self._snapshots and self._snapshots[0].at_ms < oldest:
            self._snapshots.popleft()

    def __len__(self) -> int:
        return len(self._snapshots)

    def latest(self) -> Snapshot | None:
        return self._snapshots[-1] if self._snapshots else None

    def keys(self) -> set[str]:
        return {k for s in self._snapshots for k in s.values}

    def points(self, key: str) -> list[tuple[int, float | None]]:
        """``(at_ms, value)`` of every snapshot, None where ``key`` was missing."""
        return [(s.at_ms, s.values.get(key)) for s in self._snapshots]

    def series(self, key: str) -> list[tuple[int, float]]:
        """Rates for a counter, values for a gauge; gaps where a snapshot lacked ``key``."""
        points = self.points(key)
        if not is_counter(key):
            return [(t, v) for t, v in points if v is not None]
        out = []
        for pair in zip(points, points[1:]):
            if pair[0][1] is not None and pair[1][1] is not None:
                out += counter_rates(pair)  # type: ignore[arg-type]
        return out

    def all_series(self, keys: Iterable[str] | None = None) -> dict[str, list[tuple[int, float]]]:
        return {k: self.series(k) for k in sorted(self.keys() if keys is None else keys)}
