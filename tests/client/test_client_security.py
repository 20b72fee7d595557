"""client_security: Kafka's client properties -> the TLS context and SASL login of a client.

The TLS contexts are checked by a handshake with a broker-side context over memory BIOs and the
SCRAM logins by a full exchange with the broker's SCRAM mechanism, so a test fails when the
properties are read but not applied (wrong CA, host name not checked, wrong password sent).
"""

from __future__ import annotations

import ssl

import pytest

from kafkalite.cli.dev_pki import make_pki
from kafkalite.client.security import client_security
from kafkalite.errors import ConfigError
from kafkalite.security.credentials import CredentialCache
from kafkalite.security.sasl import SaslAuthenticationError, create_server
from kafkalite.security.scram import format_credential, make_credential
from kafkalite.security.tls import server_context

SCRAM_JAAS = ('org.apache.kafka.common.security.scram.ScramLoginModule required '
              'username="alice" password="{password}";')


@pytest.fixture(scope="module")
def pki(tmp_path_factory):
    return make_pki(tmp_path_factory.mktemp("pki"))


def broker_context(pki) -> ssl.SSLContext:
    props = {"ssl.keystore.type": "PEM", "ssl.keystore.location": str(pki.broker_keystore),
             "ssl.key.password": pki.broker_key_password,
             "ssl.enabled.protocols": "TLSv1.2,TLSv1.3"}
    return server_context(props.get, "SSL")


def handshake(client: ssl.SSLContext, server: ssl.SSLContext, host: str) -> None:
    """A TLS handshake between two contexts over memory BIOs (no sockets).

    Raises:
        ssl.SSLError: either side refused (e.g. ssl.SSLCertVerificationError).
    """
    c_in, c_out, s_in, s_out = (ssl.MemoryBIO() for _ in range(4))
    c = client.wrap_bio(c_in, c_out, server_hostname=host)
    s = server.wrap_bio(s_in, s_out, server_side=True)
    done = {c: False, s: False}
    for _ in range(20):
        for side in (c, s):
            if not done[side]:
                try:
                    side.do_handshake()
                    done[side] = True
                except ssl.SSLWantReadError:
                    pass
        s_in.write(c_out.read())
        c_in.write(s_out.read())
        if all(done.values()):
            return
    raise AssertionError("the TLS handshake did not finish")


def scram_exchange(client_factory, mechanism: str) -> str:
    """Run a login from ``client_factory`` against the broker's SCRAM mechanism; returns the
    authenticated user."""
    cache = CredentialCache()
    cache.update_user("alice", {mechanism: format_credential(
        make_credential(mechanism, "alice-secret", salt=b"test-salt", iterations=4096))})
    server = create_server(mechanism, scram_lookup=cache.get, nonce=lambda: "server-nonce")
    client = client_factory()
    token = client.evaluate(b"")
    while not client.complete:
        token = client.evaluate(server.evaluate(token))
    assert server.complete
    return server.authorization_id


# -- PLAINTEXT -----------------------------------------------------------------------------------

@pytest.mark.parametrize("props", [{}, {"security.protocol": "PLAINTEXT"},
                                   {"security.protocol": " plaintext "},
                                   {"security.protocol": "PLAINTEXT", "sasl.mechanism": "PLAIN"}])
def test_plaintext_needs_nothing(props):
    assert client_security(props) is None


# -- SASL_PLAINTEXT ------------------------------------------------------------------------------

@pytest.mark.parametrize("mechanism", ["SCRAM-SHA-256", "SCRAM-SHA-512"])
def test_sasl_plaintext_scram_logs_in_with_the_jaas_credentials(mechanism):
    security = client_security({"security.protocol": "SASL_PLAINTEXT",
                                "sasl.mechanism": mechanism.lower(),
                                "sasl.jaas.config": SCRAM_JAAS.format(password="alice-secret")})
    assert security.ssl_context is None
    assert security.sasl_mechanism == mechanism
    assert scram_exchange(security.new_sasl_client, mechanism) == "alice"
    # one fresh client per connection, each with its own nonce
    first, second = security.new_sasl_client(), security.new_sasl_client()
    assert first is not second
    assert first.evaluate(b"") != second.evaluate(b"")


def test_sasl_plaintext_wrong_password_is_refused_by_the_broker_side():
    security = client_security({"security.protocol": "SASL_PLAINTEXT",
                                "sasl.mechanism": "SCRAM-SHA-512",
                                "sasl.jaas.config": SCRAM_JAAS.format(password="wrong")})
    with pytest.raises(SaslAuthenticationError, match="invalid credentials"):
        scram_exchange(security.new_sasl_client, "SCRAM-SHA-512")


def test_sasl_plain_sends_username_and_password():
    security = client_security({
        "security.protocol": "SASL_PLAINTEXT", "sasl.mechanism": "PLAIN",
        "sasl.jaas.config": 'org.apache.kafka.common.security.plain.PlainLoginModule required '
                            'username="bob" password="bob-secret";'})
    assert security.sasl_mechanism == "PLAIN"
    assert security.new_sasl_client().evaluate(b"") == b"\0bob\0bob-secret"


# -- SSL and SASL_SSL ----------------------------------------------------------------------------

