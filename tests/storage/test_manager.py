import logging

import pytest

from kafkalite.errors import ConfigError, InvalidTopicException
from kafkalite.model import TopicPartition
from kafkalite.storage import LogConfig, LogManager, read_checkpoint

from .batches import append, read_info

CONFIG = LogConfig(segment_bytes=4096, index_interval_bytes=512)


def test_startup_creates_dirs_and_logs(tmp_path):
    dirs = [tmp_path / "a", tmp_path / "b"]
    manager = LogManager(dirs, CONFIG)
    assert all(d.is_dir() for d in dirs)
    assert manager.had_clean_shutdown == {dirs[0]: False, dirs[1]: False}
    log = manager.get_or_create_log("my-topic", 0)
    assert manager.get_or_create_log("my-topic", 0) is log
    assert manager.get_log("my-topic", 0) is log and manager.get_log("my-topic", 1) is None
    assert log.dir == dirs[0] / "my-topic-0"
    assert log.topic_partition == TopicPartition("my-topic", 0)
    with pytest.raises(InvalidTopicException):
        manager.get_or_create_log("bad/name", 0)


def test_clean_shutdown_round_trip(tmp_path):
    dirs = [tmp_path / "a", tmp_path / "b"]
    manager = LogManager(dirs, CONFIG)
    for p in range(4):
        log = manager.get_or_create_log("t", p)
        for _ in range(p * 5):
            append(log, (2, 300))
    manager.get_log("t", 3).maybe_increment_log_start_offset(4)
    contents = {tp: read_info(log.read(log.log_start_offset, 10**9))
                for tp, log in manager.logs.items()}
    manager.shutdown()
    for d in dirs:
        assert (d / ".kafka_cleanshutdown").exists()
    assert read_checkpoint(dirs[0] / "recovery-point-offset-checkpoint") == {
        ("t", 0): 0, ("t", 2): 20}
    assert read_checkpoint(dirs[1] / "recovery-point-offset-checkpoint") == {
        ("t", 1): 10, ("t", 3): 30}
    assert read_checkpoint(dirs[1] / "log-start-offset-checkpoint") == {
        ("t", 1): 0, ("t", 3): 4}
    with pytest.raises(ValueError):
        manager.get_or_create_log("t", 9)

    manager = LogManager(dirs, CONFIG)
    assert manager.had_clean_shutdown == {dirs[0]: True, dirs[1]: True}
    assert not any((d / ".kafka_cleanshutdown").exists() for d in dirs)
    assert set(manager.logs) == {TopicPartition("t", p) for p in range(4)}
    for tp, log in manager.logs.items():
        assert log.log_end_offset == tp.partition * 10
        assert log.recovery_point == log.log_end_offset
        assert read_info(log.read(log.log_start_offset, 10**9)) == contents[tp]
    assert manager.get_log("t", 3).log_start_offset == 4
    assert manager.log_dir_of("t", 1) == dirs[1]


def test_unclean_restart_recovers_from_the_recovery_point(tmp_path, caplog):
    dirs = [tmp_path / "a"]
    manager = LogManager(dirs, CONFIG)
    log = manager.get_or_create_log("t", 0)
    for _ in range(20):
        append(log, (2, 300))
    log.flush(10)
    manager.checkpoint()
    end = log.log_end_offset
    active = log.active_segment.log_path
    log.close()  # simulate a crash: no shutdown(), no marker
    data = active.read_bytes()
    active.write_bytes(data[:-5])
    with caplog.at_level(logging.WARNING, logger="kafkalite.storage"):
        manager = LogManager(dirs, CONFIG)
    log = manager.get_log("t", 0)
    assert log.log_end_offset == end - 2 and log.recovery_point == 10
    assert "Recovery cut 356 invalid bytes" in caplog.text


def test_corrupt_checkpoint_means_full_recovery(tmp_path, caplog):
    dirs = [tmp_path / "a"]
    manager = LogManager(dirs, CONFIG)
    append(manager.get_or_create_log("t", 0), (1, 10))
    manager.shutdown()
    (dirs[0] / "recovery-point-offset-checkpoint").write_text("garbage")
    (dirs[0] / ".kafka_cleanshutdown").unlink()
    with caplog.at_level(logging.WARNING, logger="kafkalite.storage"):
        manager = LogManager(dirs, CONFIG)
    assert "resetting it" in caplog.text
    assert manager.get_log("t", 0).log_end_offset == 1


