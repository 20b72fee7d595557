import gc
import os

import pytest

from kafkalite.records.builder import build_batch
from kafkalite.storage import LogConfig, LogSegment
from kafkalite.storage._batch_header import parse_header, set_base_offset
from kafkalite.storage.segment import _write_all

from .batches import TS, make_batch, split_batches

CONFIG = LogConfig(index_interval_bytes=200)


def segment_with(tmp_path, specs, base=100):
    segment = LogSegment.create(tmp_path, base, CONFIG, now_ms=0)
    offset, bufs = base, []
    for count, payload, ts in specs:
        buf = make_batch(count, payload, base_offset=offset, timestamp=ts)
        offset += count
        bufs.append(buf)
    segment.append([memoryview(b) for b in bufs], [parse_header(b) for b in bufs])
    return segment, bufs


def test_create_refuses_to_overwrite(tmp_path):
    segment, _ = segment_with(tmp_path, [(1, 10, TS)])
    with pytest.raises(FileExistsError):
        LogSegment.create(tmp_path, 100, CONFIG)
    segment.close()
    segment.close()


def test_translate_and_regions(tmp_path):
    specs = [(3, 150, TS + i) for i in range(10)]
    segment, bufs = segment_with(tmp_path, specs)
    sizes = [len(b) for b in bufs]
    assert segment.next_offset == 130 and segment.size == sum(sizes)
    assert segment.offset_index.entries > 0
    pos, header = segment.translate_offset(107)
    assert (pos, header.base_offset) == (sum(sizes[:2]), 106)
    assert segment.translate_offset(130) is None
    assert segment.read_region(99, 10**6) == (0, segment.size)
    assert segment.read_region(107, 3 * sizes[0]) == (pos, 3 * sizes[0])
    assert segment.read_region(107, 3 * sizes[0] - 1) == (pos, 2 * sizes[0])
    assert segment.read_region(107, 5) == (pos, 0)
    assert segment.read_region(107, 5, min_one_batch=True) == (pos, sizes[0])
    limit = segment.max_position_for(112)
    assert limit == sum(sizes[:4])
    assert segment.max_position_for(113) == sum(sizes[:5])  # mid-batch: that batch is in
    assert segment.read_region(107, 10**6, limit) == (pos, limit - pos)
    assert segment.max_timestamp == TS + 9 and segment.offset_of_max_timestamp == 129


def test_find_offset_by_timestamp_decodes_the_candidate_batch(tmp_path):
    segment = LogSegment.create(tmp_path, 100, CONFIG, now_ms=0)
    bufs, offset = [], 100
    for i in range(10):  # 3 records each; the batch max timestamp is the middle record's
        stamps = [TS + 10 * i, TS + 10 * i + 5, TS + 10 * i + 1]
        buf = bytearray(build_batch([(None, bytes(150), (), ts) for ts in stamps]))
        set_base_offset(memoryview(buf), offset)
        offset += 3
        bufs.append(buf)
    segment.append([memoryview(b) for b in bufs], [parse_header(b) for b in bufs])
    assert segment.time_index.entries > 0
    assert segment.find_offset_by_timestamp(TS + 42, 0) == (TS + 45, 113, -1)
    assert segment.find_offset_by_timestamp(TS + 42, 114) == (TS + 50, 115, -1)
    assert segment.find_offset_by_timestamp(TS + 41, 0) == (TS + 45, 113, -1)
    assert segment.find_offset_by_timestamp(TS + 40, 0) == (TS + 40, 112, -1)
    assert segment.find_offset_by_timestamp(TS + 96, 0) is None
    segment.close()


def test_reopen_reads_state_from_disk(tmp_path):
    segment, bufs = segment_with(tmp_path, [(2, 300, TS + i) for i in range(6)])
    entries = segment.offset_index.all_entries()
    segment.close()
    reopened = LogSegment.open(tmp_path, 100, CONFIG)
    assert reopened.size == sum(len(b) for b in bufs)
    assert reopened.next_offset == 112
    assert reopened.max_timestamp == TS + 5  # the final time-index entry written on close
    assert reopened.offset_index.all_entries() == entries
    assert reopened.rolling_based_timestamp == TS
    assert reopened.check_tail() is None
    reopened.close()


def test_truncate_to(tmp_path):
    segment, bufs = segment_with(tmp_path, [(2, 300, TS + i) for i in range(6)])
    assert segment.truncate_to(105) == sum(len(b) for b in bufs[2:])
    assert segment.next_offset == 104 and segment.max_timestamp <= TS + 1
    assert all(pos < segment.size for _, pos in segment.offset_index.all_entries())
    assert segment.truncate_to(104) == 0
    data = os.pread(segment.fd, segment.size, 0)
    assert [b for b, _, _ in split_batches(data)] == [100, 102]


def test_deleted_segment_keeps_fd_for_readers(tmp_path):
    segment, bufs = segment_with(tmp_path, [(1, 10, TS)])
    handle = segment.file_handle
    fd = handle.fd
    segment.delete()
    assert not segment.log_path.exists()
    assert os.pread(fd, len(bufs[0]), 0) == bytes(bufs[0])  # a pending sendfile is fine
    with pytest.raises(ValueError):
        segment.fd
    del handle
    gc.collect()
    with pytest.raises(OSError):
        os.fstat(fd)


def test_write_all_handles_short_writes_and_iov_max(tmp_path, monkeypatch):
    fd = os.open(tmp_path / "f", os.O_RDWR | os.O_CREAT)
    real = os.pwritev

    def short(fd_, buffers, offset):  # write at most 7 bytes per call
        assert len(buffers) <= 1024 and buffers[0].nbytes > 0
        first = bytes(memoryview(buffers[0])[:7])
        return real(fd_, [first], offset)

    monkeypatch.setattr(os, "pwritev", short)
    chunks = [bytes([i % 256]) * (i % 13) for i in range(2000)]
    _write_all(fd, [memoryview(c) for c in chunks], 5, sum(map(len, chunks)))
    monkeypatch.undo()
    assert os.pread(fd, 10**6, 5) == b"".join(chunks)
    with pytest.raises(ValueError):
        _write_all(fd, [b"abc"], 0, 4)
    os.close(fd)
