"""ThroughputThrottler: Kafka's rule for holding a loop to N records per second."""

from __future__ import annotations

import math

import pytest

from kafkalite.cli.throughput import ThroughputThrottler


def test_negative_target_never_throttles():
    throttler = ThroughputThrottler(-1, start_ms=0)
    assert not throttler.should_throttle(1_000_000, 1)


def test_throttles_only_when_ahead_of_the_target():
    throttler = ThroughputThrottler(100, start_ms=1000)
    assert not throttler.should_throttle(50, 1000)  # no time has passed yet
    assert not throttler.should_throttle(50, 1500)  # 100/s exactly
    assert throttler.should_throttle(51, 1500)


def test_sleep_deficit_is_slept_off_in_chunks_of_at_least_2ms():
    throttler = ThroughputThrottler(1000, start_ms=0)  # 1 ms per record
    assert throttler.throttle_delay() == 0.0
    assert throttler.throttle_delay() == pytest.approx(0.002)
    assert throttler.throttle_delay() == 0.0
    slow = ThroughputThrottler(10, start_ms=0)
    assert slow.throttle_delay() == pytest.approx(0.1)


def test_zero_target_stops_sending():
    assert ThroughputThrottler(0, start_ms=0).throttle_delay() == math.inf
