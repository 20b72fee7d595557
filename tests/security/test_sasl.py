"""SASL mechanisms: PLAIN and SCRAM, server against our client and against hand-built tokens.

The hand-built SCRAM exchanges compute the proof with hashlib/hmac directly (RFC 5802 §3), not
with kafkalite's helpers, so the server is checked against an independent client.
"""

from __future__ import annotations

import base64
import hashlib
import hmac

import pytest

from kafkalite import errors
from kafkalite.security.credentials import CredentialCache
from kafkalite.security.sasl import (
    PlainClient, PlainServer, SaslAuthenticationError, ScramClient, ScramServer, create_client,
    create_server, plain_verifier)
from kafkalite.security.scram import format_credential, make_credential

USERS = {"admin": "admin-secret", "alice": "alice-secret"}
SALT = b"kafkalite-test-salt"
SCRAM_FAILED = ("Authentication failed during authentication due to invalid credentials with "
                "SASL mechanism SCRAM-SHA-256")


def plain(token: bytes) -> PlainServer:
    server = PlainServer(plain_verifier(USERS))
    assert server.evaluate(token) == b""
    return server


# -- PLAIN ---------------------------------------------------------------------------------------

def test_plain_success_and_authzid_rules():
    server = plain(b"\0alice\0alice-secret")
    assert server.complete and server.authorization_id == "alice"
    # an authzid equal to the user name is fine
    assert plain(b"alice\0alice\0alice-secret").authorization_id == "alice"
    with pytest.raises(SaslAuthenticationError, match="^Authentication failed: Client requested "
                                                      "an authorization id that is different "
                                                      "from username$"):
        plain(b"admin\0alice\0alice-secret")


@pytest.mark.parametrize("token,message", [
    (b"\0alice\0wrong", "Authentication failed: Invalid username or password"),
    (b"\0mallory\0alice-secret", "Authentication failed: Invalid username or password"),
    (b"\0\0alice-secret", "Authentication failed: username not specified"),
    (b"\0alice\0", "Authentication failed: password not specified"),
    (b"alice\0alice-secret", "Invalid SASL/PLAIN response: expected 3 tokens, got 2"),
    (b"\0alice\0pw\0x\0y", "Invalid SASL/PLAIN response: expected 3 tokens, got 4"),
])
def test_plain_failures_carry_kafkas_messages(token, message):
    server = PlainServer(plain_verifier(USERS))
    with pytest.raises(SaslAuthenticationError) as e:
        server.evaluate(token)
    assert str(e.value) == message
    assert not server.complete
    with pytest.raises(RuntimeError):
        server.authorization_id


def test_plain_client_and_verifier():
    client = PlainClient("alice", "alice-secret")
    token = client.evaluate(b"")
    assert token == b"\0alice\0alice-secret" and client.complete
    assert client.evaluate(b"") is None
    assert plain(token).authorization_id == "alice"
    verify = plain_verifier({"u": "p\u00e9"})
    assert verify("u", "p\u00e9") and not verify("u", "p") and not verify("x", "p\u00e9")


# -- SCRAM ---------------------------------------------------------------------------------------

@pytest.fixture
def cache() -> CredentialCache:
    cache = CredentialCache()
    cache.update_user("alice", {mechanism: format_credential(
        make_credential(mechanism, "alice-secret", salt=SALT, iterations=4096))
        for mechanism in ("SCRAM-SHA-256", "SCRAM-SHA-512")})
    return cache


def scram_server(cache, mechanism="SCRAM-SHA-256", nonce="srv-nonce"):
    return create_server(mechanism, scram_lookup=cache.get, nonce=lambda: nonce)


def exchange(client, server):
    token = client.evaluate(b"")
    while not client.complete:
        token = client.evaluate(server.evaluate(token))


@pytest.mark.parametrize("mechanism", ["SCRAM-SHA-256", "SCRAM-SHA-512"])
def test_scram_server_against_our_client(cache, mechanism):
    server = scram_server(cache, mechanism)
    exchange(create_client(mechanism, "alice", "alice-secret", nonce="cli-nonce"), server)
    assert server.complete and server.authorization_id == "alice"
    assert server.mechanism_name == mechanism


