"""Leader-epoch cache: Kafka's lookup/truncation semantics, the checkpoint file, and how
``Log`` keeps it (leader and follower appends, truncation, log-start moves, reopen, rebuild)."""

import shutil
import tempfile
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kafkalite.storage import CorruptCheckpoint, Log, LogConfig
from kafkalite.storage.leader_epoch import (
    LEADER_EPOCH_CHECKPOINT, EpochEntry, LeaderEpochCache)

from .batches import append, make_batch, read_info

CONFIG = LogConfig(segment_bytes=4096, index_interval_bytes=512)


def cache_of(*entries) -> LeaderEpochCache:
    return LeaderEpochCache(None, entries)


# -- pure cache ---------------------------------------------------------------------------------


def test_assign_keeps_only_newer_epochs_at_non_decreasing_offsets():
    c = LeaderEpochCache()
    assert c.latest_epoch is None and c.latest_entry is None and len(c) == 0
    assert c.assign(0, 0)
    assert not c.assign(0, 5)        # same epoch again: the first offset stays
    assert c.assign(2, 10)
    assert not c.assign(1, 20)       # older epoch
    assert not c.assign(3, 9)        # start below the latest entry's
    assert not c.assign(-1, 30)      # batch without a leader epoch
    assert c.assign(4, 10)           # equal start is accepted
    assert c.entries == (EpochEntry(0, 0), EpochEntry(2, 10), EpochEntry(4, 10))
    assert c.latest_epoch == 4 and c.latest_entry == (4, 10) and c.earliest_entry == (0, 0)


def test_end_offset_for_follows_kafka():
    c = cache_of((1, 0), (3, 100), (7, 250))
    leo = 300
    assert c.end_offset_for(7, leo) == (7, 300)    # latest: still written, ends at the LEO
    assert c.end_offset_for(3, leo) == (3, 250)    # known: ends where the next one starts
    assert c.end_offset_for(5, leo) == (3, 250)    # unknown, between: largest epoch below
    assert c.end_offset_for(1, leo) == (1, 100)
    assert c.end_offset_for(0, leo) == (0, 0)      # below the first: (requested, first start)
    assert c.end_offset_for(8, leo) == (-1, -1)    # above the latest
    assert c.end_offset_for(-1, leo) == (-1, -1)   # undefined
    assert LeaderEpochCache().end_offset_for(0, 10) == (-1, -1)
    assert LeaderEpochCache().end_offset_for(-1, 10) == (-1, -1)


def test_epoch_for_offset():
    c = cache_of((1, 5), (3, 100))
    assert [c.epoch_for_offset(o) for o in (0, 4, 5, 99, 100, 10**9)] == [
        None, None, 1, 1, 3, 3]


def test_truncate_from_end():
    c = cache_of((1, 0), (3, 100), (7, 250))
    assert not c.truncate_from_end(251)
    assert not c.truncate_from_end(10**9)
    assert c.truncate_from_end(250)
    assert c.entries == ((1, 0), (3, 100))
    assert c.truncate_from_end(50)
    assert c.entries == ((1, 0),)
    assert c.truncate_from_end(0)
    assert c.entries == ()
    assert not c.truncate_from_end(0)


def test_truncate_from_start():
    c = cache_of((1, 0), (3, 100), (7, 250))
    assert not c.truncate_from_start(0)
    assert c.truncate_from_start(150)
    assert c.entries == ((3, 150), (7, 250))
    assert c.truncate_from_start(250)            # exactly at an epoch start: earlier ones go
    assert c.entries == ((7, 250),)
    assert c.truncate_from_start(400)
    assert c.entries == ((7, 400),)
    assert not c.truncate_from_start(400)
    empty = LeaderEpochCache()
    assert not empty.truncate_from_start(10) and empty.entries == ()
    assert not cache_of((2, 50)).truncate_from_start(10)  # before every entry: nothing to drop


def test_clear():
    c = cache_of((1, 0))
    assert c.clear() and c.entries == () and not c.clear()


def test_entries_must_be_ordered():
    with pytest.raises(ValueError):
        cache_of((2, 0), (1, 10))
    with pytest.raises(ValueError):
        cache_of((1, 10), (2, 5))


# Property tests against an independent model: the log as the epoch of every offset.

epoch_runs = st.lists(st.tuples(st.integers(0, 3), st.integers(1, 6)), max_size=12)


