"""SASL mechanisms, sans-IO: PLAIN and SCRAM-SHA-256/512, server and client side.

A mechanism object is one exchange. The shell feeds it the peer's tokens and sends what it
returns; nothing here reads sockets, clocks or randomness (nonces are arguments).

**Server side** (what the broker runs per connection; Kafka's ``PlainSaslServer`` and
``ScramSaslServer``)::

    server = create_server("SCRAM-SHA-256", scram_lookup=cache.get, nonce=new_nonce)
    response = server.evaluate(token)     # raises SaslAuthenticationError on failure
    if server.complete:
        principal = f"User:{server.authorization_id}"

**Client side** (kafkalite's own client: inter-broker connections, tools)::

    client = create_client("SCRAM-SHA-512", "alice", "secret", nonce=new_nonce())
    token = client.evaluate(b"")                # the initial response
    while token is not None:
        answer = await round_trip(token)        # SaslAuthenticate (or a raw v0 frame)
        token = None if client.complete else client.evaluate(answer)

PLAIN's client is complete after its one token; SCRAM's after it has checked the server's
signature in the server-final message (and then returns None: nothing more to send).

**Errors.** A refused exchange raises :class:`SaslAuthenticationError`; its message is what the
broker sends back in SaslAuthenticate (error SASL_AUTHENTICATION_FAILED), worded as Kafka's.
PLAIN's reasons are told to the client ("Authentication failed: Invalid username or password");
SCRAM's are not — any SCRAM failure except an authorization id mismatch is reported as
"Authentication failed during authentication due to invalid credentials with SASL mechanism
SCRAM-SHA-256" (Kafka's ``SaslServerAuthenticator`` does the same), so an unknown user and a
wrong password get the same answer — though, as in Kafka, an unknown user is refused at the
client-first message and a wrong password one round later. The detailed reason is kept in
:attr:`SaslAuthenticationError.reason` for the broker's log.

**Like Kafka, not like RFC 5802:** the SCRAM server does not compare the client-final nonce
with the one it issued, because librdkafka sends the client nonce twice there
(``r=<client nonce><client nonce><server nonce>``) and Kafka accepts it. Nothing is lost: the
proof covers the server-first message, which carries this exchange's fresh server nonce. Nor is
the channel binding (``c=``) checked against the gs2 header, as in Kafka.

**Beyond Kafka.** The server refuses the reserved ``m=`` attribute (RFC 5802) and compares
proofs in constant time. Delegation tokens (``tokenauth=true``) are not supported and fail like
bad credentials; GSSAPI and OAUTHBEARER are not supported at all.
"""

from __future__ import annotations

import enum
import hmac
from collections.abc import Callable, Mapping
from typing import Protocol

from kafkalite import errors
from kafkalite.security import authenticator
from kafkalite.security.scram import (
    ClientFinalMessage, ClientFirstMessage, ScramCredential, ScramFormatError, ScramMechanism,
    ServerFinalMessage, ServerFirstMessage, auth_message, client_proof, is_valid_nonce,
    salted_password, server_key, server_signature, username_from_sasl_name, verify_client_proof)

__all__ = [
    "SaslAuthenticationError", "SaslServer", "SaslClient", "PlainServer", "ScramServer",
    "PlainClient", "ScramClient", "create_server", "create_client", "plain_verifier",
    "PLAIN", "SCRAM_MECHANISMS", "SUPPORTED_MECHANISMS",
]

PLAIN = "PLAIN"
SCRAM_MECHANISMS = ScramMechanism.names()
SUPPORTED_MECHANISMS = (PLAIN, *SCRAM_MECHANISMS)
_NOT_SUPPORTED = ("GSSAPI", "OAUTHBEARER")


class SaslAuthenticationError(authenticator.SaslAuthenticationError):
    """The exchange failed. ``str(e)`` / :attr:`message` is what the peer may be told;
    :attr:`reason` is the detailed cause, for logs only. (A subclass of the authenticator's
    error, which is what the connection's state machine catches.)"""

    def __init__(self, message: str, *, reason: str | None = None):
        super().__init__(message)
        self.message = message
        self.reason = reason or message


