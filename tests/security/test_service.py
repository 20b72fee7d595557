"""The authorizer service over an in-memory ZooKeeper: configuration, compare-and-set writes
with retries, change notifications written by other brokers and tools, purging, and the
running service following changes."""

from __future__ import annotations

import pytest
import trio
import trio.testing

from kafkalite import errors
from kafkalite.config import parse_server_config
from kafkalite.errors import ConfigError
from kafkalite.security.acl import (
    ANY_FILTER, AccessControlEntry, AccessControlEntryFilter, AclBinding, AclBindingFilter,
    AclOperation, AclPermissionType, PatternType, ResourcePattern, ResourcePatternFilter,
    ResourceType)
from kafkalite.security.authorizer import Authorizer
from kafkalite.security.service import (CHANGE_EXPIRATION_MS, AclAuthorizerService,
                                        authorizer_from_config)
from kafkalite.zk.kafka_zk import KafkaZk
from tests.security.fake_zk import FakeZk

O, P, R, T = AclOperation, AclPermissionType, ResourceType, PatternType
FOO = ResourcePattern(R.TOPIC, "foo")
PRE = ResourcePattern(R.TOPIC, "pre-", T.PREFIXED)


def ace(principal="User:alice", op=O.READ, perm=P.ALLOW) -> AccessControlEntry:
    return AccessControlEntry(principal, "*", op, perm)


def any_entry() -> AccessControlEntryFilter:
    return AccessControlEntryFilter(None, None, O.ANY, P.ANY)


def run(fn):
    return trio.run(fn, clock=trio.testing.MockClock(autojump_threshold=0))


def service(store: FakeZk, **kw) -> AclAuthorizerService:
    svc = AclAuthorizerService(Authorizer(**kw), wall_clock_ms=lambda: store.now_ms)
    svc.zk = KafkaZk(store)
    return svc


def config(**props):
    return parse_server_config({"zookeeper.connect": "x:1", "log.dirs": "/tmp/x", **props})


def test_authorizer_from_config():
    assert authorizer_from_config(config()) is None
    for name in ("kafka.security.authorizer.AclAuthorizer",
                 "kafka.security.auth.SimpleAclAuthorizer"):
        svc = authorizer_from_config(config(**{"authorizer.class.name": name,
                                               "super.users": "User:admin;User:ops",
                                               "allow.everyone.if.no.acl.found": "true"}))
        assert svc.authorizer.super_users == {"User:admin", "User:ops"}
        assert svc.authorizer.allow_everyone_if_no_acl_found
    with pytest.raises(ConfigError, match="com.example.MyAuthorizer is not supported"):
        authorizer_from_config(config(**{"authorizer.class.name": "com.example.MyAuthorizer"}))
    with pytest.raises(ConfigError, match="super.users"):
        authorizer_from_config(config(**{
            "authorizer.class.name": "kafka.security.authorizer.AclAuthorizer",
            "super.users": "admin"}))


def test_create_writes_znode_cache_and_one_notification_per_change():
    store = FakeZk()
    svc = service(store)

    async def main():
        results = await svc.create_acls([
            AclBinding(FOO, ace()), AclBinding(FOO, ace(op=O.WRITE)),
            AclBinding(ResourcePattern(R.CLUSTER, "other"), ace(op=O.ALTER)),
            AclBinding(PRE, ace("User:bob", O.ALL))])
        assert results[0] is None and results[1] is None and results[3] is None
        assert isinstance(results[2], errors.InvalidRequest)
        assert svc.authorize("User:alice", "h", O.WRITE, R.TOPIC, "foo")
        assert svc.authorize("User:bob", "h", O.CREATE, R.TOPIC, "pre-x")
        assert store.children("/kafka-acl-changes") == ["acl_changes_0000000000"]
        assert store.children("/kafka-acl-extended-changes") == ["acl_changes_0000000000"]
        assert store.nodes["/kafka-acl/Topic/foo"][2] == 0
        # adding what is there already succeeds and notifies nobody (Kafka still rewrites
        # the znode: its version moves)
        assert await svc.create_acls([AclBinding(FOO, ace())]) == [None]
        assert len(store.children("/kafka-acl-changes")) == 1
        await svc.create_acls([AclBinding(FOO, ace("User:carol"))])
        assert store.nodes["/kafka-acl/Topic/foo"][2] == 2
        assert len(store.children("/kafka-acl-changes")) == 2

    run(main)


def test_compare_and_set_retries_after_a_concurrent_writer():
    store = FakeZk()
    svc = service(store)
    other = service(store)    # another broker or kafka-acls.sh

    async def main():
        await svc.create_acls([AclBinding(FOO, ace())])

        def sneak_in():
            store.nodes["/kafka-acl/Topic/foo"][0] = \
                b'{"version":1,"acls":[{"principal":"User:zed","permissionType":"Allow",' \
                b'"operation":"Read","host":"*"}]}'
            store.nodes["/kafka-acl/Topic/foo"][2] += 1

        store.before_write = sneak_in
        assert await svc.create_acls([AclBinding(FOO, ace("User:bob"))]) == [None]
        stored = (await other.zk.get_versioned_acls(FOO)).acls
        assert stored == {ace("User:zed"), ace("User:bob")}    # re-read, then applied
        assert svc.authorizer.get(FOO).acls == stored

        def always_conflict():
            store.nodes["/kafka-acl/Topic/foo"][2] += 1
            store.before_write = always_conflict

        store.before_write = always_conflict
        result, = await svc.create_acls([AclBinding(FOO, ace("User:x"))])
        assert isinstance(result, errors.UnknownServerError)
        assert "after trying a maximum of 10 times" in str(result)
        store.before_write = None

    run(main)


