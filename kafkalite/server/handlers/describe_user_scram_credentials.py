"""DescribeUserScramCredentials (key 50), v0 (flexible): which SCRAM mechanisms users have
(KIP-554), read from ZooKeeper as Kafka 2.8's ZkAdminManager does.

Any broker answers. ``users`` null or empty describes every user entity that has a SCRAM key,
sorted by name (user names are desanitized; Kafka 2.8 returns the sanitized node names here,
which differ only for names with characters outside ``[A-Za-z0-9._-]``). A user asked for
explicitly:

* with credentials: its mechanisms and iteration counts (never salts or keys);
* without any: RESOURCE_NOT_FOUND "Attempt to describe a user credential that does not exist:
  <user>" (the Java admin client leaves such users out of ``users()``);
* the empty name: RESOURCE_NOT_FOUND "Username must not be empty";
* named twice: one DUPLICATE_RESOURCE result.

A stored credential that does not parse is that user's error (UNKNOWN_SERVER_ERROR). Results
come in request order, one per distinct name.

Version notes: v0 only.

Authorization: Describe on the cluster (Kafka 2.8); denied, the whole request fails with a
top-level CLUSTER_AUTHORIZATION_FAILED.
"""

from __future__ import annotations

import logging

from kafkalite import errors
from kafkalite.protocol.api_keys import ApiKey
from kafkalite.protocol.messages.describe_user_scram_credentials import (
    CredentialInfo, DescribeUserScramCredentialsResponse, DescribeUserScramCredentialsResult)
from kafkalite.security.credentials import DEFAULT_USER, desanitize, sanitize
from kafkalite.security.scram import ScramFormatError, ScramMechanism, parse_credential
from kafkalite.server import authorization as authz
from kafkalite.server.authorization import AclOperation
from kafkalite.server.dispatch import handler
from kafkalite.zk.errors import NoNodeError
from kafkalite.zk.znodes import ConfigEntityTypeZNode, ConfigType

__all__ = ["handle_describe_user_scram_credentials", "credential_infos"]

log = logging.getLogger(__name__)

USERNAME_MUST_NOT_BE_EMPTY = "Username must not be empty"
DOES_NOT_EXIST = "Attempt to describe a user credential that does not exist"


def _error_response(_request, _version: int, error: errors.KafkaError
                    ) -> DescribeUserScramCredentialsResponse:
    return DescribeUserScramCredentialsResponse(
        throttle_time_ms=0, error_code=error.code, error_message=error.message, results=())


def credential_infos(config: dict[str, str]) -> tuple[CredentialInfo, ...] | None:
    """The (mechanism, iterations) of a user's config; None if it has no SCRAM key.

    Raises:
        ScramFormatError: a stored credential that does not parse.
    """
    infos = []
    for mechanism in ScramMechanism:
        text = config.get(mechanism.mechanism_name)
        if text is not None:
            infos.append(CredentialInfo(mechanism=mechanism.type_id,
                                        iterations=parse_credential(text).iterations))
    return tuple(infos) if infos else None


def _result(user: str, config: dict[str, str], explicit: bool
            ) -> DescribeUserScramCredentialsResult | None:
    try:
        infos = credential_infos(config)
    except ScramFormatError as e:
        log.error("Error processing describe user SCRAM credential configs request: %s", e)
        return DescribeUserScramCredentialsResult(
            user=user, error_code=errors.UnknownServerError.code,
            error_message=errors.UnknownServerError.default_message())
    if infos is not None:
        return DescribeUserScramCredentialsResult(user=user, error_code=0, error_message=None,
                                                  credential_infos=infos)
    if explicit:
        return DescribeUserScramCredentialsResult(
            user=user, error_code=errors.ResourceNotFound.code,
            error_message=f"{DOES_NOT_EXIST}: {user}")
    return None


async def _describe_all(zk) -> list[DescribeUserScramCredentialsResult]:
    try:
        names = await zk.session.get_children(ConfigEntityTypeZNode.path(ConfigType.USER))
    except NoNodeError:
        names = []
    found = []
    for name in names:
        if name == DEFAULT_USER:
            continue
        try:
            user = desanitize(name)
        except ValueError:
            continue
        result = _result(user, await zk.get_entity_config(ConfigType.USER, name), False)
        if result is not None:
            found.append(result)
    return sorted(found, key=lambda r: r.user)


async def _describe_users(zk, users: list[str]) -> list[DescribeUserScramCredentialsResult]:
    results: dict[str, DescribeUserScramCredentialsResult] = {}
    for user in dict.fromkeys(users):
        if not user:
            results[user] = DescribeUserScramCredentialsResult(
                user=user, error_code=errors.ResourceNotFound.code,
                error_message=USERNAME_MUST_NOT_BE_EMPTY)
        elif users.count(user) > 1:
            results[user] = DescribeUserScramCredentialsResult(
                user=user, error_code=errors.DuplicateResource.code,
                error_message=f"Cannot describe SCRAM credentials for the same user twice in "
                              f"a single request: {user}")
        else:
            name = sanitize(user)
            # "." and ".." make no ZooKeeper path: no credentials can be stored for them
            config = {} if name in (".", "..") else \
                await zk.get_entity_config(ConfigType.USER, name)
            results[user] = _result(user, config, True)
    return list(results.values())


@handler(ApiKey.DESCRIBE_USER_SCRAM_CREDENTIALS, versions=(0, 0),
         error_response=_error_response)
async def handle_describe_user_scram_credentials(ctx, req):
    authz.require_cluster(ctx, AclOperation.DESCRIBE)
    zk = ctx.broker.zk
    users = list(u.name for u in req.users or ())
    results = await (_describe_users(zk, users) if users else _describe_all(zk))
    return DescribeUserScramCredentialsResponse(throttle_time_ms=0, error_code=0,
                                                error_message=None, results=tuple(results))
