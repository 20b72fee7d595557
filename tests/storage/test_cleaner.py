"""Log compaction (storage/cleaner.py): the pure decisions, batch filtering, and whole rounds over
real logs in tmp dirs, including swap, crash completion and a hypothesis property."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kafkalite.compression import GZIP, LZ4, NONE, SNAPPY, ZSTD
from kafkalite.errors import InvalidRecord
from kafkalite.records.batch import DELETE_HORIZON_MASK, RecordBatchView, iter_batches
from kafkalite.records.builder import build_batch, build_control_batch
from kafkalite.records.control import ControlType
from kafkalite.records.record import decode_records
from kafkalite.storage import Log, LogConfig
from kafkalite.storage.cleaner import (
    CleanerConfig, CleaningAborted, CleaningJob, LogToClean, OffsetMap, SegmentSizes,
    SegmentStats, choose_log_to_clean, cleanable_offsets, discard_batch, examine_log,
    filter_batch, filter_control_batch, group_segments_by_size, is_compacted,
    offset_map_capacity, should_retain_record, swap_in_cleaned_segments,
    validate_compacted_records,
)
from kafkalite.storage.producer_state import AppendOrigin
from kafkalite.storage.txn_index import AbortedTxn

from tests.storage.batches import read_info

TS = 1_700_000_000_000
CONFIG = LogConfig(segment_bytes=4096, index_interval_bytes=100, cleanup_policy="compact")


# -- helpers ------------------------------------------------------------------------------------


def batch(records, *, base_offset=0, compression=NONE, ts=TS, **kw) -> bytes:
    """records: (key, value) pairs (str or None); timestamps TS, TS+1, ..."""
    enc = [(None if k is None else k.encode(), None if v is None else v.encode(), (), ts + i)
           for i, (k, v) in enumerate(records)]
    return build_batch(enc, base_offset=base_offset, compression=compression, **kw)


def view(data: bytes) -> RecordBatchView:
    return RecordBatchView(memoryview(bytearray(data)))


def append(log: Log, records, **kw):
    buf = bytearray(batch(records, **kw))
    return log.append_as_leader([(memoryview(buf), len(records))], leader_epoch=3, now_ms=TS)


def open_log(path: Path, config: LogConfig = CONFIG) -> Log:
    return Log.open(path / "compacted-0", config)


def run_round(log: Log, *, now_ms: int = TS, last_clean_offset: int | None = None,
              config: CleanerConfig = CleanerConfig(), capacity: int = 10_000,
              last_stable_offset: int | None = None):
    to_clean = examine_log(log, last_clean_offset=last_clean_offset,
                           last_stable_offset=(log.log_end_offset if last_stable_offset is None
                                               else last_stable_offset),
                           now_ms=now_ms, config=config)
    result = CleaningJob(to_clean, now_ms=now_ms, offset_map_capacity=capacity).run()
    assert swap_in_cleaned_segments(log, result)
    return result


def log_batches(log: Log) -> list[RecordBatchView]:
    data = read_info(log.read(log.log_start_offset, 1 << 30, min_one_batch=True))
    return [v for _, v in iter_batches(memoryview(data))]


def log_records(log: Log):
    return [r for v in log_batches(log) for r in decode_records(v)]


def leftovers(log: Log) -> list[str]:
    return sorted(p.name for p in Path(log.dir).iterdir()
                  if p.name.endswith((".cleaned", ".swap", ".deleted")))


# -- pure decisions -----------------------------------------------------------------------------


def test_offset_map_tracks_last_offset_per_key_and_coverage():
    m = OffsetMap(3, start_offset=10)
    assert m.latest_offset == 9 and m.get(b"a") == -1
    m.put(b"a", 10)
    m.put(b"a", 12)
    m.update_latest_offset(12)
    m.update_latest_offset(11)
    assert m.get(b"a") == 12 and len(m) == 1 and m.latest_offset == 12
    assert m.has_room_for(2) and not m.has_room_for(3)


def test_offset_map_capacity_follows_kafka_arithmetic():
    assert offset_map_capacity(128 * 1024 * 1024) == int(128 * 1024 * 1024 // 24 * 0.9)
    assert offset_map_capacity(48, threads=2) == 1


@pytest.mark.parametrize("offset,key,has_value,horizon,now,expected", [
    (20, b"k", True, None, TS, True),         # beyond the mapped range: untouched
    (5, None, True, None, TS, False),         # keyless in a compacted log: dropped
    (5, b"k", True, None, TS, False),         # superseded by offset 8
    (8, b"k", True, None, TS, True),          # the latest value
    (8, b"k", False, None, TS, True),         # latest tombstone, no horizon yet
    (8, b"k", False, TS + 1, TS, True),       # horizon not reached
    (8, b"k", False, TS, TS, False),          # horizon reached
    (7, b"other", True, None, TS, True),      # key not in the dirty section
])
def test_should_retain_record(offset, key, has_value, horizon, now, expected):
    m = OffsetMap(10, start_offset=0)
    m.put(b"k", 8)
    m.update_latest_offset(10)
    assert should_retain_record(offset, key, has_value, m, delete_horizon_ms=horizon,
                                now_ms=now) is expected


def test_is_compacted():
    assert is_compacted("compact") and is_compacted("compact,delete")
    assert is_compacted("delete, compact") and not is_compacted("delete")


SEGS = [SegmentStats(0, 100, TS), SegmentStats(10, 100, TS + 10), SegmentStats(20, 100, TS + 20),
        SegmentStats(30, 50, TS + 30)]  # the last one is active


def offsets(**kw):
    args = dict(log_start_offset=0, log_end_offset=35, last_clean_offset=None,
                last_stable_offset=35, now_ms=TS + 100, min_compaction_lag_ms=0)
    args.update(kw)
    return cleanable_offsets(SEGS, **args)


def test_cleanable_offsets_from_checkpoint_to_active_segment():
    assert offsets() == (0, 30, False)
    assert offsets(last_clean_offset=20) == (20, 30, False)


def test_cleanable_offsets_reset_invalid_checkpoint():
    assert offsets(last_clean_offset=3, log_start_offset=5) == (5, 30, True)
    assert offsets(last_clean_offset=99) == (0, 30, True)


def test_cleanable_offsets_stop_below_last_stable_offset_on_a_segment_boundary():
    assert offsets(last_stable_offset=25) == (0, 20, False)
    assert offsets(last_stable_offset=20) == (0, 20, False)
    assert offsets(last_stable_offset=5, last_clean_offset=10) == (10, 10, False)


def test_cleanable_offsets_honour_min_compaction_lag():
    # segments whose largest timestamp is younger than now - lag are not cleanable
    assert offsets(min_compaction_lag_ms=85) == (0, 20, False)
    assert offsets(min_compaction_lag_ms=101) == (0, 0, False)
    assert offsets(min_compaction_lag_ms=50) == (0, 30, False)


def ltc(clean, dirty, ratio=0.5, **kw):
    return LogToClean(log=None, first_dirty_offset=0, first_uncleanable_offset=0,
                      clean_bytes=clean, dirty_bytes=dirty,
                      config=CleanerConfig(min_cleanable_dirty_ratio=ratio), **kw)


def test_dirty_ratio_decides_and_the_filthiest_log_wins():
    a, b, c = ltc(50, 50), ltc(40, 60), ltc(10, 90, ratio=0.95)
    assert a.cleanable_ratio == 0.5 and not a.should_clean      # must exceed the minimum
    assert b.should_clean and not c.should_clean
    assert choose_log_to_clean([a, b, c]) is b
    assert choose_log_to_clean([a, c]) is None
    assert ltc(100, 0, need_compaction_now=True).should_clean is False
    assert ltc(90, 10, ratio=0.9, need_compaction_now=True).should_clean
    assert ltc(100, 0, tombstones_expired=True).should_clean
    assert not ltc(0, 0, tombstones_expired=True).should_clean


def test_group_segments_by_size():
    segs = [SegmentSizes(0, 400, 8, 12), SegmentSizes(10, 400, 8, 12),
            SegmentSizes(20, 400, 8, 12), SegmentSizes(30, 100, 8, 12)]
    assert group_segments_by_size(segs, max_size=1000, max_index_size=100,
                                  first_uncleanable_offset=40) == [[0, 1], [2, 3]]
    assert group_segments_by_size(segs, max_size=1000, max_index_size=20,
                                  first_uncleanable_offset=40) == [[0], [1], [2], [3]]
    far = [SegmentSizes(0, 10, 0, 0), SegmentSizes(2**31, 10, 0, 0)]
    assert group_segments_by_size(far, max_size=1000, max_index_size=100,
                                  first_uncleanable_offset=2**31 + 5) == [[0], [1]]


# -- one batch ----------------------------------------------------------------------------------


def mapped(**keys) -> OffsetMap:
    m = OffsetMap(100, start_offset=0)
    for k, off in keys.items():
        m.put(k.encode(), off)
    m.update_latest_offset(max(keys.values(), default=0))
    return m


def test_unchanged_batch_is_copied_byte_for_byte():
    data = batch([("a", "1"), ("b", "2")], base_offset=0)
    out = filter_batch(view(data), mapped(a=0, b=1), now_ms=TS, delete_retention_ms=10,
                       retain_empty=False)
    assert out.data == data and not out.changed and out.records_retained == 2


def test_filtered_batch_keeps_offsets_and_producer_fields():
    data = bytearray(batch([("a", "1"), ("b", "2"), ("a", "3"), ("c", "4")], base_offset=100,
                           producer_id=7, producer_epoch=2, base_sequence=40,
                           partition_leader_epoch=5))
    v = view(data)
    out = filter_batch(v, mapped(a=102, b=150, c=103), now_ms=TS, delete_retention_ms=10,
                       retain_empty=False)
    new = view(out.data)
    assert new.is_valid()
    assert (new.base_offset, new.last_offset_delta, new.records_count) == (100, 3, 2)
    assert (new.producer_id, new.producer_epoch, new.base_sequence) == (7, 2, 40)
    assert new.partition_leader_epoch == 5 and new.attributes == v.attributes
    assert [(r.offset, r.key, r.value, r.timestamp) for r in decode_records(new)] == [
        (102, b"a", b"3", TS + 2), (103, b"c", b"4", TS + 3)]
    assert new.max_timestamp == TS + 3


@pytest.mark.parametrize("codec", [GZIP, SNAPPY, LZ4, ZSTD])
def test_compressed_batches_are_recompressed_with_their_codec(codec):
    data = batch([(f"k{i % 3}", f"v{i}" * 20) for i in range(9)], compression=codec)
    out = filter_batch(view(data), mapped(k0=6, k1=7, k2=8), now_ms=TS, delete_retention_ms=10,
                       retain_empty=False)
    new = view(out.data)
    assert new.is_valid() and new.compression == codec and new.last_offset_delta == 8
    assert [(r.offset, r.value) for r in decode_records(new)] == [
        (6, b"v6" * 20), (7, b"v7" * 20), (8, b"v8" * 20)]


def test_tombstone_gets_a_delete_horizon_then_goes_when_it_passes():
    data = batch([("a", "1"), ("b", None), ("c", "3")], base_offset=10)
    m = mapped(a=10, b=11, c=12)
    first = filter_batch(view(data), m, now_ms=TS + 1000, delete_retention_ms=500,
                         retain_empty=False)
    stamped = view(first.data)
    assert stamped.is_valid() and stamped.attributes & DELETE_HORIZON_MASK
    assert stamped.base_timestamp == TS + 1500 == first.pending_horizon_ms
    # record timestamps survive the re-based deltas
    assert [(r.key, r.value, r.timestamp) for r in decode_records(stamped)] == [
        (b"a", b"1", TS), (b"b", None, TS + 1), (b"c", b"3", TS + 2)]
    before = filter_batch(stamped, m, now_ms=TS + 1499, delete_retention_ms=500,
                          retain_empty=False)
    assert before.data == first.data and not before.changed
    after = filter_batch(stamped, m, now_ms=TS + 1500, delete_retention_ms=500,
                         retain_empty=False)
    gone = view(after.data)
    assert after.pending_horizon_ms is None and gone.is_valid()
    assert [(r.offset, r.key, r.timestamp) for r in decode_records(gone)] == [
        (10, b"a", TS), (12, b"c", TS + 2)]
    assert gone.last_offset_delta == 2 and gone.attributes & DELETE_HORIZON_MASK


def test_batch_without_survivors_is_dropped_or_kept_empty():
    data = batch([("a", "1"), ("a", "2")], base_offset=0, producer_id=9, producer_epoch=1,
                 base_sequence=0)
    m = mapped(a=5)
    assert filter_batch(view(data), m, now_ms=TS, delete_retention_ms=0,
                        retain_empty=False).data is None
    kept = view(filter_batch(view(data), m, now_ms=TS, delete_retention_ms=0,
                             retain_empty=True).data)
    assert kept.is_valid() and kept.records_count == 0 and kept.last_offset_delta == 1
    assert (kept.producer_id, kept.producer_epoch, kept.base_sequence) == (9, 1, 0)
    assert kept.compression == NONE and decode_records(kept) == []


def test_control_batches_are_copied_unchanged():
    data = build_control_batch(ControlType.COMMIT, producer_id=3, producer_epoch=0,
                               coordinator_epoch=1, timestamp_ms=TS, base_offset=4)
    out = filter_batch(view(data), mapped(a=9), now_ms=TS, delete_retention_ms=0,
                       retain_empty=False)
    assert out.data == data and not out.changed


def test_keyless_records_are_rejected_for_compacted_topics():
    validate_compacted_records([view(batch([("a", "1")], compression=LZ4))], "t-0")
    with pytest.raises(InvalidRecord, match="Compacted topic cannot accept message without "
                                            "key in topic partition t-0"):
        validate_compacted_records([view(batch([("a", "1"), (None, "2")], compression=GZIP))],
                                   "t-0")


# -- whole rounds over a log ----------------------------------------------------------------------


def fill(log: Log, rounds: int = 4, keys: int = 10, per_batch: int = 5, codec=NONE) -> dict:
    latest = {}
    for r in range(rounds):
        pending = []
        for k in range(keys):
            pending.append((f"key-{k}", f"value-{k}-{r}"))
            latest[f"key-{k}".encode()] = f"value-{k}-{r}".encode()
            if len(pending) == per_batch:
                append(log, pending, compression=codec)
                pending = []
        if pending:
            append(log, pending, compression=codec)
        log.roll()
    return latest


def test_round_keeps_the_latest_value_per_key_and_the_offsets(tmp_path):
    log = open_log(tmp_path)
    latest = fill(log, codec=LZ4)
    before = {r.offset: r for r in log_records(log)}
    end = log.log_end_offset
    result = run_round(log)
    records = log_records(log)
    assert {r.key: r.value for r in records} == latest
    assert len(records) == len(latest)
    assert all(before[r.offset] == r for r in records)
    assert [r.offset for r in records] == sorted(r.offset for r in records)
    assert result.end_offset == log.active_segment.base_offset == end
    assert log.log_end_offset == end and leftovers(log) == []
    assert len(log.segments) == 2  # the four cleaned segments were merged into one


def test_round_builds_indexes_recovery_would_build(tmp_path):
    log = open_log(tmp_path, LogConfig(segment_bytes=100_000, index_interval_bytes=60,
                                       cleanup_policy="compact"))
    fill(log, rounds=6, keys=40, per_batch=3)
    run_round(log)
    cleaned = log.segments[0]
    index = cleaned.offset_index.path.read_bytes()
    time_index = cleaned.time_index.path.read_bytes()
    assert len(index) >= 16 and time_index
    assert cleaned.recover() == 0
    assert cleaned.offset_index.path.read_bytes() == index
    assert cleaned.time_index.path.read_bytes() == time_index


def test_log_reopens_after_a_round(tmp_path):
    log = open_log(tmp_path)
    latest = fill(log)
    run_round(log)
    records = log_records(log)
    log.close()
    reopened = Log.open(log.dir, CONFIG, clean_shutdown=False)
    assert log_records(reopened) == records
    assert {r.key: r.value for r in records} == latest


def test_active_segment_and_data_above_the_last_stable_offset_stay_untouched(tmp_path):
    log = open_log(tmp_path)
    fill(log, rounds=2)
    append(log, [("key-1", "active-1"), ("key-1", "active-2")])
    active = log.active_segment
    size = active.size
    run_round(log, last_stable_offset=log.active_segment.base_offset - 1)
    assert log.active_segment is active and active.size == size
    # the second segment held the uncommitted offset: only the first one was cleaned
    assert [r.value for r in log_records(log) if r.key == b"key-1"] == [
        b"value-1-0", b"value-1-1", b"active-1", b"active-2"]


def test_tombstones_vanish_after_delete_retention(tmp_path):
    log = open_log(tmp_path)
    fill(log, rounds=2)
    append(log, [("key-3", None), ("key-4", None)])
    log.roll()
    cfg = CleanerConfig(delete_retention_ms=1000)
    first = run_round(log, now_ms=TS, config=cfg)
    assert first.pending_horizon_ms == TS + 1000
    assert {r.key: r.value for r in log_records(log)}[b"key-3"] is None
    second = run_round(log, now_ms=TS + 999, config=cfg, last_clean_offset=first.end_offset)
    assert second.pending_horizon_ms == TS + 1000
    assert b"key-3" in {r.key for r in log_records(log)}
    third = run_round(log, now_ms=TS + 1000, config=cfg, last_clean_offset=second.end_offset)
    keys = {r.key for r in log_records(log)}
    assert third.pending_horizon_ms is None
    assert b"key-3" not in keys and b"key-4" not in keys and b"key-5" in keys


def test_min_compaction_lag_keeps_young_segments_dirty(tmp_path):
    log = open_log(tmp_path)
    fill(log, rounds=3)
    to_clean = examine_log(log, last_clean_offset=None, last_stable_offset=log.log_end_offset,
                           now_ms=TS + 5, config=CleanerConfig(min_compaction_lag_ms=1000))
    assert to_clean.first_uncleanable_offset == 0 and not to_clean.should_clean
    to_clean = examine_log(log, last_clean_offset=None, last_stable_offset=log.log_end_offset,
                           now_ms=TS + 5000, config=CleanerConfig(min_compaction_lag_ms=1000))
    assert to_clean.first_uncleanable_offset == log.active_segment.base_offset


def test_last_batch_of_an_active_producer_survives_empty(tmp_path):
    log = open_log(tmp_path)
    append(log, [("a", "1"), ("b", "1")], producer_id=11, producer_epoch=0, base_sequence=0)
    append(log, [("x", "1")])
    append(log, [("a", "2"), ("b", "2")])
    log.roll()
    run_round(log)
    batches = log_batches(log)
    assert [(b.base_offset, b.records_count, b.producer_id) for b in batches] == [
        (0, 0, 11), (2, 1, -1), (3, 2, -1)]
    log.close()
    reopened = Log.open(log.dir, CONFIG, clean_shutdown=False)
    assert reopened.producer_state.get(11).last_offset == 1


def test_full_offset_map_cleans_part_of_the_log(tmp_path):
    log = open_log(tmp_path)
    latest = fill(log, rounds=4, keys=10, per_batch=5)
    first = run_round(log, capacity=10)
    assert first.end_offset < log.active_segment.base_offset
    assert {r.key: r.value for r in log_records(log)} == latest
    second = run_round(log, capacity=10, last_clean_offset=first.end_offset)
    while second.end_offset < log.active_segment.base_offset:
        second = run_round(log, capacity=10, last_clean_offset=second.end_offset)
    records = log_records(log)
    assert {r.key: r.value for r in records} == latest and len(records) == len(latest)


def test_pinned_fetch_regions_survive_the_swap(tmp_path):
    log = open_log(tmp_path)
    fill(log, rounds=3)
    info = log.read(0, 1 << 30)
    expected = read_info(info)
    run_round(log)
    assert read_info(info) == expected  # the old descriptors are still open and readable
    del info


def test_swap_is_refused_when_the_log_changed_meanwhile(tmp_path):
    log = open_log(tmp_path)
    fill(log, rounds=3)
    to_clean = examine_log(log, last_clean_offset=None, last_stable_offset=log.log_end_offset,
                           now_ms=TS, config=CleanerConfig())
    result = CleaningJob(to_clean, now_ms=TS, offset_map_capacity=1000).run()
    assert leftovers(log)
    for segment in log.delete_segments([log.segments[0].base_offset], reason="test"):
        segment.delete()
    assert not swap_in_cleaned_segments(log, result)
    assert leftovers(log) == []


def test_aborted_round_leaves_no_files(tmp_path):
    log = open_log(tmp_path)
    fill(log, rounds=3)
    to_clean = examine_log(log, last_clean_offset=None, last_stable_offset=log.log_end_offset,
                           now_ms=TS, config=CleanerConfig())
    job = CleaningJob(to_clean, now_ms=TS, offset_map_capacity=1000)
    job.abort()
    with pytest.raises(CleaningAborted):
        job.run()
    assert leftovers(log) == []


@pytest.mark.parametrize("stage", ["cleaned", "swap", "half-deleted", "renamed"])
def test_interrupted_swap_is_completed_or_dropped_on_open(tmp_path, stage):
    log = open_log(tmp_path)
    latest = fill(log, rounds=3)
    original = log_records(log)
    to_clean = examine_log(log, last_clean_offset=None, last_stable_offset=log.log_end_offset,
                           now_ms=TS, config=CleanerConfig())
    result = CleaningJob(to_clean, now_ms=TS, offset_map_capacity=1000).run()
    d = Path(log.dir)
    base = f"{result.groups[0].base_offset:020d}"
    log.close()
    if stage != "cleaned":  # the commit point: every file renamed .swap
        for suffix in (".index", ".timeindex", ".log"):
            os.rename(d / f"{base}{suffix}.cleaned", d / f"{base}{suffix}.swap")
    if stage in ("half-deleted", "renamed"):
        old = result.groups[0].old_segments
        for suffix in (".log", ".index", ".timeindex"):
            os.rename(d / f"{old[0].base_offset:020d}{suffix}",
                      d / f"{old[0].base_offset:020d}{suffix}.deleted")
    if stage == "renamed":
        for seg in result.groups[0].old_segments[1:]:
            for suffix in (".log", ".index", ".timeindex"):
                (d / f"{seg.base_offset:020d}{suffix}").unlink()
        os.rename(d / f"{base}.index.swap", d / f"{base}.index")
    reopened = Log.open(d, CONFIG, clean_shutdown=False)
    records = log_records(reopened)
    if stage == "cleaned":
        assert records == original
    else:
        assert {r.key: r.value for r in records} == latest and len(records) == len(latest)
    assert leftovers(reopened) == []


# -- property -----------------------------------------------------------------------------------

ops = st.lists(
    st.one_of(
        st.tuples(st.just("batch"),
                  st.lists(st.tuples(st.integers(0, 5), st.one_of(st.none(), st.text("xyz",
                                                                                      max_size=3))),
                           min_size=1, max_size=6),
                  st.sampled_from([NONE, GZIP, LZ4])),
        st.just(("roll",))),
    min_size=1, max_size=25)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(ops=ops, capacity=st.integers(1, 40))
def test_property_latest_value_per_key_survives(tmp_path_factory, ops, capacity):
    log = Log.open(tmp_path_factory.mktemp("p") / "prop-0", CONFIG)
    for op in ops:
        if op[0] == "roll":
            log.roll()
        else:
            append(log, [(f"k{k}", v) for k, v in op[1]], compression=op[2])
    log.roll()
    original = {r.offset: r for r in log_records(log)}
    latest = {}
    for off in sorted(original):
        latest[original[off].key] = original[off]
    cfg = CleanerConfig(delete_retention_ms=100)

    def clean_fully(now):
        checkpoint = None
        while True:
            result = run_round(log, now_ms=now, last_clean_offset=checkpoint, config=cfg,
                               capacity=capacity)
            checkpoint = result.end_offset
            if checkpoint >= log.active_segment.base_offset:
                return

    def check(tombstones_gone: bool):
        records = log_records(log)
        offsets = [r.offset for r in records]
        assert offsets == sorted(set(offsets))
        assert all(original[r.offset] == r for r in records)
        by_key = {r.key: r for r in records}
        for key, rec in latest.items():
            if rec.value is None and tombstones_gone:
                assert key not in by_key
            else:
                assert by_key[key] == rec
        assert len(records) == len(by_key)

    clean_fully(TS)
    check(tombstones_gone=False)
    clean_fully(TS + 100)
    check(tombstones_gone=True)
    log.close()


# -- transactions -------------------------------------------------------------------------------


def marker(kind, *, pid=3, epoch=0, base_offset=4) -> bytes:
    return build_control_batch(kind, producer_id=pid, producer_epoch=epoch, coordinator_epoch=1,
                               timestamp_ms=TS, base_offset=base_offset)


def test_control_batch_is_kept_while_its_transaction_has_data():
    data = marker(ControlType.ABORT)
    out = filter_control_batch(view(data), can_discard=False, now_ms=TS + 10**9,
                               delete_retention_ms=0, retain_empty=False)
    assert out.data == data and not out.changed and out.pending_horizon_ms is None


def test_marker_without_data_gets_a_horizon_then_goes():
    data = marker(ControlType.COMMIT)
    first = filter_control_batch(view(data), can_discard=True, now_ms=TS + 5,
                                 delete_retention_ms=100, retain_empty=False)
    stamped = view(first.data)
    assert first.changed and first.pending_horizon_ms == TS + 105
    assert stamped.is_valid() and stamped.is_control and stamped.is_transactional
    assert stamped.has_delete_horizon and stamped.base_timestamp == TS + 105
    assert [(r.key, r.value, r.timestamp) for r in decode_records(stamped)] == [
        (r.key, r.value, r.timestamp) for r in decode_records(view(data))]
    waiting = filter_control_batch(stamped, can_discard=True, now_ms=TS + 104,
                                   delete_retention_ms=100, retain_empty=False)
    assert waiting.data == first.data and waiting.pending_horizon_ms == TS + 105
    gone = filter_control_batch(stamped, can_discard=True, now_ms=TS + 105,
                                delete_retention_ms=100, retain_empty=False)
    assert gone.data is None and gone.changed
    kept = view(filter_control_batch(stamped, can_discard=True, now_ms=TS + 105,
                                     delete_retention_ms=100, retain_empty=True).data)
    assert kept.is_valid() and kept.is_control and kept.records_count == 0
    assert (kept.base_offset, kept.producer_id) == (4, 3)


def test_empty_batches_go_unless_retained():
    empty = _empty(marker(ControlType.ABORT))
    for out in (filter_control_batch(view(empty), can_discard=False, now_ms=TS,
                                     delete_retention_ms=0, retain_empty=False),
                filter_batch(view(_empty(batch([("a", "1")], producer_id=3, producer_epoch=0,
                                                base_sequence=0))),
                             mapped(a=9), now_ms=TS, delete_retention_ms=0, retain_empty=False)):
        assert out.data is None and out.changed
    kept = discard_batch(view(empty), retain_empty=True)
    assert kept.data == empty and not kept.changed


def _empty(data: bytes) -> bytes:
    out = discard_batch(view(data), retain_empty=True).data
    assert view(out).records_count == 0
    return out


def txn_append(log: Log, records, *, pid: int, seq: int, epoch: int = 0):
    return append(log, records, producer_id=pid, producer_epoch=epoch, base_sequence=seq,
                  is_transactional=True)


def end_txn(log: Log, pid: int, kind: ControlType, *, epoch: int = 0) -> int:
    """Append a transaction marker as the coordinator does; returns its offset."""
    buf = bytearray(build_control_batch(kind, producer_id=pid, producer_epoch=epoch,
                                        coordinator_epoch=0, timestamp_ms=TS))
    return log.append_as_leader([(memoryview(buf), 1)], leader_epoch=3, now_ms=TS,
                                origin=AppendOrigin.COORDINATOR).first_offset


def replicated(log: Log) -> None:
    """Move the high watermark to the log end (every marker becomes stable) and roll."""
    log.on_high_watermark_updated(log.log_end_offset)
    log.roll()


def clean_to_end(log: Log, *, now_ms: int, config: CleanerConfig = CleanerConfig()):
    return run_round(log, now_ms=now_ms, config=config,
                     last_stable_offset=log.log_end_offset)


def data_records(log: Log):
    return [r for v in log_batches(log) if not v.is_control for r in decode_records(v)]


def values(log: Log) -> dict:
    return {r.key: r.value for r in data_records(log)}


def kinds(log: Log) -> list[tuple[int, str, int]]:
    """(base offset, "data"/"marker", record count) of every batch."""
    return [(b.base_offset, "marker" if b.is_control else "data", b.records_count)
            for b in log_batches(log)]


def test_aborted_records_vanish_and_never_shadow_committed_values(tmp_path):
    log = open_log(tmp_path)
    append(log, [("a", "committed"), ("b", "committed")])          # 0-1
    txn_append(log, [("a", "aborted"), ("c", "aborted")], pid=7, seq=0)  # 2-3
    abort = end_txn(log, 7, ControlType.ABORT)                     # 4
    txn_append(log, [("d", "committed")], pid=7, seq=2)             # 5
    end_txn(log, 7, ControlType.COMMIT)                            # 6
    append(log, [("x", "1")])                                      # 7
    replicated(log)
    entry = AbortedTxn(7, 2, abort, 5)
    assert log.collect_aborted_transactions(0, log.log_end_offset) == [entry]
    clean_to_end(log, now_ms=TS)
    assert values(log) == {b"a": b"committed", b"b": b"committed", b"d": b"committed",
                           b"x": b"1"}
    # the aborted batch is gone whole; its marker stays while this round saw its data
    assert kinds(log) == [(0, "data", 2), (4, "marker", 1), (5, "data", 1), (6, "marker", 1),
                          (7, "data", 1)]
    assert log.collect_aborted_transactions(0, log.log_end_offset) == [entry]


def test_committed_transactional_records_compact_like_any_other(tmp_path):
    log = open_log(tmp_path)
    txn_append(log, [("a", "1"), ("b", "1")], pid=5, seq=0)        # 0-1
    end_txn(log, 5, ControlType.COMMIT)                            # 2
    txn_append(log, [("a", "2")], pid=5, seq=2)                    # 3
    end_txn(log, 5, ControlType.COMMIT)                            # 4
    append(log, [("z", "1")])                                      # 5
    replicated(log)
    clean_to_end(log, now_ms=TS)
    assert [(r.offset, r.key, r.value) for r in data_records(log)] == [
        (1, b"b", b"1"), (3, b"a", b"2"), (5, b"z", b"1")]
    first = log_batches(log)[0]
    assert first.is_transactional and (first.base_offset, first.last_offset_delta) == (0, 1)
    assert (first.producer_id, first.base_sequence) == (5, 0)
    assert kinds(log)[1:3] == [(2, "marker", 1), (3, "data", 1)]
    assert log.collect_aborted_transactions(0, log.log_end_offset) == []


def test_markers_stay_while_their_transaction_has_data_then_go_after_the_horizon(tmp_path):
    log = open_log(tmp_path)
    txn_append(log, [("a", "1")], pid=5, seq=0)                    # 0
    end_txn(log, 5, ControlType.COMMIT)                            # 1
    txn_append(log, [("b", "aborted")], pid=6, seq=0)              # 2
    end_txn(log, 6, ControlType.ABORT)                             # 3
    txn_append(log, [("c", "1")], pid=5, seq=1)                    # 4
    end_txn(log, 5, ControlType.COMMIT)                            # 5
    txn_append(log, [("e", "1")], pid=5, seq=2)                    # 6
    end_txn(log, 5, ControlType.COMMIT)                            # 7
    txn_append(log, [("d", "1")], pid=6, seq=1)                    # 8
    end_txn(log, 6, ControlType.COMMIT)                            # 9
    append(log, [("z", "1")])                                      # 10
    replicated(log)
    cfg = CleanerConfig(delete_retention_ms=1000)

    def markers() -> list[int]:
        return [offset for offset, kind, _ in kinds(log) if kind == "marker"]

    first = clean_to_end(log, now_ms=TS, config=cfg)
    assert markers() == [1, 3, 5, 7, 9] and first.pending_horizon_ms is None
    append(log, [("c", "2")])                                      # 11: supersedes offset 4
    replicated(log)
    second = clean_to_end(log, now_ms=TS, config=cfg)
    # 3 lost its aborted data last round, 5 its data in this one: only 3 gets a horizon
    assert markers() == [1, 3, 5, 7, 9] and second.pending_horizon_ms == TS + 1000
    stamped = {b.base_offset: b.has_delete_horizon for b in log_batches(log) if b.is_control}
    assert stamped == {1: False, 3: True, 5: False, 7: False, 9: False}
    third = clean_to_end(log, now_ms=TS + 999, config=cfg)
    assert markers() == [1, 3, 5, 7, 9] and third.pending_horizon_ms == TS + 1000
    clean_to_end(log, now_ms=TS + 1000, config=cfg)
    assert markers() == [1, 5, 7, 9]
    clean_to_end(log, now_ms=TS + 1999, config=cfg)
    assert markers() == [1, 7, 9]
    # markers of transactions whose data is still there stay, whatever the time
    clean_to_end(log, now_ms=TS + 10**9, config=cfg)
    assert markers() == [1, 7, 9]
    assert values(log) == {b"a": b"1", b"c": b"2", b"d": b"1", b"e": b"1", b"z": b"1"}


def test_open_transactions_and_unreplicated_markers_are_not_cleaned(tmp_path):
    log = open_log(tmp_path)
    append(log, [("a", "1")])                                      # 0
    log.roll()
    txn_append(log, [("a", "open")], pid=9, seq=0)                 # 1
    log.roll()
    append(log, [("a", "2"), ("b", "1")])                          # 2-3
    log.on_high_watermark_updated(log.log_end_offset)
    log.roll()

    def first_uncleanable() -> int:
        return examine_log(log, last_clean_offset=None, last_stable_offset=log.log_end_offset,
                           now_ms=TS, config=CleanerConfig()).first_uncleanable_offset

    assert first_uncleanable() == 1  # the segment holding the open transaction
    run_round(log)
    assert [(r.offset, r.value) for r in data_records(log)] == [
        (0, b"1"), (1, b"open"), (2, b"2"), (3, b"1")]
    end_txn(log, 9, ControlType.COMMIT)                            # 4, not replicated yet
    log.roll()
    assert first_uncleanable() == 1
    log.on_high_watermark_updated(log.log_end_offset)
    assert first_uncleanable() == log.active_segment.base_offset
    run_round(log)
    assert [(r.offset, r.value) for r in data_records(log)] == [(2, b"2"), (3, b"1")]


def aborted_scenario(log: Log) -> tuple[AbortedTxn, AbortedTxn]:
    """Two aborted transactions in two segments: producer 1's data stays (its last batch, kept
    empty), producer 2's goes (it wrote later). Returns their index entries."""
    append(log, [("a", "0")])                                      # 0
    txn_append(log, [("a", "p2")], pid=2, seq=0)                   # 1
    end_txn(log, 2, ControlType.ABORT)                             # 2
    log.roll()
    txn_append(log, [("b", "p1")], pid=1, seq=0)                   # 3
    end_txn(log, 1, ControlType.ABORT)                             # 4
    append(log, [("b", "1")], producer_id=2, producer_epoch=0, base_sequence=1)  # 5
    append(log, [("z", "1")])                                      # 6
    replicated(log)
    return AbortedTxn(1, 3, 4, 5), AbortedTxn(2, 1, 2, 3)


