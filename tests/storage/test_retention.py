"""Retention: the pure decisions of storage/retention.py, and the storage operations the
retention task drives (segment deletion, idle rolls, flushes off the event loop, checkpoints)."""

import os

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kafkalite.errors import OffsetOutOfRange
from kafkalite.model import TopicPartition
from kafkalite.storage import Log, LogConfig, LogManager, read_checkpoint
from kafkalite.storage.retention import (
    DeletionReason, SegmentInfo, plan_deletions, time_to_roll,
)

from .batches import TS, append, read_info

DAY = 86_400_000
NEVER = -1


def plan(segments, *, leo, hw=None, start=None, retention_ms=NEVER, retention_bytes=NEVER,
         delete=True, now=TS):
    return plan_deletions(
        segments, log_end_offset=leo, high_watermark=leo if hw is None else hw,
        log_start_offset=segments[0].base_offset if start is None else start,
        retention_ms=retention_ms, retention_bytes=retention_bytes, delete_enabled=delete,
        now_ms=now)


def segs(*specs):
    """SegmentInfo list from (base_offset, size, largest_timestamp) triples."""
    return [SegmentInfo(b, s, t) for b, s, t in specs]


# -- the decisions, by example ---------------------------------------------------------------


def test_time_retention_deletes_the_expired_prefix_only():
    segments = segs((0, 100, TS - 3 * DAY), (10, 100, TS - 2 * DAY), (20, 100, TS),
                    (30, 100, TS - 5 * DAY), (40, 50, TS))
    [step] = plan(segments, leo=45, retention_ms=DAY)
    # the fourth segment is older but sits behind a young one: deletion stops at the first keeper
    assert step.base_offsets == (0, 10)
    assert step.reason is DeletionReason.RETENTION_MS and not step.rolls


def test_time_retention_is_strictly_greater_than():
    segments = segs((0, 100, TS - DAY), (10, 100, TS - DAY - 1), (20, 1, TS))
    assert plan(segments, leo=21, retention_ms=DAY) == []
    assert plan(segments, leo=21, retention_ms=DAY, now=TS + 1)[0].base_offsets == (0, 10)


def test_segments_at_or_above_the_high_watermark_are_kept():
    segments = segs((0, 100, 0), (10, 100, 0), (20, 100, 0))
    assert plan(segments, leo=25, hw=9, retention_ms=DAY) == []
    assert plan(segments, leo=25, hw=10, retention_ms=DAY)[0].base_offsets == (0,)
    assert plan(segments, leo=25, hw=24, retention_ms=DAY)[0].base_offsets == (0, 10)


def test_a_breached_active_segment_goes_when_fully_replicated_and_the_log_rolls():
    segments = segs((0, 100, 0), (10, 100, 0))
    [step] = plan(segments, leo=15, retention_ms=DAY)
    assert step.base_offsets == (0, 10) and step.rolls
    # an empty active segment is never deleted (it would only be recreated)
    [step] = plan(segs((0, 100, 0), (10, 0, -1)), leo=10, retention_ms=DAY)
    assert step.base_offsets == (0,) and not step.rolls
    assert plan(segs((7, 0, -1)), leo=7, retention_ms=DAY) == []


def test_size_retention_keeps_at_least_retention_bytes():
    segments = segs((0, 100, TS), (10, 100, TS), (20, 100, TS), (30, 30, TS))
    # size 330, retention 150: diff 180 -> delete 100 (diff 80), next 100 > 80 -> stop
    [step] = plan(segments, leo=33, retention_bytes=150)
    assert step.reason is DeletionReason.RETENTION_BYTES and step.base_offsets == (0,)
    [step] = plan(segments, leo=33, retention_bytes=130)
    assert step.base_offsets == (0, 10)
    assert plan(segments, leo=33, retention_bytes=331) == []
    [step] = plan(segments, leo=33, retention_bytes=0)
    assert step.base_offsets == (0, 10, 20, 30) and step.rolls


