"""The chart sampler with a fake cluster client and a fake metrics endpoint (no sockets)."""

from __future__ import annotations

import trio
import trio.testing

from kafkalite import errors
from kafkalite.client.metadata import BrokerMetadata, ClusterMetadata
from kafkalite.web.console import sampler as sampler_module
from kafkalite.web.console.sampler import Sampler
from kafkalite.web.console.scrape import HttpAnswer, ScrapeError


class FakeBackend:
    def __init__(self):
        self.ends = {"orders": 0}
        self.metadata_calls = 0

    async def metadata(self, topics):
        self.metadata_calls += 1
        return ClusterMetadata(brokers={
            0: BrokerMetadata(node_id=0, host="b0", port=9092),
            1: BrokerMetadata(node_id=1, host="b1", port=9092),
            2: BrokerMetadata(node_id=2, host="b2", port=9092)})

    async def broker_config(self, broker_id, keys):
        if broker_id == 2:
            raise errors.ClusterAuthorizationFailed("denied")
        return {"metrics.listener": "http://0.0.0.0:9404" if broker_id == 0 else None}

    async def log_end_offsets(self):
        return dict(self.ends)


def _scrape_answers(monkeypatch, counters):
    asked = []

    async def fake_get(host, port, path, **kw):
        asked.append((host, port, path))
        value = counters.pop(0)
        if isinstance(value, Exception):
            raise value
        return HttpAnswer(200, {}, (
            f"kafka_server_brokertopicmetrics_messagesin_total {value}\n"
            'kafka_network_requestmetrics_totaltimems{request="Produce",quantile="0.99"} 4.5\n'
        ).encode())

    monkeypatch.setattr(sampler_module, "http_get", fake_get)
    return asked


def test_two_samples_make_rates(monkeypatch):
    backend = FakeBackend()
    asked = _scrape_answers(monkeypatch, [100, 160])
    clock = iter([1_000.0, 1_005.0])
    monkeypatch.setattr(sampler_module.time, "time", lambda: next(clock))

    async def main():
        s = Sampler(lambda: _ready(backend))
        await s.sample_once()
        backend.ends = {"orders": 50}
        await s.sample_once()
        return s

    s = trio.run(main)
    assert asked == [("b0", 9404, "/metrics")] * 2     # wildcard host -> the broker's host
    out = {b["id"]: b for b in s.to_json()["brokers"]}
    assert out[0]["metrics_url"] == "http://b0:9404/metrics" and out[0]["error"] is None
    assert out[0]["series"]["messages_in"] == [[1_005_000, 12.0]]
    assert out[0]["series"]["p99.Produce"] == [[1_000_000, 4.5], [1_005_000, 4.5]]
    assert out[1]["error"] == "no metrics listener" and out[1]["series"] == {}
    assert out[2]["error"].startswith("cannot read metrics.listener")
    assert s.topic_rates() == {"orders": [(1_005_000, 10.0)]}


def test_a_failed_scrape_is_reported_and_leaves_a_gap(monkeypatch):
    backend = FakeBackend()
    _scrape_answers(monkeypatch, [100, ScrapeError("cannot reach b0:9404: refused"), 200])
    clock = iter([0.0, 5.0, 10.0])
    monkeypatch.setattr(sampler_module.time, "time", lambda: next(clock))

    async def main():
        s = Sampler(lambda: _ready(backend))
        await s.sample_once()
        await s.sample_once()
        error = s.brokers[0].to_json()["error"]
        await s.sample_once()
        return s, error

    s, error = trio.run(main)
    assert error == "cannot reach b0:9404: refused"
    charts = s.brokers[0].to_json()
    assert charts["error"] is None
    assert charts["series"]["messages_in"] == [[10_000, 10.0]]


def test_samples_only_while_somebody_looks():
    backend = FakeBackend()

    async def main():
        s = Sampler(lambda: _ready(backend), interval_s=5, idle_s=60)

        async def quiet_sample_once():
            await backend.metadata([])

        s.sample_once = quiet_sample_once
        async with trio.open_nursery() as nursery:
            await nursery.start(s.run)
            await trio.sleep(300)
            idle_calls = backend.metadata_calls
            s.wake()
            await trio.sleep(30)
            watched_calls = backend.metadata_calls
            await trio.sleep(600)
            after_idle = backend.metadata_calls
            await trio.sleep(600)
            nursery.cancel_scope.cancel()
        return idle_calls, watched_calls, after_idle, backend.metadata_calls

    idle, watched, after, final = trio.run(
        main, clock=trio.testing.MockClock(autojump_threshold=0))
    assert idle == 0
    assert 6 <= watched <= 7          # one every 5 s
    assert after == final <= 14       # stopped about a minute after the last look


async def _ready(backend):
    return backend