def test_unknown_user_fails_like_a_wrong_password(cache):
    outcomes = []
    for user, password in (("mallory", "alice-secret"), ("alice", "wrong")):
        with pytest.raises(SaslAuthenticationError) as e:
            exchange(ScramClient("SCRAM-SHA-256", user, password, "n1"), scram_server(cache))
        outcomes.append(str(e.value))
    assert outcomes == [SCRAM_FAILED, SCRAM_FAILED]


def _hand_built_proof(password: str, salt: bytes, iterations: int, message: str) -> bytes:
    salted = hashlib.pbkdf2_hmac("sha256", password.encode(), salt, iterations)
    client_key = hmac.new(salted, b"Client Key", "sha256").digest()
    signature = hmac.new(hashlib.sha256(client_key).digest(), message.encode(),
                         "sha256").digest()
    return bytes(a ^ b for a, b in zip(client_key, signature))


def test_scram_server_against_hand_built_messages(cache):
    server = scram_server(cache, nonce="SERVER")
    first_bare = "n=alice,r=CLIENT"
    server_first = server.evaluate(f"n,a=alice,{first_bare}".encode()).decode()
    assert server_first == f"r=CLIENTSERVER,s={base64.b64encode(SALT).decode()},i=4096"
    without_proof = f"c={base64.b64encode(b'n,a=alice,').decode()},r=CLIENTSERVER"
    proof = _hand_built_proof("alice-secret", SALT, 4096,
                              f"{first_bare},{server_first},{without_proof}")
    final = server.evaluate(f"{without_proof},p={base64.b64encode(proof).decode()}".encode())
    salted = hashlib.pbkdf2_hmac("sha256", b"alice-secret", SALT, 4096)
    server_key = hmac.new(salted, b"Server Key", "sha256").digest()
    expected = hmac.new(server_key, f"{first_bare},{server_first},{without_proof}".encode(),
                        "sha256").digest()
    assert final == b"v=" + base64.b64encode(expected)
    assert server.authorization_id == "alice"


def _first_round_fails(cache, token: bytes) -> SaslAuthenticationError:
    server = scram_server(cache)
    with pytest.raises(SaslAuthenticationError) as e:
        server.evaluate(token)
    with pytest.raises(SaslAuthenticationError):   # FAILED is final
        server.evaluate(token)
    assert not server.complete
    return e.value


@pytest.mark.parametrize("token,reason", [
    (b"garbage", "Invalid SCRAM client first message format"),
    (b"n,,n=al=ice,r=x", "Invalid SCRAM client first message format"),
    (b"n,,n=alice,r=x,1=2", "Invalid SCRAM client first message format"),
    (b"n,,n=alice,r=x,tokenauth=true", "Token Authentication failed"),
    (b"n,,m=ext,n=alice,r=x", "m= is not supported"),
    (b"n,,n=nobody,r=x", "Invalid user credentials"),
])
def test_scram_first_message_failures_are_not_explained(cache, token, reason):
    error = _first_round_fails(cache, token)
    assert str(error) == SCRAM_FAILED
    assert reason in error.reason


def test_scram_authzid_mismatch_is_explained(cache):
    error = _first_round_fails(cache, b"n,a=admin,n=alice,r=x")
    assert str(error) == ("Authentication failed: Client requested an authorization id that is "
                          "different from username")


def test_scram_stored_iterations_below_minimum(cache):
    cache.update_user("weak", {"SCRAM-SHA-256": format_credential(
        make_credential("SCRAM-SHA-256", "p", salt=SALT, iterations=1000))})
    error = _first_round_fails(cache, b"n,,n=weak,r=x")
    assert str(error) == SCRAM_FAILED and "1000 is less than the minimum 4096" in error.reason


def test_scram_accepts_librdkafkas_doubled_nonce(cache):
    """librdkafka's client-final carries r=<client nonce><client nonce><server nonce>; Kafka
    accepts it (it does not compare nonces), so must we."""
    server = scram_server(cache, nonce="SERVER")
    server_first = server.evaluate(b"n,,n=alice,r=CLIENT").decode()
    without_proof = "c=biws,r=CLIENTCLIENTSERVER"
    proof = _hand_built_proof("alice-secret", SALT, 4096,
                              f"n=alice,r=CLIENT,{server_first},{without_proof}")
    assert server.evaluate(f"{without_proof},p={base64.b64encode(proof).decode()}".encode()) \
        .startswith(b"v=")
    assert server.complete


