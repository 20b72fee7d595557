"""ACL znodes byte for byte (Kafka 2.8's ZkData: ResourceZNode, LiteralAclChangeStore,
ExtendedAclChangeStore) and KafkaZk's ACL reads and compare-and-set writes over an in-memory
ZooKeeper with versions."""

from __future__ import annotations

import pytest
import trio

from kafkalite.security.acl import (AccessControlEntry, AclOperation, AclPermissionType,
                                    PatternType, ResourcePattern, ResourceType)
from kafkalite.security.authorizer import NO_ACLS, VersionedAcls
from kafkalite.zk.kafka_zk import KafkaZk
from kafkalite.zk.znodes import (ACL_RESOURCE_TYPES, AclChangeNotificationZNode, AclZNode,
                                 ExtendedAclChangeNotificationZNode, StoredAcl, acl_paths)
from tests.security.fake_zk import FakeZk

O, P, R, T = AclOperation, AclPermissionType, ResourceType, PatternType
ALICE_READ = AccessControlEntry("User:alice", "*", O.READ, P.ALLOW)
BOB_DENY = AccessControlEntry("User:bob", "host1", O.IDEMPOTENT_WRITE, P.DENY)


def test_acl_znode_paths():
    assert AclZNode.path("Topic", "foo") == "/kafka-acl/Topic/foo"
    assert AclZNode.path("Cluster", "kafka-cluster") == "/kafka-acl/Cluster/kafka-cluster"
    assert AclZNode.path("Group", "g1", "PREFIXED") == "/kafka-acl-extended/prefixed/Group/g1"
    assert AclZNode.type_path("TransactionalId", "LITERAL") == "/kafka-acl/TransactionalId"
    assert ACL_RESOURCE_TYPES == ("Topic", "Group", "Cluster", "TransactionalId",
                                  "DelegationToken")
    assert acl_paths() == [
        "/kafka-acl", "/kafka-acl/Topic", "/kafka-acl/Group", "/kafka-acl/Cluster",
        "/kafka-acl/TransactionalId", "/kafka-acl/DelegationToken",
        "/kafka-acl-extended/prefixed", "/kafka-acl-extended/prefixed/Topic",
        "/kafka-acl-extended/prefixed/Group", "/kafka-acl-extended/prefixed/Cluster",
        "/kafka-acl-extended/prefixed/TransactionalId",
        "/kafka-acl-extended/prefixed/DelegationToken",
        "/kafka-acl-changes", "/kafka-acl-extended-changes"]


def test_acl_znode_json_byte_for_byte():
    data = AclZNode.encode([StoredAcl("User:alice", "Allow", "Read", "*")])
    assert data == (b'{"version":1,"acls":[{"principal":"User:alice","permissionType":"Allow",'
                    b'"operation":"Read","host":"*"}]}')
    assert AclZNode.decode(data) == [StoredAcl("User:alice", "Allow", "Read", "*")]
    # Kafka's own writer (Jackson, spaces from the ZkData doc comment) reads back too
    doc = (b'{"version": 1, "acls": [ { "host":"host1", "permissionType": "Deny",'
           b'"operation": "Read","principal": "User:alice"}]}')
    assert AclZNode.decode(doc) == [StoredAcl("User:alice", "Deny", "Read", "host1")]
    assert AclZNode.decode(b"") == [] and AclZNode.decode(None) == []
    with pytest.raises(ValueError):
        AclZNode.decode(b'{"version":2,"acls":[]}')


def test_change_notifications_byte_for_byte():
    assert AclChangeNotificationZNode.sequence_path() == "/kafka-acl-changes/acl_changes_"
    assert AclChangeNotificationZNode.encode("TOPIC", "foo") == b"TOPIC:foo"
    assert AclChangeNotificationZNode.decode(b"Topic:a:b") == ("Topic", "a:b")
    with pytest.raises(ValueError):
        AclChangeNotificationZNode.decode(b"nocolon")
    assert ExtendedAclChangeNotificationZNode.sequence_path() == \
        "/kafka-acl-extended-changes/acl_changes_"
    data = ExtendedAclChangeNotificationZNode.encode("TOPIC", "foo", "PREFIXED")
    assert data == b'{"version":1,"resourceType":"TOPIC","name":"foo","patternType":"PREFIXED"}'
    assert ExtendedAclChangeNotificationZNode.decode(data) == ("TOPIC", "foo", "PREFIXED")
    with pytest.raises(ValueError):
        ExtendedAclChangeNotificationZNode.decode(b'{"version":2,"resourceType":"TOPIC",'
                                                  b'"name":"f","patternType":"PREFIXED"}')
    assert AclChangeNotificationZNode.sequence_number("acl_changes_0000000042") == 42


