"""ACLs as Kafka models them: resource patterns, access control entries, bindings, filters.

The vocabulary is Kafka's ``org.apache.kafka.common.acl`` / ``common.resource`` (2.8), with the
same wire codes, names and matching rules, because clients send these codes (CreateAcls,
DescribeAcls, DeleteAcls) and ``kafka-acls.sh`` prints these strings:

* A :class:`ResourcePattern` is ``(resource type, name, pattern type)``. LITERAL names one
  resource, or every resource of the type when the name is ``*``; PREFIXED (KIP-290, 2.0) names
  every resource whose name starts with it. ``kafka-cluster`` is the only CLUSTER name.
* An :class:`AccessControlEntry` is ``(principal, host, operation, permission type)``;
  principals are ``Type:name`` strings (``User:alice``, ``User:*`` for everyone), ``*`` is
  every host.
* Filters (:class:`ResourcePatternFilter`, :class:`AccessControlEntryFilter`,
  :class:`AclBindingFilter`) add ANY values and null (= any) names; a pattern filter with
  pattern type MATCH selects every pattern that *applies to* the named resource (literal
  equal, the ``*`` literal, prefixed prefixes), ANY selects every pattern with exactly that
  name, a specific pattern type selects that pattern only.

Names in ZooKeeper and on the command line are Pascal case (``Topic``, ``IdempotentWrite``,
``Allow``): :func:`parse_pascal` reads them the way Kafka's ``SecurityUtils`` does (the Pascal
name, or its upper-case form without underscores). ``str()`` of the model classes is Java's
``toString`` (``ResourcePattern(resourceType=TOPIC, name=t, patternType=LITERAL)``), which
kafka-acls.sh prints.

Pure (L3): no I/O. Decisions over a set of ACLs live in ``authorizer.py``.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable
from typing import TypeVar

import attrs

from kafkalite import errors

__all__ = [
    "ResourceType", "PatternType", "AclOperation", "AclPermissionType",
    "CLUSTER_NAME", "WILDCARD_RESOURCE", "WILDCARD_PRINCIPAL", "WILDCARD_HOST",
    "ResourcePattern", "AccessControlEntry", "AclBinding", "ResourcePatternFilter",
    "AccessControlEntryFilter", "AclBindingFilter", "ANY_FILTER",
    "pascal_name", "parse_pascal", "from_enum_name", "parse_principal", "parse_super_users",
    "supported_operations", "implied_by", "authorization_error", "CONCRETE_RESOURCE_TYPES",
    "operations_bitfield", "from_code",
]

CLUSTER_NAME = "kafka-cluster"
WILDCARD_RESOURCE = "*"
WILDCARD_PRINCIPAL = "User:*"
WILDCARD_HOST = "*"


class ResourceType(enum.IntEnum):
    """Kafka's ``ResourceType`` codes."""

    UNKNOWN = 0
    ANY = 1
    TOPIC = 2
    GROUP = 3
    CLUSTER = 4
    TRANSACTIONAL_ID = 5
    DELEGATION_TOKEN = 6


class PatternType(enum.IntEnum):
    """Kafka's ``PatternType`` codes; ANY and MATCH exist only in filters."""

    UNKNOWN = 0
    ANY = 1
    MATCH = 2
    LITERAL = 3
    PREFIXED = 4

    @property
    def is_specific(self) -> bool:
        return self not in (PatternType.UNKNOWN, PatternType.ANY, PatternType.MATCH)


class AclOperation(enum.IntEnum):
    """Kafka's ``AclOperation`` codes; ANY exists only in filters."""

    UNKNOWN = 0
    ANY = 1
    ALL = 2
    READ = 3
    WRITE = 4
    CREATE = 5
    DELETE = 6
    ALTER = 7
    DESCRIBE = 8
    CLUSTER_ACTION = 9
    DESCRIBE_CONFIGS = 10
    ALTER_CONFIGS = 11
    IDEMPOTENT_WRITE = 12


class AclPermissionType(enum.IntEnum):
    """Kafka's ``AclPermissionType`` codes; ANY exists only in filters."""

    UNKNOWN = 0
    ANY = 1
    DENY = 2
    ALLOW = 3


CONCRETE_RESOURCE_TYPES = (ResourceType.TOPIC, ResourceType.GROUP, ResourceType.CLUSTER,
                           ResourceType.TRANSACTIONAL_ID, ResourceType.DELEGATION_TOKEN)

