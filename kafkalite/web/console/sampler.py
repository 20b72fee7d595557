"""Background sampling for the live charts: every broker's metrics and every topic's growth.

While somebody uses the console (any request in the last ``idle_s`` seconds), every
``interval_s`` seconds the sampler

* scrapes each live broker's metrics endpoint. Where it is comes from the broker itself:
  ``metrics.listener`` is a broker config, read with DescribeConfigs on the broker resource
  (asked again every minute and whenever a broker appears). An empty or wildcard host in it
  means the broker's host from Metadata, and so does a loopback host: ``localhost`` is the
  broker's own machine, not necessarily this one, and scraping this machine instead would
  show another broker's numbers under its name. A broker without one gets "no metrics
  listener";
* reads every partition's log end offset, whose per-topic sum grows by the topic's message
  rate (the topic list's sparklines, available without any metrics listener).

Nobody watching means no sampling: an idle console costs the cluster nothing, and the charts
start filling again with the next page view. Failures are kept as a per-broker message for
the page and never stop the loop.
"""

from __future__ import annotations

import ipaddress
import logging
import math
import time
from collections.abc import Awaitable, Callable
from typing import Any

import attrs
import trio

from kafkalite import errors
from kafkalite.client.errors import ClientError
from kafkalite.config import http_listener_address
from kafkalite.web.console.scrape import ScrapeError, http_get
from kafkalite.web.console.series import History, Snapshot, broker_values
from kafkalite.web.prometheus_text import parse_samples

__all__ = ["Sampler", "BrokerCharts", "metrics_address"]

log = logging.getLogger(__name__)

_RECHECK_S = 60.0
_WILDCARDS = ("", "0.0.0.0", "::", "[::]")


def _is_loopback(host: str) -> bool:
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def metrics_address(listener: str | None, broker_host: str) -> tuple[str, int] | None:
    """Where to scrape a broker whose ``metrics.listener`` is ``listener`` (None: it has
    none); an empty, wildcard or loopback host means the broker's own (Metadata) host."""
    if not listener:
        return None
    host, port = http_listener_address(listener, "metrics.listener")
    if host in _WILDCARDS or _is_loopback(host):
        return broker_host, port
    return host, port


@attrs.define
class BrokerCharts:
    broker_id: int
    host: str = ""
    address: tuple[str, int] | None = None
    known: bool = False            # metrics.listener has been read at least once
    checked_at: float = -math.inf
    error: str | None = None
    history: History = attrs.field(factory=History)

    def to_json(self) -> dict[str, Any]:
        url = f"http://{self.address[0]}:{self.address[1]}/metrics" if self.address else None
        if self.known and self.address is None:
            error = "no metrics listener"
        else:
            error = self.error
        return {"id": self.broker_id, "host": self.host, "metrics_url": url, "error": error,
                "series": {k: [[t, round(v, 3)] for t, v in points]
                           for k, points in self.history.all_series().items()}}


class Sampler:
    """Keeps :class:`BrokerCharts` per broker and the topics' history.

    Args:
        backend: returns the console's own cluster client (the broker's identity).
        interval_s, window_s: how often to sample and how much to keep.
        idle_s: stop sampling this long after the last :meth:`wake`.
    """

    def __init__(self, backend: Callable[[], Awaitable[Any]], *, interval_s: float = 5.0,
                 window_s: float = 600.0, idle_s: float = 600.0):
        self._backend = backend
        self.interval_s = interval_s
        self.window_s = window_s
        self.idle_s = idle_s
        self.brokers: dict[int, BrokerCharts] = {}
        self.topics = History(window_s=window_s, interval_s=interval_s)
        self._wanted_until = -math.inf
        self._woken = trio.Event()

    def wake(self) -> None:
        """Somebody is looking: sample (again) for the next ``idle_s`` seconds."""
        self._wanted_until = trio.current_time() + self.idle_s
        self._woken.set()

    async def run(self, *, task_status=trio.TASK_STATUS_IGNORED) -> None:
        task_status.started()
        while True:
            if trio.current_time() >= self._wanted_until:
                self._woken = trio.Event()
                await self._woken.wait()
            started = trio.current_time()
            try:
                with trio.move_on_after(max(self.interval_s * 2, 10)):
                    await self.sample_once()
            except Exception:
                # A bug here must not take the broker down with the console's charts: it is
                # logged with its traceback, and the next round tries again.
                log.exception("web console: sampling the cluster failed")
            await trio.sleep_until(started + self.interval_s)

    async def sample_once(self) -> None:
        try:
            backend = await self._backend()
            metadata = await backend.metadata([])
        except (errors.KafkaError, ClientError) as e:
            for charts in self.brokers.values():
                charts.error = f"cluster unreachable: {e}"
            return
        live = dict(metadata.brokers)
        for gone in set(self.brokers) - set(live):
            del self.brokers[gone]
        now_ms = int(time.time() * 1000)
        async with trio.open_nursery() as nursery:
            for broker_id, info in live.items():
                charts = self.brokers.get(broker_id)
                if charts is None:
                    charts = self.brokers[broker_id] = BrokerCharts(
                        broker_id, history=History(window_s=self.window_s,
                                                   interval_s=self.interval_s))
                charts.host = info.host
                nursery.start_soon(self._sample_broker, backend, charts, now_ms)
            nursery.start_soon(self._sample_topics, backend, now_ms)

    async def _sample_broker(self, backend: Any, charts: BrokerCharts, now_ms: int) -> None:
        if not charts.known or trio.current_time() - charts.checked_at > _RECHECK_S:
            try:
                config = await backend.broker_config(charts.broker_id, ["metrics.listener"])
                charts.address = metrics_address(config.get("metrics.listener"), charts.host)
                charts.known = True
                charts.checked_at = trio.current_time()
            except (errors.KafkaError, ClientError, ValueError) as e:
                charts.error = f"cannot read metrics.listener: {e}"
                return
        if charts.address is None:
            return
        host, port = charts.address
        try:
            answer = await http_get(host, port, "/metrics")
            if answer.status != 200:
                raise ScrapeError(f"http://{host}:{port}/metrics answered {answer.status}")
            values = broker_values(parse_samples(answer.body.decode("utf-8", "replace")))
        except ScrapeError as e:
            charts.error = str(e)
            return
        charts.error = None
        charts.history.add(Snapshot(now_ms, values))

    async def _sample_topics(self, backend: Any, now_ms: int) -> None:
        try:
            sums = await backend.log_end_offsets()
        except (errors.KafkaError, ClientError) as e:
            log.debug("console: reading log end offsets failed: %s", e)
            return
        self.topics.add(Snapshot(now_ms, {t: float(v) for t, v in sums.items()}))

    def topic_rates(self) -> dict[str, list[tuple[int, float]]]:
        """Messages per second of each topic over the window."""
        return self.topics.all_series()

    def to_json(self) -> dict[str, Any]:
        return {"interval_s": self.interval_s, "window_s": self.window_s,
                "brokers": [self.brokers[b].to_json() for b in sorted(self.brokers)]}
