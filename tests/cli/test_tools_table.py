"""One table of tools (cli/tools.py) behind the scripts, the console scripts and `kafkalite`."""

from __future__ import annotations

import configparser
from pathlib import Path

import pytest
from click.testing import CliRunner

from kafkalite.cli import main as main_module
from kafkalite.cli.main import kafkalite
from kafkalite.cli.tools import TOOLS

ROOT = Path(__file__).resolve().parents[2]


def test_every_script_is_a_tool_and_every_tool_has_a_script():
    scripts = {p.stem for p in (ROOT / "scripts").glob("*.sh")} - {"kafka-run-class"}
    assert scripts == {t.script for t in TOOLS}
    for t in TOOLS:
        text = (ROOT / "scripts" / f"{t.script}.sh").read_text()
        assert t.module in text, t


def test_setup_cfg_installs_a_console_script_per_tool():
    cfg = configparser.ConfigParser()
    cfg.read(ROOT / "setup.cfg")
    lines = [line.strip() for line in
             cfg["options.entry_points"]["console_scripts"].strip().splitlines()]
    entries = dict(line.split(" = ") for line in lines)
    assert entries.pop("kafkalite") == "kafkalite.cli.main:main"
    assert entries == {t.script: f"kafkalite.cli.main:{t.script.replace('-', '_')}"
                       for t in TOOLS}
    for target in entries.values():
        assert callable(getattr(main_module, target.split(":")[1]))


@pytest.mark.parametrize("command", ["topics", "console-consumer", "configs", "acls",
                                     "consumer-groups", "server", "transactions"])
def test_usage_names_what_was_typed(command):
    result = CliRunner().invoke(kafkalite, [command, "--help"], prog_name="kafkalite")
    assert result.exit_code == 0, result.output
    assert result.output.startswith(f"Usage: kafkalite {command} ")


def test_zookeeper_subcommands():
    result = CliRunner().invoke(kafkalite, ["zookeeper", "shell", "--help"],
                                prog_name="kafkalite")
    assert result.exit_code == 0
    assert result.output.startswith("Usage: kafkalite zookeeper shell ")


def test_bad_flag_is_a_usage_error_naming_the_tool():
    result = CliRunner().invoke(kafkalite, ["topics", "--no-such-flag"], prog_name="kafkalite")
    assert result.exit_code == 2
    assert "No such option" in result.output and "kafkalite topics" in result.output


def test_the_wheel_ships_every_config_file():
    cfg = configparser.ConfigParser()
    cfg.read(ROOT / "setup.cfg")
    shipped = cfg["options.data_files"]["share/kafkalite/config"].split()
    assert sorted(shipped) == sorted(f"config/{p.name}" for p in (ROOT / "config").iterdir())


def test_pytest_plugin_is_registered():
    cfg = configparser.ConfigParser()
    cfg.read(ROOT / "setup.cfg")
    assert cfg["options.entry_points"]["pytest11"].strip() == \
        "kafkalite = kafkalite.testing.pytest_plugin"
