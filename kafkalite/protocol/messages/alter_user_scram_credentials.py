"""AlterUserScramCredentials (key 51): add, replace or delete users' SCRAM credentials (KIP-554).

The client salts the password itself (``salted_password`` = Hi(password, salt, iterations)), so
the password never crosses the wire. Mechanism numbers: 1 = SCRAM-SHA-256, 2 = SCRAM-SHA-512
(0 = unknown). v0 only, flexible.
"""

from __future__ import annotations

import attrs

from kafkalite.protocol.api_keys import ApiKey
from kafkalite.protocol.schema import BYTES, INT8, INT16, INT32, STRING, Array, message, wire


@attrs.frozen(kw_only=True)
class ScramCredentialDeletion:
    name: str = wire(STRING)
    mechanism: int = wire(INT8)


@attrs.frozen(kw_only=True)
class ScramCredentialUpsertion:
    name: str = wire(STRING)
    mechanism: int = wire(INT8)
    iterations: int = wire(INT32)
    salt: bytes = wire(BYTES)
    salted_password: bytes = wire(BYTES)


@attrs.frozen(kw_only=True)
class AlterUserScramCredentialsResult:
    user: str = wire(STRING)
    error_code: int = wire(INT16)
    error_message: str | None = wire(STRING, nullable="0+")


@message(api_key=ApiKey.ALTER_USER_SCRAM_CREDENTIALS, kind="request", versions="0-0",
         flexible="0+")
@attrs.frozen(kw_only=True)
class AlterUserScramCredentialsRequest:
    deletions: tuple[ScramCredentialDeletion, ...] = wire(Array(ScramCredentialDeletion))
    upsertions: tuple[ScramCredentialUpsertion, ...] = wire(Array(ScramCredentialUpsertion))


@message(api_key=ApiKey.ALTER_USER_SCRAM_CREDENTIALS, kind="response", versions="0-0",
         flexible="0+")
@attrs.frozen(kw_only=True)
class AlterUserScramCredentialsResponse:
    throttle_time_ms: int = wire(INT32)
    results: tuple[AlterUserScramCredentialsResult, ...] = wire(
        Array(AlterUserScramCredentialsResult))
