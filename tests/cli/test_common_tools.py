"""Helpers of cli/common.py that the perf, verifiable and mirror tools use."""

from __future__ import annotations

import click
import pytest
from click.testing import CliRunner

from kafkalite.cli.common import NargsCommand, expand_nargs, whitelist_regex
from kafkalite.errors import ConfigError


@pytest.mark.parametrize("args, expected", [
    (["--p", "a=1", "b=2", "--t", "-1"], ["--p", "a=1", "--p", "b=2", "--t", "-1"]),
    (["x", "--p", "a=1", "--", "y"], ["x", "--p", "a=1", "--", "y"]),
    (["--p=a=1", "b"], ["--p=a=1", "b"]),
    (["--p", "--t", "1"], ["--p", "--t", "1"]),
    (["--t", "1", "--p"], ["--t", "1", "--p"]),
    (["--p", "a", "-x"], ["--p", "a", "-x"]),
])
def test_expand_nargs(args, expected):
    assert expand_nargs(args, ["--p"]) == expected


def test_nargs_command_collects_every_value():
    @click.command(cls=NargsCommand, nargs_options=("--props",))
    @click.option("--props", multiple=True)
    @click.option("--n", type=int)
    def cmd(props, n):
        click.echo(f"{list(props)} {n}")

    result = CliRunner().invoke(cmd, ["--props", "a=1", "b=2", "--n", "-1"])
    assert result.exit_code == 0 and result.output == "['a=1', 'b=2'] -1\n"
    result = CliRunner().invoke(cmd, ["--props"])
    assert result.exit_code == 2 and "requires an argument" in result.output


def test_whitelist_regex_is_kafkas():
    assert whitelist_regex(" a.*, b ") == "a.*|b"
    assert whitelist_regex("'topic'") == "topic"
    assert whitelist_regex('"x|y"') == "x|y"
    with pytest.raises(ConfigError, match=r"Invalid expression syntax: \(oops"):
        whitelist_regex("(oops")
