"""``make bench-metrics``: what the metrics endpoint costs, with the shared harness.

Two set-ups, interleaved run by run on fresh single brokers: ``metrics_off`` (no HTTP
endpoint) and ``metrics_on`` (``metrics.listener`` on, scraped every ``SCRAPE_S`` seconds for
the whole run, 1 s by default: fifteen times more often than Prometheus' default, so the
figure is an upper bound). The event counters themselves are always on (they are per request
and per partition, never per record); this compares the broker with its endpoint served and
scraped against the broker without it. The summary gives medians and on/off ratios.
"""

from __future__ import annotations

import glob
import os
import subprocess
import sys
import tempfile
import threading
import urllib.request
from pathlib import Path

import click

from kafkalite.cli.bench import find_harness, run_kafkalite, start_zookeeper
from kafkalite.cli.cluster import REPO_ROOT, free_port

__all__ = ["main"]


class Scraper:
    """GET a URL every ``period_s`` in a thread; counts the scrapes that answered."""

    def __init__(self, url: str, period_s: float):
        self.url = url
        self.period_s = period_s
        self.ok = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> "Scraper":
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join(10)

    def _run(self) -> None:
        while not self._stop.wait(self.period_s):
            try:
                with urllib.request.urlopen(self.url, timeout=5) as resp:
                    resp.read()
                self.ok += 1
            except OSError:
                pass  # the broker of this run is not up yet, or already gone


@click.command(context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--bench-dir", envvar="BENCH_DIR", default=str(REPO_ROOT.parent / "shared" / "bench"),
              show_default=True, help="The benchmark harness (peer_bench.py, run_broker.sh).")
@click.option("--repeats", envvar="REPEATS", type=int, default=3, show_default=True)
@click.option("--scrape-s", envvar="SCRAPE_S", type=float, default=1.0, show_default=True,
              help="Seconds between scrapes of /metrics in the metrics_on runs.")
@click.option("--bench-args", envvar="BENCH_ARGS", default="--skip latency",
              show_default=True, help="Extra peer_bench.py args for both set-ups.")
@click.option("--outdir", envvar="OUTDIR", default=None)
def bench_metrics(bench_dir: str, repeats: int, scrape_s: float, bench_args: str,
                  outdir: str | None) -> None:
    """Benchmark produce and consume with the metrics endpoint on (and scraped) and off."""
    harness = find_harness(bench_dir)
    out = Path(outdir or tempfile.mkdtemp(prefix="kafkalite-bench-metrics-"))
    out.mkdir(parents=True, exist_ok=True)
    connect, zk = start_zookeeper(out)
    scrapes = 0
    try:
        for i in range(1, repeats + 1):
            for label in ("metrics_off", "metrics_on"):
                overrides = {"log.dirs": out / f"logs-{i}-{label}",
                             "zookeeper.connect": f"{connect}/bench-metrics-{os.getpid()}-{i}-"
                                                  f"{label}"}
                if label == "metrics_off":
                    run_kafkalite(harness, label, i, out, overrides, bench_args=bench_args)
                    continue
                port = free_port()
                overrides["metrics.listener"] = f"http://127.0.0.1:{port}"
                with Scraper(f"http://127.0.0.1:{port}/metrics", scrape_s) as scraper:
                    run_kafkalite(harness, label, i, out, overrides, bench_args=bench_args)
                scrapes += scraper.ok
    finally:
        if zk is not None:
            zk.stop()
    if scrapes == 0:
        raise click.ClickException("no scrape of /metrics answered during the metrics_on runs")
    files = sorted(glob.glob(str(out / "metrics_off-[0-9]*.json"))) + \
        sorted(glob.glob(str(out / "metrics_on-[0-9]*.json")))
    subprocess.run([sys.executable, str(harness / "aggregate.py"), *files,
                    "--baseline", "metrics_off", "--markdown"], check=True)
    click.echo(f"{scrapes} scrapes answered; results in {out}", err=True)


main = bench_metrics

if __name__ == "__main__":
    main()
