"""Prometheus text exposition with the metric names jmx_exporter gives Kafka's MBeans.

Dashboards built for Kafka (Strimzi's, Confluent's, the Grafana gallery's) read what
jmx_exporter's ``kafka-2_0_0.yml`` produces from JMX: a Yammer meter ``...PerSec`` becomes a
counter ``kafka_<domain>_<type>_<name>_total``, a gauge ``kafka_<domain>_<type>_<name>``, and a
histogram/timer becomes ``..._count`` plus one gauge per percentile with a ``quantile`` label
("0.50" … "0.999"). A Python broker cannot serve JMX, so it writes those lines itself.

:class:`Timer` keeps the last :data:`RESERVOIR` samples (Yammer's timers use a decaying
reservoir of 1028; a sliding window answers the same question, "what were recent latencies",
without random numbers on the request path) and sorts them only when scraped.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

__all__ = ["Timer", "Exposition", "QUANTILES", "RESERVOIR"]

RESERVOIR = 1024
QUANTILES = (("0.50", 0.50), ("0.75", 0.75), ("0.95", 0.95), ("0.98", 0.98), ("0.99", 0.99),
             ("0.999", 0.999))


class Timer:
    """Count, sum and a sliding window of recent samples (milliseconds)."""

    __slots__ = ("count", "total", "_samples", "_next")

    def __init__(self) -> None:
        self.count = 0
        self.total = 0.0
        self._samples: list[float] = []
        self._next = 0

    def update(self, value: float) -> None:
        self.count += 1
        self.total += value
        samples = self._samples
        if len(samples) < RESERVOIR:
            samples.append(value)
        else:
            samples[self._next] = value
            self._next = (self._next + 1) % RESERVOIR

    def update_many(self, values: list[float]) -> None:
        """``update(v)`` for each value in order, with the same result: the sum added left to
        right, the window the same values (only the last ``RESERVOIR`` can be in it)."""
        self.count += len(values)
        self.total = sum(values, self.total)
        if len(values) >= RESERVOIR:
            self._samples = values[-RESERVOIR:]   # oldest first, so the next update
            self._next = 0                        # replaces the oldest, as in the ring
            return
        samples = self._samples
        for value in values:
            if len(samples) < RESERVOIR:
                samples.append(value)
            else:
                samples[self._next] = value
                self._next = (self._next + 1) % RESERVOIR

    def quantiles(self) -> list[tuple[str, float]]:
        """Yammer's percentile rule (linear interpolation between ranks), 0 when empty."""
        ordered = sorted(self._samples)
        n = len(ordered)
        out = []
        for label, q in QUANTILES:
            if n == 0:
                out.append((label, 0.0))
                continue
            pos = q * (n + 1)
            if pos < 1:
                value = ordered[0]
            elif pos >= n:
                value = ordered[-1]
            else:
                lower = ordered[int(pos) - 1]
                upper = ordered[int(pos)]
                value = lower + (pos - int(pos)) * (upper - lower)
            out.append((label, value))
        return out


def _escape(value: object) -> str:
    return str(value).replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def _labels(labels: Mapping[str, object]) -> str:
    if not labels:
        return ""
    return "{" + ",".join(f'{k}="{_escape(v)}"' for k, v in labels.items()) + "}"


def _number(value: float) -> str:
    if isinstance(value, int):
        return str(value)
    if value != value:
        return "NaN"
    if value in (float("inf"), float("-inf")):
        return "+Inf" if value > 0 else "-Inf"
    return repr(float(value))


class Exposition:
    """Collects families in the order added; each name gets one ``# TYPE`` line."""

    def __init__(self) -> None:
        self._families: dict[str, tuple[str, str, list[str]]] = {}

    def _family(self, name: str, kind: str, help_text: str) -> list[str]:
        fam = self._families.get(name)
        if fam is None:
            fam = self._families[name] = (kind, help_text, [])
        return fam[2]

    def gauge(self, name: str, value: float, labels: Mapping[str, object] | None = None,
              help: str = "") -> None:
        self._family(name, "gauge", help).append(f"{name}{_labels(labels or {})} "
                                                 f"{_number(value)}")

    def counter(self, name: str, value: float, labels: Mapping[str, object] | None = None,
                help: str = "") -> None:
        """``name`` ends in ``_total`` (jmx_exporter's COUNTER rule); the family is typed
        ``counter`` under the same name, as jmx_exporter's own output is."""
        self._family(name, "counter", help).append(f"{name}{_labels(labels or {})} "
                                                   f"{_number(value)}")

    def timer(self, name: str, timer: Timer, labels: Mapping[str, object] | None = None,
              help: str = "") -> None:
        """``name_count`` (a counter) and ``name{quantile=…}`` gauges, as jmx_exporter
        emulates a summary for Kafka's histograms (no ``_sum``; we add it, harmlessly)."""
        labels = dict(labels or {})
        self.counter(f"{name}_count", timer.count, labels, help)
        self.gauge(f"{name}_sum", timer.total, labels, help)
        for label, value in timer.quantiles():
            self.gauge(name, value, {**labels, "quantile": label}, help)

    def many(self, kind: str, name: str, rows: Iterable[tuple[Mapping[str, object], float]],
             help: str = "") -> None:
        add = self.gauge if kind == "gauge" else self.counter
        for labels, value in rows:
            add(name, value, labels, help)

    def render(self) -> str:
        out = []
        for name, (kind, help_text, lines) in self._families.items():
            if help_text:
                out.append(f"# HELP {name} {help_text}")
            out.append(f"# TYPE {name} {kind}")
            out.extend(lines)
        return "\n".join(out) + "\n"
