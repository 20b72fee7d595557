"""SaslAuthenticate (key 36): carry SASL tokens inside Kafka frames (KIP-152).

v1 session lifetime (KIP-368); v2 flexible.
"""

from __future__ import annotations

import attrs

from kafkalite.protocol.api_keys import ApiKey
from kafkalite.protocol.schema import BYTES, INT16, INT64, STRING, message, wire


@message(api_key=ApiKey.SASL_AUTHENTICATE, kind="request", versions="0-2", flexible="2+")
@attrs.frozen(kw_only=True)
class SaslAuthenticateRequest:
    auth_bytes: bytes = wire(BYTES)


@message(api_key=ApiKey.SASL_AUTHENTICATE, kind="response", versions="0-2", flexible="2+")
@attrs.frozen(kw_only=True)
class SaslAuthenticateResponse:
    error_code: int = wire(INT16)
    error_message: str | None = wire(STRING, nullable="0+")
    auth_bytes: bytes = wire(BYTES)
    session_lifetime_ms: int = wire(INT64, versions="1+")