def txn_index_bytes(log: Log) -> bytes | None:
    path = log.segments[0].txn_index.path
    return path.read_bytes() if path.exists() else None


def test_cleaned_segment_indexes_exactly_the_surviving_aborted_transactions(tmp_path):
    log = open_log(tmp_path)
    kept, dropped = aborted_scenario(log)
    end = log.log_end_offset
    assert log.collect_aborted_transactions(0, end) == [dropped, kept]
    cfg = CleanerConfig(delete_retention_ms=1000)
    clean_to_end(log, now_ms=TS, config=cfg)   # aborted data dropped, markers stay
    assert len(log.segments) == 2 and leftovers(log) == []
    assert txn_index_bytes(log) == dropped.encode() + kept.encode()
    assert log.collect_aborted_transactions(0, end) == [dropped, kept]
    clean_to_end(log, now_ms=TS, config=cfg)   # markers without data stamped
    assert log.collect_aborted_transactions(0, end) == [dropped, kept]
    clean_to_end(log, now_ms=TS + 1000, config=cfg)
    assert kinds(log) == [(0, "data", 1), (3, "data", 0), (4, "marker", 1), (5, "data", 1),
                          (6, "data", 1)]
    assert txn_index_bytes(log) == kept.encode()
    assert log.collect_aborted_transactions(0, end) == [kept]
    assert log.collect_aborted_transactions(5, end) == []
    assert values(log) == {b"a": b"0", b"b": b"1", b"z": b"1"}
    log.close()
    reopened = Log.open(log.dir, CONFIG)
    assert reopened.collect_aborted_transactions(0, end) == [kept]
    reopened.close()
    reopened = Log.open(log.dir, CONFIG, clean_shutdown=False, recovery_point=0)
    assert reopened.collect_aborted_transactions(0, end) == [kept]
    assert reopened.segments[0].txn_index.entries == [kept]