E = TypeVar("E", bound=enum.IntEnum)


def pascal_name(member: enum.IntEnum) -> str:
    """``TRANSACTIONAL_ID`` -> ``TransactionalId`` (ZooKeeper paths and ACL JSON use these)."""
    return "".join(part.capitalize() for part in member.name.split("_"))


def parse_pascal(enum_cls: type[E], text: str) -> E:
    """Kafka's ``SecurityUtils`` lookup: the Pascal name (``IdempotentWrite``) or its
    upper-case form (``IDEMPOTENTWRITE``, so ``read`` and ``READ`` work); UNKNOWN otherwise."""
    for member in enum_cls:
        name = pascal_name(member)
        if text == name or text.upper() == name.upper():
            return member
    return enum_cls(0)


def from_enum_name(enum_cls: type[E], text: str) -> E:
    """Kafka's ``X.fromString``: the enum constant name, case-insensitive; UNKNOWN otherwise.
    (``PatternType.fromString`` is case-sensitive in Kafka; callers pass upper case.)"""
    try:
        return enum_cls[text.upper()]
    except KeyError:
        return enum_cls(0)


def from_code(enum_cls: type[E], code: int) -> E:
    """The member with wire ``code``; UNKNOWN for a code this broker does not know."""
    try:
        return enum_cls(code)
    except ValueError:
        return enum_cls(0)


def parse_principal(text: str) -> str:
    """``Type:name`` checked the way ``SecurityUtils.parseKafkaPrincipal`` does.

    Raises:
        ValueError: no ``:`` in the string, or an empty string.
    """
    if not text or ":" not in text:
        raise ValueError(f"expected a string in format principalType:principalName but got "
                         f"{text}")
    return text


def parse_super_users(text: str | None) -> frozenset[str]:
    """``super.users``: principals separated by semicolons (``User:admin;User:bob``).

    Raises:
        ValueError: an entry that is not ``Type:name``.
    """
    if not text:
        return frozenset()
    return frozenset(parse_principal(s.strip()) for s in text.split(";"))


def _enum_code(enum_cls):
    def convert(value):
        return value if isinstance(value, enum_cls) else enum_cls(value)
    return convert


# -- concrete patterns, entries and bindings --------------------------------------------------


@attrs.frozen
class ResourcePattern:
    """One ACL'd resource pattern: never ANY or MATCH (those are filter values)."""

    resource_type: ResourceType = attrs.field(converter=_enum_code(ResourceType))
    name: str
    pattern_type: PatternType = attrs.field(converter=_enum_code(PatternType),
                                            default=PatternType.LITERAL)

    def __attrs_post_init__(self) -> None:
        if self.resource_type is ResourceType.ANY:
            raise ValueError("resourceType must not be ANY")
        if self.pattern_type in (PatternType.MATCH, PatternType.ANY):
            raise ValueError(f"patternType must not be {self.pattern_type.name}")

    @property
    def is_unknown(self) -> bool:
        return self.resource_type is ResourceType.UNKNOWN or \
            self.pattern_type is PatternType.UNKNOWN

    def to_filter(self) -> ResourcePatternFilter:
        return ResourcePatternFilter(self.resource_type, self.name, self.pattern_type)

    def __str__(self) -> str:
        return (f"ResourcePattern(resourceType={self.resource_type.name}, name={self.name}, "
                f"patternType={self.pattern_type.name})")


@attrs.frozen
class AccessControlEntry:
    """Who (principal, host) may or may not (permission) do what (operation)."""

    principal: str
    host: str
    operation: AclOperation = attrs.field(converter=_enum_code(AclOperation))
    permission_type: AclPermissionType = attrs.field(converter=_enum_code(AclPermissionType))

    def __attrs_post_init__(self) -> None:
        if self.operation is AclOperation.ANY:
            raise ValueError("operation must not be ANY")
        if self.permission_type is AclPermissionType.ANY:
            raise ValueError("permissionType must not be ANY")

    @property
    def is_unknown(self) -> bool:
        return self.operation is AclOperation.UNKNOWN or \
            self.permission_type is AclPermissionType.UNKNOWN

    def to_filter(self) -> AccessControlEntryFilter:
        return AccessControlEntryFilter(self.principal, self.host, self.operation,
                                        self.permission_type)

    def __str__(self) -> str:
        return (f"(principal={self.principal}, host={self.host}, "
                f"operation={self.operation.name}, permissionType={self.permission_type.name})")


