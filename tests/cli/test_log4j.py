"""The log4j.properties subset: parsing, PatternLayout, hourly rolling and routing."""

from __future__ import annotations

import io
import logging
import os
import time

import pytest

from kafkalite.cli.log4j import (KAFKA_PATTERN, TRACE, DailyRollingFileHandler, PatternLayout,
                                 apply_log4j, java_date_format, load_log4j, parse_log4j)
from kafkalite.cli.logs import DEFAULT_LOG4J, REPO_LOG4J
from kafkalite.config import parse_properties

DAILY = "org.apache.log4j.DailyRollingFileAppender"
WHEN = time.mktime((2021, 9, 10, 11, 8, 55, 0, 0, -1)) + 0.963   # local time


def record(msg="hello", *, name="kafka.server.KafkaServer", level=logging.INFO, args=(),
           created=WHEN, exc_info=None) -> logging.LogRecord:
    r = logging.LogRecord(name, level, __file__, 42, msg, args, exc_info, func="fn")
    r.created = created
    r.msecs = (created - int(created)) * 1000
    return r


def parse(text: str, **variables) -> object:
    return parse_log4j(parse_properties(text), variables)


# -- parsing -----------------------------------------------------------------------------

def test_the_shipped_file_is_kafkas_split(tmp_path):
    cfg = load_log4j(REPO_LOG4J, {"kafka.logs.dir": str(tmp_path)})
    assert cfg.root.level == logging.INFO
    assert cfg.root.appenders == ("stdout", "kafkaAppender")
    files = {name: a.file for name, a in cfg.appenders.items() if a.file}
    assert files == {n: str(tmp_path / f) for n, f in [
        ("kafkaAppender", "server.log"), ("stateChangeAppender", "state-change.log"),
        ("requestAppender", "kafka-request.log"), ("cleanerAppender", "log-cleaner.log"),
        ("controllerAppender", "controller.log"),
        ("authorizerAppender", "kafka-authorizer.log")]}
    assert {a.pattern for a in cfg.appenders.values()} == {KAFKA_PATTERN}
    assert {a.date_pattern for a in cfg.appenders.values() if a.kind == DAILY} == \
        {"'.'yyyy-MM-dd-HH"}
    assert cfg.appenders["stdout"].kind == "org.apache.log4j.ConsoleAppender"
    expected = {  # name: (level, appenders, additivity)
        "kafka": (logging.INFO, (), True),
        "kafka.controller": (TRACE, ("controllerAppender",), False),
        "kafka.request.logger": (logging.WARNING, ("requestAppender",), False),
        "kafka.log.LogCleaner": (logging.INFO, ("cleanerAppender",), False),
        "state.change.logger": (logging.INFO, ("stateChangeAppender",), False),
        "kafka.authorizer.logger": (logging.INFO, ("authorizerAppender",), False),
        "kafka.network.RequestChannel$": (logging.WARNING, ("requestAppender",), False),
    }
    for name, want in expected.items():
        spec = cfg.loggers[name]
        assert (spec.level, spec.appenders, spec.additivity) == want, name


def test_the_built_in_default_is_the_shipped_file():
    variables = {"kafka.logs.dir": "/var/log/kafka"}
    assert parse_log4j(parse_properties(DEFAULT_LOG4J), variables) == \
        load_log4j(REPO_LOG4J, variables)


def test_variables_come_from_the_caller_then_the_file_and_unknown_ones_are_empty():
    cfg = parse("log4j.rootLogger=INFO, f\n"
                "base=/srv/${who}\n"
                "log4j.appender.f=org.apache.log4j.FileAppender\n"
                "log4j.appender.f.File=${base}/${kafka.logs.dir}/x${nope}.log\n",
                who="kafka")
    assert cfg.appenders["f"].file == "/srv/kafka//x.log"
    cfg = parse("log4j.rootLogger=INFO, f\nlog4j.appender.f=org.apache.log4j.FileAppender\n"
                "log4j.appender.f.File=${kafka.logs.dir}/server.log\n",
                **{"kafka.logs.dir": "/logs"})
    assert cfg.appenders["f"].file == "/logs/server.log"


