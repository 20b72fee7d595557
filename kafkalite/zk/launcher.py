"""Run a real Apache ZooKeeper server (the Java jar) as a child process.

kafkalite does not reimplement ZooKeeper: tests, ``make cluster`` and ``zookeeper-server-start``
run the genuine server. This module finds it, writes or passes its config, starts the JVM,
waits until it serves, and stops it by PID. See ``docs/zookeeper-runtime.md`` §1 for the
measurements behind the choices:

* **Where**: ``$ZOOKEEPER_HOME`` (upstream tarball: ``lib/*.jar`` + ``conf/``), else the
  Debian package jar (its manifest pulls the dependencies; slf4j-simple added so the server
  logs). Otherwise :class:`ZooKeeperNotFound` names the three ways out.
* **Readiness**: the ``srvr`` four-letter word answering ``Mode: ...`` (``ruok`` says "imok"
  while sessions are still being dropped; ``srvr`` is whitelisted by default). A bare TCP
  probe would only make the server log stack traces.
* **Orphans**: a JVM started from the main thread gets ``PR_SET_PDEATHSIG`` = SIGTERM, so it
  dies with its parent even if the parent is SIGKILLed (PDEATHSIG fires when the *thread*
  that forked exits, hence main thread only).
* **Stop**: SIGTERM (JVM exit code 143), then SIGKILL after a grace period. Always by PID.

No kazoo here (only ``zk/session.py`` may import it); ``socket`` is used for the probe.
"""

from __future__ import annotations

import ctypes
import glob
import os
import shutil
import signal
import random
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Mapping
from pathlib import Path

import attrs

__all__ = ["LocalZooKeeper", "ServerTls", "ZooKeeperNotFound", "zookeeper_classpath",
           "zk_java_command", "java_executable", "free_port", "srvr", "is_serving",
           "wait_serving",
           "read_properties", "pdeathsig_preexec", "STANDALONE_MAIN", "QUORUM_MAIN",
           "PropertiesServer", "run_from_properties", "start_daemon_from_properties",
           "run_foreground_from_properties", "stop_from_pid_files", "all_registered_pid_files",
           "is_zookeeper_pid", "read_pid_file", "pid_registry_dir"]

STANDALONE_MAIN = "org.apache.zookeeper.server.ZooKeeperServerMain"
QUORUM_MAIN = "org.apache.zookeeper.server.quorum.QuorumPeerMain"
DEBIAN_JAR = "/usr/share/java/zookeeper.jar"
DEBIAN_LOGGER_JAR = "/usr/share/java/slf4j-simple.jar"
DEBIAN_NETTY_JARS = tuple(f"/usr/share/java/netty-{name}.jar" for name in (
    "buffer", "codec", "common", "handler", "resolver", "transport",
    "transport-native-unix-common"))
_HOW_TO_GET_ONE = ("install the Debian package (`apt-get install --no-install-recommends "
                   "zookeeper`), or set ZOOKEEPER_HOME to an Apache ZooKeeper binary release, "
                   "or point KAFKALITE_ZK_CONNECT at a running ZooKeeper")


class ZooKeeperNotFound(RuntimeError):
    """No ZooKeeper jar (or no java) on this machine."""


def zookeeper_classpath(env: Mapping[str, str] | None = None) -> str:
    """Java classpath of a ZooKeeper server: ZOOKEEPER_HOME, else the Debian jar.

    Raises:
        ZooKeeperNotFound: neither is usable (the message says how to fix it).
    """
    env = os.environ if env is None else env
    home = env.get("ZOOKEEPER_HOME")
    if home:
        jars = sorted(glob.glob(os.path.join(home, "lib", "*.jar")))
        if not jars:
            raise ZooKeeperNotFound(f"ZOOKEEPER_HOME={home} has no lib/*.jar; "
                                    f"{_HOW_TO_GET_ONE}")
        return os.pathsep.join([os.path.join(home, "conf"), *jars])
    if os.path.exists(DEBIAN_JAR):
        extra = [DEBIAN_LOGGER_JAR] if os.path.exists(DEBIAN_LOGGER_JAR) else []
        # Netty serves ZooKeeper's secureClientPort (TLS); the Debian jar leaves it out.
        extra += [j for j in DEBIAN_NETTY_JARS if os.path.exists(j)]
        return os.pathsep.join([DEBIAN_JAR, *extra])
    raise ZooKeeperNotFound(f"ZooKeeper not found: {_HOW_TO_GET_ONE}")


