"""log4j 1.x properties files on Python :mod:`logging`: the part of the syntax Kafka's
``config/log4j.properties`` uses.

Understood keys (``${name}`` is replaced from the given variables, e.g. ``kafka.logs.dir``,
then from the file's own keys; an unknown name becomes empty, as in log4j)::

    log4j.rootLogger=LEVEL, appender, ...
    log4j.logger.<name>=[LEVEL][, appender, ...]
    log4j.additivity.<name>=false
    log4j.appender.<A>=org.apache.log4j.ConsoleAppender | FileAppender |
                       DailyRollingFileAppender | RollingFileAppender | varia.NullAppender
    log4j.appender.<A>.Target=System.out | System.err          (ConsoleAppender)
    log4j.appender.<A>.File=${kafka.logs.dir}/server.log       (file appenders)
    log4j.appender.<A>.DatePattern='.'yyyy-MM-dd-HH            (DailyRollingFileAppender)
    log4j.appender.<A>.Append=true|false
    log4j.appender.<A>.MaxFileSize=10MB / .MaxBackupIndex=1     (RollingFileAppender)
    log4j.appender.<A>.Threshold=LEVEL
    log4j.appender.<A>.layout=org.apache.log4j.PatternLayout
    log4j.appender.<A>.layout.ConversionPattern=[%d] %p %m (%c)%n

PatternLayout conversions: ``%d`` (``{ISO8601}``, ``{ABSOLUTE}``, ``{DATE}`` or a
SimpleDateFormat pattern), ``%p``, ``%m``, ``%c``/``%C`` (``{N}``: the last N parts), ``%t``,
``%r``, ``%F``, ``%L``, ``%M``, ``%x``/``%X`` (empty), ``%n``, ``%%``, with log4j's ``-W.M``
padding and truncation. Anything else (an unknown conversion, another layout class, an unknown
appender class) is reported as a ``log4j:WARN`` line on stderr, as log4j does, and replaced
by the ``[%d] %p %m (%c)%n`` layout or left out.

Levels: log4j's TRACE (registered as Python level 5), DEBUG, INFO, WARN, ERROR, FATAL, OFF
and ALL. Records print with log4j's level names (WARN, not WARNING).
"""

from __future__ import annotations

import logging
import logging.handlers
import os
import re
import sys
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path

import attrs

from kafkalite.config import parse_properties

__all__ = ["KAFKA_PATTERN", "LEVELS", "TRACE", "AppenderSpec", "LoggerSpec", "Log4jConfig",
           "PatternLayout", "DailyRollingFileHandler", "parse_log4j", "load_log4j",
           "build_handler", "level_name", "java_date_format"]

TRACE = 5
logging.addLevelName(TRACE, "TRACE")

KAFKA_PATTERN = "[%d] %p %m (%c)%n"

LEVELS: dict[str, int] = {"ALL": 1, "TRACE": TRACE, "DEBUG": logging.DEBUG,
                          "INFO": logging.INFO, "WARN": logging.WARNING,
                          "WARNING": logging.WARNING, "ERROR": logging.ERROR,
                          "FATAL": logging.CRITICAL, "OFF": logging.CRITICAL + 10}


def level_name(levelno: int) -> str:
    """log4j's name for a Python level number."""
    if levelno >= logging.CRITICAL:
        return "FATAL"
    if levelno >= logging.ERROR:
        return "ERROR"
    if levelno >= logging.WARNING:
        return "WARN"
    if levelno >= logging.INFO:
        return "INFO"
    if levelno >= logging.DEBUG:
        return "DEBUG"
    return "TRACE"


def _warn(message: str) -> None:
    print(f"log4j:WARN {message}", file=sys.stderr)


# -- SimpleDateFormat ---------------------------------------------------------------------

