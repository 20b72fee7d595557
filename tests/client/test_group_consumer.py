"""Group consumers against the in-memory coordinator: joining, rebalancing, committing."""

from __future__ import annotations

import pytest
import trio

from kafkalite.errors import GroupAuthorizationFailed, InvalidGroupId, RebalanceInProgress
from kafkalite.model import TopicPartition as TP
from kafkalite.protocol.api_keys import ApiKey
from kafkalite.records.builder import build_batch
from kafkalite.client.cluster import Cluster
from kafkalite.client.consumer import Consumer
from kafkalite.client.group import CommitFailed, NoOffsetForPartition, OffsetAndMetadata

from .test_group_coordinator_fake import FakeGroupKafka


@pytest.fixture
def kafka(monkeypatch) -> FakeGroupKafka:
    return FakeGroupKafka().install(monkeypatch)


def fill(kafka, topic, partitions, per_partition):
    kafka.create_topic(topic, partitions)
    for p in range(partitions):
        for i in range(per_partition):
            kafka.logs[(topic, p)].append(build_batch([(None, b"%d-%d" % (p, i), (), 1000)]))


async def poll_until(consumer, count, rounds=40):
    got = []
    for _ in range(rounds):
        got += await consumer.poll(200)
        if len(got) >= count:
            break
    return got


class Recorder:
    def __init__(self):
        self.events = []

    def on_partitions_revoked(self, partitions):
        self.events.append(("revoked", sorted(partitions)))

    async def on_partitions_assigned(self, partitions):
        await trio.lowlevel.checkpoint()
        self.events.append(("assigned", sorted(partitions)))


def test_single_member_consumes_commits_on_close_and_a_successor_resumes(kafka, run):
    fill(kafka, "t", 2, 3)

    async def main():
        async with Cluster("fake:9092", client_id="app") as cluster:
            listener = Recorder()
            consumer = Consumer(cluster, group_id="g", auto_offset_reset="earliest")
            consumer.subscribe(["t"], listener=listener)
            got = await poll_until(consumer, 6)
            assert sorted(r.value for r in got) == sorted(b"%d-%d" % (p, i) for p in range(2)
                                                          for i in range(3))
            assert consumer.member_id.startswith("app-") and consumer.generation_id == 1
            assert listener.events == [("assigned", [TP("t", 0), TP("t", 1)])]
            await consumer.aclose()
            assert listener.events[-1] == ("revoked", [TP("t", 0), TP("t", 1)])
            assert kafka.committed("g") == {("t", 0): 3, ("t", 1): 3}
            assert kafka.groups["g"].state == "Empty"  # LeaveGroup was sent

            kafka.logs[("t", 0)].append(build_batch([(None, b"new", (), 1)]))
            successor = Consumer(cluster, group_id="g", auto_offset_reset="earliest")
            successor.subscribe(["t"])
            assert [r.value for r in await poll_until(successor, 1)] == [b"new"]
            await successor.aclose()

    run(main)
    joins = kafka.sent(ApiKey.JOIN_GROUP)
    assert joins[0].member_id == "" and joins[1].member_id.startswith("app-")  # KIP-394