@attrs.frozen
class AclBinding:
    pattern: ResourcePattern
    entry: AccessControlEntry

    @property
    def is_unknown(self) -> bool:
        return self.pattern.is_unknown or self.entry.is_unknown

    def __str__(self) -> str:
        return f"(pattern={self.pattern}, entry={self.entry})"


# -- filters ----------------------------------------------------------------------------------


@attrs.frozen
class ResourcePatternFilter:
    """Selects resource patterns; ``name`` None matches any name."""

    resource_type: ResourceType = attrs.field(converter=_enum_code(ResourceType))
    name: str | None
    pattern_type: PatternType = attrs.field(converter=_enum_code(PatternType))

    @property
    def is_unknown(self) -> bool:
        return self.resource_type is ResourceType.UNKNOWN or \
            self.pattern_type is PatternType.UNKNOWN

    def matches(self, pattern: ResourcePattern) -> bool:
        """Kafka's ``ResourcePatternFilter.matches``."""
        if self.resource_type is not ResourceType.ANY and \
                self.resource_type is not pattern.resource_type:
            return False
        if self.pattern_type not in (PatternType.ANY, PatternType.MATCH) and \
                self.pattern_type is not pattern.pattern_type:
            return False
        if self.name is None:
            return True
        if self.pattern_type in (PatternType.ANY, pattern.pattern_type):
            return self.name == pattern.name
        # MATCH: every pattern that applies to the named resource.
        if pattern.pattern_type is PatternType.LITERAL:
            return self.name == pattern.name or pattern.name == WILDCARD_RESOURCE
        if pattern.pattern_type is PatternType.PREFIXED:
            return self.name.startswith(pattern.name)
        raise ValueError(f"Unsupported PatternType: {pattern.pattern_type.name}")

    def find_indefinite_field(self) -> str | None:
        if self.resource_type is ResourceType.ANY:
            return "Resource type is ANY."
        if self.resource_type is ResourceType.UNKNOWN:
            return "Resource type is UNKNOWN."
        if self.name is None:
            return "Resource name is NULL."
        if self.pattern_type is PatternType.MATCH:
            return "Resource pattern type is MATCH."
        if self.pattern_type is PatternType.UNKNOWN:
            return "Resource pattern type is UNKNOWN."
        return None

    @property
    def matches_at_most_one(self) -> bool:
        return self.find_indefinite_field() is None

    def __str__(self) -> str:
        name = "<any>" if self.name is None else self.name
        return (f"ResourcePattern(resourceType={self.resource_type.name}, name={name}, "
                f"patternType={self.pattern_type.name})")


@attrs.frozen
class AccessControlEntryFilter:
    """Selects entries; ``principal``/``host`` None match any."""

    principal: str | None
    host: str | None
    operation: AclOperation = attrs.field(converter=_enum_code(AclOperation))
    permission_type: AclPermissionType = attrs.field(converter=_enum_code(AclPermissionType))

    @property
    def is_unknown(self) -> bool:
        return self.operation is AclOperation.UNKNOWN or \
            self.permission_type is AclPermissionType.UNKNOWN

    def matches(self, entry: AccessControlEntry) -> bool:
        if self.principal is not None and self.principal != entry.principal:
            return False
        if self.host is not None and self.host != entry.host:
            return False
        if self.operation is not AclOperation.ANY and self.operation is not entry.operation:
            return False
        return self.permission_type is AclPermissionType.ANY or \
            self.permission_type is entry.permission_type

    def find_indefinite_field(self) -> str | None:
        if self.principal is None:
            return "Principal is NULL"
        if self.host is None:
            return "Host is NULL"
        if self.operation is AclOperation.ANY:
            return "Operation is ANY"
        if self.operation is AclOperation.UNKNOWN:
            return "Operation is UNKNOWN"
        if self.permission_type is AclPermissionType.ANY:
            return "Permission type is ANY"
        if self.permission_type is AclPermissionType.UNKNOWN:
            return "Permission type is UNKNOWN"
        return None

    def __str__(self) -> str:
        return (f"(principal={'<any>' if self.principal is None else self.principal}, "
                f"host={'<any>' if self.host is None else self.host}, "
                f"operation={self.operation.name}, permissionType={self.permission_type.name})")


