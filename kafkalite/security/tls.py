"""TLS for listeners and for this broker's own connections, from Kafka's ``ssl.*`` keys.

Kafka users bring ``server.properties`` lines such as::

    listeners=SASL_SSL://:9093
    ssl.keystore.type=PEM
    ssl.keystore.location=/etc/kafka/broker.pem      # private key + certificate chain
    ssl.key.password=...                              # if the key is encrypted
    ssl.truststore.type=PEM
    ssl.truststore.location=/etc/kafka/ca.pem
    ssl.client.auth=required                          # none | requested | required

PEM stores (Kafka 2.7+, KIP-651) are what Python's ``ssl`` reads, as files or inline
(``ssl.keystore.key`` + ``ssl.keystore.certificate.chain``, ``ssl.truststore.certificates``).
JKS and PKCS12 stores are refused with a message saying how to convert them. Every key may be
set per listener (``listener.name.<listener>.ssl.*``), as in Kafka.

``ssl.enabled.protocols`` limits the TLS versions (TLSv1.2 and TLSv1.3 here);
``ssl.cipher.suites`` takes IANA names as Kafka (``TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256``) or
OpenSSL's, and applies to TLS 1.2 (TLS 1.3's suites are not configurable in Python's ``ssl``).

The principal of a client authenticated by certificate is Kafka's default:
``User:<the subject's distinguished name in RFC 2253 form>`` (``ssl.principal.mapping.rules``
other than ``DEFAULT`` are refused at start-up).
"""

from __future__ import annotations

import os
import ssl
import tempfile
from collections.abc import Callable
from typing import Any

from kafkalite.errors import ConfigError

__all__ = ["server_context", "client_context", "principal_from_certificate"]

# (Java/IANA name -> OpenSSL name) for the TLS 1.2 suites people actually configure.
_CIPHERS = {
    "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256": "ECDHE-ECDSA-AES128-GCM-SHA256",
    "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384": "ECDHE-ECDSA-AES256-GCM-SHA384",
    "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256": "ECDHE-RSA-AES128-GCM-SHA256",
    "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384": "ECDHE-RSA-AES256-GCM-SHA384",
    "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256": "ECDHE-ECDSA-CHACHA20-POLY1305",
    "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256": "ECDHE-RSA-CHACHA20-POLY1305",
    "TLS_DHE_RSA_WITH_AES_128_GCM_SHA256": "DHE-RSA-AES128-GCM-SHA256",
    "TLS_DHE_RSA_WITH_AES_256_GCM_SHA384": "DHE-RSA-AES256-GCM-SHA384",
}
_TLS_13_SUITES = {"TLS_AES_128_GCM_SHA256", "TLS_AES_256_GCM_SHA384",
                  "TLS_CHACHA20_POLY1305_SHA256"}
_VERSIONS = {"TLSv1.2": ssl.TLSVersion.TLSv1_2, "TLSv1.3": ssl.TLSVersion.TLSv1_3}
# X.500 attribute names as Java's X500Principal prints them in RFC 2253 form.
_DN_NAMES = {"commonName": "CN", "organizationalUnitName": "OU", "organizationName": "O",
             "localityName": "L", "stateOrProvinceName": "ST", "countryName": "C",
             "streetAddress": "STREET", "domainComponent": "DC", "userId": "UID"}

Lookup = Callable[[str], Any]  # a key -> the (listener's) value


def server_context(get: Lookup, listener: str) -> ssl.SSLContext:
    """The TLS context of a listener; ``get(key)`` returns the listener's value of ``key``.

    Raises:
        ConfigError: missing or unsupported key store, bad protocol or cipher names.
    """
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    _common(ctx, get, listener)
    _load_keystore(ctx, get, listener, required=True)
    auth = (get("ssl.client.auth") or "none").strip().lower()
    if auth not in ("none", "requested", "required"):
        raise ConfigError(f"listener {listener}: invalid ssl.client.auth {auth!r} (expected "
                          "none, requested or required)")
    if auth != "none":
        if not _load_truststore(ctx, get, listener):
            raise ConfigError(f"listener {listener}: ssl.client.auth={auth} needs a "
                              "truststore (ssl.truststore.location or "
                              "ssl.truststore.certificates)")
        ctx.verify_mode = ssl.CERT_REQUIRED if auth == "required" else ssl.CERT_OPTIONAL
    rules = (get("ssl.principal.mapping.rules") or "DEFAULT").strip()
    if rules != "DEFAULT":
        raise ConfigError(f"listener {listener}: ssl.principal.mapping.rules other than "
                          "DEFAULT are not supported")
    return ctx


