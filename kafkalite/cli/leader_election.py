"""``kafka-leader-election.sh``: preferred or unclean leader election (LeaderElectionCommand).

The partitions come from exactly one of ``--topic T --partition P``, ``--all-topic-partitions``
or ``--path-to-json-file F`` with Kafka's JSON::

    {"partitions": [{"topic": "foo", "partition": 1}, {"topic": "bar", "partition": 0}]}

The election runs on the controller through ElectLeaders (KIP-460). Output is Kafka's::

    Successfully completed leader election (PREFERRED) for partitions foo-1, bar-0
    Valid replica already elected for partitions foo-0
    Error completing leader election (PREFERRED) for partition: bar-1: <NAME>: <message>

A failed partition makes the command exit 1 after its lines (``N replica(s) could not be
elected`` on stderr), as Kafka's does. Option mistakes are usage errors with Kafka's messages
(exit 2); an unreachable cluster is one ``ERROR:`` line and exit 1, like every tool here.
``--admin.config`` is the Admin client's properties file (``security.protocol``, ``sasl.*``,
``ssl.*`` to reach a secured listener).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping

import click

from kafkalite.cli.common import fail, read_config_file, run_trio
from kafkalite.client.connection import ClientSecurity
from kafkalite.client.security import client_security
from kafkalite.errors import (ClusterAuthorizationFailed, ConfigError, ElectionNotNeeded,
                              KafkaError)
from kafkalite.model import TopicPartition

__all__ = ["main", "parse_election_json", "format_results", "elect_leaders", "ELECTION_TYPES"]

#: --election-type value -> ElectLeaders election type (Kafka's ElectionType).
ELECTION_TYPES = {"PREFERRED": 0, "UNCLEAN": 1}

_TIMEOUT_MS = 30_000  # Kafka's tool: default.api.timeout.ms 30 s


def parse_election_json(text: str, *, what: str = "Replica election data"
                        ) -> list[TopicPartition]:
    """The partitions of Kafka's election JSON, in file order.

    Args:
        what: how Kafka's tool names the data in its messages ("Replica election data" for
            kafka-leader-election, "Preferred replica election data" for the older tool).

    Raises:
        ConfigError: not JSON, no "partitions" array, bad entries, duplicate partitions.
    """
    try:
        data = json.loads(text)
    except ValueError:
        raise ConfigError(f"{what} is empty") from None
    if not isinstance(data, dict) or "partitions" not in data:
        raise ConfigError(f"{what} is missing \"partitions\" field")
    entries = data["partitions"]
    if not isinstance(entries, list):
        raise ConfigError("\"partitions\" must be a JSON array")
    out: list[TopicPartition] = []
    for entry in entries:
        topic = entry.get("topic") if isinstance(entry, dict) else None
        partition = entry.get("partition") if isinstance(entry, dict) else None
        if not isinstance(topic, str) or type(partition) is not int:
            raise ConfigError(f"Each partition needs a string \"topic\" and an integer "
                              f"\"partition\": {json.dumps(entry)}")
        out.append(TopicPartition(topic, partition))
    seen: set[TopicPartition] = set()
    duplicates: list[TopicPartition] = []
    for tp in out:
        if tp in seen and tp not in duplicates:
            duplicates.append(tp)
        seen.add(tp)
    if duplicates:
        raise ConfigError(f"{what} contains duplicate partitions: "
                          + ",".join(map(str, duplicates)))
    return out


def read_election_json(path: str, *, what: str = "Replica election data"
                       ) -> list[TopicPartition]:
    """:func:`parse_election_json` of a file.

    Raises:
        ConfigError: unreadable file or bad content.
    """
    try:
        with open(path, encoding="utf-8") as f:
            text = f.read()
    except OSError as e:
        raise ConfigError(f"Cannot read {path}: {e.strerror}") from None
    return parse_election_json(text, what=what)


def describe_error(error: BaseException) -> str:
    if isinstance(error, KafkaError):
        return f"{type(error).kafka_name()}: {error}"
    return str(error) or type(error).__name__


def format_results(results: Mapping[TopicPartition, KafkaError | None], *,
                   succeeded: str, noop: str, failed: str) -> tuple[list[str], int]:
    """Kafka's three report lines (elected, nothing to do, one line per failure).

    Args:
        results: partition -> None (elected) or its error.
        succeeded, noop, failed: the line prefixes; ``failed`` is followed by
            ``<partition>: <error>``.

    Returns:
        The lines and the number of failed partitions.
    """
    ok = [tp for tp, e in results.items() if e is None]
    not_needed = [tp for tp, e in results.items() if isinstance(e, ElectionNotNeeded)]
    errors = [(tp, e) for tp, e in results.items()
              if e is not None and not isinstance(e, ElectionNotNeeded)]
    lines = []
    if ok:
        lines.append(f"{succeeded} {', '.join(map(str, ok))}")
    if not_needed:
        lines.append(f"{noop} {', '.join(map(str, not_needed))}")
    lines.extend(f"{failed} {tp}: {describe_error(e)}" for tp, e in errors)
    return lines, len(errors)


async def elect_leaders(bootstrap: str, election_type: int,
                        partitions: Iterable[TopicPartition] | None, *,
                        client_id: str = "kafka-leader-election",
                        timeout_ms: int = _TIMEOUT_MS, security: ClientSecurity | None = None
                        ) -> dict[TopicPartition, KafkaError | None]:
    """ElectLeaders on the controller reached through ``bootstrap`` (over TLS/SASL when
    ``security`` says so)."""
    from kafkalite.client.admin import Admin
    from kafkalite.client.cluster import Cluster

    # The controller may wait up to timeout_ms for the new leaders: give the request longer.
    async with Cluster(bootstrap, client_id=client_id, request_timeout_ms=timeout_ms + 15_000,
                       retry_timeout_ms=timeout_ms, security=security) as cluster:
        return await Admin(cluster).elect_leaders(election_type, partitions,
                                                  timeout_ms=timeout_ms)


def run_election(bootstrap: str, election_type: int,
                 partitions: list[TopicPartition] | None, *, client_id: str,
                 security: ClientSecurity | None = None
                 ) -> dict[TopicPartition, KafkaError | None]:
    """:func:`elect_leaders` as a command: Kafka's lines for a timeout or a refusal."""
    from kafkalite.client.errors import KafkaTimeoutError

    async def elect():
        try:
            return await elect_leaders(bootstrap, election_type, partitions,
                                       client_id=client_id, security=security)
        except KafkaTimeoutError:
            click.echo("Timeout waiting for election results")
            raise
        except ClusterAuthorizationFailed:
            click.echo("Not authorized to perform leader election")
            raise

    return run_trio(elect)


