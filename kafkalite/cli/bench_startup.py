"""``make bench-startup``: broker start time with many partitions, after a clean and an unclean stop.

Creates one topic with ``--partitions`` partitions (one record in each), stops the broker with
SIGTERM (clean: ``.kafka_cleanshutdown`` written) and measures the time from process start
until every partition has a leader in the broker's metadata; then the same after SIGKILL
(unclean: the logs are recovered from the recovery-point checkpoint). Prints the figures; it
asserts nothing.
"""

from __future__ import annotations

import os
import tempfile
import time
from pathlib import Path

import click

from kafkalite.cli.cluster import BrokerProcess


def _all_leaders(bootstrap: str, topic: str, partitions: int) -> bool:
    from confluent_kafka.admin import AdminClient

    try:
        md = AdminClient({"bootstrap.servers": bootstrap}).list_topics(topic, timeout=5)
    except Exception:  # noqa: BLE001 - not up yet
        return False
    t = md.topics.get(topic)
    return bool(t and t.error is None and len(t.partitions) == partitions
                and all(p.leader >= 0 for p in t.partitions.values()))


def _log_loading_seconds(b: BrokerProcess, since: int) -> float:
    """Seconds between the first "Loading logs" and the "started" line of this start."""
    text = b.log_path.read_bytes()[since:].decode(errors="replace").splitlines()

    def stamp(line: str) -> float:
        ts = time.strptime(line[1:20], "%Y-%m-%d %H:%M:%S")
        return time.mktime(ts) + int(line[21:24]) / 1000

    first = next(stamp(x) for x in text if "Loading logs from log dir" in x)
    done = next(stamp(x) for x in text if "Log manager started" in x or "] started" in x)
    return done - first


def _timed_start(b: BrokerProcess, topic: str, partitions: int) -> tuple[float, float]:
    since = b.log_path.stat().st_size if b.log_path.exists() else 0
    t0 = time.monotonic()
    b.start(wait=False)
    while not _all_leaders(b.bootstrap, topic, partitions):
        if b.proc.poll() is not None:
            raise click.ClickException(f"broker exited:\n{b.log_tail()}")
        time.sleep(0.05)
    return time.monotonic() - t0, _log_loading_seconds(b, since)


@click.command(context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--partitions", type=int, default=1000, show_default=True)
@click.option("--repeats", type=int, default=3, show_default=True)
def bench_startup(partitions: int, repeats: int) -> None:
    """Measure broker start time with N partitions after clean and unclean stops."""
    from confluent_kafka import Producer
    from confluent_kafka.admin import AdminClient, NewTopic

    from kafkalite.zk.launcher import LocalZooKeeper

    work = Path(tempfile.mkdtemp(prefix="kafkalite-bench-startup-"))
    zk = LocalZooKeeper(data_dir=str(work / "zookeeper"), tick_ms=500)
    zk.start()
    try:
        b = BrokerProcess(broker_id=0, zk_connect=f"{zk.hosts}/startup-{os.getpid()}",
                          workdir=work / "broker",
                          overrides={"zookeeper.session.timeout.ms": 2000})
        b.start()
        topic = "startup"
        admin = AdminClient({"bootstrap.servers": b.bootstrap})
        admin.create_topics([NewTopic(topic, partitions, 1)],
                            operation_timeout=300)[topic].result(300)
        p = Producer({"bootstrap.servers": b.bootstrap, "linger.ms": 50})
        for i in range(partitions):
            p.produce(topic, b"x" * 100, partition=i)
        p.flush(120)
        results: dict[str, list[tuple[float, float]]] = {"clean": [], "unclean": []}
        for _ in range(repeats):
            b.stop()
            results["clean"].append(_timed_start(b, topic, partitions))
            b.kill()
            results["unclean"].append(_timed_start(b, topic, partitions))
        b.stop()
        for kind, runs in results.items():
            total = sorted(r[0] for r in runs)
            loading = sorted(r[1] for r in runs)
            click.echo(f"start with {partitions} partitions after a {kind} stop: until every "
                       f"partition has a leader median {total[len(total) // 2]:.2f} s "
                       f"(min {total[0]:.2f}, max {total[-1]:.2f}); loading logs to registered "
                       f"median {loading[len(loading) // 2]:.2f} s")
    finally:
        zk.stop()


main = bench_startup

if __name__ == "__main__":
    main()
