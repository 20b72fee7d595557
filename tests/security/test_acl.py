"""The ACL model and the authorizer's decisions: every rule of Kafka 2.8's AclAuthorizer.

Rules are pinned one by one with Kafka's cases, then hypothesis checks the indexed decision
against a direct reading of the rules over random ACL sets (names from a tiny alphabet so
literal, wildcard and prefix matches collide often).
"""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kafkalite import errors
from kafkalite.security.acl import (
    ANY_FILTER, AccessControlEntry, AccessControlEntryFilter, AclBinding, AclBindingFilter,
    AclOperation, AclPermissionType, PatternType, ResourcePattern, ResourcePatternFilter,
    ResourceType, authorization_error, from_code, from_enum_name, implied_by,
    operations_bitfield, parse_pascal, parse_principal, parse_super_users, pascal_name,
    supported_operations)
from kafkalite.security.authorizer import (
    Authorizer, VersionedAcls, check_binding, entries_to_delete, filter_to_resources,
    plan_deletions)

O, P, R, T = AclOperation, AclPermissionType, ResourceType, PatternType
ALLOW, DENY = P.ALLOW, P.DENY
HOST = "10.0.0.1"


def ace(principal="User:alice", op=O.READ, perm=ALLOW, host="*") -> AccessControlEntry:
    return AccessControlEntry(principal, host, op, perm)


def topic(name, pattern=T.LITERAL) -> ResourcePattern:
    return ResourcePattern(R.TOPIC, name, pattern)


def authorizer(acls: dict, **kw) -> Authorizer:
    a = Authorizer(**kw)
    for pattern, entries in acls.items():
        a.update_cache(pattern, VersionedAcls(frozenset(entries), 0))
    return a


def allowed(a: Authorizer, op=O.READ, name="foo", principal="User:alice", host=HOST,
            rtype=R.TOPIC) -> bool:
    return a.authorize(principal, host, op, rtype, name)


# -- names, codes, strings -----------------------------------------------------------------------

def test_codes_are_kafkas():
    assert [int(x) for x in R] == [0, 1, 2, 3, 4, 5, 6]
    assert (T.ANY, T.MATCH, T.LITERAL, T.PREFIXED) == (1, 2, 3, 4)
    assert (O.ALL, O.READ, O.WRITE, O.CREATE, O.DELETE, O.ALTER, O.DESCRIBE) == \
        (2, 3, 4, 5, 6, 7, 8)
    assert (O.CLUSTER_ACTION, O.DESCRIBE_CONFIGS, O.ALTER_CONFIGS, O.IDEMPOTENT_WRITE) == \
        (9, 10, 11, 12)
    assert (P.ANY, P.DENY, P.ALLOW) == (1, 2, 3)
    assert from_code(R, 99) is R.UNKNOWN and from_code(O, 12) is O.IDEMPOTENT_WRITE


def test_pascal_names_as_securityutils():
    assert pascal_name(R.TRANSACTIONAL_ID) == "TransactionalId"
    assert pascal_name(O.IDEMPOTENT_WRITE) == "IdempotentWrite"
    assert pascal_name(P.ALLOW) == "Allow"
    for text in ("IdempotentWrite", "IDEMPOTENTWRITE", "idempotentwrite"):
        assert parse_pascal(O, text) is O.IDEMPOTENT_WRITE
    assert parse_pascal(O, "IDEMPOTENT_WRITE") is O.UNKNOWN   # as Kafka's SecurityUtils
    assert parse_pascal(O, "read") is O.READ and parse_pascal(P, "Deny") is P.DENY
    assert parse_pascal(R, "Topic") is R.TOPIC and parse_pascal(R, "nope") is R.UNKNOWN
    assert from_enum_name(R, "Topic") is R.TOPIC and from_enum_name(R, "TOPIC") is R.TOPIC
    assert from_enum_name(R, "TRANSACTIONAL_ID") is R.TRANSACTIONAL_ID
    assert from_enum_name(P, "maybe") is P.UNKNOWN


