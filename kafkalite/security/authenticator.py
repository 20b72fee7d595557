"""The broker side of a SASL listener's authentication, pure (Kafka's SaslServerAuthenticator).

A connection on a SASL_PLAINTEXT or SASL_SSL listener starts unauthenticated. Until the SASL
exchange succeeds only three kinds of request are valid:

- ApiVersions (any time before the handshake: clients ask for versions first);
- SaslHandshake: picks the mechanism. v0 means the tokens follow as *raw* size-prefixed frames
  (no Kafka header); v1 means they travel inside SaslAuthenticate requests (KIP-152). An
  unknown or disabled mechanism is answered UNSUPPORTED_SASL_MECHANISM with the enabled list,
  and the connection is then closed;
- SaslAuthenticate (after a v1 handshake): one token in, the mechanism's answer out, repeated
  until the mechanism is complete.

Any other request, or a request out of this order, is ILLEGAL_SASL_STATE: the connection is
closed (Kafka throws and disconnects). A failed exchange is answered SASL_AUTHENTICATION_FAILED
(with Kafka's message) on SaslAuthenticate, or with nothing in raw mode, and the connection is
closed after ``connection.failed.authentication.delay.ms``; nothing else is served on it.

``SaslAuthenticate`` v1+ reports a session lifetime: 0, since ``connections.max.reauth.ms``
(KIP-368) is not enforced.

The shell (``server/network.py``) feeds requests in and carries out :class:`Step` results;
mechanisms come from a factory so this module knows nothing about credentials.
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Sequence
from typing import Any

import attrs

from kafkalite import errors
from kafkalite.protocol.messages.sasl_authenticate import SaslAuthenticateResponse
from kafkalite.protocol.messages.sasl_handshake import SaslHandshakeResponse

__all__ = ["SaslAuthenticator", "AuthState", "Step", "SaslAuthenticationError"]


class SaslAuthenticationError(Exception):
    """A mechanism refused the client's credentials; the message is what the client sees."""


class AuthState(enum.Enum):
    HANDSHAKE = "handshake"          # waiting for SaslHandshake (ApiVersions allowed)
    AUTHENTICATE = "authenticate"    # v1: SaslAuthenticate requests carry the tokens
    RAW = "raw"                      # v0: raw token frames
    COMPLETE = "complete"
    FAILED = "failed"


@attrs.frozen
class Step:
    """What the shell does next: send ``response`` (a message, or raw token bytes in raw mode,
    or None), then close the connection if ``close`` (after the failed-authentication delay if
    ``failed``)."""

    response: Any = None
    close: bool = False
    failed: bool = False


class SaslAuthenticator:
    """One connection's SASL state machine.

    Args:
        mechanisms: the listener's enabled mechanisms (``sasl.enabled.mechanisms``).
        new_server: mechanism name -> a fresh server mechanism with ``evaluate(token) ->
            bytes``, ``complete`` and ``authorization_id`` that raises
            :class:`SaslAuthenticationError` (or a subclass of it) on bad credentials.
    """

    def __init__(self, mechanisms: Sequence[str], new_server: Callable[[str], Any]):
        self.mechanisms = tuple(mechanisms)
        self._new_server = new_server
        self._server: Any = None
        self.state = AuthState.HANDSHAKE
        self.principal: str | None = None

    @property
    def complete(self) -> bool:
        return self.state is AuthState.COMPLETE

    def handshake(self, version: int, mechanism: str) -> Step:
        if self.state is not AuthState.HANDSHAKE:
            return Step(SaslHandshakeResponse(error_code=errors.IllegalSaslState.code,
                                              mechanisms=list(self.mechanisms)), close=True)
        if mechanism not in self.mechanisms:
            self.state = AuthState.FAILED
            return Step(SaslHandshakeResponse(error_code=errors.UnsupportedSaslMechanism.code,
                                              mechanisms=list(self.mechanisms)), close=True)
        self._server = self._new_server(mechanism)
        self.state = AuthState.AUTHENTICATE if version >= 1 else AuthState.RAW
        return Step(SaslHandshakeResponse(error_code=0, mechanisms=list(self.mechanisms)))

    def authenticate(self, token: bytes) -> Step:
        """A SaslAuthenticate request's token (v1 handshake)."""
        if self.state is not AuthState.AUTHENTICATE:
            return Step(_auth_response(errors.IllegalSaslState,
                                       "Unexpected SaslAuthenticate request"), close=True)
        try:
            answer = self._server.evaluate(bytes(token))
        except SaslAuthenticationError as e:
            self.state = AuthState.FAILED
            return Step(_auth_response(errors.SaslAuthenticationFailed, str(e)), close=True,
                        failed=True)
        self._maybe_complete()
        return Step(_auth_response(None, None, answer))

    def raw_token(self, token: bytes) -> Step:
        """A raw token frame (v0 handshake); the answer is raw bytes (empty: none sent)."""
        try:
            answer = self._server.evaluate(bytes(token))
        except SaslAuthenticationError:
            self.state = AuthState.FAILED
            return Step(None, close=True, failed=True)
        self._maybe_complete()
        return Step(answer)

    def unexpected(self, api_name: str) -> Step:
        """A request other than ApiVersions/SaslHandshake/SaslAuthenticate before the end."""
        self.state = AuthState.FAILED
        return Step(None, close=True)

    def _maybe_complete(self) -> None:
        if self._server.complete:
            self.state = AuthState.COMPLETE
            self.principal = f"User:{self._server.authorization_id}"


def _auth_response(error, message: str | None, token: bytes = b"") -> SaslAuthenticateResponse:
    return SaslAuthenticateResponse(error_code=error.code if error else 0, error_message=message,
                                    auth_bytes=token, session_lifetime_ms=0)