def java_executable(env: Mapping[str, str] | None = None) -> str:
    env = os.environ if env is None else env
    if env.get("JAVA_HOME"):
        candidate = os.path.join(env["JAVA_HOME"], "bin", "java")
        if os.access(candidate, os.X_OK):
            return candidate
    found = shutil.which("java")
    if not found:
        raise ZooKeeperNotFound("java not found on PATH (ZooKeeper needs a JRE); "
                                f"{_HOW_TO_GET_ONE}")
    return found


def zk_java_command(cfg_path: str | os.PathLike[str], *, main: str = STANDALONE_MAIN,
                    heap: str = "256m", classpath: str | None = None) -> list[str]:
    """The ``java ... <Main> <cfg>`` command line for a server reading ``cfg_path``."""
    return [java_executable(), f"-Xmx{heap}", "-XX:+UseSerialGC", "-Djava.awt.headless=true",
            "-cp", classpath or zookeeper_classpath(), main, os.fspath(cfg_path)]


def _ephemeral_floor() -> int:
    try:
        with open("/proc/sys/net/ipv4/ip_local_port_range") as f:
            return int(f.read().split()[0])
    except (OSError, ValueError, IndexError):
        return 32768


def free_port(host: str = "127.0.0.1") -> int:
    """A port that was free a moment ago, chosen *below* the kernel's ephemeral range.

    A port handed out by ``bind(0)`` comes from the ephemeral range, where any outgoing
    connection (a client, a broker's own ZooKeeper session) may take it before the server that
    was meant to listen there binds it, or while that server is down between a kill and a
    restart on the same port. Below the range only deliberate binds compete."""
    floor = _ephemeral_floor()
    low = max(1024, floor - 12000)
    rng = random.Random()
    for _ in range(200):
        port = rng.randrange(low, floor)
        with socket.socket() as s:
            try:
                s.bind((host, port))
            except OSError:
                continue
            return port
    with socket.socket() as s:
        s.bind((host, 0))
        return s.getsockname()[1]


def srvr(host: str, port: int, timeout: float = 1.0) -> bytes | None:
    """Send the ``srvr`` four-letter word; the reply, or None if nobody answers."""
    try:
        with socket.create_connection((host, port), timeout=timeout) as s:
            s.sendall(b"srvr")
            buf = b""
            while chunk := s.recv(4096):
                buf += chunk
            return buf
    except OSError:
        return None


def is_serving(host: str, port: int) -> bool:
    """True once the server accepts sessions (``srvr`` reports a ``Mode:``)."""
    reply = srvr(host, port)
    return reply is not None and b"Mode: " in reply