def test_time_then_size_then_log_start_offset_in_kafkas_order():
    segments = segs((0, 100, 0), (10, 100, TS), (20, 100, TS), (30, 100, TS), (40, 10, TS))
    steps = plan(segments, leo=45, start=35, retention_ms=DAY, retention_bytes=200)
    assert [(s.reason, s.base_offsets) for s in steps] == [
        (DeletionReason.RETENTION_MS, (0,)),
        (DeletionReason.RETENTION_BYTES, (10,)),  # 310 left: diff 110, then 10 < 100
        (DeletionReason.LOG_START_OFFSET, (20,)),  # next base 30 <= start 35
    ]


def test_compacted_topics_only_lose_segments_below_the_log_start_offset():
    segments = segs((0, 100, 0), (10, 100, 0), (20, 100, 0))
    assert plan(segments, leo=25, retention_ms=0, retention_bytes=0, delete=False) == []
    [step] = plan(segments, leo=25, start=20, retention_ms=0, delete=False)
    assert step.reason is DeletionReason.LOG_START_OFFSET and step.base_offsets == (0, 10)
    # a log start inside the first segment deletes nothing
    assert plan(segments, leo=25, start=9, delete=False) == []


def test_time_to_roll():
    kw = dict(created_ms=TS, now_ms=TS + 1001, segment_ms=1000)
    assert time_to_roll(size=1, rolling_based_timestamp=TS, **kw)
    assert not time_to_roll(size=0, rolling_based_timestamp=TS, **kw)
    assert not time_to_roll(size=1, rolling_based_timestamp=TS + 1, **kw)
    # no timestamps: measured from the segment's creation
    assert time_to_roll(size=1, rolling_based_timestamp=-1, **kw)
    assert not time_to_roll(size=1, rolling_based_timestamp=None, created_ms=None,
                            now_ms=TS, segment_ms=0)
    assert time_to_roll(size=1, rolling_based_timestamp=TS, created_ms=None, now_ms=TS + 600,
                        segment_ms=1000, segment_jitter_ms=500)
    # old timestamps in a young segment (a replay of history): not before segment.ms of it
    assert not time_to_roll(size=1, rolling_based_timestamp=TS - 10 * DAY, created_ms=TS,
                            now_ms=TS + 1000, segment_ms=1000)


# -- the decisions, as properties ------------------------------------------------------------


@st.composite
def log_states(draw):
    n = draw(st.integers(1, 7))
    bases, sizes, stamps = [], [], []
    base = draw(st.integers(0, 50))
    for i in range(n):
        last = i == n - 1
        bases.append(base)
        sizes.append(draw(st.integers(0 if last else 1, 200)))
        stamps.append(draw(st.integers(-1, 20)))
        base += draw(st.integers(1, 10))
    leo = bases[-1] + (0 if sizes[-1] == 0 else draw(st.integers(1, 10)))
    hw = draw(st.integers(bases[0], leo))
    start = draw(st.integers(bases[0], hw))
    segments = [SegmentInfo(b, s, t) for b, s, t in zip(bases, sizes, stamps)]
    return dict(segments=segments, leo=leo, hw=hw, start=start,
                retention_ms=draw(st.integers(-1, 25)), retention_bytes=draw(st.integers(-1, 900)),
                delete=draw(st.booleans()), now=draw(st.integers(0, 40)))


def apply_plan(state, steps):
    deleted = [b for s in steps for b in s.base_offsets]
    remaining = [s for s in state["segments"] if s.base_offset not in deleted]
    if not remaining:
        remaining = [SegmentInfo(state["leo"], 0)]
    return dict(state, segments=remaining, start=max(state["start"], remaining[0].base_offset))


def run(state):
    return plan(state["segments"], leo=state["leo"], hw=state["hw"], start=state["start"],
                retention_ms=state["retention_ms"], retention_bytes=state["retention_bytes"],
                delete=state["delete"], now=state["now"])