def model_log(runs) -> list[int]:
    """Per-offset epochs: runs of (epoch increment, length), epochs never decrease."""
    epochs, epoch = [], -1
    for step, length in runs:
        epoch += step if epochs else step + 1
        epochs += [epoch] * length
    return epochs


def cache_from(epochs: list[int]) -> LeaderEpochCache:
    c = LeaderEpochCache()
    for offset, epoch in enumerate(epochs):
        c.assign(epoch, offset)
    return c


@settings(max_examples=200, deadline=None)
@given(runs=epoch_runs, requested=st.integers(-1, 40))
def test_end_offset_for_matches_the_log(runs, requested):
    log = model_log(runs)
    c = cache_from(log)
    epoch, end = c.end_offset_for(requested, len(log))
    if not log or requested == -1 or requested > log[-1]:
        assert (epoch, end) == (-1, -1)
    elif requested < log[0]:
        assert (epoch, end) == (requested, 0)
    else:
        # the requester's epoch ends where the log first moves past it
        assert end == next((o for o, e in enumerate(log) if e > requested), len(log))
        assert epoch == max(e for e in log if e <= requested)


@settings(max_examples=200, deadline=None)
@given(runs=epoch_runs, cut=st.integers(0, 80))
def test_truncate_from_end_equals_building_the_shorter_log(runs, cut):
    log = model_log(runs)
    c = cache_from(log)
    c.truncate_from_end(cut)
    assert c == cache_from(log[:cut])


@settings(max_examples=200, deadline=None)
@given(runs=epoch_runs, start=st.integers(0, 80))
def test_truncate_from_start_keeps_the_epoch_of_every_remaining_offset(runs, start):
    log = model_log(runs)
    c = cache_from(log)
    c.truncate_from_start(start)
    for offset in range(start, len(log)):
        assert c.epoch_for_offset(offset) == log[offset]
    if start < len(log):
        assert c.earliest_entry == (log[start], start)


@settings(max_examples=100, deadline=None)
@given(runs=epoch_runs)
def test_checkpoint_round_trip(runs):
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / LEADER_EPOCH_CHECKPOINT
        c = cache_from(model_log(runs))
        c.path = path
        c.flush()
        assert LeaderEpochCache.load(path) == c


# -- checkpoint file ----------------------------------------------------------------------------


def test_checkpoint_has_kafkas_format(tmp_path):
    path = tmp_path / LEADER_EPOCH_CHECKPOINT
    c = LeaderEpochCache(path, [(0, 0), (3, 1500)])
    c.flush()
    assert path.read_bytes() == b"0\n2\n0 0\n3 1500\n"
    assert not (tmp_path / (LEADER_EPOCH_CHECKPOINT + ".tmp")).exists()
    LeaderEpochCache(path).flush()
    assert path.read_bytes() == b"0\n0\n"


def test_load_kafka_written_file_missing_and_empty(tmp_path):
    path = tmp_path / LEADER_EPOCH_CHECKPOINT
    assert LeaderEpochCache.load(path).entries == ()
    path.write_bytes(b"")  # Kafka creates the file empty before its first write
    assert LeaderEpochCache.load(path).entries == ()
    path.write_bytes(b"0\n3\n0 0\n1 17\n4 90\n")
    loaded = LeaderEpochCache.load(path)
    assert loaded.entries == ((0, 0), (1, 17), (4, 90)) and loaded.path == path


@pytest.mark.parametrize("data", [
    b"1\n0\n",                 # unknown version
    b"0\n",                    # no count
    b"0\n2\n0 0\n",            # count mismatch
    b"0\n1\n0 0 7\n",          # three fields
    b"0\n1\nx 0\n",            # not a number
    b"0\n2\n3 0\n1 10\n",      # epochs out of order
])
def test_corrupt_checkpoint(tmp_path, data):
    path = tmp_path / LEADER_EPOCH_CHECKPOINT
    path.write_bytes(data)
    with pytest.raises(CorruptCheckpoint):
        LeaderEpochCache.load(path)
    assert LeaderEpochCache.load_or_empty(path).entries == ()


def test_flush_needs_a_path():
    with pytest.raises(ValueError):
        LeaderEpochCache().flush()


# -- Log integration ----------------------------------------------------------------------------


def checkpoint(log_dir) -> bytes:
    return (Path(log_dir) / LEADER_EPOCH_CHECKPOINT).read_bytes()


