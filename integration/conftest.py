"""Integration fixtures: one real ZooKeeper per session, real broker processes per test.

ZooKeeper comes from :mod:`kafkalite.testing.zookeeper` (testcontainers where a Docker daemon
answers, else the local ZooKeeper jar, or ``KAFKALITE_ZK_CONNECT``); never skipped. Each test
gets its own chroot, so brokers of different tests never see each other's znodes. Brokers are
started with ``scripts/kafka-server-start.sh`` like a user would, and stopped by PID.
"""

from __future__ import annotations

import contextlib
import shutil
import subprocess
import uuid
from pathlib import Path

import pytest

from kafkalite.cli.cluster import REPO_ROOT, BrokerProcess

NODE_DIR = REPO_ROOT / ".kafkajs-test"  # npm install target, ignored by git

# An application's test suite that test_packaging.py runs with the installed package's pytest
# plugin; not part of this suite.
collect_ignore = ["sample_project"]


@pytest.fixture(scope="session")
def zookeeper():
    from kafkalite.testing.zookeeper import open_zookeeper

    with open_zookeeper() as zk:
        yield zk


@pytest.fixture
def zk_chroot() -> str:
    return f"/t-{uuid.uuid4().hex[:8]}"


@pytest.fixture
def zk_connect(zookeeper, zk_chroot) -> str:
    return f"{zookeeper.hosts}{zk_chroot}"


@pytest.fixture
def kazoo_client(zookeeper, zk_chroot):
    """A kazoo client inside this test's chroot, to read znodes as an outside observer."""
    from kazoo.client import KazooClient

    root = KazooClient(hosts=zookeeper.hosts)
    root.start(timeout=15)
    root.ensure_path(zk_chroot)
    root.stop()
    root.close()
    client = KazooClient(hosts=f"{zookeeper.hosts}{zk_chroot}")
    client.start(timeout=15)
    yield client
    client.stop()
    client.close()


@pytest.fixture
def broker_factory(zk_connect, tmp_path):
    started: list[BrokerProcess] = []

    def start(broker_id: int = 0, *, wait: bool = True, props: dict | None = None,
              workdir=None, env: dict | None = None, port: int | None = None
              ) -> BrokerProcess:
        merged = {"zookeeper.session.timeout.ms": 6000, "num.partitions": 1,
                  "group.initial.rebalance.delay.ms": 0, "offsets.topic.replication.factor": 1}
        merged.update(props or {})
        b = BrokerProcess(broker_id=broker_id, zk_connect=zk_connect,
                          workdir=workdir or tmp_path / f"broker-{broker_id}-{len(started)}",
                          overrides=merged, env=env, port=port)
        started.append(b)
        b.start(wait=wait)
        return b

    yield start
    for b in reversed(started):
        with contextlib.suppress(Exception):
            b.stop()


@pytest.fixture
def broker(broker_factory) -> BrokerProcess:
    return broker_factory(0)


@pytest.fixture
def cluster3(broker_factory):
    """Start brokers 0, 1 and 2 (``brokers=`` for another count) side by side, then wait until
    each one is ready: it lists itself in Metadata, which needs the controller's UpdateMetadata,
    so a ready cluster has a working controller-to-broker channel."""

    def start(props: dict | None = None, *, brokers: int = 3, timeout: float = 90,
              env: dict | None = None) -> list[BrokerProcess]:
        started = [broker_factory(i, wait=False, props=props, env=env) for i in range(brokers)]
        for i, b in enumerate(started):
            try:
                b.wait_ready(timeout)
            except RuntimeError as e:
                if "Address already in use" not in str(e):
                    raise
                # the free port picked for it was taken before it bound: once more, elsewhere
                started[i] = broker_factory(i, wait=False, props=props, env=env)
                started[i].wait_ready(timeout)
        return started

    return start


@pytest.fixture(scope="session")
def kafkajs_dir() -> Path:
    """kafkajs installed with npm into a git-ignored directory of the repository."""
    if (NODE_DIR / "node_modules" / "kafkajs" / "package.json").exists():
        return NODE_DIR
    npm = shutil.which("npm")
    if npm is None or shutil.which("node") is None:
        pytest.fail("node and npm are needed for the kafkajs test (apt-get install nodejs npm)")
    NODE_DIR.mkdir(exist_ok=True)
    r = subprocess.run([npm, "install", "--prefix", str(NODE_DIR), "--no-audit", "--no-fund",
                        "--loglevel=error", "kafkajs@2.2.4"], capture_output=True, text=True,
                       timeout=300)
    if r.returncode != 0:
        pytest.fail(f"npm install kafkajs failed (is the npm registry reachable?):\n{r.stderr}")
    return NODE_DIR