_DATE_TOKEN = re.compile(r"'((?:[^']|'')*)'|([A-Za-z])\2*|.", re.S)
_DATE_FIELDS: dict[str, Callable[[int], str]] = {
    "y": lambda n: "%Y" if n != 2 else "%y",
    "M": lambda n: {1: "%-m", 2: "%m", 3: "%b"}.get(n, "%B"),
    "d": lambda n: "%d" if n >= 2 else "%-d",
    "H": lambda n: "%H" if n >= 2 else "%-H",
    "h": lambda n: "%I" if n >= 2 else "%-I",
    "m": lambda n: "%M" if n >= 2 else "%-M",
    "s": lambda n: "%S" if n >= 2 else "%-S",
    "a": lambda n: "%p",
    "E": lambda n: "%a" if n <= 3 else "%A",
    "Z": lambda n: "%z",
    "z": lambda n: "%Z",
}
_NAMED_DATES = {"ISO8601": "yyyy-MM-dd HH:mm:ss,SSS", "ABSOLUTE": "HH:mm:ss,SSS",
                "DATE": "dd MMM yyyy HH:mm:ss,SSS"}


def java_date_format(pattern: str) -> Callable[[float], str]:
    """A function of a POSIX timestamp rendering Java's SimpleDateFormat ``pattern`` in local
    time (``S`` is milliseconds; ``'text'`` is literal, ``''`` a quote)."""
    pattern = _NAMED_DATES.get(pattern, pattern)
    parts: list[str | int] = []   # strftime text, or an int: that many millisecond digits
    for m in _DATE_TOKEN.finditer(pattern):
        quoted, letter, text = m.group(1), m.group(2), m.group(0)
        if quoted is not None:
            parts.append((quoted.replace("''", "'") or "'").replace("%", "%%"))
        elif letter == "S":
            parts.append(len(text))
        elif letter is not None:
            conv = _DATE_FIELDS.get(letter)
            if conv is None:
                raise ValueError(f"unsupported date pattern letter {letter!r} in {pattern!r}")
            parts.append(conv(len(text)))
        else:
            parts.append(text.replace("%", "%%"))

    def render(ts: float) -> str:
        local = time.localtime(ts)
        out = []
        for p in parts:
            if isinstance(p, int):
                out.append(str(int(ts * 1000) % 1000).zfill(p))
            else:
                out.append(time.strftime(p, local))
        return "".join(out)

    return render


# -- PatternLayout ------------------------------------------------------------------------

_CONVERSION = re.compile(r"%(-?)(\d*)(?:\.(\d+))?([a-zA-Z%])(?:\{([^}]*)\})?")


class PatternLayout(logging.Formatter):
    """log4j's PatternLayout. ``%n`` is the line end: handlers using it need
    ``terminator = ""`` (see :func:`build_handler`). A record's exception follows the line,
    as log4j's appenders print throwables after the layout."""

    def __init__(self, pattern: str = KAFKA_PATTERN):
        super().__init__()
        try:
            self._parts = self._compile(pattern)
            self.pattern = pattern
        except ValueError as e:
            _warn(f"{e}; using the layout {KAFKA_PATTERN}")
            self._parts = self._compile(KAFKA_PATTERN)
            self.pattern = KAFKA_PATTERN

    def _compile(self, pattern: str) -> list[Callable[[logging.LogRecord], str] | str]:
        parts: list[Callable[[logging.LogRecord], str] | str] = []
        pos = 0
        for m in _CONVERSION.finditer(pattern):
            parts.append(pattern[pos:m.start()])
            pos = m.end()
            left, width, limit, conv, option = m.groups()
            fn = self._converter(conv, option)
            if width or limit:
                fn = _padded(fn, left == "-", int(width or 0), int(limit or 0))
            parts.append(fn)
        if "%" in pattern[pos:]:
            raise ValueError(f"cannot parse conversion pattern {pattern!r}")
        parts.append(pattern[pos:])
        return [p for p in parts if p != ""]

    @staticmethod
    def _converter(conv: str, option: str | None) -> Callable[[logging.LogRecord], str]:
        if conv == "d":
            date = java_date_format(option or "ISO8601")
            return lambda r: date(r.created)
        if conv == "p":
            return lambda r: level_name(r.levelno)
        if conv == "m":
            return lambda r: r.getMessage()
        if conv in "cC":
            keep = int(option) if option and option.isdigit() else 0
            if keep:
                return lambda r: ".".join(r.name.split(".")[-keep:])
            return lambda r: r.name
        simple: dict[str, Callable[[logging.LogRecord], str]] = {
            "t": lambda r: r.threadName or "",
            "r": lambda r: str(int(r.relativeCreated)),
            "F": lambda r: r.filename,
            "L": lambda r: str(r.lineno),
            "M": lambda r: r.funcName or "",
            "x": lambda r: "",
            "X": lambda r: "",
            "n": lambda r: "\n",
            "%": lambda r: "%",
        }
        if conv in simple:
            return simple[conv]
        raise ValueError(f"unsupported conversion %{conv}")

    def format(self, record: logging.LogRecord) -> str:
        text = "".join(p if isinstance(p, str) else p(record) for p in self._parts)
        if record.exc_info and not record.exc_text:
            record.exc_text = self.formatException(record.exc_info)
        if record.exc_text:
            text += record.exc_text + "\n"
        return text


