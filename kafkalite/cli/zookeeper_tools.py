"""Kafka's ZooKeeper scripts: zookeeper-server-start, zookeeper-server-stop, zookeeper-shell.

* ``zookeeper-server-start [-daemon] config/zookeeper.properties`` runs the *real* ZooKeeper
  server (Apache jar, see :mod:`kafkalite.zk.launcher`) with the file as its config, as
  Kafka's script does. Foreground: SIGTERM/SIGINT are forwarded to the JVM. ``-daemon``:
  detached; returns once it serves and prints where it listens. Either way the PID is
  recorded in ``<dataDir>/kafkalite-zookeeper.pid`` and ``$TMPDIR/kafkalite-zookeeper/``.
* ``zookeeper-server-stop [config ...]`` SIGTERMs the recorded PIDs. Unlike Kafka's script it
  never signals processes by name: only PIDs we recorded, and only if they still run a
  ZooKeeper main class.
* ``zookeeper-shell host:port[/chroot] [cmd args...]`` runs one command (``ls``, ``get``,
  ``create [-e] [-s]``, ``set``, ``delete``, ``deleteall``/``rmr``, ``stat``) or, without a
  command, one per stdin line. Output mimics ZooKeeper's CLI (``ls /brokers/ids`` -> ``[0]``).
  Unlike Kafka's shell, an unreachable server is a one-line error and exit 1 after
  ``--timeout`` seconds instead of a hang.

Each command is a click function to wire to a console entry point or ``scripts/*.sh``;
``python -m kafkalite.cli.zookeeper_tools <command> ...`` also works.
"""

from __future__ import annotations

import logging
import shlex
import sys
import time
from collections.abc import Callable, Sequence

import attrs
import click

from kafkalite.zk import launcher
from kafkalite.errors import ConfigError
from kafkalite.security.zk_client import read_zk_tls_config_file, zk_auth
from kafkalite.zk.errors import (BadVersionError, NoAuthError, NodeExistsError, NoNodeError,
                                 NotEmptyError, ZkError)
from kafkalite.zk.ops import ZkAuth, ZnodeStat
from kafkalite.zk.session import SyncZk

__all__ = ["zookeeper_server_start", "zookeeper_server_stop", "zookeeper_shell", "main"]


def _fail(message: str) -> None:
    click.echo(message, err=True)
    sys.exit(1)


# ------------------------------------------------------------------------------------------
# zookeeper-server-start / -stop


@click.command("zookeeper-server-start")
@click.option("-daemon", "--daemon", "daemon", is_flag=True,
              help="Run detached; return once it serves.")
@click.option("--timeout", default=30.0, show_default=True,
              help="Seconds to wait for a -daemon server to serve.")
@click.argument("config", type=click.Path(exists=True, dir_okay=False))
def zookeeper_server_start(daemon: bool, timeout: float, config: str) -> None:
    """Start a ZooKeeper server configured by CONFIG (e.g. config/zookeeper.properties)."""
    try:
        if daemon:
            pid, server, log_path = launcher.start_daemon_from_properties(config,
                                                                        timeout=timeout)
            click.echo(f"ZooKeeper started (pid {pid}), listening on "
                       f"{server.client_address}:{server.client_port}; log {log_path}; "
                       f"pid file {server.pid_files()[0]}")
            return
        rc = launcher.run_foreground_from_properties(config)
    except (launcher.ZooKeeperNotFound, ValueError, OSError, RuntimeError, TimeoutError) as exc:
        _fail(f"zookeeper-server-start: {exc}")
    sys.exit(rc)


@click.command("zookeeper-server-stop")
@click.option("--timeout", default=10.0, show_default=True,
              help="Seconds to wait after SIGTERM before SIGKILL.")
@click.argument("configs", nargs=-1, type=click.Path(exists=True, dir_okay=False))
def zookeeper_server_stop(timeout: float, configs: Sequence[str]) -> None:
    """Stop ZooKeeper servers started by zookeeper-server-start (all, or those of CONFIGS)."""
    try:
        if configs:
            pid_files = [f for c in configs for f in launcher.PropertiesServer(c).pid_files()]
        else:
            pid_files = launcher.all_registered_pid_files()
        stopped = launcher.stop_from_pid_files(pid_files, timeout=timeout)
    except (ValueError, OSError) as exc:
        _fail(f"zookeeper-server-stop: {exc}")
    if not stopped:
        _fail("No zookeeper server to stop")
    for pid, clean in stopped:
        click.echo(f"Stopped ZooKeeper pid {pid}" + ("" if clean else " (SIGKILL)"))


