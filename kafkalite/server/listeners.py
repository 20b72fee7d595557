"""How each listener authenticates, and how this broker authenticates to the others.

From Kafka's keys (``listeners``, ``listener.security.protocol.map``, ``ssl.*``,
``sasl.enabled.mechanisms``, ``listener.name.<listener>.<mechanism>.sasl.jaas.config``, ...),
each optionally per listener as ``listener.name.<listener>.<key>``:

- :func:`listener_security` — the TLS context and SASL mechanisms of a listener. PLAIN checks
  the ``user_<name>="<password>"`` options of the listener's PlainLoginModule JAAS entry
  (``listener.name.<l>.plain.sasl.jaas.config``, or the ``KafkaServer`` section of the static
  JAAS file named by ``-Djava.security.auth.login.config`` in ``KAFKA_OPTS``);
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


def _jaas_entries(cfg: ServerConfig, listener: str, mechanism: str) -> list:
    """The broker's JAAS entries for ``mechanism`` on ``listener``, where Kafka looks:
    ``listener.name.<listener>.<mechanism>.sasl.jaas.config``, else the static JAAS file's
    ``<listener>.KafkaServer`` or ``KafkaServer`` section. (A bare ``sasl.jaas.config`` is
    ignored on brokers, as Kafka ignores it.)"""
    from kafkalite.security.jaas import listener_jaas_config_key, parse_single_jaas_config
    from kafkalite.security.static_jaas import load_static_jaas

    text = cfg.originals.get(listener_jaas_config_key(listener, mechanism))
    if text:
        return [parse_single_jaas_config(text)]
    loaded = load_static_jaas()
    if loaded:
        sections = loaded[1]
        for name in (f"{listener.lower()}.KafkaServer", "KafkaServer"):
            if name in sections:
                return sections[name]
    raise ConfigError(f"listener {listener}: no JAAS configuration for {mechanism} (set "
                      f"{listener_jaas_config_key(listener, mechanism)}, or a KafkaServer "
                      "section in the file of -Djava.security.auth.login.config in KAFKA_OPTS)")


def _module_for(mechanism: str) -> str:
    from kafkalite.security.jaas import PLAIN_LOGIN_MODULE, SCRAM_LOGIN_MODULE

    return PLAIN_LOGIN_MODULE if mechanism == "PLAIN" else SCRAM_LOGIN_MODULE


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
    from kafkalite.security.jaas import plain_users
    from kafkalite.security.sasl import create_server, plain_verifier

    verify = plain_verifier(plain_users(_jaas_entries(cfg, listener, "PLAIN"))) \
        if "PLAIN" in mechanisms else None

    def new_server(mechanism: str):
        return create_server(mechanism, plain_verify=verify, scram_lookup=credentials.get,
                             nonce=lambda: secrets.token_urlsafe(18))

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
    from kafkalite.security.jaas import login_credentials
    from kafkalite.security.sasl import create_client

    entries = [e for e in _jaas_entries(cfg, listener, mechanism)
               if e.login_module == _module_for(mechanism)]
    username, password = login_credentials(entries[0]) if entries else (None, None)
    if username is None or password is None:
        raise ConfigError(f"listener {listener}: the {mechanism} JAAS line needs username and "
                          "password for the inter-broker connections")

    def new_client():
        return create_client(mechanism, username, password, nonce=secrets.token_urlsafe(18))

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
