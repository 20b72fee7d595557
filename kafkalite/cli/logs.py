"""Logging of the broker and the tools, the way Kafka writes it.

The broker (:func:`configure_broker_logging`) reads a log4j.properties file, Kafka's
``config/log4j.properties`` as shipped: layout ``[%d] %p %m (%c)%n`` and the file split under
``$LOG_DIR`` (``server.log``, ``controller.log``, ``state-change.log``, ``log-cleaner.log``,
``kafka-authorizer.log``, and ``kafka-request.log``, which stays empty until
``kafka.request.logger`` is set to DEBUG), plus stdout. Which file, as in Kafka's
``bin/kafka-run-class.sh``:

* ``KAFKA_LOG4J_OPTS=-Dlog4j.configuration=file:/path/log4j.properties`` if set (other
  ``-Dname=value`` there become ``${name}`` variables, ``-Dkafka.logs.dir`` included);
* else ``log4j.properties`` beside the server.properties given;
* else the checkout's ``config/log4j.properties`` (an installed package's
  ``<prefix>/share/kafkalite/config/log4j.properties``);
* else :data:`DEFAULT_LOG4J`, the same configuration built in.

``LOG_DIR`` (default ``logs`` in the current directory) is ``${kafka.logs.dir}``.
``KAFKALITE_LOG_LEVEL`` (TRACE, DEBUG, INFO, WARN, ERROR) overrides the level of the root
logger and of ``kafka``, the quick way to a chatty broker.

**Logger names.** kafkalite's modules log through ``logging.getLogger(__name__)``-style loggers
(``kafkalite.controller``, ``kafkalite.storage.log`` ...). :data:`KAFKA_LOGGERS` maps them, by
longest module prefix, onto Kafka's logger names (``kafka.controller.KafkaController``,
``kafka.log.Log`` ...), so that the log4j configuration, the ``(%c)`` of each line and the file
split are Kafka's. The mapping also carries Kafka's "log ident" of the class, e.g.
``[KafkaServer id=0] `` or ``[GroupCoordinator 0]: ``, which is put before messages that do not
start with a ``[`` prefix of their own (per-instance idents such as
``[Partition t-0 broker=0]`` or ``[Log partition=t-0, dir=/data]`` are written by the call).
Kafka's topic loggers without a class, ``state.change.logger``, ``kafka.request.logger`` and
``kafka.authorizer.logger``, are used by name directly. Modules with no Kafka counterpart
(the web endpoints, the client library) keep their own names.

The mapping is done by one handler on the ``kafkalite`` logger (:class:`_KafkaNames`), which
renames each record and hands it to the Kafka-named logger; the levels of our loggers are
kept in step with their Kafka targets so disabled levels cost one comparison, as before.
Without :func:`configure_broker_logging` (unit tests, library use) nothing is renamed.
"""

from __future__ import annotations

import logging
import os
import shlex
import sys
from collections.abc import Mapping
from pathlib import Path

from kafkalite.cli.log4j import (LEVELS, Log4jConfig, PatternLayout, apply_log4j, load_log4j,
                                 parse_log4j)
from kafkalite.config import parse_properties

__all__ = ["configure_logging", "configure_broker_logging", "KAFKA_LOGGERS", "kafka_logger_for",
           "log4j_config_path", "DEFAULT_LOG4J", "REPO_LOG4J"]

REPO_LOG4J = Path(__file__).resolve().parents[2] / "config" / "log4j.properties"
# where an installed wheel puts the shipped configs (setup.cfg's data_files)
INSTALLED_LOG4J = Path(sys.prefix) / "share" / "kafkalite" / "config" / "log4j.properties"

