"""``make bench-cluster``: what replication costs, and how long a leader failover takes.

Two measurements, both with the real librdkafka client on this machine; nothing is asserted.

* **Throughput.** For each of ``--repeats`` runs, interleaved so both setups see the same
  machine: one broker with RF=1 topics (produce acks=1, uncompressed and lz4, then consume),
  and three brokers with RF=3 topics and ``min.insync.replicas=2`` (produce acks=1 and
  acks=all, then consume). Each setup starts from a fresh ZooKeeper chroot and fresh log
  directories. The load is the shared harness's ``peer_bench.py``, run in its own process with
  two substitutions: its topics get the replica list given here (every partition led by
  broker 0, so the ``--broker-pid`` it measures is the leader's), and each phase's CPU figures
  also carry the CPU time of every broker (``/proc/<pid>/stat``), because the followers'
  fetching is part of the price of acks=all. On two cores the client and three brokers
  compete for CPU, so CPU per message says more than msgs/s alone. The brokers' kernel share
  (system time over all their CPU time) tells what the page cache and the sockets cost from
  what the Python code costs: three brokers write every byte into the page cache, and where
  new page-cache memory is expensive (a VM whose host backs guest memory on first touch) that
  share dominates. The leader also serves
  its Prometheus endpoint, scraped at the start and end of each phase: follower fetch requests
  per produce request it answered (how many produce requests one follower fetch carries
  replicas of) and the incremental fetch sessions (KIP-227) it holds at the end of the phase.
* **Failover.** Three brokers, one RF=3 partition, an acks=all producer sending a message
  every ``--interval-ms``. The partition leader gets SIGKILL (a crash, noticed only when its
  ZooKeeper session expires, so bounded below by ``zookeeper.session.timeout.ms``) or SIGTERM
  (controlled shutdown: the controller moves leadership before the broker exits). Reported:
  the first acknowledgement of a message produced after the signal, and the longest time
  without any acknowledgement (after SIGTERM the old leader keeps acknowledging for a while,
  so that gap is the outage). A trial ends once a message produced after the broker's exit is
  acknowledged; then the broker is restarted and the ISR is full again.

Prints markdown tables (median (min–max)) and writes every run's JSON to ``--outdir``.
"""

from __future__ import annotations

import json
import os
import shlex
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import attrs
import click

from kafkalite.cli.bench import NO_HTTP
from kafkalite.cli.cluster import CONFIG_DIR, REPO_ROOT, BrokerProcess, free_port

__all__ = ["AckLog", "collect", "format_spread", "load_passes", "main", "markdown_table",
           "merge_passes", "phase_figures", "prewarm_page_pool", "proc_stat_cpu_seconds",
           "proc_stat_times", "ratio_rows", "scrape_fetch_figures", "session_rows", "with_skips"]

TEMPLATE = CONFIG_DIR / "server.properties"
LEADER = 0  # throughput topics are assigned [0, 1, 2]: broker 0 leads every partition
SETUPS = {"single": "1 broker, RF=1", "cluster": "3 brokers, RF=3, min.insync=2",
          "peer": "peer broker, one node"}
# (label, numerator (setup, phase), denominator (setup, phase)): what the closing note quotes
RATIOS = [
    ("acks=all RF=3 / acks=1 one broker", ("cluster", "produce acksall-none"),
     ("single", "produce acks1-none")),
    ("acks=all RF=3 / acks=1 one broker, lz4", ("cluster", "produce acksall-lz4"),
     ("single", "produce acks1-lz4")),
    ("acks=1 RF=3 / acks=1 one broker", ("cluster", "produce acks1-none"),
     ("single", "produce acks1-none")),
    ("consume RF=3 / one broker", ("cluster", "consume acks1-none"),
     ("single", "consume acks1-none")),
    # --peer: kafkalite replicated against the peer broker's single node, same run
    ("acks=all RF=3 / peer acks=all one node", ("cluster", "produce acksall-none"),
     ("peer", "produce acksall-none")),
    ("acks=all RF=3 / peer acks=all one node, lz4", ("cluster", "produce acksall-lz4"),
     ("peer", "produce acksall-lz4")),
    ("acks=1 one broker / peer acks=1 one node", ("single", "produce acks1-none"),
     ("peer", "produce acks1-none")),
]
LATENCY_KEYS = ("p50_ms", "p99_ms", "max_ms")
CLK_TCK = os.sysconf("SC_CLK_TCK")
VALUE_BYTES = 100

# The child that runs peer_bench.main(); argv: harness dir, replica list, {broker id: pid}, then
# peer_bench's own arguments.
LOAD_GENERATOR = "from kafkalite.cli.bench_cluster import _load_generator; _load_generator()"
# The leader's metrics endpoint, for the load generator (unset: no fetch-session figures).
METRICS_URL_ENV = "KAFKALITE_BENCH_LEADER_METRICS"
_REQUESTS_TOTAL = "kafka_network_requestmetrics_requests_total{"
_SESSIONS_GAUGE = "kafka_server_fetchsessioncache_numincrementalfetchsessions"


# -- pure helpers ---------------------------------------------------------------------------

def proc_stat_cpu_seconds(stat: str, clk_tck: int = CLK_TCK) -> float:
    """utime + stime of a ``/proc/<pid>/stat`` line, in seconds (all threads).

    The command name (field 2) may hold spaces and parentheses, so fields are counted from
    the last ``)``: after it come state (field 3), ..., utime (14) and stime (15).
    """
    return sum(proc_stat_times(stat, clk_tck))


def proc_stat_times(stat: str, clk_tck: int = CLK_TCK) -> tuple[float, float]:
    """(utime, stime) of a ``/proc/<pid>/stat`` line, in seconds: the kernel's share tells
    page-cache and socket copies (and this VM's cost of fresh memory) from Python work."""
    fields = stat.rsplit(")", 1)[1].split()
    return int(fields[11]) / clk_tck, int(fields[12]) / clk_tck