def test_new_partitions_go_to_the_emptiest_dir(tmp_path):
    dirs = [tmp_path / "a", tmp_path / "b", tmp_path / "c"]
    (dirs[1] / "old-0").mkdir(parents=True)
    (dirs[1] / "old-1").mkdir()
    manager = LogManager(dirs, CONFIG)
    placed = [manager.get_or_create_log("new", p).dir.parent for p in range(7)]
    assert placed == [dirs[0], dirs[2], dirs[0], dirs[2], dirs[0], dirs[1], dirs[2]]
    counts = {d: sum(1 for tp in manager.logs if manager.log_dir_of(tp.topic, tp.partition) == d)
              for d in dirs}
    assert counts == {dirs[0]: 3, dirs[1]: 3, dirs[2]: 3}


def test_skips_foreign_dirs_and_removes_staged_deletions(tmp_path):
    d = tmp_path / "a"
    for name in ["t-0", "t-1.abc-delete", "t-2-future", "lost+found", "no_partition"]:
        (d / name).mkdir(parents=True)
    (d / "t-1.abc-delete" / "00000000000000000000.log").write_bytes(b"")
    (d / "some-file-3").write_text("not a dir")
    manager = LogManager([d], CONFIG)
    assert set(manager.logs) == {TopicPartition("t", 0)}
    assert not (d / "t-1.abc-delete").exists()
    assert (d / "t-2-future").exists() and (d / "lost+found").exists()


def test_delete_log(tmp_path):
    d = tmp_path / "a"
    manager = LogManager([d], CONFIG)
    log = manager.get_or_create_log("t", 0)
    append(log, (1, 10))
    info = log.read(0, 100)
    assert manager.delete_log("t", 0)
    assert not manager.delete_log("t", 0)
    assert manager.get_log("t", 0) is None
    assert sorted(p.name for p in d.iterdir()) == []
    assert len(read_info(info)) == info.size  # an in-flight fetch still reads its bytes
    log = manager.get_or_create_log("t", 0)
    assert log.log_end_offset == 0


def test_duplicate_partition_dirs_are_refused(tmp_path):
    (tmp_path / "a" / "t-0").mkdir(parents=True)
    (tmp_path / "b" / "t-0").mkdir(parents=True)
    with pytest.raises(ConfigError, match="Duplicate log directories"):
        LogManager([tmp_path / "a", tmp_path / "b"], CONFIG)
    with pytest.raises(ConfigError):
        LogManager([tmp_path / "a", tmp_path / "a"], CONFIG)
    with pytest.raises(ConfigError):
        LogManager([], CONFIG)


def test_meta_properties(tmp_path):
    dirs = [tmp_path / "a", tmp_path / "b"]
    manager = LogManager(dirs, CONFIG)
    manager.write_meta_properties(1, "cluster-A")
    assert manager.read_meta_properties() == {
        d: {"version": "0", "broker.id": "1", "cluster.id": "cluster-A"} for d in dirs}
    manager.write_meta_properties(1, "cluster-A")  # same identity: fine
    with pytest.raises(ConfigError, match="broker.id"):
        manager.write_meta_properties(2, "cluster-A")
    with pytest.raises(ConfigError, match="Cluster ID"):
        manager.write_meta_properties(1, "cluster-B")
    (dirs[1] / "meta.properties").unlink()
    with pytest.raises(ConfigError):
        manager.write_meta_properties(2, "cluster-A")
    assert not (dirs[1] / "meta.properties").exists()  # nothing written on a mismatch


def test_topic_configs(tmp_path):
    big = LogConfig(segment_bytes=10**6)
    manager = LogManager([tmp_path / "a"], CONFIG,
                         config_for_topic=lambda t: big if t == "big" else CONFIG)
    assert manager.get_or_create_log("big", 0).config is big
    assert manager.get_or_create_log("small", 0).config is CONFIG
    assert manager.get_or_create_log("x", 0, CONFIG).config is CONFIG
    manager.shutdown()
    manager = LogManager([tmp_path / "a"], CONFIG,
                         config_for_topic=lambda t: big if t == "big" else CONFIG)
    assert manager.get_log("big", 0).config is big