def test_leader_append_records_the_epoch_once(log_dir):
    log = Log.open(log_dir, CONFIG)
    assert log.latest_epoch is None and not (log_dir / LEADER_EPOCH_CHECKPOINT).exists()
    append(log, (3, 10), leader_epoch=0)
    assert log.latest_epoch == 0 and checkpoint(log_dir) == b"0\n1\n0 0\n"
    inode = (log_dir / LEADER_EPOCH_CHECKPOINT).stat().st_ino
    append(log, (2, 10), (1, 10), leader_epoch=0)
    # same epoch: the checkpoint is not rewritten (atomic writes would change the inode)
    assert (log_dir / LEADER_EPOCH_CHECKPOINT).stat().st_ino == inode
    append(log, (1, 10), (1, 10), leader_epoch=5)   # first offset of the call: 6
    append(log, (1, 10), leader_epoch=4)            # a stale leader's epoch is not recorded
    assert log.leader_epoch_cache.entries == ((0, 0), (5, 6))
    assert checkpoint(log_dir) == b"0\n2\n0 0\n5 6\n"
    assert log.end_offset_for_epoch(0) == (0, 6)
    assert log.end_offset_for_epoch(3) == (0, 6)
    assert log.end_offset_for_epoch(5) == (5, 9) == (5, log.log_end_offset)
    assert log.end_offset_for_epoch(6) == (-1, -1)
    log.close()
    reopened = Log.open(log_dir, CONFIG)
    assert reopened.leader_epoch_cache.entries == ((0, 0), (5, 6))


def test_assign_epoch_start_offset_for_a_new_leader(log_dir):
    log = Log.open(log_dir, CONFIG)
    append(log, (3, 10), leader_epoch=1)
    assert log.assign_epoch_start_offset(2, log.log_end_offset)
    assert not log.assign_epoch_start_offset(2, log.log_end_offset)
    assert log.end_offset_for_epoch(1) == (1, 3)
    append(log, (1, 10), leader_epoch=2)
    assert log.leader_epoch_cache.entries == ((1, 0), (2, 3))
    assert checkpoint(log_dir) == b"0\n2\n1 0\n2 3\n"


def leader_data(tmp_path, epochs_per_call) -> tuple[bytes, Log]:
    leader = Log.open(tmp_path / "leader-0", CONFIG)
    for epoch, specs in epochs_per_call:
        append(leader, *specs, leader_epoch=epoch)
    return read_info(leader.read(0, 10**9)), leader


def test_follower_append_records_each_new_epoch_at_its_batch(tmp_path):
    data, leader = leader_data(tmp_path, [
        (0, [(2, 900)] * 3), (0, [(1, 900)]), (2, [(3, 900), (1, 900)]), (3, [(1, 900)] * 4)])
    assert leader.leader_epoch_cache.entries == ((0, 0), (2, 7), (3, 11))
    follower = Log.open(tmp_path / "f-0", CONFIG)
    follower.append_as_follower(memoryview(bytearray(data)))  # spans several segments
    assert len(follower.segments) > 1
    assert follower.leader_epoch_cache == leader.leader_epoch_cache
    assert checkpoint(tmp_path / "f-0") == b"0\n3\n0 0\n2 7\n3 11\n"
    assert follower.end_offset_for_epoch(2) == leader.end_offset_for_epoch(2) == (2, 11)


def test_follower_append_ignores_batches_without_epoch_and_older_ones(log_dir):
    log = Log.open(log_dir, CONFIG)
    buf = (make_batch(1, 10, base_offset=0, leader_epoch=-1)
           + make_batch(1, 10, base_offset=1, leader_epoch=4)
           + make_batch(1, 10, base_offset=2, leader_epoch=2)
           + make_batch(1, 10, base_offset=3, leader_epoch=4)
           + make_batch(1, 10, base_offset=4, leader_epoch=6))
    log.append_as_follower(memoryview(buf))
    assert log.leader_epoch_cache.entries == ((4, 1), (6, 4))


