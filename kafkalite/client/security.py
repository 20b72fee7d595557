"""A client's :class:`ClientSecurity` from Kafka's client properties.

The tools take the same client property files as Kafka's (``--command-config``,
``--producer.config``, ``--consumer.config``, ``--admin.config``), so the file a Kafka user
already has for a secured cluster works unchanged::

    security.protocol=SASL_SSL
    sasl.mechanism=SCRAM-SHA-512
    sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required \\
        username="alice" password="alice-secret";
    ssl.truststore.type=PEM
    ssl.truststore.location=/etc/kafka/ca.pem

Defaults are Kafka's client defaults (``ssl.endpoint.identification.algorithm=https``: the
broker's certificate must name the host connected to; an empty value turns that off). A
keystore (``ssl.keystore.location``, PEM) answers a broker that asks for a client certificate.
"""

from __future__ import annotations

import secrets
from collections.abc import Mapping

from kafkalite.client.connection import ClientSecurity
from kafkalite.errors import ConfigError

__all__ = ["client_security", "SECURITY_PROTOCOLS"]

SECURITY_PROTOCOLS = ("PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL")
_DEFAULTS = {"ssl.enabled.protocols": "TLSv1.2,TLSv1.3",
             "ssl.endpoint.identification.algorithm": "https", "sasl.mechanism": "GSSAPI"}


def client_security(props: Mapping[str, str]) -> ClientSecurity | None:
    """None for PLAINTEXT (the default), else the TLS context and/or SASL login to use.

    Raises:
        ConfigError: an unknown protocol or mechanism, a JAAS line without username and
            password, unreadable or unsupported key stores (the message names the key).
    """
    from kafkalite.security.jaas import login_credentials, parse_single_jaas_config
    from kafkalite.security.sasl import SUPPORTED_MECHANISMS, create_client
    from kafkalite.security.tls import client_context

    protocol = (props.get("security.protocol") or "PLAINTEXT").strip().upper()
    if protocol not in SECURITY_PROTOCOLS:
        raise ConfigError(f"Invalid value {protocol} for configuration security.protocol: "
                          f"String must be one of: {', '.join(SECURITY_PROTOCOLS)}")
    if protocol == "PLAINTEXT":
        return None

    def get(key: str) -> str | None:
        return props.get(key, _DEFAULTS.get(key))

    ssl_context = client_context(get, "client") if protocol.endswith("SSL") else None
    if not protocol.startswith("SASL"):
        return ClientSecurity(ssl_context=ssl_context)
    mechanism = (get("sasl.mechanism") or "").strip().upper()
    if mechanism not in SUPPORTED_MECHANISMS:
        raise ConfigError(f"sasl.mechanism {mechanism}: only {', '.join(SUPPORTED_MECHANISMS)} "
                          "are supported")
    text = props.get("sasl.jaas.config")
    if not text:
        raise ConfigError(f"security.protocol={protocol} needs sasl.jaas.config (e.g. "
                          "org.apache.kafka.common.security.scram.ScramLoginModule required "
                          'username="alice" password="alice-secret";)')
    username, password = login_credentials(parse_single_jaas_config(text))
    if username is None or password is None:
        raise ConfigError("sasl.jaas.config needs username and password")

    def new_client():
        return create_client(mechanism, username, password, nonce=secrets.token_urlsafe(18))

    return ClientSecurity(ssl_context=ssl_context, sasl_mechanism=mechanism,
                          new_sasl_client=new_client)
