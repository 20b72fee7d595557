"""The nemesis: one fault at a time, picked at random every few seconds, then healed.

Fault kinds (``reliability-ecosystem.md`` A8 rows in brackets):

``kill-leader`` / ``kill-controller`` [R1, R3]   SIGKILL; restarted once ZooKeeper has let go
                                               of its registration (a broker cannot register
                                               while its old session's ephemeral node lives)
``term-leader`` / ``term-controller`` [R2]       SIGTERM (controlled shutdown), restart
``pause-leader`` [R4]          SIGSTOP past the ZooKeeper session timeout, then SIGCONT
``partition-leader`` [R7]      the leader's links to and from every other broker blackholed
``partition-zk`` [R7]          one broker's link to ZooKeeper blackholed past the session timeout
``partition-client`` [R7]      clients cut from the leader
``restart-zk`` [R6]            ZooKeeper stopped for a few seconds, then started on its data
``slow-follower`` [R13]        a follower's link to its leader: 300 ms each way, 16 KiB/s
``disk-full`` [R10]            a broker's tmpfs log dir filled; after a while the space is freed
                               and the broker restarted (an offline log dir comes back only
                               with a restart, as in Kafka)
``clock-jump`` [R12]           one broker's wall clock moved by +-1 h, later back

Every fault is recorded as a ``fault`` event with ``phase`` start and end. Victims are read
from ZooKeeper when the fault starts (the leader of a random partition of the workload topic,
or ``/controller``); a fault whose victim cannot be found now is skipped, not counted.
"""

from __future__ import annotations

import random
import signal
import time

from kafkalite.testing.chaos.cluster import ChaosCluster
from kafkalite.testing.chaos.history import History

__all__ = ["Nemesis", "ALL_FAULTS", "CI_FAULTS"]

ALL_FAULTS = ("kill-leader", "kill-controller", "term-leader", "term-controller",
              "pause-leader", "partition-leader", "partition-zk", "partition-client",
              "restart-zk", "slow-follower", "disk-full", "clock-jump")
# A shorter run for CI: the most telling kinds, each quick to heal (disk-full only where a
# tmpfs can be mounted).
CI_FAULTS = ("kill-leader", "term-controller", "pause-leader", "partition-leader",
             "partition-zk", "clock-jump", "disk-full")