def scrape_fetch_figures(text: str) -> dict[str, float]:
    """From a Prometheus exposition: requests answered so far by kind (``Produce``,
    ``FetchFollower``, ...; every version summed) and ``incremental_fetch_sessions`` if the
    broker reports that gauge."""
    out: dict[str, float] = {}
    for line in text.splitlines():
        if line.startswith(_REQUESTS_TOTAL):
            labels, _, value = line[len(_REQUESTS_TOTAL):].rpartition("} ")
            for label in labels.split(","):
                key, _, name = label.partition("=")
                if key == "request":
                    name = name.strip('"')
                    out[name] = out.get(name, 0.0) + float(value)
        elif line.startswith(_SESSIONS_GAUGE) and line[len(_SESSIONS_GAUGE):][:1] in (" ", "{"):
            out["incremental_fetch_sessions"] = float(line.rsplit(None, 1)[1])
    return out


@attrs.define
class AckLog:
    """Acknowledgements of the failover producer, as (produced at, acked at) monotonic ns.

    A mark (the signal, the broker's exit) is answered by the first ack of a message produced
    at or after it: a message already in flight may still be acknowledged by the old leader,
    which says nothing about the cluster after the fault. After SIGTERM the old leader keeps
    acknowledging until its controlled shutdown has moved leadership, so the outage a
    producer sees is the longest stretch without any ack (:meth:`longest_gap_s`).
    """

    acks: list[tuple[int, int]] = attrs.field(factory=list)
    marks: dict[str, int] = attrs.field(factory=dict)
    first_ack: dict[str, int] = attrs.field(factory=dict)

    def mark(self, name: str, at_ns: int) -> None:
        self.marks[name] = at_ns
        later = [a for p, a in self.acks if p >= at_ns]
        if later:
            self.first_ack[name] = min(later)

    def record(self, produced_ns: int, acked_ns: int) -> None:
        self.acks.append((produced_ns, acked_ns))
        for name, at_ns in self.marks.items():
            if name not in self.first_ack and produced_ns >= at_ns:
                self.first_ack[name] = acked_ns

    def seconds_to_first_ack(self, name: str) -> float | None:
        if name not in self.first_ack:
            return None
        return (self.first_ack[name] - self.marks[name]) / 1e9

    def longest_gap_s(self, name: str) -> float | None:
        """Longest time without an ack, from the mark to the last ack recorded."""
        start = self.marks.get(name)
        if start is None:
            return None
        times = sorted(a for _, a in self.acks if a >= start)
        gaps = [b - a for a, b in zip([start, *times], times, strict=False)]
        return max(gaps) / 1e9 if gaps else None

    def ack_latency_before_ms(self, name: str) -> float | None:
        """Median produce-to-ack time of messages acknowledged before the mark."""
        end = self.marks.get(name, float("inf"))
        lat = [(a - p) / 1e6 for p, a in self.acks if a < end]
        return statistics.median(lat) if lat else None


def _num(x: float) -> str:
    return f"{x:,.0f}" if abs(x) >= 1000 else f"{x:.1f}" if abs(x) >= 10 else f"{x:.3g}"


def format_spread(values: list[float]) -> str:
    """``median (min–max)``, or the one value, or ``-``."""
    if len(values) < 2:
        return _num(values[0]) if values else "-"
    return f"{_num(statistics.median(values))} ({_num(min(values))}–{_num(max(values))})"


def phase_figures(result: dict) -> dict[str, dict[str, float]]:
    """Headline figures of one peer_bench result, by phase (``"produce acks1-none"``).

    ``leader_cpu_us_per_msg`` is peer_bench's broker (the leader); ``cluster_cpu_us_per_msg``
    adds every broker's CPU; ``other_cores`` is what neither the client nor any broker used
    (other tenants of the machine).
    """
    out: dict[str, dict[str, float]] = {}
    for section in ("produce", "consume"):
        for scenario, r in (result.get(section) or {}).items():
            rate = r.get("msgs_per_s") or 0
            cpu = r.get("cpu") or {}
            fig = {"msgs_per_s": rate, "MB_per_s": r.get("MB_per_s", 0.0)}
            if "client_cores" in cpu:
                fig["client_cores"] = cpu["client_cores"]
            cluster = cpu.get("cluster_cores", cpu.get("broker_cores"))
            if rate and "broker_cores" in cpu:
                fig["leader_cpu_us_per_msg"] = cpu["broker_cores"] / rate * 1e6
            if rate and cluster is not None:
                fig["cluster_cpu_us_per_msg"] = cluster / rate * 1e6
            if "cluster_kernel_share" in cpu:
                fig["cluster_kernel_share"] = cpu["cluster_kernel_share"]
            if cluster is not None and "machine_busy_cores" in cpu:
                fig["other_cores"] = max(0.0, cpu["machine_busy_cores"] - cluster
                                         - cpu.get("client_cores", 0.0))
            leader = cpu.get("leader_requests") or {}
            if leader.get("Produce"):
                fig["follower_fetches_per_produce"] = (leader.get("FetchFollower", 0.0)
                                                       / leader["Produce"])
            if "incremental_fetch_sessions" in cpu:
                fig["incremental_fetch_sessions"] = cpu["incremental_fetch_sessions"]
            out[f"{section} {scenario}"] = fig
    for key, r in (result.get("latency") or {}).items():
        figs = {k: r[k] for k in LATENCY_KEYS if isinstance(r.get(k), (int, float))}
        if figs:
            out[f"latency {key}"] = figs
    return out


def collect(results: dict[str, list[dict]]) -> dict[str, dict[str, dict[str, list[float]]]]:
    """setup -> phase -> metric -> one value per run, in phase order of first appearance."""
    out: dict[str, dict[str, dict[str, list[float]]]] = {}
    for setup, runs in results.items():
        phases = out.setdefault(setup, {})
        for r in runs:
            for phase, figs in phase_figures(r).items():
                for metric, v in figs.items():
                    phases.setdefault(phase, {}).setdefault(metric, []).append(v)
    return out


