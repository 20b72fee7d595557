"""Helpers shared by the client-side tools (console producer/consumer, kafka-topics --bootstrap).

The contract every tool keeps (Kafka's tools behave this way, minus the stack traces):

* bad flags are click usage errors: its message, exit 2;
* an expected runtime failure — unreachable broker, a Kafka error, a timeout, bad input —
  prints one line ``ERROR: <message>`` on stderr and exits 1 (:func:`run_trio`);
* anything else is a bug and keeps its traceback.

Every tool that talks to brokers takes Kafka's client properties file (``--command-config``,
``--admin.config``, ``--producer.config``, ``--consumer.config``) so that the file a Kafka user
already has for a secured cluster works unchanged; :func:`cluster_kwargs` turns those properties
into the ``Cluster`` arguments.

trio raises errors from nurseries inside ``ExceptionGroup``s; :func:`run_trio` looks through
groups so a ``ConnectionFailed`` raised in a child task still becomes one line.
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
import signal
import sys
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any, NoReturn

import click
import trio

from kafkalite.client.security import client_security
from kafkalite.config import load_properties
from kafkalite.errors import ConfigError, KafkaError, ProtocolViolation
from kafkalite.client.errors import ClientError, describe
from kafkalite.zk.errors import NoAuthError

__all__ = [
    "TtyProgress",
    "RateCounter",
    "EXPECTED_ERRORS",
    "fail",
    "run_trio",
    "parse_properties",
    "read_config_file",
    "choose_bootstrap",
    "cluster_kwargs",
    "CLIENT_SECURITY_KEYS",
    "parse_bool",
    "parse_int",
    "warn_unknown",
    "tool_zk_session",
    "open_tool_zk",
    "expand_nargs",
    "NargsCommand",
    "cancel_on_signals",
    "run_until_signalled",
    "whitelist_regex",
]

#: Exceptions that are a user's or the cluster's problem, not a bug in the tool.
EXPECTED_ERRORS: tuple[type[BaseException], ...] = (
    KafkaError, ClientError, ConfigError, ProtocolViolation, OSError, TimeoutError,
    trio.TooSlowError, NoAuthError,
)


def fail(message: str, code: int = 1) -> NoReturn:
    """Print ``ERROR: message`` to stderr and exit with ``code``."""
    click.echo(f"ERROR: {message}", err=True)
    sys.exit(code)


def _leaves(exc: BaseException) -> list[BaseException]:
    if isinstance(exc, BaseExceptionGroup):
        out: list[BaseException] = []
        for inner in exc.exceptions:
            out.extend(_leaves(inner))
        return out
    return [exc]


def _silence_stdout() -> None:
    """After EPIPE on stdout (``tool | head``), point stdout at /dev/null so the interpreter's
    final flush does not print a second error."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):
        pass


def run_trio(async_fn: Callable[..., Any], *args: Any) -> Any:
    """``trio.run(async_fn, *args)``, turning expected failures into the one-line error exit.

    Returns:
        Whatever ``async_fn`` returned.

    Exits:
        1 with ``ERROR: <message>`` for :data:`EXPECTED_ERRORS` (also inside exception groups);
        130 on Ctrl-C; 1 silently when stdout was closed by the reader (EPIPE).
    """
    try:
        return trio.run(async_fn, *args)
    except BaseException as exc:  # noqa: BLE001 — sorted below; bugs are re-raised
        leaves = _leaves(exc)
        if any(isinstance(e, KeyboardInterrupt) for e in leaves):
            sys.exit(130)
        if any(isinstance(e, BrokenPipeError) for e in leaves):
            _silence_stdout()
            sys.exit(1)
        if isinstance(exc, SystemExit):
            raise
        if leaves and all(isinstance(e, EXPECTED_ERRORS) for e in leaves):
            fail(describe(leaves[0]))
        raise


def tool_zk_session(connect: str, zk_tls_config_file: str | None = None, *,
                    zk_tls_config: Mapping[str, str] | None = None):
    """The ZooKeeper session of a ``--zookeeper`` tool: with the JAAS ``Client`` identity of
    ``KAFKA_OPTS`` when there is one (and then, as Kafka's tools, creating protected znodes),
    so the tools keep working against brokers that run with ``zookeeper.set.acl=true``; over
    TLS per ``--zk-tls-config-file`` or ZooKeeper's system properties in ``KAFKA_OPTS``.

    Raises:
        ConfigError: an unreadable file or unusable TLS settings.
    """
    from kafkalite.security.zk_client import read_zk_tls_config_file, zk_auth
    from kafkalite.zk.session import ZkSession

    config = dict(zk_tls_config or {})
    if zk_tls_config_file:
        config.update(read_zk_tls_config_file(zk_tls_config_file))
    return ZkSession(connect, session_timeout_ms=30000, connection_timeout_ms=10000,
                     auth=zk_auth(config=config))