def test_levels_additivity_and_missing_pieces(capsys):
    cfg = parse("log4j.rootLogger=warn, out, ghost\n"
                "log4j.appender.out=org.apache.log4j.ConsoleAppender\n"
                "log4j.appender.out.Target=System.err\n"
                "log4j.appender.out.Threshold=ERROR\n"
                "log4j.appender.smtp=org.apache.log4j.net.SMTPAppender\n"
                "log4j.logger.a.b=DEBUG, smtp\n"
                "log4j.logger.c=LOUD\n"
                "log4j.additivity.d=false\n")
    assert cfg.root.level == logging.WARNING
    assert cfg.appenders["out"].target == "System.err"
    assert cfg.appenders["out"].threshold == logging.ERROR
    assert cfg.appenders["out"].pattern == KAFKA_PATTERN   # no layout given
    assert set(cfg.appenders) == {"out"}
    assert cfg.loggers["a.b"].level == logging.DEBUG
    assert cfg.loggers["c"].level is None
    assert cfg.loggers["d"].additivity is False and cfg.loggers["d"].level is None
    err = capsys.readouterr().err
    assert "log4j:WARN No appender named [ghost] could be found." in err
    assert "SMTPAppender is not supported" in err
    assert "unknown level 'LOUD'" in err


# -- layout ------------------------------------------------------------------------------

def test_kafka_layout():
    layout = PatternLayout()
    assert layout.format(record("[KafkaServer id=%d] started", args=(0,))) == \
        "[2021-09-10 11:08:55,963] INFO [KafkaServer id=0] started (kafka.server.KafkaServer)\n"
    assert layout.format(record("x", level=logging.WARNING)).split()[2] == "WARN"
    assert layout.format(record("x", level=TRACE)).split()[2] == "TRACE"
    assert layout.format(record("x", level=logging.CRITICAL)).split()[2] == "FATAL"


def test_exceptions_follow_the_line():
    try:
        raise ValueError("boom")
    except ValueError:
        import sys
        exc = sys.exc_info()
    text = PatternLayout().format(record("Unexpected error", level=logging.ERROR, exc_info=exc))
    first, *rest = text.splitlines()
    assert first.endswith("ERROR Unexpected error (kafka.server.KafkaServer)")
    assert rest[0] == "Traceback (most recent call last):" and rest[-1] == "ValueError: boom"


def test_other_conversions_and_modifiers():
    r = record("message", name="kafka.controller.KafkaController")
    assert PatternLayout("%d{ISO8601} %-5p [%t] %c{1}: %m%n").format(r) == \
        f"2021-09-10 11:08:55,963 INFO  [{r.threadName}] KafkaController: message\n"
    assert PatternLayout("%d{ABSOLUTE}|%5p|%.4m|%L|%F|%M|%x%%").format(r) == \
        f"11:08:55,963| INFO|sage|42|{os.path.basename(__file__)}|fn|%"
    assert PatternLayout("%d{yyyy/MM/dd HH:mm} %m").format(r) == "2021/09/10 11:08 message"


def test_an_unknown_conversion_falls_back_to_kafkas_layout(capsys):
    layout = PatternLayout("%d %q %m")
    assert layout.pattern == KAFKA_PATTERN
    assert "unsupported conversion %q" in capsys.readouterr().err


def test_java_date_patterns():
    assert java_date_format("'.'yyyy-MM-dd-HH")(WHEN) == ".2021-09-10-11"
    assert java_date_format("'.'yyyy-MM-dd")(WHEN) == ".2021-09-10"
    assert java_date_format("HH:mm:ss,SSS 'o''clock'")(WHEN) == "11:08:55,963 o'clock"
    with pytest.raises(ValueError):
        java_date_format("yyyy-ww")


# -- DailyRollingFileAppender ------------------------------------------------------------