def test_principals_and_super_users():
    assert parse_principal("User:alice") == "User:alice"
    assert parse_principal("User:CN=a,O=b:c") == "User:CN=a,O=b:c"
    for bad in ("alice", ""):
        with pytest.raises(ValueError, match="principalType:principalName"):
            parse_principal(bad)
    assert parse_super_users("User:admin; User:bob") == {"User:admin", "User:bob"}
    assert parse_super_users("") == frozenset() and parse_super_users(None) == frozenset()
    with pytest.raises(ValueError):
        parse_super_users("User:admin;bob")


def test_strings_are_javas_tostring():
    assert str(topic("t")) == "ResourcePattern(resourceType=TOPIC, name=t, patternType=LITERAL)"
    assert str(ace()) == "(principal=User:alice, host=*, operation=READ, permissionType=ALLOW)"
    f = ResourcePatternFilter(R.ANY, None, T.MATCH)
    assert str(f) == "ResourcePattern(resourceType=ANY, name=<any>, patternType=MATCH)"
    assert str(AccessControlEntryFilter(None, None, O.ANY, P.ANY)) == \
        "(principal=<any>, host=<any>, operation=ANY, permissionType=ANY)"
    assert str(AclBinding(topic("t"), ace())) == f"(pattern={topic('t')}, entry={ace()})"


def test_concrete_values_refuse_filter_values():
    with pytest.raises(ValueError):
        ResourcePattern(R.ANY, "t", T.LITERAL)
    for pattern_type in (T.ANY, T.MATCH):
        with pytest.raises(ValueError):
            ResourcePattern(R.TOPIC, "t", pattern_type)
    with pytest.raises(ValueError):
        AccessControlEntry("User:a", "*", O.ANY, ALLOW)
    with pytest.raises(ValueError):
        AccessControlEntry("User:a", "*", O.READ, P.ANY)
    assert AclBinding(ResourcePattern(R.UNKNOWN, "x", T.LITERAL), ace()).is_unknown
    assert AclBinding(topic("x"), ace(op=O.UNKNOWN)).is_unknown


# -- filters ---------------------------------------------------------------------------------------

@pytest.mark.parametrize("filter_args,pattern,expected", [
    ((R.TOPIC, "foo", T.LITERAL), topic("foo"), True),
    ((R.TOPIC, "foo", T.LITERAL), topic("foo", T.PREFIXED), False),
    ((R.TOPIC, "foo", T.LITERAL), topic("*"), False),          # "*" only with MATCH
    ((R.GROUP, "foo", T.LITERAL), topic("foo"), False),
    ((R.ANY, "foo", T.LITERAL), topic("foo"), True),
    ((R.TOPIC, None, T.LITERAL), topic("x"), True),
    ((R.TOPIC, "foo", T.ANY), topic("foo"), True),
    ((R.TOPIC, "foo", T.ANY), topic("foo", T.PREFIXED), True),
    ((R.TOPIC, "foo", T.ANY), topic("fo", T.PREFIXED), False),  # ANY: exact name only
    ((R.TOPIC, "foo", T.MATCH), topic("foo"), True),
    ((R.TOPIC, "foo", T.MATCH), topic("*"), True),
    ((R.TOPIC, "foo", T.MATCH), topic("fo", T.PREFIXED), True),
    ((R.TOPIC, "foo", T.MATCH), topic("foo", T.PREFIXED), True),
    ((R.TOPIC, "foo", T.MATCH), topic("foob", T.PREFIXED), False),
    ((R.TOPIC, "foo", T.MATCH), topic("bar"), False),
    ((R.TOPIC, "foo", T.PREFIXED), topic("fo", T.PREFIXED), False),
    ((R.TOPIC, None, T.ANY), topic("x", T.PREFIXED), True),
])
def test_resource_pattern_filter_matches(filter_args, pattern, expected):
    assert ResourcePatternFilter(*filter_args).matches(pattern) is expected


