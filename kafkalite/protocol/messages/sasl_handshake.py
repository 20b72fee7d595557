"""SaslHandshake (key 17): choose a SASL mechanism.

v0: raw SASL tokens follow on the socket; v1: tokens travel in SaslAuthenticate requests.
"""

from __future__ import annotations

import attrs

from kafkalite.protocol.api_keys import ApiKey
from kafkalite.protocol.schema import INT16, STRING, Array, message, wire


@message(api_key=ApiKey.SASL_HANDSHAKE, kind="request", versions="0-1", flexible="none")
@attrs.frozen(kw_only=True)
class SaslHandshakeRequest:
    mechanism: str = wire(STRING)


@message(api_key=ApiKey.SASL_HANDSHAKE, kind="response", versions="0-1", flexible="none")
@attrs.frozen(kw_only=True)
class SaslHandshakeResponse:
    error_code: int = wire(INT16)
    mechanisms: tuple[str, ...] = wire(Array(STRING))