def ratio_rows(figures: dict, metrics: tuple[str, ...] = (
        "msgs_per_s", "cluster_cpu_us_per_msg", "leader_cpu_us_per_msg")) -> list[list[str]]:
    """One row per :data:`RATIOS` entry measured in both setups: ratios of the medians."""
    rows = []
    for label, (s1, p1), (s2, p2) in RATIOS:
        num, den = figures.get(s1, {}).get(p1), figures.get(s2, {}).get(p2)
        if not num or not den:
            continue
        row = [label]
        for m in metrics:
            a, b = num.get(m), den.get(m)
            row.append(f"{statistics.median(a) / statistics.median(b):.2f}"
                       if a and b and statistics.median(b) else "-")
        rows.append(row)
    return rows


def session_rows(figures: dict, setup: str = "cluster") -> list[list[str]]:
    """Per phase of ``setup``: follower fetches per produce request at the leader and its
    incremental fetch sessions (median (min–max); "-" where not measured)."""
    rows = []
    for phase, m in figures.get(setup, {}).items():
        if not phase.startswith("produce") or "follower_fetches_per_produce" not in m:
            continue
        rows.append([SETUPS[setup], phase,
                     format_spread(m["follower_fetches_per_produce"]),
                     format_spread(m["incremental_fetch_sessions"])
                     if m.get("incremental_fetch_sessions") else "-"])
    return rows


def markdown_table(head: list[str], rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines) + "\n"


# -- the load-generator child ---------------------------------------------------------------

def _load_generator() -> None:
    """Run the harness's ``peer_bench.main()`` with replicated topics and cluster CPU figures.

    peer_bench creates its topics with replication factor 1 and names them with a run id of
    its own, so they cannot be created beforehand; its topic factory is swapped for one that
    assigns the given replicas. Its ``CpuMeter`` gains the CPU of every broker process.
    """
    import importlib.util

    harness, replicas, pids = sys.argv[1], json.loads(sys.argv[2]), json.loads(sys.argv[3])
    path = Path(harness) / "peer_bench.py"
    spec = importlib.util.spec_from_file_location("peer_bench", path)
    pb = importlib.util.module_from_spec(spec)
    # The latency phase's consumer runs in a spawned process that imports peer_bench by name.
    sys.path.insert(0, harness)
    sys.modules["peer_bench"] = pb
    spec.loader.exec_module(pb)
    sys.argv = [str(path), *sys.argv[4:]]
    new_topic = pb.NewTopic

    def replicated_topic(name, num_partitions=1, replication_factor=1):
        # confluent-kafka wants the partition count alongside an explicit assignment
        return new_topic(name, num_partitions=num_partitions,
                         replica_assignment=[list(replicas)] * num_partitions)

    metrics_url = os.environ.get(METRICS_URL_ENV)

    class ClusterCpuMeter(pb.CpuMeter):
        def __enter__(self):
            self.times0 = {b: _cpu_times(pid) for b, pid in pids.items()}
            self.leader0 = _scrape(metrics_url)
            return super().__enter__()

        def stop(self):
            out = super().stop()
            leader = _scrape(metrics_url)
            if leader is not None and self.leader0 is not None:
                out["leader_requests"] = {k: v - self.leader0.get(k, 0.0)
                                          for k, v in leader.items()
                                          if k in ("Produce", "FetchFollower", "FetchConsumer")}
                if "incremental_fetch_sessions" in leader:
                    out["incremental_fetch_sessions"] = leader["incremental_fetch_sessions"]
            now = {b: _cpu_times(pid) for b, pid in pids.items()}
            # (user, system) seconds used by each broker that could be read both times
            spent = {b: (now[b][0] - t0[0], now[b][1] - t0[1]) for b, t0 in self.times0.items()
                     if t0 is not None and now[b] is not None}
            if out.get("wall_s") and len(spent) == len(pids):
                used = {b: u + k for b, (u, k) in spent.items()}
                out["cluster_cores"] = round(sum(used.values()) / out["wall_s"], 3)
                out["cores_by_broker"] = {b: round(v / out["wall_s"], 3) for b, v in used.items()}
                if sum(used.values()) > 0:
                    out["cluster_kernel_share"] = round(
                        sum(k for _u, k in spent.values()) / sum(used.values()), 3)
                    out["kernel_cores_by_broker"] = {b: round(k / out["wall_s"], 3)
                                                     for b, (_u, k) in spent.items()}
            return out

    pb.NewTopic = replicated_topic
    pb.CpuMeter = ClusterCpuMeter
    sys.exit(pb.main())


def _scrape(url: str | None) -> dict[str, float] | None:
    """:func:`scrape_fetch_figures` of the endpoint at ``url``; None if unset or unreachable
    (the figures are then left out, the run goes on)."""
    if not url:
        return None
    import urllib.request

    try:
        with urllib.request.urlopen(url, timeout=5) as r:
            return scrape_fetch_figures(r.read().decode("utf-8", "replace"))
    except (OSError, ValueError):
        return None