def run(fn, *args):
    return trio.run(fn, *args)


def test_kafka_zk_reads_and_writes_acls():
    zk_store = FakeZk()
    zk = KafkaZk(zk_store)
    literal = ResourcePattern(R.TOPIC, "foo")
    prefixed = ResourcePattern(R.GROUP, "g-", T.PREFIXED)

    async def main():
        await zk.create_acl_paths()
        assert all(p in zk_store.nodes for p in acl_paths())
        assert await zk.get_versioned_acls(literal) == NO_ACLS
        assert await zk.create_acls_if_not_exists(literal, {ALICE_READ, BOB_DENY}) == 0
        assert await zk.create_acls_if_not_exists(literal, {ALICE_READ}) is None
        assert zk_store.data("/kafka-acl/Topic/foo") == (
            b'{"version":1,"acls":[{"principal":"User:alice","permissionType":"Allow",'
            b'"operation":"Read","host":"*"},{"principal":"User:bob","permissionType":"Deny",'
            b'"operation":"IdempotentWrite","host":"host1"}]}')
        assert await zk.get_versioned_acls(literal) == \
            VersionedAcls(frozenset({ALICE_READ, BOB_DENY}), 0)
        # compare-and-set on the znode's version
        assert await zk.conditional_set_acls(literal, {ALICE_READ}, 0) == 1
        assert await zk.conditional_set_acls(literal, {BOB_DENY}, 0) is None
        assert await zk.conditional_set_acls(ResourcePattern(R.TOPIC, "nope"), {ALICE_READ},
                                             0) is None
        with pytest.raises(ValueError):
            await zk.conditional_set_acls(literal, {ALICE_READ}, -1)
        assert not await zk.conditional_delete_acls(literal, 0)
        assert await zk.create_acls_if_not_exists(prefixed, {ALICE_READ}) == 0
        assert "/kafka-acl-extended/prefixed/Group/g-" in zk_store.nodes

        # loading everything; unknown resource types and bad znodes do not stop the load
        await zk_store.ensure_path("/kafka-acl/Wizard/x")
        await zk_store.create("/kafka-acl/Group/broken", b'{"version":7}')
        everything = await zk.get_all_acls()
        assert everything[literal] == VersionedAcls(frozenset({ALICE_READ}), 1)
        assert everything[prefixed] == VersionedAcls(frozenset({ALICE_READ}), 0)
        assert isinstance(everything[ResourcePattern(R.GROUP, "broken")], ValueError)
        assert len(everything) == 3

        assert await zk.conditional_delete_acls(literal, 1)
        assert await zk.conditional_delete_acls(literal, 1)      # gone already: fine
        assert "/kafka-acl/Topic/foo" not in zk_store.nodes

        # change notifications: literal as a string, the others as JSON
        await zk.create_acl_change_notification(literal)
        await zk.create_acl_change_notification(prefixed)
        await zk_store.create("/kafka-acl-changes/acl_changes_", b"Topic:legacy", sequence=True)
        await zk_store.create("/kafka-acl-changes/acl_changes_", b"Wizard:x", sequence=True)
        names = await zk.get_acl_change_notifications(literal=True)
        assert names == ["acl_changes_0000000000", "acl_changes_0000000001",
                         "acl_changes_0000000002"]
        assert zk_store.data("/kafka-acl-changes/acl_changes_0000000000") == b"TOPIC:foo"
        assert zk_store.data("/kafka-acl-extended-changes/acl_changes_0000000000") == \
            b'{"version":1,"resourceType":"GROUP","name":"g-","patternType":"PREFIXED"}'
        changes = await zk.get_acl_changes(names + ["acl_changes_0000000099"], literal=True)
        assert [c[1] for c in changes[:2]] == [literal, ResourcePattern(R.TOPIC, "legacy")]
        assert isinstance(changes[2][1], ValueError) and changes[3][1] is None
        (_, pattern, ctime), = await zk.get_acl_changes(
            await zk.get_acl_change_notifications(literal=False), literal=False)
        assert pattern == prefixed and ctime == zk_store.now_ms
        await zk.delete_acl_change_notifications(names + ["acl_changes_0000000099"],
                                                 literal=True)
        assert await zk.get_acl_change_notifications(literal=True) == []

    run(main)