def test_entry_filter_and_binding_filter():
    e = ace("User:alice", O.READ, ALLOW, "h1")
    assert AccessControlEntryFilter(None, None, O.ANY, P.ANY).matches(e)
    assert AccessControlEntryFilter("User:alice", "h1", O.READ, ALLOW).matches(e)
    assert not AccessControlEntryFilter("User:bob", None, O.ANY, P.ANY).matches(e)
    assert not AccessControlEntryFilter(None, "*", O.ANY, P.ANY).matches(e)   # no wildcard
    assert not AccessControlEntryFilter(None, None, O.WRITE, P.ANY).matches(e)
    assert not AccessControlEntryFilter(None, None, O.ANY, DENY).matches(e)
    assert ANY_FILTER.matches(AclBinding(topic("t"), e))
    assert ANY_FILTER.is_unknown is False
    assert AclBindingFilter(ResourcePatternFilter(R.UNKNOWN, None, T.ANY),
                            AccessControlEntryFilter(None, None, O.ANY, P.ANY)).is_unknown


def test_matches_at_most_one():
    assert ResourcePatternFilter(R.TOPIC, "t", T.LITERAL).matches_at_most_one
    assert ResourcePatternFilter(R.TOPIC, "t", T.ANY).matches_at_most_one
    for f, why in ((ResourcePatternFilter(R.ANY, "t", T.LITERAL), "Resource type is ANY."),
                   (ResourcePatternFilter(R.TOPIC, None, T.LITERAL), "Resource name is NULL."),
                   (ResourcePatternFilter(R.TOPIC, "t", T.MATCH),
                    "Resource pattern type is MATCH.")):
        assert not f.matches_at_most_one and f.find_indefinite_field() == why
    assert AccessControlEntryFilter(None, "*", O.READ, ALLOW).find_indefinite_field() == \
        "Principal is NULL"
    assert AccessControlEntryFilter("User:a", "*", O.READ, ALLOW).find_indefinite_field() \
        is None


def test_operations_and_errors_per_resource_type():
    assert supported_operations(R.GROUP) == {O.READ, O.DESCRIBE, O.DELETE}
    assert supported_operations(R.TRANSACTIONAL_ID) == {O.DESCRIBE, O.WRITE}
    assert O.IDEMPOTENT_WRITE in supported_operations(R.CLUSTER)
    assert O.CLUSTER_ACTION not in supported_operations(R.TOPIC)
    with pytest.raises(ValueError):
        supported_operations(R.ANY)
    assert implied_by(O.DESCRIBE) == {O.DESCRIBE, O.READ, O.WRITE, O.DELETE, O.ALTER}
    assert implied_by(O.DESCRIBE_CONFIGS) == {O.DESCRIBE_CONFIGS, O.ALTER_CONFIGS}
    assert implied_by(O.READ) == {O.READ}
    assert [authorization_error(t).code for t in (R.TOPIC, R.GROUP, R.CLUSTER,
                                                   R.TRANSACTIONAL_ID, R.DELEGATION_TOKEN)] \
        == [29, 30, 31, 53, 65]
    assert operations_bitfield([O.READ, O.DELETE, O.DESCRIBE]) == 0b101001000


# -- authorize: Kafka's rules ---------------------------------------------------------------------

def test_super_user_needs_no_acl():
    a = authorizer({topic("foo"): [ace("User:bob", O.ALL, DENY)]}, super_users={"User:admin"})
    assert allowed(a, principal="User:admin")           # even against a DENY
    assert not allowed(a, principal="User:bob")


def test_no_acls_for_the_resource():
    assert not allowed(authorizer({}))
    assert allowed(authorizer({}, allow_everyone_if_no_acl_found=True))
    # ACLs exist on the resource, none for alice: denied even with allow.everyone
    a = authorizer({topic("foo"): [ace("User:bob")]}, allow_everyone_if_no_acl_found=True)
    assert not allowed(a)
    assert allowed(a, name="other")      # a resource without ACLs


def test_principal_host_and_operation_must_match():
    a = authorizer({topic("foo"): [ace("User:alice", O.READ, ALLOW, "10.0.0.1")]})
    assert allowed(a)
    assert not allowed(a, host="10.0.0.2")
    assert not allowed(a, principal="User:bob")
    assert not allowed(a, op=O.WRITE)
    a = authorizer({topic("foo"): [ace("User:*", O.ALL)]})
    assert allowed(a, principal="User:anyone", op=O.ALTER, host="1.2.3.4")
    # per resource type: a topic ACL says nothing about a group of the same name
    assert not allowed(a, rtype=R.GROUP)


