"""The cluster under test: one real ZooKeeper and three brokers wired through fault proxies.

Every link a nemesis may cut goes through a :class:`~kafkalite.testing.proxy.ProxyNet` link:

* ``zk-<b>``: broker ``b`` to ZooKeeper (its ``zookeeper.connect`` names the proxy port);
* ``peer-<a>-<b>``: broker ``a`` to broker ``b`` (replica fetchers, controller requests,
  transaction markers). Each broker has one listener per peer, ``FROM0``, ``FROM1``, ... ;
  broker ``a`` sets ``inter.broker.listener.name=FROM<a>``, and every broker advertises its
  ``FROM<a>`` listener at the proxy port of ``peer-<a>-<b>``. So the one inter-broker listener
  name a broker uses picks its own links, with Kafka's stock configuration keys;
* ``client-<b>``: clients to broker ``b`` (the ``CLIENT`` listener, advertised at the proxy).

Brokers are :class:`~kafkalite.cli.cluster.BrokerProcess` (started by the same script as
users'), ids 0..n-1, with ``min.insync.replicas=2``, RF 3 defaults and unclean election off.
Each broker has two log dirs: ``logs`` on the work disk and ``small`` on a size-limited tmpfs
when this process may mount one (root), which the disk-full fault fills. A broker's wall clock
can be shifted through :mod:`kafkalite.testing.chaos.clock` (test only).

The harness reads leaders, ISRs and the controller from ZooKeeper directly (not through a
proxy), as an operator would.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import time
from pathlib import Path

from kafkalite.cli.cluster import BrokerProcess, free_port
from kafkalite.testing import cluster_state
from kafkalite.testing.proxy import ProxyNet
from kafkalite.zk.launcher import LocalZooKeeper
from kafkalite.zk.session import SyncZk

__all__ = ["ChaosCluster", "BROKER_PROPS", "CLOCK_HOOK_DIR"]

CLOCK_HOOK_DIR = Path(__file__).resolve().parent / "clock"
ZK_TICK_MS = 500

BROKER_PROPS = {
    "zookeeper.session.timeout.ms": 6000,
    "replica.lag.time.max.ms": 8000,
    "min.insync.replicas": 2,
    "unclean.leader.election.enable": "false",
    "default.replication.factor": 3,
    "num.partitions": 3,
    "offsets.topic.replication.factor": 3,
    "offsets.topic.num.partitions": 3,
    "transaction.state.log.replication.factor": 3,
    "transaction.state.log.min.isr": 2,
    "transaction.state.log.num.partitions": 3,
    "group.initial.rebalance.delay.ms": 0,
    "controlled.shutdown.retry.backoff.ms": 500,
    "leader.imbalance.check.interval.seconds": 30,
    "log.segment.bytes": 1 << 20,
    "metrics.listener": "",
    "console.listener": "",
}


def _mount_tmpfs(path: Path, size_mb: int) -> bool:
    """Mount a ``size_mb`` tmpfs at ``path`` (needs root); False if that is not possible."""
    path.mkdir(parents=True, exist_ok=True)
    if os.geteuid() != 0 or shutil.which("mount") is None:
        return False
    r = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size_mb}m", "tmpfs", str(path)],
                       capture_output=True, timeout=30)
    return r.returncode == 0


def _umount(path: Path) -> None:
    for _ in range(20):
        r = subprocess.run(["umount", str(path)], capture_output=True, timeout=30)
        if r.returncode == 0 or b"not mounted" in r.stderr:
            return
        time.sleep(0.5)


class ChaosCluster:
    def __init__(self, workdir: Path, *, brokers: int = 3, props: dict | None = None,
                 small_dir_mb: int = 32, env: dict | None = None):
        self.workdir = Path(workdir)
        self.n = brokers
        self.props = {**BROKER_PROPS, **(props or {})}
        self.small_dir_mb = small_dir_mb
        self.env = dict(env or {})
        self.net = ProxyNet()
        self.zk: LocalZooKeeper | None = None
        self.zk_port = free_port()
        self.chroot = "/chaos"
        self.brokers: dict[int, BrokerProcess] = {}
        self.small_dirs: dict[int, Path] = {}
        self.mounted: list[Path] = []
        self.clock_files: dict[int, Path] = {}
        self._observer: SyncZk | None = None

    # -- start and stop ------------------------------------------------------------------

    def start(self) -> ChaosCluster:
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.start_zookeeper()
        with SyncZk(f"127.0.0.1:{self.zk_port}") as zk:
            zk.ensure_path(self.chroot)
        ids = range(self.n)
        # Every port of this cluster distinct: a broker's listener is bound only when it
        # starts, so a proxy link picking "a free port" could otherwise take it first.
        taken = {self.zk_port}

        def pick() -> int:
            while (port := free_port()) in taken:
                pass
            taken.add(port)
            return port
        real = {b: {"CLIENT": pick(), **{f"FROM{a}": pick() for a in ids}} for b in ids}
        for b in ids:
            self.net.add(f"zk-{b}", "127.0.0.1", self.zk_port, port=pick())
            self.net.add(f"client-{b}", "127.0.0.1", real[b]["CLIENT"], port=pick())
            for a in ids:
                if a != b:
                    self.net.add(f"peer-{a}-{b}", "127.0.0.1", real[b][f"FROM{a}"],
                                 port=pick())
        names = ["CLIENT", *(f"FROM{a}" for a in ids)]
        for b in ids:
            listeners = ",".join(f"{n}://127.0.0.1:{real[b][n]}" for n in names)
            advertised = [f"CLIENT://127.0.0.1:{self.net.port(f'client-{b}')}"]
            advertised += [f"FROM{a}://127.0.0.1:" + str(
                real[b][f"FROM{a}"] if a == b else self.net.port(f"peer-{a}-{b}"))
                for a in ids]
            bdir = self.workdir / f"broker-{b}"
            small = self.small_dirs[b] = bdir / "small"
            if _mount_tmpfs(small, self.small_dir_mb):
                self.mounted.append(small)
            clock = self.clock_files[b] = bdir / "clock-offset"
            bdir.mkdir(parents=True, exist_ok=True)
            clock.write_text("0\n")
            env = {**self.env, "KAFKALITE_TEST_CLOCK_FILE": str(clock),
                   "PYTHONPATH": os.pathsep.join(filter(None, [str(CLOCK_HOOK_DIR),
                                                               os.environ.get("PYTHONPATH")]))}
            self.brokers[b] = BrokerProcess(
                broker_id=b, workdir=bdir, port=real[b]["CLIENT"],
                zk_connect=f"127.0.0.1:{self.net.port(f'zk-{b}')}{self.chroot}",
                env=env, overrides={
                    **self.props,
                    "listeners": listeners,
                    "advertised.listeners": ",".join(advertised),
                    "listener.security.protocol.map": ",".join(f"{n}:PLAINTEXT"
                                                               for n in names),
                    "inter.broker.listener.name": f"FROM{b}",
                    "log.dirs": f"{bdir / 'logs'},{small}",
                })
        for b in self.brokers.values():
            b.start(wait=False)
        for b in self.brokers.values():
            b.wait_ready(120)
        return self

    @property
    def disk_full_possible(self) -> bool:
        return len(self.mounted) == self.n

    def start_zookeeper(self) -> None:
        self.zk = LocalZooKeeper(self.zk_port, tick_ms=ZK_TICK_MS,
                                 data_dir=str(self.workdir / "zookeeper")).start(60)

    def stop_zookeeper(self) -> None:
        if self.zk is not None:
            self.zk.stop()
            self.zk = None

    def close(self) -> None:
        """Stop brokers (SIGCONT first: a stopped process ignores SIGTERM), ZooKeeper, the
        proxies; unmount the small log dirs."""
        for b in self.brokers.values():
            with contextlib.suppress(Exception):
                b.signal(signal.SIGCONT)
        for b in self.brokers.values():
            with contextlib.suppress(Exception):
                b.stop(grace=20)
        if self._observer is not None:
            with contextlib.suppress(Exception):
                self._observer.close()
        with contextlib.suppress(Exception):
            self.stop_zookeeper()
        self.net.close()
        for path in self.mounted:
            _umount(path)
        self.mounted.clear()

    def __enter__(self) -> ChaosCluster:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.close()

    # -- what clients use ------------------------------------------------------------------

    @property
    def bootstrap(self) -> str:
        """Client bootstrap through the client proxies."""
        return ",".join(f"127.0.0.1:{self.net.port(f'client-{b}')}" for b in self.brokers)

    @property
    def direct_bootstrap(self) -> str:
        """Straight to the brokers' CLIENT listeners (the harness's own checks)."""
        return ",".join(b.bootstrap for b in self.brokers.values())

    # -- observing -------------------------------------------------------------------------

    def observer(self) -> SyncZk:
        if self._observer is None:
            self._observer = SyncZk(f"127.0.0.1:{self.zk_port}{self.chroot}",
                                    timeout_ms=5000, session_timeout_ms=30000).start()
        return self._observer

    def _observe(self, fn, *args):
        try:
            return fn(self.observer(), *args)
        except Exception:  # noqa: BLE001 - ZooKeeper down or reconnecting: unknown for now
            return None

    def leader(self, topic: str, partition: int) -> int | None:
        st = self._observe(cluster_state.partition_state, topic, partition)
        return None if st is None or st.leader < 0 else st.leader

    def partition_state(self, topic: str, partition: int):
        return self._observe(cluster_state.partition_state, topic, partition)

    def controller(self) -> int | None:
        return self._observe(cluster_state.controller_id)

    def registered(self, broker_id: int) -> bool | None:
        return self._observe(cluster_state.broker_registered, broker_id)

    def alive(self, broker_id: int) -> bool:
        b = self.brokers[broker_id]
        return b.proc is not None and b.proc.poll() is None

    def isr_full(self, topics: dict[str, int]) -> bool:
        for topic, partitions in topics.items():
            for p in range(partitions):
                st = self.partition_state(topic, p)
                if st is None or st.leader < 0 or len(st.isr) < self.n:
                    return False
        return True

    # -- faults ----------------------------------------------------------------------------

    def restart(self, broker_id: int, timeout: float = 120) -> None:
        b = self.brokers[broker_id]
        b.stop(grace=30)
        b.start(wait=False)
        b.wait_ready(timeout)

    def set_clock_offset(self, broker_id: int, seconds: float) -> None:
        path = self.clock_files[broker_id]
        tmp = path.with_suffix(".tmp")
        tmp.write_text(f"{seconds}\n")
        tmp.replace(path)

    def fill_small_dir(self, broker_id: int) -> Path:
        """Fill broker ``broker_id``'s tmpfs log dir up to the last byte; returns the filler
        file (remove it to free the space)."""
        filler = self.small_dirs[broker_id] / "filler.bin"
        fd = os.open(filler, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
        try:
            block = b"\0" * (1 << 20)
            for size in (1 << 20, 1 << 12, 1):
                while True:
                    try:
                        os.write(fd, block[:size])
                    except OSError:
                        break
        finally:
            os.close(fd)
        return filler
