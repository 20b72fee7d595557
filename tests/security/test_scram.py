"""SCRAM math, Kafka's credential format and the four messages (RFC 5802 / RFC 7677)."""

from __future__ import annotations

import base64

import pytest

from kafkalite.security.sasl import SaslAuthenticationError, ScramClient, ScramServer
from kafkalite.security.scram import (
    ClientFinalMessage, ClientFirstMessage, ScramCredential, ScramFormatError, ScramMechanism,
    ServerFinalMessage, ServerFirstMessage, credential_from_salted_password, format_credential,
    make_credential, parse_credential, salted_password, sasl_name, username_from_sasl_name)

# RFC 7677 §3: user "user", password "pencil"
RFC_SALT = base64.b64decode("W22ZaJ0SNY7soEsUEjb6gQ==")
RFC_CLIENT_NONCE = "rOprNGfwEbeRWgbNEkqO"
RFC_SERVER_NONCE = "%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0"
RFC_NONCE = RFC_CLIENT_NONCE + RFC_SERVER_NONCE


def test_rfc7677_exchange_produces_the_rfc_messages():
    credential = make_credential("SCRAM-SHA-256", "pencil", salt=RFC_SALT, iterations=4096)
    client = ScramClient(ScramMechanism.SCRAM_SHA_256, "user", "pencil", RFC_CLIENT_NONCE)
    server = ScramServer("SCRAM-SHA-256", {"user": credential}.get, RFC_SERVER_NONCE)

    client_first = client.evaluate(b"")
    assert client_first == b"n,,n=user,r=rOprNGfwEbeRWgbNEkqO"
    server_first = server.evaluate(client_first)
    assert server_first == (f"r={RFC_NONCE},s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096").encode()
    client_final = client.evaluate(server_first)
    assert client_final == (f"c=biws,r={RFC_NONCE},"
                            "p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=").encode()
    assert not server.complete
    server_final = server.evaluate(client_final)
    assert server_final == b"v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4="
    assert server.complete and server.authorization_id == "user"
    assert client.evaluate(server_final) is None
    assert client.complete


def test_sha512_round_trip_and_wrong_password():
    mechanism = ScramMechanism.SCRAM_SHA_512
    credential = make_credential(mechanism, "alice-secret", salt=b"\x01" * 20, iterations=8192)
    assert len(credential.stored_key) == len(credential.server_key) == 64

    def run(password):
        client = ScramClient("SCRAM-SHA-512", "alice", password, "clientnonce")
        server = ScramServer(mechanism, {"alice": credential}.get, "servernonce")
        token = client.evaluate(b"")
        while not client.complete:
            token = client.evaluate(server.evaluate(token))
        return server

    server = run("alice-secret")
    assert server.complete and server.authorization_id == "alice"
    with pytest.raises(SaslAuthenticationError) as e:
        run("wrong")
    assert str(e.value) == ("Authentication failed during authentication due to invalid "
                            "credentials with SASL mechanism SCRAM-SHA-512")
    assert e.value.reason == "Invalid client credentials"


def test_credential_from_salted_password_matches_make_credential():
    salted = salted_password("SCRAM-SHA-256", "pencil", RFC_SALT, 4096)
    assert credential_from_salted_password("SCRAM-SHA-256", RFC_SALT, salted, 4096) == \
        make_credential("SCRAM-SHA-256", "pencil", salt=RFC_SALT, iterations=4096)


def test_kafka_credential_string_round_trip():
    credential = make_credential("SCRAM-SHA-256", "pencil", salt=RFC_SALT, iterations=4096)
    text = format_credential(credential)
    salt, stored, server, iterations = text.split(",")
    assert salt == "salt=W22ZaJ0SNY7soEsUEjb6gQ=="
    assert stored.startswith("stored_key=") and server.startswith("server_key=")
    assert iterations == "iterations=4096"
    assert parse_credential(text) == credential
    # key order does not matter; unpadded base64 is accepted (Java's basic decoder)
    reordered = ",".join([iterations, server, stored, "salt=W22ZaJ0SNY7soEsUEjb6gQ"])
    assert parse_credential(reordered) == credential
    # keys stay out of logs
    assert repr(credential) == f"ScramCredential(salt={RFC_SALT!r}, iterations=4096)"


