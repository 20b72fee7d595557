"""High-watermark rule of the pure Partition: HW = min LEO over the ISR, never backwards."""

import attrs

from kafkalite.model import TopicPartition
from kafkalite.replication.partition import Partition, Role


@attrs.define
class FakeLog:
    log_end_offset: int = 0
    log_start_offset: int = 0
    epochs: list = attrs.field(factory=list)
    high_watermarks: list = attrs.field(factory=list)

    def on_high_watermark_updated(self, hw: int) -> None:
        self.high_watermarks.append(hw)

    def assign_epoch_start_offset(self, epoch: int, offset: int) -> bool:
        self.epochs.append((epoch, offset))
        return True


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
    # the log hears of every move (its transactions become stable below the HW)
    assert p.log.high_watermarks == [7, 10]


def test_hw_never_moves_backwards_and_follower_role_clears_tracking():
    p = leader(isr=(0, 1))
    p.update_follower(1, 10, now_ms=1)
    assert p.high_watermark == 10
    p.update_follower(1, 5, now_ms=2)
    assert p.high_watermark == 10
    assert p.make_follower(leader_id=1, leader_epoch=2, isr=(0, 1), replicas=(0, 1),
                           partition_epoch=1, controller_epoch=1)
    assert p.role is Role.FOLLOWER and p.followers == {}


def test_follower_that_reaches_previous_leader_end_counts_as_caught_up():
    p = leader(isr=(0, 1, 2), leo=10)
    p.update_follower(1, 10, now_ms=100)       # at the end: caught up at 100
    p.log.log_end_offset = 20
    p.update_follower(1, 10, now_ms=200)       # behind, and the leader's previous end was 10
    assert p.followers[1].last_caught_up_ms == 100  # caught up as of the fetch at 100
    p.log.log_end_offset = 30
    p.update_follower(1, 20, now_ms=300)       # reached the end seen at the fetch at 200
    assert p.followers[1].last_caught_up_ms == 200


def test_isr_shrinks_only_lagging_followers_and_never_the_leader():
    p = leader(isr=(0, 1, 2), leo=10)
    p.update_follower(1, 10, now_ms=5000)
    assert p.isr_to_shrink(now_ms=5000, max_lag_ms=4000) == (0, 1)
    assert p.isr_to_shrink(now_ms=3000, max_lag_ms=4000) is None
    p.isr_update_pending = True
    assert p.isr_to_shrink(now_ms=5000, max_lag_ms=4000) is None


def test_isr_expands_once_follower_reaches_hw_and_epoch_start():
    p = leader(isr=(0, 1), leo=10)
    assert p.leader_epoch_start_offset == 10
    p.update_follower(1, 10, now_ms=1)
    assert p.high_watermark == 10
    p.update_follower(2, 8, now_ms=1)
    assert p.isr_to_expand(2) is None
    p.update_follower(2, 10, now_ms=2)
    assert p.isr_to_expand(2) == (0, 1, 2)
    assert p.isr_to_expand(1) is None  # already in


def test_shrink_applied_frees_the_high_watermark():
    p = leader(isr=(0, 1, 2), leo=10)
    p.update_follower(1, 10, now_ms=1)
    assert p.high_watermark == 0  # broker 2 holds it back
    assert p.apply_isr((0, 1), partition_epoch=3)
    assert p.high_watermark == 10 and p.partition_epoch == 3


def test_follower_high_watermark_is_capped_by_its_log_end():
    p = Partition(tp=TopicPartition("t", 0), log=FakeLog(5), local_broker_id=1)
    p.make_follower(leader_id=0, leader_epoch=1, isr=(0, 1), replicas=(0, 1),
                    partition_epoch=0, controller_epoch=1)
    p.update_follower_high_watermark(9)
    assert p.high_watermark == 5
    p.log.log_end_offset = 12
    p.update_follower_high_watermark(9)
    assert p.high_watermark == 9
