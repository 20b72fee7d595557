"""A pytest plugin (entry point ``pytest11``): a real ZooKeeper-backed Kafka cluster in tests.

Install kafkalite and a project's tests get, without Docker or a JVM Kafka:

- ``kafka_cluster``: ZooKeeper plus N kafkalite broker processes, started once per session
  (per broker count) and stopped by PID at the end. N comes from the ``kafka_brokers`` ini
  option (default 1) or a test's ``@pytest.mark.kafka_brokers(3)``; extra broker settings from
  the ``kafka_broker_properties`` ini lines (``key=value``). ZooKeeper comes from
  testcontainers where a Docker daemon answers, else the local one (Debian ``zookeeper``,
  ``ZOOKEEPER_HOME``), else ``KAFKALITE_ZK_CONNECT``; with none of them the tests are skipped
  with a reason that says how to install one.
- ``kafka_bootstrap``: the ``bootstrap.servers`` string.
- ``kafka_admin``: a small synchronous admin (create/delete/list topics).
- ``kafka_topic``: a fresh topic per test (``@pytest.mark.kafka_topic(partitions=3,
  replication_factor=1, config={...})``), deleted afterwards.
- ``kafka_cluster.kill(i)`` / ``.stop(i)`` / ``.restart(i)`` to test an application through a
  broker failure.

The cluster's brokers are real processes speaking the Kafka protocol, so any client works.
"""

from __future__ import annotations

import contextlib
import shutil
import tempfile
import uuid
from collections.abc import Iterator, Mapping
from pathlib import Path

import pytest

__all__ = ["KafkaCluster", "KafkaAdmin"]

_DEFAULT_PROPERTIES = {
    "num.partitions": "1",
    "offsets.topic.replication.factor": "1",
    "transaction.state.log.replication.factor": "1",
    "transaction.state.log.min.isr": "1",
    "group.initial.rebalance.delay.ms": "0",
    "zookeeper.session.timeout.ms": "6000",
}


class KafkaCluster:
    """ZooKeeper (given) plus ``brokers`` broker processes in ``workdir``."""

    def __init__(self, zk_connect: str, brokers: int, workdir: Path,
                 properties: Mapping[str, str] | None = None):
        from kafkalite.cli.cluster import BrokerProcess

        self.zk_connect = zk_connect
        self.workdir = workdir
        props = dict(_DEFAULT_PROPERTIES)
        if brokers >= 3:
            props.update({"offsets.topic.replication.factor": "3",
                          "transaction.state.log.replication.factor": "3",
                          "transaction.state.log.min.isr": "2"})
        props.update(properties or {})
        self.brokers = [BrokerProcess(broker_id=i, zk_connect=zk_connect,
                                      workdir=workdir / f"broker-{i}", overrides=props)
                        for i in range(brokers)]

    @property
    def bootstrap_servers(self) -> str:
        return ",".join(b.bootstrap for b in self.brokers)

    def start(self, timeout: float = 90) -> "KafkaCluster":
        for b in self.brokers:
            b.start(wait=False)
        for b in self.brokers:
            b.wait_ready(timeout)
        return self

    def kill(self, broker_id: int) -> None:
        """SIGKILL a broker (its ZooKeeper session expires after the session timeout)."""
        self.brokers[broker_id].kill()

    def stop(self, broker_id: int) -> None:
        """Stop a broker cleanly (controlled shutdown moves its leaders away first)."""
        self.brokers[broker_id].stop()

    def restart(self, broker_id: int, timeout: float = 90) -> None:
        b = self.brokers[broker_id]
        if b.proc is not None and b.proc.poll() is None:
            b.stop()
        b.start(timeout=timeout)

    def close(self) -> None:
        for b in reversed(self.brokers):
            with contextlib.suppress(Exception):
                if b.proc is not None:
                    b.stop()