@contextlib.asynccontextmanager
async def open_tool_zk(connect: str, zk_tls_config_file: str | None = None, *,
                       zk_tls_config: Mapping[str, str] | None = None,
                       error: Callable[[str], Exception] = ConfigError):
    """``async with open_tool_zk(connect) as session:`` — :func:`tool_zk_session`, started
    within 15 s and closed on exit. Not reaching ZooKeeper, whatever the reason, raises
    ``error("Unable to connect to ZooKeeper at <connect>: <why>")``: each tool reports it in
    its own format (Kafka's tools differ there too)."""
    logging.getLogger("kazoo").setLevel(logging.CRITICAL)  # the tool reports failures itself
    session = tool_zk_session(connect, zk_tls_config_file, zk_tls_config=zk_tls_config)
    try:
        with trio.fail_after(15):
            await session.start()
    except Exception as e:  # noqa: BLE001 - any failure here means "unreachable"
        with trio.CancelScope(shield=True):
            await session.close()
        raise error(f"Unable to connect to ZooKeeper at {connect}: "
                    f"{e or type(e).__name__}") from None
    try:
        yield session
    finally:
        with trio.CancelScope(shield=True):
            await session.close()


def parse_properties(items: Iterable[str], *, option: str = "--property") -> dict[str, str]:
    """``key=value`` strings (repeatable ``--property`` flags) to a dict; later wins.

    The value may itself contain ``=``; blanks around the key are dropped, the value is kept
    as given (``key.separator= `` is a space).

    Raises:
        click.BadParameter: an item without ``=`` (Kafka: "Missing value for key ...").
    """
    out: dict[str, str] = {}
    for item in items:
        key, sep, value = item.partition("=")
        key = key.strip()
        if not sep or not key:
            raise click.BadParameter(f"Invalid property '{item}': expected key=value "
                                     f"(Missing value for key {key or item!r})",
                                     param_hint=option)
        out[key] = value
    return out


def read_config_file(path: str | None) -> dict[str, str]:
    """A ``.properties`` file (``--producer.config`` / ``--consumer.config``); {} for None.

    Raises:
        ConfigError: the file cannot be read.
    """
    if not path:
        return {}
    return load_properties(path)


#: The client properties :func:`cluster_kwargs` reads for TLS and SASL (Kafka's names), so
#: tools that warn about unknown properties know them.
CLIENT_SECURITY_KEYS = frozenset({
    "security.protocol", "sasl.mechanism", "sasl.jaas.config", "ssl.enabled.protocols",
    "ssl.cipher.suites", "ssl.endpoint.identification.algorithm", "ssl.truststore.type",
    "ssl.truststore.location", "ssl.truststore.certificates", "ssl.keystore.type",
    "ssl.keystore.location", "ssl.keystore.key", "ssl.keystore.certificate.chain",
    "ssl.keystore.password", "ssl.key.password",
})


def cluster_kwargs(props: Mapping[str, str], *, client_id: str | None = None) -> dict[str, Any]:
    """``Cluster`` keyword arguments from Kafka client properties.

    Always ``security`` (None for PLAINTEXT, see
    :func:`kafkalite.client.security.client_security`), so every connection the tool opens,
    group coordinator included, speaks the listener's protocol. ``client_id`` only when the
    tool passes its default: ``client.id`` from the properties wins over it, as in Kafka;
    tools that send a fixed client id leave it out.

    Raises:
        ConfigError: bad security settings (the message names the key).
    """
    kwargs: dict[str, Any] = {"security": client_security(props)}
    if client_id is not None:
        kwargs["client_id"] = (props.get("client.id") or "").strip() or client_id
    return kwargs


def choose_bootstrap(bootstrap_server: str | None, broker_list: str | None = None,
                     properties: Mapping[str, str] | None = None) -> str:
    """The bootstrap servers: ``--bootstrap-server``, else the deprecated ``--broker-list``,
    else ``bootstrap.servers`` from the config properties.

    Raises:
        click.UsageError: none given.
    """
    for value in (bootstrap_server, broker_list, (properties or {}).get("bootstrap.servers")):
        if value and value.strip():
            return value.strip()
    raise click.UsageError('Missing required argument "[bootstrap-server]"')


def parse_bool(value: str | bool, *, key: str = "value") -> bool:
    """Kafka's boolean config parsing: "true"/"false", case-insensitive.

    Raises:
        ConfigError: anything else.
    """
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in ("true", "false"):
        return text == "true"
    raise ConfigError(f"Invalid value {value} for configuration {key}: Expected value to be "
                      "either true or false")


def parse_int(value: str | int, *, key: str) -> int:
    """An integer config value.

    Raises:
        ConfigError: not an integer.
    """
    try:
        return int(str(value).strip())
    except ValueError:
        raise ConfigError(f"Invalid value {value} for configuration {key}: Not a number of "
                          "type INT") from None


