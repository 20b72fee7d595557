"""``make chaos``: a Jepsen-style fault run of three brokers and a real ZooKeeper.

Idempotent and transactional producers (acks=all) and read_committed consumers (subscribe
with commits, and assign) run against a topic with replication factor 3,
``min.insync.replicas=2`` and unclean election off, while a nemesis kills, stops, partitions,
slows, fills and skews brokers and ZooKeeper (:mod:`kafkalite.testing.chaos.nemesis`). Then
every fault is healed, every partition is read from the start, and the Jepsen queue checker
(:mod:`kafkalite.testing.checker`) looks for lost, duplicated, aborted-but-read, reordered
and skipped records.

Writes ``OUTDIR/history.jsonl`` (every send, ack, error, poll, commit, transaction and fault)
and ``OUTDIR/chaos.json`` (the report), prints the report, and exits 1 if a must-be-zero row is
not zero. ``--check-only`` checks an existing history again. This is a test harness with a
command line, so it uses :mod:`kafkalite.testing`.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

import click

__all__ = ["main"]


@click.command(context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--duration", envvar="DURATION", type=click.FloatRange(min=10), default=240,
              show_default=True, help="Seconds of faults (healing and the final read come "
                                      "after).")
@click.option("--outdir", envvar="OUTDIR", type=click.Path(file_okay=False, path_type=Path),
              default=None, help="Where the history and chaos.json go (default: a temp dir).")
@click.option("--faults", envvar="FAULTS", default=None,
              help="Comma-separated fault kinds (default: all of them).")
@click.option("--seed", envvar="SEED", type=int, default=None, help="Random seed.")
@click.option("--check-only", is_flag=True, help="Only check OUTDIR/history.jsonl again.")
def chaos(duration: float, outdir: Path | None, faults: str | None, seed: int | None,
          check_only: bool) -> None:
    """Run the chaos workload and nemesis, then check the history."""
    from kafkalite.testing.checker import format_report
    from kafkalite.testing.chaos.nemesis import ALL_FAULTS
    from kafkalite.testing.chaos.run import check_dir, run_chaos

    if check_only:
        if outdir is None:
            raise click.UsageError("--check-only needs --outdir")
        report = check_dir(outdir)
    else:
        kinds = tuple(k.strip() for k in faults.split(",") if k.strip()) if faults \
            else ALL_FAULTS
        unknown = sorted(set(kinds) - set(ALL_FAULTS))
        if unknown:
            raise click.UsageError(f"unknown fault kinds {unknown}; known: "
                                   f"{', '.join(ALL_FAULTS)}")
        out = outdir or Path(tempfile.mkdtemp(prefix="kafkalite-chaos-"))
        report = run_chaos(out, duration, kinds=kinds, seed=seed,
                           log=lambda s: click.echo(s, err=True))
        click.echo(f"history and chaos.json in {out}", err=True)
    click.echo(format_report(report))
    sys.exit(0 if report.ok else 1)


main = chaos

if __name__ == "__main__":
    main()
