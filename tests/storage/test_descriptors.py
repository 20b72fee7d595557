"""File descriptors of many logs: opened on use, bounded by the LRU cache, and never closed
under a fetch result that still holds one."""

import os
import shutil

import pytest

from kafkalite.storage import Log, LogConfig
from kafkalite.storage import descriptors as descriptors_module
from kafkalite.storage.descriptors import DescriptorCache
from kafkalite.storage.manager import LogManager

from .batches import append, read_info, split_batches

CONFIG = LogConfig(segment_bytes=64 * 1024, index_interval_bytes=512)
CAPACITY = 16


def open_fds() -> int:
    return len(os.listdir("/proc/self/fd"))


@pytest.fixture
def small_cache(monkeypatch):
    """A cache of CAPACITY descriptors in place of the process-wide one."""
    cache = DescriptorCache(CAPACITY)
    monkeypatch.setattr(descriptors_module.DESCRIPTORS, "capacity", CAPACITY)
    monkeypatch.setattr(descriptors_module.DESCRIPTORS, "_lru", cache._lru)
    return descriptors_module.DESCRIPTORS


def test_cache_releases_the_least_recently_used():
    released = []

    class Owner:
        def __init__(self, name):
            self.name = name

        def _release_descriptor(self):
            released.append(self.name)

    cache = DescriptorCache(2)
    a, b, c = Owner("a"), Owner("b"), Owner("c")
    cache.opened(a)
    cache.opened(b)
    cache.used(a)
    cache.opened(c)
    assert released == ["b"] and len(cache) == 2
    cache.closed(a)
    cache.used(b)   # not in the cache any more: nothing happens
    assert len(cache) == 1


def test_many_logs_stay_within_the_bound_and_keep_their_data(tmp_path, small_cache):
    before = open_fds()
    logs = [Log.open(tmp_path / f"t-{i}", CONFIG) for i in range(60)]
    for round_ in range(3):
        for i, log in enumerate(logs):
            append(log, (1, 700 + i), (2, 40))   # > index interval: index writers open too
            assert open_fds() - before <= CAPACITY
    for i, log in enumerate(logs):
        got = split_batches(read_info(log.read(0, 1 << 20)))
        assert [b[0] for b in got] == [0, 1, 3, 4, 6, 7]
        assert len(got[0][2]) == 61 + 700 + i
        assert open_fds() - before <= CAPACITY
    for log in logs:
        log.close()
    assert open_fds() == before
    # the index files were written through writers that came and went: reopened, they match
    for i in range(60):
        log = Log.open(tmp_path / f"t-{i}", CONFIG)
        assert log.log_end_offset == 9
        assert log.active_segment.offset_index.entries >= 1
        log.close()


def test_a_fetch_result_keeps_an_evicted_descriptor_open(tmp_path, small_cache):
    first = Log.open(tmp_path / "t-0", CONFIG)
    _, bufs = append(first, (1, 100))
    info = first.read(0, 1 << 20)
    others = [Log.open(tmp_path / f"u-{i}", CONFIG) for i in range(2 * CAPACITY)]
    for log in others:
        append(log, (1, 10))
    assert first.active_segment._file is None   # evicted
    assert read_info(info) == bytes(bufs[0])     # the region's descriptor is still the file's
    assert split_batches(read_info(first.read(0, 1 << 20)))[0][2] == bytes(bufs[0])
    for log in [first, *others]:
        log.close()


def test_loading_logs_opens_no_segment_files(tmp_path):
    log_dir = tmp_path / "logs"
    manager = LogManager([log_dir], CONFIG)
    for p in range(40):
        append(manager.get_or_create_log("scale", p), (1, 30))
    manager.shutdown()
    before = open_fds()
    manager = LogManager([log_dir], CONFIG)
    assert len(manager.logs) == 40
    assert open_fds() - before <= 2
    manager.shutdown()


@pytest.mark.parametrize("partitions", [30])
def test_crash_recovery_with_lazily_opened_segments(tmp_path, small_cache, partitions):
    """An unclean stop (no marker, no checkpoint: recovery from offset 0) of more logs than
    the cache holds: every log is recovered, a torn tail cut, and the indexes rebuilt."""
    log_dir = tmp_path / "logs"
    manager = LogManager([log_dir], CONFIG)
    for p in range(partitions):
        log = manager.get_or_create_log("scale", p)
        for _ in range(12):
            append(log, (1, 200))
    # crash: copy the files as they are now, without a shutdown
    crashed = tmp_path / "crashed"
    shutil.copytree(log_dir, crashed)
    manager.shutdown()
    torn = crashed / "scale-7" / f"{0:020d}.log"
    with open(torn, "r+b") as f:
        f.truncate(os.path.getsize(torn) - 50)
    index = crashed / "scale-3" / f"{0:020d}.index"
    index.write_bytes(b"\x00" * 5)   # not a multiple of the entry size
    before = open_fds()
    manager = LogManager([crashed], CONFIG)
    assert not manager.had_clean_shutdown[crashed]
    assert open_fds() - before <= CAPACITY + 2
    for p in range(partitions):
        log = manager.get_log("scale", p)
        assert log.log_end_offset == (11 if p == 7 else 12)
        got = split_batches(read_info(log.read(0, 1 << 20)))
        assert [b[0] for b in got] == list(range(log.log_end_offset))
    assert len((crashed / "scale-3" / f"{0:020d}.index").read_bytes()) % 8 == 0
    manager.shutdown()


def test_a_batch_scan_in_progress_survives_eviction(tmp_path, small_cache):
    log = Log.open(tmp_path / "t-0", CONFIG)
    for _ in range(5):
        append(log, (1, 100))
    scan = log.active_segment.batches()
    first = next(scan)
    others = [Log.open(tmp_path / f"u-{i}", CONFIG) for i in range(2 * CAPACITY)]
    for other in others:
        append(other, (1, 10))
    assert log.active_segment._file is None   # evicted while the scan was paused
    rest = list(scan)
    assert [h.base_offset for _, h in [first, *rest]] == [0, 1, 2, 3, 4]
    for other in [log, *others]:
        other.close()
