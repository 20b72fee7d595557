"""``kafkalite``: one command for the cluster, the broker and every tool.

``kafkalite cluster`` is what ``make cluster`` runs, ``kafkalite server CONFIG`` is
``kafka-server-start.sh CONFIG``, ``kafkalite zookeeper start|stop|shell`` are ZooKeeper's
scripts, and ``kafkalite topics ...`` is ``kafka-topics.sh ...`` with the same flags (each
tool parses its own arguments, ``--help`` included). The Kafka-named console scripts
(``kafka-topics``, ``kafka-console-producer``, ...) that the package installs are the
functions this module makes from :data:`kafkalite.cli.tools.TOOLS`.
"""

from __future__ import annotations

import os
import sys

import click

from kafkalite.cli.tools import TOOLS, Tool, invoke

__all__ = ["main"]


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("kafkalite")
    except PackageNotFoundError:
        return "unknown"


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(version=_version(), prog_name="kafkalite")
def kafkalite() -> None:
    """A Kafka-compatible broker with the ZooKeeper architecture, and Kafka's tools.

    Every tool takes the flags of its Kafka script: `kafkalite topics --list
    --bootstrap-server localhost:9092` is `kafka-topics.sh --list --bootstrap-server
    localhost:9092`. `kafkalite TOOL --help` shows a tool's flags.
    """


def _pass_through(tool: Tool, name: str, prog: str) -> click.Command:
    @click.command(name, help=f"{tool.summary} ({tool.script}.sh)", add_help_option=False,
                   context_settings={"ignore_unknown_options": True,
                                     "allow_interspersed_args": False})
    @click.argument("args", nargs=-1, type=click.UNPROCESSED)
    def command(args: tuple[str, ...]) -> None:
        invoke(tool, args, prog_name=prog)
    return command


for _tool in TOOLS:
    if not _tool.command.startswith("zookeeper-"):
        kafkalite.add_command(_pass_through(_tool, _tool.command, f"kafkalite {_tool.command}"))


@kafkalite.group(context_settings={"help_option_names": ["-h", "--help"]})
def zookeeper() -> None:
    """ZooKeeper: start (zookeeper-server-start.sh), stop, shell (zookeeper-shell.sh)."""


for _tool, _name in zip([t for t in TOOLS if t.command.startswith("zookeeper-")],
                        ("start", "stop", "shell")):
    zookeeper.add_command(_pass_through(_tool, _name, f"kafkalite zookeeper {_name}"))


@kafkalite.command(add_help_option=False,
                   context_settings={"ignore_unknown_options": True,
                                     "allow_interspersed_args": False})
@click.argument("args", nargs=-1, type=click.UNPROCESSED)
def cluster(args: tuple[str, ...]) -> None:
    """ZooKeeper and brokers in the foreground (what `make cluster` runs)."""
    from kafkalite.cli.cluster import cluster as command

    command.main(args=list(args), prog_name="kafkalite cluster")


def main() -> None:
    kafkalite.main(prog_name="kafkalite")


def _console_script(tool: Tool):
    def run() -> None:
        invoke(tool, sys.argv[1:], prog_name=os.path.basename(sys.argv[0]) or tool.script)
    run.__name__ = tool.script.replace("-", "_")
    run.__doc__ = f"The ``{tool.script}`` console script."
    return run


# kafka_topics, kafka_console_producer, ...: the console scripts' entry points (setup.cfg).
for _tool in TOOLS:
    globals()[_tool.script.replace("-", "_")] = _console_script(_tool)


if __name__ == "__main__":
    main()
