"""``make cluster``: a foreground supervisor for ZooKeeper plus brokers on this machine.

ZooKeeper is resolved in this order: ``KAFKALITE_ZK_CONNECT`` (use it, launch nothing), then a
local real ZooKeeper (``ZOOKEEPER_HOME`` or the Debian package) launched from
``config/zookeeper.properties``. Broker ``i`` is started with ``scripts/kafka-server-start.sh``
from ``config/server.properties`` (i = 0) or ``config/server-<i>.properties``, exactly as a user
would start them, listening where that file's ``listeners`` says (9092, 9093, 9094 as shipped);
only ``log.dirs`` moves under ``.cluster/`` so the cluster's data stays with the checkout
(``.cluster/broker-<i>/data``). Each broker logs as Kafka does, with ``config/log4j.properties``,
to its own ``LOG_DIR``, ``.cluster/broker-<i>/logs`` (server.log, controller.log,
state-change.log ...); once a broker is up its Kafka listener, metrics URL
(``metrics.listener``), web console URL (``console.listener``) and log directory are printed.
PIDs are recorded in ``.cluster/pids``; Ctrl-C (or ``make cluster-stop`` from another shell)
stops the brokers first, then ZooKeeper, each by PID (SIGTERM, then SIGKILL after a grace period).
A broker that dies (say, killed to watch a failover) is reported and the others keep running,
as in Kafka's multi-broker quickstart; the supervisor ends when no broker is left.

:class:`BrokerProcess` is also what the integration tests use to run real broker processes.
"""

from __future__ import annotations

import ctypes
import os
import shlex
import shutil
import signal
import socket
import struct
import subprocess
import sys
import time
from pathlib import Path

import click

__all__ = ["BrokerProcess", "broker_ready", "free_port", "REPO_ROOT"]

REPO_ROOT = Path(__file__).resolve().parents[2]
SCRIPTS = REPO_ROOT / "scripts"
# A checkout has scripts/ and config/ beside the package; an installed wheel has the configs
# under <prefix>/share/kafkalite/config (setup.cfg's data_files) and no scripts.
IN_CHECKOUT = (SCRIPTS / "kafka-server-start.sh").is_file()


def free_port() -> int:
    from kafkalite.zk.launcher import free_port as _free_port

    return _free_port("127.0.0.1")


def _die_with_parent() -> None:
    """PR_SET_PDEATHSIG: the child gets SIGTERM if the process that started it dies."""
    try:
        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        libc.prctl(1, signal.SIGTERM)
    except OSError:
        pass


def broker_ready(host: str, port: int, broker_id: int, timeout: float = 1.0) -> bool:
    """True once the broker answers Metadata listing itself (it has its first UpdateMetadata)."""
    from kafkalite.protocol.codec import decode, encode
    from kafkalite.protocol.header import RequestHeader, encode_request_header
    from kafkalite.protocol.messages.metadata import MetadataRequest, MetadataResponse

    body = encode(MetadataRequest(topics=[], allow_auto_topic_creation=False), 1)
    frame = encode_request_header(RequestHeader(3, 1, 7, "ready-check")) + body
    try:
        with socket.create_connection((host, port), timeout=timeout) as s:
            s.sendall(struct.pack(">i", len(frame)) + frame)
            buf = b""
            while len(buf) < 4 or len(buf) < 4 + struct.unpack(">i", buf[:4])[0]:
                chunk = s.recv(65536)
                if not chunk:
                    return False
                buf += chunk
    except OSError:
        return False
    resp = decode(MetadataResponse, 1, buf[8:])
    return any(b.node_id == broker_id for b in resp.brokers)