def wait_serving(host: str, port: int, timeout: float,
                 alive: Callable[[], bool] = lambda: True) -> None:
    """Poll :func:`is_serving` until true. Raises RuntimeError if ``alive()`` turns false,
    TimeoutError after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while not is_serving(host, port):
        if not alive():
            raise RuntimeError("ZooKeeper exited before serving")
        if time.monotonic() > deadline:
            raise TimeoutError(f"ZooKeeper at {host}:{port} not serving after {timeout:g} s")
        time.sleep(0.05)


def pdeathsig_preexec() -> Callable[[], None] | None:
    """A ``preexec_fn`` making the child get SIGTERM when this thread exits; None where that
    is unavailable or unsafe (not Linux, or not the main thread)."""
    if not sys.platform.startswith("linux"):
        return None
    if threading.current_thread() is not threading.main_thread():
        return None
    try:
        prctl = ctypes.CDLL(None, use_errno=True).prctl
    except (OSError, AttributeError):
        return None
    pr_set_pdeathsig = 1

    def preexec() -> None:
        prctl(pr_set_pdeathsig, int(signal.SIGTERM))

    return preexec


def read_properties(path: str | os.PathLike[str]) -> dict[str, str]:
    """Parse a Java ``.properties`` file (``k=v`` / ``k: v``, ``#``/``!`` comments,
    backslash line continuation) — enough for zookeeper.properties / zoo.cfg."""
    props: dict[str, str] = {}
    pending = ""
    for raw in Path(path).read_text(encoding="utf-8").splitlines():
        line = pending + raw.strip()
        pending = ""
        if not line or line[0] in "#!":
            continue
        if line.endswith("\\"):
            pending = line[:-1]
            continue
        cut = min((i for i in (line.find("="), line.find(":")) if i >= 0), default=-1)
        key, value = (line, "") if cut < 0 else (line[:cut], line[cut + 1:])
        props[key.strip()] = value.strip()
    return props


def _tail(path: Path, lines: int = 30) -> str:
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return ""
    return "\n".join(text.splitlines()[-lines:])


@attrs.frozen
class ServerTls:
    """ZooKeeper's ``secureClientPort`` settings: PEM keystore (key + chain) and truststore;
    ``client_auth`` is ZooKeeper's ``ssl.clientAuth`` (``need`` by default in ZooKeeper: a
    client certificate is required, and becomes the client's ``x509`` identity)."""

    keystore: str
    truststore: str
    password: str | None = None
    client_auth: str = "need"


