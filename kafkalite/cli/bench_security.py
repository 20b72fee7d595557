"""``make bench-security``: what SASL_SSL costs against PLAINTEXT, with the shared harness.

One broker per run with two listeners side by side, ``PLAINTEXT`` and ``SASL_SSL``
(SCRAM-SHA-512 over TLS, a PEM keystore made with openssl). The harness's ``run_broker.sh``
starts it (so the measured PID is the broker's) and ``peer_bench.py`` drives it with librdkafka
twice, interleaved run by run: once on the PLAINTEXT listener, once with the producers and
consumers on the SASL_SSL listener (``-X``/``-C`` client settings; topics are created through
the PLAINTEXT listener in both cases). The summary gives medians and the SASL_SSL/PLAINTEXT
ratios. Fetches on the TLS listener cannot use ``sendfile``: the file regions are read and
encrypted in the broker, as Kafka does.
"""

from __future__ import annotations

import glob
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import click

from kafkalite.cli.bench import find_harness, run_kafkalite, start_zookeeper
from kafkalite.cli.cluster import REPO_ROOT, free_port

__all__ = ["main"]

USER, PASSWORD = "bench", "bench-secret"


def _client_args(port: int, ca: Path) -> str:
    settings = [f"bootstrap.servers=127.0.0.1:{port}", "security.protocol=SASL_SSL",
                "sasl.mechanisms=SCRAM-SHA-512", f"sasl.username={USER}",
                f"sasl.password={PASSWORD}", f"ssl.ca.location={ca}"]
    return " ".join(f"{flag} {s}" for s in settings for flag in ("-X", "-C"))


@click.command(context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--bench-dir", envvar="BENCH_DIR", default=str(REPO_ROOT.parent / "shared" / "bench"),
              show_default=True, help="The benchmark harness (peer_bench.py, run_broker.sh).")
@click.option("--repeats", envvar="REPEATS", type=int, default=3, show_default=True)
@click.option("--bench-args", envvar="BENCH_ARGS", default="--skip latency",
              show_default=True, help="Extra peer_bench.py args for both listeners.")
@click.option("--outdir", envvar="OUTDIR", default=None)
def bench_security(bench_dir: str, repeats: int, bench_args: str, outdir: str | None) -> None:
    """Benchmark produce and consume over SASL_SSL beside PLAINTEXT on the same broker."""
    from kafkalite.cli.dev_pki import make_pki

    harness = find_harness(bench_dir)
    out = Path(outdir or tempfile.mkdtemp(prefix="kafkalite-bench-security-"))
    out.mkdir(parents=True, exist_ok=True)
    pki = make_pki(out / "pki")
    connect, zk = start_zookeeper(out)
    jaas = ("org.apache.kafka.common.security.scram.ScramLoginModule required "
            f'username="{USER}" password="{PASSWORD}";')
    try:
        for i in range(1, repeats + 1):
            for label in ("plaintext", "sasl_ssl"):
                chroot = f"{connect}/bench-security-{os.getpid()}-{i}-{label}"
                r = subprocess.run(
                    [str(REPO_ROOT / "scripts" / "kafka-configs.sh"), "--zookeeper", chroot,
                     "--alter", "--add-config", f"SCRAM-SHA-512=[password={PASSWORD}]",
                     "--entity-type", "users", "--entity-name", USER],
                    env=dict(os.environ, KAFKALITE_PYTHON=sys.executable),
                    capture_output=True, text=True)
                if r.returncode != 0:
                    raise click.ClickException(f"creating the SCRAM user failed: {r.stderr}")
                secure_port = free_port()
                args = bench_args + (" " + _client_args(secure_port, pki.ca)
                                     if label == "sasl_ssl" else "")
                run_kafkalite(harness, label, i, out, {
                    "listeners": "PLAINTEXT://127.0.0.1:{PORT},"
                                 f"SASL_SSL://127.0.0.1:{secure_port}",
                    "inter.broker.listener.name": "PLAINTEXT",
                    "sasl.enabled.mechanisms": "SCRAM-SHA-512",
                    "listener.name.sasl_ssl.scram-sha-512.sasl.jaas.config": jaas,
                    "ssl.keystore.type": "PEM",
                    "ssl.keystore.location": pki.broker_keystore,
                    "ssl.key.password": pki.broker_key_password,
                    "log.dirs": out / f"logs-{i}-{label}",
                    "zookeeper.connect": chroot}, bench_args=args)
    finally:
        if zk is not None:
            zk.stop()
    files = sorted(glob.glob(str(out / "plaintext-[0-9]*.json"))) + \
        sorted(glob.glob(str(out / "sasl_ssl-[0-9]*.json")))
    subprocess.run([sys.executable, str(harness / "aggregate.py"), *files,
                    "--baseline", "plaintext", "--markdown"], check=True)
    click.echo(f"results in {out}", err=True)


main = bench_security

if __name__ == "__main__":
    main()
