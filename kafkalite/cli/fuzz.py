"""``make fuzz``: structure-aware protocol fuzzing of a real broker beside a healthy client.

What it does:

1. starts a real ZooKeeper (``KAFKALITE_ZK_CONNECT`` if set, else
   :class:`~kafkalite.zk.launcher.LocalZooKeeper`) and one broker
   (:class:`~kafkalite.cli.cluster.BrokerProcess`, started like a user starts it) with topics
   ``healthy``, ``fuzz`` and the compacted ``fuzz-compact``;
2. runs a confluent-kafka producer on ``healthy`` (acks=1, one record every few
   milliseconds) and records each record's send-to-acknowledgement latency;
3. sends ``--frames`` fuzzed frames (:mod:`kafkalite.cli.fuzz_frames`: valid requests of every
   API and version, the same with one field at an extreme, byte mutations, truncations, absurd
   sizes, random bytes, unknown versions, compression bombs) from ``--workers`` threads, a few
   frames per connection, reading what the broker answers until it closes the connection or
   goes quiet;
4. writes ``<outdir>/fuzz.json``: frames sent per kind, ``broker_alive``, ``rss_growth_mb``
   (VmRSS of the broker from ``/proc/<pid>/status``, after warm-up vs. at the end),
   ``healthy_p99_ms`` (the healthy producer's acks during the fuzz; also its baseline alone
   beforehand and each tenth of the run), and every crash found in the broker's logs (a log
   record with a ``Traceback``), and prints a short report.

Exit status 1 when the broker died, a crash was logged or the RSS grew more than
``--max-rss-growth-mb``. A ``ProtocolViolation`` is not a crash: the broker logs it as Kafka
does ("Unexpected error from /127.0.0.1; closing connection") and closes that connection;
those lines are counted apart.

Run it with ``make fuzz FRAMES=N OUTDIR=D`` or ``python -m kafkalite.cli.fuzz``.
"""

from __future__ import annotations

import json
import multiprocessing
import os
import random
import re
import shutil
import socket
import struct
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter
from pathlib import Path

import click

__all__ = ["main", "rss_mb", "scan_logs", "percentile"]

HEALTHY_TOPIC = "healthy"
PLAIN_TOPIC = "fuzz"
COMPACT_TOPIC = "fuzz-compact"
# Strings the fuzzed requests mostly use: existing topics, a group, ids. Never HEALTHY_TOPIC.
NAMES = (PLAIN_TOPIC, COMPACT_TOPIC, "fuzz-group", "fuzz-txn", "fuzz-client", "0")
# Kind weights (per 1000 frames): bombs are heavy for the broker, a few suffice.
WEIGHTS = {"valid": 230, "field": 280, "bytes": 200, "truncated": 90, "oversize": 20,
           "random": 100, "version": 75, "bomb": 5}
_SIZE = struct.Struct(">i")
_TRACEBACK = "Traceback (most recent call last)"


def rss_mb(pid: int) -> float | None:
    """Resident set size of ``pid`` in MB (``VmRSS`` of /proc/<pid>/status), None if gone."""
    try:
        with open(f"/proc/{pid}/status", encoding="ascii") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        return None
    return None


