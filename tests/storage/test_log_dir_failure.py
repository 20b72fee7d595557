"""Offline log dirs (a full disk): the LogManager forgets the dir's logs without writing to
them, skips its checkpoints and clean-shutdown marker, places no log there, and the next start
recovers what it holds. ENOSPC is simulated by making the segment write fail (half written)."""

from __future__ import annotations

import errno
import os

import pytest

from kafkalite.errors import KafkaStorageError
from kafkalite.model import TopicPartition
from kafkalite.storage import LogConfig, LogManager, read_checkpoint
from kafkalite.storage import segment as segment_module

from .batches import append, read_info

CONFIG = LogConfig(segment_bytes=4096, index_interval_bytes=512)
ENOSPC = OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))


@pytest.fixture
def disk_full(monkeypatch):
    """After ``fill()``, segment writes put half their bytes on disk, then fail with
    ENOSPC, as a write to a full file system does."""
    real = segment_module._write_all

    def torn(fd, buffers, position, total):
        data = b"".join(bytes(b) for b in buffers)
        os.pwrite(fd, data[:total // 2], position)
        raise ENOSPC

    def fill():
        monkeypatch.setattr(segment_module, "_write_all", torn)

    def free():
        monkeypatch.setattr(segment_module, "_write_all", real)

    return fill, free


def two_dirs(tmp_path):
    dirs = [tmp_path / "a", tmp_path / "b"]
    manager = LogManager(dirs, CONFIG)
    seen = []
    manager.log_dir_failure_listener = lambda d, tps: seen.append((d, tps))
    return manager, dirs, seen


def test_a_failed_append_takes_its_dir_offline_and_the_next_start_recovers_it(
        tmp_path, disk_full):
    fill, free = disk_full
    manager, dirs, seen = two_dirs(tmp_path)
    in_a = manager.get_or_create_log("t", 0)    # dir a
    in_b = manager.get_or_create_log("t", 1)    # dir b
    in_a2 = manager.get_or_create_log("t", 2)   # dir a
    for lg in (in_a, in_b, in_a2):
        append(lg, (3, 100))
    before = read_info(in_a.read(0, 10**9))
    fill()
    with pytest.raises(OSError):
        append(in_a, (3, 100))
    free()
    assert manager.fail_log_dir(dirs[0], ENOSPC) == [TopicPartition("t", 0),
                                                     TopicPartition("t", 2)]
    assert manager.fail_log_dir(dirs[0], ENOSPC) == []   # once
    assert seen == [(dirs[0], [TopicPartition("t", 0), TopicPartition("t", 2)])]
    assert manager.offline_dirs == {dirs[0]} and manager.live_log_dirs == [dirs[1]]
    assert manager.get_log("t", 0) is None and manager.get_log("t", 1) is in_b
    # New logs go to the live dir only; a log that is not new is not made up elsewhere.
    assert manager.get_or_create_log("t", 3).dir.parent == dirs[1]
    with pytest.raises(KafkaStorageError):
        manager.get_or_create_log("t", 0, is_new=False)
    append(in_b, (1, 10))
    manager.checkpoint()
    manager.shutdown()
    assert (dirs[1] / ".kafka_cleanshutdown").exists()
    assert not (dirs[0] / ".kafka_cleanshutdown").exists()   # so that it is recovered
    assert not (dirs[0] / "recovery-point-offset-checkpoint").exists()

    manager = LogManager(dirs, CONFIG)
    assert manager.offline_dirs == set()
    assert manager.had_clean_shutdown == {dirs[0]: False, dirs[1]: True}
    recovered = manager.get_log("t", 0)
    assert recovered.log_end_offset == 3   # the torn half batch is gone, the rest is there
    assert read_info(recovered.read(0, 10**9)) == before
    assert manager.get_log("t", 1).log_end_offset == 4


def test_a_failed_checkpoint_write_takes_its_dir_offline(tmp_path, monkeypatch):
    manager, dirs, seen = two_dirs(tmp_path)
    manager.get_or_create_log("t", 0)
    manager.get_or_create_log("t", 1)
    from kafkalite.storage import manager as manager_module

    real = manager_module.write_checkpoint

    def write(path, entries):
        if path.parent == dirs[1]:
            raise ENOSPC
        real(path, entries)

    monkeypatch.setattr(manager_module, "write_checkpoint", write)
    manager.checkpoint()
    assert manager.offline_dirs == {dirs[1]}
    assert seen == [(dirs[1], [TopicPartition("t", 1)])]
    assert read_checkpoint(dirs[0] / "recovery-point-offset-checkpoint") == {("t", 0): 0}


def test_creating_a_log_on_a_full_dir_fails_that_dir(tmp_path, monkeypatch):
    manager, dirs, seen = two_dirs(tmp_path)
    from kafkalite.storage import manager as manager_module

    def no_space(*args, **kwargs):
        raise ENOSPC

    monkeypatch.setattr(manager_module.Log, "open", no_space)
    with pytest.raises(KafkaStorageError):
        manager.get_or_create_log("t", 0)
    assert manager.offline_dirs == {dirs[0]} and seen == [(dirs[0], [])]


def test_no_live_dir_left(tmp_path):
    manager, dirs, _ = two_dirs(tmp_path)
    for d in dirs:
        manager.fail_log_dir(d, ENOSPC)
    assert manager.live_log_dirs == []
    with pytest.raises(KafkaStorageError):
        manager.get_or_create_log("t", 0)
    manager.shutdown()
    assert not any((d / ".kafka_cleanshutdown").exists() for d in dirs)


def test_a_dir_that_cannot_be_loaded_is_offline_from_the_start(tmp_path):
    good, bad = tmp_path / "good", tmp_path / "bad"
    bad.write_text("a file where a directory should be")
    manager = LogManager([good, bad], CONFIG)
    assert manager.offline_dirs == {bad} and manager.live_log_dirs == [good]
    with pytest.raises(KafkaStorageError):
        LogManager([bad], CONFIG)