class BrokerProcess:
    """One broker started through ``scripts/kafka-server-start.sh`` with its own properties."""

    def __init__(self, *, broker_id: int, zk_connect: str, workdir: Path, port: int | None = None,
                 properties_template: Path | None = None, overrides: dict | None = None,
                 host: str = "127.0.0.1", env: dict | None = None):
        self.broker_id = broker_id
        self.env = dict(env or {})
        self.host = host
        self.port = port or free_port()
        self.workdir = Path(workdir)
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.log_dir = self.workdir / "logs"
        self.props_path = self.workdir / "server.properties"
        self.log_path = self.workdir / "broker.log"   # stdout: the log4j stdout appender
        # LOG_DIR: where server.log, controller.log, state-change.log ... go.
        self.server_log_dir = Path(self.env.get("LOG_DIR") or self.workdir / "server-logs")
        self.env["LOG_DIR"] = str(self.server_log_dir)
        props = {}
        if properties_template is not None:
            from kafkalite.config import load_properties
            props.update(load_properties(str(properties_template)))
        props.update({
            "broker.id": str(broker_id),
            "listeners": f"PLAINTEXT://{host}:{self.port}",
            "log.dirs": str(self.log_dir),
            "zookeeper.connect": zk_connect,
        })
        props.update({k: str(v) for k, v in (overrides or {}).items()})
        self.properties = props
        self.proc: subprocess.Popen | None = None

    @property
    def bootstrap(self) -> str:
        return f"{self.host}:{self.port}"

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def write_properties(self) -> None:
        self.props_path.write_text("".join(f"{k}={v}\n" for k, v in self.properties.items()))

    def start(self, timeout: float = 60.0, wait: bool = True) -> "BrokerProcess":
        self.write_properties()
        env = dict(os.environ, KAFKALITE_PYTHON=sys.executable,
                   KAFKALITE_RUN_DIR=str(self.workdir / "run"), **self.env)
        self._log = open(self.log_path, "ab")
        start = [str(SCRIPTS / "kafka-server-start.sh")] if IN_CHECKOUT else \
            [sys.executable, "-m", "kafkalite.cli.server"]
        self.proc = subprocess.Popen(
            [*start, str(self.props_path)],
            stdout=self._log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=env,
            preexec_fn=_die_with_parent, start_new_session=True)
        if wait:
            self.wait_ready(timeout)
        return self

    def wait_ready(self, timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        while not broker_ready(self.host, self.port, self.broker_id):
            if self.proc.poll() is not None:
                raise RuntimeError(f"broker {self.broker_id} exited with {self.proc.returncode}:\n"
                                   f"{self.log_tail()}")
            if time.monotonic() > deadline:
                raise TimeoutError(f"broker {self.broker_id} not ready after {timeout}s:\n"
                                   f"{self.log_tail()}")
            time.sleep(0.1)

    def log_tail(self, n: int = 40) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-n:])
        except OSError:
            return ""

    def server_log(self, name: str = "server.log") -> str:
        """The text of one of the broker's log4j files (``controller.log`` ...), "" if none."""
        try:
            return (self.server_log_dir / name).read_text(errors="replace")
        except OSError:
            return ""

    def signal(self, sig: int) -> None:
        if self.proc is not None and self.proc.poll() is None:
            os.kill(self.proc.pid, sig)

    def kill(self) -> None:
        """SIGKILL (a crash): no clean shutdown marker, ephemeral znodes linger until expiry."""
        self.signal(signal.SIGKILL)
        if self.proc is not None:
            self.proc.wait()

    def stop(self, grace: float = 30.0) -> int | None:
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(grace)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if getattr(self, "_log", None):
            self._log.close()
        return self.proc.returncode


# -- the make cluster supervisor ----------------------------------------------------------------

STATE_DIR = REPO_ROOT / ".cluster" if IN_CHECKOUT else Path(".cluster")
CONFIG_DIR = REPO_ROOT / "config" if IN_CHECKOUT else \
    Path(sys.prefix) / "share" / "kafkalite" / "config"


def _record(state_dir: Path, name: str, pid: int) -> None:
    d = state_dir / "pids"
    d.mkdir(parents=True, exist_ok=True)
    (d / f"{name}.pid").write_text(str(pid))


def _listener(template: Path | None, default_port: int) -> tuple[str, int]:
    """Host and port of the first ``listeners`` entry of ``template`` (an empty host, meaning
    every interface, is reached through localhost), else ``localhost:default_port``."""
    if template is None:
        return "localhost", default_port
    from kafkalite.config import load_properties

    value = load_properties(str(template)).get("listeners", "").split(",")[0].strip()
    host, sep, port = value.rpartition("://")[2].rpartition(":")
    if not sep or not port.isdigit():
        return "localhost", default_port
    return host or "localhost", int(port)


def _http_urls(properties: dict) -> list[tuple[str, str]]:
    """``("metrics", "http://localhost:9404/metrics")`` and ``("console", ...)`` for the
    ``metrics.listener`` / ``console.listener`` a broker's properties set (an empty host, every
    interface, is reached through localhost); a malformed value is left out (the broker
    itself reports it)."""
    from kafkalite.config import http_listener_address

    urls = []
    for key, name, path in (("metrics.listener", "metrics", "/metrics"),
                            ("console.listener", "console", "/")):
        value = str(properties.get(key) or "").strip()
        if not value:
            continue
        try:
            host, port = http_listener_address(value, key)
        except ValueError:
            continue
        host = "localhost" if host in ("", "0.0.0.0", "::") else host
        urls.append((name, f"http://{host}:{port}{path}"))
    return urls


def _describe(b: "BrokerProcess", root: Path) -> str:
    """What ``make cluster`` prints for a started broker: where to reach it and its logs."""
    def shown(p: Path) -> str:
        try:
            return str(p.relative_to(root))
        except ValueError:
            return str(p)
    lines = [f"broker {b.broker_id} listening on PLAINTEXT://{b.bootstrap} (pid {b.pid})"]
    lines += [f"  {name:<8} {url}" for name, url in _http_urls(b.properties)]
    lines.append(f"  {'logs':<8} {shown(b.server_log_dir)}/ (server.log, controller.log, "
                 f"state-change.log, log-cleaner.log); stdout in {shown(b.log_path)}")
    return "\n".join(lines)


