"""``kafka-delete-records.sh``: delete records below given offsets (Kafka's DeleteRecordsCommand).

The offsets come in Kafka's JSON file (``--offset-json-file``), version 1::

    {"partitions": [{"topic": "foo", "partition": 1, "offset": 1}], "version": 1}

``offset`` -1 means "up to the high watermark". Each partition's DeleteRecords request goes to
its leader; retriable errors (leader moved, metadata stale) are retried until
``--timeout-ms``-ish budget runs out. Output is Kafka's::

    Executing records delete operation
    Records delete operation completed:
    partition: foo-1	low_watermark: 1

A partition that failed prints ``partition: foo-1	error: <NAME>: <message>`` instead, and the
command then exits 1 (Kafka's tool exits 0; a non-zero status lets scripts notice). A bad file
or an unreachable cluster is one ``ERROR:`` line and exit 1, like every tool here.
``--command-config`` is the Admin client's properties file (``security.protocol``, ``sasl.*``,
``ssl.*`` to reach a secured listener).
"""

from __future__ import annotations

import json
from collections.abc import Sequence

import click
import trio

from kafkalite import errors
from kafkalite.cli.common import fail, read_config_file, run_trio
from kafkalite.client.connection import ClientSecurity
from kafkalite.client.security import client_security
from kafkalite.errors import ConfigError, KafkaError
from kafkalite.model import TopicPartition

__all__ = ["main", "parse_offset_json"]

_SUPPORTED_VERSIONS = (1,)


def parse_offset_json(text: str) -> list[tuple[TopicPartition, int]]:
    """The partitions and offsets of Kafka's offset JSON, in file order.

    Raises:
        ConfigError: not JSON, wrong shape, unsupported version or duplicate partitions (the
            messages are Kafka's where Kafka has one).
    """
    try:
        data = json.loads(text)
    except ValueError as e:
        if not text.strip():
            raise ConfigError("Delete records data is empty") from None
        raise ConfigError(f"The offset json file is not valid JSON: {e}") from None
    if not isinstance(data, dict):
        raise ConfigError("The offset json file must hold a JSON object")
    version = data.get("version", 1)
    if version not in _SUPPORTED_VERSIONS:
        raise ConfigError(f"Not supported version field value {version}")
    entries = data.get("partitions", [])
    if not isinstance(entries, list):
        raise ConfigError("\"partitions\" must be a JSON array")
    out: list[tuple[TopicPartition, int]] = []
    for entry in entries:
        try:
            topic, partition, offset = entry["topic"], entry["partition"], entry["offset"]
        except (TypeError, KeyError) as e:
            raise ConfigError(f"Each partition needs \"topic\", \"partition\" and \"offset\": "
                              f"{json.dumps(entry)} (missing {e})") from None
        if not isinstance(topic, str) or type(partition) is not int or type(offset) is not int:
            raise ConfigError(f"Invalid partition entry {json.dumps(entry)}: topic must be a "
                              "string, partition and offset integers")
        out.append((TopicPartition(topic, partition), offset))
    seen: set[TopicPartition] = set()
    duplicates = []
    for tp, _ in out:
        if tp in seen and tp not in duplicates:
            duplicates.append(tp)
        seen.add(tp)
    if duplicates:
        raise ConfigError("Offset json file contains duplicate topic partitions: "
                          + ",".join(str(tp) for tp in duplicates))
    return out