class SaslServer(Protocol):
    """A broker-side mechanism for one connection."""

    mechanism_name: str

    def evaluate(self, token: bytes) -> bytes:
        """The client's next token -> the response to send (may be empty)."""
        ...

    @property
    def complete(self) -> bool: ...

    @property
    def authorization_id(self) -> str:
        """The authenticated user name (principal ``User:<name>``); only once complete."""
        ...


class SaslClient(Protocol):
    """A client-side mechanism for one connection."""

    mechanism_name: str

    def evaluate(self, challenge: bytes) -> bytes | None:
        """The server's last token (``b""`` to start) -> the next token, None if nothing."""
        ...

    @property
    def complete(self) -> bool: ...


def _not_complete() -> RuntimeError:
    return RuntimeError("Authentication exchange has not completed")


# -- PLAIN -------------------------------------------------------------------------------------

def plain_verifier(users: Mapping[str, str]) -> Callable[[str, str], bool]:
    """A ``verify(username, password)`` over a user -> password map (the JAAS ``user_<name>``
    options of Kafka's PlainLoginModule), comparing in constant time."""
    table = {name: password.encode("utf-8") for name, password in users.items()}

    def verify(username: str, password: str) -> bool:
        expected = table.get(username)
        if expected is None:
            # compare anyway, so an unknown user takes as long as a wrong password
            hmac.compare_digest(password.encode("utf-8"), password.encode("utf-8"))
            return False
        return hmac.compare_digest(password.encode("utf-8"), expected)

    return verify


class PlainServer:
    """SASL/PLAIN (RFC 4616) as Kafka's ``PlainSaslServer``: one message
    ``[authzid] NUL authcid NUL passwd``; the authzid must be empty or equal the user name."""

    mechanism_name = PLAIN

    def __init__(self, verify: Callable[[str, str], bool]):
        self._verify = verify
        self._complete = False
        self._authorization_id: str | None = None

    @property
    def complete(self) -> bool:
        return self._complete

    @property
    def authorization_id(self) -> str:
        if not self._complete or self._authorization_id is None:
            raise _not_complete()
        return self._authorization_id

    def evaluate(self, token: bytes) -> bytes:
        """Check the one PLAIN message; returns ``b""`` on success.

        Raises:
            SaslAuthenticationError: with Kafka's messages — "Invalid SASL/PLAIN response:
                expected 3 tokens, got N", "Authentication failed: username not specified",
                "... password not specified", "... Invalid username or password",
                "... Client requested an authorization id that is different from username".
        """
        if self._complete:
            raise SaslAuthenticationError("Unexpected SASL/PLAIN message after authentication")
        text = bytes(token).decode("utf-8", errors="replace")
        tokens = text.split("\0", 3)   # Kafka counts at most four tokens
        if len(tokens) != 3:
            raise SaslAuthenticationError(
                f"Invalid SASL/PLAIN response: expected 3 tokens, got {len(tokens)}")
        authzid, username, password = tokens
        if not username:
            raise SaslAuthenticationError("Authentication failed: username not specified")
        if not password:
            raise SaslAuthenticationError("Authentication failed: password not specified")
        if not self._verify(username, password):
            raise SaslAuthenticationError("Authentication failed: Invalid username or password")
        if authzid and authzid != username:
            raise SaslAuthenticationError("Authentication failed: Client requested an "
                                          "authorization id that is different from username")
        self._authorization_id = username
        self._complete = True
        return b""


class PlainClient:
    """SASL/PLAIN client: sends ``NUL username NUL password`` once, then is complete."""

    mechanism_name = PLAIN

    def __init__(self, username: str, password: str):
        self._token = f"\0{username}\0{password}".encode("utf-8")
        self._complete = False

    @property
    def complete(self) -> bool:
        return self._complete

    def evaluate(self, challenge: bytes = b"") -> bytes | None:
        if self._complete:
            return None
        self._complete = True
        return self._token


# -- SCRAM -------------------------------------------------------------------------------------

class _ServerState(enum.Enum):
    RECEIVE_CLIENT_FIRST_MESSAGE = "receive-client-first"
    RECEIVE_CLIENT_FINAL_MESSAGE = "receive-client-final"
    COMPLETE = "complete"
    FAILED = "failed"


