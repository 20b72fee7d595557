"""Kafka's AclAuthorizer decisions over an in-memory ACL cache (pure; the I/O is the service's).

Theory of operation (Kafka 2.8 ``kafka.security.authorizer.AclAuthorizer``):

* The cache maps each :class:`ResourcePattern` that has ACLs to its entries and the zkVersion
  of its znode (``/kafka-acl/<Type>/<name>`` or ``/kafka-acl-extended/prefixed/<Type>/<name>``).
  Every broker keeps a full copy, loaded at start and refreshed from the change notifications.
* ``authorize(principal, host, op, type, name)`` for one *literal* resource:

  1. a super user (``super.users``) is allowed everything, without looking at ACLs;
  2. the ACLs that apply are those of the literal pattern ``name``, of the wildcard literal
     ``*`` and of every PREFIXED pattern that ``name`` starts with;
  3. none at all: ``allow.everyone.if.no.acl.found`` decides (default false: denied);
  4. a DENY entry matching the principal (or ``User:*``), the host (or ``*``) and the operation
     (or ``All``) wins over everything;
  5. otherwise an ALLOW entry matching principal, host and the operation — or one that implies
     it (Read/Write/Delete/Alter imply Describe, AlterConfigs implies DescribeConfigs) or
     ``All`` — allows; nothing matching: denied.

* ``authorize_by_resource_type`` (KIP-679, used by InitProducerId without a transactional id)
  asks whether the principal may do ``op`` on at least one resource of a type.
* Changes are read-modify-write of one pattern's entry set with a compare-and-set on its
  zkVersion; :func:`plan_deletions` and :func:`entries_to_delete` decide what a DeleteAcls
  filter removes, :func:`check_binding` what CreateAcls refuses.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

import attrs

from kafkalite import errors
from kafkalite.security.acl import (
    CLUSTER_NAME, WILDCARD_HOST, WILDCARD_PRINCIPAL, WILDCARD_RESOURCE, AccessControlEntry,
    AclBinding, AclBindingFilter, AclOperation, AclPermissionType, PatternType,
    ResourcePattern, ResourcePatternFilter, ResourceType, implied_by, parse_principal,
    parse_super_users)

__all__ = ["VersionedAcls", "NO_ACLS", "UNKNOWN_VERSION", "Authorizer", "check_binding",
           "plan_deletions", "entries_to_delete", "filter_to_resources", "sort_entries"]

UNKNOWN_VERSION = -1


@attrs.frozen
class VersionedAcls:
    """A pattern's entries and its znode's zkVersion (-1: no znode)."""

    acls: frozenset[AccessControlEntry]
    zk_version: int = UNKNOWN_VERSION

    @property
    def exists(self) -> bool:
        return self.zk_version != UNKNOWN_VERSION


NO_ACLS = VersionedAcls(frozenset(), UNKNOWN_VERSION)


def sort_entries(entries: Iterable[AccessControlEntry]) -> list[AccessControlEntry]:
    """A stable order for output and znode JSON (Kafka's is a hash set's)."""
    return sorted(entries, key=lambda e: (e.principal, e.host, int(e.operation),
                                          int(e.permission_type)))


def _pattern_key(p: ResourcePattern) -> tuple[int, int, str]:
    return int(p.resource_type), int(p.pattern_type), p.name


class Authorizer:
    """The ACL cache of one broker (or tool) and every decision made from it.

    Args:
        super_users: principals allowed everything (``super.users``).
        allow_everyone_if_no_acl_found: the answer for resources without any ACL.
    """

    def __init__(self, *, super_users: Iterable[str] = (),
                 allow_everyone_if_no_acl_found: bool = False):
        self.super_users = frozenset(super_users)
        self.allow_everyone_if_no_acl_found = allow_everyone_if_no_acl_found
        self._cache: dict[ResourcePattern, VersionedAcls] = {}
        # Lookup indexes rebuilt per pattern on update: resource type -> name -> entries.
        self._literal: dict[ResourceType, dict[str, frozenset[AccessControlEntry]]] = {}
        self._prefixed: dict[ResourceType, dict[str, frozenset[AccessControlEntry]]] = {}

    @classmethod
    def from_config(cls, config: Mapping[str, object]) -> Authorizer:
        """From ``super.users`` and ``allow.everyone.if.no.acl.found`` (strings or parsed).

        Raises:
            ValueError: a super user that is not ``Type:name``.
        """
        allow = config.get("allow.everyone.if.no.acl.found", False)
        if isinstance(allow, str):
            allow = allow.strip().lower() == "true"
        return cls(super_users=parse_super_users(str(config.get("super.users") or "")),
                   allow_everyone_if_no_acl_found=bool(allow))

    # -- the cache ------------------------------------------------------------------------

    def get(self, pattern: ResourcePattern) -> VersionedAcls:
        return self._cache.get(pattern, NO_ACLS)

    def __contains__(self, pattern: ResourcePattern) -> bool:
        return pattern in self._cache

    @property
    def patterns(self) -> list[ResourcePattern]:
        return sorted(self._cache, key=_pattern_key)

    def update_cache(self, pattern: ResourcePattern, versioned: VersionedAcls) -> None:
        """Replace a pattern's entries; an empty set removes the pattern."""
        index = (self._literal if pattern.pattern_type is PatternType.LITERAL
                 else self._prefixed).setdefault(pattern.resource_type, {})
        if versioned.acls:
            self._cache[pattern] = versioned
            index[pattern.name] = versioned.acls
        else:
            self._cache.pop(pattern, None)
            index.pop(pattern.name, None)

    def clear(self) -> None:
        self._cache.clear()
        self._literal.clear()
        self._prefixed.clear()

    def acls(self, binding_filter: AclBindingFilter) -> list[AclBinding]:
        """Every binding the filter matches, ordered by pattern, then entry."""
        out = []
        for pattern in self.patterns:
            for entry in sort_entries(self._cache[pattern].acls):
                binding = AclBinding(pattern, entry)
                if binding_filter.matches(binding):
                    out.append(binding)
        return out

    # -- decisions -------------------------------------------------------------------------

    def is_super_user(self, principal: str) -> bool:
        return principal in self.super_users

    def matching_acls(self, resource_type: ResourceType, name: str
                      ) -> list[AccessControlEntry]:
        """Entries of every pattern that applies to the literal resource ``name``."""
        out: list[AccessControlEntry] = []
        literal = self._literal.get(resource_type)
        if literal:
            out.extend(literal.get(name, ()))
            if name != WILDCARD_RESOURCE:
                out.extend(literal.get(WILDCARD_RESOURCE, ()))
        prefixed = self._prefixed.get(resource_type)
        if prefixed:
            if len(prefixed) < len(name):
                for prefix, entries in prefixed.items():
                    if name.startswith(prefix):
                        out.extend(entries)
            else:
                for i in range(1, len(name) + 1):
                    out.extend(prefixed.get(name[:i], ()))
        return out

    def authorize(self, principal: str, host: str, operation: AclOperation,
                  resource_type: ResourceType, name: str) -> bool:
        """May ``principal`` connecting from ``host`` do ``operation`` on a resource?"""
        if principal in self.super_users:
            return True
        acls = self.matching_acls(resource_type, name)
        if not acls:
            return self.allow_everyone_if_no_acl_found
        principals = (principal, WILDCARD_PRINCIPAL)
        hosts = (host, WILDCARD_HOST)
        allowed_ops = implied_by(operation)
        allowed = False
        for acl in acls:
            if acl.principal not in principals or acl.host not in hosts:
                continue
            if acl.permission_type is AclPermissionType.DENY:
                if acl.operation is operation or acl.operation is AclOperation.ALL:
                    return False
            elif not allowed and (acl.operation in allowed_ops or
                                  acl.operation is AclOperation.ALL):
                allowed = True
        return allowed

    def authorize_by_resource_type(self, principal: str, host: str, operation: AclOperation,
                                   resource_type: ResourceType) -> bool:
        """May ``principal`` do ``operation`` on at least one resource of the type?

        Kafka's rules: a DENY on the ``*`` literal denies; ``allow.everyone.if.no.acl.found``
        allows; otherwise some ALLOWed literal or prefix must not be covered by a DENY (a
        denied literal of the same name, or a denied prefix of it). No implied operations.
        """
        if principal in self.super_users:
            return True

        def names(permission: AclPermissionType, pattern_type: PatternType) -> set[str]:
            found = set()
            for pattern, versioned in self._cache.items():
                if pattern.resource_type is not resource_type or \
                        pattern.pattern_type is not pattern_type:
                    continue
                for acl in versioned.acls:
                    if acl.permission_type is permission and \
                            acl.principal in (principal, WILDCARD_PRINCIPAL) and \
                            acl.host in (host, WILDCARD_HOST) and \
                            acl.operation in (operation, AclOperation.ALL):
                        found.add(pattern.name)
                        break
            return found

        deny_literals = names(AclPermissionType.DENY, PatternType.LITERAL)
        if WILDCARD_RESOURCE in deny_literals:
            return False
        if self.allow_everyone_if_no_acl_found:
            return True
        deny_prefixes = names(AclPermissionType.DENY, PatternType.PREFIXED)
        allow_literals = names(AclPermissionType.ALLOW, PatternType.LITERAL)
        allow_prefixes = names(AclPermissionType.ALLOW, PatternType.PREFIXED)
        if not deny_literals and not deny_prefixes:
            return bool(allow_literals or allow_prefixes)

        def dominated(name: str) -> bool:
            return any(name[:i] in deny_prefixes for i in range(1, len(name) + 1))

        return any(not dominated(p) for p in allow_prefixes) or any(
            lit == WILDCARD_RESOURCE or (lit not in deny_literals and not dominated(lit))
            for lit in allow_literals)