def warn_unknown(props: Mapping[str, str], known: Iterable[str]) -> None:
    """Kafka's warning for configs it does not use (not fatal)."""
    known_set = set(known)
    for key in props:
        if key not in known_set:
            click.echo(f"WARN The configuration '{key}' was supplied but isn't a known config.",
                       err=True)


_OPTION_LIKE = re.compile(r"--?[A-Za-z]")


def expand_nargs(args: Sequence[str], options: Iterable[str]) -> list[str]:
    """argparse's ``nargs='+'`` for click: ``--opt a b`` becomes ``--opt a --opt b``.

    The values of a listed option run until the next token that looks like an option
    (``-x``/``--xyz``; negative numbers are values), as in Kafka's argparse4j tools
    (``--producer-props bootstrap.servers=h:9092 acks=all``). ``--opt=a`` stays as it is.
    """
    wanted = set(options)
    out: list[str] = []
    current: str | None = None
    empty = False  # the current option has no value yet
    for arg in args:
        if arg in wanted or _OPTION_LIKE.match(arg) or arg == "--":
            if empty:
                out.append(current)  # no value: click reports the missing argument
            current, empty = (arg, True) if arg in wanted else (None, False)
            if current is None:
                out.append(arg)
        elif current is not None:
            out.extend((current, arg))
            empty = False
        else:
            out.append(arg)
    if empty:
        out.append(current)
    return out


class NargsCommand(click.Command):
    """A click command with options that take one or more values (:func:`expand_nargs`):
    ``@click.command(cls=NargsCommand, nargs_options=("--producer-props",))`` with the option
    declared ``multiple=True``."""

    def __init__(self, *args: Any, nargs_options: Iterable[str] = (), **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.nargs_options = tuple(nargs_options)

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        return super().parse_args(ctx, expand_nargs(args, self.nargs_options))


async def cancel_on_signals(scope: trio.CancelScope, *,
                            task_status=trio.TASK_STATUS_IGNORED) -> None:
    """Cancel ``scope`` at the first SIGTERM or SIGINT, so a long-running tool ends the way
    Kafka's shutdown hooks end it (flush, commit, print its closing lines) instead of dying.
    Start it with ``await nursery.start(cancel_on_signals, scope)``."""
    with trio.open_signal_receiver(signal.SIGTERM, signal.SIGINT) as signals:
        task_status.started()
        async for _ in signals:
            scope.cancel()
            return


async def run_until_signalled(async_fn: Callable[..., Any], *args: Any) -> bool:
    """Run ``async_fn(*args)`` until it returns or SIGTERM/SIGINT arrives (which cancels it).

    Returns:
        True if a signal stopped it.
    """
    with trio.CancelScope() as scope:
        async with trio.open_nursery() as nursery:
            await nursery.start(cancel_on_signals, scope)
            await async_fn(*args)
            nursery.cancel_scope.cancel()
    return scope.cancelled_caught


def whitelist_regex(raw: str) -> str:
    """Kafka's Whitelist: trimmed, commas become ``|``, blanks and surrounding quotes dropped.

    Raises:
        ConfigError: not a valid regular expression.
    """
    regex = raw.strip().replace(",", "|").replace(" ", "")
    regex = re.sub(r"""^["']+""", "", regex)
    regex = re.sub(r"""["']+$""", "", regex)
    try:
        re.compile(regex)
    except re.error:
        raise ConfigError(f"Invalid expression syntax: {raw}") from None
    return regex


class TtyProgress:
    """A status line for long-running tools: rewritten in place every ``every_s`` seconds when
    ``stream`` (stderr) is a terminal, nothing at all in a pipe or a file, so scripts that
    read a tool's output see only what Kafka's tool prints."""

    def __init__(self, stream=None, every_s: float = 5.0,
                 clock: Callable[[], float] = time.monotonic):
        self.stream = stream if stream is not None else sys.stderr
        isatty = getattr(self.stream, "isatty", None)
        self.enabled = bool(isatty and isatty())
        self.every_s = every_s
        self.clock = clock
        self._next = clock() + every_s
        self._shown = False

    def tick(self, render: Callable[[], str]) -> None:
        """Show ``render()`` if the interval has passed (``render`` runs only then)."""
        if not self.enabled:
            return
        now = self.clock()
        if now < self._next:
            return
        self._next = now + self.every_s
        self.stream.write("\r" + render() + "\x1b[K")
        self.stream.flush()
        self._shown = True

    def close(self) -> None:
        if self._shown:
            self.stream.write("\n")
            self.stream.flush()
            self._shown = False


class RateCounter:
    """Events counted and the rate since the previous reading (for :class:`TtyProgress`)."""

    def __init__(self, clock: Callable[[], float] = time.monotonic):
        self.clock = clock
        self.count = 0
        self._last = (clock(), 0)

    def rate(self) -> float:
        now = self.clock()
        then, count = self._last
        self._last = (now, self.count)
        return (self.count - count) / (now - then) if now > then else 0.0
