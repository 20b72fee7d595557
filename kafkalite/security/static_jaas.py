"""The static JAAS file, where Kafka users put it: ``KAFKA_OPTS`` names it.

Kafka's scripts pass JVM options from ``KAFKA_OPTS``; a JAAS file is given as
``-Djava.security.auth.login.config=/etc/kafka/kafka_server_jaas.conf``. Brokers read its
``KafkaServer`` section (or ``<listener>.KafkaServer``) for SASL listeners, and brokers and
tools read its ``Client`` section (renamed by ``-Dzookeeper.sasl.clientconfig=NAME``) for
their identity towards ZooKeeper. Keeping that contract means a Kafka user's start-up lines
work unchanged.

ZooKeeper identity (:mod:`kafkalite.security.zk_client`): the ``username``/``password`` of the
``Client`` entry become a ZooKeeper ``digest`` identity (``addauth digest user:password``).
Kafka logs in with SASL DIGEST-MD5 instead, which needs a SASL-enabled ZooKeeper server; the
digest scheme needs no server set-up, and the resulting znode ACLs behave the same way (only
that identity may change what it created; ``zookeeper.set.acl`` decides whether new znodes are
protected).
"""

from __future__ import annotations

import os
import shlex
from collections.abc import Mapping

from kafkalite.errors import ConfigError
from kafkalite.security.jaas import JaasEntry, parse_jaas_file

__all__ = ["jvm_properties", "static_jaas_path", "load_static_jaas"]

LOGIN_CONFIG = "java.security.auth.login.config"


def jvm_properties(environ: Mapping[str, str] | None = None) -> dict[str, str]:
    """The ``-Dkey=value`` options of ``KAFKA_OPTS``."""
    env = os.environ if environ is None else environ
    props = {}
    for arg in shlex.split(env.get("KAFKA_OPTS", "")):
        if arg.startswith("-D") and "=" in arg:
            key, value = arg[2:].split("=", 1)
            props[key] = value
    return props


def static_jaas_path(environ: Mapping[str, str] | None = None) -> str | None:
    return jvm_properties(environ).get(LOGIN_CONFIG)


def load_static_jaas(environ: Mapping[str, str] | None = None
                     ) -> tuple[str, dict[str, list[JaasEntry]]] | None:
    """``(path, sections)`` of the static JAAS file, or None when ``KAFKA_OPTS`` names none.

    Raises:
        ConfigError: the file cannot be read or parsed (Kafka fails the same way at start).
    """
    path = static_jaas_path(environ)
    if not path:
        return None
    try:
        with open(path, encoding="utf-8") as f:
            text = f.read()
    except OSError as e:
        raise ConfigError(f"cannot read the JAAS file {path} "
                          f"(-D{LOGIN_CONFIG} in KAFKA_OPTS): {e.strerror}") from None
    try:
        return path, parse_jaas_file(text)
    except ConfigError as e:
        raise ConfigError(f"JAAS file {path}: {e}") from None
