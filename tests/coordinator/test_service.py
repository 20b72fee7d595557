"""The trio shell over a real replica manager and log (tmp_path), on trio's mock clock."""

from __future__ import annotations

import functools
from types import SimpleNamespace

import attrs
import pytest
import trio
import trio.testing

from kafkalite import errors
from kafkalite.config import parse_server_config
from kafkalite.coordinator.results import JoinGroupArgs, OffsetCommitEntry
from kafkalite.coordinator.service import GroupCoordinatorService
from kafkalite.model import OFFSETS_TOPIC, TopicPartition
from kafkalite.replication.service import PartitionFetch, ReplicaManager
from kafkalite.storage.config import LogConfig
from kafkalite.storage.manager import LogManager

TP = TopicPartition("t", 0)
OFFSETS_0 = TopicPartition(OFFSETS_TOPIC, 0)


@pytest.fixture
def run():
    def runner(async_fn, *args):
        return trio.run(functools.partial(async_fn, *args),
                        clock=trio.testing.MockClock(autojump_threshold=0))
    return runner


def make_broker(tmp_path):
    config = parse_server_config({"zookeeper.connect": "unused:2181",
                                  "offsets.topic.num.partitions": "1",
                                  "group.initial.rebalance.delay.ms": "0"})
    cfg = LogConfig(cleanup_policy="compact", segment_bytes=64 * 1024)
    logs = LogManager([tmp_path], cfg, config_for_topic=lambda _t: cfg)
    rm = ReplicaManager(broker_id=0, log_manager=logs, topic_config=lambda _t: cfg)
    return SimpleNamespace(config=config, replica_manager=rm, zk=None, broker_id=0,
                           log_manager=logs)


def lead(broker, epoch: int, leader: int = 0) -> None:
    broker.replica_manager.become_leader_or_follower(
        OFFSETS_0, leader=leader, leader_epoch=epoch, isr=[leader], replicas=[0, 1],
        partition_epoch=epoch, controller_epoch=1)


def join_args(member_id: str = "", session: int = 6000) -> JoinGroupArgs:
    return JoinGroupArgs(group_id="g", member_id=member_id, client_id="c",
                         session_timeout_ms=session, rebalance_timeout_ms=10000,
                         protocol_type="consumer", protocols=(("range", b"sub"),))


async def stable(svc) -> tuple[str, int]:
    r = await svc.join_group(join_args())
    r = await svc.join_group(join_args(r.member_id))
    s = await svc.sync_group("g", r.generation_id, r.member_id, assignments={r.member_id: b"a"})
    assert s.error is None and s.assignment == b"a"
    return r.member_id, r.generation_id


def test_groups_follow_leadership_of_the_offsets_partition(run, tmp_path):
    broker = make_broker(tmp_path)

    async def main():
        svc = GroupCoordinatorService(broker, clock=lambda: int(trio.current_time() * 1000))
        async with trio.open_nursery() as nursery:
            await nursery.start(svc.run)
            assert svc.coordinator_error("g") is errors.NotCoordinator
            lead(broker, 0)
            await svc.wait_loaded(0)
            member, gen = await stable(svc)
            assert await svc.commit_offsets("g", gen, member,
                                            {TP: OffsetCommitEntry(offset=17)}) == {TP: None}
            # another broker leads now: groups are gone
            lead(broker, 1, leader=1)
            await trio.sleep(0.01)
            assert svc.coordinator_error("g") is errors.NotCoordinator
            # and back: the log is replayed
            lead(broker, 2)
            await svc.wait_loaded(0)
            assert svc.fetch_offsets("g", [TP]).offsets[TP].offset == 17
            d = svc.describe_group("g")
            assert d.state == "Stable" and d.members[0].member_id == member
            # nobody heartbeats: the member's session ends and the group empties
            await trio.sleep(7)
            assert svc.describe_group("g").state == "Empty"
            nursery.cancel_scope.cancel()

    run(main)
    broker.log_manager.shutdown()


def test_parked_join_completes_when_the_other_member_rejoins(run, tmp_path):
    broker = make_broker(tmp_path)

    async def main():
        svc = GroupCoordinatorService(broker, clock=lambda: int(trio.current_time() * 1000))
        async with trio.open_nursery() as nursery:
            await nursery.start(svc.run)
            lead(broker, 0)
            await svc.wait_loaded(0)
            a, gen = await stable(svc)
            results = {}

            async def second():
                r = await svc.join_group(join_args())
                results["b"] = await svc.join_group(join_args(r.member_id))

            nursery.start_soon(second)
            await trio.sleep(0.5)
            assert "b" not in results
            assert await svc.heartbeat("g", gen, a) is errors.RebalanceInProgress
            ra = await svc.join_group(join_args(a))
            await trio.testing.wait_all_tasks_blocked()  # b runs once woken
            assert ra.generation_id == results["b"].generation_id == gen + 1
            assert len(ra.members) == 2
            nursery.cancel_scope.cancel()

    run(main)
    broker.log_manager.shutdown()


