"""ListOffsets by timestamp at record precision (Kafka's LogSegment.findOffsetByTimestamp).

The answer is the first record in offset order whose timestamp is >= the target. Producers set
CreateTime, so timestamps may go backwards inside a batch and across batches, and a batch's max
timestamp may belong to any of its records. Every test checks against a brute-force oracle over
the records that were appended.
"""

from __future__ import annotations

import random

import pytest

from kafkalite.compression import GZIP, LZ4, NONE, SNAPPY, ZSTD
from kafkalite.records.batch import LOG_APPEND_TIME
from kafkalite.records.builder import build_batch
from kafkalite.storage import Log, LogConfig
from kafkalite.storage.segment import TimestampAndOffset

from .batches import TS, make_batch

FAR_PAST = 1  # 1970-01-01T00:00:00.001Z
FAR_FUTURE = 32503680000000  # year 3000


def _append(log: Log, timestamps: list[int], *, compression: int = NONE, leader_epoch: int = 0,
            value_size: int = 20, timestamp_type: int = 0, now_ms: int = TS):
    """Append one batch with one record per timestamp; returns [(offset, timestamp)]."""
    records = [(b"k%d" % i, bytes(value_size), (), ts) for i, ts in enumerate(timestamps)]
    buf = bytearray(build_batch(records, compression=compression, timestamp_type=timestamp_type))
    info = log.append_as_leader([(memoryview(buf), len(records))], leader_epoch=leader_epoch,
                                now_ms=now_ms, log_append_time=timestamp_type == LOG_APPEND_TIME)
    stored = [now_ms] * len(timestamps) if timestamp_type == LOG_APPEND_TIME else timestamps
    return [(info.first_offset + i, ts) for i, ts in enumerate(stored)]


def _oracle(appended, target: int, start: int = 0):
    return next(((o, ts) for o, ts in appended if ts >= target and o >= start), None)


def _answer(log: Log, target: int):
    found = log.fetch_offset_by_timestamp(target)
    return None if found is None else (found.offset, found.timestamp)


@pytest.mark.parametrize("compression", [NONE, GZIP, SNAPPY, LZ4, ZSTD])
def test_max_timestamp_in_a_middle_record(log_dir, config, compression):
    log = Log.open(log_dir, config)
    appended = _append(log, [TS + 10, TS + 500, TS + 20], compression=compression)
    appended += _append(log, [TS + 30, TS + 40], compression=compression)
    assert log.fetch_offset_by_timestamp(TS + 400) == TimestampAndOffset(TS + 500, 1, 0)
    assert _answer(log, TS + 15) == (1, TS + 500)  # not offset 2 (ts 20) and not the batch start
    assert _answer(log, TS + 25) == (1, TS + 500)
    assert _answer(log, TS + 501) is None
    for target in (TS, TS + 10, TS + 11, TS + 21, TS + 31, TS + 41, TS + 500):
        assert _answer(log, target) == _oracle(appended, target)


@pytest.mark.parametrize("compression", [NONE, ZSTD])
def test_far_past_and_far_future_create_times(log_dir, config, compression):
    log = Log.open(log_dir, config)
    appended = _append(log, [TS, TS + 1], compression=compression)
    appended += _append(log, [FAR_FUTURE], compression=compression)
    appended += _append(log, [FAR_PAST, TS + 2], compression=compression)
    appended += _append(log, [TS - 86_400_000, FAR_FUTURE + 5, TS + 3], compression=compression)
    assert _answer(log, 0) == (0, TS)
    assert _answer(log, TS + 2) == (2, FAR_FUTURE)  # the future record comes first in the log
    assert _answer(log, FAR_FUTURE) == (2, FAR_FUTURE)
    assert _answer(log, FAR_FUTURE + 1) == (6, FAR_FUTURE + 5)
    assert _answer(log, FAR_FUTURE + 6) is None
    for target in sorted({ts for _, ts in appended} | {ts + 1 for _, ts in appended}):
        assert _answer(log, target) == _oracle(appended, target), target


