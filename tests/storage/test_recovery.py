import logging
import os
import shutil
import struct

import pytest

from kafkalite.storage import Log, LogConfig

from .batches import append, read_info, split_batches

CONFIG = LogConfig(segment_bytes=64 * 1024, index_interval_bytes=512)


def expected_index(batches, interval=512):
    """Kafka's rule: an entry for a batch when > interval bytes since the previous entry."""
    entries, pos, last_entry = [], 0, 0
    for _, last, raw in batches:
        if pos - last_entry > interval:
            entries.append((last, pos))
            last_entry = pos
        pos += len(raw)
    return entries


def overwrite(path, data):
    """Replace a file's content without O_TRUNC (ext4 flushes files truncated to 0 on close,
    which makes a loop of rewrites crawl on a busy disk)."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT, 0o644)
    try:
        os.pwrite(fd, data, 0)
        os.ftruncate(fd, len(data))
    finally:
        os.close(fd)


def build(log_dir, sizes, config=CONFIG):
    log = Log.open(log_dir, config)
    for i, size in enumerate(sizes):
        append(log, (i % 3 + 1, size))
    log.close()
    return split_batches((log_dir / f"{0:020d}.log").read_bytes())


def test_recovery_from_every_cut_point(tmp_path, caplog):
    template = tmp_path / "template-0"
    batches = build(template, [40, 150, 5, 600, 0, 300, 20, 90, 400, 10])
    assert len(expected_index(batches)) >= 2
    data = (template / f"{0:020d}.log").read_bytes()
    index = (template / f"{0:020d}.index").read_bytes()
    timeindex = (template / f"{0:020d}.timeindex").read_bytes()
    assert expected_index(batches) == [(e[0], e[1]) for e in
                                       [(r, p) for r, p in struct.iter_unpack(">ii", index)]]
    boundaries = [0]
    for _, _, raw in batches:
        boundaries.append(boundaries[-1] + len(raw))
    log_dir = tmp_path / "t-0"
    log_dir.mkdir()
    for cut in range(len(data) + 1):
        # the crash left a torn .log and whatever index files were on disk
        overwrite(log_dir / f"{0:020d}.log", data[:cut])
        overwrite(log_dir / f"{0:020d}.index", index)
        overwrite(log_dir / f"{0:020d}.timeindex", timeindex)
        caplog.clear()
        with caplog.at_level(logging.WARNING, logger="kafkalite.storage"):
            log = Log.open(log_dir, CONFIG, clean_shutdown=False)
        whole = [b for b, end in zip(batches, boundaries[1:]) if end <= cut]
        kept = sum(len(raw) for _, _, raw in whole)
        assert log.log_end_offset == (whole[-1][1] + 1 if whole else 0), cut
        assert log.size == kept
        assert read_info(log.read(0, 10**9)) == b"".join(raw for _, _, raw in whole)
        segment = log.active_segment
        assert segment.offset_index.all_entries() == expected_index(whole)
        assert all(pos < kept for _, pos in segment.offset_index.all_entries())
        if cut != kept:
            assert f"truncating {cut - kept} bytes" in caplog.text
        else:
            assert "truncating" not in caplog.text
        for offset in range(log.log_end_offset):
            (b, last, _), = split_batches(read_info(log.read(offset, 1)))
            assert b <= offset <= last
        log.close()
        assert (log_dir / f"{0:020d}.log").stat().st_size == kept
        assert (log_dir / f"{0:020d}.index").stat().st_size == 8 * len(expected_index(whole))


def test_flipped_byte_cuts_from_that_batch_and_drops_later_segments(tmp_path, caplog):
    log_dir = tmp_path / "t-0"
    log = Log.open(log_dir, LogConfig(segment_bytes=4096, index_interval_bytes=512))
    for _ in range(40):
        append(log, (2, 300))
    assert len(log.segments) >= 3
    first = log.segments[0]
    batches = split_batches(first.log_path.read_bytes())
    log.close()
    victim = 4
    position = sum(len(raw) for _, _, raw in batches[:victim]) + 100
    raw = bytearray(first.log_path.read_bytes())
    raw[position] ^= 0x55
    first.log_path.write_bytes(raw)
    with caplog.at_level(logging.WARNING, logger="kafkalite.storage"):
        log = Log.open(log_dir, LogConfig(segment_bytes=4096, index_interval_bytes=512),
                       clean_shutdown=False)
    assert "CRC mismatch" in caplog.text and "Deleting segment" in caplog.text
    assert len(log.segments) == 1
    assert log.log_end_offset == batches[victim][0]
    assert read_info(log.read(0, 10**9)) == b"".join(r for _, _, r in batches[:victim])
    assert sorted(p.name for p in log_dir.iterdir()) == [
        f"{0:020d}.index", f"{0:020d}.log", f"{0:020d}.timeindex", "leader-epoch-checkpoint"]
    assert append(log, (1, 1))[0].first_offset == batches[victim][0]


def test_recovery_starts_at_the_recovery_point_segment(tmp_path):
    log_dir = tmp_path / "t-0"
    config = LogConfig(segment_bytes=4096, index_interval_bytes=512)
    log = Log.open(log_dir, config)
    for _ in range(40):
        append(log, (2, 300))
    first, last = log.segments[0], log.segments[-1]
    end = log.log_end_offset
    log.close()
    raw = bytearray(first.log_path.read_bytes())
    raw[200] ^= 0x55  # below the recovery point: not re-verified
    first.log_path.write_bytes(raw)
    log = Log.open(log_dir, config, recovery_point=last.base_offset, clean_shutdown=False)
    assert log.log_end_offset == end and log.recovery_point == last.base_offset
    log.close()
    log = Log.open(log_dir, config, recovery_point=0, clean_shutdown=False)
    assert log.log_end_offset < end and len(log.segments) == 1


def test_clean_open_still_checks_the_active_tail(tmp_path, caplog):
    log_dir = tmp_path / "t-0"
    build(log_dir, [100] * 20)
    path = log_dir / f"{0:020d}.log"
    data = path.read_bytes()
    path.write_bytes(data[:-7])  # a SIGKILL mid-write, but the caller claims a clean stop
    with caplog.at_level(logging.WARNING, logger="kafkalite.storage"):
        log = Log.open(log_dir, CONFIG)
    assert "damaged tail" in caplog.text
    assert log.size == len(data) - 161  # the torn 20th batch (100 + 61 bytes) is gone
    assert log.log_end_offset == sum(i % 3 + 1 for i in range(19))
    assert log.recovery_point == 0  # not clean after all: nothing counts as flushed
    assert split_batches(read_info(log.read(0, 10**9)))[-1][1] == log.log_end_offset - 1


def test_missing_or_corrupt_index_is_rebuilt(tmp_path, caplog):
    log_dir = tmp_path / "t-0"
    config = LogConfig(segment_bytes=4096, index_interval_bytes=256)
    log = Log.open(log_dir, config)
    for _ in range(40):
        append(log, (2, 300))
    first = log.segments[0]
    entries = first.offset_index.all_entries()
    end = log.log_end_offset
    log.close()
    (log_dir / f"{0:020d}.index").unlink()
    second = log.segments[1].path(".index")
    second.write_bytes(second.read_bytes() + b"\x01\x02\x03")
    with caplog.at_level(logging.WARNING, logger="kafkalite.storage"):
        log = Log.open(log_dir, config)
        for offset in range(log.log_end_offset):
            (b, last, _), = split_batches(read_info(log.read(offset, 1)))
            assert b <= offset <= last
    assert caplog.text.count("Rebuilding indexes") == 2
    assert log.segments[0].offset_index.all_entries() == entries
    assert log.log_end_offset == end
    log.close()
    assert (log_dir / f"{0:020d}.index").stat().st_size == 8 * len(entries)


def test_leftover_and_orphan_files_are_removed(tmp_path):
    log_dir = tmp_path / "t-0"
    build(log_dir, [10, 20])
    (log_dir / f"{500:020d}.index").write_bytes(b"")
    (log_dir / f"{300:020d}.log.deleted").write_bytes(b"x")
    (log_dir / "leader-epoch-checkpoint").write_bytes(b"0\n0\n")
    log = Log.open(log_dir, CONFIG)
    assert sorted(p.name for p in log_dir.iterdir()) == [
        f"{0:020d}.index", f"{0:020d}.log", f"{0:020d}.timeindex", f"{3:020d}.snapshot",
        "leader-epoch-checkpoint"]
    assert log.log_end_offset == 3


@pytest.mark.parametrize("clean", [True, False])
def test_empty_active_segment_after_roll(tmp_path, clean):
    log_dir = tmp_path / "t-0"
    log = Log.open(log_dir, CONFIG)
    append(log, (3, 10))
    log.roll()
    assert [s.base_offset for s in log.segments] == [0, 3]
    log.close()
    copy = tmp_path / "copy-0"
    shutil.copytree(log_dir, copy)
    log = Log.open(copy, CONFIG, clean_shutdown=clean)
    assert log.log_end_offset == 3 and len(log.segments) == 2
    assert append(log, (1, 1))[0].first_offset == 3