@settings(max_examples=300, deadline=None)
@given(log_states())
def test_deletions_are_a_prefix_below_the_high_watermark(state):
    steps = run(state)
    segments = state["segments"]
    deleted = [b for s in steps for b in s.base_offsets]
    assert all(s.base_offsets for s in steps)
    assert deleted == [s.base_offset for s in segments[:len(deleted)]]
    for i, segment in enumerate(segments[:len(deleted)]):
        upper = segments[i + 1].base_offset if i + 1 < len(segments) else state["leo"]
        assert upper <= state["hw"]
    if len(deleted) == len(segments):
        assert segments[-1].size > 0 and steps[-1].rolls
    assert not any(s.rolls for s in steps[:-1])
    # the log start offset the deletion leads to never passes the high watermark
    assert apply_plan(state, steps)["start"] <= state["hw"]
    if not state["delete"]:
        assert all(s.reason is DeletionReason.LOG_START_OFFSET for s in steps)


@settings(max_examples=300, deadline=None)
@given(log_states())
def test_each_pass_only_takes_breached_segments(state):
    steps = run(state)
    by_reason = {s.reason: s.base_offsets for s in steps}
    segments = {s.base_offset: s for s in state["segments"]}
    for base in by_reason.get(DeletionReason.RETENTION_MS, ()):
        assert state["now"] - segments[base].largest_timestamp > state["retention_ms"] >= 0
    if DeletionReason.RETENTION_BYTES in by_reason:
        assert state["retention_bytes"] >= 0
        through_size = [s for s in steps if s.reason is not DeletionReason.LOG_START_OFFSET]
        kept = apply_plan(state, through_size)["segments"]
        assert sum(s.size for s in kept) >= state["retention_bytes"]
    if DeletionReason.LOG_START_OFFSET in by_reason:
        earlier = [s for s in steps if s.reason is not DeletionReason.LOG_START_OFFSET]
        start = apply_plan(state, earlier)["start"]
        order = [s.base_offset for s in state["segments"]]
        for base in by_reason[DeletionReason.LOG_START_OFFSET]:
            following = order.index(base) + 1
            assert following < len(order) and order[following] <= start


@settings(max_examples=300, deadline=None)
@given(log_states())
def test_a_plan_leaves_nothing_for_the_next_check(state):
    # With timestamps growing from segment to segment (the usual case) one check does all the
    # work; out of order, a segment the size pass removed may have hidden an expired one, which
    # the next check then takes, as in Kafka.
    stamps = sorted(s.largest_timestamp for s in state["segments"])
    state = dict(state, segments=[SegmentInfo(s.base_offset, s.size, t)
                                  for s, t in zip(state["segments"], stamps)])
    after = apply_plan(state, run(state))
    assert run(after) == []


@settings(max_examples=300, deadline=None)
@given(log_states(), st.integers(0, 30))
def test_later_checks_never_keep_more(state, later):
    def deleted(now):
        return sum(len(s.base_offsets) for s in run(dict(state, now=now)))

    assert deleted(state["now"] + later) >= deleted(state["now"])


@settings(max_examples=300, deadline=None)
@given(log_states())
def test_size_retention_stops_at_the_first_segment_that_would_undershoot(state):
    state = dict(state, retention_ms=-1, delete=True, start=state["segments"][0].base_offset)
    steps = run(state)
    kept = apply_plan(state, steps)["segments"]
    total = sum(s.size for s in kept)
    if state["retention_bytes"] < 0:
        assert steps == [] or all(s.reason is DeletionReason.LOG_START_OFFSET for s in steps)
        return
    first = kept[0]
    first_upper = kept[1].base_offset if len(kept) > 1 else state["leo"]
    blocked = first_upper > state["hw"] or (len(kept) == 1 and first.size == 0)
    if not blocked:
        assert total - first.size < state["retention_bytes"]


# -- the storage operations ------------------------------------------------------------------


CONFIG = LogConfig(segment_bytes=1024, index_interval_bytes=128)


def filled_log(log_dir, segments=4, config=CONFIG):
    log = Log.open(log_dir, config)
    while len(log.segments) < segments + 1:
        append(log, (2, 200))
    return log