def _padded(fn, left_align: bool, width: int, limit: int):
    def render(record: logging.LogRecord) -> str:
        s = fn(record)
        if limit and len(s) > limit:
            s = s[len(s) - limit:]   # log4j keeps the end
        if len(s) < width:
            s = s.ljust(width) if left_align else s.rjust(width)
        return s
    return render


# -- DailyRollingFileAppender -------------------------------------------------------------

class DailyRollingFileHandler(logging.handlers.BaseRotatingHandler):
    """log4j's DailyRollingFileAppender: ``DatePattern`` (e.g. ``'.'yyyy-MM-dd-HH``) names
    periods; the first record of a new period renames the file to ``file`` + the finished
    period's suffix (``server.log.2021-09-10-11``) and starts a new one. The period of an
    existing file is taken from its modification time, so a restart still rolls it."""

    def __init__(self, filename: str | os.PathLike, date_pattern: str = "'.'yyyy-MM-dd",
                 *, append: bool = True, encoding: str = "utf-8"):
        self._suffix_of = java_date_format(date_pattern)
        super().__init__(os.fspath(filename), "a" if append else "w", encoding=encoding)
        try:
            since = os.stat(self.baseFilename).st_mtime
        except OSError:
            since = time.time()
        self.period = self._suffix_of(since)

    def shouldRollover(self, record: logging.LogRecord) -> bool:
        return self._suffix_of(record.created) != self.period

    def doRollover(self) -> None:
        if self.stream:
            self.stream.close()
            self.stream = None
        target = self.baseFilename + self.period
        if os.path.exists(self.baseFilename):
            if os.path.exists(target):
                os.remove(target)
            os.rename(self.baseFilename, target)
        self.period = self._suffix_of(time.time())
        self.stream = self._open()

    def emit(self, record: logging.LogRecord) -> None:
        try:
            if self.shouldRollover(record):
                self.doRollover()
                self.period = self._suffix_of(record.created)
            logging.FileHandler.emit(self, record)
        except Exception:  # noqa: BLE001 - logging must not raise (Handler.handleError's rule)
            self.handleError(record)


# -- the configuration --------------------------------------------------------------------

_CONSOLE = "org.apache.log4j.ConsoleAppender"
_FILE = "org.apache.log4j.FileAppender"
_DAILY = "org.apache.log4j.DailyRollingFileAppender"
_ROLLING = "org.apache.log4j.RollingFileAppender"
_NULL = "org.apache.log4j.varia.NullAppender"
_PATTERN_LAYOUT = "org.apache.log4j.PatternLayout"
_KNOWN_APPENDERS = (_CONSOLE, _FILE, _DAILY, _ROLLING, _NULL)


@attrs.frozen
class AppenderSpec:
    name: str
    kind: str                      # one of the org.apache.log4j class names above
    pattern: str = KAFKA_PATTERN
    file: str | None = None
    target: str = "System.out"
    date_pattern: str = "'.'yyyy-MM-dd"
    append: bool = True
    max_file_size: int = 10 * 1024 * 1024
    max_backup_index: int = 1
    threshold: int | None = None


@attrs.frozen
class LoggerSpec:
    name: str                      # "" for the root logger
    level: int | None
    appenders: tuple[str, ...] = ()
    additivity: bool = True


