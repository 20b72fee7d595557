"""The ISR shrink rule measures follower lag on a monotonic clock: a wall clock moved by an
hour (NTP step, operator) must not drop caught-up followers (A8 R12, an ISR storm), while a
follower that really stops fetching still leaves the ISR after ``replica.lag.time.max.ms``."""

from __future__ import annotations

import functools
import time

import trio
import trio.testing

from kafkalite.model import TopicPartition
from kafkalite.records.builder import build_batch
from kafkalite.replication import service as service_module
from kafkalite.replication.service import PartitionFetch, ReplicaManager, ReplicationConfig
from kafkalite.storage.config import LogConfig
from kafkalite.storage.manager import LogManager

TP = TopicPartition("t", 0)
CFG = LogConfig(segment_bytes=64 * 1024)


class FakeZk:
    def __init__(self):
        self.isr_writes = []

    async def conditional_update_partition_states(self, updates):
        self.isr_writes.extend(tuple(state.isr) for state, _version in updates.values())
        return {tp: version + 1 for tp, (_state, version) in updates.items()}

    async def post_isr_change_notification(self, tps):
        pass


def leader_with_follower(tmp_path, **kwargs) -> ReplicaManager:
    logs = LogManager([tmp_path], CFG, config_for_topic=lambda _t: CFG)
    rm = ReplicaManager(broker_id=0, log_manager=logs, topic_config=lambda _t: CFG,
                        zk=FakeZk(), config=ReplicationConfig(replica_lag_time_max_ms=10000),
                        **kwargs)
    assert rm.become_leader_or_follower(TP, leader=0, leader_epoch=1, isr=[0, 1],
                                        replicas=[0, 1], partition_epoch=1,
                                        controller_epoch=1) is None
    return rm


async def maintain(rm: ReplicaManager, seconds: float, *, fetching: bool,
                   at_second: dict | None = None) -> None:
    """Run the ISR maintenance for ``seconds`` of mock time (it checks for lagging followers
    every 5 s, at whole seconds). Half a second after each whole second a record is appended
    and the follower fetches, one record behind as under load (so it counts as caught up as
    of its previous fetch, Kafka's rule); ``at_second[n]()`` runs just before fetch n."""
    async with trio.open_nursery() as nursery:
        await nursery.start(rm.run_isr_maintenance)
        await trio.sleep(0.5)
        for second in range(int(seconds)):
            (at_second or {}).get(second, lambda: None)()
            p = rm.get_partition(TP)
            behind = p.log.log_end_offset
            await rm.append_records([(TP, records(b"r%d" % second))], acks=1, timeout_ms=1000)
            if fetching:
                rm.read_all([PartitionFetch(TP, behind, 1000)], replica_id=1, max_bytes=1000)
            await trio.sleep(1)
        nursery.cancel_scope.cancel()


def records(value: bytes) -> memoryview:
    return memoryview(bytearray(build_batch([(None, value, (), 1000)])))


def run(async_fn, *args, **kwargs):
    return trio.run(functools.partial(async_fn, *args, **kwargs),
                    clock=trio.testing.MockClock(autojump_threshold=0))


def test_a_wall_clock_jump_does_not_shrink_the_isr(tmp_path, monkeypatch):
    rm = leader_with_follower(tmp_path)
    real = time.time

    def jump(seconds):
        return lambda: monkeypatch.setattr(service_module.time, "time",
                                           lambda: real() + seconds)
    # an hour ahead, back, an hour behind, back: the follower fetches all along
    run(maintain, rm, 40, fetching=True,
        at_second={9: jump(3600), 19: jump(0), 24: jump(-3600), 29: jump(0)})
    assert rm.zk.isr_writes == [] and rm.get_partition(TP).isr == (0, 1)


def test_a_follower_that_stops_fetching_still_leaves_the_isr(tmp_path):
    clock = trio.testing.MockClock(autojump_threshold=0)
    rm = leader_with_follower(tmp_path, lag_clock_ms=lambda: int(clock.current_time() * 1000))

    async def main():
        await maintain(rm, 5, fetching=True)
        await maintain(rm, 20, fetching=False)
    trio.run(main, clock=clock)
    assert rm.zk.isr_writes == [(0,)] and rm.get_partition(TP).isr == (0,)


def test_isr_writes_go_together_at_their_decided_versions_and_a_later_leader_and_isr_wins(
        tmp_path):
    """ISR writes decided together go to ZooKeeper in one call, each a CAS on the zkVersion
    it was decided at. A LeaderAndIsr that makes this broker a follower of one of them while
    they are out brings the controller's zkVersion; a CAS with that one would succeed and name
    this broker leader in ZooKeeper while another one leads (seen in bench-scale: the next
    controller read a live "leader" for a partition whose leader had died). The answer for
    that partition is not applied either."""
    rm = leader_with_follower(tmp_path)
    other = TopicPartition("t", 1)
    assert rm.become_leader_or_follower(other, leader=0, leader_epoch=1, isr=[0],
                                        replicas=[0, 1], partition_epoch=1,
                                        controller_epoch=1) is None
    written = []

    class Zk(FakeZk):
        async def conditional_update_partition_states(self, updates):
            written.extend(sorted((tp.partition, state.leader, state.leader_epoch, version)
                                  for tp, (state, version) in updates.items()))
            # meanwhile the controller moves the other partition to broker 1
            rm.become_leader_or_follower(other, leader=1, leader_epoch=2, isr=[0, 1],
                                         replicas=[0, 1], partition_epoch=5,
                                         controller_epoch=2)
            return {tp: version + 1 for tp, (_state, version) in updates.items()}

    rm.zk = Zk()
    first, second = rm.get_partition(TP), rm.get_partition(other)
    run(rm._write_isrs, [(first, (0,), "shrinking"), (second, (0, 1), "expanding")])
    assert written == [(0, 0, 1, 1), (1, 0, 1, 1)]
    assert rm.get_partition(TP).isr == (0,) and rm.get_partition(TP).partition_epoch == 2
    moved = rm.get_partition(other)
    assert not moved.is_leader and moved.isr == (0, 1) and moved.partition_epoch == 5


def test_no_isr_write_for_a_partition_led_elsewhere_by_the_time_it_goes(tmp_path):
    rm = leader_with_follower(tmp_path)
    other = TopicPartition("t", 1)
    assert rm.become_leader_or_follower(other, leader=0, leader_epoch=1, isr=[0],
                                        replicas=[0, 1], partition_epoch=1,
                                        controller_epoch=1) is None
    first, second = rm.get_partition(TP), rm.get_partition(other)
    rm.become_leader_or_follower(other, leader=1, leader_epoch=2, isr=[0, 1],
                                 replicas=[0, 1], partition_epoch=5, controller_epoch=2)
    asked = []

    class Zk(FakeZk):
        async def conditional_update_partition_states(self, updates):
            asked.append(sorted(tp.partition for tp in updates))
            return {tp: None for tp in updates}   # the CAS failed: nothing applied

    rm.zk = Zk()
    run(rm._write_isrs, [(first, (0,), "shrinking"), (second, (0, 1), "expanding")])
    assert asked == [[0]]
    assert rm.get_partition(TP).isr == (0, 1) and rm.get_partition(TP).partition_epoch == 1