def test_delete_segments_renames_first_and_keeps_pinned_reads_valid(log_dir):
    log = filled_log(log_dir)
    bases = [s.base_offset for s in log.segments]
    pinned = log.read(0, 10**9)
    expected = read_info(pinned)
    removed = log.delete_segments(bases[:2], reason="retention time 1ms breach")
    assert [s.base_offset for s in removed] == bases[:2]
    assert log.log_start_offset == bases[2] and log.segments[0].base_offset == bases[2]
    names = {p.name for p in log_dir.iterdir()}
    for base in bases[:2]:
        stem = f"{base:020d}"
        assert {f"{stem}.log.deleted", f"{stem}.index.deleted",
                f"{stem}.timeindex.deleted"} <= names
        assert f"{stem}.log" not in names and f"{stem}.index" not in names
    with pytest.raises(OffsetOutOfRange):
        log.read(0, 100)
    for segment in removed:
        segment.delete()
    assert not any(p.name.endswith(".deleted") for p in log_dir.iterdir())
    assert read_info(pinned) == expected  # the in-flight fetch still reads the deleted bytes
    with pytest.raises(ValueError):
        log.delete_segments([bases[3]], reason="not the oldest")


def test_deleted_leftovers_are_removed_and_the_start_offset_follows_on_reopen(log_dir):
    log = filled_log(log_dir)
    bases = [s.base_offset for s in log.segments]
    log.delete_segments(bases[:1], reason="test")  # renamed, never unlinked: a crash
    log.close()
    log = Log.open(log_dir, CONFIG, clean_shutdown=True, log_start_offset=0)
    assert not any(p.name.endswith(".deleted") for p in log_dir.iterdir())
    assert log.log_start_offset == bases[1]
    assert [s.base_offset for s in log.segments] == bases[1:]


def test_deleting_every_segment_rolls_to_an_empty_one_at_the_log_end(log_dir):
    log = filled_log(log_dir, segments=2)
    leo = log.log_end_offset
    removed = log.delete_segments([s.base_offset for s in log.segments], reason="test")
    assert len(removed) == 3
    assert [s.base_offset for s in log.segments] == [leo]
    assert log.log_start_offset == log.log_end_offset == leo and log.active_segment.size == 0
    with pytest.raises(ValueError):
        log.delete_segments([leo], reason="the empty active segment")
    info, _ = append(log, (1, 10))
    assert info.first_offset == leo and read_info(log.read(leo, 1000))


def test_plan_over_a_real_log_uses_largest_timestamps(log_dir):
    log = Log.open(log_dir, CONFIG)
    for i in range(12):  # each segment holds ~4 batches; timestamps grow by a minute a batch
        append(log, (1, 200), timestamp=TS + i * 60_000)
    stamps = [s.largest_timestamp for s in log.segments]
    assert stamps == sorted(stamps) and stamps[0] >= TS
    now = stamps[1] + DAY + 1  # the first two segments are past a day old
    steps = plan_deletions(log.segments, log_end_offset=log.log_end_offset,
                           high_watermark=log.log_end_offset,
                           log_start_offset=log.log_start_offset, retention_ms=DAY,
                           retention_bytes=-1, delete_enabled=True, now_ms=now)
    assert [s.base_offsets for s in steps] == [tuple(s.base_offset for s in log.segments[:2])]


def test_largest_timestamp_falls_back_to_the_file_mtime(log_dir):
    log = Log.open(log_dir, CONFIG)
    append(log, (1, 10), timestamp=-1)
    segment = log.active_segment
    os.utime(segment.log_path, ns=(TS * 1_000_000, TS * 1_000_000))
    assert segment.max_timestamp == -1 and segment.largest_timestamp == TS


def test_roll_if_idle(log_dir):
    log = Log.open(log_dir, LogConfig(segment_ms=1000))
    assert not log.roll_if_idle(TS)  # empty: never (this first check dates the segment)
    append(log, (1, 10), timestamp=TS)
    assert not log.roll_if_idle(TS + 1000)
    assert log.roll_if_idle(TS + 1001)
    assert [s.base_offset for s in log.segments] == [0, 1] and log.active_segment.size == 0
    assert not log.roll_if_idle(TS + 5000)


def test_flush_job_moves_the_recovery_point_only_when_complete(log_dir):
    log = filled_log(log_dir, segments=2)
    assert log.recovery_point == 0
    job = log.begin_flush()
    assert job.up_to == log.log_end_offset and len(job.handles) == 3
    append(log, (1, 10))  # appends go on while the job runs elsewhere
    job.run()
    assert log.recovery_point == 0
    log.complete_flush(job, now_ms=TS)
    assert log.recovery_point == job.up_to < log.log_end_offset
    assert log.begin_flush(job.up_to) is None