class LocalZooKeeper:
    """A throwaway standalone ZooKeeper on loopback, for tests and local clusters.

    Args:
        port: client port; a free one if None (and retried if the bind then races).
        tick_ms: ZooKeeper tickTime; sessions are clamped to [2, 20] ticks, so tests use
            500 to get 1-2 s session timeouts.
        min_session_ms: ``minSessionTimeout`` override.
        data_dir: keep data here (not deleted on stop); a temp dir if None.
        host: ``clientPortAddress``.

    ``start()`` returns self; ``stop()`` returns the JVM's exit code (143 after SIGTERM).
    """

    def __init__(self, port: int | None = None, *, tick_ms: int = 2000,
                 min_session_ms: int | None = None, data_dir: str | None = None,
                 host: str = "127.0.0.1", tls: ServerTls | None = None):
        self.host = host
        self.port = port or 0
        self.tls = tls
        self.secure_port = 0
        self._fixed_port = port is not None
        self.tick_ms = tick_ms
        self.min_session_ms = min_session_ms
        self.workdir = Path(tempfile.mkdtemp(prefix="kafkalite-zk-"))
        self.data_dir = Path(data_dir) if data_dir else self.workdir / "data"
        self.log_path = self.workdir / "zookeeper.log"
        self.cfg_path = self.workdir / "zoo.cfg"
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def hosts(self) -> str:
        """The connect string (no chroot)."""
        return f"{self.host}:{self.port}"

    @property
    def secure_hosts(self) -> str:
        """The connect string of the TLS port (``tls`` given)."""
        return f"{self.host}:{self.secure_port}"

    @property
    def pid(self) -> int | None:
        return self.proc.pid if self.proc else None

    def _write_config(self) -> None:
        lines = [f"tickTime={self.tick_ms}", f"dataDir={self.data_dir}",
                 f"clientPort={self.port}", f"clientPortAddress={self.host}",
                 "maxClientCnxns=0", "admin.enableServer=false",
                 "4lw.commands.whitelist=ruok,srvr,stat,mntr,conf"]
        if self.min_session_ms:
            lines.append(f"minSessionTimeout={self.min_session_ms}")
        if self.tls is not None:
            lines += [f"secureClientPort={self.secure_port}",
                      f"secureClientPortAddress={self.host}",
                      "serverCnxnFactory=org.apache.zookeeper.server.NettyServerCnxnFactory",
                      f"ssl.keyStore.location={self.tls.keystore}", "ssl.keyStore.type=PEM",
                      f"ssl.trustStore.location={self.tls.truststore}",
                      "ssl.trustStore.type=PEM", f"ssl.clientAuth={self.tls.client_auth}",
                      "authProvider.x509="
                      "org.apache.zookeeper.server.auth.X509AuthenticationProvider"]
            if self.tls.password:
                lines.append(f"ssl.keyStore.password={self.tls.password}")
        self.cfg_path.write_text("\n".join(lines) + "\n", encoding="utf-8")

    def start(self, timeout: float = 30.0) -> LocalZooKeeper:
        """Start the JVM and wait until ``srvr`` reports a mode.

        Raises:
            ZooKeeperNotFound: no ZooKeeper or java.
            RuntimeError: the JVM exited (message has the log tail).
            TimeoutError: not serving within ``timeout`` seconds (the JVM is stopped).
        """
        command_cp = zookeeper_classpath()
        self.data_dir.mkdir(parents=True, exist_ok=True)
        for attempt in range(3):
            if not self._fixed_port:
                self.port = free_port(self.host)
            if self.tls is not None:
                self.secure_port = free_port(self.host)
            self._write_config()
            with open(self.log_path, "ab") as log:
                self.proc = subprocess.Popen(
                    zk_java_command(self.cfg_path, classpath=command_cp),
                    stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                    # Own session: a terminal's Ctrl-C reaches only our supervisor, which
                    # stops brokers first and ZooKeeper last, by PID.
                    preexec_fn=pdeathsig_preexec(), start_new_session=True)
            try:
                wait_serving(self.host, self.port, timeout,
                             alive=lambda: self.proc is not None and self.proc.poll() is None)
                return self
            except RuntimeError:
                tail = _tail(self.log_path)
                if not self._fixed_port and "Address already in use" in tail and attempt < 2:
                    continue
                rc = self.proc.returncode
                self._cleanup()
                raise RuntimeError(f"ZooKeeper exited with rc={rc} before serving on "
                                   f"{self.hosts}; log tail:\n{tail}") from None
            except TimeoutError:
                tail = _tail(self.log_path)
                self.stop()
                raise TimeoutError(f"ZooKeeper not serving on {self.hosts} after {timeout:g} s;"
                                   f" log tail:\n{tail}") from None
        raise AssertionError("unreachable")

    def log_tail(self, lines: int = 30) -> str:
        return _tail(self.log_path, lines)

    def stop(self, grace: float = 10.0) -> int | None:
        """SIGTERM the JVM (by PID), SIGKILL after ``grace`` s; remove temp files."""
        rc = None
        if self.proc is not None:
            if self.proc.poll() is None:
                self.proc.terminate()
                try:
                    self.proc.wait(grace)
                except subprocess.TimeoutExpired:
                    self.proc.kill()
                    self.proc.wait()
            rc = self.proc.returncode
        self._cleanup()
        return rc

    def _cleanup(self) -> None:
        # A caller-supplied data_dir lives outside workdir and is kept.
        shutil.rmtree(self.workdir, ignore_errors=True)

    def __enter__(self) -> LocalZooKeeper:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()


# ------------------------------------------------------------------------------------------
# Servers configured by a zookeeper.properties file (zookeeper-server-start / -stop).
#
# Kafka's config/zookeeper.properties uses ZooKeeper's own keys (dataDir, clientPort,
# maxClientCnxns, admin.enableServer, tickTime, ...), so the file is handed to the real server
# unchanged (QuorumPeerMain, as Kafka's script does: standalone without server.N lines,
# an ensemble member with them). We only read it to know the port and where to put pid files.

PID_FILE = "kafkalite-zookeeper.pid"


