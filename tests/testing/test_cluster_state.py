"""Fault tests' ZooKeeper reads: a znode that appears between "get" failing and "exists"
answering (a new controller registering) is read, not reported as an error."""

from __future__ import annotations

import pytest

from kafkalite.testing.cluster_state import controller_id
from kafkalite.zk.znodes import ControllerZNode


class Missing(Exception):
    pass


class ZkWhoseControllerAppears:
    """``get`` finds no /controller the first time; by the ``exists`` after it, a new
    controller has registered."""

    def __init__(self):
        self.data = None

    def get(self, path):
        if self.data is None:
            self.data = ControllerZNode.encode(2, 1)
            raise Missing(path)
        return self.data, object()

    def exists(self, path):
        return None if self.data is None else object()


class ZkWithoutController:
    def get(self, path):
        raise Missing(path)

    def exists(self, path):
        return None


class BrokenZk:
    def get(self, path):
        raise Missing(path)

    def exists(self, path):
        return object()


def test_a_controller_registering_meanwhile_is_read():
    assert controller_id(ZkWhoseControllerAppears()) == 2


def test_no_controller_is_none():
    assert controller_id(ZkWithoutController()) is None


def test_a_node_that_exists_but_cannot_be_read_still_fails():
    with pytest.raises(Missing):
        controller_id(BrokenZk())