def test_flush_in_bounded_steps(log_dir):
    log = filled_log(log_dir, segments=5)
    bases = [s.base_offset for s in log.segments]
    steps = []
    while (job := log.begin_flush(max_segments=2)) is not None:
        job.run()
        log.complete_flush(job)
        steps.append((len(job.handles), log.recovery_point))
    assert steps == [(2, bases[2]), (2, bases[4]), (2, log.log_end_offset)]


def test_flush_job_after_truncation_does_not_move_the_recovery_point(log_dir):
    log = filled_log(log_dir, segments=2)
    job = log.begin_flush()
    log.truncate_to(3)
    append(log, (50, 10))  # offsets below job.up_to again, never synced by the job
    job.run()
    log.complete_flush(job)
    assert log.recovery_point <= 3


def test_flush_job_survives_segment_deletion_meanwhile(log_dir):
    log = filled_log(log_dir, segments=3)
    job = log.begin_flush()
    for segment in log.delete_segments([s.base_offset for s in log.segments[:2]],
                                       reason="test"):
        segment.delete()
    job.run()  # descriptors are pinned, vanished index files are skipped
    log.complete_flush(job)
    assert log.recovery_point == job.up_to


def test_flush_due_on_roll_and_on_flush_messages(log_dir):
    log = Log.open(log_dir, LogConfig(segment_bytes=1024, flush_interval_messages=5))
    append(log, (2, 10))
    assert log.flush_due(TS) is None
    append(log, (3, 10))
    assert log.flush_due(TS) == 5
    log.flush(now_ms=TS)
    assert log.recovery_point == 5 and log.flush_due(TS) is None
    log = Log.open(log_dir.with_name("t-1"), CONFIG)
    while len(log.segments) < 2:
        append(log, (1, 300))
    assert log.flush_due(TS) == log.active_segment.base_offset  # Kafka flushes on roll


def test_manager_checkpoints_and_restores_high_watermarks(tmp_path):
    d = tmp_path / "a"
    manager = LogManager([d], CONFIG)
    for p in range(3):
        log = manager.get_or_create_log("t", p)
        append(log, (10, 20))
    manager.high_watermark_source = lambda: {TopicPartition("t", 0): 4,
                                             TopicPartition("t", 1): 10,
                                             TopicPartition("gone", 0): 99}
    manager.checkpoint()
    assert read_checkpoint(d / "replication-offset-checkpoint") == {("t", 0): 4, ("t", 1): 10}
    assert read_checkpoint(d / "cleaner-offset-checkpoint") == {}
    assert (d / "cleaner-offset-checkpoint").read_text() == "0\n0\n"
    manager.high_watermark_source = lambda: {TopicPartition("t", 0): 6}
    manager.shutdown()
    # partitions the source stops naming keep their last value
    assert read_checkpoint(d / "replication-offset-checkpoint") == {("t", 0): 6, ("t", 1): 10}

    manager = LogManager([d], CONFIG)
    assert manager.restored_high_watermark("t", 0) == 6
    assert manager.restored_high_watermark("t", 1) == 10
    assert manager.restored_high_watermark("t", 2) is None
    manager.checkpoint()  # without a source the restored values are written back
    assert read_checkpoint(d / "replication-offset-checkpoint") == {("t", 0): 6, ("t", 1): 10}
    manager.delete_log("t", 1)
    manager.checkpoint()
    assert read_checkpoint(d / "replication-offset-checkpoint") == {("t", 0): 6}


def test_restored_high_watermark_is_clamped_to_the_log(tmp_path):
    d = tmp_path / "a"
    manager = LogManager([d], CONFIG)
    log = manager.get_or_create_log("t", 0)
    append(log, (10, 20))
    log.maybe_increment_log_start_offset(3)
    manager.high_watermark_source = lambda: {TopicPartition("t", 0): 500}
    manager.shutdown()
    assert LogManager([d], CONFIG).restored_high_watermark("t", 0) == 10
    (d / "replication-offset-checkpoint").write_text("0\n1\nt 0 1\n")
    assert LogManager([d], CONFIG).restored_high_watermark("t", 0) == 3