class PropertiesServer:
    """What kafkalite needs to know about a server defined by a properties file."""

    def __init__(self, config_path: str | os.PathLike[str]):
        self.config_path = Path(config_path).resolve()
        self.props = read_properties(self.config_path)
        if not self.props.get("dataDir"):
            raise ValueError(f"{self.config_path}: dataDir is not set")
        self.data_dir = Path(self.props["dataDir"]).expanduser().resolve()
        port = self.props.get("clientPort", "2181")
        if not port.isdigit():
            raise ValueError(f"{self.config_path}: clientPort must be a port number, "
                             f"not {port!r}")
        self.client_port = int(port)
        self.client_address = self.props.get("clientPortAddress", "0.0.0.0")

    @property
    def probe_host(self) -> str:
        return "127.0.0.1" if self.client_address in ("0.0.0.0", "::", "") else \
            self.client_address

    @property
    def hosts(self) -> str:
        return f"{self.probe_host}:{self.client_port}"

    def pid_files(self) -> list[Path]:
        """Where a started server's PID is recorded: its dataDir, and a per-port entry in
        ``$TMPDIR/kafkalite-zookeeper`` so ``zookeeper-server-stop`` without arguments
        finds every server we started."""
        return [self.data_dir / PID_FILE, pid_registry_dir() / f"{self.client_port}.pid"]

    def command(self) -> list[str]:
        return zk_java_command(self.config_path, main=QUORUM_MAIN)


def pid_registry_dir() -> Path:
    return Path(os.environ.get("TMPDIR") or tempfile.gettempdir()) / "kafkalite-zookeeper"


def _write_pid_files(files: list[Path], pid: int) -> None:
    # Line 1 is the PID (all a shell script needs); later lines name the other pid files
    # of the same server, so stopping via any one of them removes them all.
    for f in files:
        f.parent.mkdir(parents=True, exist_ok=True)
        others = "".join(f"{o}\n" for o in files if o != f)
        f.write_text(f"{pid}\n{others}", encoding="utf-8")


def _remove_pid_files(files: list[Path], pid: int) -> None:
    for f in files:
        if read_pid_file(f) == pid:
            f.unlink(missing_ok=True)


def read_pid_file(path: Path) -> int | None:
    try:
        return int(path.read_text(encoding="utf-8").split("\n", 1)[0].strip())
    except (OSError, ValueError):
        return None


def _companions(path: Path) -> list[Path]:
    try:
        lines = path.read_text(encoding="utf-8").splitlines()[1:]
    except OSError:
        return []
    return [Path(line) for line in lines if line.strip()]


def start_daemon_from_properties(config_path: str | os.PathLike[str], *,
                                 timeout: float = 30.0) -> tuple[int, PropertiesServer, Path]:
    """Start a detached server (own session, survives us); wait until it serves.

    Returns ``(pid, server, log_path)``. The log goes to ``$LOG_DIR/zookeeper.out`` (Kafka's
    convention) or ``<dataDir>/zookeeper.out``.

    Raises:
        RuntimeError: the JVM exited early (message has the log tail) or a server recorded
            in the pid file is still running.
        TimeoutError: not serving in time (the JVM is stopped).
    """
    server = PropertiesServer(config_path)
    for f in server.pid_files():
        pid = read_pid_file(f)
        if pid is not None and is_zookeeper_pid(pid):
            raise RuntimeError(f"ZooKeeper already running as pid {pid} (pid file {f})")
    server.data_dir.mkdir(parents=True, exist_ok=True)
    log_dir = Path(os.environ["LOG_DIR"]) if os.environ.get("LOG_DIR") else server.data_dir
    log_dir.mkdir(parents=True, exist_ok=True)
    log_path = log_dir / "zookeeper.out"
    with open(log_path, "ab") as log:
        proc = subprocess.Popen(server.command(), stdin=subprocess.DEVNULL, stdout=log,
                                stderr=subprocess.STDOUT, start_new_session=True)
    _write_pid_files(server.pid_files(), proc.pid)
    try:
        wait_serving(server.probe_host, server.client_port, timeout,
                     alive=lambda: proc.poll() is None)
    except (RuntimeError, TimeoutError) as exc:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        _remove_pid_files(server.pid_files(), proc.pid)
        raise type(exc)(f"{exc}; log tail ({log_path}):\n{_tail(log_path)}") from None
    proc.returncode = 0   # detached on purpose: don't warn that it is "still running"
    return proc.pid, server, log_path