def test_wildcard_and_prefixed_resources():
    a = authorizer({topic("*"): [ace("User:alice", O.READ)],
                    topic("pay", T.PREFIXED): [ace("User:bob", O.WRITE)]})
    assert allowed(a, name="anything")
    assert allowed(a, name="payments", principal="User:bob", op=O.WRITE)
    assert allowed(a, name="pay", principal="User:bob", op=O.WRITE)
    assert not allowed(a, name="pa", principal="User:bob", op=O.WRITE)
    assert not allowed(a, name="xpay", principal="User:bob", op=O.WRITE)
    # a literal named like a prefix is only that resource
    a = authorizer({topic("pay"): [ace()]})
    assert not allowed(a, name="payments")


def test_deny_beats_allow_from_any_pattern():
    a = authorizer({topic("foo"): [ace(op=O.READ)],
                    topic("f", T.PREFIXED): [ace(op=O.READ, perm=DENY)]})
    assert not allowed(a)
    a = authorizer({topic("foo"): [ace(op=O.ALL)], topic("*"): [ace("User:*", O.WRITE, DENY)]})
    assert allowed(a, op=O.READ) and not allowed(a, op=O.WRITE)
    a = authorizer({topic("foo"): [ace(op=O.READ), ace(op=O.ALL, perm=DENY, host=HOST)]})
    assert not allowed(a) and allowed(a, host="10.9.9.9")


def test_implied_operations():
    for op in (O.READ, O.WRITE, O.DELETE, O.ALTER):
        assert allowed(authorizer({topic("foo"): [ace(op=op)]}), op=O.DESCRIBE), op
    for op in (O.CREATE, O.ALTER_CONFIGS, O.DESCRIBE_CONFIGS):
        assert not allowed(authorizer({topic("foo"): [ace(op=op)]}), op=O.DESCRIBE), op
    assert allowed(authorizer({topic("foo"): [ace(op=O.ALTER_CONFIGS)]}),
                   op=O.DESCRIBE_CONFIGS)
    assert not allowed(authorizer({topic("foo"): [ace(op=O.DESCRIBE)]}), op=O.READ)
    # only ALLOWs imply: a Deny on Read leaves Describe (granted by Write) alone
    a = authorizer({topic("foo"): [ace(op=O.WRITE), ace(op=O.READ, perm=DENY)]})
    assert allowed(a, op=O.DESCRIBE) and not allowed(a, op=O.READ)
    # IdempotentWrite is not implied by Write
    a = authorizer({ResourcePattern(R.CLUSTER, "kafka-cluster"): [ace(op=O.ALL)]})
    assert allowed(a, op=O.IDEMPOTENT_WRITE, rtype=R.CLUSTER, name="kafka-cluster")


def test_cache_updates_and_listing():
    a = authorizer({topic("a"): [ace()], topic("b", T.PREFIXED): [ace(op=O.WRITE)]})
    assert allowed(a, name="a")
    a.update_cache(topic("a"), VersionedAcls(frozenset(), -1))
    assert topic("a") not in a and not allowed(a, name="a")
    assert a.get(topic("a")).zk_version == -1
    a.update_cache(topic("c"), VersionedAcls(frozenset({ace("User:z")}), 3))
    everything = a.acls(ANY_FILTER)
    assert [b.pattern.name for b in everything] == ["c", "b"]   # literal before prefixed
    only_b = a.acls(AclBindingFilter(ResourcePatternFilter(R.TOPIC, "bx", T.MATCH),
                                     AccessControlEntryFilter(None, None, O.ANY, P.ANY)))
    assert [b.pattern for b in only_b] == [topic("b", T.PREFIXED)]
    a.clear()
    assert a.acls(ANY_FILTER) == []


def test_from_config():
    a = Authorizer.from_config({"super.users": "User:a;User:b",
                                "allow.everyone.if.no.acl.found": "true"})
    assert a.super_users == {"User:a", "User:b"} and a.allow_everyone_if_no_acl_found
    assert not Authorizer.from_config({}).allow_everyone_if_no_acl_found


# -- authorize_by_resource_type (KIP-679) ----------------------------------------------------------

def by_type(acls: dict, op=O.WRITE, **kw) -> bool:
    return authorizer(acls, **kw).authorize_by_resource_type("User:alice", HOST, op, R.TOPIC)