def test_truncate_to_cuts_the_cache(tmp_path):
    data, _ = leader_data(tmp_path, [(0, [(2, 100)] * 3), (1, [(2, 100)] * 3),
                                     (2, [(2, 100)] * 3)])
    log = Log.open(tmp_path / "f-0", CONFIG)
    log.append_as_follower(memoryview(bytearray(data)))
    assert log.leader_epoch_cache.entries == ((0, 0), (1, 6), (2, 12))
    log.truncate_to(13)       # batches are removed whole: the log ends at 12
    assert log.log_end_offset == 12
    assert log.leader_epoch_cache.entries == ((0, 0), (1, 6))
    assert checkpoint(tmp_path / "f-0") == b"0\n2\n0 0\n1 6\n"
    assert log.end_offset_for_epoch(1) == (1, 12)
    log.truncate_to(8)
    assert log.leader_epoch_cache.entries == ((0, 0), (1, 6))
    # the new leader's data at a higher epoch continues the cache
    log.append_as_follower(memoryview(make_batch(2, 10, base_offset=8, leader_epoch=4)))
    assert log.leader_epoch_cache.entries == ((0, 0), (1, 6), (4, 8))
    log.truncate_fully_and_start_at(30)
    assert log.leader_epoch_cache.entries == () and log.latest_epoch is None
    assert checkpoint(tmp_path / "f-0") == b"0\n0\n"


def test_log_start_moves_cut_the_cache(tmp_path):
    log = Log.open(tmp_path / "t-0", CONFIG)
    for epoch in range(4):
        for _ in range(5):
            append(log, (2, 800), leader_epoch=epoch)
    assert log.leader_epoch_cache.entries == ((0, 0), (1, 10), (2, 20), (3, 30))
    log.maybe_increment_log_start_offset(13, reason="test")
    assert log.leader_epoch_cache.entries == ((1, 13), (2, 20), (3, 30))
    assert checkpoint(tmp_path / "t-0") == b"0\n3\n1 13\n2 20\n3 30\n"
    bases = [s.base_offset for s in log.segments]
    keep = next(i for i, b in enumerate(bases) if b > 20)
    log.delete_segments(bases[:keep], reason="test retention")
    start = log.log_start_offset
    assert start == bases[keep]
    assert log.leader_epoch_cache.entries[0] == (log.leader_epoch_cache.epoch_for_offset(start),
                                                 start)
    assert log.end_offset_for_epoch(0) == (0, start)   # history before the start is gone
    log.close()
    assert Log.open(tmp_path / "t-0", CONFIG, log_start_offset=start).leader_epoch_cache == \
        log.leader_epoch_cache


def test_missing_checkpoint_is_rebuilt_from_batch_headers(tmp_path, caplog):
    log_dir = tmp_path / "t-0"
    log = Log.open(log_dir, CONFIG)
    for epoch in (0, 0, 3, 3, 3, 8):
        append(log, (3, 700), leader_epoch=epoch)
    entries = log.leader_epoch_cache.entries
    assert len(log.segments) > 1
    log.close()
    (log_dir / LEADER_EPOCH_CHECKPOINT).unlink()
    with caplog.at_level("INFO", logger="kafkalite.storage"):
        reopened = Log.open(log_dir, CONFIG)
    assert reopened.leader_epoch_cache.entries == entries == ((0, 0), (3, 6), (8, 15))
    assert "rebuilt" in caplog.text
    assert checkpoint(log_dir) == b"0\n3\n0 0\n3 6\n8 15\n"
    reopened.close()
    # a rebuild honours the log start offset (segments may still hold earlier batches)
    (log_dir / LEADER_EPOCH_CHECKPOINT).unlink()
    assert Log.open(log_dir, CONFIG, log_start_offset=7).leader_epoch_cache.entries == (
        (3, 7), (8, 15))


def test_corrupt_checkpoint_is_rebuilt(tmp_path, caplog):
    log_dir = tmp_path / "t-0"
    log = Log.open(log_dir, CONFIG)
    append(log, (1, 10), leader_epoch=2)
    append(log, (1, 10), leader_epoch=5)
    log.close()
    (log_dir / LEADER_EPOCH_CHECKPOINT).write_bytes(b"0\n7\ngarbage\n")
    with caplog.at_level("WARNING", logger="kafkalite.storage"):
        reopened = Log.open(log_dir, CONFIG)
    assert "leader epoch checkpoint" in caplog.text
    assert reopened.leader_epoch_cache.entries == ((2, 0), (5, 1))
    assert checkpoint(log_dir) == b"0\n2\n2 0\n5 1\n"


