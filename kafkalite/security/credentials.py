"""The broker's SCRAM credentials and the ``users`` config entity they live in.

**Storage (Kafka's, layout doc §3.13).** A user's credentials are keys of its config entity
``/config/users/<sanitized user>``: ``SCRAM-SHA-256`` / ``SCRAM-SHA-512`` with values in
Kafka's credential format (:func:`~kafkalite.security.scram.format_credential`). The same node
may hold quota overrides (``producer_byte_rate`` ...); kafkalite stores but does not enforce
them. The node name is the user name *sanitized* as Kafka's ``Sanitizer`` does (URL-encoding
with ``%20`` for a space and ``%2A`` for ``*``), so ``alice@example.com`` is
``alice%40example.com`` in ZooKeeper.

**Cache.** :class:`CredentialCache` is what the SCRAM server looks users up in: mechanism ->
user -> credential. The config manager refills it from ZooKeeper at start-up
(:meth:`CredentialCache.replace_all`) and on every ``users/<name>`` change notification
(:meth:`CredentialCache.update_user`), so a user added while the broker runs can log in at
once and a deleted one cannot. A value that does not parse is dropped (logged) rather than
kept: a corrupt credential must not keep an old password working.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping

from kafkalite.errors import InvalidConfig
from kafkalite.security.scram import (ScramCredential, ScramFormatError, ScramMechanism,
                                      parse_credential)

__all__ = [
    "CredentialCache", "sanitize", "desanitize", "DEFAULT_USER", "USER_QUOTA_CONFIGS",
    "SCRAM_CONFIG_NAMES", "validate_user_config", "scram_configs",
]

log = logging.getLogger(__name__)

DEFAULT_USER = "<default>"   # ConfigEntityName.Default: quota defaults, never a login
SCRAM_CONFIG_NAMES = ScramMechanism.names()
#: Kafka's QuotaConfigs.userConfigs() besides the SCRAM keys, with their ConfigDef types.
USER_QUOTA_CONFIGS = {"producer_byte_rate": "LONG", "consumer_byte_rate": "LONG",
                      "request_percentage": "DOUBLE", "controller_mutation_rate": "DOUBLE"}

_UNRESERVED = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-._")


def sanitize(name: str) -> str:
    """Kafka's ``Sanitizer.sanitize``: Java's URLEncoder, with ``%20`` for a space and
    ``%2A`` for ``*`` (unreserved: ASCII letters, digits, ``-``, ``.``, ``_``)."""
    out = []
    for ch in name:
        if ch in _UNRESERVED:
            out.append(ch)
        else:
            out.extend(f"%{b:02X}" for b in ch.encode("utf-8"))
    return "".join(out)


def desanitize(name: str) -> str:
    """Kafka's ``Sanitizer.desanitize`` (Java's URLDecoder: ``+`` is a space).

    Raises:
        ValueError: a malformed ``%`` escape.
    """
    raw = bytearray()
    i = 0
    while i < len(name):
        ch = name[i]
        if ch == "%":
            hex_digits = name[i + 1:i + 3]
            if len(hex_digits) != 2 or any(c not in "0123456789abcdefABCDEF"
                                           for c in hex_digits):
                raise ValueError(f"URLDecoder: Illegal hex characters in escape (%) pattern: "
                                 f"{name!r}")
            raw.append(int(hex_digits, 16))
            i += 3
        else:
            raw.extend(b" " if ch == "+" else ch.encode("utf-8"))
            i += 1
    return raw.decode("utf-8", errors="replace")


def scram_configs(config: Mapping[str, str]) -> dict[str, str]:
    """The SCRAM keys of a user's config (quota keys and anything else left out)."""
    return {k: v for k, v in config.items() if k in SCRAM_CONFIG_NAMES}


def validate_user_config(config: Mapping[str, str], *, default_entity: bool = False) -> None:
    """Kafka's ``DynamicConfig.User.validate``: only quota and SCRAM keys, typed values. The
    default user (``<default>``) is validated as a client entity: quota keys only.

    Raises:
        InvalidConfig: an unknown key (Kafka: "requirement failed: Unknown Dynamic
            Configuration: Set(k).") or a value of the wrong type.
    """
    allowed = set(USER_QUOTA_CONFIGS) | (set() if default_entity else set(SCRAM_CONFIG_NAMES))
    unknown = [k for k in config if k not in allowed]
    if unknown:
        raise InvalidConfig(f"requirement failed: Unknown Dynamic Configuration: "
                            f"Set({', '.join(unknown)}).")
    for key, kind in USER_QUOTA_CONFIGS.items():
        if key not in config:
            continue
        value = str(config[key]).strip()
        try:
            if kind == "LONG" and not re.fullmatch(r"[+-]?[0-9]+", value):
                raise ValueError(value)
            float(value)
        except ValueError:
            raise InvalidConfig(f"Invalid value {config[key]} for configuration {key}: Not a "
                                f"number of type {kind}") from None


class CredentialCache:
    """mechanism name -> user -> :class:`ScramCredential` (Kafka's ``CredentialCache``)."""

    def __init__(self) -> None:
        self._by_mechanism: dict[str, dict[str, ScramCredential]] = {
            name: {} for name in SCRAM_CONFIG_NAMES}

    def get(self, mechanism: str, user: str) -> ScramCredential | None:
        """The user's credential for ``mechanism`` (None if it has none or the mechanism is
        not SCRAM). Signature fits ``sasl.create_server(scram_lookup=...)``."""
        return self._by_mechanism.get(mechanism, {}).get(user)

    def put(self, mechanism: str, user: str, credential: ScramCredential) -> None:
        self._by_mechanism[mechanism][user] = credential

    def update_user(self, user: str, config: Mapping[str, str]) -> None:
        """Make ``user``'s credentials exactly those in its config entity (Kafka's
        ``CredentialProvider.updateCredentials``): mechanisms missing from ``config`` are
        removed; a value that does not parse is removed too, and logged."""
        for mechanism, table in self._by_mechanism.items():
            text = config.get(mechanism)
            if text is None:
                table.pop(user, None)
                continue
            try:
                table[user] = parse_credential(text)
            except ScramFormatError as e:
                table.pop(user, None)
                log.error("ignoring invalid %s credential of user %s: %s", mechanism, user, e)

    def remove_user(self, user: str) -> None:
        for table in self._by_mechanism.values():
            table.pop(user, None)

    def replace_all(self, configs: Mapping[str, Mapping[str, str]]) -> None:
        """Reload everything: ``configs`` maps every user (desanitized) to its config; users
        not listed lose their credentials."""
        for table in self._by_mechanism.values():
            table.clear()
        for user, config in configs.items():
            self.update_user(user, config)

    def users(self, mechanism: str | None = None) -> set[str]:
        """Users that have a credential (for ``mechanism``, or for any)."""
        tables = [self._by_mechanism.get(mechanism, {})] if mechanism else \
            list(self._by_mechanism.values())
        return {user for table in tables for user in table}