@attrs.frozen
class AclBindingFilter:
    pattern_filter: ResourcePatternFilter
    entry_filter: AccessControlEntryFilter

    @property
    def is_unknown(self) -> bool:
        return self.pattern_filter.is_unknown or self.entry_filter.is_unknown

    def matches(self, binding: AclBinding) -> bool:
        return self.pattern_filter.matches(binding.pattern) and \
            self.entry_filter.matches(binding.entry)

    @property
    def matches_at_most_one(self) -> bool:
        return self.pattern_filter.matches_at_most_one and self.entry_filter.matches_at_most_one

    def __str__(self) -> str:
        return f"(patternFilter={self.pattern_filter}, entryFilter={self.entry_filter})"


ANY_FILTER = AclBindingFilter(
    ResourcePatternFilter(ResourceType.ANY, None, PatternType.ANY),
    AccessControlEntryFilter(None, None, AclOperation.ANY, AclPermissionType.ANY))


# -- operations per resource type ---------------------------------------------------------------

_O = AclOperation
_SUPPORTED = {
    ResourceType.TOPIC: frozenset({_O.READ, _O.WRITE, _O.CREATE, _O.DESCRIBE, _O.DELETE,
                                   _O.ALTER, _O.DESCRIBE_CONFIGS, _O.ALTER_CONFIGS}),
    ResourceType.GROUP: frozenset({_O.READ, _O.DESCRIBE, _O.DELETE}),
    ResourceType.CLUSTER: frozenset({_O.CREATE, _O.CLUSTER_ACTION, _O.DESCRIBE_CONFIGS,
                                     _O.ALTER_CONFIGS, _O.IDEMPOTENT_WRITE, _O.ALTER,
                                     _O.DESCRIBE}),
    ResourceType.TRANSACTIONAL_ID: frozenset({_O.DESCRIBE, _O.WRITE}),
    ResourceType.DELEGATION_TOKEN: frozenset({_O.DESCRIBE}),
}

# An ALLOW for any of these operations also allows the key (Kafka's AclAuthorizer): Read,
# Write, Delete and Alter imply Describe; AlterConfigs implies DescribeConfigs. Deny ACLs do
# not propagate: a Deny on Read does not deny Describe.
_IMPLIED_BY = {
    _O.DESCRIBE: frozenset({_O.DESCRIBE, _O.READ, _O.WRITE, _O.DELETE, _O.ALTER}),
    _O.DESCRIBE_CONFIGS: frozenset({_O.DESCRIBE_CONFIGS, _O.ALTER_CONFIGS}),
}


def supported_operations(resource_type: ResourceType) -> frozenset[AclOperation]:
    """Operations that mean something on ``resource_type`` (AclEntry.supportedOperations).

    Raises:
        ValueError: not a concrete resource type.
    """
    try:
        return _SUPPORTED[resource_type]
    except KeyError:
        raise ValueError("Not a concrete resource type") from None


def implied_by(operation: AclOperation) -> frozenset[AclOperation]:
    """The operations whose ALLOW grants ``operation`` (itself included)."""
    return _IMPLIED_BY.get(operation) or frozenset({operation})


_AUTHORIZATION_ERRORS: dict[ResourceType, type[errors.KafkaError]] = {
    ResourceType.TOPIC: errors.TopicAuthorizationFailed,
    ResourceType.GROUP: errors.GroupAuthorizationFailed,
    ResourceType.CLUSTER: errors.ClusterAuthorizationFailed,
    ResourceType.TRANSACTIONAL_ID: errors.TransactionalIdAuthorizationFailed,
    ResourceType.DELEGATION_TOKEN: errors.DelegationTokenAuthorizationFailed,
}


def authorization_error(resource_type: ResourceType) -> type[errors.KafkaError]:
    """The error a denied request on ``resource_type`` answers (29, 30, 31, 53, 65)."""
    return _AUTHORIZATION_ERRORS[resource_type]


def operations_bitfield(operations: Iterable[AclOperation]) -> int:
    """Kafka's ``Utils.to32BitField``: bit ``code`` set for each operation (KIP-430)."""
    out = 0
    for op in operations:
        out |= 1 << int(op)
    return out