def run_foreground_from_properties(config_path: str | os.PathLike[str]) -> int:
    """Run the server in the foreground until it exits; SIGTERM/SIGINT are forwarded to it.

    Returns the JVM's exit code, or 0 when it stopped because we forwarded a stop signal.
    """
    server = PropertiesServer(config_path)
    server.data_dir.mkdir(parents=True, exist_ok=True)
    proc = subprocess.Popen(server.command(), stdin=subprocess.DEVNULL,
                            preexec_fn=pdeathsig_preexec())
    files = server.pid_files()
    _write_pid_files(files, proc.pid)
    stopping = False

    def forward(signum: int, _frame: object) -> None:
        nonlocal stopping
        stopping = True
        if proc.poll() is None:
            proc.send_signal(signum)

    previous = {s: signal.signal(s, forward) for s in (signal.SIGTERM, signal.SIGINT)}
    try:
        rc = proc.wait()
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)
        _remove_pid_files(files, proc.pid)
    if stopping and rc in (128 + signal.SIGTERM, 128 + signal.SIGINT,
                           -signal.SIGTERM, -signal.SIGINT):
        return 0
    return rc


def run_from_properties(config_path: str | os.PathLike[str], daemon: bool, *,
                        timeout: float = 30.0) -> int:
    """``zookeeper-server-start [-daemon] <config>``: with ``daemon``, start detached and
    return 0 once it serves; otherwise run in the foreground and return its exit code."""
    if daemon:
        start_daemon_from_properties(config_path, timeout=timeout)
        return 0
    return run_foreground_from_properties(config_path)


def is_zookeeper_pid(pid: int) -> bool:
    """True if ``pid`` is a live (non-zombie) process running a ZooKeeper main class:
    guards against signalling an unrelated process that reused a stale PID."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return False
    state = stat.rsplit(")", 1)[-1].split()[0]
    return state not in ("Z", "X") and b"org.apache.zookeeper" in cmdline


def stop_from_pid_files(pid_files: list[Path], *, timeout: float = 10.0
                        ) -> list[tuple[int, bool]]:
    """SIGTERM each distinct ZooKeeper PID recorded in ``pid_files``; wait for it to exit
    (SIGKILL after ``timeout``); remove its pid files. Stale files are just removed.

    Returns ``[(pid, exited_after_sigterm)]`` for every server signalled.
    """
    by_pid: dict[int, list[Path]] = {}
    for f in pid_files:
        pid = read_pid_file(f)
        if pid is None:
            continue
        group = [f, *(c for c in _companions(f) if read_pid_file(c) == pid)]
        if is_zookeeper_pid(pid):
            by_pid.setdefault(pid, []).extend(group)
        else:
            for stale in group:
                stale.unlink(missing_ok=True)
    stopped = []
    for pid, files in by_pid.items():
        os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + timeout
        while is_zookeeper_pid(pid) and time.monotonic() < deadline:
            time.sleep(0.05)
        clean = not is_zookeeper_pid(pid)
        if not clean:
            os.kill(pid, signal.SIGKILL)
        for f in files:
            f.unlink(missing_ok=True)
        stopped.append((pid, clean))
    return stopped


def all_registered_pid_files() -> list[Path]:
    """Every pid file in the registry directory (servers started by zookeeper-server-start)."""
    return sorted(pid_registry_dir().glob("*.pid"))
