"""The one table of kafkalite's command-line tools, and how to run one under the name typed.

Each tool is reachable four ways, all from this table: ``scripts/kafka-topics.sh`` in a
checkout, the console script ``kafka-topics`` (named as Confluent's packages name them) once
the package is installed, ``kafkalite topics``, and ``kafka-run-class.sh
kafka.admin.TopicCommand``. Usage and error lines must name what the user typed, not
``python -m kafkalite.cli.topics``: :func:`invoke` passes that name to click as ``prog_name``.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Sequence

import attrs

__all__ = ["Tool", "TOOLS", "invoke", "run_module", "tool_by_module"]


@attrs.frozen
class Tool:
    command: str      # kafkalite <command>
    script: str       # Kafka's script name without .sh; also the installed console script
    module: str
    summary: str
    entry: str = "main"  # the module's click command


TOOLS: tuple[Tool, ...] = (
    Tool("server", "kafka-server-start", "kafkalite.cli.server", "Start a broker."),
    Tool("server-stop", "kafka-server-stop", "kafkalite.cli.server_stop",
         "Stop the brokers started on this machine."),
    Tool("topics", "kafka-topics", "kafkalite.cli.topics", "Create, list, describe, alter, "
         "delete topics."),
    Tool("console-producer", "kafka-console-producer", "kafkalite.cli.console_producer",
         "Send lines from stdin as messages."),
    Tool("console-consumer", "kafka-console-consumer", "kafkalite.cli.console_consumer",
         "Print messages."),
    Tool("consumer-groups", "kafka-consumer-groups", "kafkalite.cli.consumer_groups",
         "List, describe, reset and delete consumer groups."),
    Tool("configs", "kafka-configs", "kafkalite.cli.configs",
         "Describe and alter topic, broker and user configs."),
    Tool("acls", "kafka-acls", "kafkalite.cli.acls", "Add, remove and list ACLs."),
    Tool("log-dirs", "kafka-log-dirs", "kafkalite.cli.log_dirs", "Describe log directories."),
    Tool("delete-records", "kafka-delete-records", "kafkalite.cli.delete_records",
         "Move partitions' log start offsets forward."),
    Tool("leader-election", "kafka-leader-election", "kafkalite.cli.leader_election",
         "Elect preferred or unclean leaders."),
    Tool("preferred-replica-election", "kafka-preferred-replica-election",
         "kafkalite.cli.preferred_replica_election",
         "Move leadership back to preferred replicas."),
    Tool("reassign-partitions", "kafka-reassign-partitions", "kafkalite.cli.reassign_partitions",
         "Generate, execute and verify partition reassignments."),
    Tool("replica-verification", "kafka-replica-verification",
         "kafkalite.cli.replica_verification", "Check that replicas hold the same data."),
    Tool("dump-log", "kafka-dump-log", "kafkalite.cli.dump_log",
         "Print log segments and indexes."),
    Tool("transactions", "kafka-transactions", "kafkalite.cli.transactions",
         "List, describe and abort transactions.", "kafka_transactions"),
    Tool("producer-perf-test", "kafka-producer-perf-test", "kafkalite.cli.producer_perf_test",
         "Measure producer throughput and latency."),
    Tool("consumer-perf-test", "kafka-consumer-perf-test", "kafkalite.cli.consumer_perf_test",
         "Measure consumer throughput."),
    Tool("verifiable-producer", "kafka-verifiable-producer", "kafkalite.cli.verifiable_producer",
         "Produce increasing integers, printing each send's outcome as JSON."),
    Tool("verifiable-consumer", "kafka-verifiable-consumer", "kafkalite.cli.verifiable_consumer",
         "Consume in a group, printing rebalances, records and commits as JSON."),
    Tool("mirror-maker", "kafka-mirror-maker", "kafkalite.cli.mirror_maker",
         "Copy topics from one cluster to another (legacy MirrorMaker)."),
    Tool("broker-api-versions", "kafka-broker-api-versions", "kafkalite.cli.broker_api_versions",
         "Print the API versions every broker supports."),
    Tool("get-offsets", "kafka-get-offsets", "kafkalite.cli.get_offsets",
         "Print partitions' earliest, latest or by-time offsets."),
    Tool("zookeeper-server-start", "zookeeper-server-start", "kafkalite.cli.zookeeper_tools",
         "Start a ZooKeeper server.", "zookeeper_server_start"),
    Tool("zookeeper-server-stop", "zookeeper-server-stop", "kafkalite.cli.zookeeper_tools",
         "Stop it.", "zookeeper_server_stop"),
    Tool("zookeeper-shell", "zookeeper-shell", "kafkalite.cli.zookeeper_tools",
         "Inspect znodes.", "zookeeper_shell"),
)

_BY_MODULE = {}
for _tool in TOOLS:
    _BY_MODULE.setdefault(_tool.module, _tool)


def tool_by_module(module: str) -> Tool | None:
    return _BY_MODULE.get(module)


def invoke(tool: Tool, args: Sequence[str], prog_name: str) -> None:
    """Run ``tool`` with ``args``; its usage and errors name ``prog_name``. Exits."""
    command = getattr(importlib.import_module(tool.module), tool.entry)
    command.main(args=list(args), prog_name=prog_name)


def run_module(module: str) -> None:
    """``python -m kafkalite.cli.<tool>`` (what ``scripts/<tool>.sh`` runs): the usage line
    names the script."""
    tool = tool_by_module(module)
    if tool is None:
        raise SystemExit(f"{module} is not a kafkalite tool")
    invoke(tool, sys.argv[1:], prog_name=f"{tool.script}.sh")
