"""The metrics endpoint's parts without sockets: exposition text, timers, counting."""

from __future__ import annotations

import re

import pytest

from kafkalite import errors
from kafkalite.model import TopicPartition
from kafkalite.replication.service import FetchResult, ProduceResult
from kafkalite.web.broker_metrics import (
    BrokerMetrics, count_fetch, count_produce, remote_wait, request_name)
from kafkalite.web.registry import Exposition, Timer

LINE = re.compile(r'^[a-z_][a-z0-9_]*(\{([A-Za-z_]+="(?:[^"\\]|\\.)*",?)*\})? -?[0-9.e+-]+$')


def test_timer_percentiles_follow_yammer():
    t = Timer()
    for v in range(1, 101):
        t.update(float(v))
    q = dict(t.quantiles())
    assert q["0.50"] == pytest.approx(50.5)
    assert q["0.99"] == pytest.approx(99.99)
    assert q["0.999"] == 100.0
    assert (t.count, t.total) == (100, 5050.0)


def test_timer_keeps_a_window_of_recent_samples():
    t = Timer()
    for _ in range(5000):
        t.update(1000.0)
    for _ in range(2000):
        t.update(1.0)
    assert dict(t.quantiles())["0.999"] == 1.0  # the old slow samples left the window
    assert t.count == 7000


def test_empty_timer_reports_zeros():
    assert all(v == 0.0 for _, v in Timer().quantiles())


def test_exposition_is_prometheus_text():
    out = Exposition()
    out.counter("kafka_server_brokertopicmetrics_messagesin_total", 3, {"topic": 'a"b\\c'})
    out.gauge("kafka_server_replicamanager_underreplicatedpartitions", 1)
    t = Timer()
    t.update(2.5)
    out.timer("kafka_network_requestmetrics_totaltimems", t, {"request": "Produce"})
    text = out.render()
    assert text.endswith("\n")
    body = [line for line in text.splitlines() if not line.startswith("#")]
    assert all(LINE.match(line) for line in body), body
    assert 'kafka_server_brokertopicmetrics_messagesin_total{topic="a\\"b\\\\c"} 3' in body
    assert "# TYPE kafka_server_brokertopicmetrics_messagesin_total counter" in text
    assert 'kafka_network_requestmetrics_totaltimems_count{request="Produce"} 1' in body
    assert 'kafka_network_requestmetrics_totaltimems{request="Produce",quantile="0.99"} 2.5' \
        in body
    # one TYPE line per family, even with many series
    assert text.count("# TYPE kafka_network_requestmetrics_totaltimems gauge") == 1


def test_produce_counts_messages_from_offsets_not_records():
    m = BrokerMetrics()
    a, b = TopicPartition("a", 0), TopicPartition("b", 1)
    entries = [(a, memoryview(b"x" * 120)), (b, memoryview(b"y" * 80))]
    results = {a: ProduceResult(base_offset=10, last_offset=14),
               b: ProduceResult(errors.MessageTooLarge)}
    count_produce(m, entries, results)
    assert (m.topic("a").messages_in, m.topic("a").bytes_in) == (5, 120)
    assert (m.topic("b").failed_produce_requests, m.topic("b").bytes_rejected) == (1, 80)
    assert m.all_topics.messages_in == 5
    assert m.all_topics.total_produce_requests == 2


def test_follower_fetches_are_not_bytes_out():
    m = BrokerMetrics()
    tp = TopicPartition("a", 0)
    count_fetch(m, {tp: FetchResult(size=500)}, follower=False)
    count_fetch(m, {tp: FetchResult(size=700)}, follower=True)
    count_fetch(m, {tp: FetchResult(errors.NotLeaderOrFollower)}, follower=False)
    s = m.topic("a")
    assert (s.bytes_out, s.total_fetch_requests, s.failed_fetch_requests) == (500, 3, 1)


def test_request_names_are_kafkas():
    assert request_name(0) == "Produce"
    assert request_name(1) == "FetchConsumer"
    assert request_name(1, follower=True) == "FetchFollower"
    assert request_name(22) == "InitProducerId"
    assert request_name(23) == "OffsetForLeaderEpoch"


def test_remote_time_is_the_purgatory_wait():
    m = BrokerMetrics()
    acc = m.start_request()
    with remote_wait():
        pass
    m.end_request("Produce", 9, acc, arrived=0.0, started=0.001, handled=0.011, sent=0.012)
    stats = m.requests["Produce"]
    assert stats.by_version == {9: 1}
    assert stats.total.total == pytest.approx(12.0)
    assert stats.queue.total == pytest.approx(1.0)
    assert stats.local.total + stats.remote.total == pytest.approx(10.0)
    # outside a request, a wait is not attributed anywhere
    with remote_wait():
        pass


def _timer_state(t: Timer):
    return t.count, t.total, sorted(t._samples)


@pytest.mark.parametrize("n", [1, 5, 1500, 5000])
def test_recorded_requests_fold_to_what_one_update_each_gives(n):
    """record_request defers the timer updates to the next read of ``requests``; the counts,
    sums and windows are those of updating per request (sums exactly, in request order)."""
    import random

    rng = random.Random(n)
    m = BrokerMetrics()
    expected = {name: {"by_version": {}, "timers": {f: Timer() for f in
                                                    ("total", "queue", "local", "remote",
                                                     "send")}}
                for name in ("Produce", "FetchConsumer", "FetchFollower")}
    for i in range(n):
        key, follower = rng.choice([(0, False), (1, False), (1, True)])
        version = rng.choice([7, 8, 9])
        acc = m.start_request()
        with remote_wait():
            pass
        acc.ms = rng.random()
        arrived = rng.random()
        started = arrived + rng.random() / 100
        handled = started + rng.random() / 100
        sent = handled + rng.random() / 100
        m.record_request(key, follower, version, acc, arrived, started, handled, sent)
        want = expected[request_name(key, follower)]
        want["by_version"][version] = want["by_version"].get(version, 0) + 1
        timers = want["timers"]
        timers["total"].update((sent - arrived) * 1000)
        timers["queue"].update((started - arrived) * 1000)
        timers["local"].update(max(0.0, (handled - started) * 1000 - acc.ms))
        timers["remote"].update(acc.ms)
        timers["send"].update((sent - handled) * 1000)
    got = m.requests
    for name, want in expected.items():
        if not want["by_version"]:
            assert name not in got
            continue
        assert got[name].by_version == want["by_version"]
        for field, timer in want["timers"].items():
            assert _timer_state(getattr(got[name], field)) == _timer_state(timer), field
    # nothing is counted twice on the next read
    assert m.requests["Produce"].by_version == expected["Produce"]["by_version"]


def test_forgotten_topic_keeps_the_totals():
    m = BrokerMetrics()
    m.topic("gone").messages_in += 3
    m.all_topics.messages_in += 3
    m.forget_topic("gone")
    assert "gone" not in m.topics and m.all_topics.messages_in == 3

