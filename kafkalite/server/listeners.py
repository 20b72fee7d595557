"""How each listener authenticates, and how this broker authenticates to the others.

From Kafka's keys (``listeners``, ``listener.security.protocol.map``, ``ssl.*``,
``sasl.enabled.mechanisms``, ``listener.name.<listener>.<mechanism>.sasl.jaas.config``, ...),
each optionally per listener as ``listener.name.<listener>.<key>``:

- :func:`listener_security` — the TLS context and SASL mechanisms of a listener. PLAIN checks
  the ``user_<name>="<password>"`` options of the listener's PlainLoginModule JAAS line;
  SCRAM-SHA-256/512 look the user up in the broker's credential cache (``/config/users/<user>``
  in ZooKeeper, kept current by the config manager). Other mechanisms (GSSAPI, OAUTHBEARER)
  are refused at start-up with a clear message.
- :func:`inter_broker_security` — what this broker's controller channels and replica fetchers
  use to reach the inter-broker listener (``inter.broker.listener.name`` or
  ``security.inter.broker.protocol``): its truststore/keystore and, for SASL, the mechanism
  ``sasl.mechanism.inter.broker.protocol`` with the ``username``/``password`` options of that
  listener's JAAS line, as Kafka's broker does.
- :func:`connection_limits` — ``max.connections``, ``max.connections.per.ip[.overrides]``,
  ``connections.max.idle.ms``.
"""

from __future__ import annotations

import secrets
from typing import TYPE_CHECKING

from kafkalite.client.connection import ClientSecurity
from kafkalite.errors import ConfigError
from kafkalite.model import BrokerEndpoint
from kafkalite.security.tls import client_context, server_context
from kafkalite.server.network import ConnectionLimits, ListenerSecurity

if TYPE_CHECKING:
    from kafkalite.config import ServerConfig

__all__ = ["listener_security", "inter_broker_security", "connection_limits",
           "SUPPORTED_MECHANISMS"]

SUPPORTED_MECHANISMS = ("PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512")


def _list(value: str | None) -> list[str]:
    return [x.strip() for x in (value or "").split(",") if x.strip()]


def _jaas(cfg: ServerConfig, listener: str, mechanism: str):
    """The parsed JAAS entry of ``listener`` for ``mechanism``: Kafka's
    ``listener.name.<listener>.<mechanism>.sasl.jaas.config``, else ``sasl.jaas.config``."""
    from kafkalite.security.jaas import parse_jaas_config

    text = cfg.originals.get(f"listener.name.{listener.lower()}.{mechanism.lower()}"
                             ".sasl.jaas.config") or cfg["sasl.jaas.config"]
    if not text:
        raise ConfigError(f"listener {listener}: no JAAS configuration for {mechanism} "
                          f"(set listener.name.{listener.lower()}.{mechanism.lower()}"
                          ".sasl.jaas.config)")
    return parse_jaas_config(text)


def listener_security(cfg: ServerConfig, endpoint: BrokerEndpoint,
                      credentials) -> ListenerSecurity:
    """The security of one listener (see the module docstring).

    Raises:
        ConfigError: an unsupported mechanism, a missing JAAS line or key store, ...
    """
    listener, protocol = endpoint.listener, endpoint.security_protocol
    if protocol == "PLAINTEXT":
        return ListenerSecurity()

    def get(key):
        return cfg.listener_value(listener, key)

    ssl_context = server_context(get, listener) if protocol in ("SSL", "SASL_SSL") else None
    if not protocol.startswith("SASL_"):
        return ListenerSecurity(protocol=protocol, ssl_context=ssl_context)
    mechanisms = _list(get("sasl.enabled.mechanisms"))
    unsupported = [m for m in mechanisms if m not in SUPPORTED_MECHANISMS]
    if unsupported or not mechanisms:
        raise ConfigError(f"listener {listener}: sasl.enabled.mechanisms {mechanisms}: only "
                          f"{', '.join(SUPPORTED_MECHANISMS)} are supported")
    plain_users = {}
    if "PLAIN" in mechanisms:
        from kafkalite.security.jaas import plain_users as users_of

        plain_users = users_of(_jaas(cfg, listener, "PLAIN"))

    def new_server(mechanism: str):
        from kafkalite.security.sasl import PlainServer, ScramServer

        if mechanism == "PLAIN":
            return PlainServer(lambda user, password: plain_users.get(user) == password)
        return ScramServer(mechanism, lambda user: credentials.get(mechanism, user),
                           secrets.token_urlsafe(18))

    return ListenerSecurity(protocol=protocol, ssl_context=ssl_context,
                            mechanisms=tuple(mechanisms), new_sasl_server=new_server,
                            failed_auth_delay_s=get(
                                "connection.failed.authentication.delay.ms") / 1000)


def inter_broker_security(cfg: ServerConfig, listener: str) -> ClientSecurity | None:
    """How this broker connects to other brokers' ``listener`` (None for PLAINTEXT)."""
    protocol = cfg.security_protocol(listener)
    if protocol == "PLAINTEXT":
        return None

    def get(key):
        return cfg.listener_value(listener, key)

    ssl_context = client_context(get, listener) if protocol in ("SSL", "SASL_SSL") else None
    if not protocol.startswith("SASL_"):
        return ClientSecurity(ssl_context=ssl_context)
    mechanism = cfg["sasl.mechanism.inter.broker.protocol"]
    if mechanism not in SUPPORTED_MECHANISMS:
        raise ConfigError(f"sasl.mechanism.inter.broker.protocol {mechanism}: only "
                          f"{', '.join(SUPPORTED_MECHANISMS)} are supported")
    options = _jaas(cfg, listener, mechanism).options
    username, password = options.get("username"), options.get("password")
    if username is None or password is None:
        raise ConfigError(f"listener {listener}: the {mechanism} JAAS line needs username and "
                          "password for the inter-broker connections")

    def new_client():
        from kafkalite.security.sasl import PlainClient, ScramClient

        if mechanism == "PLAIN":
            return PlainClient(username, password)
        return ScramClient(mechanism, username, password, secrets.token_urlsafe(18))

    return ClientSecurity(ssl_context=ssl_context, sasl_mechanism=mechanism,
                          new_sasl_client=new_client)


def connection_limits(cfg: ServerConfig) -> ConnectionLimits:
    overrides = {}
    for item in _list(cfg["max.connections.per.ip.overrides"]):
        host, sep, count = item.rpartition(":")
        if not sep or not count.strip().isdigit():
            raise ConfigError(f"Invalid max.connections.per.ip.overrides entry {item!r}: "
                              "expected host:count")
        overrides[host.strip()] = int(count)
    return ConnectionLimits(max_connections=cfg["max.connections"],
                            max_per_ip=cfg["max.connections.per.ip"],
                            per_ip_overrides=overrides,
                            idle_s=cfg["connections.max.idle.ms"] / 1000)