def _cpu_times(pid: int) -> tuple[float, float] | None:
    """(user, system) seconds of a process so far; None if it is gone."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return proc_stat_times(f.read())
    except (OSError, IndexError, ValueError):
        return None


def _cpu_seconds(pid: int) -> float | None:
    times = _cpu_times(pid)
    return None if times is None else sum(times)


# -- processes ------------------------------------------------------------------------------

def _overrides(session_timeout_ms: int, replicated: bool) -> dict:
    props = {
        "num.partitions": 1,
        "zookeeper.session.timeout.ms": session_timeout_ms,
        "group.initial.rebalance.delay.ms": 0,
        # peer_bench's consumer has a group.id, so librdkafka looks up a coordinator and the
        # broker creates __consumer_offsets mid-phase: 50 partitions (x3 replicas) would weigh
        # on the measurement on two cores.
        "offsets.topic.num.partitions": 3,
        # A preferred-leader rebalance would move leaders in the middle of a measurement.
        "auto.leader.rebalance.enable": "false",
        # The last broker to stop has nobody to hand leadership to; do not retry for 15 s.
        "controlled.shutdown.retry.backoff.ms": 500,
        **NO_HTTP,
    }
    if replicated:
        props.update({"default.replication.factor": 3, "min.insync.replicas": 2,
                      "offsets.topic.replication.factor": 3})
    else:
        props["offsets.topic.replication.factor"] = 1
    return props


def _start_brokers(into: list[BrokerProcess], count: int, zk_connect: str, workdir: Path,
                   overrides: dict, per_broker: dict[int, dict] | None = None) -> None:
    """Start ``count`` brokers side by side (appended to ``into`` first, so the caller's
    ``finally`` stops them even if a start fails), then wait until each is ready.
    ``per_broker`` adds overrides of single brokers."""
    per_broker = per_broker or {}
    started = [BrokerProcess(broker_id=i, zk_connect=zk_connect, workdir=workdir / f"broker-{i}",
                             properties_template=TEMPLATE,
                             overrides={**overrides, **per_broker.get(i, {})})
               for i in range(count)]
    for b in started:
        into.append(b)
        b.start(wait=False)
    for b in started:
        b.wait_ready(120)


def _stop_brokers(brokers: list[BrokerProcess]) -> None:
    """Stop each broker by PID and drop its data (gigabytes per run); broker.log stays."""
    for b in reversed(brokers):
        try:
            b.stop()
        except Exception as e:  # noqa: BLE001 - keep stopping the others
            click.echo(f"stopping broker {b.broker_id} (pid {b.proc and b.proc.pid}): {e}",
                       err=True)
        shutil.rmtree(b.log_dir, ignore_errors=True)
    brokers.clear()


def _metadata(admin, topic: str | None = None, timeout: float = 5.0):
    try:
        return admin.list_topics(topic, timeout=timeout)
    except Exception:  # noqa: BLE001 - a broker is down or not ready: the caller polls again
        return None


def _partition(admin, topic: str, partition: int = 0):
    md = _metadata(admin, topic)
    t = md.topics.get(topic) if md else None
    return t.partitions.get(partition) if t is not None and t.error is None else None


def _wait(predicate, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise click.ClickException(f"timed out after {timeout:g} s waiting for {what}")
        time.sleep(0.1)


def _wait_isr_full(admin, topic: str, replicas: int = 3, timeout: float = 120):
    def full():
        p = _partition(admin, topic)
        return p if p is not None and p.leader >= 0 and len(p.isrs) == replicas else None
    return _wait(full, timeout, f"{replicas} in-sync replicas of {topic}-0")


# -- throughput -----------------------------------------------------------------------------

def load_passes(latency: bool, prewarm_mb: int) -> list[tuple[frozenset[str], bool]]:
    """The harness runs made against one set of brokers, in order: (the phases each skips,
    whether the prewarm comes right before it).

    The latency phase runs first and at 1,000 msgs/s, so it needs no prewarmed memory, and
    right after a prewarm its p99 met the scratch file's aftermath (10.7-11.1 ms against
    4.3-5.5 ms without, 3 brokers). With both, it gets a run of its own before the prewarm.
    """
    if not latency:
        return [(frozenset({"latency"}), True)]
    if not prewarm_mb:
        return [(frozenset(), True)]
    return [(frozenset({"produce", "consume"}), False), (frozenset({"latency"}), True)]


def with_skips(args: list[str], skip: frozenset[str]) -> list[str]:
    """``args`` for peer_bench with ``skip`` added to whatever phases they already skip, in
    one ``--skip`` (the harness keeps only the last one it is given)."""
    out: list[str] = []
    phases = set(skip)
    it = iter(args)
    for arg in it:
        if arg == "--skip":
            phases.update(filter(None, next(it, "").split(",")))
        elif arg.startswith("--skip="):
            phases.update(filter(None, arg.split("=", 1)[1].split(",")))
        else:
            out.append(arg)
    order = ("latency", "produce", "consume")
    ordered = [ph for ph in order if ph in phases] + sorted(phases - set(order))
    return out + (["--skip", ",".join(ordered)] if ordered else [])


def merge_passes(first: dict, second: dict) -> dict:
    """One result from two harness runs on the same brokers: the second's, with the
    phases only the first ran."""
    merged = dict(second)
    for section in ("latency", "produce", "consume"):
        merged[section] = {**(first.get(section) or {}), **(second.get(section) or {})}
    return merged


def _run_passes(passes: list[tuple[frozenset[str], bool]], prewarm_dir: Path, prewarm_mb: int,
                run: Callable[[frozenset[str], bool], dict]) -> dict:
    """Make the harness runs of :func:`load_passes` with ``run(skip, last)`` (its result),
    prewarming where they ask, and merge their results into one."""
    result: dict | None = None
    for n, (skip, prewarm_first) in enumerate(passes):
        if prewarm_first:
            prewarm_page_pool(prewarm_dir, prewarm_mb)
        got = run(skip, n == len(passes) - 1)
        result = got if result is None else merge_passes(result, got)
    assert result is not None
    return result


def _peer_run(i: int, *, harness: Path, out: Path, scenarios: str, latency: bool,
              bench_args: str, prewarm_mb: int = 0) -> dict:
    """One run of the harness's peer broker (a fresh single node) with the cluster's
    scenarios, through its own ``run_tansu.sh``; its JSON is ``out/peer/tansu-<i>.json``."""
    peer_out = out / "peer"
    peer_out.mkdir(exist_ok=True)
    args = ["--scenarios", scenarios, *shlex.split(bench_args)]
    click.echo(f"== {SETUPS['peer']}, run {i}: load average {_load()}", err=True)

    def run(skip: frozenset[str], last: bool) -> dict:
        # (a fresh peer each time: run_tansu.sh starts and stops its own)
        dest = peer_out if last else peer_out / "latency-pass"
        dest.mkdir(exist_ok=True)
        subprocess.run([str(harness / "run_tansu.sh")], check=True, env=dict(
            os.environ, PYTHON=sys.executable, OUTDIR=str(dest), REPEATS="1",
            RUN_START=str(i), LIMITS="0", BENCH_ARGS=shlex.join(with_skips(args, skip))))
        return json.loads((dest / f"tansu-{i}.json").read_text())

    return _run_passes(load_passes(latency, prewarm_mb), out, prewarm_mb, run)


def prewarm_page_pool(directory: Path, megabytes: int) -> float:
    """Write ``megabytes`` of scratch file in ``directory`` and delete it; the seconds taken.

    In a VM whose host backs guest memory on first touch and takes back what the guest
    reports free (virtio-balloon free page reporting, within seconds), page-cache pages that
    were never touched or were taken back cost several times more to fill than recently
    freed ones (here 2.2 against 0.2 ns of system time per byte). A phase then pays for the
    machine's memory state, and the three brokers of a cluster pay it thrice. Done right
    before a run, this leaves that much recently freed memory for its first writes.
    """
    if megabytes <= 0:
        return 0.0
    chunk = b"\xa5" * (1 << 20)
    path = directory / f"prewarm-{os.getpid()}"
    t0 = time.monotonic()
    fd = os.open(path, os.O_CREAT | os.O_WRONLY | os.O_TRUNC, 0o600)
    try:
        for _ in range(megabytes):
            os.write(fd, chunk)
    finally:
        os.close(fd)
        os.unlink(path)
    return time.monotonic() - t0


def _throughput_run(setup: str, i: int, *, harness: Path, zk_hosts: str, out: Path,
                    scenarios: str, session_timeout_ms: int, bench_args: str,
                    latency: bool = False, prewarm_mb: int = 0) -> dict:
    from confluent_kafka.admin import AdminClient

    count = 3 if setup == "cluster" else 1
    brokers: list[BrokerProcess] = []
    chroot = f"/bench-cluster-{os.getpid()}-{setup}-{i}"
    json_path = out / f"{setup}-{i}.json"
    loadgen = None
    metrics_port = free_port()
    try:
        _start_brokers(brokers, count, zk_hosts + chroot,
                       Path(tempfile.mkdtemp(prefix=f"{setup}-{i}-", dir=out)),
                       _overrides(session_timeout_ms, count > 1),
                       {LEADER: {"metrics.listener": f"http://127.0.0.1:{metrics_port}"}})
        pids = {b.broker_id: b.pid for b in brokers}
        bootstrap = ",".join(b.bootstrap for b in brokers)
        replicas = [b.broker_id for b in brokers]
        click.echo(f"== {SETUPS[setup]}, run {i}: brokers {pids} (leader {LEADER}), "
                   f"load average {_load()}", err=True)
        args = [str(harness), json.dumps(replicas), json.dumps(pids), "--bootstrap", bootstrap,
                "--label", setup, "--broker-pid", str(pids[LEADER]), "--scenarios", scenarios,
                *shlex.split(bench_args)]
        env = dict(os.environ, PYTHONPATH=os.pathsep.join(
            filter(None, [str(REPO_ROOT), os.environ.get("PYTHONPATH")])),
            **{METRICS_URL_ENV: f"http://127.0.0.1:{metrics_port}/metrics"})

        def run(skip: frozenset[str], last: bool) -> dict:
            nonlocal loadgen
            path = json_path if last else out / f"{setup}-{i}-latency-pass.json"
            loadgen = subprocess.Popen([sys.executable, "-c", LOAD_GENERATOR,
                                        *with_skips([*args, "--json", str(path)], skip)], env=env)
            rc = loadgen.wait(1800)
            if rc != 0:
                raise click.ClickException(f"peer_bench exited with {rc} ({setup} run {i})")
            return json.loads(path.read_text())

        load_before, cpu_before = os.getloadavg(), {b: _cpu_seconds(p) for b, p in pids.items()}
        t0 = time.monotonic()
        result = _run_passes(load_passes(latency and count > 1, prewarm_mb), out, prewarm_mb, run)
        wall = time.monotonic() - t0
        cpu_after = {b: _cpu_seconds(p) for b, p in pids.items()}
        admin = AdminClient({"bootstrap.servers": bootstrap, "log_level": 2})
        topics = {r["topic"] for sec in ("produce", "consume")
                  for r in (result.get(sec) or {}).values()}
        states = {}
        md = _metadata(admin)
        for t in sorted(topics):
            part = md.topics[t].partitions.get(0) if md and t in md.topics else None
            states[t] = {"leader": part.leader, "isr": sorted(part.isrs)} if part else None
            if part is None or part.leader != LEADER or len(part.isrs) != count:
                click.echo(f"WARNING: {t} ends with {states[t]}: leader {LEADER} and "
                           f"{count} in-sync replicas expected", err=True)
        # A follower dropped from the ISR mid-phase would make acks=all wait for fewer
        # replicas: the leader logs each ISR change it writes.
        isr_changes = [ln for ln in brokers[LEADER].log_path.read_text(errors="replace")
                       .splitlines() if " ISR from " in ln]
        if isr_changes:
            click.echo(f"WARNING: the ISR changed during the run: {isr_changes}", err=True)
        result["cluster"] = {
            "setup": SETUPS[setup], "brokers": count, "broker_pids": pids, "leader": LEADER,
            "replicas": replicas, "overrides": _overrides(session_timeout_ms, count > 1),
            "final_partition_states": states, "isr_changes": isr_changes,
            "loadavg_before": load_before,
            "loadavg_after": os.getloadavg(), "wall_s": round(wall, 3),
            "whole_run_cpu_s": {b: round(cpu_after[b] - cpu_before[b], 3) for b in pids
                                if cpu_after[b] is not None and cpu_before[b] is not None},
        }
        json_path.write_text(json.dumps(result, indent=2) + "\n")
        return result
    finally:
        if loadgen is not None and loadgen.poll() is None:
            loadgen.kill()
            loadgen.wait()
        _stop_brokers(brokers)


def _load() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def _throughput_report(results: dict[str, list[dict]]) -> str:
    figures = collect(results)
    head = ["setup", "phase", "msgs/s", "MB/s", "leader CPU µs/msg", "all brokers CPU µs/msg",
            "brokers' kernel share", "client cores", "other cores"]
    rows = []
    latency = []
    for setup, phases in figures.items():
        for phase, m in phases.items():
            if phase.startswith("latency"):
                latency.append([SETUPS[setup], phase.split(" ", 1)[1]] + [
                    format_spread(m.get(k, [])) for k in LATENCY_KEYS])
                continue
            rows.append([SETUPS[setup], phase] + [format_spread(m.get(k, [])) for k in (
                "msgs_per_s", "MB_per_s", "leader_cpu_us_per_msg", "cluster_cpu_us_per_msg",
                "cluster_kernel_share", "client_cores", "other_cores")])
    text = markdown_table(head, rows)
    if latency:
        text += ("\nEnd-to-end latency (peer_bench's latency phase: acks=all, linger 0, its "
                 "--lat-rate msgs/s; e2e = consumer's default fetch wait, fetchwait10 = 10 ms):"
                 "\n\n" + markdown_table(["setup", "phase", "p50 ms", "p99 ms", "max ms"],
                                          latency))
    sessions = session_rows(figures)
    if sessions:
        text += ("\nAt the leader, per produce phase: follower fetch requests per produce "
                 "request, and incremental fetch sessions (KIP-227) at the end of the phase:"
                 "\n\n" + markdown_table(["setup", "phase", "follower fetches / produce",
                                           "incremental fetch sessions"], sessions))
    ratios = ratio_rows(figures)
    if ratios:
        text += "\nRatios of the medians:\n\n" + markdown_table(
            ["comparison", "msgs/s", "all brokers CPU per msg", "leader CPU per msg"], ratios)
    return text


# -- failover -------------------------------------------------------------------------------

def _measure_fault(bootstrap: str, topic: str, victim: BrokerProcess, sig: signal.Signals, *,
                   interval_s: float, linger_ms: float, warmup_s: float,
                   timeout_s: float) -> dict:
    """Produce every ``interval_s``; after ``warmup_s`` (and at least one ack) send ``sig`` to
    the victim; stop at the first ack of a message produced after it exited."""
    from confluent_kafka import Producer

    log = AckLog()
    errors: dict[str, int] = {}
    pad = b"x" * (VALUE_BYTES - 8)

    def on_delivery(err, msg):
        now = time.monotonic_ns()
        if err is not None:
            errors[err.name()] = errors.get(err.name(), 0) + 1
        else:
            log.record(int.from_bytes(msg.value()[:8], "big"), now)

    # librdkafka's defaults otherwise (linger.ms=5): with linger.ms=0 every message is a
    # request of its own, and 500 acks=all requests/s queue up behind replication.
    conf = {"bootstrap.servers": bootstrap, "acks": "all", "linger.ms": linger_ms,
            "message.timeout.ms": int((timeout_s + 60) * 1000), "log_level": 2}
    p = Producer(conf)
    p.list_topics(topic, timeout=10)
    interval_ns = int(interval_s * 1e9)
    sent = 0
    t0 = next_ns = time.monotonic_ns()
    try:
        # Until a message produced after the broker's exit is acknowledged: only then has
        # the new leader certainly taken over.
        while "exit" not in log.first_ack:
            now = time.monotonic_ns()
            if "signal" not in log.marks and now - t0 >= warmup_s * 1e9 and log.acks:
                log.mark("signal", time.monotonic_ns())
                os.kill(victim.pid, sig)
            if "signal" in log.marks:
                if "exit" not in log.marks and victim.proc.poll() is not None:
                    log.mark("exit", time.monotonic_ns())
                if now - log.marks["signal"] > timeout_s * 1e9:
                    break
            elif now - t0 > (warmup_s + timeout_s) * 1e9:
                raise click.ClickException(f"no acknowledgement from {topic} before the fault")
            p.produce(topic, time.monotonic_ns().to_bytes(8, "big") + pad, partition=0,
                      on_delivery=on_delivery)
            sent += 1
            next_ns += interval_ns
            while (left := next_ns - time.monotonic_ns()) > 0:
                p.poll(left / 1e9)
    finally:
        undelivered = p.flush(30)
    if victim.proc.poll() is None:
        click.echo(f"broker {victim.broker_id} still running {timeout_s:g} s after "
                   f"{sig.name}: SIGKILL", err=True)
        victim.kill()
    signal_ns = log.marks["signal"]
    return {
        "first_ack_after_signal_s": log.seconds_to_first_ack("signal"),
        "longest_ack_gap_s": log.longest_gap_s("signal"),
        "first_ack_after_exit_s": (None if "exit" not in log.first_ack else
                                   (log.first_ack["exit"] - signal_ns) / 1e9),
        "victim_exit_s": (log.marks["exit"] - signal_ns) / 1e9 if "exit" in log.marks else None,
        "ack_latency_before_ms": log.ack_latency_before_ms("signal"),
        "sent": sent, "acked": len(log.acks), "errors": errors,
        "undelivered_after_flush": undelivered, "timed_out": "exit" not in log.first_ack,
        "producer_conf": conf,
    }


def _failover(*, zk_hosts: str, out: Path, trials: int, session_timeout_ms: int,
              interval_ms: float, linger_ms: float) -> list[dict]:
    from confluent_kafka.admin import AdminClient, NewTopic

    brokers: list[BrokerProcess] = []
    topic = "failover"
    results = []
    try:
        _start_brokers(brokers, 3, f"{zk_hosts}/bench-cluster-{os.getpid()}-failover",
                       Path(tempfile.mkdtemp(prefix="failover-", dir=out)),
                       _overrides(session_timeout_ms, True))
        by_id = {b.broker_id: b for b in brokers}
        bootstrap = ",".join(b.bootstrap for b in brokers)
        admin = AdminClient({"bootstrap.servers": bootstrap, "log_level": 2})
        admin.create_topics([NewTopic(topic, 1, 3)], operation_timeout=30)[topic].result(60)
        for n in range(1, trials + 1):
            for sig in (signal.SIGKILL, signal.SIGTERM):
                part = _wait_isr_full(admin, topic)
                md = _metadata(admin, topic)
                victim = by_id[part.leader]
                controller = md.controller_id if md else None
                click.echo(f"== failover {n}/{trials}: {sig.name} to leader {victim.broker_id} "
                           f"(pid {victim.pid}; controller {controller}), load average "
                           f"{_load()}", err=True)
                load_before = os.getloadavg()
                r = _measure_fault(bootstrap, topic, victim, sig, interval_s=interval_ms / 1000,
                                   linger_ms=linger_ms, warmup_s=2.0,
                                   timeout_s=max(60.0, session_timeout_ms / 250))
                after = _partition(admin, topic)
                r.update({"signal": sig.name, "trial": n, "victim": victim.broker_id,
                          "victim_was_controller": controller == victim.broker_id,
                          "new_leader": after.leader if after else None,
                          "loadavg_before": load_before, "loadavg_after": os.getloadavg()})
                click.echo(f"   first ack after {r['first_ack_after_signal_s']} s, longest "
                           f"gap {r['longest_ack_gap_s']} s; broker exited after "
                           f"{r['victim_exit_s']} s; new leader {r['new_leader']}; "
                           f"errors {r['errors']}", err=True)
                results.append(r)
                # Restart under the same id once the cluster has let go of it (for SIGKILL its
                # registration lapses with its session), then wait for a full ISR again.
                _wait(lambda v=victim.broker_id: (m := _metadata(admin)) is not None
                      and v not in m.brokers, 60, f"broker {victim.broker_id} to leave")
                victim.stop()  # already exited: closes its log file
                victim.start()
        _wait_isr_full(admin, topic)
    finally:
        _stop_brokers(brokers)
    return results


def _failover_report(results: list[dict], session_timeout_ms: int, zk_tick: str) -> str:
    head = ["fault", "n", "first ack after the signal, s", "longest time without acks, s",
            "broker exited after, s", "leader was also controller", "ack latency before, ms"]
    rows = []
    for sig, label in (("SIGKILL", "SIGKILL leader (crash)"),
                       ("SIGTERM", "SIGTERM leader (controlled shutdown)")):
        rs = [r for r in results if r["signal"] == sig]
        if not rs:
            continue

        def cell(key: str, rs: list[dict] = rs) -> str:
            values = [r[key] for r in rs if r[key] is not None]
            missing = len(rs) - len(values)
            return format_spread(values) + (f"; {missing} missing" if missing else "")
        rows.append([label, str(len(rs)), cell("first_ack_after_signal_s"),
                     cell("longest_ack_gap_s"), cell("victim_exit_s"),
                     f"{sum(r['victim_was_controller'] for r in rs)} of {len(rs)}",
                     cell("ack_latency_before_ms")])
    return (f"zookeeper.session.timeout.ms={session_timeout_ms} (a crash is noticed when the "
            f"session expires), ZooKeeper tickTime={zk_tick}\n\n" + markdown_table(head, rows))


# -- the command ----------------------------------------------------------------------------

def _zk_tick_ms() -> int:
    from kafkalite.config import load_properties

    path = CONFIG_DIR / "zookeeper.properties"
    props = load_properties(str(path)) if path.exists() else {}
    return int(props.get("tickTime", 2000))


@click.command(context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--bench-dir", envvar="BENCH_DIR", default=str(REPO_ROOT.parent / "shared" / "bench"),
              show_default=True, help="The benchmark harness (peer_bench.py).")
@click.option("--repeats", envvar="REPEATS", type=click.IntRange(min=1), default=3,
              show_default=True, help="Throughput runs per setup, interleaved.")
@click.option("--failovers", envvar="FAILOVERS", type=click.IntRange(min=0), default=3,
              show_default=True, help="Trials of each fault (SIGKILL, SIGTERM); 0 skips them.")
@click.option("--session-timeout-ms", envvar="SESSION_TIMEOUT_MS", type=int, default=6000,
              show_default=True, help="zookeeper.session.timeout.ms of every broker.")
@click.option("--interval-ms", envvar="INTERVAL_MS", type=float, default=2.0, show_default=True,
              help="Failover producer: one message every this many ms.")
@click.option("--linger-ms", envvar="LINGER_MS", type=float, default=5.0, show_default=True,
              help="Failover producer's linger.ms (librdkafka's default).")
@click.option("--single-scenarios", envvar="SINGLE_SCENARIOS", default="acks1-none,acks1-lz4",
              show_default=True, help="peer_bench --scenarios on one broker.")
@click.option("--cluster-scenarios", envvar="CLUSTER_SCENARIOS",
              default="acks1-none,acksall-none,acksall-lz4", show_default=True,
              help="peer_bench --scenarios on three brokers.")
@click.option("--bench-args", envvar="BENCH_ARGS", default="",
              help="Extra peer_bench.py arguments for both setups.")
@click.option("--skip-throughput", is_flag=True, help="Only measure failovers.")
@click.option("--peer/--no-peer", envvar="PEER", default=False, show_default=True,
              help="Also run the harness's peer broker (one node) with the cluster scenarios, "
                   "interleaved, and show kafkalite's ratios against it.")
@click.option("--latency/--no-latency", envvar="LATENCY", default=False, show_default=True,
              help="Also run peer_bench's end-to-end latency phase (acks=all) on the three "
                   "brokers (and on the peer with --peer).")
@click.option("--prewarm-mb", envvar="PREWARM_MB", type=click.IntRange(min=0), default=0,
              show_default=True,
              help="Before each run's throughput phases (kafkalite's and the peer's; after "
                   "the latency phase, which then runs on its own), write and delete this many "
                   "MB of scratch file next to the logs, so the phases' first page-cache writes "
                   "reuse recently freed memory (see prewarm_page_pool).")
@click.option("--outdir", envvar="OUTDIR", default=None, help="JSON results (default: a temp dir).")
def bench_cluster(bench_dir: str, repeats: int, failovers: int, session_timeout_ms: int,
                  interval_ms: float, linger_ms: float, single_scenarios: str,
                  cluster_scenarios: str, bench_args: str, skip_throughput: bool,
                  peer: bool, latency: bool, prewarm_mb: int, outdir: str | None) -> None:
    """Replication cost (acks=all, RF=3 vs acks=1 on one broker) and leader failover time."""
    harness = Path(bench_dir)
    if not skip_throughput and not (harness / "peer_bench.py").exists():
        click.echo(f"ERROR: no benchmark harness at {harness} (set BENCH_DIR)", err=True)
        sys.exit(1)
    out = Path(outdir or tempfile.mkdtemp(prefix="kafkalite-bench-cluster-"))
    out.mkdir(parents=True, exist_ok=True)
    from kafkalite.zk.launcher import LocalZooKeeper, ZooKeeperNotFound

    zk = None
    zk_hosts = os.environ.get("KAFKALITE_ZK_CONNECT")
    zk_tick = "unknown (KAFKALITE_ZK_CONNECT)"
    meta = {"started_utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "cpus": os.cpu_count(), "loadavg_at_start": os.getloadavg(),
            "session_timeout_ms": session_timeout_ms, "repeats": repeats,
            "failovers": failovers, "interval_ms": interval_ms, "linger_ms": linger_ms,
            "prewarm_mb": prewarm_mb}
    results: dict[str, list[dict]] = {"single": [], "cluster": [], "peer": []}
    fault_results: list[dict] = []
    try:
        if not zk_hosts:
            tick = _zk_tick_ms()
            zk_tick = f"{tick} ms"
            try:
                zk = LocalZooKeeper(tick_ms=tick, data_dir=str(out / "zookeeper")).start()
            except ZooKeeperNotFound as e:
                click.echo(f"ERROR: {e}", err=True)
                sys.exit(1)
            zk_hosts = zk.hosts
        meta["zookeeper_tick"] = zk_tick
        click.echo(f"bench-cluster: {os.cpu_count()} CPUs, load average {_load()}, "
                   f"zookeeper.session.timeout.ms={session_timeout_ms}, ZooKeeper {zk_hosts} "
                   f"tickTime {zk_tick}; results in {out}", err=True)
        if not skip_throughput:
            for i in range(1, repeats + 1):
                for setup, scenarios in (("single", single_scenarios),
                                         ("cluster", cluster_scenarios)):
                    results[setup].append(_throughput_run(
                        setup, i, harness=harness, zk_hosts=zk_hosts, out=out,
                        scenarios=scenarios, session_timeout_ms=session_timeout_ms,
                        bench_args=bench_args, latency=latency, prewarm_mb=prewarm_mb))
                if peer:
                    results["peer"].append(_peer_run(
                        i, harness=harness, out=out, scenarios=",".join(dict.fromkeys(
                            single_scenarios.split(",") + cluster_scenarios.split(","))),
                        latency=latency, bench_args=bench_args, prewarm_mb=prewarm_mb))
        if failovers:
            fault_results = _failover(zk_hosts=zk_hosts, out=out, trials=failovers,
                                      session_timeout_ms=session_timeout_ms,
                                      interval_ms=interval_ms, linger_ms=linger_ms)
            (out / "failover.json").write_text(json.dumps(fault_results, indent=2) + "\n")
    finally:
        if zk is not None:
            zk.stop()
    meta["loadavg_at_end"] = os.getloadavg()
    report = (f"Measured {meta['started_utc']} on {os.cpu_count()} CPUs shared with other "
              f"work: load average {' '.join(f'{x:.2f}' for x in meta['loadavg_at_start'])} "
              f"at the start, {_load()} at the end (1, 5, 15 min).\n\n")
    if not skip_throughput:
        report += (f"Throughput, {repeats} interleaved runs per setup (median (min–max)); "
                   f"100-byte values, peer_bench defaults; every partition led by broker "
                   f"{LEADER}"
                   + (f"; {prewarm_mb} MB written and deleted before each run's throughput "
                      "phases" + (" (after its latency phase)" if latency else "")
                      if prewarm_mb else "") + ":\n\n" + _throughput_report(results) + "\n")
    if fault_results:
        report += (f"Failover, one RF=3 partition, acks=all, a message every {interval_ms:g} "
                   f"ms (linger.ms={linger_ms:g}), min.insync.replicas=2:\n\n"
                   + _failover_report(fault_results, session_timeout_ms, zk_tick))
    summary = {"meta": meta, "throughput": collect(results), "failover": fault_results}
    (out / "summary.json").write_text(json.dumps(summary, indent=2) + "\n")
    (out / "summary.md").write_text(report)
    click.echo(report)
    click.echo(f"results in {out}", err=True)


main = bench_cluster

if __name__ == "__main__":
    main()
