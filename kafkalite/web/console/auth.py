"""Who the console acts as (see ``app.py`` for the policy); the pure parts and the choice of
listener and SASL login.

On a cluster with a SASL listener the console signs in to that listener *as the browser's
user*: HTTP Basic credentials become a PLAIN or SCRAM login (whichever the listener enables,
SCRAM first so the password is never sent in the clear), and the broker — its JAAS users,
SCRAM credentials and ACLs — decides what the user may see and do. The console keeps no user
list of its own. Which listener: the inter-broker one when it is a SASL listener (its TLS
settings are known to work from this broker), else the first SASL_PLAINTEXT, else the first
SASL_SSL listener.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import secrets
from collections.abc import Sequence
from typing import Any

import attrs

from kafkalite.client.connection import ClientSecurity
from kafkalite.model import BrokerEndpoint
from kafkalite.web.console.routes import ApiError

__all__ = ["Credentials", "parse_basic", "wrong_credentials", "pick_sasl_listener",
           "login_mechanisms", "user_security", "REALM"]

REALM = "kafkalite console"
#: Preference among the mechanisms kafkalite brokers support.
_PREFERENCE = ("SCRAM-SHA-512", "SCRAM-SHA-256", "PLAIN")


@attrs.frozen
class Credentials:
    username: str
    password: str = attrs.field(repr=False)

    @property
    def key(self) -> tuple[str, str]:
        """Identifies a login without keeping the password as a dict key."""
        return self.username, hashlib.sha256(self.password.encode("utf-8")).hexdigest()


def _challenge(message: str) -> ApiError:
    return ApiError(401, message,
                    headers=(("WWW-Authenticate", f'Basic realm="{REALM}", charset="UTF-8"'),))


def parse_basic(header: str | None) -> Credentials:
    """The user of an ``Authorization: Basic ...`` header.

    Raises:
        ApiError: 401 (with a Basic challenge) when missing or malformed.
    """
    if not header:
        raise _challenge("sign in with a user of the cluster")
    scheme, _, token = header.strip().partition(" ")
    if scheme.lower() != "basic" or not token.strip():
        raise _challenge("only HTTP Basic authentication is supported")
    try:
        decoded = base64.b64decode(token.strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        raise _challenge("malformed Basic credentials") from None
    username, sep, password = decoded.partition(":")
    if not sep or not username:
        raise _challenge("malformed Basic credentials")
    return Credentials(username, password)


def wrong_credentials() -> ApiError:
    return _challenge("wrong user name or password")


def _mechanisms_of(value: Any) -> list[str]:
    items = value if isinstance(value, (list, tuple)) else str(value or "").split(",")
    return [str(m).strip().upper() for m in items if str(m).strip()]


def pick_sasl_listener(endpoints: Sequence[BrokerEndpoint], inter_broker_listener: str
                       ) -> BrokerEndpoint | None:
    """The SASL listener the console signs users in on, None when the broker has none."""
    sasl = [e for e in endpoints if e.security_protocol.startswith("SASL_")]
    for e in sasl:
        if e.listener == inter_broker_listener:
            return e
    for protocol in ("SASL_PLAINTEXT", "SASL_SSL"):
        for e in sasl:
            if e.security_protocol == protocol:
                return e
    return None


def login_mechanisms(enabled: Any) -> list[str]:
    """The listener's enabled mechanisms the console can log in with, best first."""
    names = _mechanisms_of(enabled)
    return [m for m in _PREFERENCE if m in names]


def user_security(mechanism: str, credentials: Credentials, ssl_context: Any = None
                  ) -> ClientSecurity:
    """How the console's client signs in as ``credentials`` with ``mechanism``."""
    from kafkalite.security.sasl import create_client

    def new_client():
        return create_client(mechanism, credentials.username, credentials.password,
                             nonce=secrets.token_urlsafe(18))

    return ClientSecurity(ssl_context=ssl_context, sasl_mechanism=mechanism,
                          new_sasl_client=new_client)
