"""Kafka's ThroughputThrottler (pure): hold a producer tool to about N records per second.

The perf test and the verifiable producer send in a loop and, after each record, ask
:meth:`ThroughputThrottler.should_throttle` whether they are ahead of the target (records so
far / seconds since start > target). If so they sleep :meth:`ThroughputThrottler.throttle_delay`
seconds: every throttled record adds ``1 / target`` seconds to a sleep deficit, and once the
deficit reaches 2 ms it is slept off at once, so the loop does not sleep for microseconds at a
time. A negative target never throttles; a target of 0 means "send nothing more" (an infinite
delay), as in Kafka.
"""

from __future__ import annotations

import math

__all__ = ["ThroughputThrottler"]

_MIN_SLEEP_S = 0.002


class ThroughputThrottler:
    """Args:
        target_throughput: records per second; negative = unthrottled.
        start_ms: when sending started (the caller's clock, in ms).
    """

    def __init__(self, target_throughput: float, start_ms: float):
        self.target_throughput = target_throughput
        self.start_ms = start_ms
        self._deficit_s = 0.0

    def should_throttle(self, amount_so_far: int, send_start_ms: float) -> bool:
        """Whether ``amount_so_far`` records by ``send_start_ms`` is above the target."""
        if self.target_throughput < 0:
            return False
        elapsed_s = (send_start_ms - self.start_ms) / 1000
        return elapsed_s > 0 and amount_so_far / elapsed_s > self.target_throughput

    def throttle_delay(self) -> float:
        """Seconds to sleep now (0: not yet); ``math.inf`` for a target of 0."""
        if self.target_throughput == 0:
            return math.inf
        self._deficit_s += 1 / self.target_throughput
        if self._deficit_s < _MIN_SLEEP_S:
            return 0.0
        delay, self._deficit_s = self._deficit_s, 0.0
        return delay
