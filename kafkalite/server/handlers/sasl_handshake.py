"""SaslHandshake (key 17), v0–1.

On a SASL listener the handshake that starts a connection is handled by the network layer
before any request reaches a handler (``security/authenticator.py``). A handshake that gets
here arrived on a listener without SASL, or after authentication: Kafka answers
ILLEGAL_SASL_STATE, and so do we.
"""

from __future__ import annotations

from kafkalite import errors
from kafkalite.protocol.api_keys import ApiKey
from kafkalite.protocol.messages.sasl_handshake import SaslHandshakeResponse
from kafkalite.server.dispatch import handler


@handler(ApiKey.SASL_HANDSHAKE, versions=(0, 1))
async def handle_sasl_handshake(ctx, req):
    return SaslHandshakeResponse(error_code=errors.IllegalSaslState.code, mechanisms=[])