# ------------------------------------------------------------------------------------------
# zookeeper-shell


def _format_stat(st: ZnodeStat) -> list[str]:
    def date(ms: int) -> str:
        return time.strftime("%a %b %d %H:%M:%S %Z %Y", time.localtime(ms / 1000))

    return [f"cZxid = {st.czxid:#x}", f"ctime = {date(st.ctime)}", f"mZxid = {st.mzxid:#x}",
            f"mtime = {date(st.mtime)}", f"pZxid = {st.pzxid:#x}",
            f"cversion = {st.cversion}", f"dataVersion = {st.version}",
            f"aclVersion = {st.aversion}", f"ephemeralOwner = {st.ephemeral_owner:#x}",
            f"dataLength = {st.data_length}", f"numChildren = {st.num_children}"]


def _shell_auth(tls_config_file: str | None) -> ZkAuth | None:
    """The JAAS ``Client`` identity and TLS settings (``-zk-tls-config-file``, else ZooKeeper's
    system properties in ``KAFKA_OPTS``), as Kafka's shell uses them; what the shell creates
    stays open, as ``create`` without an ACL argument does there."""
    try:
        config = read_zk_tls_config_file(tls_config_file) if tls_config_file else None
        auth = zk_auth(config=config)
    except ConfigError as exc:
        _fail(f"Error: {exc}")
        return None
    return None if auth is None else attrs.evolve(auth, secure=False)


def _split_flags(args: Sequence[str], allowed: str) -> tuple[set[str], list[str]]:
    flags, rest = set(), []
    for a in args:
        if len(a) == 2 and a[0] == "-" and a[1] in allowed and not rest:
            flags.add(a[1])
        else:
            rest.append(a)
    return flags, rest


def _need(rest: list[str], n: int, usage: str) -> None:
    if len(rest) < n:
        raise click.UsageError(usage)


def _shell_command(zk: SyncZk, words: list[str], out: Callable[[str], None]) -> None:
    cmd, args = words[0], words[1:]
    if cmd == "ls":
        flags, rest = _split_flags(args, "swR")
        _need(rest, 1, "ls [-s] [-w] path")
        children = sorted(zk.get_children(rest[0]))
        out("[" + ", ".join(children) + "]")
        if "s" in flags:
            for line in _format_stat(zk.get(rest[0])[1]):
                out(line)
    elif cmd == "get":
        flags, rest = _split_flags(args, "sw")
        _need(rest, 1, "get [-s] [-w] path")
        data, stat = zk.get(rest[0])
        out("null" if data is None else data.decode("utf-8", errors="replace"))
        if "s" in flags:
            for line in _format_stat(stat):
                out(line)
    elif cmd == "stat":
        _, rest = _split_flags(args, "w")
        _need(rest, 1, "stat [-w] path")
        stat = zk.exists(rest[0])
        if stat is None:
            raise NoNodeError(path=rest[0])
        for line in _format_stat(stat):
            out(line)
    elif cmd == "create":
        flags, rest = _split_flags(args, "es")
        _need(rest, 1, "create [-s] [-e] path [data]")
        data = rest[1].encode("utf-8") if len(rest) > 1 else b""
        out("Created " + zk.create(rest[0], data, ephemeral="e" in flags,
                                   sequence="s" in flags))
    elif cmd == "set":
        flags, rest = _split_flags(args, "s")
        _need(rest, 2, "set [-s] path data [version]")
        version = int(rest[2]) if len(rest) > 2 else -1
        stat = zk.set(rest[0], rest[1].encode("utf-8"), version)
        if "s" in flags:
            for line in _format_stat(stat):
                out(line)
    elif cmd == "delete":
        _, rest = _split_flags(args, "")
        _need(rest, 1, "delete path [version]")
        zk.delete(rest[0], int(rest[1]) if len(rest) > 1 else -1)
    elif cmd in ("deleteall", "rmr"):
        _need(args, 1, f"{cmd} path")
        zk.delete(args[0], recursive=True)
    elif cmd == "getAcl":
        _, rest = _split_flags(args, "s")
        _need(rest, 1, "getAcl [-s] path")
        acl, _stat = zk.get_acls(rest[0])
        for scheme, ident, perms in acl.entries:
            out(f"'{scheme},'{ident}")
            out(f": {perms}")
    elif cmd == "addauth":
        _need(args, 2, "addauth scheme auth")
        zk.add_auth(args[0], args[1])
    else:
        raise click.UsageError(f"unknown command {cmd!r}; one of ls, get, stat, create, set, "
                               "delete, deleteall, rmr, getAcl, addauth")


