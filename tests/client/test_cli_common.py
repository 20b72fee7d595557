"""Shared CLI helpers: property parsing, bootstrap choice, the one-line error exit."""

from __future__ import annotations

import click
import pytest
import trio

from kafkalite.errors import ConfigError, UnknownTopicOrPartition
from kafkalite.cli.common import (
    choose_bootstrap,
    parse_bool,
    parse_properties,
    read_config_file,
    run_trio,
)
from kafkalite.client.errors import ConnectionFailed, KafkaTimeoutError


def test_parse_properties():
    assert parse_properties(["a=1", " b =x=y", "c=", "a=2"]) == {"a": "2", "b": "x=y", "c": ""}
    assert parse_properties(["key.separator= "]) == {"key.separator": " "}


@pytest.mark.parametrize("bad", ["novalue", "=x"])
def test_parse_properties_rejects(bad):
    with pytest.raises(click.BadParameter, match="expected key=value"):
        parse_properties([bad])


def test_choose_bootstrap_order():
    assert choose_bootstrap("a:1", "b:2") == "a:1"
    assert choose_bootstrap(None, "b:2") == "b:2"
    assert choose_bootstrap(None, None, {"bootstrap.servers": "c:3"}) == "c:3"
    with pytest.raises(click.UsageError, match="bootstrap-server"):
        choose_bootstrap(None, None, {})


def test_parse_bool():
    assert parse_bool("TRUE") and not parse_bool(" false ")
    with pytest.raises(ConfigError, match="print.key"):
        parse_bool("yes", key="print.key")


def test_read_config_file(tmp_path):
    path = tmp_path / "p.properties"
    path.write_text("# comment\nacks=all\ncompression.type = gzip\n")
    assert read_config_file(str(path)) == {"acks": "all", "compression.type": "gzip"}
    assert read_config_file(None) == {}
    with pytest.raises(ConfigError, match="cannot read"):
        read_config_file(str(tmp_path / "missing"))


@pytest.mark.parametrize(("exc", "message"), [
    (ConnectionFailed("could not connect to h:1: Connection refused"),
     "ERROR: could not connect to h:1: Connection refused"),
    (UnknownTopicOrPartition("Topic t does not exist"),
     "ERROR: UNKNOWN_TOPIC_OR_PARTITION: Topic t does not exist"),
    (KafkaTimeoutError("waited too long"), "ERROR: waited too long"),
    (ConfigError("bad value"), "ERROR: bad value"),
])
def test_run_trio_turns_expected_errors_into_one_line(exc, message, capsys):
    async def boom():
        raise exc

    with pytest.raises(SystemExit) as info:
        run_trio(boom)
    assert info.value.code == 1
    assert capsys.readouterr().err == message + "\n"


def test_run_trio_looks_inside_exception_groups(capsys):
    async def child():
        raise ConnectionFailed("could not connect to x:1: nope")

    async def main():
        async with trio.open_nursery() as nursery:
            nursery.start_soon(child)

    with pytest.raises(SystemExit):
        run_trio(main)
    assert capsys.readouterr().err == "ERROR: could not connect to x:1: nope\n"


def test_run_trio_keeps_tracebacks_for_bugs():
    async def bug():
        raise ZeroDivisionError

    with pytest.raises(ZeroDivisionError):
        run_trio(bug)


def test_run_trio_returns_the_result():
    async def value(x):
        return x * 2

    assert run_trio(value, 21) == 42