def test_segment_left_without_aborted_transactions_has_no_txnindex(tmp_path):
    log = open_log(tmp_path)
    kept, dropped = aborted_scenario(log)
    append(log, [("c", "1")], producer_id=1, producer_epoch=0, base_sequence=1)
    replicated(log)
    cfg = CleanerConfig(delete_retention_ms=0)
    for _ in range(3):
        clean_to_end(log, now_ms=TS, config=cfg)
    assert [kind for _, kind, _ in kinds(log)] == ["data"] * 4
    assert txn_index_bytes(log) is None and leftovers(log) == []
    assert not list(Path(log.dir).glob("*.txnindex*"))
    assert log.collect_aborted_transactions(0, log.log_end_offset) == []


def test_last_marker_of_a_producer_without_data_survives_empty(tmp_path):
    log = open_log(tmp_path)
    txn_append(log, [("a", "aborted")], pid=4, seq=0)              # 0
    end_txn(log, 4, ControlType.ABORT, epoch=1)                    # 1: the coordinator fenced it
    append(log, [("z", "1")])                                      # 2
    replicated(log)
    assert log.producer_state.get(4).last_offset == -1
    cfg = CleanerConfig(delete_retention_ms=0)
    for _ in range(3):
        clean_to_end(log, now_ms=TS, config=cfg)
    assert kinds(log) == [(1, "marker", 0), (2, "data", 1)]
    kept = log_batches(log)[0]
    assert (kept.producer_id, kept.producer_epoch, kept.is_transactional) == (4, 1, True)
    assert log.collect_aborted_transactions(0, log.log_end_offset) == []


