"""Rates and ring buffers behind the console's charts and sparklines."""

from __future__ import annotations

import pytest

from kafkalite.web.console.series import History, Snapshot, broker_values, counter_rates
from kafkalite.web.prometheus_text import parse_samples


def test_counter_rates_per_second():
    assert counter_rates([(0, 0), (5000, 50), (10_000, 150)]) == [(5000, 10.0), (10_000, 20.0)]


def test_a_counter_that_drops_is_a_restart():
    # The broker restarted between the samples: 30 new messages since then, not -970.
    assert counter_rates([(0, 1000), (10_000, 30)]) == [(10_000, 3.0)]


def test_non_increasing_time_is_skipped():
    assert counter_rates([(5000, 1), (5000, 2), (4000, 3)]) == []


def test_history_gaps_and_gauges():
    h = History(window_s=60, interval_s=5)
    h.add(Snapshot(0, {"messages_in": 0, "p99.Produce": 3.0}))
    h.add(Snapshot(5000, {"p99.Produce": 4.0}))              # scrape without the counter
    h.add(Snapshot(10_000, {"messages_in": 100, "p99.Produce": 5.0}))
    h.add(Snapshot(15_000, {"messages_in": 150}))
    # No rate across the gap (the 0 -> 100 pair has a missing value between them).
    assert h.series("messages_in") == [(15_000, 10.0)]
    assert h.series("p99.Produce") == [(0, 3.0), (5000, 4.0), (10_000, 5.0)]
    assert h.keys() == {"messages_in", "p99.Produce"}


def test_history_forgets_what_left_the_window():
    h = History(window_s=10, interval_s=5)
    for t in range(0, 60_000, 5000):
        h.add(Snapshot(t, {"x": t / 1000}))
    assert [p[0] for p in h.points("x")] == [45_000, 50_000, 55_000]
    assert h.series("x") == [(50_000, 1.0), (55_000, 1.0)]
    assert h.latest().at_ms == 55_000


def test_broker_values_from_a_scrape():
    text = """
kafka_server_brokertopicmetrics_messagesin_total 10
kafka_server_brokertopicmetrics_messagesin_total{topic="t"} 10
kafka_server_brokertopicmetrics_bytesin_total{topic="a"} 100
kafka_server_brokertopicmetrics_bytesin_total{topic="b"} 50
kafka_network_requestmetrics_totaltimems_count{request="Produce"} 4
kafka_network_requestmetrics_totaltimems{request="Produce",quantile="0.99"} 2.5
kafka_network_requestmetrics_totaltimems{request="Produce",quantile="0.50"} 1.0
kafka_network_requestmetrics_totaltimems{request="FetchConsumer",quantile="0.99"} NaN
kafka_network_requestmetrics_totaltimems_count{request="Metadata"} 9
"""
    values = broker_values(parse_samples(text))
    assert values == {"messages_in": 10, "bytes_in": 150, "requests.Produce": 4,
                      "p99.Produce": pytest.approx(2.5)}   # NaN left out: JSON has no NaN