def _mechanism(mechanism: ScramMechanism | str) -> ScramMechanism:
    if isinstance(mechanism, ScramMechanism):
        return mechanism
    found = ScramMechanism.for_name(mechanism)
    if found is None:
        raise errors.UnsupportedSaslMechanism(f"Unsupported SASL mechanism {mechanism}")
    return found


class ScramServer:
    """SCRAM-SHA-256/512 server (Kafka's ``ScramSaslServer``), two rounds.

    States: RECEIVE_CLIENT_FIRST_MESSAGE -(client-first ok: answer server-first)->
    RECEIVE_CLIENT_FINAL_MESSAGE -(proof ok: answer server-final)-> COMPLETE. Any failure ->
    FAILED, and every later call raises.

    Args:
        mechanism: ``ScramMechanism`` or its name.
        lookup: user name -> that user's credential for this mechanism, None if it has none.
        nonce: this server's nonce, appended to the client's: printable ASCII without commas,
            freshly random per exchange (the caller draws it).
    """

    def __init__(self, mechanism: ScramMechanism | str,
                 lookup: Callable[[str], ScramCredential | None], nonce: str):
        if not is_valid_nonce(nonce):
            raise ValueError("a SCRAM nonce is printable ASCII without commas")
        self.mechanism = _mechanism(mechanism)
        self.mechanism_name = self.mechanism.mechanism_name
        self._lookup = lookup
        self._server_nonce = nonce
        self._state = _ServerState.RECEIVE_CLIENT_FIRST_MESSAGE
        self._authorization_id: str | None = None
        self._credential: ScramCredential | None = None
        self._client_first: ClientFirstMessage | None = None
        self._server_first: ServerFirstMessage | None = None

    @property
    def complete(self) -> bool:
        return self._state is _ServerState.COMPLETE

    @property
    def authorization_id(self) -> str:
        if not self.complete or self._authorization_id is None:
            raise _not_complete()
        return self._authorization_id

    def _invalid(self, reason: str) -> SaslAuthenticationError:
        """What the client is told about any refusal except an authzid mismatch."""
        return SaslAuthenticationError(
            "Authentication failed during authentication due to invalid credentials with SASL "
            f"mechanism {self.mechanism_name}", reason=reason)

    def evaluate(self, token: bytes) -> bytes:
        """The client-first or client-final message -> server-first or server-final.

        Raises:
            SaslAuthenticationError: bad message, unknown user, too few iterations, wrong
                proof, wrong nonce, delegation token, or a call in the wrong state.
        """
        try:
            if self._state is _ServerState.RECEIVE_CLIENT_FIRST_MESSAGE:
                return self._client_first_message(bytes(token))
            if self._state is _ServerState.RECEIVE_CLIENT_FINAL_MESSAGE:
                return self._client_final_message(bytes(token))
            raise self._invalid(f"Unexpected challenge in Sasl server state "
                                f"{self._state.name}")
        except SaslAuthenticationError:
            self._fail()
            raise

    def _fail(self) -> None:
        self._state = _ServerState.FAILED
        self._credential = self._client_first = self._server_first = None

    def _client_first_message(self, token: bytes) -> bytes:
        try:
            first = ClientFirstMessage.parse(token)
            username = username_from_sasl_name(first.sasl_name)
        except ScramFormatError as e:
            raise self._invalid(str(e)) from None
        if first.reserved is not None:
            raise self._invalid("SCRAM extension m= is not supported")
        if first.token_authenticated:
            raise self._invalid(f"Token Authentication failed: Invalid tokenId : {username}")
        credential = self._lookup(username)
        if credential is None:
            raise self._invalid("Authentication failed: Invalid user credentials")
        if first.authorization_id and first.authorization_id != username:
            raise SaslAuthenticationError("Authentication failed: Client requested an "
                                          "authorization id that is different from username")
        if credential.iterations < self.mechanism.min_iterations:
            raise self._invalid(f"Iterations {credential.iterations} is less than the minimum "
                                f"{self.mechanism.min_iterations} for {self.mechanism_name}")
        self._authorization_id = username
        self._credential = credential
        self._client_first = first
        self._server_first = ServerFirstMessage(nonce=first.nonce + self._server_nonce,
                                                salt=credential.salt,
                                                iterations=credential.iterations)
        self._state = _ServerState.RECEIVE_CLIENT_FINAL_MESSAGE
        return self._server_first.to_bytes()

    def _client_final_message(self, token: bytes) -> bytes:
        assert self._credential and self._client_first and self._server_first
        try:
            final = ClientFinalMessage.parse(token)
        except ScramFormatError as e:
            raise self._invalid(str(e)) from None
        message = auth_message(self._client_first.bare, self._server_first.to_text(),
                               final.without_proof)
        if not verify_client_proof(self.mechanism, self._credential, message, final.proof):
            raise self._invalid("Invalid client credentials")
        signature = server_signature(self.mechanism, self._credential.server_key, message)
        self._credential = self._client_first = self._server_first = None
        self._state = _ServerState.COMPLETE
        return ServerFinalMessage(server_signature=signature).to_bytes()