def test_log_append_time_records_take_the_batch_time(log_dir, config):
    log = Log.open(log_dir, config)
    appended = _append(log, [FAR_FUTURE, FAR_PAST], timestamp_type=LOG_APPEND_TIME,
                       now_ms=TS + 100)
    assert _answer(log, FAR_PAST) == (0, TS + 100)
    assert _answer(log, TS + 100) == (0, TS + 100)
    assert _answer(log, TS + 101) is None
    assert appended == [(0, TS + 100), (1, TS + 100)]


def test_answers_carry_the_batch_leader_epoch(log_dir, config):
    log = Log.open(log_dir, config)
    _append(log, [TS], leader_epoch=3)
    _append(log, [TS + 5], leader_epoch=7)
    assert log.fetch_offset_by_timestamp(TS + 1) == TimestampAndOffset(TS + 5, 1, 7)
    assert log.fetch_offset_by_timestamp(TS) == TimestampAndOffset(TS, 0, 3)


def test_log_start_offset_inside_a_batch(log_dir, config):
    log = Log.open(log_dir, config)
    _append(log, [TS + 9, TS + 1, TS + 2, TS + 3])
    _append(log, [TS + 4])
    log.maybe_increment_log_start_offset(1)
    assert _answer(log, TS) == (1, TS + 1)  # offset 0 (ts 9) is gone
    log.maybe_increment_log_start_offset(3)
    assert _answer(log, TS + 5) is None  # only offset 0 had a later timestamp
    assert _answer(log, TS + 2) == (3, TS + 3)


def test_undecodable_batch_answers_at_batch_granularity(log_dir, config):
    # opaque bytes after a valid header: what kafkalite's header-only validator lets through
    log = Log.open(log_dir, config)
    _append(log, [TS])
    buf = make_batch(3, 40, timestamp=TS + 10, max_timestamp=TS + 30)
    log.append_as_leader([(memoryview(buf), 3)], leader_epoch=2, now_ms=TS)
    assert log.fetch_offset_by_timestamp(TS + 20) == TimestampAndOffset(TS + 30, 1, 2)


@pytest.mark.parametrize("seed", range(6))
def test_random_timestamps_across_segments_match_the_oracle(tmp_path, seed):
    """Many small segments with sparse indexes, non-monotonic timestamps, mixed codecs."""
    rng = random.Random(seed)
    config = LogConfig(segment_bytes=4096, index_interval_bytes=256)
    log = Log.open(tmp_path / "t-0", config)
    appended = []
    for _ in range(120):
        n = rng.randint(1, 6)
        base = TS + rng.randint(-5_000, 50_000)
        stamps = [base + rng.choice([0, rng.randint(-3_000, 3_000), rng.randint(0, 100)])
                  for _ in range(n)]
        if rng.random() < 0.05:
            stamps[rng.randrange(n)] = rng.choice([FAR_PAST, FAR_FUTURE + rng.randint(0, 9)])
        appended += _append(log, stamps, compression=rng.choice([NONE, NONE, GZIP, LZ4, ZSTD]),
                            value_size=rng.randint(0, 120))
    assert len(log.segments) > 5
    targets = [ts + d for _, ts in rng.sample(appended, 60) for d in (-1, 0, 1)]
    targets += [0, FAR_PAST, TS - 10_000, FAR_FUTURE, FAR_FUTURE + 10]
    for target in targets:
        assert _answer(log, target) == _oracle(appended, target), target
    # the same from the files: a reopened log loads the time indexes from disk
    log.close()
    log = Log.open(tmp_path / "t-0", config)
    for target in targets:
        assert _answer(log, target) == _oracle(appended, target), target
    start = appended[len(appended) // 2][0] + 1
    log.maybe_increment_log_start_offset(start)
    for target in targets:
        assert _answer(log, target) == _oracle(appended, target, start), target
    log.close()