@pytest.mark.parametrize("final,signed", [
    ("c=biws,r=CLIENTOTHER,p={proof}", "c=biws,r=CLIENTSERVER"),   # signed another message
    ("c=biws,r=CLIENTSERVER,p={proof}", "c=biws,r=CLIENTSERVER;"),
    ("c=biws,r=CLIENTSERVER,p=AAAA", "c=biws,r=CLIENTSERVER"),     # proof of the wrong length
    ("c=biws,r=CLIENTSERVER", "c=biws,r=CLIENTSERVER"),            # no proof
])
def test_scram_final_message_failures(cache, final, signed):
    server = scram_server(cache, nonce="SERVER")
    server_first = server.evaluate(b"n,,n=alice,r=CLIENT").decode()
    proof = _hand_built_proof("alice-secret", SALT, 4096,
                              f"n=alice,r=CLIENT,{server_first},{signed}")
    token = final.format(proof=base64.b64encode(proof).decode()).encode()
    with pytest.raises(SaslAuthenticationError, match=f"^{SCRAM_FAILED}$"):
        server.evaluate(token)
    assert not server.complete


def test_scram_client_checks_the_server():
    client = ScramClient("SCRAM-SHA-256", "alice", "pw", "abc")
    client.evaluate(b"")
    with pytest.raises(SaslAuthenticationError, match="does not start with client nonce"):
        client.evaluate(b"r=xyz,s=QSXC,i=4096")
    client = ScramClient("SCRAM-SHA-256", "alice", "pw", "abc")
    client.evaluate(b"")
    with pytest.raises(SaslAuthenticationError, match="Requested iterations 4095 is less"):
        client.evaluate(b"r=abcdef,s=QSXC,i=4095")
    client = ScramClient("SCRAM-SHA-256", "alice", "pw", "abc")
    client.evaluate(b"")
    client.evaluate(b"r=abcdef,s=QSXC,i=4096")
    with pytest.raises(SaslAuthenticationError, match="failed with error: invalid-proof"):
        client.evaluate(b"e=invalid-proof")
    client = ScramClient("SCRAM-SHA-256", "alice", "pw", "abc")
    client.evaluate(b"")
    client.evaluate(b"r=abcdef,s=QSXC,i=4096")
    with pytest.raises(SaslAuthenticationError, match="Invalid server signature"):
        client.evaluate(b"v=" + base64.b64encode(bytes(32)))
    assert not client.complete
    with pytest.raises(SaslAuthenticationError, match="Expected empty challenge"):
        ScramClient("SCRAM-SHA-256", "alice", "pw", "abc").evaluate(b"x")
    with pytest.raises(ValueError):
        ScramClient("SCRAM-SHA-256", "alice", "pw", "a,b")
    with pytest.raises(ValueError):
        ScramServer("SCRAM-SHA-256", lambda u: None, "")


# -- factories -----------------------------------------------------------------------------------

@pytest.mark.parametrize("mechanism,message", [
    ("GSSAPI", "SASL mechanism GSSAPI is not supported by kafkalite"),
    ("OAUTHBEARER", "SASL mechanism OAUTHBEARER is not supported by kafkalite"),
    ("SCRAM-SHA-1", "Unsupported SASL mechanism SCRAM-SHA-1"),
])
def test_unsupported_mechanisms(cache, mechanism, message):
    with pytest.raises(errors.UnsupportedSaslMechanism, match=message):
        create_server(mechanism, plain_verify=plain_verifier(USERS), scram_lookup=cache.get,
                      nonce=lambda: "n")
    with pytest.raises(errors.UnsupportedSaslMechanism, match=message):
        create_client(mechanism, "u", "p", nonce="n")


def test_factories_need_a_store_for_the_mechanism(cache):
    with pytest.raises(errors.UnsupportedSaslMechanism, match="no credential store"):
        create_server("PLAIN", scram_lookup=cache.get, nonce=lambda: "n")
    with pytest.raises(errors.UnsupportedSaslMechanism, match="no credential store"):
        create_server("SCRAM-SHA-512", plain_verify=plain_verifier(USERS))
    assert isinstance(create_server("PLAIN", plain_verify=plain_verifier(USERS)), PlainServer)
    assert isinstance(create_client("PLAIN", "u", "p"), PlainClient)
    with pytest.raises(ValueError):
        create_client("SCRAM-SHA-256", "u", "p")