def _stop_pid(pid: int, grace: float) -> None:
    try:
        os.kill(pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    deadline = time.monotonic() + grace
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return
        time.sleep(0.1)
    try:
        os.kill(pid, signal.SIGKILL)
    except ProcessLookupError:
        pass


@click.command(context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--brokers", type=click.IntRange(min=1), default=3, show_default=True,
              help="How many brokers (config/server.properties, server-1, server-2, ...).")
@click.option("--config-dir", type=click.Path(file_okay=False, path_type=Path),
              default=CONFIG_DIR, show_default="config",
              help="Where zookeeper.properties and server*.properties are read from.")
@click.option("--state-dir", type=click.Path(file_okay=False, path_type=Path),
              default=STATE_DIR, show_default=".cluster",
              help="Where PIDs, broker logs (broker-N/logs) and data (broker-N/data) go.")
@click.option("--stop", is_flag=True, help="Stop a cluster started by another make cluster.")
def cluster(brokers: int, config_dir: Path, state_dir: Path, stop: bool) -> None:
    """Run ZooKeeper and kafkalite brokers in the foreground; Ctrl-C stops everything."""
    if stop:
        pids = sorted((state_dir / "pids").glob("*.pid"),
                      key=lambda p: p.name.startswith("zookeeper"))
        if not pids:
            click.echo("no cluster is running", err=True)
            sys.exit(1)
        for f in pids:
            _stop_pid(int(f.read_text()), 30)
            f.unlink(missing_ok=True)
        click.echo("cluster stopped")
        return
    from kafkalite.zk.launcher import LocalZooKeeper, ZooKeeperNotFound

    zk = None
    connect = os.environ.get("KAFKALITE_ZK_CONNECT")
    procs: list[BrokerProcess] = []
    signal.signal(signal.SIGINT, signal.default_int_handler)

    def _terminate(signum, frame):
        raise KeyboardInterrupt
    signal.signal(signal.SIGTERM, _terminate)
    try:
        if not connect:
            from kafkalite.config import load_properties

            zk_props = load_properties(str(config_dir / "zookeeper.properties"))
            port = int(os.environ.get("KAFKALITE_ZK_PORT") or zk_props.get("clientPort", 2181))
            try:
                zk = LocalZooKeeper(port=port, tick_ms=int(zk_props.get("tickTime", 2000)),
                                    data_dir=str(state_dir / "zookeeper"))
                zk.start()
            except ZooKeeperNotFound as e:
                click.echo(f"ERROR: {e}", err=True)
                sys.exit(1)
            _record(state_dir, "zookeeper", zk.pid)
            connect = zk.hosts
            click.echo(f"ZooKeeper listening on {connect} (pid {zk.pid})")
        base_port = os.environ.get("KAFKALITE_BROKER_PORT")
        log4j = config_dir / "log4j.properties"

        def log_env(log_dir: Path) -> dict[str, str]:
            env = {"LOG_DIR": str(log_dir)}
            if log4j.is_file() and not os.environ.get("KAFKA_LOG4J_OPTS"):
                env["KAFKA_LOG4J_OPTS"] = shlex.quote(
                    f"-Dlog4j.configuration=file:{log4j.absolute()}")
            return env
        for i in range(brokers):
            template = config_dir / ("server.properties" if i == 0 else f"server-{i}.properties")
            template = template if template.exists() else None
            host, port = _listener(template, 9092 + i)
            if base_port:
                host, port = "localhost", int(base_port) + i
            b = BrokerProcess(broker_id=i, zk_connect=connect, workdir=state_dir / f"broker-{i}",
                              port=port, host=host, properties_template=template,
                              overrides={"log.dirs": state_dir / f"broker-{i}" / "data"},
                              env=log_env(state_dir / f"broker-{i}" / "logs"))
            procs.append(b)  # before start(): a Ctrl-C during its start-up must stop it too
            b.start(wait=False)
            _record(state_dir, f"broker-{i}", b.pid)
            b.wait_ready()
            click.echo(_describe(b, Path.cwd()))
        click.echo("cluster is up; press Ctrl-C to stop it")
        running = list(procs)
        while running:
            time.sleep(0.5)
            for b in [b for b in running if b.proc.poll() is not None]:
                running.remove(b)
                (state_dir / "pids" / f"broker-{b.broker_id}.pid").unlink(missing_ok=True)
                click.echo(f"broker {b.broker_id} exited with code {b.proc.returncode}"
                           + (f"; {len(running)} still running" if running else ""), err=True)
        click.echo("no broker is left; stopping the cluster", err=True)
    except KeyboardInterrupt:
        click.echo("\nstopping the cluster")
    finally:
        for b in reversed(procs):
            if b.proc is not None:
                b.stop()
            (state_dir / "pids" / f"broker-{b.broker_id}.pid").unlink(missing_ok=True)
        if zk is not None:
            zk.stop()
            (state_dir / "pids" / "zookeeper.pid").unlink(missing_ok=True)
    shutil.rmtree(state_dir / "pids", ignore_errors=True)


main = cluster

if __name__ == "__main__":
    main()