def test_max_timestamp_and_offset(log_dir):
    log = Log.open(log_dir, CONFIG)
    assert log.max_timestamp_and_offset() is None
    append(log, (2, 10), timestamp=TS)
    append(log, (3, 10), timestamp=TS + 50)
    while len(log.segments) < 3:
        append(log, (1, 300), timestamp=TS + 10)
    assert log.max_timestamp_and_offset() == (TS + 50, 4)


# -- the retention task (server/log_service.py) over real logs, with a stand-in broker --------


def _service(tmp_path, partitions, *, config=CONFIG, delete_delay_ms="2000"):
    import types

    from kafkalite.replication.partition import Partition, Role
    from kafkalite.server.log_service import LogService

    manager = LogManager([tmp_path / "d"], config)
    parts = {}
    for topic, hw in partitions:
        log = manager.get_or_create_log(topic, 0)
        parts[TopicPartition(topic, 0)] = Partition(
            tp=TopicPartition(topic, 0), log=log, local_broker_id=0, role=Role.LEADER,
            high_watermark=hw)
    replica_manager = types.SimpleNamespace(partitions=parts, get_partition=parts.get)
    broker = types.SimpleNamespace(
        config={"log.retention.check.interval.ms": 10**9,  # checks are called explicitly
                "log.flush.scheduler.interval.ms": 2**63 - 1,
                "producer.id.expiration.ms": 86400000,
                "producer.id.expiration.check.interval.ms": 600000},
        log_manager=manager, replica_manager=replica_manager,
        topic_config_values=lambda topic: {"file.delete.delay.ms": delete_delay_ms})
    return LogService(broker), manager, parts


def test_retention_task_deletes_renames_then_unlinks_after_the_delay(tmp_path):
    import trio
    import trio.testing

    service, manager, parts = _service(tmp_path, [("t", 0)],
                                       config=LogConfig(segment_bytes=1024, retention_ms=DAY))
    log = manager.get_log("t", 0)
    for i in range(12):
        append(log, (1, 200), timestamp=TS + i)
    parts[TopicPartition("t", 0)].high_watermark = log.log_end_offset
    bases = [s.base_offset for s in log.segments]
    pdir = log.dir

    async def main():
        async with trio.open_nursery() as nursery:
            await nursery.start(service.run)
            second = log.segments[1].largest_timestamp
            assert service.check_retention(TS + DAY) == 0  # not yet past retention.ms
            assert service.check_retention(second + DAY + 1) == 2
            assert log.log_start_offset == bases[2]
            assert sorted(p.name for p in pdir.glob("*.log.deleted")) == \
                [f"{b:020d}.log.deleted" for b in bases[:2]]
            await trio.sleep(1.9)
            assert len(list(pdir.glob("*.deleted"))) == 6
            await trio.sleep(0.2)  # file.delete.delay.ms = 2000 has passed
            assert not list(pdir.glob("*.deleted"))
            assert {p.name for p in pdir.glob("*.log")} == {f"{b:020d}.log" for b in bases[2:]}
            nursery.cancel_scope.cancel()

    trio.run(main, clock=trio.testing.MockClock(autojump_threshold=0))


def test_retention_task_respects_the_high_watermark_and_restores_it(tmp_path):
    import trio

    d = tmp_path / "d"
    manager = LogManager([d], CONFIG)
    log = manager.get_or_create_log("t", 0)
    while len(log.segments) < 4:
        append(log, (1, 300))
    manager.high_watermark_source = lambda: {TopicPartition("t", 0): log.segments[2].base_offset}
    manager.shutdown()

    service, manager, parts = _service(tmp_path, [("t", 0)],
                                       config=LogConfig(segment_bytes=1024, retention_ms=0))
    p = parts[TopicPartition("t", 0)]
    log = p.log
    bases = [s.base_offset for s in log.segments]
    assert p.high_watermark == 0
    service.adopt_restored_high_watermarks()  # a new Partition starts from the checkpoint
    assert p.high_watermark == bases[2]
    assert service.high_watermarks() == {TopicPartition("t", 0): bases[2]}
    # everything is past retention.ms = 0, but only segments below the high watermark may go

    async def check():
        return service.check_retention(TS + DAY)
    assert trio.run(check) == 2
    assert log.log_start_offset == bases[2] <= p.high_watermark