class Nemesis:
    """Runs on the caller's thread (:meth:`run`): brokers and ZooKeeper are started with
    ``PR_SET_PDEATHSIG``, which fires when the *thread* that started them ends, so every
    (re)start must come from the thread that outlives the run."""

    def __init__(self, cluster: ChaosCluster, history: History, topic: str, partitions: int,
                 *, kinds=ALL_FAULTS, seed: int = 0, interval_s: tuple[float, float] = (1, 4),
                 log=print):
        self.cluster = cluster
        self.history = history
        self.topic = topic
        self.partitions = partitions
        self.kinds = [k for k in kinds if k != "disk-full" or cluster.disk_full_possible]
        self.random = random.Random(seed)
        self.interval_s = interval_s
        self.log = log
        self.count: dict[str, int] = {}
        self.session_s = cluster.props["zookeeper.session.timeout.ms"] / 1000

    def run(self, until: float, check=lambda: None) -> None:
        """Inject and heal faults until ``time.monotonic()`` passes ``until``; ``check()`` is
        called between steps (progress report; it raises to end the run early). The fault in
        progress at ``until`` is healed before this returns."""
        self._pause(self.random.uniform(*self.interval_s) + 3, until, check)
        while time.monotonic() < until:
            self.run_fault(self.random.choice(self.kinds))
            check()
            self.wait_brokers_back(60)
            self._pause(self.random.uniform(*self.interval_s), until, check)

    @staticmethod
    def _pause(seconds: float, until: float, check) -> None:
        end = min(time.monotonic() + seconds, until)
        while (left := end - time.monotonic()) > 0:
            time.sleep(min(left, 1.0))
            check()

    # -- bookkeeping -----------------------------------------------------------------------

    def _record(self, kind: str, phase: str, **fields) -> None:
        self.history.record("fault", "nemesis", kind=kind, phase=phase, **fields)
        if phase == "start":
            self.count[kind] = self.count.get(kind, 0) + 1
        self.log(f"nemesis: {kind} {phase} {fields or ''}")

    def _sleep(self, seconds: float) -> None:
        time.sleep(seconds)   # a fault runs its course and heals, even past the run's end

    def _leader(self) -> tuple[int, int] | None:
        order = list(range(self.partitions))
        self.random.shuffle(order)
        for p in order:
            leader = self.cluster.leader(self.topic, p)
            if leader is not None and self.cluster.alive(leader):
                return p, leader
        return None

    def _controller(self) -> int | None:
        c = self.cluster.controller()
        return c if c is not None and self.cluster.alive(c) else None

    def wait_brokers_back(self, timeout: float) -> bool:
        """Every broker running and registered (ZooKeeper up), or ``timeout`` passed."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if all(self.cluster.alive(b) and self.cluster.registered(b)
                   for b in self.cluster.brokers):
                return True
            time.sleep(0.2)
        self.log("nemesis: brokers not all back after "
                 f"{timeout:g}s: {[b for b in self.cluster.brokers if not self.cluster.alive(b)]}"
                 " not running")
        return False

    def _wait_unregistered(self, broker_id: int, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and self.cluster.registered(broker_id) is not False:
            time.sleep(0.1)

    # -- faults ----------------------------------------------------------------------------

    def run_fault(self, kind: str) -> bool:
        """Inject and heal one fault; False if it had no victim now."""
        return getattr(self, "_" + kind.replace("-", "_"))(kind)

    def _victim(self, kind: str) -> tuple[int, dict] | None:
        if kind.endswith("-controller"):
            c = self._controller()
            return None if c is None else (c, {"broker": c, "role": "controller"})
        found = self._leader()
        if found is None:
            return None
        p, leader = found
        return leader, {"broker": leader, "role": "leader", "partition": p}

    def _kill_leader(self, kind: str) -> bool:
        victim = self._victim(kind)
        if victim is None:
            return False
        b, info = victim
        self._record(kind, "start", **info)
        self.cluster.brokers[b].kill()
        self._wait_unregistered(b, self.session_s * 3)
        self.cluster.brokers[b].stop()
        self.cluster.brokers[b].start(wait=False)
        self._record(kind, "end", broker=b)
        return True

    _kill_controller = _kill_leader

    def _term_leader(self, kind: str) -> bool:
        victim = self._victim(kind)
        if victim is None:
            return False
        b, info = victim
        self._record(kind, "start", **info)
        broker = self.cluster.brokers[b]
        broker.signal(signal.SIGTERM)
        try:
            broker.proc.wait(60)
        except Exception:  # noqa: BLE001 - a stuck shutdown is killed (and logged)
            self.log(f"nemesis: broker {b} still running 60 s after SIGTERM; SIGKILL")
            broker.kill()
        rc = broker.proc.returncode
        self._wait_unregistered(b, self.session_s * 3)
        broker.stop()
        broker.start(wait=False)
        self._record(kind, "end", broker=b, exit_code=rc)
        return True

    _term_controller = _term_leader

    def _pause_leader(self, kind: str) -> bool:
        victim = self._victim(kind)
        if victim is None:
            return False
        b, info = victim
        seconds = self.session_s + 2 + self.random.uniform(0, 2)
        self._record(kind, "start", seconds=round(seconds, 1), **info)
        broker = self.cluster.brokers[b]
        broker.signal(signal.SIGSTOP)
        try:
            self._sleep(seconds)
        finally:
            broker.signal(signal.SIGCONT)
        self._record(kind, "end", broker=b)
        return True

    def _partition_leader(self, kind: str) -> bool:
        victim = self._victim(kind)
        if victim is None:
            return False
        b, info = victim
        links = [f"peer-{b}-{o}" for o in self.cluster.brokers if o != b]
        links += [f"peer-{o}-{b}" for o in self.cluster.brokers if o != b]
        seconds = self.random.uniform(5, 12)
        self._record(kind, "start", seconds=round(seconds, 1), links=links, **info)
        self.cluster.net.set(links, "blackhole")
        try:
            self._sleep(seconds)
        finally:
            self.cluster.net.heal(links)
        self._record(kind, "end", broker=b)
        return True

    def _partition_zk(self, kind: str) -> bool:
        victim = self._victim(kind) if self.random.random() < 0.5 else \
            self._victim("x-controller")
        if victim is None:
            return False
        b, info = victim
        seconds = self.session_s + 2 + self.random.uniform(0, 3)
        self._record(kind, "start", seconds=round(seconds, 1), **info)
        self.cluster.net.set(f"zk-{b}", "blackhole")
        try:
            self._sleep(seconds)
        finally:
            self.cluster.net.heal([f"zk-{b}"])
        self._record(kind, "end", broker=b)
        return True

    def _partition_client(self, kind: str) -> bool:
        victim = self._victim(kind)
        if victim is None:
            return False
        b, info = victim
        seconds = self.random.uniform(5, 12)
        self._record(kind, "start", seconds=round(seconds, 1), **info)
        self.cluster.net.set(f"client-{b}", "blackhole")
        try:
            self._sleep(seconds)
        finally:
            self.cluster.net.heal([f"client-{b}"])
        self._record(kind, "end", broker=b)
        return True

    def _restart_zk(self, kind: str) -> bool:
        seconds = self.random.uniform(2, 5)
        self._record(kind, "start", seconds=round(seconds, 1))
        self.cluster.stop_zookeeper()
        try:
            self._sleep(seconds)
        finally:
            self.cluster.start_zookeeper()
        self._record(kind, "end")
        return True

    def _slow_follower(self, kind: str) -> bool:
        found = self._leader()
        if found is None:
            return False
        p, leader = found
        st = self.cluster.partition_state(self.topic, p)
        followers = [r for r in (st.isr if st else ()) if r != leader]
        if not followers:
            return False
        f = self.random.choice(followers)
        seconds = self.random.uniform(10, 20)
        link = f"peer-{f}-{leader}"
        self._record(kind, "start", broker=f, leader=leader, partition=p,
                     seconds=round(seconds, 1), link=link)
        self.cluster.net.set(link, "pass", delay_s=0.3, rate=16 * 1024)
        try:
            self._sleep(seconds)
        finally:
            self.cluster.net.heal([link])
        self._record(kind, "end", broker=f)
        return True

    def _clock_jump(self, kind: str) -> bool:
        b = self.random.choice(sorted(self.cluster.brokers))
        offset = self.random.choice((-3600.0, 3600.0))
        seconds = self.random.uniform(8, 15)
        self._record(kind, "start", broker=b, offset_s=offset, seconds=round(seconds, 1))
        self.cluster.set_clock_offset(b, offset)
        try:
            self._sleep(seconds)
        finally:
            self.cluster.set_clock_offset(b, 0)
        self._record(kind, "end", broker=b)
        return True

    def _disk_full(self, kind: str) -> bool:
        victim = self._victim(kind)
        if victim is None:
            return False
        b, info = victim
        seconds = self.random.uniform(6, 10)
        self._record(kind, "start", seconds=round(seconds, 1), **info)
        filler = self.cluster.fill_small_dir(b)
        try:
            self._sleep(seconds)
        finally:
            filler.unlink()
        broker = self.cluster.brokers[b]
        if broker.proc.poll() is None:
            broker.signal(signal.SIGTERM)
            try:
                broker.proc.wait(60)
            except Exception:  # noqa: BLE001
                broker.kill()
        self._wait_unregistered(b, self.session_s * 3)
        broker.stop()
        broker.start(wait=False)
        self._record(kind, "end", broker=b)
        return True
