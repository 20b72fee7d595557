"""``make bench-scale``: one broker and a 3-broker cluster with many partitions.

Part one, one broker with ``--partitions`` partitions (topics of ``--partitions-per-topic``
partitions, one 100-byte record in each): the time to create them, the resident memory, the
open file descriptors (``/proc/<pid>/fd``; ``ulimit -n`` is the ceiling that matters), the time
of a Metadata request for all topics, and the start time (process start until every partition
has a leader in the broker's metadata) after a clean stop (SIGTERM) and after SIGKILL.

Part two, three brokers with the same number of partitions at replication factor 3: created,
stopped cleanly, then all three started at once; ``cluster_start_elect_s`` is the time until
every broker's metadata shows a leader for every partition. Then (once every ISR is full, or
after two minutes) a preferred-replica election gives each broker its share of leaderships
(``controller_led_partitions`` says how many the controller led), and the controller is
SIGKILLed: ``controller_failover_s`` is the time from the kill until a new controller holds
``/controller`` and both survivors' metadata name a live controller, no longer list the dead
broker and show a live leader for every partition it led that had another in-sync replica
(each survivor polled on its own thread every 0.2 s; ``survivor_metadata_moved_s`` says when
each one's answer came). That includes the ZooKeeper session timeout (``session_timeout_ms``
in the output): the dead broker's znodes go only when its session expires, and
``controller_elected_s`` says when the new controller took ``/controller``.

Writes ``OUTDIR/scale.json`` and prints a table. Asserts nothing: figures, not tests.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import struct
import tempfile
import time
from pathlib import Path

import click

from kafkalite.cli.cluster import BrokerProcess

__all__ = ["bench_scale", "metadata", "rss_mb", "open_files"]


def _request(host: str, port: int, api_key: int, version: int, body: bytes,
             timeout: float) -> bytes:
    from kafkalite.protocol.header import RequestHeader, encode_request_header

    frame = encode_request_header(RequestHeader(api_key, version, 1, "bench-scale")) + body
    with socket.create_connection((host, port), timeout=timeout) as s:
        s.sendall(struct.pack(">i", len(frame)) + frame)
        buf = bytearray()
        need = 4
        while len(buf) < need:
            chunk = s.recv(1 << 20)
            if not chunk:
                raise ConnectionError("closed")
            buf += chunk
            if len(buf) >= 4:
                need = 4 + struct.unpack(">i", buf[:4])[0]
    return bytes(buf[8:])


def metadata(b: BrokerProcess, timeout: float = 30.0, version: int = 1):
    """(seconds for the round trip, decoded MetadataResponse) for all topics."""
    from kafkalite.protocol.codec import decode, encode
    from kafkalite.protocol.messages.metadata import MetadataRequest, MetadataResponse

    body = encode(MetadataRequest(topics=None, allow_auto_topic_creation=False), version)
    t0 = time.perf_counter()
    raw = _request(b.host, b.port, 3, version, body, timeout)
    took = time.perf_counter() - t0
    return took, decode(MetadataResponse, version, raw)


def _partitions(b: BrokerProcess, topics: set[str]) -> dict | None:
    """(topic, partition) -> MetadataResponsePartition in ``b``'s metadata; None if down."""
    try:
        _, md = metadata(b, timeout=10)
    except (OSError, ConnectionError, ValueError):
        return None
    return {(t.name, p.partition_index): p for t in md.topics if t.name in topics
            for p in t.partitions}


def _leaders(b: BrokerProcess, topics: set[str]) -> dict[tuple[str, int], int] | None:
    parts = _partitions(b, topics)
    return None if parts is None else {k: p.leader_id for k, p in parts.items()}


def _isr_complete(b: BrokerProcess, topics: set[str], partitions: int) -> bool:
    parts = _partitions(b, topics)
    return bool(parts) and len(parts) == partitions and all(
        set(p.isr_nodes) == set(p.replica_nodes) for p in parts.values())


def _all_led(b: BrokerProcess, topics: set[str], partitions: int,
             dead: int | None = None, live: set[int] | None = None) -> bool:
    leaders = _leaders(b, topics)
    if leaders is None or len(leaders) != partitions:
        return False
    return all(l >= 0 and l != dead and (live is None or l in live) for l in leaders.values())


def rss_mb(pid: int) -> float:
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def open_files(pid: int) -> int:
    return len(os.listdir(f"/proc/{pid}/fd"))


def _cpu_s(pid: int) -> float:
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


# How often the bench asks for metadata while it waits: with 10,000 partitions an answer built
# after each UpdateMetadata costs the broker real CPU, which the wait must not steal from it.
POLL_S = 0.2


