"""DescribeUserScramCredentials (key 50): which SCRAM mechanisms each user has, with their
iteration counts (never the keys or salts) (KIP-554).

``users`` null or empty = every user that has a credential. v0 only, flexible.
"""

from __future__ import annotations

import attrs

from kafkalite.protocol.api_keys import ApiKey
from kafkalite.protocol.schema import INT8, INT16, INT32, STRING, Array, message, wire


@attrs.frozen(kw_only=True)
class UserName:
    name: str = wire(STRING)


@attrs.frozen(kw_only=True)
class CredentialInfo:
    mechanism: int = wire(INT8)
    iterations: int = wire(INT32)


@attrs.frozen(kw_only=True)
class DescribeUserScramCredentialsResult:
    user: str = wire(STRING)
    error_code: int = wire(INT16)
    error_message: str | None = wire(STRING, nullable="0+")
    credential_infos: tuple[CredentialInfo, ...] = wire(Array(CredentialInfo))


@message(api_key=ApiKey.DESCRIBE_USER_SCRAM_CREDENTIALS, kind="request", versions="0-0",
         flexible="0+")
@attrs.frozen(kw_only=True)
class DescribeUserScramCredentialsRequest:
    # Kafka's Java default is an empty list, not null; both mean "all users".
    users: tuple[UserName, ...] | None = wire(Array(UserName), nullable="0+", default=())


@message(api_key=ApiKey.DESCRIBE_USER_SCRAM_CREDENTIALS, kind="response", versions="0-0",
         flexible="0+")
@attrs.frozen(kw_only=True)
class DescribeUserScramCredentialsResponse:
    throttle_time_ms: int = wire(INT32)
    error_code: int = wire(INT16)
    error_message: str | None = wire(STRING, nullable="0+")
    results: tuple[DescribeUserScramCredentialsResult, ...] = wire(
        Array(DescribeUserScramCredentialsResult))