def test_hourly_rolling_renames_the_finished_hour(tmp_path):
    path = tmp_path / "server.log"
    h = DailyRollingFileHandler(path, "'.'yyyy-MM-dd-HH")
    h.terminator = ""
    h.setFormatter(PatternLayout())
    try:
        h.period = ".2021-09-10-11"     # as if the file were opened at 11:xx
        h.emit(record("first"))
        h.emit(record("second", created=WHEN + 60))
        h.emit(record("third", created=WHEN + 3600))
        h.emit(record("fourth", created=WHEN + 2 * 3600))
    finally:
        h.close()
    assert [ln.split(" ", 3)[3] for ln in
            (tmp_path / "server.log.2021-09-10-11").read_text().splitlines()] == \
        ["first (kafka.server.KafkaServer)", "second (kafka.server.KafkaServer)"]
    assert "third" in (tmp_path / "server.log.2021-09-10-12").read_text()
    assert "fourth" in path.read_text() and "third" not in path.read_text()


def test_an_existing_file_is_in_the_period_of_its_last_write(tmp_path):
    path = tmp_path / "server.log"
    path.write_text("old\n")
    os.utime(path, (WHEN, WHEN))
    h = DailyRollingFileHandler(path, "'.'yyyy-MM-dd-HH")
    h.close()
    assert h.period == ".2021-09-10-11"


# -- routing -----------------------------------------------------------------------------

@pytest.mark.usefixtures("saved_logging")
def test_routing_of_the_shipped_configuration(tmp_path):
    out = io.StringIO()
    apply_log4j(load_log4j(REPO_LOG4J, {"kafka.logs.dir": str(tmp_path)}), stdout=out)
    logging.getLogger("kafka.server.KafkaServer").info("[KafkaServer id=0] started")
    logging.getLogger("kafka.server.KafkaServer").debug("not at INFO")
    logging.getLogger("kafka.controller.KafkaController").info("[Controller id=0] elected")
    logging.getLogger("kafka.controller.KafkaController").log(TRACE, "[Controller id=0] trace")
    logging.getLogger("state.change.logger").info("[Broker id=0] Handling LeaderAndIsr")
    logging.getLogger("kafka.request.logger").debug("Completed request:{}")
    logging.getLogger("kafka.log.LogCleaner").info("Cleaner 0: Beginning cleaning")
    logging.getLogger("somewhere.else").info("other")

    def lines(name):
        return [ln.split("] ", 1)[1] for ln in (tmp_path / name).read_text().splitlines()]
    server = lines("server.log")
    assert server == ["INFO [KafkaServer id=0] started (kafka.server.KafkaServer)",
                      "INFO other (somewhere.else)"]
    assert [ln.split("] ", 1)[1] for ln in out.getvalue().splitlines()] == server
    assert lines("controller.log") == [
        "INFO [Controller id=0] elected (kafka.controller.KafkaController)",
        "TRACE [Controller id=0] trace (kafka.controller.KafkaController)"]
    assert lines("state-change.log") == [
        "INFO [Broker id=0] Handling LeaderAndIsr (state.change.logger)"]
    assert lines("log-cleaner.log") == [
        "INFO Cleaner 0: Beginning cleaning (kafka.log.LogCleaner)"]
    assert (tmp_path / "kafka-request.log").read_text() == ""   # off (WARN) by default
    assert (tmp_path / "kafka-authorizer.log").read_text() == ""


@pytest.mark.usefixtures("saved_logging")
def test_request_log_at_debug_and_thresholds(tmp_path):
    text = REPO_LOG4J.read_text().replace("log4j.logger.kafka.request.logger=WARN",
                                          "log4j.logger.kafka.request.logger=DEBUG")
    text += "log4j.appender.stdout.Threshold=ERROR\n"
    out = io.StringIO()
    apply_log4j(parse(text, **{"kafka.logs.dir": str(tmp_path)}), stdout=out)
    logging.getLogger("kafka.request.logger").debug("Completed request:{}")
    logging.getLogger("kafka.server.KafkaServer").warning("only in server.log")
    assert "DEBUG Completed request:{} (kafka.request.logger)" in \
        (tmp_path / "kafka-request.log").read_text()
    assert "only in server.log" in (tmp_path / "server.log").read_text()
    assert out.getvalue() == ""