@pytest.mark.parametrize("text", [
    "salt=AA==,stored_key=AA==,server_key=AA==",                          # 3 keys
    "salt=AA==,stored_key=AA==,server_key=AA==,iterations=1,extra=1",     # 5 keys
    "salt=AA==,stored_key=AA==,server_key=AA==,nope=4096",                # wrong key
    "salt=AA==,stored_key=AA==,=x,server_key=AA==,iterations=4096",       # no key
    "salt=AA==,stored_key=AA==,server_key,iterations=4096",               # no '='
    "salt=A!==,stored_key=AA==,server_key=AA==,iterations=4096",          # bad base64
    "salt=AA==,stored_key=AA==,server_key=AA==,iterations=many",          # not a number
    "",
])
def test_invalid_credential_strings(text):
    with pytest.raises(ScramFormatError):
        parse_credential(text)


def test_sasl_names():
    assert sasl_name("a=b,c") == "a=3Db=2Cc"
    assert username_from_sasl_name("a=3Db=2Cc") == "a=b,c"
    for bad in ("a=b", "a=3"):
        with pytest.raises(ScramFormatError, match="Invalid username"):
            username_from_sasl_name(bad)


def test_client_first_message_parsing():
    first = ClientFirstMessage.parse(b"n,a=alice,n=alice,r=abc,tokenauth=true,x=y")
    assert (first.sasl_name, first.nonce, first.authorization_id) == ("alice", "abc", "alice")
    assert first.extensions == (("tokenauth", "true"), ("x", "y"))
    assert first.token_authenticated
    assert first.bare == "n=alice,r=abc,tokenauth=true,x=y"
    assert first.to_text() == "n,a=alice,n=alice,r=abc,tokenauth=true,x=y"
    assert not ClientFirstMessage.parse(b"n,,n=u,r=a,tokenauth=false").token_authenticated
    assert ClientFirstMessage.parse(b"n,,m=ext,n=u,r=a").reserved == "ext"
    built = ClientFirstMessage.build("a,b", "nonce", extensions=(("tokenauth", "true"),))
    assert built.to_bytes() == b"n,,n=a=2Cb,r=nonce,tokenauth=true"
    for bad in (b"y,,n=u,r=a", b"p=tls,,n=u,r=a", b"n,,n=u", b"n,,n=u,r=a,b", b"n,,n=,r=a",
                "n,,n=\u00e9,r=a".encode()):
        with pytest.raises(ScramFormatError, match="Invalid SCRAM client first message"):
            ClientFirstMessage.parse(bad)


def test_server_and_final_message_parsing():
    first = ServerFirstMessage.parse(b"r=abcdef,s=QSXCR+Q6sek8bf92,i=4096")
    assert (first.nonce, first.iterations) == ("abcdef", 4096)
    assert first.to_text() == "r=abcdef,s=QSXCR+Q6sek8bf92,i=4096"
    for bad in (b"r=a,s=QSXCR+Q6sek8bf92", b"r=a,s=!!,i=1", b"r=a,s=QSXC,i=0",
                b"r=a,s=QSXC,i=99999999999"):
        with pytest.raises(ScramFormatError, match="server first message"):
            ServerFirstMessage.parse(bad)
    final = ClientFinalMessage.parse(b"c=biws,r=abc,p=AAEC")
    assert (final.channel_binding, final.nonce, final.proof) == (b"n,,", "abc", b"\x00\x01\x02")
    assert final.without_proof == "c=biws,r=abc"
    with pytest.raises(ScramFormatError, match="client final message"):
        ClientFinalMessage.parse(b"c=biws,r=abc")
    assert ServerFinalMessage.parse(b"v=AAEC").server_signature == b"\x00\x01\x02"
    assert ServerFinalMessage.parse(b"e=invalid-proof").error == "invalid-proof"
    assert ServerFinalMessage(error="other-error").to_bytes() == b"e=other-error"
    with pytest.raises(ScramFormatError, match="server final message"):
        ServerFinalMessage.parse(b"x=1")


def test_mechanisms():
    assert ScramMechanism.for_name("SCRAM-SHA-256") is ScramMechanism.SCRAM_SHA_256
    assert ScramMechanism.for_name("SCRAM-SHA-1") is None
    assert ScramMechanism.for_type(2) is ScramMechanism.SCRAM_SHA_512
    assert ScramMechanism.for_type(0) is None
    assert ScramMechanism.names() == ("SCRAM-SHA-256", "SCRAM-SHA-512")
    assert ScramMechanism.SCRAM_SHA_512.min_iterations == 4096
    assert ScramMechanism.SCRAM_SHA_512.hash_name == "sha512"
    assert isinstance(make_credential("SCRAM-SHA-512", "p", salt=b"s", iterations=4096),
                      ScramCredential)
    with pytest.raises(ValueError):
        make_credential("PLAIN", "p", salt=b"s", iterations=4096)
