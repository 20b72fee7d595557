"""The leader's purgatory: a parked request wakes only for what can complete it (a follower
fetch for new data, a consumer fetch for a high-watermark move, an acks=all produce for the
high watermark or the ISR), and a fetch woken by an append reads with the batches of the
produce requests that were runnable with it."""

from __future__ import annotations

import functools

import trio
import trio.testing

from kafkalite.model import TopicPartition
from kafkalite.records.builder import build_batch
from kafkalite.replication.service import PartitionFetch, ReplicaManager
from kafkalite.storage.config import LogConfig
from kafkalite.storage.manager import LogManager

TP = TopicPartition("t", 0)
CFG = LogConfig(segment_bytes=64 * 1024)


def leader(tmp_path) -> ReplicaManager:
    """Broker 0 leads TP with followers 1 and 2 in the ISR."""
    logs = LogManager([tmp_path], CFG, config_for_topic=lambda _t: CFG)
    rm = ReplicaManager(broker_id=0, log_manager=logs, topic_config=lambda _t: CFG)
    assert rm.become_leader_or_follower(TP, leader=0, leader_epoch=1, isr=[0, 1, 2],
                                        replicas=[0, 1, 2], partition_epoch=1,
                                        controller_epoch=1) is None
    return rm


def records(value: bytes) -> memoryview:
    return memoryview(bytearray(build_batch([(None, value, (), 1000)])))


def run(async_fn, *args):
    return trio.run(functools.partial(async_fn, *args),
                    clock=trio.testing.MockClock(autojump_threshold=0))


def follower_fetch(rm, replica_id: int, offset: int):
    return rm.fetch([PartitionFetch(TP, offset, 100_000)], replica_id=replica_id,
                    max_wait_ms=60_000, min_bytes=1, max_bytes=100_000)


def test_follower_fetch_ignores_high_watermark_moves_and_wakes_on_data(tmp_path):
    rm = leader(tmp_path)

    async def main():
        await rm.append_records([(TP, records(b"a"))], acks=1, timeout_ms=1000)
        # follower 1 is caught up and parks; follower 2's fetch then moves the HW
        answers = []
        async with trio.open_nursery() as nursery:
            async def parked():
                answers.append(await follower_fetch(rm, 1, 1))
            nursery.start_soon(parked)
            await trio.testing.wait_all_tasks_blocked()
            assert rm.get_partition(TP).high_watermark == 0
            rm.read_all([PartitionFetch(TP, 1, 100_000)], replica_id=2, max_bytes=100_000)
            assert rm.get_partition(TP).high_watermark == 1
            await trio.testing.wait_all_tasks_blocked()
            assert answers == []   # a HW move alone is no reason to answer a follower
            await rm.append_records([(TP, records(b"b"))], acks=1, timeout_ms=1000)
        assert answers[0][TP].size > 0 and trio.current_time() < 1

    run(main)


def test_consumer_fetch_wakes_on_high_watermark_move(tmp_path):
    rm = leader(tmp_path)

    async def main():
        await rm.append_records([(TP, records(b"a"))], acks=1, timeout_ms=1000)
        answers = []
        async with trio.open_nursery() as nursery:
            async def consumer():
                answers.append(await rm.fetch([PartitionFetch(TP, 0, 100_000)], replica_id=-1,
                                              max_wait_ms=60_000, min_bytes=1,
                                              max_bytes=100_000))
            nursery.start_soon(consumer)
            await trio.testing.wait_all_tasks_blocked()
            assert answers == []   # nothing below the HW yet
            for follower in (1, 2):
                rm.read_all([PartitionFetch(TP, 1, 100_000)], replica_id=follower,
                            max_bytes=100_000)
        assert answers[0][TP].size > 0 and trio.current_time() < 1

    run(main)