def test_ssl_with_a_pem_truststore_verifies_the_broker_and_its_host_name(pki):
    security = client_security({"security.protocol": "SSL", "ssl.truststore.type": "PEM",
                                "ssl.truststore.location": str(pki.ca)})
    assert security.sasl_mechanism is None and security.new_sasl_client is None
    ctx = security.ssl_context
    assert ctx.verify_mode == ssl.CERT_REQUIRED and ctx.check_hostname   # Kafka's "https"
    assert ctx.minimum_version == ssl.TLSVersion.TLSv1_2
    handshake(ctx, broker_context(pki), "localhost")
    with pytest.raises(ssl.SSLCertVerificationError, match="[Hh]ostname"):
        handshake(ctx, broker_context(pki), "broker.example.com")


def test_ssl_without_endpoint_identification_skips_the_host_name(pki):
    security = client_security({"security.protocol": "SSL", "ssl.truststore.type": "PEM",
                                "ssl.truststore.location": str(pki.ca),
                                "ssl.endpoint.identification.algorithm": ""})
    assert not security.ssl_context.check_hostname
    handshake(security.ssl_context, broker_context(pki), "broker.example.com")


def test_ssl_without_a_truststore_does_not_trust_a_private_ca(pki):
    security = client_security({"security.protocol": "SSL"})
    with pytest.raises(ssl.SSLCertVerificationError):
        handshake(security.ssl_context, broker_context(pki), "localhost")


def test_ssl_keystore_answers_a_client_certificate_request(pki):
    security = client_security({"security.protocol": "SSL", "ssl.truststore.type": "PEM",
                                "ssl.truststore.location": str(pki.ca),
                                "ssl.keystore.type": "PEM",
                                "ssl.keystore.location": str(pki.client_keystore("client"))})
    server = broker_context(pki)
    server.load_verify_locations(cafile=str(pki.ca))
    server.verify_mode = ssl.CERT_REQUIRED
    handshake(security.ssl_context, server, "localhost")


def test_sasl_ssl_has_both(pki):
    security = client_security({"security.protocol": "SASL_SSL",
                                "sasl.mechanism": "SCRAM-SHA-512",
                                "sasl.jaas.config": SCRAM_JAAS.format(password="alice-secret"),
                                "ssl.truststore.type": "PEM",
                                "ssl.truststore.location": str(pki.ca)})
    assert security.sasl_mechanism == "SCRAM-SHA-512"
    handshake(security.ssl_context, broker_context(pki), "127.0.0.1")
    assert scram_exchange(security.new_sasl_client, "SCRAM-SHA-512") == "alice"


# -- mistakes: a ConfigError that names the key --------------------------------------------------

@pytest.mark.parametrize(("props", "message"), [
    ({"security.protocol": "SASL_SSL", "sasl.mechanism": "SCRAM-SHA-512"},
     "security.protocol=SASL_SSL needs sasl.jaas.config"),
    ({"security.protocol": "SASL_PLAINTEXT", "sasl.mechanism": "SCRAM-SHA-512",
      "sasl.jaas.config": ""}, "needs sasl.jaas.config"),
    ({"security.protocol": "SASL_PLAINTEXT", "sasl.mechanism": "OAUTHBEARER",
      "sasl.jaas.config": SCRAM_JAAS.format(password="p")},
     "sasl.mechanism OAUTHBEARER: only PLAIN, SCRAM-SHA-256, SCRAM-SHA-512 are supported"),
    # Kafka's default mechanism is GSSAPI (Kerberos), which kafkalite does not speak
    ({"security.protocol": "SASL_PLAINTEXT", "sasl.jaas.config": SCRAM_JAAS.format(password="p")},
     "sasl.mechanism GSSAPI"),
    ({"security.protocol": "TLS"},
     "Invalid value TLS for configuration security.protocol: String must be one of: "
     "PLAINTEXT, SSL, SASL_PLAINTEXT, SASL_SSL"),
    ({"security.protocol": "SASL_PLAINTEXT", "sasl.mechanism": "SCRAM-SHA-256",
      "sasl.jaas.config": 'org.apache.kafka.common.security.scram.ScramLoginModule required '
                          'username="alice";'},
     "sasl.jaas.config needs username and password"),
])
def test_bad_settings_are_config_errors(props, message):
    with pytest.raises(ConfigError, match=message.replace("(", r"\(")):
        client_security(props)


@pytest.mark.parametrize("store_type", ["JKS", "PKCS12", None])
def test_jks_and_pkcs12_truststores_are_refused_with_a_way_out(pki, store_type):
    props = {"security.protocol": "SSL", "ssl.truststore.location": str(pki.ca)}
    if store_type is not None:
        props["ssl.truststore.type"] = store_type
    with pytest.raises(ConfigError, match=f"ssl.truststore.type={store_type or 'JKS'} is not "
                                          "supported; use PEM"):
        client_security(props)


def test_unreadable_truststore_names_the_file(tmp_path):
    missing = tmp_path / "nope.pem"
    with pytest.raises(ConfigError, match=f"cannot load the trust store {missing}"):
        client_security({"security.protocol": "SSL", "ssl.truststore.type": "PEM",
                         "ssl.truststore.location": str(missing)})


def test_ssl_settings_are_ignored_for_plaintext_protocols(tmp_path):
    """As in Kafka: ssl.* keys only matter for SSL and SASL_SSL."""
    props = {"security.protocol": "SASL_PLAINTEXT", "sasl.mechanism": "PLAIN",
             "sasl.jaas.config": SCRAM_JAAS.format(password="p"),
             "ssl.truststore.type": "JKS", "ssl.truststore.location": str(tmp_path / "x.jks")}
    assert client_security(props).ssl_context is None