async def delete_records(bootstrap: str, offsets: Sequence[tuple[TopicPartition, int]], *,
                         timeout_ms: int = 30000, security: ClientSecurity | None = None
                         ) -> dict[TopicPartition, int | KafkaError]:
    """Send DeleteRecords to each partition's leader; returns its low watermark or its error.

    Retriable errors (no leader, leader moved, unreachable leader) are retried with fresh
    metadata until ``timeout_ms`` has passed; then the last error is the result. ``security``
    (from ``--command-config``) is how to reach a secured listener.
    """
    from kafkalite.client.cluster import Cluster, is_retriable
    from kafkalite.client.errors import ClientError
    from kafkalite.protocol.messages.delete_records import (
        DeleteRecordsPartition, DeleteRecordsRequest, DeleteRecordsTopic)

    results: dict[TopicPartition, int | KafkaError] = {}
    final: set[TopicPartition] = set()
    pending = dict(offsets)
    deadline = trio.current_time() + timeout_ms / 1000
    async with Cluster(bootstrap, client_id="kafka-delete-records",
                       retry_timeout_ms=min(timeout_ms, 15000), security=security) as cluster:
        topics = sorted({tp.topic for tp in pending})
        attempt = 0
        while pending:
            attempt += 1
            metadata = await cluster.refresh_metadata(topics, allow_auto_create=False)
            by_leader: dict[int, dict[TopicPartition, int]] = {}
            for tp, offset in pending.items():
                topic = metadata.topics.get(tp.topic)
                part = topic.partitions.get(tp.partition) if topic is not None else None
                if topic is None or part is None:
                    err = topic.error if topic is not None and topic.error else \
                        errors.UnknownTopicOrPartition
                    results[tp] = err(f"{tp}: {err.default_message()}")
                    if err is errors.UnknownTopicOrPartition:
                        final.add(tp)  # the metadata says so: no retry (Kafka's admin client)
                elif part.leader < 0:
                    results[tp] = errors.LeaderNotAvailable(f"partition {tp} has no leader")
                else:
                    by_leader.setdefault(part.leader, {})[tp] = offset
            for leader, parts in by_leader.items():
                grouped: dict[str, list[DeleteRecordsPartition]] = {}
                for tp, offset in parts.items():
                    grouped.setdefault(tp.topic, []).append(
                        DeleteRecordsPartition(partition_index=tp.partition, offset=offset))
                request = DeleteRecordsRequest(
                    topics=tuple(DeleteRecordsTopic(name=t, partitions=tuple(ps))
                                 for t, ps in grouped.items()), timeout_ms=timeout_ms)
                try:
                    response = await cluster.request(leader, request)
                except (KafkaError, ClientError) as e:
                    if not is_retriable(e):
                        raise
                    for tp in parts:
                        results[tp] = e
                    continue
                for topic_result in response.topics:
                    for r in topic_result.partitions:
                        tp = TopicPartition(topic_result.name, r.partition_index)
                        err = errors.for_code(r.error_code)
                        results[tp] = r.low_watermark if err is None else err(
                            err.default_message())
            pending = {tp: o for tp, o in pending.items()
                       if tp not in final and isinstance(results.get(tp), BaseException)
                       and is_retriable(results[tp])}
            if pending:
                delay = min(0.1 * 2 ** attempt, 1.0)
                if trio.current_time() + delay > deadline:
                    break
                await trio.sleep(delay)
    return results


def _describe(error: BaseException) -> str:
    if isinstance(error, KafkaError):
        return f"{type(error).kafka_name()}: {error}"
    return str(error) or type(error).__name__


@click.command(context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--bootstrap-server", required=True, help="REQUIRED: The server to connect to.")
@click.option("--offset-json-file", required=True, type=click.Path(dir_okay=False),
              help='REQUIRED: The JSON file with offset per partition. The format to use is: '
                   '{"partitions": [{"topic": "foo", "partition": 1, "offset": 1}], '
                   '"version": 1}')
@click.option("--command-config", type=click.Path(dir_okay=False),
              help="A property file containing configs to be passed to Admin Client: "
                   "security.protocol, sasl.*, ssl.* for a secured listener.")
@click.option("--timeout-ms", type=int, default=30000, show_default=True,
              help="How long to retry partitions whose leader is unavailable.")
def main(bootstrap_server: str, offset_json_file: str, command_config: str | None,
         timeout_ms: int) -> None:
    """Delete records of the given partitions below the given offsets."""
    try:
        security = client_security(read_config_file(command_config))
    except ConfigError as e:
        fail(str(e))
    try:
        with open(offset_json_file, encoding="utf-8") as f:
            text = f.read()
    except OSError as e:
        fail(f"Cannot read {offset_json_file}: {e.strerror}")
    try:
        offsets = parse_offset_json(text)
    except ConfigError as e:
        fail(str(e))
    click.echo("Executing records delete operation")
    results = run_trio(lambda: delete_records(bootstrap_server, offsets, timeout_ms=timeout_ms,
                                              security=security))
    click.echo("Records delete operation completed:")
    failed = False
    for tp, _ in offsets:
        result = results[tp]
        if isinstance(result, BaseException):
            failed = True
            click.echo(f"partition: {tp}\terror: {_describe(result)}")
        else:
            click.echo(f"partition: {tp}\tlow_watermark: {result}")
    if failed:
        raise SystemExit(1)


if __name__ == "__main__":
    from kafkalite.cli.tools import run_module

    run_module("kafkalite.cli.delete_records")
