"""The kazoo boundary of zk/session.py without a server: error translation, multi results."""

from __future__ import annotations

import pytest
from kazoo import exceptions as kz
from kazoo.handlers.threading import KazooTimeoutError
from kazoo.protocol.states import ZnodeStat as KazooStat

from kafkalite.zk import errors as e
from kafkalite.zk.ops import CheckOp, CreateOp, DeleteOp, SetDataOp
from kafkalite.zk.session import ZkSession, _translate


@pytest.mark.parametrize("kazoo_exc,ours", [
    (kz.NoNodeError(), e.NoNodeError),
    (kz.NodeExistsError(), e.NodeExistsError),
    (kz.BadVersionError(), e.BadVersionError),
    (kz.NotEmptyError(), e.NotEmptyError),
    (kz.ConnectionLoss(), e.ConnectionLossError),
    (KazooTimeoutError("x"), e.ConnectionLossError),
    (kz.SessionExpiredError(), e.SessionExpiredError),
    (kz.ConnectionClosedError("closed"), e.SessionExpiredError),
    (kz.NoAuthError(), e.NoAuthError),
    (kz.MarshallingError(), e.ZkError),
])
def test_kazoo_errors_are_translated(kazoo_exc: Exception, ours: type) -> None:
    got = _translate(kazoo_exc, "/p", op_index=2)
    assert type(got) is ours and (got.path, got.op_index) == ("/p", 2)
    assert not isinstance(got, kz.KazooException)


STAT = KazooStat(1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11)
OPS = [CreateOp("/a"), SetDataOp("/b", b"", 0), DeleteOp("/c"), CheckOp("/d", 1)]


def test_multi_results_are_ours() -> None:
    out = ZkSession._multi_results(OPS, ["/a", STAT, True, True])
    assert out[0] == "/a" and out[1].version == 5 and out[1].ephemeral_owner == 8
    assert out[2:] == [None, None]


def test_multi_raises_the_first_failing_op() -> None:
    results = [kz.RolledBackError(), kz.BadVersionError(), kz.RuntimeInconsistency(),
               kz.RuntimeInconsistency()]
    with pytest.raises(e.BadVersionError) as info:
        ZkSession._multi_results(OPS, results)
    assert (info.value.op_index, info.value.path) == (1, "/b")
