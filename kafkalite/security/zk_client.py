"""How brokers and tools connect to ZooKeeper: identity, TLS and znode protection.

Kafka takes these from three places, and so do we:

* the JAAS ``Client`` section of the file named by ``KAFKA_OPTS`` (brokers and tools): a
  ``username``/``password`` identity, which becomes ZooKeeper's ``digest`` scheme here (see
  :mod:`kafkalite.security.static_jaas`);
* Kafka's ``zookeeper.ssl.*`` keys (KIP-515): in ``server.properties`` for brokers, in the file
  of a tool's ``--zk-tls-config-file``;
* ZooKeeper's own system properties in ``KAFKA_OPTS`` (``-Dzookeeper.client.secure=true
  -Dzookeeper.ssl.trustStore.location=...``), which Kafka's other tools use and which a broker
  falls back to for keys its properties do not set.

Stores must be PEM files (the keystore: private key and certificate chain in one file), which
ZooKeeper 3.6+ reads too; JKS and PKCS12 are refused with a message saying how to convert.
With a keystore, ZooKeeper's ``x509`` provider identifies us by the certificate's DN, so
``zookeeper.set.acl=true`` needs either that or the JAAS identity, as in Kafka.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping

from kafkalite.errors import ConfigError
from kafkalite.security.jaas import login_credentials
from kafkalite.security.static_jaas import LOGIN_CONFIG, jvm_properties, load_static_jaas
from kafkalite.zk.ops import ZkAuth, ZkTls

__all__ = ["zk_auth", "zk_tls", "ZK_SSL_KEYS", "read_zk_tls_config_file"]

log = logging.getLogger(__name__)

ZK_CLIENT_SECTION = "zookeeper.sasl.clientconfig"
ZK_SASL_CLIENT = "zookeeper.sasl.client"

# Kafka's key -> the ZooKeeper system property it stands for (KafkaConfig's mapping).
ZK_SSL_KEYS = {
    "zookeeper.ssl.client.enable": "zookeeper.client.secure",
    "zookeeper.clientCnxnSocket": "zookeeper.clientCnxnSocket",
    "zookeeper.ssl.keystore.location": "zookeeper.ssl.keyStore.location",
    "zookeeper.ssl.keystore.password": "zookeeper.ssl.keyStore.password",
    "zookeeper.ssl.keystore.type": "zookeeper.ssl.keyStore.type",
    "zookeeper.ssl.truststore.location": "zookeeper.ssl.trustStore.location",
    "zookeeper.ssl.truststore.password": "zookeeper.ssl.trustStore.password",
    "zookeeper.ssl.truststore.type": "zookeeper.ssl.trustStore.type",
    "zookeeper.ssl.protocol": "zookeeper.ssl.protocol",
    "zookeeper.ssl.enabled.protocols": "zookeeper.ssl.enabledProtocols",
    "zookeeper.ssl.cipher.suites": "zookeeper.ssl.ciphersuites",
    "zookeeper.ssl.endpoint.identification.enable": "zookeeper.ssl.hostnameVerification",
    "zookeeper.ssl.crl.enable": "zookeeper.ssl.crl",
    "zookeeper.ssl.ocsp.enable": "zookeeper.ssl.ocsp",
}
# Accepted for compatibility, but the Python ZooKeeper client offers no way to apply them.
_NOT_APPLIED = ("zookeeper.ssl.enabled.protocols", "zookeeper.ssl.cipher.suites",
                "zookeeper.ssl.crl.enable", "zookeeper.ssl.ocsp.enable")
_NOT_PEM = {".jks": "JKS", ".p12": "PKCS12", ".pfx": "PKCS12", ".bcfks": "BCFKS"}


def _store(get, kind: str) -> str | None:
    location = get(f"zookeeper.ssl.{kind}.location")
    if not location:
        return None
    store_type = (get(f"zookeeper.ssl.{kind}.type") or "").strip().upper()
    if not store_type:   # ZooKeeper infers the type from the file name
        store_type = next((t for ext, t in _NOT_PEM.items() if location.lower().endswith(ext)),
                          "PEM")
    if store_type != "PEM":
        raise ConfigError(
            f"zookeeper.ssl.{kind}.type={store_type} ({location}) is not supported; use a PEM "
            f"file (e.g. `openssl pkcs12 -in store.p12 -out store.pem -nodes`) and set "
            f"zookeeper.ssl.{kind}.type=PEM")
    return location


def zk_tls(config: Mapping[str, str] | None = None,
           environ: Mapping[str, str] | None = None) -> ZkTls | None:
    """TLS settings when ``zookeeper.ssl.client.enable`` (or ``-Dzookeeper.client.secure``)
    is true, else None. ``config`` (Kafka's keys) wins over the system properties.

    Raises:
        ConfigError: a JKS/PKCS12 store, or a keystore password without a keystore.
    """
    config = config or {}
    props = jvm_properties(environ)

    def get(key: str) -> str | None:
        value = config.get(key)
        return value if value is not None else props.get(ZK_SSL_KEYS[key])

    if str(get("zookeeper.ssl.client.enable") or "false").strip().lower() != "true":
        return None
    ignored = [k for k in _NOT_APPLIED if get(k) not in (None, "", "false")]
    if ignored:
        log.warning("%s: not applied to the ZooKeeper connection (the client's TLS defaults "
                    "are used: TLS 1.2+, system cipher list, no CRL/OCSP checks)",
                    ", ".join(ignored))
    return ZkTls(keystore=_store(get, "keystore"), password=get("zookeeper.ssl.keystore.password"),
                 truststore=_store(get, "truststore"),
                 check_hostname=str(get("zookeeper.ssl.endpoint.identification.enable")
                                    or "true").strip().lower() != "false")


def _jaas_identity(environ: Mapping[str, str] | None) -> tuple[str | None, str, str | None]:
    """``(digest or None, section name, JAAS file or None)``."""
    props = jvm_properties(environ)
    section = props.get(ZK_CLIENT_SECTION, "Client")
    if props.get(ZK_SASL_CLIENT, "true").lower() == "false":
        return None, section, None
    loaded = load_static_jaas(environ)
    if loaded is None:
        return None, section, None
    for entry in loaded[1].get(section, []):
        username, password = login_credentials(entry)
        if username is not None and password is not None:
            return f"{username}:{password}", section, loaded[0]
    return None, section, loaded[0]


def zk_auth(environ: Mapping[str, str] | None = None, *, set_acl: bool | None = None,
            config: Mapping[str, str] | None = None) -> ZkAuth | None:
    """This process's ZooKeeper identity and TLS settings (None: plain, anonymous).

    ``set_acl`` is the broker's ``zookeeper.set.acl``; tools pass None and, like Kafka's
    (``JaasUtils.isZkSaslEnabled`` or a TLS keystore), protect what they create whenever they
    have an identity. ``config`` holds Kafka's ``zookeeper.ssl.*`` keys.

    Raises:
        ConfigError: ``set_acl`` is true but there is no identity (neither a usable JAAS
            ``Client`` section nor a TLS keystore): a broker must not create znodes anybody
            may change while the user believes otherwise; or a bad TLS setting.
    """
    digest, section, jaas_file = _jaas_identity(environ)
    tls = zk_tls(config, environ)
    identified = digest is not None or (tls is not None and tls.keystore is not None)
    if set_acl and not identified:
        where = f"the JAAS file {jaas_file}" if jaas_file else \
            f"no JAAS file (-D{LOGIN_CONFIG}=FILE in KAFKA_OPTS)"
        raise ConfigError(
            "zookeeper.set.acl is true, but ZooKeeper client TLS configuration identifying at "
            "least zookeeper.ssl.client.enable and zookeeper.ssl.keystore.location was not "
            "present and the verification of the JAAS login file failed: "
            f"{where} has no {section} section with username and password for ZooKeeper")
    if digest is None and tls is None:
        return None
    return ZkAuth(digest=digest, tls=tls,
                  secure=identified if set_acl is None else set_acl)


def read_zk_tls_config_file(path: str) -> dict[str, str]:
    """A tool's ``--zk-tls-config-file``: only the ``zookeeper.ssl.*`` and
    ``zookeeper.clientCnxnSocket`` keys count (Kafka ignores the rest, and so do we).

    Raises:
        ConfigError: the file cannot be read.
    """
    from kafkalite.config import load_properties

    try:
        props = load_properties(path)
    except ConfigError as e:
        raise ConfigError(f"--zk-tls-config-file: {e}") from None
    return {k: v for k, v in props.items() if k in ZK_SSL_KEYS}
