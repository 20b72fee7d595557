"""``make bench``: measure a kafkalite broker with the shared benchmark harness.

Starts a real ZooKeeper (or uses ``KAFKALITE_ZK_CONNECT``), then has the harness's
``run_broker.sh`` start a fresh kafkalite broker process per run (so its CPU is measured on
the broker's own PID) and drive it with librdkafka: produce (acks=1/all, none/lz4, one record
per request), consume from offset 0, and end-to-end latency. With ``--peer`` the harness's peer
broker is benchmarked too, interleaved run by run on the same machine, and the summary shows
ratios against it. Throughput is never asserted in tests; this is where it is measured.
"""

from __future__ import annotations

import glob
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import click

from kafkalite.cli.cluster import REPO_ROOT


# The HTTP endpoints are off in benchmarks unless a benchmark is about them (bench-metrics):
# the shipped server.properties turns them on at fixed ports.
NO_HTTP = {"metrics.listener": "", "console.listener": ""}


def run_kafkalite(harness: Path, label: str, run: int, out: Path, overrides: dict,
                  *, bench_args: str = "", env: dict | None = None) -> None:
    """One harness run of one fresh broker (``config/server.properties`` plus
    ``overrides``; ``{PORT}`` is the harness's port), results in ``out/<label>-<run>.json``."""
    cmd = [str(harness / "run_broker.sh"), label, sys.executable, "-m", "kafkalite.cli.server",
           str(REPO_ROOT / "config" / "server.properties")]
    for key, value in {"listeners": "PLAINTEXT://127.0.0.1:{PORT}", "num.partitions": "1",
                       **NO_HTTP, **overrides}.items():
        cmd += ["--override", f"{key}={value}"]
    subprocess.run(cmd, env=dict(env or os.environ, PYTHON=sys.executable, OUTDIR=str(out),
                                 REPEATS="1", RUN_START=str(run), BENCH_ARGS=bench_args),
                   check=True)


def start_zookeeper(out: Path):
    """``(connect string, LocalZooKeeper or None)``: ``KAFKALITE_ZK_CONNECT`` if set."""
    from kafkalite.zk.launcher import LocalZooKeeper

    connect = os.environ.get("KAFKALITE_ZK_CONNECT")
    if connect:
        return connect, None
    zk = LocalZooKeeper(data_dir=str(out / "zookeeper"))
    zk.start()
    return zk.hosts, zk


def find_harness(bench_dir: str) -> Path:
    harness = Path(bench_dir)
    if not (harness / "run_broker.sh").exists():
        click.echo(f"ERROR: no benchmark harness at {harness} (set BENCH_DIR)", err=True)
        sys.exit(1)
    return harness


@click.command(context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--bench-dir", envvar="BENCH_DIR", default=str(REPO_ROOT.parent / "shared" / "bench"),
              show_default=True, help="The benchmark harness (peer_bench.py, run_broker.sh).")
@click.option("--repeats", envvar="REPEATS", type=int, default=3, show_default=True)
@click.option("--peer/--no-peer", envvar="PEER", default=False,
              help="Also run the harness's peer broker, interleaved.")
@click.option("--bench-args", envvar="BENCH_ARGS", default="", help="Extra peer_bench.py args.")
@click.option("--outdir", envvar="OUTDIR", default=None)
def bench(bench_dir: str, repeats: int, peer: bool, bench_args: str, outdir: str | None) -> None:
    """Benchmark kafkalite (and optionally the peer broker) with the shared harness."""
    harness = find_harness(bench_dir)
    out = Path(outdir or tempfile.mkdtemp(prefix="kafkalite-bench-"))
    out.mkdir(parents=True, exist_ok=True)
    connect, zk = start_zookeeper(out)
    env = dict(os.environ, PYTHON=sys.executable, OUTDIR=str(out), REPEATS="1",
               BENCH_ARGS=bench_args)
    try:
        for i in range(1, repeats + 1):
            env["RUN_START"] = str(i)
            run_kafkalite(harness, "kafkalite", i, out, {
                "log.dirs": out / f"kafkalite-logs-{i}",
                "zookeeper.connect": f"{connect}/bench-{os.getpid()}-{i}"},
                bench_args=bench_args)
            if peer:
                subprocess.run([str(harness / "run_tansu.sh")],
                               env=dict(env, LIMITS="1" if i == 1 else "0"), check=True)
    finally:
        if zk is not None:
            zk.stop()
    files = sorted(glob.glob(str(out / "kafkalite-[0-9]*.json")))
    args = [sys.executable, str(harness / "aggregate.py"), *files]
    if peer:
        args += sorted(glob.glob(str(out / "tansu-[0-9]*.json"))) + ["--baseline", "tansu"]
        if (out / "limits.json").exists():
            args += ["--limits", str(out / "limits.json")]
    subprocess.run(args + ["--markdown"], check=True)
    click.echo(f"results in {out}", err=True)


main = bench

if __name__ == "__main__":
    main()