def test_unreplicated_group_write_fails_the_sync(run, tmp_path):
    """acks=-1: a follower that never fetches keeps the high watermark; after
    offsets.commit.timeout.ms the leader's SyncGroup fails and the group rebalances."""
    broker = make_broker(tmp_path)

    async def main():
        svc = GroupCoordinatorService(broker, clock=lambda: int(trio.current_time() * 1000))
        async with trio.open_nursery() as nursery:
            await nursery.start(svc.run)
            broker.replica_manager.become_leader_or_follower(
                OFFSETS_0, leader=0, leader_epoch=0, isr=[0, 1], replicas=[0, 1],
                partition_epoch=0, controller_epoch=1)
            await svc.wait_loaded(0)
            r = await svc.join_group(join_args())
            r = await svc.join_group(join_args(r.member_id))
            s = await svc.sync_group("g", 1, r.member_id, assignments={r.member_id: b"a"})
            assert s.error is errors.RebalanceInProgress
            assert svc.describe_group("g").state == "PreparingRebalance"
            assert await svc.commit_offsets("g", 1, r.member_id, {
                TP: OffsetCommitEntry(offset=1)}) == {TP: errors.RequestTimedOut}
            nursery.cancel_scope.cancel()

    run(main)
    broker.log_manager.shutdown()


def test_sessions_expire_a_session_timeout_after_the_last_heartbeat(run, tmp_path):
    """Session timers are re-armed lazily and the timer task sleeps until the earliest armed
    deadline: a member that heartbeats stays; one that stops is removed one session timeout
    after its last heartbeat, also when its deadline is earlier than the one the timer task
    was sleeping until."""
    broker = make_broker(tmp_path)

    async def main():
        svc = GroupCoordinatorService(broker, clock=lambda: int(trio.current_time() * 1000))
        async with trio.open_nursery() as nursery:
            await nursery.start(svc.run)
            lead(broker, 0)
            await svc.wait_loaded(0)
            r = await svc.join_group(attrs.evolve(join_args(session=30000), group_id="slow"))
            r = await svc.join_group(attrs.evolve(join_args(r.member_id, session=30000),
                                                  group_id="slow"))
            slow = r.member_id
            assert (await svc.sync_group("slow", r.generation_id, slow)).error is None
            await trio.sleep(1)
            a, gen = await stable(svc)           # session 6 s, armed after the 30 s one
            start = trio.current_time()
            for _ in range(5):
                await trio.sleep(2)
                assert await svc.heartbeat("g", gen, a) is None
            last = trio.current_time()
            assert last - start == 10
            await trio.sleep(5.9)
            assert [m.member_id for m in svc.describe_group("g").members] == [a]
            await trio.sleep(0.2)
            assert svc.describe_group("g").members == ()
            assert [m.member_id for m in svc.describe_group("slow").members] == [slow]
            nursery.cancel_scope.cancel()

    run(main)
    broker.log_manager.shutdown()


def test_commit_waits_for_the_follower_then_is_answered(run, tmp_path):
    """With a follower in the ISR the commit is written at once but answered only when the
    high watermark passes it (a waiter task); with the leader alone, at once."""
    broker = make_broker(tmp_path)
    rm = broker.replica_manager

    async def main():
        svc = GroupCoordinatorService(broker, clock=lambda: int(trio.current_time() * 1000))
        async with trio.open_nursery() as nursery:
            await nursery.start(svc.run)
            rm.become_leader_or_follower(OFFSETS_0, leader=0, leader_epoch=0, isr=[0, 1],
                                         replicas=[0, 1], partition_epoch=0, controller_epoch=1)
            await svc.wait_loaded(0)
            answers = []

            async def commit(offset):
                answers.append(await svc.commit_offsets(
                    "solo", -1, "", {TP: OffsetCommitEntry(offset=offset)}))

            nursery.start_soon(commit, 7)
            await trio.testing.wait_all_tasks_blocked()
            assert answers == []
            assert rm.get_partition(OFFSETS_0).log_end_offset == 1   # already in the log
            assert svc.fetch_offsets("solo", [TP]).offsets[TP].offset == -1
            rm.read_all([PartitionFetch(OFFSETS_0, 1, 1 << 20)], replica_id=1,
                        max_bytes=1 << 20)                           # the follower caught up
            await trio.testing.wait_all_tasks_blocked()
            assert answers == [{TP: None}]
            assert svc.fetch_offsets("solo", [TP]).offsets[TP].offset == 7
            lead(broker, 1)   # the leader alone: answered without waiting
            assert await svc.commit_offsets("solo", -1, "", {TP: OffsetCommitEntry(offset=9)}) \
                == {TP: None}
            assert svc.fetch_offsets("solo", [TP]).offsets[TP].offset == 9
            nursery.cancel_scope.cancel()

    run(main)
    broker.log_manager.shutdown()
