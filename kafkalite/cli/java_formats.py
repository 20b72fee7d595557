"""Pieces of Java's text formats that Kafka's tools print, for tools that print them too (pure).

* :func:`simple_date_format` — ``java.text.SimpleDateFormat`` patterns
  (``kafka-consumer-perf-test.sh --date-format``, default ``yyyy-MM-dd HH:mm:ss:SSS``), local
  time like the JVM's default time zone;
* :func:`format_metrics` — what ``ToolsUtils.printMetrics`` prints for ``--print-metrics``: a
  blank line, ``Metric Name`` and ``Value`` headers, then one ``group:name:{tags} : value``
  line per metric sorted by that name, doubles with three decimals;
* :func:`java_exception_class` — ``exception.getClass().toString()`` as Kafka's verifiable
  tools put it in their JSON (``class org.apache.kafka.common.errors.TimeoutException``).
"""

from __future__ import annotations

import datetime
import re
from collections.abc import Iterable, Mapping

from kafkalite.errors import ConfigError, KafkaError

__all__ = ["check_date_pattern", "simple_date_format", "java_map_string", "format_metrics",
           "java_exception_class", "DEFAULT_DATE_FORMAT"]

#: The default ``--date-format`` of Kafka's perf tools.
DEFAULT_DATE_FORMAT = "yyyy-MM-dd HH:mm:ss:SSS"

_MONTHS = ("January", "February", "March", "April", "May", "June", "July", "August",
           "September", "October", "November", "December")
_DAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
_LETTERS = "GyYMLdDEuaHkKhmsSzZX"
_TOKEN = re.compile(r"'(?:[^']|'')*'?|([A-Za-z])\1*|[^A-Za-z']+")


def _tokens(pattern: str) -> list[tuple[str, int] | str]:
    """Letters runs as (letter, count); quoted and other text as plain strings."""
    out: list[tuple[str, int] | str] = []
    for match in _TOKEN.finditer(pattern):
        text = match.group(0)
        if text.startswith("'"):
            if text == "''":
                out.append("'")
                continue
            if len(text) < 2 or not text.endswith("'"):
                raise ConfigError(f"Unterminated quote in date format '{pattern}'")
            out.append(text[1:-1].replace("''", "'"))
        elif text[0].isalpha():
            if text[0] not in _LETTERS:
                raise ConfigError(f"Illegal pattern character '{text[0]}' in date format "
                                  f"'{pattern}'")
            out.append((text[0], len(text)))
        else:
            out.append(text)
    return out


def check_date_pattern(pattern: str) -> str:
    """``pattern`` if SimpleDateFormat would accept it.

    Raises:
        ConfigError: an unknown pattern letter or an unterminated quote (Java's
            IllegalArgumentException).
    """
    _tokens(pattern)
    return pattern


def _offset(moment: datetime.datetime, colon: bool) -> str:
    delta = moment.utcoffset() or datetime.timedelta(0)
    minutes = int(delta.total_seconds()) // 60
    sign = "-" if minutes < 0 else "+"
    hours, mins = divmod(abs(minutes), 60)
    return f"{sign}{hours:02d}{':' if colon else ''}{mins:02d}"


def _field(letter: str, count: int, moment: datetime.datetime, millis: int) -> str:
    def number(value: int) -> str:
        return str(value).zfill(count)

    if letter in "yY":
        return f"{moment.year % 100:02d}" if count == 2 else number(moment.year)
    if letter in "ML":
        if count >= 4:
            return _MONTHS[moment.month - 1]
        if count == 3:
            return _MONTHS[moment.month - 1][:3]
        return number(moment.month)
    if letter == "d":
        return number(moment.day)
    if letter == "D":
        return number(moment.timetuple().tm_yday)
    if letter == "E":
        name = _DAYS[moment.weekday()]
        return name if count >= 4 else name[:3]
    if letter == "u":
        return number(moment.isoweekday())
    if letter == "a":
        return "AM" if moment.hour < 12 else "PM"
    if letter == "H":
        return number(moment.hour)
    if letter == "k":
        return number(moment.hour or 24)
    if letter == "K":
        return number(moment.hour % 12)
    if letter == "h":
        return number(moment.hour % 12 or 12)
    if letter == "m":
        return number(moment.minute)
    if letter == "s":
        return number(moment.second)
    if letter == "S":
        return number(millis)
    if letter == "z":
        return moment.tzname() or "GMT"
    if letter == "Z":
        return _offset(moment, colon=False)
    if letter == "X":
        if not moment.utcoffset():
            return "Z"
        text = _offset(moment, colon=count >= 3)
        return text[:3] if count == 1 else text
    return "AD"  # G


def simple_date_format(pattern: str, epoch_ms: int,
                       tz: datetime.tzinfo | None = None) -> str:
    """``new SimpleDateFormat(pattern).format(epoch_ms)`` in ``tz`` (default: local time).

    Raises:
        ConfigError: an invalid pattern (see :func:`check_date_pattern`).
    """
    seconds, millis = divmod(int(epoch_ms), 1000)
    moment = datetime.datetime.fromtimestamp(seconds, tz or datetime.timezone.utc)
    if tz is None:
        moment = moment.astimezone()
    out = []
    for token in _tokens(pattern):
        out.append(token if isinstance(token, str) else _field(*token, moment, millis))
    return "".join(out)


def java_map_string(mapping: Mapping[str, object]) -> str:
    """``java.util.Map.toString()``: ``{k1=v1, k2=v2}``."""
    return "{" + ", ".join(f"{k}={v}" for k, v in mapping.items()) + "}"


def format_metrics(metrics: Iterable[tuple[str, str, Mapping[str, str], object]]) -> str:
    """Kafka's ``--print-metrics`` table for ``(group, name, tags, value)`` rows.

    Returns:
        The text to print, starting with an empty line and ending with a newline.
    """
    rows = sorted((f"{group}:{name}:{java_map_string(tags)}", value)
                  for group, name, tags, value in metrics)
    width = max([len(name) for name, _ in rows] + [len("Metric Name")])
    lines = ["", f"{'Metric Name':<{width}}   Value"]
    for name, value in rows:
        shown = f"{value:.3f}" if isinstance(value, float) else str(value)
        lines.append(f"{name:<{width}} : {shown}")
    return "\n".join(lines) + "\n"


_JAVA_CLIENT_ERRORS = {
    "KafkaTimeoutError": "org.apache.kafka.common.errors.TimeoutException",
    "ConnectionFailed": "org.apache.kafka.common.errors.NetworkException",
    "CommitFailed": "org.apache.kafka.clients.consumer.CommitFailedException",
    "NoOffsetForPartition": "org.apache.kafka.clients.consumer.NoOffsetForPartitionException",
}


def java_exception_class(exc: BaseException) -> str:
    """The Java class Kafka's client would raise for ``exc``, as ``Class.toString()``."""
    name = type(exc).__name__
    if isinstance(exc, KafkaError):
        suffix = "" if name.endswith("Exception") else "Exception"
        return f"class org.apache.kafka.common.errors.{name}{suffix}"
    java = _JAVA_CLIENT_ERRORS.get(name, "org.apache.kafka.common.KafkaException")
    return f"class {java}"