def percentile(values: list[float], q: float) -> float | None:
    """The ``q``-th percentile (nearest rank) of ``values``; None when empty."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, min(len(ordered), int(-(-q * len(ordered) // 100))))
    return ordered[rank - 1]


def scan_logs(paths: list[Path]) -> tuple[list[dict], int]:
    """Crashes and protocol-violation lines in broker log files.

    A log record starts with a ``[timestamp]`` line; one that carries a ``Traceback`` is a
    crash (chained exceptions included), identified by its final exception line and the
    innermost kafkalite frame.

    Returns:
        ``(crashes, violations)``: one entry per distinct crash (message, exception, where,
        one traceback, count), and the number of "Unexpected error ... closing connection"
        records without a traceback (a peer broke the protocol).
    """
    crashes: dict[tuple[str, str], dict] = {}
    violations = 0
    for path in paths:
        try:
            text = path.read_text(errors="replace")
        except OSError:
            continue
        for record in _records(text.splitlines()):
            head = record[0]
            if any(line.startswith(_TRACEBACK) for line in record):
                body = [line for line in record[1:] if line.strip()]
                exception = next((line for line in reversed(body)
                                  if not line.startswith((" ", "\t"))), "")
                frames = [line.strip() for line in body
                          if line.lstrip().startswith("File") and "kafkalite" in line]
                where = frames[-1] if frames else ""
                entry = crashes.setdefault((exception, where), {
                    "file": path.name, "message": re.sub(r"^\[[^]]*\] ", "", head),
                    "exception": exception, "where": where, "traceback": "\n".join(body),
                    "count": 0})
                entry["count"] += 1
            elif "unexpected error" in head.lower():
                violations += 1
    return list(crashes.values()), violations


def _records(lines: list[str]) -> list[list[str]]:
    out: list[list[str]] = []
    for line in lines:
        if line.startswith("[") or not out:
            out.append([line])
        else:
            out[-1].append(line)
    return out


# -- the healthy client -------------------------------------------------------------------------

class HealthyProducer:
    """A confluent-kafka producer writing to HEALTHY_TOPIC in a process of its own (so the
    fuzzing threads cannot delay its callbacks), recording each ack's latency."""

    def __init__(self, bootstrap: str, interval_s: float = 0.005):
        ctx = multiprocessing.get_context("spawn")
        self._measure = ctx.Event()
        self._stop = ctx.Event()
        self._results, child = ctx.Pipe(duplex=False)
        self._process = ctx.Process(target=_healthy_main, daemon=True,
                                    args=(bootstrap, interval_s, self._measure, self._stop,
                                          child))
        self._summary: dict | None = None
        self.samples: list[tuple[float, float]] = []

    def start(self) -> None:
        self._process.start()

    def measure(self) -> None:
        """From now on, latencies count (warm-up is over)."""
        self._measure.set()

    def window(self, start: float, end: float) -> dict:
        """Latency figures of the acks between two ``time.monotonic()`` instants (available
        once :meth:`stop` returned)."""
        lat = [ms for t, ms in self.samples if start <= t < end]
        return {"acks": len(lat), "p50_ms": _round(percentile(lat, 50)),
                "p99_ms": _round(percentile(lat, 99)), "max_ms": _round(max(lat, default=None))}

    def stop(self) -> dict:
        self._stop.set()
        if self._results.poll(120):
            self._summary, self.samples = self._results.recv()
        self._process.join(30)
        if self._process.is_alive():
            self._process.kill()
        lat = [ms for _, ms in self.samples]
        summary = self._summary or {"sent": 0, "errors": {"no report": 1}}
        return {**summary, "acked_measured": len(lat), "p50_ms": percentile(lat, 50),
                "p99_ms": percentile(lat, 99), "max_ms": max(lat) if lat else None}


def _healthy_main(bootstrap: str, interval_s: float, measure, stop, results) -> None:
    from confluent_kafka import Producer

    producer = Producer({"bootstrap.servers": bootstrap, "acks": 1, "linger.ms": 0,
                         "message.timeout.ms": 30000})
    samples: list[tuple[float, float]] = []
    errors: Counter = Counter()
    sent = 0

    def done(err, _msg, sent_at: float, measuring: bool) -> None:
        if err is not None:
            errors[str(err.name())] += 1
        elif measuring:
            now = time.monotonic()
            samples.append((now, (now - sent_at) * 1000))

    while not stop.is_set():
        sent_at, measuring = time.monotonic(), measure.is_set()
        try:
            producer.produce(HEALTHY_TOPIC, b"h%d" % sent,
                             on_delivery=lambda e, m, t=sent_at, s=measuring: done(e, m, t, s))
            sent += 1
        except BufferError:
            errors["BufferError"] += 1
        producer.poll(interval_s)
    unsent = producer.flush(60)
    results.send(({"sent": sent, "errors": dict(errors), "undelivered": unsent}, samples))


# -- the fuzzing workers ------------------------------------------------------------------------