class KafkaAdmin:
    """Topic administration with kafkalite's own client, synchronously (no extra package)."""

    def __init__(self, bootstrap_servers: str):
        self.bootstrap_servers = bootstrap_servers

    def _run(self, op):
        import trio

        from kafkalite.client.admin import Admin
        from kafkalite.client.cluster import Cluster

        async def main():
            async with Cluster(self.bootstrap_servers, client_id="kafkalite-pytest") as cluster:
                return await op(Admin(cluster))
        return trio.run(main)

    def create_topic(self, name: str, partitions: int = 1, replication_factor: int = 1,
                     config: Mapping[str, str] | None = None) -> None:
        import trio

        from kafkalite.client.admin import NewTopic
        from kafkalite.errors import UnknownTopicOrPartition

        topic = NewTopic(name=name, num_partitions=partitions,
                         replication_factor=replication_factor, configs=dict(config or {}))

        async def op(admin):
            error = (await admin.create_topics([topic]))[name]
            if error is not None:
                raise error
            # every broker learns of the topic from the controller a moment later
            with trio.fail_after(30):
                while True:
                    try:
                        await admin.cluster.wait_for_topics([name], allow_auto_create=False)
                        return
                    except UnknownTopicOrPartition:
                        await trio.sleep(0.1)
        self._run(op)

    def delete_topic(self, name: str) -> None:
        async def op(admin):
            error = (await admin.delete_topics([name]))[name]
            if error is not None:
                raise error
        self._run(op)

    def list_topics(self) -> list[str]:
        return sorted(self._run(lambda admin: admin.list_topics()))


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addini("kafka_brokers", "brokers in the kafka_cluster fixture (default 1)",
                  default="1")
    parser.addini("kafka_broker_properties", "key=value lines added to every broker's "
                  "server.properties in kafka_cluster", type="linelist", default=[])


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "kafka_brokers(n): run this test on a kafka_cluster of "
                                       "n brokers (one cluster per n for the session)")
    config.addinivalue_line("markers", "kafka_topic(partitions=1, replication_factor=1, "
                                       "config=None): how kafka_topic creates the topic")


class _Clusters:
    """One ZooKeeper for the session, one cluster per broker count, made on first use."""

    def __init__(self, properties: dict[str, str]):
        self.properties = properties
        self.workdir = Path(tempfile.mkdtemp(prefix="kafkalite-pytest-"))
        self._zk_context = None
        self._zk_hosts: str | None = None
        self._skip: str | None = None
        self.clusters: dict[int, KafkaCluster] = {}

    def _zookeeper(self) -> str:
        if self._skip:
            pytest.skip(self._skip)
        if self._zk_hosts is None:
            from kafkalite.testing.zookeeper import open_zookeeper

            context = open_zookeeper()
            try:
                handle = context.__enter__()
            except RuntimeError as e:
                self._skip = ("kafka_cluster needs a real ZooKeeper and none could be started "
                              f"({e}). Install one: `apt-get install zookeeper "
                              "default-jre-headless` (Debian/Ubuntu), or set ZOOKEEPER_HOME "
                              "to an Apache ZooKeeper release, or run a Docker daemon, or set "
                              "KAFKALITE_ZK_CONNECT=host:port")
                pytest.skip(self._skip)
            self._zk_context = context
            self._zk_hosts = handle.hosts
        return self._zk_hosts

    def get(self, brokers: int) -> KafkaCluster:
        cluster = self.clusters.get(brokers)
        if cluster is None:
            hosts = self._zookeeper()
            chroot = f"/kafkalite-pytest-{uuid.uuid4().hex[:8]}"
            cluster = KafkaCluster(f"{hosts}{chroot}", brokers,
                                   self.workdir / f"cluster-{brokers}", self.properties)
            self.clusters[brokers] = cluster
            cluster.start()
        return cluster

    def close(self) -> None:
        for cluster in self.clusters.values():
            cluster.close()
        if self._zk_context is not None:
            self._zk_context.__exit__(None, None, None)
        shutil.rmtree(self.workdir, ignore_errors=True)


@pytest.fixture(scope="session")
def _kafkalite_clusters(pytestconfig: pytest.Config) -> Iterator[_Clusters]:
    lines = pytestconfig.getini("kafka_broker_properties")
    properties = dict(line.split("=", 1) for line in lines if "=" in line)
    clusters = _Clusters({k.strip(): v.strip() for k, v in properties.items()})
    yield clusters
    clusters.close()


@pytest.fixture
def kafka_cluster(request: pytest.FixtureRequest, _kafkalite_clusters: _Clusters
                  ) -> KafkaCluster:
    marker = request.node.get_closest_marker("kafka_brokers")
    brokers = int(marker.args[0]) if marker and marker.args else \
        int(request.config.getini("kafka_brokers"))
    return _kafkalite_clusters.get(brokers)


@pytest.fixture
def kafka_bootstrap(kafka_cluster: KafkaCluster) -> str:
    return kafka_cluster.bootstrap_servers


@pytest.fixture
def kafka_admin(kafka_bootstrap: str) -> KafkaAdmin:
    return KafkaAdmin(kafka_bootstrap)


@pytest.fixture
def kafka_topic(request: pytest.FixtureRequest, kafka_admin: KafkaAdmin) -> Iterator[str]:
    marker = request.node.get_closest_marker("kafka_topic")
    options = dict(marker.kwargs) if marker else {}
    name = f"test-{request.node.name[:60]}-{uuid.uuid4().hex[:6]}".replace("[", "-") \
        .replace("]", "").replace("/", "-")
    name = "".join(c if c.isalnum() or c in "._-" else "-" for c in name)
    kafka_admin.create_topic(name, options.get("partitions", 1),
                             options.get("replication_factor", 1), options.get("config"))
    yield name
    with contextlib.suppress(Exception):
        kafka_admin.delete_topic(name)