def _check_options(bootstrap_server, election_type, topic, partition, all_topic_partitions,
                   path_to_json_file) -> None:
    missing = [name for name, value in (("bootstrap-server", bootstrap_server),
                                        ("election-type", election_type)) if not value]
    if missing:
        raise click.UsageError(f"Missing required option(s): {', '.join(missing)}")
    chosen = sum(1 for v in (topic, all_topic_partitions, path_to_json_file) if v)
    if chosen != 1:
        raise click.UsageError("One and only one of the following options is required: "
                               "topic, all-topic-partitions, path-to-json-file")
    if topic and partition is None:
        raise click.UsageError("Missing required option(s): partition")
    if partition is not None and not topic:
        raise click.UsageError("Option partition is only allowed if topic is used")


@click.command(context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--bootstrap-server", help="A hostname and port for the broker to connect to, "
              "in the form host:port. Multiple comma separated URLs can be given. REQUIRED.")
@click.option("--admin.config", "admin_config", type=click.Path(dir_okay=False),
              help="Configuration properties files to pass to the admin client: "
                   "security.protocol, sasl.*, ssl.* for a secured listener.")
@click.option("--path-to-json-file", type=click.Path(dir_okay=False),
              help='The JSON file with the list of partitions for which leader elections '
                   'should be performed: {"partitions": [{"topic": "foo", "partition": 1}]}. '
                   'Not allowed if --all-topic-partitions or --topic flags are specified.')
@click.option("--topic", help="Name of topic for which to perform an election. Not allowed "
              "if --path-to-json-file or --all-topic-partitions is specified.")
@click.option("--partition", type=int, help="Partition id for which to perform an election. "
              "REQUIRED if --topic is specified.")
@click.option("--all-topic-partitions", is_flag=True, help="Perform election on all of the "
              "eligible topic partitions based on the type of election.")
@click.option("--election-type", type=click.Choice(list(ELECTION_TYPES), case_sensitive=False),
              help='Type of election to attempt: "preferred" (only where the current leader '
                   'is not the preferred replica) or "unclean" (only where there is no '
                   'leader). REQUIRED.')
def main(bootstrap_server, admin_config, path_to_json_file, topic, partition,
         all_topic_partitions, election_type) -> None:
    """Elect a new leader for a set of topic partitions (preferred or unclean election)."""
    _check_options(bootstrap_server, election_type, topic, partition, all_topic_partitions,
                   path_to_json_file)
    kind = election_type.upper()
    try:
        security = client_security(read_config_file(admin_config))
        partitions: list[TopicPartition] | None = None
        if path_to_json_file:
            partitions = read_election_json(path_to_json_file)
        elif topic:
            partitions = [TopicPartition(topic, partition)]
    except ConfigError as e:
        fail(str(e))
    results = run_election(bootstrap_server, ELECTION_TYPES[kind], partitions,
                           client_id="kafka-leader-election", security=security)
    lines, failures = format_results(
        results, succeeded=f"Successfully completed leader election ({kind}) for partitions",
        noop="Valid replica already elected for partitions",
        failed=f"Error completing leader election ({kind}) for partition:")
    for line in lines:
        click.echo(line)
    if failures:
        fail(f"{failures} replica(s) could not be elected")


if __name__ == "__main__":
    from kafkalite.cli.tools import run_module

    run_module("kafkalite.cli.leader_election")
