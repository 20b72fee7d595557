"""``kafka-server-start.sh [-daemon] server.properties [--override k=v ...]`` and
``kafka-server-stop.sh``.

Logging is Kafka's (:mod:`kafkalite.cli.logs`): ``config/log4j.properties`` (or
``KAFKA_LOG4J_OPTS=-Dlog4j.configuration=file:...``) decides the levels and the files under
``$LOG_DIR`` (default ``logs/``): ``server.log``, ``controller.log``, ``state-change.log`` and
the others. In the foreground the broker also logs to stdout, as Kafka's script does;
``-daemon`` detaches it with stdout going to ``$LOG_DIR/kafkaServer.out``. Every broker started
this way records its PID
in the run directory (``$KAFKALITE_RUN_DIR``, default ``$TMPDIR/kafkalite-<uid>``), and
``kafka-server-stop.sh`` signals exactly those PIDs (SIGTERM, a clean shutdown) after checking
that each is still a kafkalite broker: never a kill by process name.
"""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import click
import trio

from kafkalite.cli.logs import configure_broker_logging
from kafkalite.config import load_properties, parse_server_config
from kafkalite.errors import ConfigError
from kafkalite.zk.errors import ZkError

log = logging.getLogger(__name__)


def run_dir() -> Path:
    d = Path(os.environ.get("KAFKALITE_RUN_DIR")
             or Path(tempfile.gettempdir()) / f"kafkalite-{os.getuid()}")
    d.mkdir(parents=True, exist_ok=True)
    return d


def _pid_file(kind: str, pid: int) -> Path:
    return run_dir() / f"{kind}-{pid}.pid"


def pid_is(pid: int, needle: str) -> bool:
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            return needle.encode() in f.read()
    except OSError:
        return False


def stop_recorded(kind: str, needle: str, *, timeout: float = 30.0) -> int:
    """SIGTERM every recorded live process of ``kind``; wait; returns how many were stopped."""
    stopped = []
    for f in sorted(run_dir().glob(f"{kind}-*.pid")):
        try:
            pid = int(f.read_text().strip())
        except (OSError, ValueError):
            f.unlink(missing_ok=True)
            continue
        if not pid_is(pid, needle):
            f.unlink(missing_ok=True)
            continue
        os.kill(pid, signal.SIGTERM)
        stopped.append((pid, f))
    deadline = time.monotonic() + timeout
    for pid, f in stopped:
        while pid_is(pid, needle) and time.monotonic() < deadline:
            time.sleep(0.1)
        f.unlink(missing_ok=True)
    return len(stopped)


async def _run_broker(config) -> None:
    from kafkalite.server.broker import Broker

    await Broker(config).run()


@click.command(context_settings={"ignore_unknown_options": False,
                                 "help_option_names": ["-h", "--help"]})
@click.option("-daemon", "daemon", is_flag=True, help="Run in the background.")
@click.option("--override", "overrides", multiple=True, metavar="KEY=VALUE",
              help="Override a property of the properties file.")
@click.argument("properties", type=click.Path(dir_okay=False))
def kafka_server_start(daemon: bool, overrides: tuple[str, ...], properties: str) -> None:
    """Start a kafkalite broker with a Kafka server.properties file."""
    try:
        config = parse_server_config(load_properties(properties), overrides)
    except ConfigError as e:
        click.echo(f"ERROR: {e}", err=True)
        sys.exit(1)
    if daemon:
        # kafka-run-class.sh -daemon: stdout (and stderr) to $LOG_DIR/kafkaServer.out; the
        # log4j files go to the same directory.
        log_dir = Path(os.environ.get("LOG_DIR") or "logs").absolute()
        log_dir.mkdir(parents=True, exist_ok=True)
        out = open(log_dir / "kafkaServer.out", "ab")
        args = [sys.executable, "-m", "kafkalite.cli.server", properties]
        for o in overrides:
            args += ["--override", o]
        proc = subprocess.Popen(args, stdout=out, stderr=subprocess.STDOUT,
                                stdin=subprocess.DEVNULL, start_new_session=True,
                                env=dict(os.environ, LOG_DIR=str(log_dir)))
        click.echo(f"kafkalite broker started in the background (pid {proc.pid}); "
                   f"logs in {log_dir} (server.log, kafkaServer.out)")
        return
    configure_broker_logging(properties, config["broker.id"])
    for key in config.unknown:
        log.warning("The configuration '%s' was supplied but isn't a known config.", key)
    pid_file = _pid_file("broker", os.getpid())
    pid_file.write_text(str(os.getpid()))
    fatal = []
    try:
        trio.run(_run_broker, config)
    except* (ConfigError, OSError, ZkError) as group:
        fatal = _leaves(group)
    finally:
        pid_file.unlink(missing_ok=True)
    for e in fatal:
        log.error("Fatal error during KafkaServer startup. Prepare to shutdown: %s", e)
    if fatal:
        sys.exit(1)


def _leaves(group: BaseExceptionGroup) -> list[BaseException]:
    out = []
    for e in group.exceptions:
        out.extend(_leaves(e) if isinstance(e, BaseExceptionGroup) else [e])
    return out


@click.command(context_settings={"help_option_names": ["-h", "--help"]})
def kafka_server_stop() -> None:
    """Stop the kafkalite brokers started on this machine by this user (by recorded PID)."""
    n = stop_recorded("broker", "kafkalite.cli.server")
    if n == 0:
        click.echo("No kafka server to stop", err=True)
        sys.exit(1)


main = kafka_server_start

if __name__ == "__main__":
    from kafkalite.cli.tools import run_module

    run_module("kafkalite.cli.server")