def _zk_error_message(exc: ZkError) -> str:
    # ZooKeeper CLI's wording, so scripts grepping for it keep working.
    if isinstance(exc, NoNodeError):
        return f"Node does not exist: {exc.path}"
    if isinstance(exc, NodeExistsError):
        return f"Node already exists: {exc.path}"
    if isinstance(exc, NotEmptyError):
        return f"Node not empty: {exc.path}"
    if isinstance(exc, BadVersionError):
        return f"version No is not valid : {exc.path}"
    if isinstance(exc, NoAuthError):
        return f"Insufficient permission : {exc.path}"
    return f"Error: {exc}"


@click.command("zookeeper-shell", context_settings={"ignore_unknown_options": True,
                                                    "allow_interspersed_args": False})
@click.option("--timeout", default=10.0, show_default=True,
              help="Seconds to wait for the connection.")
@click.option("-v", "--verbose", is_flag=True, help="Show ZooKeeper client logs.")
@click.argument("connect")
@click.argument("command", nargs=-1, type=click.UNPROCESSED)
def zookeeper_shell(timeout: float, verbose: bool, connect: str,
                    command: Sequence[str]) -> None:
    """Run COMMAND against ZooKeeper at CONNECT (host:port[/chroot]); without COMMAND, run
    one command per line of stdin."""
    logging.getLogger("kazoo").setLevel(logging.DEBUG if verbose else logging.CRITICAL)
    tls_config_file = None
    if command[:1] == ("-zk-tls-config-file",):    # Kafka's zookeeper-shell option
        if len(command) < 2:
            _fail("Error: -zk-tls-config-file needs a file")
        tls_config_file, command = command[1], command[2:]
    try:
        zk = SyncZk(connect, timeout_ms=int(timeout * 1000),
                    auth=_shell_auth(tls_config_file)).start()
    except ZkError as exc:
        _fail(f"Error: {exc}")
    except ValueError as exc:   # malformed connect string
        _fail(f"Error: invalid connect string {connect!r}: {exc}")
    failed = False
    try:
        lines = [shlex.join(command)] if command else sys.stdin
        for line in lines:
            try:
                words = shlex.split(line)
                if not words or words[0].startswith("#"):
                    continue
                if words[0] in ("quit", "exit"):
                    break
                _shell_command(zk, words, click.echo)
            except ZkError as exc:
                click.echo(_zk_error_message(exc), err=True)
                failed = True
            except (click.UsageError, ValueError) as exc:
                click.echo(f"Error: {getattr(exc, 'message', exc)}", err=True)
                failed = True
    finally:
        zk.close()
    sys.exit(1 if failed else 0)


_group = click.Group("zookeeper-tools", commands=[zookeeper_server_start,
                                                  zookeeper_server_stop, zookeeper_shell],
                     help="kafkalite's ZooKeeper tools.")


def main(argv: Sequence[str] | None = None) -> None:
    """``python -m kafkalite.cli.zookeeper_tools [COMMAND] ARGS``.

    COMMAND is zookeeper-server-start, zookeeper-server-stop or zookeeper-shell. Without a
    known command the arguments go to zookeeper-server-start, so the module also stands in
    for ZooKeeper's ``QuorumPeerMain <config>`` under ``kafka-run-class.sh``.
    """
    args = list(sys.argv[1:] if argv is None else argv)
    if args and args[0] not in _group.commands and args[0] not in ("-h", "--help"):
        args.insert(0, zookeeper_server_start.name)
    if args and args[0] in _group.commands:  # usage lines name the script: zookeeper-shell.sh
        _group.commands[args[0]].main(args=args[1:], prog_name=f"{args[0]}.sh")
    _group.main(args=args, prog_name="zookeeper-tools")


if __name__ == "__main__":
    main()