@attrs.frozen
class Log4jConfig:
    root: LoggerSpec
    loggers: Mapping[str, LoggerSpec]
    appenders: Mapping[str, AppenderSpec]

    def logger(self, name: str) -> LoggerSpec | None:
        return self.root if name == "" else self.loggers.get(name)


_VAR = re.compile(r"\$\{([^}]*)\}")


def _substitute(value: str, variables: Mapping[str, str], props: Mapping[str, str]) -> str:
    def one(m: re.Match) -> str:
        name = m.group(1)
        if name in variables:
            return variables[name]
        if name in props:
            return _VAR.sub(lambda m2: variables.get(m2.group(1), ""), props[name])
        return ""
    return _VAR.sub(one, value)


def _parse_level(text: str, where: str) -> int | None:
    text = text.strip().upper()
    if not text or text in ("INHERITED", "NULL"):
        return None
    if text not in LEVELS:
        _warn(f"unknown level {text!r} for {where}; ignored")
        return None
    return LEVELS[text]


def _parse_size(text: str) -> int:
    m = re.fullmatch(r"\s*(\d+)\s*(KB|MB|GB)?\s*", text.upper())
    if not m:
        raise ValueError(text)
    return int(m.group(1)) * {None: 1, "KB": 1024, "MB": 1024 ** 2, "GB": 1024 ** 3}[m.group(2)]


def _logger_value(name: str, value: str) -> LoggerSpec:
    level, *appenders = [p.strip() for p in value.split(",")]
    return LoggerSpec(name, _parse_level(level, name or "the root logger"),
                      tuple(a for a in appenders if a))


def parse_log4j(props: Mapping[str, str], variables: Mapping[str, str] | None = None
                ) -> Log4jConfig:
    """The configuration a log4j.properties describes (``props`` as read by
    :func:`kafkalite.config.parse_properties`). Problems are reported as ``log4j:WARN``."""
    variables = dict(variables or {})
    p = {k: _substitute(v, variables, props) for k, v in props.items()}
    root = _logger_value("", p.get("log4j.rootLogger", p.get("log4j.rootCategory", "DEBUG")))
    loggers: dict[str, LoggerSpec] = {}
    for key, value in p.items():
        for prefix in ("log4j.logger.", "log4j.category."):
            if key.startswith(prefix):
                name = key[len(prefix):]
                loggers[name] = _logger_value(name, value)
    for key, value in p.items():
        if key.startswith("log4j.additivity."):
            name = key[len("log4j.additivity."):]
            spec = loggers.get(name, LoggerSpec(name, None))
            loggers[name] = attrs.evolve(spec, additivity=value.strip().lower() != "false")
    wanted = set(root.appenders) | {a for s in loggers.values() for a in s.appenders}
    appenders = {}
    for name in sorted(wanted):
        spec = _appender(name, p)
        if spec is not None:
            appenders[name] = spec
    return Log4jConfig(root, loggers, appenders)


def _appender(name: str, p: Mapping[str, str]) -> AppenderSpec | None:
    key = f"log4j.appender.{name}"
    kind = p.get(key, "").strip()
    if not kind:
        _warn(f"No appender named [{name}] could be found.")
        return None
    if kind not in _KNOWN_APPENDERS:
        _warn(f"appender [{name}]: class {kind} is not supported; it is left out")
        return None

    def opt(option: str, default: str | None = None) -> str | None:
        return p.get(f"{key}.{option}", default)

    layout = (opt("layout") or _PATTERN_LAYOUT).strip()
    pattern = opt("layout.ConversionPattern")
    if layout != _PATTERN_LAYOUT or pattern is None:
        if kind != _NULL:
            _warn(f"appender [{name}]: layout {layout} "
                  f"{'is not supported' if layout != _PATTERN_LAYOUT else 'has no pattern'}; "
                  f"using {KAFKA_PATTERN}")
        pattern = KAFKA_PATTERN
    fields: dict = {"name": name, "kind": kind, "pattern": pattern}
    if kind in (_FILE, _DAILY, _ROLLING):
        file = opt("File")
        if not file:
            _warn(f"File option not set for appender [{name}]; it is left out")
            return None
        fields["file"] = file.strip()
        fields["append"] = (opt("Append", "true") or "true").strip().lower() != "false"
    if kind == _CONSOLE:
        fields["target"] = (opt("Target", "System.out") or "System.out").strip()
    if kind == _DAILY:
        fields["date_pattern"] = (opt("DatePattern", "'.'yyyy-MM-dd") or "").strip()
    if kind == _ROLLING:
        try:
            fields["max_file_size"] = _parse_size(opt("MaxFileSize", "10MB") or "10MB")
            fields["max_backup_index"] = int(opt("MaxBackupIndex", "1") or "1")
        except ValueError:
            _warn(f"appender [{name}]: bad MaxFileSize or MaxBackupIndex; using 10MB and 1")
    threshold = opt("Threshold")
    if threshold:
        fields["threshold"] = _parse_level(threshold, f"appender [{name}]")
    return AppenderSpec(**fields)