# our module (longest prefix wins) -> (Kafka's logger name, Kafka's log ident or None);
# "{id}" in an ident is the broker id.
KAFKA_LOGGERS: dict[str, tuple[str, str | None]] = {
    "kafkalite.cli.server": ("kafka.server.KafkaServer", "[KafkaServer id={id}] "),
    "kafkalite.server.broker": ("kafka.server.KafkaServer", "[KafkaServer id={id}] "),
    "kafkalite.server.network": ("kafka.network.SocketServer", "[SocketServer brokerId={id}] "),
    "kafkalite.server.dispatch": ("kafka.server.KafkaApis", "[KafkaApi-{id}] "),
    "kafkalite.server.handlers": ("kafka.server.KafkaApis", "[KafkaApi-{id}] "),
    "kafkalite.server.handlers.alter_configs": ("kafka.server.ZkAdminManager",
                                                "[Admin Manager on Broker {id}]: "),
    "kafkalite.server.handlers.incremental_alter_configs": (
        "kafka.server.ZkAdminManager", "[Admin Manager on Broker {id}]: "),
    "kafkalite.server.handlers.alter_user_scram_credentials": (
        "kafka.server.ZkAdminManager", "[Admin Manager on Broker {id}]: "),
    "kafkalite.server.handlers.describe_user_scram_credentials": (
        "kafka.server.ZkAdminManager", "[Admin Manager on Broker {id}]: "),
    "kafkalite.server.config_manager": ("kafka.server.DynamicConfigManager", None),
    "kafkalite.server.inter_broker": ("kafka.server.BrokerToBrokerRequestThread", None),
    "kafkalite.server.metadata_cache": ("kafka.server.MetadataCache",
                                        "[MetadataCache brokerId={id}] "),
    "kafkalite.server.log_service": ("kafka.log.LogManager", None),
    "kafkalite.server.cleaner_service": ("kafka.log.LogCleaner", None),
    "kafkalite.storage": ("kafka.log.Log", None),
    "kafkalite.storage.manager": ("kafka.log.LogManager", None),
    "kafkalite.storage.segment": ("kafka.log.LogSegment", None),
    "kafkalite.storage.leader_epoch": ("kafka.server.epoch.LeaderEpochFileCache", None),
    "kafkalite.storage.cleaner": ("kafka.log.LogCleaner", None),
    "kafkalite.replication": ("kafka.server.ReplicaManager", "[ReplicaManager broker={id}] "),
    "kafkalite.replication.partition": ("kafka.cluster.Partition", None),
    "kafkalite.replication.fetcher": ("kafka.server.ReplicaFetcherThread", None),
    "kafkalite.controller": ("kafka.controller.KafkaController", "[Controller id={id}] "),
    "kafkalite.controller.service.channel": ("kafka.controller.ControllerChannelManager",
                                             "[Channel manager on controller {id}]: "),
    "kafkalite.controller.service.deletion": ("kafka.controller.TopicDeletionManager",
                                              "[Topic Deletion Manager {id}] "),
    "kafkalite.coordinator": ("kafka.coordinator.group.GroupCoordinator",
                              "[GroupCoordinator {id}]: "),
    "kafkalite.coordinator.transaction": ("kafka.coordinator.transaction.TransactionCoordinator",
                                          "[TransactionCoordinator id={id}] "),
    "kafkalite.security": ("kafka.security.authorizer.AclAuthorizer", None),
    "kafkalite.security.zk_client": ("kafka.zookeeper.ZooKeeperClient",
                                     "[ZooKeeperClient Kafka server] "),
    "kafkalite.security.credentials": ("kafka.server.DynamicConfigManager", None),
    "kafkalite.zk": ("kafka.zk.KafkaZkClient", None),
    "kafkalite.zk.session": ("kafka.zookeeper.ZooKeeperClient",
                             "[ZooKeeperClient Kafka server] "),
}