class _ClientState(enum.Enum):
    SEND_CLIENT_FIRST_MESSAGE = "send-client-first"
    RECEIVE_SERVER_FIRST_MESSAGE = "receive-server-first"
    RECEIVE_SERVER_FINAL_MESSAGE = "receive-server-final"
    COMPLETE = "complete"
    FAILED = "failed"


class ScramClient:
    """SCRAM-SHA-256/512 client (Kafka's ``ScramSaslClient``).

    ``evaluate(b"")`` -> client-first; ``evaluate(server-first)`` -> client-final;
    ``evaluate(server-final)`` -> None after checking the server's signature (complete).

    Args:
        mechanism: ``ScramMechanism`` or its name.
        username, password: the credentials.
        nonce: this client's nonce: printable ASCII without commas, random per exchange.
        extensions: SCRAM extensions to send, e.g. ``(("tokenauth", "true"),)``.
    """

    def __init__(self, mechanism: ScramMechanism | str, username: str, password: str,
                 nonce: str, *, extensions: tuple[tuple[str, str], ...] = ()):
        if not is_valid_nonce(nonce):
            raise ValueError("a SCRAM nonce is printable ASCII without commas")
        self.mechanism = _mechanism(mechanism)
        self.mechanism_name = self.mechanism.mechanism_name
        self._username = username
        self._password = password
        self._nonce = nonce
        self._extensions = tuple(extensions)
        self._state = _ClientState.SEND_CLIENT_FIRST_MESSAGE
        self._client_first: ClientFirstMessage | None = None
        self._salted: bytes | None = None
        self._auth_message: bytes | None = None

    @property
    def complete(self) -> bool:
        return self._state is _ClientState.COMPLETE

    def evaluate(self, challenge: bytes = b"") -> bytes | None:
        """Raises:
            SaslAuthenticationError: a bad server message, a nonce that does not extend ours,
                too few iterations, a server error (``e=``) or a wrong server signature.
        """
        try:
            return self._evaluate(bytes(challenge))
        except ScramFormatError as e:
            self._state = _ClientState.FAILED
            raise SaslAuthenticationError(str(e)) from None
        except SaslAuthenticationError:
            self._state = _ClientState.FAILED
            raise

    def _evaluate(self, challenge: bytes) -> bytes | None:
        state = self._state
        if state is _ClientState.SEND_CLIENT_FIRST_MESSAGE:
            if challenge:
                raise SaslAuthenticationError("Expected empty challenge")
            self._client_first = ClientFirstMessage.build(self._username, self._nonce,
                                                          extensions=self._extensions)
            self._state = _ClientState.RECEIVE_SERVER_FIRST_MESSAGE
            return self._client_first.to_bytes()
        if state is _ClientState.RECEIVE_SERVER_FIRST_MESSAGE:
            assert self._client_first is not None
            first = ServerFirstMessage.parse(challenge)
            if not first.nonce.startswith(self._nonce):
                raise SaslAuthenticationError("Invalid server nonce: does not start with client "
                                              "nonce")
            if first.iterations < self.mechanism.min_iterations:
                raise SaslAuthenticationError(
                    f"Requested iterations {first.iterations} is less than the minimum "
                    f"{self.mechanism.min_iterations} for {self.mechanism_name}")
            self._salted = salted_password(self.mechanism, self._password, first.salt,
                                           first.iterations)
            channel_binding = self._client_first.gs2_header.encode("utf-8")
            without_proof = ClientFinalMessage.unsigned(channel_binding, first.nonce)
            self._auth_message = auth_message(self._client_first.bare, first.to_text(),
                                              without_proof)
            proof = client_proof(self.mechanism, self._salted, self._auth_message)
            self._state = _ClientState.RECEIVE_SERVER_FINAL_MESSAGE
            return ClientFinalMessage(channel_binding=channel_binding, nonce=first.nonce,
                                      proof=proof, without_proof=without_proof).to_bytes()
        if state is _ClientState.RECEIVE_SERVER_FINAL_MESSAGE:
            assert self._salted is not None and self._auth_message is not None
            final = ServerFinalMessage.parse(challenge)
            if final.error is not None:
                raise SaslAuthenticationError(f"Sasl authentication using {self.mechanism_name} "
                                              f"failed with error: {final.error}")
            expected = server_signature(self.mechanism, server_key(self.mechanism, self._salted),
                                        self._auth_message)
            assert final.server_signature is not None
            if not hmac.compare_digest(final.server_signature, expected):
                raise SaslAuthenticationError("Invalid server signature in server final message")
            self._salted = self._auth_message = None
            self._state = _ClientState.COMPLETE
            return None
        raise SaslAuthenticationError(f"Unexpected challenge in Sasl client state {state.name}")