# -- changes -------------------------------------------------------------------------------


def check_binding(binding: AclBinding) -> errors.KafkaError | None:
    """Why CreateAcls refuses ``binding`` (an INVALID_REQUEST), or None.

    KafkaApis refuses a CLUSTER name other than ``kafka-cluster`` and an empty name; the
    authorizer refuses bindings with unknown elements and principals that are not
    ``Type:name``.
    """
    pattern, entry = binding.pattern, binding.entry
    if pattern.resource_type is ResourceType.CLUSTER and pattern.name != CLUSTER_NAME:
        return errors.InvalidRequest(
            f"The only valid name for the CLUSTER resource is {CLUSTER_NAME}")
    if not pattern.name:
        return errors.InvalidRequest("Invalid empty resource name")
    if binding.is_unknown:
        return errors.InvalidRequest("Failed to create ACL: ACL binding contains unknown "
                                     "elements")
    try:
        parse_principal(entry.principal)
    except ValueError as e:
        return errors.InvalidRequest(f"Failed to create ACL: {e}")
    return None


def filter_to_resources(pattern_filter: ResourcePatternFilter) -> list[ResourcePattern]:
    """The patterns a filter that matches at most one resource name can select."""
    name = pattern_filter.name or ""
    if pattern_filter.pattern_type in (PatternType.LITERAL, PatternType.PREFIXED):
        return [ResourcePattern(pattern_filter.resource_type, name, pattern_filter.pattern_type)]
    if pattern_filter.pattern_type is PatternType.ANY:
        return [ResourcePattern(pattern_filter.resource_type, name, PatternType.LITERAL),
                ResourcePattern(pattern_filter.resource_type, name, PatternType.PREFIXED)]
    raise ValueError(f"Cannot determine matching resources for patternType {pattern_filter}")


def plan_deletions(cached: Iterable[ResourcePattern], filters: Sequence[AclBindingFilter]
                   ) -> dict[ResourcePattern, list[int]]:
    """Resource patterns to rewrite for DeleteAcls, each with the indexes of the filters that
    select it. Patterns come from the cache plus, for filters naming exactly one resource,
    that resource (so ACLs written by another broker but not yet seen here are deleted too).
    """
    resources = dict.fromkeys(cached)
    for f in filters:
        if f.pattern_filter.matches_at_most_one:
            resources.update(dict.fromkeys(filter_to_resources(f.pattern_filter)))
    out = {}
    for pattern in resources:
        matching = [i for i, f in enumerate(filters) if f.pattern_filter.matches(pattern)]
        if matching:
            out[pattern] = matching
    return out


def entries_to_delete(current: Iterable[AccessControlEntry], filters: Sequence[AclBindingFilter],
                      matching: Sequence[int]) -> dict[AccessControlEntry, int]:
    """Entries of one pattern that the filters ``matching`` (indexes) remove, each with the
    first filter that matched it (the one whose DeleteAcls result reports it)."""
    out = {}
    for entry in current:
        for i in matching:
            if filters[i].entry_filter.matches(entry):
                out[entry] = i
                break
    return out
