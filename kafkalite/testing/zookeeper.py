"""A real ZooKeeper for integration tests (``docs/zookeeper-runtime.md`` §4).

Provider selection:

* ``KAFKALITE_ZK_CONNECT=host:port[,...]`` — use that ensemble, launch nothing ("external").
* ``KAFKALITE_ZK=auto`` (default) — a testcontainers container if a Docker daemon answers
  (image ``KAFKALITE_ZK_IMAGE``, default ``zookeeper:3.8``), else a local JVM
  (:class:`~kafkalite.zk.launcher.LocalZooKeeper`).
* ``KAFKALITE_ZK=docker`` / ``local`` — only that provider; its errors propagate.

If nothing works this raises ``RuntimeError`` listing every reason. Integration tests are
never skipped for want of ZooKeeper: a green run that tested nothing would be a lie.

Local servers run with ``tickTime=500`` so tests can use 1-2 s session timeouts and see
expiries quickly. Each test should use its own chroot (:func:`unique_chroot`) on the shared
server so tests never see each other's ``/brokers``, ``/controller`` ...
"""

from __future__ import annotations

import contextlib
import os
import uuid
from collections.abc import Iterator

import attrs

from kafkalite.zk.launcher import LocalZooKeeper, wait_serving
from kafkalite.zk.session import SyncZk

__all__ = ["ZooKeeperHandle", "open_zookeeper", "unique_chroot", "make_chroot"]

DEFAULT_IMAGE = "zookeeper:3.8"
TEST_TICK_MS = 500


@attrs.frozen
class ZooKeeperHandle:
    """A running ZooKeeper: ``hosts`` is the connect string (no chroot); ``provider`` is
    "docker", "local" or "external"; ``pid`` is the local JVM's (None otherwise)."""

    hosts: str
    provider: str
    pid: int | None = None
    log_path: str | None = None


@contextlib.contextmanager
def _docker(tick_ms: int) -> Iterator[ZooKeeperHandle]:
    import docker  # noqa: PLC0415 — optional; only when a container is wanted
    from testcontainers.core.container import DockerContainer  # noqa: PLC0415

    docker.from_env(timeout=3).ping()   # cheap "is there a daemon" probe
    image = os.environ.get("KAFKALITE_ZK_IMAGE", DEFAULT_IMAGE)
    container = (DockerContainer(image).with_exposed_ports(2181)
                 .with_env("ZOO_ADMINSERVER_ENABLED", "false")
                 .with_env("ZOO_4LW_COMMANDS_WHITELIST", "srvr,ruok,mntr")
                 .with_env("ZOO_TICK_TIME", str(tick_ms)))
    try:
        container.start()
        host = container.get_container_host_ip() or "127.0.0.1"
        port = int(container.get_exposed_port(2181))
        wait_serving(host, port, 60.0)
        yield ZooKeeperHandle(f"{host}:{port}", "docker")
    finally:
        container.stop()


@contextlib.contextmanager
def _local(tick_ms: int) -> Iterator[ZooKeeperHandle]:
    zk = LocalZooKeeper(tick_ms=tick_ms).start()
    try:
        yield ZooKeeperHandle(zk.hosts, "local", zk.pid, str(zk.log_path))
    finally:
        zk.stop()


@contextlib.contextmanager
def open_zookeeper(*, tick_ms: int = TEST_TICK_MS) -> Iterator[ZooKeeperHandle]:
    """Provide a ZooKeeper for the duration of the ``with`` block (see module doc).

    Raises:
        RuntimeError: no provider worked; the message lists each provider's failure.
    """
    external = os.environ.get("KAFKALITE_ZK_CONNECT")
    if external:
        yield ZooKeeperHandle(external, "external")
        return
    mode = os.environ.get("KAFKALITE_ZK", "auto").strip().lower()
    if mode not in ("auto", "docker", "local"):
        raise RuntimeError(f"KAFKALITE_ZK must be auto, docker or local, not {mode!r}")
    reasons: list[str] = []
    with contextlib.ExitStack() as stack:
        handle = None
        for name, provider in (("docker", _docker), ("local", _local)):
            if mode not in ("auto", name):
                continue
            try:
                handle = stack.enter_context(provider(tick_ms))
                break
            except Exception as exc:   # collected and reported below; never skipped
                if mode == name:
                    raise
                reasons.append(f"{name}: {type(exc).__name__}: {exc}".splitlines()[0])
        if handle is None:
            raise RuntimeError("No ZooKeeper for integration tests: " + " / ".join(reasons))
        yield handle


def unique_chroot(prefix: str = "t") -> str:
    """A fresh chroot path like ``/t-1a2b3c4d``."""
    return f"/{prefix}-{uuid.uuid4().hex[:8]}"


def make_chroot(hosts: str, chroot: str, *, timeout_ms: int = 10000) -> str:
    """Create ``chroot`` on the server and return the connect string ``hosts + chroot``."""
    with SyncZk(hosts, timeout_ms=timeout_ms) as zk:
        zk.ensure_path(chroot)
    return f"{hosts}{chroot}"