class Fuzzer:
    """Sends ``frames`` cases from ``workers`` threads; counts what was sent and answered."""

    def __init__(self, host: str, port: int, frames: int, workers: int, seed: int,
                 supported: dict, max_frame_bytes: int, weights: dict[str, int] = WEIGHTS):
        self.host, self.port = host, port
        self.weights = weights
        self.frames, self.workers, self.seed = frames, workers, seed
        self.supported, self.max_frame_bytes = supported, max_frame_bytes
        self.lock = threading.Lock()
        self.sent = 0
        self.by_kind: Counter = Counter()
        self.connections = 0
        self.answered = 0
        self.connect_errors = 0
        self._next = 0

    def _claim(self, n: int) -> int:
        with self.lock:
            n = min(n, self.frames - self._next)
            self._next += n
            return n

    def _release(self, n: int) -> None:
        """Frames claimed but not sent (the broker closed the connection first)."""
        with self.lock:
            self._next -= n

    def run(self) -> None:
        threads = [threading.Thread(target=self._worker, args=(i,), daemon=True)
                   for i in range(self.workers)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()

    def _worker(self, index: int) -> None:
        from kafkalite.cli.fuzz_frames import FrameFactory

        rng = random.Random(self.seed * 1000 + index)
        factory = FrameFactory(self.supported, rng, names=NAMES,
                               bomb_topics=(COMPACT_TOPIC, COMPACT_TOPIC, PLAIN_TOPIC),
                               max_frame_bytes=self.max_frame_bytes)
        kinds = [k for k, w in self.weights.items() for _ in range(w)]
        while True:
            n = self._claim(rng.randint(1, 12))
            if n <= 0:
                return
            cases = []
            while len(cases) < n:
                case = factory.case(rng.choice(kinds))
                if not case.complete and len(cases) < n - 1:
                    continue   # the broker waits for its missing bytes: only ever last
                cases.append(case)
            self._release(n - self._send(cases))

    def _send(self, cases) -> int:
        """Send ``cases`` on one connection; returns how many went out."""
        try:
            s = socket.create_connection((self.host, self.port), timeout=5)
        except OSError:
            with self.lock:
                self.connect_errors += 1
            time.sleep(0.05)
            return 0
        answered = 0
        sent = Counter()
        with s:
            try:
                for case in cases:
                    s.sendall(case.data)
                    sent[case.kind] += 1
                s.shutdown(socket.SHUT_WR)
                answered = _drain(s, idle_s=1.0, total_s=5.0)
            except OSError:
                pass   # the broker closed the connection on a broken frame: expected
        with self.lock:
            self.connections += 1
            self.sent += sum(sent.values())
            self.by_kind.update(sent)
            self.answered += answered
        return sum(sent.values())


def _drain(s: socket.socket, *, idle_s: float, total_s: float) -> int:
    """Read responses until the broker closes, stays quiet ``idle_s`` or ``total_s`` pass;
    returns the number of whole response frames seen."""
    deadline = time.monotonic() + total_s
    buf = b""
    frames = 0
    s.settimeout(idle_s)
    while time.monotonic() < deadline:
        try:
            chunk = s.recv(1 << 16)
        except (socket.timeout, OSError):
            break
        if not chunk:
            break
        buf += chunk
        while len(buf) >= 4:
            (size,) = _SIZE.unpack_from(buf, 0)
            if size < 0 or len(buf) < 4 + size:
                break
            buf = buf[4 + size:]
            frames += 1
    return frames


# -- the run -------------------------------------------------------------------------------------

def _create_topics(bootstrap: str) -> None:
    from confluent_kafka.admin import AdminClient, NewTopic

    admin = AdminClient({"bootstrap.servers": bootstrap})
    topics = [NewTopic(HEALTHY_TOPIC, 1, 1),
              NewTopic(PLAIN_TOPIC, 2, 1, config={"retention.bytes": "33554432",
                                                   "segment.bytes": "8388608"}),
              NewTopic(COMPACT_TOPIC, 1, 1, config={"cleanup.policy": "compact",
                                                    "segment.bytes": "8388608"})]
    for topic, future in admin.create_topics(topics, operation_timeout=30).items():
        future.result(timeout=60)


@click.command(context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--frames", envvar="FRAMES", type=int, default=20000, show_default=True,
              help="Fuzzed frames to send.")
@click.option("--outdir", envvar="OUTDIR", default=None,
              help="Where fuzz.json and the broker's files go (default: a temp dir).")
@click.option("--workers", envvar="WORKERS", type=int, default=8, show_default=True,
              help="Sending threads (each with its own connections).")
@click.option("--seed", envvar="SEED", type=int, default=None,
              help="Random seed (default: random; printed and recorded).")
@click.option("--max-rss-growth-mb", envvar="MAX_RSS_GROWTH_MB", type=float, default=100.0,
              show_default=True, help="Fail above this broker RSS growth.")
@click.option("--kinds", envvar="KINDS", default=",".join(WEIGHTS), show_default=True,
              help="Comma-separated kinds of frames to send (see kafkalite.cli.fuzz_frames).")
def main(frames: int, outdir: str | None, workers: int, seed: int | None,
         max_rss_growth_mb: float, kinds: str) -> None:
    """Fuzz one broker with structure-aware frames beside a healthy producer."""
    from kafkalite.cli.cluster import BrokerProcess
    from kafkalite.server.dispatch import supported_versions
    from kafkalite.zk.launcher import LocalZooKeeper, ZooKeeperNotFound

    out = Path(outdir or tempfile.mkdtemp(prefix="kafkalite-fuzz-"))
    out.mkdir(parents=True, exist_ok=True)
    shutil.rmtree(out / "broker", ignore_errors=True)   # an earlier run's broker: a new cluster
    seed = seed if seed is not None else random.randrange(2**31)
    weights = {k: WEIGHTS[k] for k in (k.strip() for k in kinds.split(",")) if k in WEIGHTS}
    if not weights:
        raise click.BadParameter(f"none of {kinds!r} is one of {', '.join(WEIGHTS)}",
                                 param_hint="--kinds")
    zk = None
    zk_hosts = os.environ.get("KAFKALITE_ZK_CONNECT")
    if not zk_hosts:
        try:
            zk = LocalZooKeeper(tick_ms=500).start()
        except ZooKeeperNotFound as e:
            click.echo(f"ERROR: {e}", err=True)
            sys.exit(1)
        zk_hosts = zk.hosts
    chroot = f"/kafkalite-fuzz-{uuid.uuid4().hex[:8]}"
    max_frame_bytes = 104857600
    broker = BrokerProcess(broker_id=0, zk_connect=zk_hosts + chroot, workdir=out / "broker",
                           overrides={"auto.create.topics.enable": "false",
                                      "offsets.topic.replication.factor": 1,
                                      "transaction.state.log.replication.factor": 1,
                                      "transaction.state.log.min.isr": 1,
                                      "group.initial.rebalance.delay.ms": 0,
                                      "log.retention.check.interval.ms": 10000,
                                      "socket.request.max.bytes": max_frame_bytes})
    healthy = None
    fuzz_end = None
    report: dict = {"seed": seed, "frames_requested": frames, "workers": workers,
                    "kinds": sorted(weights)}
    try:
        broker.start(timeout=90)
        _create_topics(broker.bootstrap)
        healthy = HealthyProducer(broker.bootstrap)
        healthy.start()
        time.sleep(3)   # warm-up: the producer's metadata and first batches
        healthy.measure()
        baseline_start = time.monotonic()
        time.sleep(5)   # the healthy producer alone: its baseline latency
        baseline_end = time.monotonic()
        rss_before = rss_mb(broker.pid)
        click.echo(f"fuzz: {frames} frames, {workers} workers, seed {seed}, broker "
                   f"{broker.bootstrap} (pid {broker.pid}, RSS {rss_before:.0f} MB), "
                   f"results in {out}", err=True)
        fuzzer = Fuzzer(broker.host, broker.port, frames, workers, seed, supported_versions(),
                        max_frame_bytes, weights)
        started = fuzz_start = time.monotonic()
        progress = threading.Thread(target=_progress, args=(fuzzer, broker), daemon=True)
        progress.start()
        fuzzer.run()
        duration = time.monotonic() - started
        fuzz_end = time.monotonic()
        time.sleep(3)   # let the broker finish what is queued before measuring
        alive = broker.proc.poll() is None
        rss_after = rss_mb(broker.pid) if alive else None
        report.update({
            "frames": fuzzer.sent, "by_kind": dict(sorted(fuzzer.by_kind.items())),
            "connections": fuzzer.connections, "responses": fuzzer.answered,
            "connect_errors": fuzzer.connect_errors, "duration_s": round(duration, 1),
            "broker_alive": alive, "rss_before_mb": round(rss_before, 1),
            "rss_after_mb": round(rss_after, 1) if rss_after is not None else None,
            "rss_growth_mb": round(rss_after - rss_before, 1) if rss_after is not None
            else None})
    finally:
        if healthy is not None:
            report["healthy"] = healthy.stop()
            if fuzz_end is not None:
                step = (fuzz_end - fuzz_start) / 10
                report["healthy_baseline"] = healthy.window(baseline_start, baseline_end)
                report["healthy_during_fuzz"] = during = healthy.window(fuzz_start, fuzz_end)
                report["healthy_by_tenth"] = [
                    healthy.window(fuzz_start + i * step, fuzz_start + (i + 1) * step)
                    for i in range(10)]
                report["healthy_p99_ms"] = during["p99_ms"]
        broker.stop()
        if zk is not None:
            zk.stop()
    logs = sorted(broker.server_log_dir.glob("*.log")) + [broker.log_path]
    crashes, violations = scan_logs(logs)
    report["crashes"] = crashes
    report["protocol_violations_logged"] = violations
    (out / "fuzz.json").write_text(json.dumps(report, indent=2) + "\n")
    ok = _print_report(report, out, max_rss_growth_mb)
    sys.exit(0 if ok else 1)


def _progress(fuzzer: Fuzzer, broker) -> None:
    last = time.monotonic()
    while fuzzer.sent < fuzzer.frames and broker.proc.poll() is None:
        time.sleep(1)
        if time.monotonic() - last >= 15:
            last = time.monotonic()
            click.echo(f"  {fuzzer.sent}/{fuzzer.frames} frames, {fuzzer.connections} "
                       f"connections, broker RSS {rss_mb(broker.pid) or 0:.0f} MB", err=True)


def _print_report(r: dict, out: Path, max_growth: float) -> bool:
    alive = r.get("broker_alive", False)
    growth = r.get("rss_growth_mb")
    crashes = r.get("crashes", [])
    h = r.get("healthy", {})
    click.echo(f"frames sent        {r.get('frames', 0)} in {r.get('duration_s', '?')} s over "
               f"{r.get('connections', 0)} connections ({r.get('responses', 0)} responses)")
    click.echo("by kind            " + ", ".join(f"{k} {v}" for k, v in
                                                 r.get("by_kind", {}).items()))
    click.echo(f"broker alive       {'yes' if alive else 'NO'}")
    click.echo(f"broker RSS         {r.get('rss_before_mb')} MB -> {r.get('rss_after_mb')} MB "
               f"(growth {growth} MB, limit {max_growth:g})")
    base, during = r.get("healthy_baseline", {}), r.get("healthy_during_fuzz", {})
    click.echo(f"healthy producer   alone: p50 {_ms(base.get('p50_ms'))}, p99 "
               f"{_ms(base.get('p99_ms'))}; during the fuzz: {during.get('acks', 0)} acks, p50 "
               f"{_ms(during.get('p50_ms'))}, p99 {_ms(during.get('p99_ms'))}, max "
               f"{_ms(during.get('max_ms'))}; errors {h.get('errors') or 'none'}")
    click.echo(f"protocol violations logged (connections closed, as Kafka does): "
               f"{r.get('protocol_violations_logged', 0)}")
    click.echo(f"crashes            {sum(c['count'] for c in crashes)}"
               + "".join(f"\n  {c['count']}x {c['exception']}  <- {c['message'][:120]}"
                         for c in crashes))
    click.echo(f"details            {out / 'fuzz.json'}")
    return alive and not crashes and growth is not None and growth < max_growth


def _round(v: float | None) -> float | None:
    return None if v is None else round(v, 2)


def _ms(v: float | None) -> str:
    return "-" if v is None else f"{v:.1f} ms"


if __name__ == "__main__":
    main()