def test_three_members_split_six_partitions_then_rebalance_when_one_leaves(kafka, run):
    fill(kafka, "t", 6, 1)

    async def main():
        async with Cluster("fake:9092") as cluster:
            consumers = [Consumer(cluster, group_id="g", auto_offset_reset="earliest",
                                  heartbeat_interval_ms=500) for _ in range(3)]
            for c in consumers:
                c.subscribe(["t"])
            stop = trio.Event()

            async def member(c):
                async with c:
                    while not stop.is_set():
                        await c.poll(100)

            async with trio.open_nursery() as nursery:
                for c in consumers[:2]:
                    nursery.start_soon(member, c)
                leaver_done = trio.Event()

                async def leaver():
                    async with consumers[2]:
                        while not leaver_done.is_set():
                            await consumers[2].poll(100)

                nursery.start_soon(leaver)
                await trio.sleep(5)
                sizes = sorted(len(c.assignment()) for c in consumers)
                assert sizes == [2, 2, 2]
                assert sorted(tp for c in consumers for tp in c.assignment()) == [
                    TP("t", p) for p in range(6)]
                leaver_done.set()
                await trio.sleep(5)
                remaining = consumers[:2]
                assert sorted(len(c.assignment()) for c in remaining) == [3, 3]
                assert sorted(tp for c in remaining for tp in c.assignment()) == [
                    TP("t", p) for p in range(6)]
                assert len({c.generation_id for c in remaining}) == 1
                stop.set()
            assert sum(kafka.committed("g").values()) == 6

    run(main)


def test_cooperative_sticky_moves_partitions_in_two_rounds(kafka, run):
    fill(kafka, "t", 4, 1)

    async def main():
        async with Cluster("fake:9092") as cluster:
            def make():
                return Consumer(cluster, group_id="g", auto_offset_reset="earliest",
                                heartbeat_interval_ms=500,
                                partition_assignment_strategy="cooperative-sticky")

            first, second = make(), make()
            recorders = [Recorder(), Recorder()]
            first.subscribe(["t"], listener=recorders[0])
            second.subscribe(["t"], listener=recorders[1])
            owners_over_time = []
            stop = trio.Event()

            async def member(c):
                async with c:
                    while not stop.is_set():
                        await c.poll(100)
                        claimed = [tp for x in (first, second) for tp in x.assignment()]
                        owners_over_time.append(claimed)

            async with trio.open_nursery() as nursery:
                nursery.start_soon(member, first)
                await trio.sleep(3)
                assert first.assignment() == [TP("t", p) for p in range(4)]
                nursery.start_soon(member, second)
                await trio.sleep(8)
                final = {c: c.assignment() for c in (first, second)}
                stop.set()
            assert sorted(len(a) for a in final.values()) == [2, 2]
            assert sorted(final[first] + final[second]) == [TP("t", p) for p in range(4)]
            for claimed in owners_over_time:
                assert len(claimed) == len(set(claimed)), "a partition had two owners"
            # the first member gave back only the partitions that moved, and only once
            moved = sorted(set(TP("t", p) for p in range(4)) - set(final[first]))
            assert recorders[0].events[:2] == [("assigned", [TP("t", p) for p in range(4)]),
                                               ("revoked", moved)]
            assert recorders[1].events[:2] == [("assigned", []), ("assigned", final[second])]

    run(main)
    protocols = {p.name for r in kafka.sent(ApiKey.JOIN_GROUP) for p in r.protocols}
    assert protocols == {"cooperative-sticky"}


def test_heartbeat_errors_make_the_member_rejoin(kafka, run):
    fill(kafka, "t", 1, 1)

    async def main():
        async with Cluster("fake:9092") as cluster:
            consumer = Consumer(cluster, group_id="g", auto_offset_reset="earliest",
                                heartbeat_interval_ms=1000)
            consumer.subscribe(["t"])
            await poll_until(consumer, 1)
            generation = consumer.generation_id
            kafka.heartbeat_errors.append(27)
            for _ in range(20):
                await consumer.poll(200)
            assert consumer.generation_id == generation + 1
            old_member = consumer.member_id
            kafka.heartbeat_errors.append(25)
            for _ in range(20):
                await consumer.poll(200)
            assert consumer.member_id != old_member and consumer.generation_id > generation + 1
            await consumer.aclose()

    run(main)


def test_coordinator_lookup_is_retried(kafka, run):
    fill(kafka, "t", 1, 1)
    kafka.coordinator_errors += [15, 15]

    async def main():
        async with Cluster("fake:9092") as cluster:
            consumer = Consumer(cluster, group_id="g", auto_offset_reset="earliest")
            consumer.subscribe(["t"])
            assert len(await poll_until(consumer, 1)) == 1
            await consumer.aclose()

    run(main)
    assert len(kafka.sent(ApiKey.FIND_COORDINATOR)) == 3


