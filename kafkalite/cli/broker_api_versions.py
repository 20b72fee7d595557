"""``kafka-broker-api-versions.sh``: the API versions every broker of the cluster supports, in
Kafka 2.8's format (``BrokerApiVersionsCommand`` printing ``NodeApiVersions.toString(true)``)::

    127.0.0.1:9092 (id: 0 rack: null) -> (
    	Produce(0): 3 to 9 [usable: 9],
    	Fetch(1): 4 to 12 [usable: 12],
    	...
    	DescribeCluster(60): UNSUPPORTED,
    	DescribeProducers(61): 0 [usable: 0]
    )

One block per broker of the cluster's metadata, by broker id. Each line: the API's name as
Kafka's ApiKeys prints it and its key, the broker's range (``min to max``, or one number), and
``[usable: V]`` — the highest version both this client and the broker speak — or ``[unusable:
node too old]`` / ``[unusable: node too new]`` when the ranges do not meet. APIs Kafka 2.8's
client knows for a ZooKeeper-mode broker that the broker does not advertise print
``UNSUPPORTED``; keys kafkalite has no name for print as ``UNKNOWN(key)``. A broker that cannot
be asked prints ``-> ERROR: <why>``.
"""

from __future__ import annotations

import sys
from collections.abc import Mapping

import click

from kafkalite.cli.common import choose_bootstrap, cluster_kwargs, fail, parse_int, \
    read_config_file, run_trio
from kafkalite.client.cluster import Cluster
from kafkalite.client.connection import CLIENT_VERSIONS
from kafkalite.client.errors import describe
from kafkalite.errors import ConfigError
from kafkalite.protocol.api_keys import ApiKey, request_class

__all__ = ["api_name", "client_range", "api_version_lines", "node_versions_text",
           "node_string", "ZK_BROKER_APIS", "main"]

# Names Kafka 2.8 prints where ours (Kafka 3.9's) differ.
_KAFKA_28_NAMES = {ApiKey.ALTER_PARTITION: "AlterIsr"}

#: The APIs Kafka 2.8's client knows for a ZooKeeper-mode broker (ApiKeys.zkBrokerApis):
#: the ones a broker lacking them is reported UNSUPPORTED for.
ZK_BROKER_APIS: tuple[int, ...] = tuple(range(0, 52)) + (56, 57, 60, 61)


def api_name(api_key: int) -> str | None:
    """Kafka's ApiKeys name (``LeaderAndIsr``, ``InitProducerId`` ...); None if unknown."""
    try:
        key = ApiKey(api_key)
    except ValueError:
        return None
    if key in _KAFKA_28_NAMES:
        return _KAFKA_28_NAMES[key]
    return "".join(part.capitalize() for part in key.name.split("_"))


def client_range(api_key: int) -> tuple[int, int] | None:
    """The versions kafkalite's client can speak; None when it has no schema for the API."""
    if api_key in CLIENT_VERSIONS:
        return CLIENT_VERSIONS[api_key]
    try:
        cls = request_class(api_key)
    except KeyError:
        return None
    return cls.MIN_VERSION, cls.MAX_VERSION


def _line(api_key: int, broker: tuple[int, int]) -> str:
    name = api_name(api_key)
    low, high = broker
    versions = str(low) if low == high else f"{low} to {high}"
    if name is None:
        return f"UNKNOWN({api_key}): {versions}"
    text = f"{name}({api_key}): {versions}"
    client = client_range(api_key)
    if client is None:
        return text
    if client[1] < low:
        return text + " [unusable: node too new]"
    if high < client[0]:
        return text + " [unusable: node too old]"
    return text + f" [usable: {min(client[1], high)}]"


def api_version_lines(advertised: Mapping[int, tuple[int, int]]) -> list[str]:
    """One text per API, by key: the advertised ones and UNSUPPORTED known ones."""
    lines = {key: _line(key, versions) for key, versions in advertised.items()}
    for key in ZK_BROKER_APIS:
        if key not in lines:
            lines[key] = f"{api_name(key)}({key}): UNSUPPORTED"
    return [lines[key] for key in sorted(lines)]


def node_versions_text(advertised: Mapping[int, tuple[int, int]]) -> str:
    """``NodeApiVersions.toString(true)``: ``(``, one tab-indented line per API separated by
    commas, ``)``."""
    return "(\n\t" + ",\n\t".join(api_version_lines(advertised)) + "\n)"


def node_string(host: str, port: int, node_id: int, rack: str | None) -> str:
    """Kafka's ``Node.toString``."""
    return f"{host}:{port} (id: {node_id} rack: {rack if rack is not None else 'null'})"


async def broker_versions(bootstrap: str, cluster_args: Mapping) -> list[str]:
    """One block per broker of the cluster, by broker id."""
    out = []
    async with Cluster(bootstrap, **cluster_args) as cluster:
        metadata = await cluster.refresh_metadata([])
        for node_id in sorted(metadata.brokers):
            broker = metadata.brokers[node_id]
            node = node_string(broker.host, broker.port, node_id, broker.rack)
            try:
                connection = await cluster.connection(node_id)
            except Exception as exc:  # noqa: BLE001 - reported per broker, as Kafka does
                out.append(f"{node} -> ERROR: {describe(exc)}")
                continue
            out.append(f"{node} -> {node_versions_text(connection.api_versions)}")
    return out


@click.command(context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--bootstrap-server", help="REQUIRED: The server to connect to.")
@click.option("--command-config", help="A property file containing configs to be passed to "
              "Admin Client.")
def main(bootstrap_server, command_config) -> None:
    """This tool helps to retrieve broker version information."""
    bootstrap = choose_bootstrap(bootstrap_server)
    try:
        props = read_config_file(command_config)
        args = cluster_kwargs(props, client_id="admin-1")
    except ConfigError as exc:
        fail(str(exc))
    try:
        args["request_timeout_ms"] = parse_int(props.get("request.timeout.ms", "5000"),
                                               key="request.timeout.ms")
    except ConfigError as exc:
        fail(str(exc))
    for block in run_trio(broker_versions, bootstrap, args):
        sys.stdout.write(block + "\n")


if __name__ == "__main__":
    from kafkalite.cli.tools import run_module

    run_module("kafkalite.cli.broker_api_versions")
