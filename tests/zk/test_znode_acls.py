"""Kafka's per-path ZooKeeper ACLs under zookeeper.set.acl=true (ZkData.defaultAcls)."""

from __future__ import annotations

import pytest

from kafkalite.zk.ops import CREATOR_ALL, CREATOR_ALL_WORLD_READ, OPEN
from kafkalite.zk.session import _ancestors, _from_kazoo, _to_kazoo
from kafkalite.zk.znodes import znode_acl


@pytest.mark.parametrize("path,acl", [
    ("/brokers/topics/t", CREATOR_ALL_WORLD_READ),
    ("/brokers/ids/1", CREATOR_ALL_WORLD_READ),
    ("/controller", CREATOR_ALL_WORLD_READ),
    ("/kafka-acl/Topic/t", CREATOR_ALL_WORLD_READ),
    ("/config/topics/t", CREATOR_ALL_WORLD_READ),
    ("/config/users", CREATOR_ALL),
    ("/config/users/alice", CREATOR_ALL),
    ("/config/brokers/1", CREATOR_ALL),
    ("/delegation_token/tokens", CREATOR_ALL),
    ("/consumers", OPEN),
    ("/consumers/g/offsets/t/0", CREATOR_ALL_WORLD_READ),
])
def test_paths_get_kafkas_acls(path, acl) -> None:
    assert znode_acl(path) == acl


def test_acls_round_trip_through_kazoo() -> None:
    for acl in (OPEN, CREATOR_ALL, CREATOR_ALL_WORLD_READ):
        assert _from_kazoo(_to_kazoo(acl)) == acl
    assert [a.perms for a in _to_kazoo(CREATOR_ALL_WORLD_READ)] == [31, 1]


def test_ancestors_are_the_parents_to_make() -> None:
    assert _ancestors("/a/b/c") == ["/a", "/a/b"]
    assert _ancestors("/a") == []