def test_commit_sync_async_committed_and_simple_commits(kafka, run):
    fill(kafka, "t", 2, 5)

    async def main():
        async with Cluster("fake:9092") as cluster:
            consumer = Consumer(cluster, group_id="g", auto_offset_reset="earliest",
                                enable_auto_commit=False, max_poll_records=3)
            consumer.assign([("t", 0), ("t", 1)])
            first = await consumer.poll(1000)
            assert len(first) == 3
            await consumer.commit()
            committed = await consumer.committed([("t", 0), TP("t", 1)])
            positions = {TP("t", p): consumer.position("t", p) for p in range(2)}
            assert {tp: om.offset for tp, om in committed.items() if om is not None} == {
                tp: pos for tp, pos in positions.items() if pos is not None}
            assert sum(pos or 0 for pos in positions.values()) == 3
            results = []
            consumer.commit_async({("t", 0): 5}, callback=lambda o, e: results.append((o, e)))
            assert results == []
            await consumer.poll(100)  # sends the pending async commit
            assert results == [({TP("t", 0): OffsetAndMetadata(5)}, None)]
            await consumer.commit({("t", 1): OffsetAndMetadata(4, "note")})
            assert kafka.groups["g"].offsets[("t", 1)] == (4, "note")
            await consumer.aclose()
            assert kafka.committed("g") == {("t", 0): 5, ("t", 1): 4}  # no auto commit

    run(main)
    assert all(r.generation_id_or_member_epoch == -1 and r.member_id == ""
               for r in kafka.sent(ApiKey.OFFSET_COMMIT))


def test_async_commits_from_the_background_task(kafka, run):
    fill(kafka, "t", 1, 2)

    async def main():
        async with Cluster("fake:9092") as cluster:
            results = []
            async with Consumer(cluster, group_id="g", auto_offset_reset="earliest",
                                enable_auto_commit=False) as consumer:
                consumer.subscribe(["t"])
                await poll_until(consumer, 2)
                consumer.commit_async(callback=lambda o, e: results.append(e))
                await trio.sleep(0.5)
                assert results == [None] and kafka.committed("g") == {("t", 0): 2}

    run(main)


def test_auto_commit_every_interval(kafka, run):
    fill(kafka, "t", 1, 3)

    async def main():
        async with Cluster("fake:9092") as cluster:
            consumer = Consumer(cluster, group_id="g", auto_offset_reset="earliest",
                                auto_commit_interval_ms=1000, max_poll_records=1)
            consumer.subscribe(["t"])
            assert len(await consumer.poll(1000)) == 1
            assert kafka.committed("g") == {}
            await trio.sleep(1.1)
            await consumer.poll(100)
            assert kafka.committed("g") == {("t", 0): 1}
            await consumer.poll(100)
            await consumer.aclose()
            assert kafka.committed("g") == {("t", 0): 3}

    run(main)


def test_stale_generation_commit_fails_and_commit_without_group_is_refused(kafka, run):
    fill(kafka, "t", 1, 1)

    async def main():
        async with Cluster("fake:9092") as cluster:
            consumer = Consumer(cluster, group_id="g", auto_offset_reset="earliest")
            consumer.subscribe(["t"])
            await poll_until(consumer, 1)
            kafka.commit_errors.append(22)
            with pytest.raises(CommitFailed, match="already rebalanced"):
                await consumer.commit()
            with pytest.raises(RebalanceInProgress, match="undergoing a rebalance"):
                await consumer.commit()  # the generation is gone until the next poll
            await poll_until(consumer, 0, rounds=2)
            await consumer.commit()
            await consumer.aclose()
            plain = Consumer(cluster)
            with pytest.raises(InvalidGroupId, match="must provide a valid group.id"):
                await plain.commit()

    run(main)


