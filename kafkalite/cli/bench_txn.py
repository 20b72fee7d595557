"""``make bench-txn``: what exactly-once costs on a replicated cluster.

Three brokers, a topic with replication factor 3 and ``min.insync.replicas=2`` whose partition
is led by broker 0 (so its CPU is the leader's), the real librdkafka client in this process,
100-byte values. Per run, on a fresh cluster (ZooKeeper chroot and log dirs):

* **produce acks=all, idempotent**: ``--records`` records, no transactions (the baseline);
* **produce transactional**: the same, in transactions of ``--txn-size`` records (begin,
  produce, commit: every commit costs an EndTxn round trip, the coordinator's two
  ``__transaction_state`` writes and a marker per partition);
* **consume** the transactional topic from offset 0 with ``read_uncommitted`` and with
  ``read_committed`` (which reads only up to the last stable offset and receives the aborted
  transactions of each fetch; here one transaction in ten is aborted).

Reported per phase: msgs/s and broker CPU per message (all three brokers together), as medians
(min–max) over ``--repeats`` runs, and the ratios the closing note quotes. Nothing is asserted;
on two cores the client competes with the brokers, so CPU per message says more than msgs/s.
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
import time
from pathlib import Path

import click

from kafkalite.cli.bench_cluster import (
    _cpu_seconds, _overrides, _start_brokers, _stop_brokers, _wait_isr_full, format_spread,
    markdown_table)

__all__ = ["main"]

VALUE = b"x" * 100
PHASES = ("produce acks=all", "produce transactional", "consume read_uncommitted",
          "consume read_committed")


class _Meter:
    """Wall time and the brokers' CPU seconds over one phase."""

    def __init__(self, pids: list[int]):
        self.pids = pids

    def __enter__(self):
        self.cpu0 = [_cpu_seconds(p) or 0.0 for p in self.pids]
        self.t0 = time.monotonic()
        return self

    def __exit__(self, *exc):
        self.wall = time.monotonic() - self.t0
        self.cpu = sum((_cpu_seconds(p) or 0.0) - c for p, c in zip(self.pids, self.cpu0))

    def figures(self, messages: int) -> dict:
        return {"msgs_per_s": messages / self.wall,
                "broker_cpu_us_per_msg": self.cpu / messages * 1e6}


def _produce(bootstrap: str, topic: str, records: int, *, txn_size: int | None,
             abort_every: int = 0) -> int:
    from confluent_kafka import Producer

    config = {"bootstrap.servers": bootstrap, "linger.ms": 5, "acks": "all",
              "enable.idempotence": True, "queue.buffering.max.messages": 1000000}
    if txn_size is None:
        p = Producer(config)
        for i in range(records):
            while True:
                try:
                    p.produce(topic, VALUE, partition=0)
                    break
                except BufferError:
                    p.poll(0.05)
        assert p.flush(120) == 0
        return records
    p = Producer(dict(config, **{"transactional.id": f"bench-{topic}"}))
    p.init_transactions(60)
    sent = 0
    for n, start in enumerate(range(0, records, txn_size), 1):
        p.begin_transaction()
        for _ in range(start, min(start + txn_size, records)):
            p.produce(topic, VALUE, partition=0)
        if abort_every and n % abort_every == 0:
            assert p.flush(60) == 0  # sent, so the aborted records are in the log
            p.abort_transaction(60)
        else:
            p.commit_transaction(60)
        sent += min(txn_size, records - start)
    return sent


def _consume(bootstrap: str, topic: str, isolation: str, expect: int) -> int:
    from confluent_kafka import Consumer, TopicPartition

    c = Consumer({"bootstrap.servers": bootstrap, "group.id": f"bench-{isolation}",
                  "isolation.level": isolation, "enable.auto.commit": False,
                  "fetch.max.bytes": 52428800, "max.partition.fetch.bytes": 10485760})
    c.assign([TopicPartition(topic, 0, 0)])
    got, deadline = 0, time.monotonic() + 120
    try:
        while got < expect and time.monotonic() < deadline:
            got += sum(1 for m in c.consume(10000, timeout=0.5) if m.error() is None)
    finally:
        c.close()
    return got