def _wait(cond, what: str, brokers: list[BrokerProcess], timeout: float) -> float:
    t0 = time.monotonic()
    while not cond():
        for b in brokers:
            if b.proc is not None and b.proc.poll() is not None:
                raise click.ClickException(f"broker {b.broker_id} exited:\n{b.log_tail()}")
        if time.monotonic() - t0 > timeout:
            raise click.ClickException(f"{what}: not done after {timeout} s")
        time.sleep(POLL_S)
    return time.monotonic() - t0


def _topic_names(partitions: int, per_topic: int) -> dict[str, int]:
    out, left, i = {}, partitions, 0
    while left > 0:
        n = min(per_topic, left)
        out[f"scale-{i:05d}"] = n
        left -= n
        i += 1
    return out


def _create_topics(b: BrokerProcess, topics: dict[str, int], rf: int, timeout: float) -> float:
    from confluent_kafka.admin import AdminClient, NewTopic

    admin = AdminClient({"bootstrap.servers": b.bootstrap, "socket.timeout.ms": 300000})
    t0 = time.monotonic()
    names = list(topics)
    for i in range(0, len(names), 50):
        chunk = names[i:i + 50]
        futures = admin.create_topics([NewTopic(t, topics[t], rf) for t in chunk],
                                      operation_timeout=timeout, request_timeout=timeout)
        for f in futures.values():
            f.result(timeout)
    return time.monotonic() - t0


def _produce_one_each(b: BrokerProcess, topics: dict[str, int]) -> None:
    from confluent_kafka import Producer

    p = Producer({"bootstrap.servers": b.bootstrap, "linger.ms": 50,
                  "queue.buffering.max.messages": 1000000})
    for t, n in topics.items():
        for i in range(n):
            p.produce(t, b"x" * 100, partition=i)
        p.poll(0)
    left = p.flush(300)
    if left:
        raise click.ClickException(f"{left} records not delivered")