@pytest.mark.parametrize("stage", ["cleaned", "swap", "half-deleted", "renamed"])
@pytest.mark.parametrize("survivor", [True, False])
def test_interrupted_swap_keeps_the_cleaned_transaction_index(tmp_path, stage, survivor):
    log = open_log(tmp_path)
    kept, dropped = aborted_scenario(log)
    if not survivor:
        append(log, [("c", "1")], producer_id=1, producer_epoch=0, base_sequence=1)
        replicated(log)
    end = log.log_end_offset
    cfg = CleanerConfig(delete_retention_ms=0)
    clean_to_end(log, now_ms=TS, config=cfg)
    clean_to_end(log, now_ms=TS, config=cfg)
    before = log.collect_aborted_transactions(0, end)
    assert before == [dropped, kept]
    to_clean = examine_log(log, last_clean_offset=None, last_stable_offset=end, now_ms=TS,
                           config=cfg)
    result = CleaningJob(to_clean, now_ms=TS, offset_map_capacity=1000).run()
    d = Path(log.dir)
    base = f"{result.groups[0].base_offset:020d}"
    old = result.groups[0].old_segments
    assert [s.base_offset for s in old] == [0]
    assert (d / f"{base}.txnindex.cleaned").read_bytes() == (kept.encode() if survivor
                                                             else b"")
    log.close()
    suffixes = (".index", ".timeindex", ".txnindex", ".log")
    if stage != "cleaned":
        for suffix in suffixes:
            os.rename(d / f"{base}{suffix}.cleaned", d / f"{base}{suffix}.swap")
    if stage == "half-deleted":  # the old .txnindex is not renamed yet
        for suffix in (".log", ".index", ".timeindex"):
            os.rename(d / f"{base}{suffix}", d / f"{base}{suffix}.deleted")
    if stage == "renamed":  # old segment gone, final renames done but for the .log
        for suffix in suffixes:
            (d / f"{base}{suffix}").unlink()
        for suffix in suffixes[:3]:
            os.rename(d / f"{base}{suffix}.swap", d / f"{base}{suffix}")
    reopened = Log.open(d, CONFIG, clean_shutdown=False)
    expected = before if stage == "cleaned" else [kept] if survivor else []
    assert reopened.collect_aborted_transactions(0, end) == expected
    assert leftovers(reopened) == []
    if stage in ("swap", "half-deleted"):
        assert (d / f"{base}.txnindex").exists() is survivor
    if stage == "renamed":  # an empty index renamed in place stays (harmless) until removed
        assert (d / f"{base}.txnindex").read_bytes() == (kept.encode() if survivor else b"")
        assert [b.base_offset for b in log_batches(reopened) if b.is_control] == (
            [4] if survivor else [])