def _run(i: int, *, zk_hosts: str, out: Path, records: int, txn_size: int) -> dict:
    from confluent_kafka.admin import AdminClient, NewTopic

    overrides = _overrides(6000, replicated=True)
    overrides.update({"transaction.state.log.replication.factor": 3,
                      "transaction.state.log.min.isr": 2,
                      "transaction.state.log.num.partitions": 3})
    brokers: list = []
    try:
        _start_brokers(brokers, 3, f"{zk_hosts}/bench-txn-{os.getpid()}-{i}",
                       out / f"run-{i}", overrides)
        bootstrap = ",".join(b.bootstrap for b in brokers)
        admin = AdminClient({"bootstrap.servers": bootstrap})
        for topic in ("plain", "txn"):
            admin.create_topics([NewTopic(topic, num_partitions=1,
                                          replica_assignment=[[0, 1, 2]])])[topic].result(60)
            _wait_isr_full(admin, topic)
        pids = [b.proc.pid for b in brokers]
        result = {}
        with _Meter(pids) as m:
            n = _produce(bootstrap, "plain", records, txn_size=None)
        result["produce acks=all"] = m.figures(n)
        with _Meter(pids) as m:
            n = _produce(bootstrap, "txn", records, txn_size=txn_size, abort_every=10)
        result["produce transactional"] = m.figures(n)
        committed = records - sum(min(txn_size, records - s) for k, s in
                                  enumerate(range(0, records, txn_size), 1) if k % 10 == 0)
        for isolation, expect in (("read_uncommitted", records), ("read_committed", committed)):
            with _Meter(pids) as m:
                n = _consume(bootstrap, "txn", isolation, expect)
            result[f"consume {isolation}"] = m.figures(n)
        return result
    finally:
        _stop_brokers(brokers)


@click.command(context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--repeats", envvar="REPEATS", type=click.IntRange(min=1), default=3,
              show_default=True)
@click.option("--records", envvar="RECORDS", type=click.IntRange(min=1000), default=200000,
              show_default=True, help="Records per phase.")
@click.option("--txn-size", envvar="TXN_SIZE", type=click.IntRange(min=1), default=500,
              show_default=True, help="Records per transaction.")
@click.option("--outdir", envvar="OUTDIR", default=None, help="JSON results (default: temp).")
def bench_txn(repeats: int, records: int, txn_size: int, outdir: str | None) -> None:
    """Transactional produce and read_committed consume beside their plain counterparts."""
    from kafkalite.zk.launcher import LocalZooKeeper

    out = Path(outdir or tempfile.mkdtemp(prefix="kafkalite-bench-txn-"))
    out.mkdir(parents=True, exist_ok=True)
    zk = None
    hosts = os.environ.get("KAFKALITE_ZK_CONNECT")
    if not hosts:
        zk = LocalZooKeeper(data_dir=str(out / "zookeeper"))
        zk.start()
        hosts = zk.hosts
    runs = []
    try:
        for i in range(1, repeats + 1):
            runs.append(_run(i, zk_hosts=hosts, out=out, records=records, txn_size=txn_size))
            (out / f"txn-{i}.json").write_text(json.dumps(runs[-1], indent=1))
            click.echo(f"run {i}: " + ", ".join(f"{k} {v['msgs_per_s']:.0f}/s"
                                                for k, v in runs[-1].items()), err=True)
    finally:
        if zk is not None:
            zk.stop()
    rows = [[phase, format_spread([r[phase]["msgs_per_s"] for r in runs]),
             format_spread([r[phase]["broker_cpu_us_per_msg"] for r in runs])]
            for phase in PHASES]
    click.echo(markdown_table(["phase", "msgs/s", "broker CPU µs/msg (3 brokers)"], rows))

    def ratio(a: str, b: str, key: str) -> str:
        return format_spread([r[a][key] / r[b][key] for r in runs])
    click.echo("\n" + markdown_table(["ratio", "msgs/s", "broker CPU per msg"], [
        ["transactional / acks=all", ratio("produce transactional", "produce acks=all",
                                          "msgs_per_s"),
         ratio("produce transactional", "produce acks=all", "broker_cpu_us_per_msg")],
        ["read_committed / read_uncommitted",
         ratio("consume read_committed", "consume read_uncommitted", "msgs_per_s"),
         ratio("consume read_committed", "consume read_uncommitted",
               "broker_cpu_us_per_msg")]]))
    click.echo(f"results in {out}", err=True)


main = bench_txn

if __name__ == "__main__":
    sys.exit(main())
