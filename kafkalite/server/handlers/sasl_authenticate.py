"""SaslAuthenticate (key 36), v0–2 (flexible from 2).

Before authentication the network layer answers it (``security/authenticator.py``); one that
reaches a handler came after a successful authentication or on a listener without SASL:
ILLEGAL_SASL_STATE, as Kafka answers.
"""

from __future__ import annotations

from kafkalite import errors
from kafkalite.protocol.api_keys import ApiKey
from kafkalite.protocol.messages.sasl_authenticate import SaslAuthenticateResponse
from kafkalite.server.dispatch import handler


@handler(ApiKey.SASL_AUTHENTICATE, versions=(0, 2))
async def handle_sasl_authenticate(ctx, req):
    return SaslAuthenticateResponse(
        error_code=errors.IllegalSaslState.code,
        error_message="SaslAuthenticate request received after successful authentication",
        auth_bytes=b"", session_lifetime_ms=0)
