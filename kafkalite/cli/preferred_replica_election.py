"""``kafka-preferred-replica-election.sh``: move leadership back to the preferred replicas.

Kafka's deprecated PreferredReplicaLeaderElectionCommand (2.4+ form), two ways in:

* ``--zookeeper``: write ``/admin/preferred_replica_election`` (Kafka's JSON, version 1) with
  the partitions that exist, and leave: the controller watches the znode, runs the elections
  and deletes it. A znode still there means an election is running, and the tool refuses
  (Kafka's "currently in progress ... Aborting operation"). Output::

      Created preferred replica election path with t-0,t-1
      Successfully started preferred replica election for partitions Set(t-0, t-1)
      Skipping preferred replica leader election for partition t-9 since it doesn't exist.

* ``--bootstrap-server``: ElectLeaders (preferred) on the controller, answered when the
  elections are done, reported like kafka-leader-election but with this tool's wording;
  ``--admin.config`` is the Admin client's properties file (``security.protocol``, ``sasl.*``,
  ``ssl.*`` to reach a secured listener).

Without ``--path-to-json-file`` every partition is a candidate. Failures exit 1.
"""

from __future__ import annotations


import click
import trio

from kafkalite.cli.common import fail, read_config_file
from kafkalite.client.connection import ClientSecurity
from kafkalite.client.security import client_security
from kafkalite.cli.leader_election import (ELECTION_TYPES, format_results, read_election_json,
                                           run_election)
from kafkalite.errors import ConfigError
from kafkalite.model import TopicPartition
from kafkalite.zk.errors import NoAuthError

__all__ = ["main", "start_zk_election", "ElectionInProgress"]

_WHAT = "Preferred replica election data"


class ElectionInProgress(Exception):
    """``/admin/preferred_replica_election`` exists: the controller has not finished."""


async def start_zk_election(zk, partitions: list[TopicPartition] | None
                            ) -> tuple[list[TopicPartition], list[TopicPartition]]:
    """Write the preferred-election trigger for the partitions that exist.

    Args:
        zk: a connected ``KafkaZk``.
        partitions: the partitions asked for; None = every partition of every topic.

    Returns:
        ``(written, skipped)``: the partitions in the znode and those that do not exist.

    Raises:
        ElectionInProgress: the znode already exists.
    """
    from kafkalite.zk.errors import NodeExistsError
    from kafkalite.zk.znodes import PreferredReplicaElectionZNode

    topics = sorted({tp.topic for tp in partitions}) if partitions is not None \
        else await zk.get_all_topics()
    existing: list[TopicPartition] = []
    for topic in topics:
        assignment = await zk.get_topic_assignment(topic)
        if assignment is not None:
            existing.extend(TopicPartition(topic, p) for p in sorted(assignment.partitions))
    if partitions is None:
        written, skipped = existing, []
    else:
        known = set(existing)
        written = [tp for tp in partitions if tp in known]
        skipped = [tp for tp in partitions if tp not in known]
    path = PreferredReplicaElectionZNode.path()
    try:
        await zk.session.create(path, PreferredReplicaElectionZNode.encode(written),
                                makepath=True)
    except NodeExistsError:
        r = await zk.session.get_or_none(path)
        running = PreferredReplicaElectionZNode.decode(r[0]) if r is not None and r[0] else []
        raise ElectionInProgress(
            f"Preferred replica leader election currently in progress for "
            f"{','.join(map(str, running))}. Aborting operation") from None
    return written, skipped


async def _with_zk(connect: str, partitions: list[TopicPartition] | None):
    from kafkalite.zk.kafka_zk import KafkaZk
    from kafkalite.cli.common import open_tool_zk

    async with open_tool_zk(connect) as session:
        return await start_zk_election(KafkaZk(session), partitions)


def _by_zookeeper(connect: str, partitions: list[TopicPartition] | None) -> None:
    click.echo("Warning: --zookeeper is deprecated and will be removed in a future version of "
               "Kafka.")
    click.echo("Use --bootstrap-server instead to specify a broker to connect to.")
    try:
        written, skipped = trio.run(_with_zk, connect, partitions)
    except (ElectionInProgress, ConfigError, NoAuthError) as e:
        fail(str(e))
    click.echo(f"Created preferred replica election path with {','.join(map(str, written))}")
    click.echo(f"Successfully started preferred replica election for partitions "
               f"Set({', '.join(map(str, written))})")
    for tp in skipped:
        click.echo(f"Skipping preferred replica leader election for partition {tp} since it "
                   "doesn't exist.")


def _by_bootstrap(bootstrap: str, partitions: list[TopicPartition] | None,
                  security: ClientSecurity | None = None) -> None:
    results = run_election(bootstrap, ELECTION_TYPES["PREFERRED"], partitions,
                           client_id="kafka-preferred-replica-election", security=security)
    lines, failures = format_results(
        results, succeeded="Successfully completed preferred leader election for partitions",
        noop="Preferred replica already elected for partitions",
        failed="Error completing preferred leader election for partition:")
    for line in lines:
        click.echo(line)
    if failures:
        fail(f"{failures} preferred replica(s) could not be elected")


@click.command(context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--zookeeper", help="DEPRECATED. The connection string for the zookeeper "
              "connection in the form host:port. Replaced by --bootstrap-server, REQUIRED "
              "unless --bootstrap-server is given.")
@click.option("--bootstrap-server", help="A hostname and port for the broker to connect to, "
              "in the form host:port. Multiple comma-separated URLs can be given. REQUIRED "
              "unless --zookeeper is given.")
@click.option("--path-to-json-file", type=click.Path(dir_okay=False),
              help='The JSON file with the list of partitions for which preferred replica '
                   'leader election should be done: {"partitions": [{"topic": "foo", '
                   '"partition": 1}]}. Defaults to all existing partitions.')
@click.option("--admin.config", "admin_config", type=click.Path(dir_okay=False),
              help="Admin client config properties file to pass to the admin client when "
                   "--bootstrap-server is given: security.protocol, sasl.*, ssl.* for a "
                   "secured listener.")
def main(zookeeper, bootstrap_server, path_to_json_file, admin_config) -> None:
    """Transfer leadership of each partition back to its preferred replica (deprecated:
    use kafka-leader-election.sh)."""
    click.echo("This tool is deprecated. Please use kafka-leader-election tool. Tracking "
               "issue: KAFKA-8405")
    if bool(zookeeper) == bool(bootstrap_server):
        raise click.UsageError("Exactly one of '[bootstrap-server]' or '[zookeeper]' must be "
                               "provided")
    if admin_config and not bootstrap_server:
        raise click.UsageError("Option admin.config is only allowed with bootstrap-server")
    try:
        security = client_security(read_config_file(admin_config))
        partitions = read_election_json(path_to_json_file, what=_WHAT) \
            if path_to_json_file else None
    except ConfigError as e:
        fail(str(e))
    if zookeeper:
        _by_zookeeper(zookeeper, partitions)
    else:
        _by_bootstrap(bootstrap_server, partitions, security)


if __name__ == "__main__":
    from kafkalite.cli.tools import run_module

    run_module("kafkalite.cli.preferred_replica_election")