# -- factories -----------------------------------------------------------------------------------

def _unsupported(mechanism: str) -> errors.UnsupportedSaslMechanism:
    if mechanism in _NOT_SUPPORTED:
        return errors.UnsupportedSaslMechanism(
            f"SASL mechanism {mechanism} is not supported by kafkalite (supported: "
            f"{', '.join(SUPPORTED_MECHANISMS)})")
    return errors.UnsupportedSaslMechanism(f"Unsupported SASL mechanism {mechanism}")


def create_server(mechanism: str, *, plain_verify: Callable[[str, str], bool] | None = None,
                  scram_lookup: Callable[[str, str], ScramCredential | None] | None = None,
                  nonce: Callable[[], str] | None = None) -> SaslServer:
    """A fresh server mechanism for one connection.

    Args:
        mechanism: the name the client chose in SaslHandshake.
        plain_verify: ``(username, password) -> bool`` for PLAIN (see :func:`plain_verifier`).
        scram_lookup: ``(mechanism name, username) -> credential or None`` for SCRAM, e.g.
            ``CredentialCache.get``.
        nonce: draws a fresh server nonce (SCRAM).

    Raises:
        UnsupportedSaslMechanism: GSSAPI, OAUTHBEARER or an unknown name, or a mechanism whose
            user store was not given.
    """
    if mechanism == PLAIN and plain_verify is not None:
        return PlainServer(plain_verify)
    scram = ScramMechanism.for_name(mechanism)
    if scram is not None and scram_lookup is not None and nonce is not None:
        name = scram.mechanism_name
        return ScramServer(scram, lambda user: scram_lookup(name, user), nonce())
    if mechanism in SUPPORTED_MECHANISMS:
        raise errors.UnsupportedSaslMechanism(
            f"SASL mechanism {mechanism} has no credential store configured")
    raise _unsupported(mechanism)


def create_client(mechanism: str, username: str, password: str, *,
                  nonce: str | None = None) -> SaslClient:
    """A fresh client mechanism (``nonce`` is required for SCRAM).

    Raises:
        UnsupportedSaslMechanism: not PLAIN or SCRAM-SHA-256/512.
    """
    if mechanism == PLAIN:
        return PlainClient(username, password)
    if ScramMechanism.for_name(mechanism) is not None:
        if nonce is None:
            raise ValueError("SCRAM needs a client nonce")
        return ScramClient(mechanism, username, password, nonce)
    raise _unsupported(mechanism)