def client_context(get: Lookup, listener: str) -> ssl.SSLContext:
    """The TLS context this broker uses to connect to another broker's ``listener``: its
    truststore verifies the peer, its keystore (if any) answers a client-auth request, and
    ``ssl.endpoint.identification.algorithm=https`` checks the host name."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    _common(ctx, get, listener)
    if not _load_truststore(ctx, get, listener):
        ctx.load_default_certs()
    _load_keystore(ctx, get, listener, required=False)
    algorithm = (get("ssl.endpoint.identification.algorithm") or "").strip().lower()
    ctx.check_hostname = algorithm == "https"
    return ctx


def principal_from_certificate(cert: dict | None) -> str | None:
    """``User:CN=...,OU=...`` from a peer certificate (as ``SSLObject.getpeercert()`` returns
    it), RFC 2253 order (last RDN of the certificate first), as Kafka's default mapping."""
    if not cert or not cert.get("subject"):
        return None
    rdns = []
    for rdn in reversed(cert["subject"]):
        parts = []
        for name, value in rdn:
            escaped = "".join("\\" + ch if ch in ',+"\\<>;=' else ch for ch in value)
            if escaped.startswith((" ", "#")):
                escaped = "\\" + escaped
            parts.append(f"{_DN_NAMES.get(name, name)}={escaped}")
        rdns.append("+".join(parts))
    return "User:" + ",".join(rdns)


def _common(ctx: ssl.SSLContext, get: Lookup, listener: str) -> None:
    names = [p.strip() for p in (get("ssl.enabled.protocols") or "").split(",") if p.strip()]
    unknown = [n for n in names if n not in _VERSIONS]
    if unknown or not names:
        raise ConfigError(f"listener {listener}: ssl.enabled.protocols {names} must be among "
                          f"{', '.join(_VERSIONS)}")
    versions = sorted(_VERSIONS[n] for n in names)
    ctx.minimum_version, ctx.maximum_version = versions[0], versions[-1]
    suites = [c.strip() for c in (get("ssl.cipher.suites") or "").split(",") if c.strip()]
    tls12 = [c for c in suites if c not in _TLS_13_SUITES]
    if tls12:
        openssl = [_CIPHERS.get(c, c) for c in tls12]
        try:
            ctx.set_ciphers(":".join(openssl))
        except ssl.SSLError:
            raise ConfigError(f"listener {listener}: none of ssl.cipher.suites {suites} is "
                              "available") from None


def _store_type(get: Lookup, key: str, listener: str, has_inline: bool) -> str:
    kind = (get(key) or "JKS").strip().upper()
    if kind == "PEM" or (has_inline and get(key) is None):
        return "PEM"
    if kind in ("JKS", "PKCS12"):
        raise ConfigError(
            f"listener {listener}: {key}={kind} is not supported; use PEM stores (Kafka 2.7+): "
            f"e.g. `keytool -importkeystore -srckeystore store.jks -destkeystore store.p12 "
            f"-deststoretype PKCS12` then `openssl pkcs12 -in store.p12 -out store.pem` and "
            f"set {key}=PEM")
    raise ConfigError(f"listener {listener}: unknown {key} {kind}")


def _load_keystore(ctx: ssl.SSLContext, get: Lookup, listener: str, *, required: bool) -> None:
    location = get("ssl.keystore.location")
    key, chain = get("ssl.keystore.key"), get("ssl.keystore.certificate.chain")
    if not location and not (key and chain):
        if required:
            raise ConfigError(f"listener {listener}: a TLS listener needs a key store "
                              "(ssl.keystore.location, or ssl.keystore.key and "
                              "ssl.keystore.certificate.chain)")
        return
    _store_type(get, "ssl.keystore.type", listener, has_inline=bool(key))
    password = get("ssl.key.password") or get("ssl.keystore.password")
    try:
        if location:
            ctx.load_cert_chain(location, password=password)
        else:
            with _pem_file(chain + "\n" + key) as path:
                ctx.load_cert_chain(path, password=password)
    except (OSError, ssl.SSLError) as e:
        raise ConfigError(f"listener {listener}: cannot load the key store "
                          f"{location or '(ssl.keystore.key)'}: {e}") from None


def _load_truststore(ctx: ssl.SSLContext, get: Lookup, listener: str) -> bool:
    location, inline = get("ssl.truststore.location"), get("ssl.truststore.certificates")
    if not location and not inline:
        return False
    _store_type(get, "ssl.truststore.type", listener, has_inline=bool(inline))
    try:
        if location:
            ctx.load_verify_locations(cafile=location)
        else:
            ctx.load_verify_locations(cadata=inline)
    except (OSError, ssl.SSLError) as e:
        raise ConfigError(f"listener {listener}: cannot load the trust store "
                          f"{location or '(ssl.truststore.certificates)'}: {e}") from None
    return True


class _pem_file:
    """A private temporary file holding inline PEM text (``load_cert_chain`` wants a path)."""

    def __init__(self, text: str):
        self.text = text

    def __enter__(self) -> str:
        fd, self.path = tempfile.mkstemp(suffix=".pem")
        with os.fdopen(fd, "w") as f:
            f.write(self.text)
        return self.path

    def __exit__(self, *exc) -> None:
        os.unlink(self.path)
