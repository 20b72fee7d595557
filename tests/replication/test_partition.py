"""High-watermark rule of the pure Partition: HW = min LEO over the ISR, never backwards."""

import attrs

from kafkalite.model import TopicPartition
from kafkalite.replication.partition import Partition, Role


@attrs.define
class FakeLog:
    log_end_offset: int = 0
    log_start_offset: int = 0


def leader(isr=(0, 1, 2), leo=10) -> Partition:
    p = Partition(tp=TopicPartition("t", 0), log=FakeLog(leo), local_broker_id=0)
    p.make_leader(leader_epoch=1, isr=isr, replicas=(0, 1, 2), partition_epoch=0,
                  controller_epoch=1, now_ms=0)
    return p


def test_single_replica_hw_follows_log_end():
    p = leader(isr=(0,))
    assert p.high_watermark == 10
    p.log.log_end_offset = 15
    assert p.on_local_append() and p.high_watermark == 15


def test_hw_waits_for_every_isr_member():
    p = leader()
    assert p.high_watermark == 0
    assert not p.update_follower(1, 10, now_ms=1)
    assert p.update_follower(2, 7, now_ms=1) and p.high_watermark == 7
    p.update_follower(2, 10, now_ms=2)
    assert p.high_watermark == 10


def test_hw_never_moves_backwards_and_follower_role_clears_tracking():
    p = leader(isr=(0, 1))
    p.update_follower(1, 10, now_ms=1)
    assert p.high_watermark == 10
    p.update_follower(1, 5, now_ms=2)
    assert p.high_watermark == 10
    assert p.make_follower(leader_id=1, leader_epoch=2, isr=(0, 1), replicas=(0, 1),
                           partition_epoch=1, controller_epoch=1)
    assert p.role is Role.FOLLOWER and p.followers == {}
