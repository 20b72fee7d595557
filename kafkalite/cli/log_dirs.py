"""``kafka-log-dirs.sh --bootstrap-server B --describe``: log directory usage per broker.

Kafka's LogDirsCommand: DescribeLogDirs (all partitions) goes to every broker of
``--broker-list`` (default: every broker in the cluster); ``--topic-list`` filters the answer.
The output is Kafka's, byte for byte in shape::

    Querying brokers for log directories information
    Received log directory information from brokers 0,1
    {"version":1,"brokers":[{"broker":0,"logDirs":[{"logDir":"/data/a","error":null,
      "partitions":[{"partition":"t-0","size":123,"offsetLag":0,"isFuture":false}]}]}]}

(the JSON is one line). ``error`` is the Java exception class name of a failed directory.
``--command-config`` is the Admin client's properties file (``security.protocol``, ``sasl.*``,
``ssl.*`` to reach a secured listener).
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import click

__all__ = ["main", "format_log_dirs", "parse_broker_list", "parse_topic_list"]

_JAVA_ERRORS = {
    56: "org.apache.kafka.common.errors.KafkaStorageException",
    57: "org.apache.kafka.common.errors.LogDirNotFoundException",
}


def parse_broker_list(text: str | None) -> list[int] | None:
    """``"0,1,2"`` -> ``[0, 1, 2]``; None/empty -> None (all brokers).

    Raises:
        click.BadParameter: a non-integer id.
    """
    if not text:
        return None
    try:
        return [int(x) for x in text.split(",") if x.strip()]
    except ValueError:
        raise click.BadParameter(f"invalid broker list {text!r}: expected \"0,1,2\"",
                                 param_hint="--broker-list") from None


def parse_topic_list(text: str | None) -> set[str]:
    return {t for t in (text or "").split(",") if t}


def _error_name(code: int) -> str | None:
    if not code:
        return None
    return _JAVA_ERRORS.get(code, "org.apache.kafka.common.errors.UnknownServerException")


def format_log_dirs(results: Mapping[int, Sequence], topics: Iterable[str] = ()) -> str:
    """Kafka's JSON for ``{broker id: DescribeLogDirsResult list}``, filtered by ``topics``."""
    wanted = set(topics)
    brokers = []
    for broker_id in sorted(results):
        log_dirs = []
        for r in results[broker_id]:
            partitions = []
            for t in r.topics:
                if wanted and t.name not in wanted:
                    continue
                for p in t.partitions:
                    partitions.append({"partition": f"{t.name}-{p.partition_index}",
                                       "size": p.partition_size, "offsetLag": p.offset_lag,
                                       "isFuture": bool(p.is_future_key)})
            log_dirs.append({"logDir": r.log_dir, "error": _error_name(r.error_code),
                             "partitions": partitions})
        brokers.append({"broker": broker_id, "logDirs": log_dirs})
    return json.dumps({"version": 1, "brokers": brokers}, separators=(",", ":"))


async def _describe(bootstrap: str, brokers: list[int] | None, topics: set[str],
                    cluster_kw: Mapping[str, Any]) -> None:
    from kafkalite.client.cluster import Cluster
    from kafkalite.protocol.messages.describe_log_dirs import DescribeLogDirsRequest

    cluster = Cluster(bootstrap, client_id="log-dirs-tool", retry_timeout_ms=15000, **cluster_kw)
    try:
        if brokers is None:
            await cluster.refresh_metadata([])
            brokers = sorted(cluster.metadata.brokers)
        click.echo("Querying brokers for log directories information")
        request = DescribeLogDirsRequest(topics=None)
        results = {}
        for broker_id in brokers:
            response = await cluster.call_with_retries(
                lambda b=broker_id: cluster.request(b, request), what="describe log dirs")
            results[broker_id] = response.results
        click.echo(f"Received log directory information from brokers "
                   f"{','.join(str(b) for b in brokers)}")
        click.echo(format_log_dirs(results, topics))
    finally:
        await cluster.aclose()


@click.command(context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--bootstrap-server", help="REQUIRED: the server(s) to use for bootstrapping.")
@click.option("--command-config", type=click.Path(dir_okay=False),
              help="Property file containing configs to be passed to Admin Client: "
              "security.protocol, sasl.*, ssl.* for a secured listener.")
@click.option("--describe", is_flag=True,
              help="Describe the specified log directories on the specified brokers.")
@click.option("--topic-list", default="",
              help="The topics to query, \"topic1,topic2,topic3\" (default: all).")
@click.option("--broker-list", help="The brokers to query, \"0,1,2\" (default: all).")
def kafka_log_dirs(bootstrap_server, command_config, describe, topic_list, broker_list) -> None:
    """Query log directory usage on the specified brokers."""
    if not bootstrap_server:
        raise click.UsageError("Missing required argument \"[bootstrap-server]\"")
    if not describe:
        raise click.UsageError("Missing required argument \"[describe]\"")
    from kafkalite.cli.common import cluster_kwargs, fail, read_config_file, run_trio
    from kafkalite.errors import ConfigError

    try:
        cluster_kw = cluster_kwargs(read_config_file(command_config))
    except ConfigError as e:
        fail(str(e))
    run_trio(_describe, bootstrap_server, parse_broker_list(broker_list),
             parse_topic_list(topic_list), cluster_kw)
    sys.exit(0)


main = kafka_log_dirs

if __name__ == "__main__":
    from kafkalite.cli.tools import run_module

    run_module("kafkalite.cli.log_dirs")