def test_acks_all_produce_waits_out_other_appends_and_completes_on_the_hw(tmp_path):
    rm = leader(tmp_path)

    async def main():
        results = []
        async with trio.open_nursery() as nursery:
            async def produce():
                results.append(await rm.append_records([(TP, records(b"a"))], acks=-1,
                                                       timeout_ms=60_000))
            nursery.start_soon(produce)
            await trio.testing.wait_all_tasks_blocked()
            parked = dict(rm._waiters[TP])
            await rm.append_records([(TP, records(b"b"))], acks=1, timeout_ms=1000)
            assert rm._waiters[TP] == parked   # another append does not wake it
            for follower in (1, 2):
                rm.read_all([PartitionFetch(TP, 2, 100_000)], replica_id=follower,
                            max_bytes=100_000)
        assert results[0][TP].error is None and results[0][TP].base_offset == 0
        assert trio.current_time() < 1

    run(main)


def test_leadership_change_wakes_every_parked_request(tmp_path):
    rm = leader(tmp_path)

    async def main():
        answers = []
        async with trio.open_nursery() as nursery:
            async def parked(replica_id):
                answers.append(await follower_fetch(rm, replica_id, 0))
            nursery.start_soon(parked, 1)
            nursery.start_soon(parked, -1)
            await trio.testing.wait_all_tasks_blocked()
            rm.become_leader_or_follower(TP, leader=1, leader_epoch=2, isr=[0, 1, 2],
                                         replicas=[0, 1, 2], partition_epoch=2,
                                         controller_epoch=1)
        assert [a[TP].error.__name__ for a in answers] == ["NotLeaderOrFollower"] * 2
        assert trio.current_time() < 1

    run(main)


def test_a_woken_fetch_carries_the_appends_runnable_with_it(tmp_path):
    """Produce requests that become runnable in the same scheduling round as the parked
    follower fetch (as requests read from other sockets in the same poll do) append before
    the fetch reads: one answer carries all three batches."""
    rm = leader(tmp_path)

    async def main():
        answers = []
        more = trio.Event()
        async with trio.open_nursery() as nursery:
            async def parked():
                answers.append(await follower_fetch(rm, 1, 0))

            async def produce(value, wait):
                if wait:
                    await more.wait()
                await rm.append_records([(TP, records(value))], acks=1, timeout_ms=1000)
                more.set()   # wakes the others together with the fetch the append woke
            nursery.start_soon(parked)
            await trio.testing.wait_all_tasks_blocked()
            nursery.start_soon(produce, b"b", True)
            nursery.start_soon(produce, b"c", True)
            await trio.testing.wait_all_tasks_blocked()
            nursery.start_soon(produce, b"a", False)
        assert rm.get_partition(TP).log_end_offset == 3
        everything = rm.get_partition(TP).log.read(0, 10**6, max_offset=3, min_one_batch=True)
        assert answers[0][TP].size == everything.size

    run(main)


def test_follower_min_bytes_holds_the_fetch_until_enough_data_or_max_wait(tmp_path):
    """replica.fetch.min.bytes / replica.fetch.wait.max.ms as Kafka's DelayedFetch: small
    appends do not answer a fetch that asks for more bytes; the deadline answers with what
    there is."""
    rm = leader(tmp_path)

    async def main():
        one = len(records(b"x" * 100))
        answers = []
        async with trio.open_nursery() as nursery:
            async def parked():
                answers.append(await rm.fetch([PartitionFetch(TP, 0, 100_000)], replica_id=1,
                                              max_wait_ms=500, min_bytes=3 * one,
                                              max_bytes=100_000))
                answers.append(trio.current_time())
            nursery.start_soon(parked)
            await trio.testing.wait_all_tasks_blocked()
            for value in (b"x" * 100, b"y" * 100):
                await rm.append_records([(TP, records(value))], acks=1, timeout_ms=1000)
                await trio.testing.wait_all_tasks_blocked()
                assert answers == []
            await trio.sleep(1)
        assert answers[0][TP].size == 2 * one and answers[1] >= 0.5

        async with trio.open_nursery() as nursery:
            async def enough():
                answers.append(await rm.fetch([PartitionFetch(TP, 2, 100_000)], replica_id=1,
                                              max_wait_ms=500, min_bytes=2 * one,
                                              max_bytes=100_000))
            nursery.start_soon(enough)
            await trio.testing.wait_all_tasks_blocked()
            start = trio.current_time()
            for value in (b"z" * 100, b"w" * 100):
                await rm.append_records([(TP, records(value))], acks=1, timeout_ms=1000)
        assert answers[2][TP].size == 2 * one and trio.current_time() == start

    run(main)