def load_log4j(path: str | os.PathLike, variables: Mapping[str, str] | None = None
               ) -> Log4jConfig:
    """Read and parse a log4j.properties file (raises OSError if it cannot be read)."""
    return parse_log4j(parse_properties(Path(path).read_text(encoding="utf-8")), variables)


# -- applying it --------------------------------------------------------------------------

def build_handler(spec: AppenderSpec, *, stdout=None, stderr=None) -> logging.Handler:
    """The Python handler for one appender (file appenders create their directory and open
    the file now, as log4j does, so every configured file exists from the start)."""
    handler: logging.Handler
    if spec.kind == _CONSOLE:
        stream = (stderr or sys.stderr) if spec.target == "System.err" else (stdout or sys.stdout)
        handler = logging.StreamHandler(stream)
    elif spec.kind == _NULL:
        handler = logging.NullHandler()
    else:
        Path(spec.file).parent.mkdir(parents=True, exist_ok=True)
        mode = "a" if spec.append else "w"
        if spec.kind == _DAILY:
            try:
                handler = DailyRollingFileHandler(spec.file, spec.date_pattern,
                                                  append=spec.append)
            except ValueError as e:
                _warn(f"appender [{spec.name}]: {e}; the file will not roll")
                handler = logging.FileHandler(spec.file, mode, encoding="utf-8")
        elif spec.kind == _ROLLING:
            handler = logging.handlers.RotatingFileHandler(
                spec.file, mode, maxBytes=spec.max_file_size,
                backupCount=spec.max_backup_index, encoding="utf-8")
        else:
            handler = logging.FileHandler(spec.file, mode, encoding="utf-8")
    handler.terminator = ""
    handler.setFormatter(PatternLayout(spec.pattern))
    if spec.threshold is not None:
        handler.setLevel(spec.threshold)
    handler.set_name(spec.name)
    return handler


_lock = threading.Lock()


def apply_log4j(config: Log4jConfig, *, stdout=None, stderr=None,
                managed: Iterable[str] = ()) -> dict[str, logging.Handler]:
    """Configure the root logger and every logger the configuration names (their previous
    handlers are closed and replaced); ``managed`` names further loggers to reset to
    defaults first. Returns the handlers by appender name."""
    with _lock:
        handlers = {name: build_handler(spec, stdout=stdout, stderr=stderr)
                    for name, spec in config.appenders.items()}
        for name in set(config.loggers) | set(managed):
            _reset(logging.getLogger(name))
        root = logging.getLogger()
        _reset(root)
        root.setLevel(config.root.level if config.root.level is not None else logging.DEBUG)
        for a in config.root.appenders:
            if a in handlers:
                root.addHandler(handlers[a])
        for name, spec in config.loggers.items():
            logger = logging.getLogger(name)
            if spec.level is not None:
                logger.setLevel(spec.level)
            logger.propagate = spec.additivity
            for a in spec.appenders:
                if a in handlers:
                    logger.addHandler(handlers[a])
        return handlers


def _reset(logger: logging.Logger) -> None:
    for h in list(logger.handlers):
        logger.removeHandler(h)
        try:
            h.close()
        except Exception:  # noqa: BLE001 - a handler that fails to close is dropped anyway
            pass
    logger.setLevel(logging.NOTSET)
    logger.propagate = True