def test_recovery_cut_drops_epochs_past_the_new_end(tmp_path):
    log_dir = tmp_path / "t-0"
    log = Log.open(log_dir, CONFIG)
    append(log, (2, 100), leader_epoch=1)
    append(log, (2, 100), leader_epoch=2)
    append(log, (2, 100), leader_epoch=3)
    assert log.leader_epoch_cache.entries == ((1, 0), (2, 2), (3, 4))
    log.close()
    segment = log_dir / f"{0:020d}.log"
    data = segment.read_bytes()
    copy = tmp_path / "copy-0"
    shutil.copytree(log_dir, copy)
    # the crash tore the last batch: the checkpoint (written first) is ahead of the data
    (copy / f"{0:020d}.log").write_bytes(data[:-5])
    recovered = Log.open(copy, CONFIG, clean_shutdown=False)
    assert recovered.log_end_offset == 4
    assert recovered.leader_epoch_cache.entries == ((1, 0), (2, 2))
    assert checkpoint(copy) == b"0\n2\n1 0\n2 2\n"
    # a checkpoint behind the data (crash between append and checkpoint) is completed
    (log_dir / LEADER_EPOCH_CHECKPOINT).write_bytes(b"0\n1\n1 0\n")
    assert Log.open(log_dir, CONFIG).leader_epoch_cache.entries == ((1, 0), (2, 2), (3, 4))


def test_rename_dir_moves_the_checkpoint_target(tmp_path):
    log = Log.open(tmp_path / "t-0", CONFIG)
    append(log, (1, 10), leader_epoch=1)
    moved = tmp_path / "t-0.abc-delete"
    log.rename_dir(moved)
    append(log, (1, 10), leader_epoch=2)
    assert checkpoint(moved) == b"0\n2\n1 0\n2 1\n"
    assert not (tmp_path / "t-0").exists()


@pytest.mark.parametrize("lost_as", ["missing", "empty", "stale"])
def test_become_leader_entry_lost_in_a_crash_is_rebuilt_from_the_data(log_dir, lost_as):
    """assign_epoch_start_offset writes its checkpoint without fsync: whatever a crash leaves
    (no file, an empty one, the previous one), loading gets the epochs back from the data."""
    log = Log.open(log_dir, CONFIG)
    append(log, (3, 10), leader_epoch=1)
    log.leader_epoch_cache.flush()
    stale = checkpoint(log_dir)
    assert log.assign_epoch_start_offset(2, log.log_end_offset)
    append(log, (2, 10), leader_epoch=2)
    crashed = log_dir.parent / "crashed-0"
    shutil.copytree(log_dir, crashed)   # the files as a SIGKILL or power cut leaves them
    log.close()
    path = crashed / "leader-epoch-checkpoint"
    if lost_as == "missing":
        path.unlink()
    else:
        path.write_bytes(b"" if lost_as == "empty" else stale)
    reopened = Log.open(crashed, CONFIG, clean_shutdown=False)
    assert reopened.leader_epoch_cache.entries == ((1, 0), (2, 3))
    assert reopened.end_offset_for_epoch(1) == (1, 3)


def test_become_leader_entry_without_data_goes_at_the_next_load(log_dir):
    log = Log.open(log_dir, CONFIG)
    append(log, (3, 10), leader_epoch=1)
    assert log.assign_epoch_start_offset(2, log.log_end_offset)
    crashed = log_dir.parent / "crashed-0"
    shutil.copytree(log_dir, crashed)
    log.close()
    reopened = Log.open(crashed, CONFIG, clean_shutdown=False)
    assert reopened.leader_epoch_cache.entries == ((1, 0),)


def test_a_new_leaders_epoch_is_checkpointed_later_not_at_once(log_dir):
    """Taking leadership only marks the checkpoint dirty (thousands of leaderships at once
    would each write a file); the periodic pass, the epoch's first batch or closing the log
    writes it."""
    log = Log.open(log_dir, CONFIG)
    append(log, (3, 10), leader_epoch=1)
    before = checkpoint(log_dir)
    assert log.assign_epoch_start_offset(2, log.log_end_offset)
    assert checkpoint(log_dir) == before and log.leader_epoch_cache.dirty
    assert log.write_dirty_epoch_checkpoint()
    assert checkpoint(log_dir) == b"0\n2\n1 0\n2 3\n"
    assert not log.leader_epoch_cache.dirty and not log.write_dirty_epoch_checkpoint()
    assert log.assign_epoch_start_offset(5, log.log_end_offset)
    log.close()
    assert checkpoint(log_dir) == b"0\n3\n1 0\n2 3\n5 3\n"