def _metadata_ms(b: BrokerProcess, repeats: int = 5) -> tuple[float, float]:
    """(first, median of the next ``repeats``) ms of Metadata v4 for all topics. The broker
    keeps answers encoded until the next UpdateMetadata, and the start-up polling asked v1,
    so the first v4 answer is built from the cache and the others are served encoded."""
    first = metadata(b, version=4)[0]
    times = sorted(metadata(b, version=4)[0] for _ in range(repeats))
    return round(first * 1000, 1), round(times[len(times) // 2] * 1000, 1)


def _single_broker(zk_hosts: str, work: Path, partitions: int, per_topic: int,
                   session_timeout_ms: int, produce: bool, timeout: float) -> dict:
    topics = _topic_names(partitions, per_topic)
    names = set(topics)
    b = BrokerProcess(broker_id=0, zk_connect=f"{zk_hosts}/scale1-{os.getpid()}",
                      workdir=work / "single",
                      overrides={"zookeeper.session.timeout.ms": session_timeout_ms})
    out: dict = {}
    try:
        b.start(timeout=timeout)
        out["rss_empty_mb"] = round(rss_mb(b.pid), 1)
        out["create_topics_s"] = round(_create_topics(b, topics, 1, timeout), 2)
        _wait(lambda: _all_led(b, names, partitions), "leaders after create", [b], timeout)
        if produce:
            _produce_one_each(b, topics)
        out["rss_after_create_mb"] = round(rss_mb(b.pid), 1)
        out["open_files_after_create"] = open_files(b.pid)

        b.stop(grace=timeout)
        t0 = time.monotonic()
        b.start(wait=False)
        out["startup_s"] = round(_wait(lambda: _all_led(b, names, partitions),
                                       "start-up (clean)", [b], timeout), 2)
        out["startup_cpu_s"] = round(_cpu_s(b.pid), 2)
        time.sleep(1)
        out["rss_mb"] = round(rss_mb(b.pid), 1)
        out["open_files"] = open_files(b.pid)
        out["metadata_all_topics_first_ms"], out["metadata_all_topics_ms"] = _metadata_ms(b)
        del t0

        b.kill()
        b.start(wait=False)
        out["startup_after_kill_s"] = round(_wait(lambda: _all_led(b, names, partitions),
                                                  "start-up (after SIGKILL)", [b], timeout), 2)
        out["startup_after_kill_cpu_s"] = round(_cpu_s(b.pid), 2)
        out["open_files_after_kill_start"] = open_files(b.pid)
        out["rss_mb_per_1k_partitions"] = round(out["rss_mb"] / partitions * 1000, 2)
        out["rss_mb_per_1k_partitions_above_empty"] = round(
            (out["rss_mb"] - out["rss_empty_mb"]) / partitions * 1000, 2)
    finally:
        b.stop(grace=timeout)
    return out


def _controller_id(zk_connect: str) -> int | None:
    from kafkalite.zk.errors import NoNodeError
    from kafkalite.zk.kafka_zk import KafkaZk
    from kafkalite.zk.session import SyncZk

    with SyncZk(zk_connect) as zk:
        try:
            data, _ = zk.get("/controller")
        except NoNodeError:
            return None
    return KafkaZk.controller_id_of(data)


class _ControllerGoneWatch:
    """Polls ``/controller`` on one ZooKeeper session (a thread, every few milliseconds) and
    notes when it stops naming ``controller``: the dead controller's session has expired."""

    def __init__(self, zk_connect: str, controller: int):
        import threading

        self.gone_at: float | None = None
        self._connect = zk_connect
        self._controller = controller
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def start(self) -> None:
        self._thread.start()

    def _run(self) -> None:
        from kafkalite.zk.errors import NoNodeError
        from kafkalite.zk.kafka_zk import KafkaZk
        from kafkalite.zk.session import SyncZk

        with SyncZk(self._connect) as zk:
            while not self._stop.is_set():
                try:
                    data, _ = zk.get("/controller")
                    c = KafkaZk.controller_id_of(data)
                except NoNodeError:
                    c = None
                if c != self._controller:
                    self.gone_at = time.monotonic()
                    return
                self._stop.wait(0.005)

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)


def _preferred_led(b: BrokerProcess, topics: set[str], partitions: int) -> bool:
    parts = _partitions(b, topics)
    return bool(parts) and len(parts) == partitions and all(
        p.leader_id == p.replica_nodes[0] for p in parts.values())


def _preferred_election(brokers: list[BrokerProcess], topics: set[str], partitions: int,
                        timeout: float) -> float:
    """ElectLeaders (preferred, every partition), then the wait until every broker's metadata
    shows each partition led by its first assigned replica. Seconds taken."""
    from confluent_kafka import ElectionType
    from confluent_kafka.admin import AdminClient

    admin = AdminClient({"bootstrap.servers": brokers[0].bootstrap,
                         "socket.timeout.ms": int(timeout * 1000)})
    t0 = time.monotonic()
    # (confluent-kafka 2.16 takes no timeout keywords here: socket.timeout.ms bounds it.)
    admin.elect_leaders(ElectionType.PREFERRED, None).result(timeout)
    _wait(lambda: all(_preferred_led(b, topics, partitions) for b in brokers),
          "preferred leaders", brokers, timeout)
    return time.monotonic() - t0


def _cluster(zk_hosts: str, work: Path, partitions: int, per_topic: int,
             session_timeout_ms: int, timeout: float, profile_dir: Path | None = None) -> dict:
    topics = _topic_names(partitions, per_topic)
    names = set(topics)
    connect = f"{zk_hosts}/scale3-{os.getpid()}"
    brokers = [BrokerProcess(broker_id=i, zk_connect=connect, workdir=work / f"cluster-{i}",
                             overrides={"zookeeper.session.timeout.ms": session_timeout_ms})
               for i in range(3)]
    out: dict = {"brokers": 3, "replication_factor": 3, "partition_replicas": 3 * partitions,
                 "session_timeout_ms": session_timeout_ms}
    try:
        for b in brokers:
            b.start(wait=False)
        for b in brokers:
            b.wait_ready(timeout)
        out["create_topics_s"] = round(_create_topics(brokers[0], topics, 3, timeout), 2)
        _wait(lambda: all(_all_led(b, names, partitions) for b in brokers),
              "leaders after create", brokers, timeout)
        for b in brokers:
            b.stop(grace=timeout)
        started = time.monotonic()
        for b in brokers:
            b.start(wait=False)
        out["cluster_start_elect_s"] = round(_wait(
            lambda: all(_all_led(b, names, partitions) for b in brokers),
            "cluster start", brokers, timeout), 2)
        out["rss_mb"] = [round(rss_mb(b.pid), 1) for b in brokers]
        out["open_files"] = [open_files(b.pid) for b in brokers]

        # A partition whose ISR is the dead broker alone cannot fail over (no unclean
        # election): wait (bounded) for full ISRs, and time only partitions that can move.
        try:
            out["isr_complete_after_s"] = round(_wait(
                lambda: _isr_complete(brokers[0], names, partitions), "full ISRs", brokers,
                min(timeout, 120)), 2)
            out["cluster_isr_full_s"] = round(time.monotonic() - started, 2)
        except click.ClickException:
            out["isr_complete_after_s"] = None
            out["cluster_isr_full_s"] = None
        # All three started at once: whichever registered first took most leaderships. A
        # preferred-replica election gives each broker its share (the assignment rotates the
        # first replica), so the controller killed below leads about a third of the partitions
        # and the failover moves them, not none.
        try:
            out["preferred_election_s"] = round(_preferred_election(
                brokers, names, partitions, min(timeout, 120)), 2)
        except Exception as e:   # figures still come, with the share the victim had
            click.echo(f"preferred election: {e}", err=True)
            out["preferred_election_s"] = None
        controller = _controller_id(connect)
        victim = next(b for b in brokers if b.broker_id == controller)
        survivors = [b for b in brokers if b is not victim]
        live = {b.broker_id for b in survivors}
        before: dict = {}
        for _ in range(10):   # a busy broker's answer may time out: the kill needs it
            before = _partitions(survivors[0], names) or {}
            if len(before) == partitions:
                break
            time.sleep(POLL_S)
        led = {k for k, p in before.items() if p.leader_id == controller}
        movable = {k for k in led if set(before[k].isr_nodes) & live}
        out["controller_led_partitions"] = len(led)
        out["leaders_per_broker"] = {str(b.broker_id): sum(p.leader_id == b.broker_id
                                                           for p in before.values())
                                     for b in brokers}
        out["partitions_led_by_controller_with_isr_elsewhere"] = len(movable)
        spies = []
        if profile_dir is not None:   # py-spy on the survivors during the failover
            import subprocess
            import sys
            spy = Path(sys.executable).with_name("py-spy")
            spies = [subprocess.Popen([str(spy), "record", "-r", "100", "-d", "15", "-f", "raw",
                                       "-o", str(profile_dir / f"failover-broker-{b.broker_id}.txt"),
                                       "--pid", str(b.pid)],
                                      stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
                     for b in survivors]
            time.sleep(1)
        gone = _ControllerGoneWatch(connect, controller)
        gone.start()
        t0 = time.monotonic()
        victim.kill()
        elected = None

        def moved(b: BrokerProcess) -> bool:
            """The dead broker is out of ``b``'s metadata and its partitions have leaders."""
            try:
                _, md = metadata(b, timeout=10)
            except (OSError, ConnectionError, ValueError):
                return False
            leaders = {(t.name, p.partition_index): p.leader_id for t in md.topics
                       if t.name in names for p in t.partitions}
            return controller not in {x.node_id for x in md.brokers} and \
                md.controller_id in live and all(leaders.get(k) in live for k in movable)

        # Each survivor is polled on its own: an answer of thousands of partitions from a
        # busy broker takes a while, and must not delay noticing that the other one is done.
        # A survivor is done when the first answer showing it all arrives.
        import threading

        seen: dict[int, float] = {}
        stop = threading.Event()

        def watch(b: BrokerProcess) -> None:
            while not stop.is_set():
                if moved(b):
                    seen[b.broker_id] = time.monotonic()
                    return
                stop.wait(POLL_S)

        watchers = [threading.Thread(target=watch, args=(b,), daemon=True) for b in survivors]
        for w in watchers:
            w.start()
        while True:
            now = time.monotonic() - t0
            if elected is None:
                c = _controller_id(connect)
                if c is not None and c != controller:
                    elected = now
            if len(seen) == len(survivors):
                break
            for b in survivors:
                if b.proc.poll() is not None:
                    raise click.ClickException(f"broker {b.broker_id} exited:\n{b.log_tail()}")
            if now > timeout:
                stop.set()
                raise click.ClickException(f"controller failover: not done after {timeout} s")
            time.sleep(POLL_S / 4)
        done = max(seen.values())
        out["survivor_metadata_moved_s"] = {str(b): round(at - t0, 2) for b, at in seen.items()}
        gone.stop()
        out["controller_failover_s"] = round(done - t0, 2)
        out["controller_failover_after_expiry_s"] = (
            None if gone.gone_at is None else round(done - gone.gone_at, 2))
        for spy in spies:
            spy.wait()
        out["controller_elected_s"] = None if elected is None else round(elected, 2)
    finally:
        for b in brokers:
            b.stop(grace=timeout)
    return out


def _table(result: dict) -> str:
    rows = [("partitions", result["partitions"], ""),
            ("start-up after clean stop", result["startup_s"], "s"),
            ("start-up after SIGKILL", result["startup_after_kill_s"], "s"),
            ("RSS per 1k partitions", result["rss_mb_per_1k_partitions"], "MB"),
            ("Metadata, all topics (first)", result["single_broker"].get(
                "metadata_all_topics_first_ms"), "ms"),
            ("Metadata, all topics (again)", result["metadata_all_topics_ms"], "ms"),
            ("open files", result["open_files"], "")]
    c = result.get("cluster") or {}
    if c:
        rows += [("3 brokers RF=3: start + elect", c["cluster_start_elect_s"], "s"),
                 ("ISRs full after cluster start", c.get("cluster_isr_full_s"), "s"),
                 ("partitions the controller led", c.get("controller_led_partitions"), ""),
                 ("controller failover (SIGKILL)", result["controller_failover_s"], "s"),
                 ("  of which after session expiry", c.get("controller_failover_after_expiry_s"),
                  "s")]
    return "\n".join(f"{name:<34}{value!s:>10} {unit}" for name, value, unit in rows)


@click.command(context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--partitions", type=int, default=int(os.environ.get("PARTITIONS") or 10000),
              show_default=True)
@click.option("--partitions-per-topic", type=int, default=100, show_default=True)
@click.option("--outdir", type=click.Path(file_okay=False),
              default=lambda: os.environ.get("OUTDIR") or "",
              help="Where scale.json goes (default: a new temporary directory).")
@click.option("--session-timeout-ms", type=int, default=3000, show_default=True)
@click.option("--timeout", type=float, default=600, show_default=True,
              help="Give up a phase after this many seconds.")
@click.option("--cluster/--no-cluster", default=True, show_default=True,
              help="Also run the 3-broker part.")
@click.option("--single/--no-single", default=True, show_default=True,
              help="Run the one-broker part.")
@click.option("--profile-failover", is_flag=True,
              help="py-spy the surviving brokers during the failover (raw stacks in OUTDIR).")
@click.option("--produce/--no-produce", default=True, show_default=True,
              help="One record in each partition of the single broker before restarts.")
def bench_scale(partitions: int, partitions_per_topic: int, outdir: str,
                session_timeout_ms: int, timeout: float, cluster: bool, single: bool,
                profile_failover: bool, produce: bool) -> None:
    """Start-up, memory, files, metadata and controller failover with many partitions."""
    from kafkalite.zk.launcher import LocalZooKeeper

    out = Path(outdir or tempfile.mkdtemp(prefix="kafkalite-scale-"))
    out.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix="kafkalite-bench-scale-"))
    zk = None
    zk_hosts = os.environ.get("KAFKALITE_ZK_CONNECT")
    if not zk_hosts:
        zk = LocalZooKeeper(data_dir=str(work / "zookeeper"), tick_ms=500)
        zk.start()
        zk_hosts = zk.hosts
    signal.signal(signal.SIGTERM, _terminate)
    try:
        single_result = {}
        if single:
            single_result = _single_broker(zk_hosts, work, partitions, partitions_per_topic,
                                           session_timeout_ms, produce, timeout)
        result = {
            "partitions": partitions,
            "startup_s": single_result.get("startup_s"),
            "startup_after_kill_s": single_result.get("startup_after_kill_s"),
            "controller_failover_s": None,
            "controller_failover_after_expiry_s": None,
            "controller_led_partitions": None,
            "cluster_isr_full_s": None,
            "rss_mb_per_1k_partitions": single_result.get("rss_mb_per_1k_partitions"),
            "metadata_all_topics_ms": single_result.get("metadata_all_topics_ms"),
            "open_files": single_result.get("open_files"),
            "partitions_per_topic": partitions_per_topic,
            "ulimit_n": _nofile(),
            "single_broker": single_result,
        }
        (out / "scale.json").write_text(json.dumps(result, indent=2) + "\n")
        if cluster:
            c = _cluster(zk_hosts, work, partitions, partitions_per_topic, session_timeout_ms,
                         timeout, out if profile_failover else None)
            result["controller_failover_s"] = c["controller_failover_s"]
            result["controller_failover_after_expiry_s"] = c["controller_failover_after_expiry_s"]
            result["controller_led_partitions"] = c.get("controller_led_partitions")
            result["cluster_isr_full_s"] = c.get("cluster_isr_full_s")
            result["cluster"] = c
        (out / "scale.json").write_text(json.dumps(result, indent=2) + "\n")
        click.echo(_table(result))
        click.echo(f"wrote {out / 'scale.json'}")
    finally:
        if zk is not None:
            zk.stop()


def _terminate(signum, frame) -> None:
    raise SystemExit(f"terminated by signal {signum}")   # run the finally blocks: stop brokers


def _nofile() -> int:
    import resource

    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


main = bench_scale

if __name__ == "__main__":
    main()