def test_reset_policy_none_without_committed_offsets(kafka, run):
    fill(kafka, "t", 1, 1)

    async def main():
        async with Cluster("fake:9092") as cluster:
            consumer = Consumer(cluster, group_id="g", auto_offset_reset="none")
            consumer.subscribe(["t"])
            with pytest.raises(NoOffsetForPartition,
                               match=r"Undefined offset with no reset policy for partitions: "
                                     r"\[t-0\]"):
                await consumer.poll(1000)
            consumer.seek("t", 0, 0)
            assert len(await consumer.poll(1000)) == 1
            await consumer.aclose()

    run(main)


def test_latest_reset_starts_at_the_end(kafka, run):
    fill(kafka, "t", 1, 2)

    async def main():
        async with Cluster("fake:9092") as cluster:
            consumer = Consumer(cluster, group_id="g")
            consumer.subscribe(["t"])
            assert await consumer.poll(500) == []
            assert consumer.position("t", 0) == 2
            await consumer.aclose()

    run(main)


def test_background_heartbeats_keep_a_slow_member_and_poll_timeout_leaves(kafka, run):
    fill(kafka, "t", 1, 1)

    async def main():
        async with Cluster("fake:9092") as cluster:
            async with Consumer(cluster, group_id="g", auto_offset_reset="earliest",
                                session_timeout_ms=6000, heartbeat_interval_ms=1000,
                                max_poll_interval_ms=20_000) as consumer:
                consumer.subscribe(["t"])
                await poll_until(consumer, 1)
                member = consumer.member_id
                await trio.sleep(15)  # longer than the session, shorter than max poll interval
                assert list(kafka.groups["g"].members) == [member]
                await trio.sleep(10)  # now past max.poll.interval.ms: the member leaves
                assert kafka.groups["g"].members == {}
                await poll_until(consumer, 0, rounds=2)
                assert consumer.member_id != member and consumer.generation_id > 1

    run(main)


def test_max_poll_records_and_positions(kafka, run):
    fill(kafka, "t", 1, 7)

    async def main():
        async with Cluster("fake:9092") as cluster:
            consumer = Consumer(cluster, group_id="g", auto_offset_reset="earliest",
                                max_poll_records=3)
            consumer.subscribe(["t"])
            sizes = []
            while sum(sizes) < 7:
                batch = await consumer.poll(1000)
                sizes.append(len(batch))
                assert consumer.position("t", 0) == sum(sizes)
            assert max(sizes) == 3
            await consumer.aclose()

    run(main)


def test_fatal_group_errors_reach_the_application(kafka, run):
    fill(kafka, "t", 1, 1)
    kafka.heartbeat_errors.append(30)

    async def main():
        async with Cluster("fake:9092") as cluster:
            consumer = Consumer(cluster, group_id="g", auto_offset_reset="earliest",
                                heartbeat_interval_ms=500)
            consumer.subscribe(["t"])
            await poll_until(consumer, 1)
            with pytest.raises(GroupAuthorizationFailed):
                for _ in range(20):
                    await consumer.poll(200)

    run(main)


def test_pattern_subscription_rejoins_when_a_matching_topic_appears(kafka, run):
    fill(kafka, "logs-a", 1, 1)

    async def main():
        async with Cluster("fake:9092") as cluster:
            consumer = Consumer(cluster, group_id="g", auto_offset_reset="earliest")
            consumer.subscribe(pattern="logs-.*")
            assert len(await poll_until(consumer, 1)) == 1
            fill(kafka, "logs-b", 1, 1)
            got = await poll_until(consumer, 1, rounds=60)
            assert [r.topic for r in got] == ["logs-b"]
            assert consumer.assignment() == [TP("logs-a", 0), TP("logs-b", 0)]
            await consumer.aclose()

    run(main)
