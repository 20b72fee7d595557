"""One chaos run: cluster up, workload and nemesis for a while, heal, final read, check.

The output directory gets ``history.jsonl`` (every client and nemesis event, JSON lines),
``chaos.json`` (the checker's report, plus the run's parameters and what the brokers logged
as errors) and ``cluster/`` (each broker's properties, stdout log and log4j files, ZooKeeper's
data). See :mod:`kafkalite.testing.checker` for the rows of the report.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import random
import signal
import time
from collections.abc import Callable, Sequence
from pathlib import Path

from kafkalite.testing.checker import Report, check
from kafkalite.testing.chaos.cluster import ChaosCluster
from kafkalite.testing.chaos.history import History, read_history
from kafkalite.testing.chaos.nemesis import ALL_FAULTS, Nemesis
from kafkalite.testing.chaos.workload import (AssignConsumer, Client, IdempotentProducer,
                                              SubscribeConsumer, TransactionalProducer,
                                              final_read)

__all__ = ["run_chaos", "check_dir", "TOPIC", "PARTITIONS"]

TOPIC = "chaos"
PARTITIONS = 3


def create_topic(bootstrap: str, topic: str, partitions: int) -> None:
    from confluent_kafka.admin import AdminClient, NewTopic

    admin = AdminClient({"bootstrap.servers": bootstrap})
    futures = admin.create_topics([NewTopic(topic, partitions, 3)], operation_timeout=60)
    futures[topic].result(timeout=90)
    del admin


def _wait(predicate, timeout: float, interval: float = 0.5) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(interval)
    return bool(predicate())


def heal(cluster: ChaosCluster, log: Callable[[str], None]) -> None:
    """Undo every fault: links, clocks, stopped processes, ZooKeeper, dead brokers."""
    cluster.net.heal()
    for b in cluster.brokers:
        cluster.set_clock_offset(b, 0)
        cluster.brokers[b].signal(signal.SIGCONT)
    if cluster.zk is None:
        cluster.start_zookeeper()
    for b, broker in cluster.brokers.items():
        if not cluster.alive(b):
            log(f"heal: restarting broker {b} (exit code {broker.proc.returncode})")
            broker.stop()
            broker.start(wait=False)


def broker_errors(cluster: ChaosCluster, limit: int = 5) -> dict[str, dict]:
    """Per broker, how many ERROR lines and tracebacks its stdout log has, and the first few."""
    out = {}
    for b, broker in cluster.brokers.items():
        try:
            lines = broker.log_path.read_text(errors="replace").splitlines()
        except OSError:
            continue
        bad = [ln for ln in lines if " ERROR " in ln or ln.startswith("Traceback")]
        out[str(b)] = {"count": len(bad), "first": bad[:limit]}
    return out


def run_chaos(outdir: Path, duration_s: float, *, kinds: Sequence[str] = ALL_FAULTS,
              seed: int | None = None, log: Callable[[str], None] = print,
              broker_env: dict | None = None, props: dict | None = None) -> Report:
    """Run the workload under the nemesis for ``duration_s`` seconds and check the history.

    ``broker_env`` adds to the brokers' environment (``KAFKALITE_TEST_UNSAFE_ACKS=1`` for the
    broken-build proof).
    """
    outdir = Path(outdir)
    outdir.mkdir(parents=True, exist_ok=True)
    # The harness's own ZooKeeper observer reconnects through every ZooKeeper restart.
    logging.getLogger("kazoo").setLevel(logging.CRITICAL)
    seed = random.randrange(1 << 30) if seed is None else seed
    rng = random.Random(seed)
    history_path = outdir / "history.jsonl"
    history_path.unlink(missing_ok=True)
    history = History(history_path)
    started = time.monotonic()
    meta: dict = {"duration_s": duration_s, "seed": seed, "kinds": list(kinds),
                  "topic": TOPIC, "partitions": PARTITIONS, "cpus": os.cpu_count(),
                  "started_utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}
    cluster = ChaosCluster(outdir / "cluster", env=broker_env, props=props)
    clients: list[Client] = []
    try:
        log(f"chaos: starting ZooKeeper and {cluster.n} brokers in {outdir / 'cluster'}")
        cluster.start()
        meta["disk_full_possible"] = cluster.disk_full_possible
        if "disk-full" in kinds and not cluster.disk_full_possible:
            log("chaos: no tmpfs could be mounted (not root?): the disk-full fault is off")
        create_topic(cluster.direct_bootstrap, TOPIC, PARTITIONS)
        if not _wait(lambda: cluster.isr_full({TOPIC: PARTITIONS}), 60):
            raise RuntimeError(f"{TOPIC}: ISRs never full")
        common = dict(history=history, bootstrap=cluster.bootstrap, topic=TOPIC,
                      partitions=PARTITIONS)
        clients = [
            IdempotentProducer("idem0", **common, rate=40, seed=rng.randrange(1 << 30)),
            IdempotentProducer("idem1", **common, rate=40, seed=rng.randrange(1 << 30)),
            TransactionalProducer("txn0", **common, seed=rng.randrange(1 << 30)),
            SubscribeConsumer("sub0", **common, seed=rng.randrange(1 << 30)),
            SubscribeConsumer("sub1", **common, seed=rng.randrange(1 << 30)),
            AssignConsumer("asg0", **common, seed=rng.randrange(1 << 30)),
        ]
        for c in clients:
            c.start()
        nemesis = Nemesis(cluster, history, TOPIC, PARTITIONS, kinds=kinds,
                          seed=rng.randrange(1 << 30), log=log)
        next_report = [time.monotonic() + 10]

        def check() -> None:
            dead = [c for c in clients if not c.thread.is_alive()]
            if dead:
                raise RuntimeError(f"client {dead[0].name} died") from dead[0].error
            if time.monotonic() >= next_report[0]:
                next_report[0] = time.monotonic() + 10
                log(f"chaos: {time.monotonic() - started:.0f}s, {history.count('ack')} acks, "
                    f"{history.count('poll')} polls, faults {nemesis.count}")

        nemesis.run(time.monotonic() + duration_s, check)
        meta["faults"] = dict(nemesis.count)
        log("chaos: faults over; healing the cluster")
        heal(cluster, log)
        healed = _wait(lambda: all(cluster.alive(b) and cluster.registered(b)
                                   for b in cluster.brokers)
                       and cluster.isr_full({TOPIC: PARTITIONS}), 120)
        meta["healed"] = healed
        log(f"chaos: cluster healed: {healed}; stopping producers")
        for c in clients[:3]:
            c.stop()
        time.sleep(5)   # consumers read what the last acks wrote
        for c in clients[3:]:
            c.stop()
        log("chaos: final read")
        meta["final_ends"] = final_read(history, cluster.bootstrap, TOPIC, PARTITIONS)
    finally:
        for c in clients:
            c.stopping.set()
        for c in clients:
            c.thread.join(120)
        history.close()
        meta["broker_errors"] = broker_errors(cluster)
        meta["wall_s"] = round(time.monotonic() - started, 1)
        with contextlib.suppress(Exception):
            cluster.close()
    return check_dir(outdir, meta=meta)


def check_dir(outdir: Path, *, meta: dict | None = None) -> Report:
    """Check ``outdir/history.jsonl`` and write ``outdir/chaos.json`` (``meta`` under
    ``run``; when None, the ``run`` of an existing chaos.json is kept)."""
    outdir = Path(outdir)
    report = check(read_history(outdir / "history.jsonl"))
    out = report.to_json()
    if meta is None and (outdir / "chaos.json").exists():
        meta = json.loads((outdir / "chaos.json").read_text()).get("run")
    out["run"] = meta or {}
    (outdir / "chaos.json").write_text(json.dumps(out, indent=2) + "\n")
    return report