def test_authorize_by_resource_type():
    assert not by_type({})
    assert by_type({}, allow_everyone_if_no_acl_found=True)
    assert by_type({}, super_users={"User:alice"})
    assert by_type({topic("x"): [ace(op=O.WRITE)]})
    assert by_type({topic("x", T.PREFIXED): [ace(op=O.ALL)]})
    assert not by_type({topic("x"): [ace(op=O.READ)]})            # no implied operations
    assert not by_type({topic("x"): [ace("User:bob", O.WRITE)]})
    assert not by_type({topic("x"): [ace(op=O.WRITE)], topic("*"): [ace(op=O.WRITE, perm=DENY)]},
                       allow_everyone_if_no_acl_found=True)        # deny-all wins over all
    assert not by_type({topic("x"): [ace(op=O.WRITE, perm=DENY), ace(op=O.WRITE)]})
    assert not by_type({topic("xy"): [ace(op=O.WRITE)],
                        topic("x", T.PREFIXED): [ace(op=O.WRITE, perm=DENY)]})
    assert not by_type({topic("xy", T.PREFIXED): [ace(op=O.WRITE)],
                        topic("x", T.PREFIXED): [ace(op=O.WRITE, perm=DENY)]})
    assert by_type({topic("x", T.PREFIXED): [ace(op=O.WRITE)],
                    topic("xy", T.PREFIXED): [ace(op=O.WRITE, perm=DENY)]})
    assert by_type({topic("*"): [ace(op=O.WRITE)], topic("z"): [ace(op=O.WRITE, perm=DENY)]})
    assert by_type({topic("a"): [ace(op=O.WRITE)], topic("b"): [ace(op=O.WRITE, perm=DENY)]})


# -- changes ---------------------------------------------------------------------------------------

def test_check_binding():
    cluster = ResourcePattern(R.CLUSTER, "kafka-cluster")
    assert check_binding(AclBinding(cluster, ace(op=O.ALTER))) is None
    e = check_binding(AclBinding(ResourcePattern(R.CLUSTER, "other"), ace()))
    assert isinstance(e, errors.InvalidRequest) and "kafka-cluster" in str(e)
    assert "empty resource name" in str(check_binding(AclBinding(topic(""), ace())))
    assert isinstance(check_binding(AclBinding(topic("t"), ace(op=O.UNKNOWN))),
                      errors.InvalidRequest)
    assert "principalType:principalName" in str(check_binding(AclBinding(topic("t"),
                                                                         ace("alice"))))


def test_plan_and_entries_to_delete():
    cached = [topic("a"), topic("a", T.PREFIXED), topic("b")]
    any_entry = AccessControlEntryFilter(None, None, O.ANY, P.ANY)
    literal_a = AclBindingFilter(ResourcePatternFilter(R.TOPIC, "a", T.LITERAL), any_entry)
    any_a = AclBindingFilter(ResourcePatternFilter(R.TOPIC, "a", T.ANY),
                             AccessControlEntryFilter("User:bob", None, O.ANY, P.ANY))
    unseen = AclBindingFilter(ResourcePatternFilter(R.GROUP, "g", T.LITERAL), any_entry)
    match = AclBindingFilter(ResourcePatternFilter(R.TOPIC, "ab", T.MATCH), any_entry)
    plan = plan_deletions(cached, [literal_a, any_a, unseen, match])
    assert plan == {topic("a"): [0, 1], topic("a", T.PREFIXED): [1, 3],
                    ResourcePattern(R.GROUP, "g"): [2]}
    current = {ace("User:bob"), ace("User:alice")}
    assert entries_to_delete(current, [literal_a, any_a], [0, 1]) == \
        {ace("User:bob"): 0, ace("User:alice"): 0}          # the first matching filter
    assert entries_to_delete(current, [literal_a, any_a], [1]) == {ace("User:bob"): 1}
    assert filter_to_resources(ResourcePatternFilter(R.TOPIC, "a", T.ANY)) == \
        [topic("a"), topic("a", T.PREFIXED)]
    with pytest.raises(ValueError):
        filter_to_resources(ResourcePatternFilter(R.TOPIC, "a", T.MATCH))


# -- properties ------------------------------------------------------------------------------------

