"""Reading Prometheus text exposition (format 0.0.4): the web console scrapes brokers with it.

The console charts every broker's ``/metrics`` and needs only the samples: ``# HELP`` and
``# TYPE`` lines are skipped, and a sample line is ``name{label="value",...} value
[timestamp]``. Label values use the format's three escapes (``\\\\``, ``\\"``, ``\\n``); values may be
``NaN``, ``+Inf`` or ``-Inf``. A line that does not parse is skipped rather than failing the
scrape, so one odd metric from a newer broker does not blank a whole chart.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping

import attrs

__all__ = ["Sample", "parse_samples", "total", "value_of"]

_NAME = re.compile(r"[A-Za-z_:][A-Za-z0-9_:]*")
_LABEL_NAME = re.compile(r"\s*([A-Za-z_][A-Za-z0-9_]*)\s*=\s*\"")
_ESCAPES = {"\\": "\\", '"': '"', "n": "\n"}


@attrs.frozen
class Sample:
    name: str
    labels: Mapping[str, str]
    value: float


def _number(text: str) -> float:
    special = {"nan": math.nan, "+inf": math.inf, "inf": math.inf, "-inf": -math.inf}
    lowered = text.lower()
    if lowered in special:
        return special[lowered]
    return float(text)


def _labels(line: str, pos: int) -> tuple[dict[str, str], int]:
    """Labels starting after ``{`` at ``pos``; returns them and the index after ``}``.

    Raises:
        ValueError: an unterminated or malformed label set.
    """
    labels: dict[str, str] = {}
    while True:
        while pos < len(line) and line[pos] in " \t,":
            pos += 1
        if pos < len(line) and line[pos] == "}":
            return labels, pos + 1
        match = _LABEL_NAME.match(line, pos)
        if match is None:
            raise ValueError("bad label")
        pos = match.end()
        chars = []
        while True:
            if pos >= len(line):
                raise ValueError("unterminated label value")
            ch = line[pos]
            if ch == "\\" and pos + 1 < len(line):
                chars.append(_ESCAPES.get(line[pos + 1], "\\" + line[pos + 1]))
                pos += 2
            elif ch == '"':
                pos += 1
                break
            else:
                chars.append(ch)
                pos += 1
        labels[match.group(1)] = "".join(chars)


def parse_samples(text: str) -> list[Sample]:
    """Every sample of an exposition, in order; comments and unparsable lines are skipped."""
    out: list[Sample] = []
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        match = _NAME.match(line)
        if match is None:
            continue
        pos = match.end()
        labels: dict[str, str] = {}
        try:
            if pos < len(line) and line[pos] == "{":
                labels, pos = _labels(line, pos + 1)
            fields = line[pos:].split()
            if not fields:
                continue
            value = _number(fields[0])
        except ValueError:
            continue
        out.append(Sample(match.group(0), labels, value))
    return out


def _matches(sample: Sample, name: str, labels: Mapping[str, str]) -> bool:
    return sample.name == name and all(sample.labels.get(k) == v for k, v in labels.items())


def value_of(samples: Iterable[Sample], name: str, **labels: str) -> float | None:
    """The first sample named ``name`` carrying ``labels`` (others may be present)."""
    for s in samples:
        if _matches(s, name, labels):
            return s.value
    return None


def total(samples: Iterable[Sample], name: str, *, per: str = "topic") -> float | None:
    """A broker-wide value of a family that may also be broken down by ``per``.

    jmx_exporter gives Kafka's BrokerTopicMetrics once without a ``topic`` label (all topics)
    and once per topic; the unlabelled sample is the answer when present, else the per-topic
    samples are summed. None when the family is absent.
    """
    found = [s for s in samples if s.name == name]
    if not found:
        return None
    overall = [s.value for s in found if per not in s.labels]
    if overall:
        return overall[0]
    return sum(s.value for s in found)