# Kafka's config/log4j.properties, for an installation without the file (keys only; the
# shipped config/log4j.properties explains them).
DEFAULT_LOG4J = """\
log4j.rootLogger=INFO, stdout, kafkaAppender
log4j.appender.stdout=org.apache.log4j.ConsoleAppender
log4j.appender.stdout.layout=org.apache.log4j.PatternLayout
log4j.appender.stdout.layout.ConversionPattern=[%d] %p %m (%c)%n
""" + "".join(f"""\
log4j.appender.{name}=org.apache.log4j.DailyRollingFileAppender
log4j.appender.{name}.DatePattern='.'yyyy-MM-dd-HH
log4j.appender.{name}.File=${{kafka.logs.dir}}/{file}
log4j.appender.{name}.layout=org.apache.log4j.PatternLayout
log4j.appender.{name}.layout.ConversionPattern=[%d] %p %m (%c)%n
""" for name, file in (("kafkaAppender", "server.log"),
                       ("stateChangeAppender", "state-change.log"),
                       ("requestAppender", "kafka-request.log"),
                       ("cleanerAppender", "log-cleaner.log"),
                       ("controllerAppender", "controller.log"),
                       ("authorizerAppender", "kafka-authorizer.log"))) + """\
log4j.logger.org.apache.zookeeper=INFO
log4j.logger.kazoo=WARN
log4j.logger.kafka=INFO
log4j.logger.org.apache.kafka=INFO
log4j.logger.kafka.request.logger=WARN, requestAppender
log4j.additivity.kafka.request.logger=false
log4j.logger.kafka.network.RequestChannel$=WARN, requestAppender
log4j.additivity.kafka.network.RequestChannel$=false
log4j.logger.kafka.controller=TRACE, controllerAppender
log4j.additivity.kafka.controller=false
log4j.logger.kafka.log.LogCleaner=INFO, cleanerAppender
log4j.additivity.kafka.log.LogCleaner=false
log4j.logger.state.change.logger=INFO, stateChangeAppender
log4j.additivity.state.change.logger=false
log4j.logger.kafka.authorizer.logger=INFO, authorizerAppender
log4j.additivity.kafka.authorizer.logger=false
"""


def kafka_logger_for(module: str) -> tuple[str, str | None] | None:
    """Kafka's logger name and log ident for one of our logger names (longest prefix)."""
    name = module
    while name:
        hit = KAFKA_LOGGERS.get(name)
        if hit is not None:
            return hit
        name = name.rpartition(".")[0]
    return None


class _KafkaNames(logging.Handler):
    """On the ``kafkalite`` logger (which stops propagating): renames a record to its Kafka
    logger, prefixes the log ident, and lets that logger's handlers (and its ancestors')
    have it; records of unmapped modules go to the root logger's handlers unchanged."""

    def __init__(self, broker_id: int):
        super().__init__()
        self.broker_id = broker_id
        self._cache: dict[str, tuple[logging.Logger, str]] = {}

    def _target(self, name: str) -> tuple[logging.Logger, str]:
        hit = self._cache.get(name)
        if hit is None:
            mapped = kafka_logger_for(name)
            if mapped is None:
                hit = (logging.getLogger(), "")
            else:
                ident = (mapped[1] or "").format(id=self.broker_id)
                hit = (logging.getLogger(mapped[0]), ident)
            self._cache[name] = hit
        return hit

    def handle(self, record: logging.LogRecord) -> bool:
        # No lock: emitting happens in the target's handlers, which lock themselves.
        self.emit(record)
        return True

    def emit(self, record: logging.LogRecord) -> None:
        logger, ident = self._target(record.name)
        if logger is logging.getLogger():
            logger.callHandlers(record)
            return
        if not logger.isEnabledFor(record.levelno):
            return
        record.name = logger.name
        if ident and not (isinstance(record.msg, str) and record.msg.startswith("[")):
            record.msg = ident + str(record.msg)
        logger.callHandlers(record)