NAMES = st.sampled_from(["a", "ab", "abc", "b", "*", "ba"])
PRINCIPALS = st.sampled_from(["User:alice", "User:bob", "User:*"])
HOSTS = st.sampled_from(["*", HOST, "10.0.0.2"])
OPS = st.sampled_from([O.ALL, O.READ, O.WRITE, O.DESCRIBE, O.ALTER_CONFIGS,
                       O.DESCRIBE_CONFIGS, O.DELETE])
ENTRIES = st.builds(AccessControlEntry, PRINCIPALS, HOSTS, OPS, st.sampled_from([ALLOW, DENY]))
PATTERNS = st.builds(ResourcePattern, st.sampled_from([R.TOPIC, R.GROUP]), NAMES,
                     st.sampled_from([T.LITERAL, T.PREFIXED]))
CACHES = st.dictionaries(PATTERNS, st.frozensets(ENTRIES, min_size=1, max_size=4), max_size=6)


def reference(cache, principal, host, op, rtype, name, allow_everyone) -> bool:
    """Kafka's rules read literally."""
    applying = [e for p, entries in cache.items() if p.resource_type is rtype and (
        (p.pattern_type is T.LITERAL and p.name in (name, "*")) or
        (p.pattern_type is T.PREFIXED and name.startswith(p.name))) for e in entries]
    if not applying:
        return allow_everyone

    def matches(e, perm, ops):
        return e.permission_type is perm and e.principal in (principal, "User:*") and \
            e.host in (host, "*") and (e.operation in ops or e.operation is O.ALL)

    if any(matches(e, DENY, {op}) for e in applying):
        return False
    return any(matches(e, ALLOW, implied_by(op)) for e in applying)


@settings(max_examples=300, deadline=None)
@given(CACHES, st.sampled_from(["User:alice", "User:bob"]), st.sampled_from([HOST, "10.0.0.2"]),
       OPS.filter(lambda o: o is not O.ALL), st.sampled_from([R.TOPIC, R.GROUP]),
       st.sampled_from(["a", "ab", "abc", "abcd", "b", "ba", "c"]), st.booleans())
def test_authorize_is_kafkas_rule(cache, principal, host, op, rtype, name, allow_everyone):
    a = authorizer(cache, allow_everyone_if_no_acl_found=allow_everyone)
    assert a.authorize(principal, host, op, rtype, name) == \
        reference(cache, principal, host, op, rtype, name, allow_everyone)


@settings(max_examples=200, deadline=None)
@given(CACHES, st.sampled_from(["a", "ab", "abc", "b"]), OPS.filter(lambda o: o is not O.ALL))
def test_a_matching_deny_always_wins(cache, name, op):
    deny = AccessControlEntry("User:alice", "*", op, DENY)
    cache = {**cache, topic(name[:1], T.PREFIXED): cache.get(topic(name[:1], T.PREFIXED),
                                                             frozenset()) | {deny}}
    a = authorizer(cache, allow_everyone_if_no_acl_found=True)
    assert not a.authorize("User:alice", HOST, op, R.TOPIC, name)
    a.super_users = frozenset({"User:alice"})
    assert a.authorize("User:alice", HOST, op, R.TOPIC, name)


@settings(max_examples=200, deadline=None)
@given(CACHES, st.builds(ResourcePatternFilter, st.sampled_from([R.ANY, R.TOPIC, R.GROUP]),
                         st.one_of(st.none(), NAMES),
                         st.sampled_from([T.ANY, T.MATCH, T.LITERAL, T.PREFIXED])),
       st.builds(AccessControlEntryFilter, st.one_of(st.none(), PRINCIPALS),
                 st.one_of(st.none(), HOSTS), st.sampled_from([O.ANY, O.READ, O.ALL]),
                 st.sampled_from([P.ANY, ALLOW, DENY])))
def test_acls_lists_exactly_what_the_filter_matches(cache, pattern_filter, entry_filter):
    binding_filter = AclBindingFilter(pattern_filter, entry_filter)
    got = authorizer(cache).acls(binding_filter)
    expected = {AclBinding(p, e) for p, entries in cache.items() for e in entries
                if binding_filter.matches(AclBinding(p, e))}
    assert set(got) == expected and len(got) == len(expected)