def test_flush_task_moves_the_recovery_point(tmp_path):
    import trio

    service, manager, _ = _service(tmp_path, [("t", 0)],
                                   config=LogConfig(segment_bytes=1024, flush_interval_ms=0))
    log = manager.get_log("t", 0)
    while len(log.segments) < 40:
        append(log, (1, 300))
    assert log.recovery_point == 0
    assert service._flush_check_ms() == 10  # flush.ms=0: check as often as allowed
    assert trio.run(service.flush_due_logs, TS) == 1
    assert log.recovery_point == log.log_end_offset
    assert trio.run(service.flush_due_logs, TS) == 0


def test_dirty_leader_epoch_checkpoints_are_written_by_the_service(tmp_path):
    """New leaderships leave their epoch checkpoints dirty; the log service's periodic pass
    writes every one of them (a second later at most), and only those."""
    import trio
    import trio.testing

    from kafkalite.storage.leader_epoch import LEADER_EPOCH_CHECKPOINT

    service, manager, _ = _service(tmp_path, [(f"t{i}", 0) for i in range(450)])
    logs = [manager.get_log(f"t{i}", 0) for i in range(450)]
    for i, log in enumerate(logs):
        if i % 3:
            assert log.assign_epoch_start_offset(7, 0)

    def on_disk(log) -> bytes:
        path = log.dir / LEADER_EPOCH_CHECKPOINT
        return path.read_bytes() if path.exists() else b""

    async def main():
        async with trio.open_nursery() as nursery:
            await nursery.start(service.run)
            assert sum(on_disk(log) == b"0\n1\n7 0\n" for log in logs) == 0
            await trio.sleep(1.01)
            assert [on_disk(log) == b"0\n1\n7 0\n" for log in logs] == \
                [bool(i % 3) for i in range(450)]
            assert not any(log.leader_epoch_cache.dirty for log in logs)
            assert await service.write_dirty_epoch_checkpoints() == 0
            nursery.cancel_scope.cancel()

    trio.run(main, clock=trio.testing.MockClock(autojump_threshold=0))


def test_stopped_logs_are_renamed_at_once_and_deleted_after_the_delay(tmp_path):
    """A deleted topic's logs (StopReplica with delete): renamed ``*-delete`` before the
    answer, their files removed ``file.delete.delay.ms`` later, a few at a time."""
    import trio
    import trio.testing

    service, manager, parts = _service(tmp_path, [("gone", 0), ("kept", 0)],
                                       config=LogConfig(file_delete_delay_ms=5000))
    append(manager.get_log("gone", 0), (1, 200))
    d = tmp_path / "d"

    async def main():
        async with trio.open_nursery() as nursery:
            await nursery.start(service.run)
            staged = manager.stage_deletions([TopicPartition("gone", 0),
                                              TopicPartition("never", 0)])
            assert [lg.topic_partition for lg in staged] == [TopicPartition("gone", 0)]
            assert manager.get_log("gone", 0) is None and manager.get_log("kept", 0)
            assert {p.name for p in d.iterdir() if p.is_dir()} == {"gone-0.0-delete", "kept-0"}
            service.schedule_log_deletion(staged)
            await trio.sleep(4.9)
            assert (d / "gone-0.0-delete").is_dir()
            await trio.sleep(0.2)
            assert {p.name for p in d.iterdir() if p.is_dir()} == {"kept-0"}
            nursery.cancel_scope.cancel()

    trio.run(main, clock=trio.testing.MockClock(autojump_threshold=0))
    # a staged directory left by a crash is removed when the logs are loaded again
    manager.stage_deletions([TopicPartition("kept", 0)])
    assert {p.name for p in d.iterdir() if p.is_dir()} == {"kept-0.0-delete"}
    assert LogManager([d], CONFIG).get_log("kept", 0) is None
    assert not [p for p in d.iterdir() if p.is_dir()]
