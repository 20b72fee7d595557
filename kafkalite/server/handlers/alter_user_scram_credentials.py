"""AlterUserScramCredentials (key 51), v0 (flexible): add, replace or delete users' SCRAM
credentials (KIP-554), with Kafka 2.8's ZooKeeper-mode rules (ZkAdminManager).

Only the active controller answers; any other broker answers NOT_CONTROLLER for every user
named, so the admin client finds the controller and retries. The request is checked per user,
and a user with any bad alteration gets one error and none of its alterations applied:

* empty user name: UNACCEPTABLE_CREDENTIAL "Username must not be empty";
* mechanism not 1 (SCRAM-SHA-256) or 2 (SCRAM-SHA-512): UNSUPPORTED_SASL_MECHANISM
  "Unknown SCRAM mechanism";
* iterations below 4096 or above 16384: UNACCEPTABLE_CREDENTIAL "Too few iterations" /
  "Too many iterations";
* the same (user, mechanism) twice: DUPLICATE_RESOURCE "A user credential cannot be altered
  twice in the same request";
* deleting a mechanism the user has no credential for: RESOURCE_NOT_FOUND "Attempt to delete a
  user credential that does not exist".

For the others, the user's config entity ``/config/users/<sanitized user>`` is read, deletions
remove their keys, upsertions put Kafka's credential string computed from the client's salt and
salted password (the password never reaches the broker), and the result is written back with a
change notification (quota keys in the same node are kept). Every broker's config manager then
reloads that user's credentials; this broker does it at once.

Version notes: v0 only.

Authorization: Alter on the cluster, checked after the controller check (Kafka 2.8); denied,
every user named gets CLUSTER_AUTHORIZATION_FAILED.
"""

from __future__ import annotations

import logging
from collections import Counter

from kafkalite import errors
from kafkalite.protocol.api_keys import ApiKey
from kafkalite.protocol.messages.alter_user_scram_credentials import (
    AlterUserScramCredentialsResponse, AlterUserScramCredentialsResult)
from kafkalite.security.credentials import sanitize
from kafkalite.security.scram import (MIN_ITERATIONS, ScramMechanism,
                                      credential_from_salted_password, format_credential)
from kafkalite.server import authorization as authz
from kafkalite.server.authorization import AclOperation
from kafkalite.server.config_manager import ConfigManager
from kafkalite.server.dispatch import handler
from kafkalite.zk.znodes import ConfigType

__all__ = ["handle_alter_user_scram_credentials", "MAX_ITERATIONS"]

log = logging.getLogger(__name__)

MAX_ITERATIONS = 16384
USERNAME_MUST_NOT_BE_EMPTY = "Username must not be empty"
UNKNOWN_MECHANISM = "Unknown SCRAM mechanism"


def _all_users(req) -> list[str]:
    return sorted({d.name for d in req.deletions} | {u.name for u in req.upsertions})


def _error_response(req, _version: int, error: errors.KafkaError
                    ) -> AlterUserScramCredentialsResponse:
    return _everyone(req, type(error), error.message)


def _everyone(req, error: type[errors.KafkaError], message: str | None
              ) -> AlterUserScramCredentialsResponse:
    """The same error for every user named (Kafka's ``getErrorResponse``)."""
    return AlterUserScramCredentialsResponse(throttle_time_ms=0, results=tuple(
        AlterUserScramCredentialsResult(user=user, error_code=error.code, error_message=message)
        for user in _all_users(req)))


UNSTORABLE_USERNAME = "Username must not be '.' or '..'"


def _illegal(req) -> dict[str, str]:
    """user -> the message of its illegal alteration (upsertion messages win, as in Kafka)."""
    out: dict[str, str] = {}
    for d in req.deletions:
        if not d.name:
            out[d.name] = USERNAME_MUST_NOT_BE_EMPTY
        elif sanitize(d.name) in (".", ".."):
            out[d.name] = UNSTORABLE_USERNAME
        elif ScramMechanism.for_type(d.mechanism) is None:
            out[d.name] = UNKNOWN_MECHANISM
    for u in req.upsertions:
        if not u.name:
            out[u.name] = USERNAME_MUST_NOT_BE_EMPTY
        elif sanitize(u.name) in (".", ".."):
            # /config/users/. is no ZooKeeper path (Kafka fails its write: UNKNOWN_SERVER_ERROR)
            out[u.name] = UNSTORABLE_USERNAME
        elif ScramMechanism.for_type(u.mechanism) is None:
            out[u.name] = UNKNOWN_MECHANISM
        elif u.iterations > MAX_ITERATIONS:
            out[u.name] = "Too many iterations"
        elif u.iterations < MIN_ITERATIONS:
            out[u.name] = "Too few iterations"
    return out


def _result(user: str, error: type[errors.KafkaError] | None, message: str | None = None
            ) -> AlterUserScramCredentialsResult:
    return AlterUserScramCredentialsResult(user=user, error_code=error.code if error else 0,
                                           error_message=message)


@handler(ApiKey.ALTER_USER_SCRAM_CREDENTIALS, versions=(0, 0), error_response=_error_response)
async def handle_alter_user_scram_credentials(ctx, req):
    broker = ctx.broker
    if broker.controller is None:
        return _everyone(req, errors.NotController, None)
    authz.require_cluster(ctx, AclOperation.ALTER)
    results: list[AlterUserScramCredentialsResult] = []

    illegal = _illegal(req)
    for user, message in illegal.items():
        error = errors.UnsupportedSaslMechanism if message == UNKNOWN_MECHANISM else \
            errors.UnacceptableCredential
        results.append(_result(user, error, message))

    pairs = [(a.name, a.mechanism) for a in (*req.upsertions, *req.deletions)
             if a.name not in illegal]
    duplicated = list(dict.fromkeys(user for (user, _), n in Counter(pairs).items() if n > 1))
    for user in duplicated:
        results.append(_result(user, errors.DuplicateResource,
                               "A user credential cannot be altered twice in the same request"))

    users = [u for u in dict.fromkeys(user for user, _ in pairs) if u not in duplicated]
    configs = {u: await broker.zk.get_entity_config(ConfigType.USER, sanitize(u)) for u in users}
    missing = list(dict.fromkeys(
        d.name for d in req.deletions if d.name in configs
        and ScramMechanism.for_type(d.mechanism).mechanism_name not in configs[d.name]))
    for user in missing:
        results.append(_result(user, errors.ResourceNotFound,
                               "Attempt to delete a user credential that does not exist"))

    to_alter = [u for u in users if u not in missing]
    for d in req.deletions:
        if d.name in to_alter:
            configs[d.name].pop(ScramMechanism.for_type(d.mechanism).mechanism_name, None)
    for u in req.upsertions:
        if u.name in to_alter:
            mechanism = ScramMechanism.for_type(u.mechanism)
            credential = credential_from_salted_password(mechanism, u.salt, u.salted_password,
                                                         u.iterations)
            configs[u.name][mechanism.mechanism_name] = format_credential(credential)
    manager = ConfigManager.of(broker)
    for user in to_alter:
        log.info("Updating SCRAM credentials of user %s: %s", user,
                 ",".join(sorted(k for k in configs[user] if k.startswith("SCRAM-"))) or "none")
        await broker.zk.change_entity_config(ConfigType.USER, sanitize(user), configs[user])
        if manager is not None:
            await manager.refresh_user(sanitize(user))
        results.append(_result(user, None))
    return AlterUserScramCredentialsResponse(throttle_time_ms=0, results=tuple(results))