def test_delete_by_filters():
    store = FakeZk()
    svc = service(store)
    other = service(store)

    async def main():
        await svc.create_acls([AclBinding(FOO, ace()), AclBinding(FOO, ace("User:bob")),
                               AclBinding(PRE, ace("User:bob"))])
        # written by another broker: not in svc's cache, still deleted by an exact filter
        await other.create_acls([AclBinding(ResourcePattern(R.GROUP, "g"), ace())])
        bob = AccessControlEntryFilter("User:bob", None, O.ANY, P.ANY)
        results = await svc.delete_acls([
            AclBindingFilter(ResourcePatternFilter(R.TOPIC, "foo", T.ANY), bob),
            AclBindingFilter(ResourcePatternFilter(R.ANY, None, T.ANY), bob),
            AclBindingFilter(ResourcePatternFilter(R.GROUP, "g", T.LITERAL), any_entry())])
        assert results[0] == [(AclBinding(FOO, ace("User:bob")), None)]
        assert results[1] == [(AclBinding(PRE, ace("User:bob")), None)]   # first filter wins
        assert results[2] == [(AclBinding(ResourcePattern(R.GROUP, "g"), ace()), None)]
        assert "/kafka-acl-extended/prefixed/Topic/pre-" not in store.nodes
        assert "/kafka-acl/Group/g" not in store.nodes
        assert svc.acls(ANY_FILTER) == [AclBinding(FOO, ace())]
        assert not svc.authorize("User:bob", "h", O.READ, R.TOPIC, "foo")
        assert await svc.delete_acls([AclBindingFilter(
            ResourcePatternFilter(R.TOPIC, "nothing", T.LITERAL), any_entry())]) == [[]]

    run(main)


def test_notifications_from_other_writers_and_purging():
    store = FakeZk()
    svc = service(store)
    tool = service(store)

    async def main():
        await svc.start(svc.zk)
        await tool.start(tool.zk)
        await tool.create_acls([AclBinding(FOO, ace()), AclBinding(PRE, ace(op=O.WRITE))])
        assert not svc.authorize("User:alice", "h", O.READ, R.TOPIC, "foo")
        await svc.process_notifications(store.children("/kafka-acl-changes"), True)
        await svc.process_notifications(store.children("/kafka-acl-extended-changes"), False)
        assert svc.authorize("User:alice", "h", O.READ, R.TOPIC, "foo")
        assert svc.authorize("User:alice", "h", O.WRITE, R.TOPIC, "pre-1")
        assert svc.last_executed_change == {True: 0, False: 0}
        # processed notifications are not re-read; a bad one is skipped
        store.nodes["/kafka-acl/Topic/foo"][0] = b'{"version":1,"acls":[]}'
        await store.create("/kafka-acl-changes/acl_changes_", b"Wizard:x", sequence=True)
        await svc.process_notifications(store.children("/kafka-acl-changes"), True)
        assert svc.authorize("User:alice", "h", O.READ, R.TOPIC, "foo")
        assert svc.last_executed_change[True] == 1
        # 15 minutes later whoever processes next deletes the old notifications
        store.now_ms += CHANGE_EXPIRATION_MS + 1
        await tool.create_acls([AclBinding(FOO, ace("User:bob"))])
        await svc.process_notifications(store.children("/kafka-acl-changes"), True)
        assert store.children("/kafka-acl-changes") == ["acl_changes_0000000002"]
        assert svc.authorize("User:bob", "h", O.READ, R.TOPIC, "foo")

    run(main)


def test_running_service_follows_changes():
    store = FakeZk()
    tool = service(store)

    async def main():
        await tool.start(tool.zk)
        await tool.create_acls([AclBinding(FOO, ace())])
        broker_side = AclAuthorizerService(Authorizer(), wall_clock_ms=lambda: store.now_ms)
        async with trio.open_nursery() as nursery:
            await nursery.start(broker_side.run, KafkaZk(store))
            assert broker_side.authorize("User:alice", "h", O.READ, R.TOPIC, "foo")  # loaded
            await tool.create_acls([AclBinding(PRE, ace("User:bob", O.WRITE))])
            await tool.delete_acls([AclBindingFilter(FOO.to_filter(), any_entry())])
            await trio.testing.wait_all_tasks_blocked()
            assert broker_side.authorize("User:bob", "h", O.WRITE, R.TOPIC, "pre-9")
            assert not broker_side.authorize("User:alice", "h", O.READ, R.TOPIC, "foo")
            nursery.cancel_scope.cancel()

    run(main)


def test_decisions_are_audited_on_kafka_authorizer_logger(caplog):
    from kafkalite.security.authorizer import VersionedAcls

    a = Authorizer()
    a.update_cache(FOO, VersionedAcls(frozenset({ace(op=O.READ)}), 0))
    service = AclAuthorizerService(a)
    with caplog.at_level("DEBUG", logger="kafka.authorizer.logger"):
        assert service.authorize("User:alice", "10.0.0.1", O.READ, R.TOPIC, "foo")
        assert not service.authorize("User:bob", "10.0.0.2", O.WRITE, R.TOPIC, "foo")
    lines = [(r.levelname, r.getMessage()) for r in caplog.records
             if r.name == "kafka.authorizer.logger"]
    assert lines == [
        ("DEBUG", "Principal = User:alice is Allowed Operation = Read from host = 10.0.0.1 on "
                  "resource = Topic:LITERAL:foo"),
        ("INFO", "Principal = User:bob is Denied Operation = Write from host = 10.0.0.2 on "
                 "resource = Topic:LITERAL:foo")]