def _sync_levels(broker_id: int) -> None:
    """Install the renaming handler and give each mapped module logger the level of its
    Kafka target, so a disabled call stops at the module logger."""
    ours = logging.getLogger("kafkalite")
    for h in list(ours.handlers):
        ours.removeHandler(h)
    ours.addHandler(_KafkaNames(broker_id))
    ours.propagate = False
    ours.setLevel(logging.getLogger().getEffectiveLevel())
    for module, (kafka_name, _) in sorted(KAFKA_LOGGERS.items()):
        logging.getLogger(module).setLevel(logging.getLogger(kafka_name).getEffectiveLevel())


def _jvm_options(text: str) -> dict[str, str]:
    """``-Dname=value`` options of a KAFKA_LOG4J_OPTS-style string."""
    out = {}
    try:
        words = shlex.split(text)
    except ValueError:
        words = text.split()
    for w in words:
        if w.startswith("-D") and "=" in w:
            k, _, v = w[2:].partition("=")
            out[k] = v
    return out


def log4j_config_path(properties_path: str | os.PathLike | None,
                      env: Mapping[str, str] | None = None) -> Path | None:
    """The log4j.properties the broker reads (see the module docstring); None means the
    built-in :data:`DEFAULT_LOG4J`."""
    env = os.environ if env is None else env
    configured = _jvm_options(env.get("KAFKA_LOG4J_OPTS", "")).get("log4j.configuration")
    if configured:
        return Path(configured.removeprefix("file:"))
    if properties_path is not None:
        beside = Path(properties_path).resolve().parent / "log4j.properties"
        if beside.is_file():
            return beside
    return next((p for p in (REPO_LOG4J, INSTALLED_LOG4J) if p.is_file()), None)


def configure_broker_logging(properties_path: str | os.PathLike | None, broker_id: int, *,
                             env: Mapping[str, str] | None = None, stdout=None
                             ) -> tuple[Path, Path | None]:
    """Configure the broker's logging; returns ``(log dir, log4j file or None)``.

    A log4j file that cannot be read is reported on stderr and the built-in default used,
    as a broker that cannot log where asked should still start and say so."""
    env = os.environ if env is None else env
    log_dir = Path(env.get("LOG_DIR") or "logs").absolute()
    variables = {"kafka.logs.dir": str(log_dir)}
    variables.update(_jvm_options(env.get("KAFKA_LOG4J_OPTS", "")))
    path = log4j_config_path(properties_path, env)
    config: Log4jConfig | None = None
    if path is not None:
        try:
            config = load_log4j(path, variables)
        except OSError as e:
            print(f"log4j:ERROR Could not read configuration file [{path}]: {e.strerror}; "
                  "using the built-in configuration", file=sys.stderr)
            path = None
    if config is None:
        config = parse_log4j(parse_properties(DEFAULT_LOG4J), variables)
    apply_log4j(config, stdout=stdout,
                managed=["kafkalite", "kazoo", "kafka", *sorted(KAFKA_LOGGERS),
                         *sorted({name for name, _ in KAFKA_LOGGERS.values()})])
    override = (env.get("KAFKALITE_LOG_LEVEL") or "").strip().upper()
    if override in LEVELS:
        logging.getLogger().setLevel(LEVELS[override])
        logging.getLogger("kafka").setLevel(LEVELS[override])
    _sync_levels(broker_id)
    return Path(variables["kafka.logs.dir"]), path


def configure_logging(stream=None, path: str | None = None) -> None:
    """A single handler in the log4j layout, for the tools (stderr, as Kafka's
    tools-log4j.properties) or a file; ``KAFKALITE_LOG_LEVEL`` sets the level (INFO)."""
    level = (os.environ.get("KAFKALITE_LOG_LEVEL") or "INFO").strip().upper()
    handler: logging.Handler
    if path:
        handler = logging.FileHandler(path, encoding="utf-8")
    else:
        handler = logging.StreamHandler(stream or sys.stdout)
    handler.terminator = ""
    handler.setFormatter(PatternLayout())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(LEVELS.get(level, logging.INFO))
    for noisy in ("kazoo", "kazoo.client", "kazoo.protocol.connection"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
