import os
import random
import struct

import pytest

from kafkalite.errors import (
    CorruptMessage, MessageTooLarge, OffsetOutOfRange, RecordListTooLarge,
)
from kafkalite.model import TopicPartition
from kafkalite.records.builder import build_batch
from kafkalite.storage import Log, LogConfig, UnexpectedAppendOffset, parse_topic_partition

from .batches import TS, append, crc_ok, header, make_batch, read_info, split_batches


def fill(log, n=400, seed=1, max_payload=1500):
    """Append n batches of random record counts/sizes, one or several per call."""
    rng = random.Random(seed)
    appended = []
    while len(appended) < n:
        specs = [(rng.randint(1, 5), rng.randint(0, max_payload))
                 for _ in range(rng.choice([1, 1, 1, 2, 3]))]
        _, bufs = append(log, *specs, now_ms=TS)
        appended += [bytes(b) for b in bufs]
    return appended


def test_append_assigns_offsets_and_patches_in_place(log_dir, config):
    log = Log.open(log_dir, config)
    assert (log.log_start_offset, log.log_end_offset) == (0, 0)
    info, bufs = append(log, (1, 10), (5, 20), (2, 0), leader_epoch=7)
    assert (info.first_offset, info.last_offset) == (0, 7)
    assert info.log_append_time_ms == -1
    assert info.valid_bytes == sum(len(b) for b in bufs)
    assert [header(b)["base_offset"] for b in bufs] == [0, 1, 6]
    assert all(header(b)["leader_epoch"] == 7 for b in bufs)
    assert all(crc_ok(b) for b in bufs)  # offset and epoch are outside the CRC
    assert log.log_end_offset == 8
    info, _ = append(log, (3, 5))
    assert (info.first_offset, info.last_offset) == (8, 10)
    assert read_info(log.read(0, 10**9)) == b"".join(bytes(b) for b in bufs) + bytes(_[0])


def test_round_trip_many_segments(log_dir, config):
    log = Log.open(log_dir, config)
    appended = fill(log)
    assert len(log.segments) > 3
    assert all(s.size <= config.segment_bytes for s in log.segments)
    names = sorted(p.name for p in log_dir.iterdir())
    for segment in log.segments:
        stem = f"{segment.base_offset:020d}"
        assert {stem + ".log", stem + ".index", stem + ".timeindex"} <= set(names)
    bases = [s.base_offset for s in log.segments]
    assert bases == sorted(bases) and bases[0] == 0
    info = log.read(0, 10**9)
    assert len({fd for fd, _, _ in info.regions}) == len(log.segments)
    assert read_info(info) == b"".join(appended)
    # each segment starts with the batch whose base offset is its name
    for segment in log.segments:
        assert segment.read_header(0).base_offset == segment.base_offset


def test_every_offset_lands_on_its_batch(log_dir, config):
    log = Log.open(log_dir, config)
    fill(log, n=250)
    for offset in range(log.log_end_offset):
        (base, last, _), = split_batches(read_info(log.read(offset, 1)))
        assert base <= offset <= last


def test_read_honours_max_bytes_with_whole_batches(log_dir, config):
    log = Log.open(log_dir, config)
    appended = fill(log, n=200)
    rng = random.Random(3)
    for _ in range(200):
        offset = rng.randrange(log.log_end_offset)
        max_bytes = rng.randint(1, 20000)
        info = log.read(offset, max_bytes)
        got = split_batches(read_info(info))
        assert got[0][0] <= offset <= got[0][1]
        if len(got) > 1:
            assert info.size <= max_bytes
        # maximal: the next batch would not have fitted
        start = appended.index(got[0][2])
        following = appended[start + len(got):start + len(got) + 1]
        if following and info.size <= max_bytes:
            assert info.size + len(following[0]) > max_bytes
        assert [g[2] for g in got] == appended[start:start + len(got)]


def test_min_one_batch(log_dir, config):
    log = Log.open(log_dir, config)
    _, bufs = append(log, (1, 1000), (1, 10))
    info = log.read(0, 100)
    assert info.size == len(bufs[0])  # KIP-74: bigger than max_bytes, still returned
    empty = log.read(0, 100, min_one_batch=False)
    assert (empty.regions, empty.size) == ([], 0)
    assert log.read(0, 0).size == len(bufs[0])


def test_read_stops_before_max_offset(log_dir, config):
    log = Log.open(log_dir, config)
    fill(log, n=150)
    rng = random.Random(5)
    for _ in range(100):
        max_offset = rng.randrange(1, log.log_end_offset + 1)
        fetch = rng.randrange(0, max_offset + 1)
        info = log.read(fetch, 10**9, max_offset=max_offset)
        if fetch == max_offset:
            assert info.size == 0 and info.regions == []
            continue
        got = split_batches(read_info(info))
        assert got and all(base < max_offset for base, _, _ in got)
        assert got[-1][1] >= max_offset - 1  # nothing below max_offset left out


def test_out_of_range(log_dir, config):
    log = Log.open(log_dir, config)
    append(log, (3, 10))
    with pytest.raises(OffsetOutOfRange):
        log.read(4, 100)
    with pytest.raises(OffsetOutOfRange):
        log.read(-1, 100)
    assert log.read(3, 100).size == 0  # at the log end: nothing yet
    log.maybe_increment_log_start_offset(2)
    with pytest.raises(OffsetOutOfRange):
        log.read(1, 100)
    (base, last, _), = split_batches(read_info(log.read(2, 100)))
    assert (base, last) == (0, 2)  # the batch containing the log start offset


def test_regions_span_segment_boundaries(log_dir, config):
    log = Log.open(log_dir, config)
    appended = fill(log, n=200)
    second = log.segments[1]
    last_of_first = second.base_offset - 1
    info = log.read(last_of_first, 5000)
    assert len(info.regions) == 2
    assert info.regions[1][0] == second.fd and info.regions[1][1] == 0
    got = split_batches(read_info(info))
    start = appended.index(got[0][2])
    assert [g[2] for g in got] == appended[start:start + len(got)]


def test_log_append_time(log_dir, config):
    log = Log.open(log_dir, config)
    bufs = [make_batch(2, 30, timestamp=5), make_batch(1, 3, timestamp=6)]
    now = TS + 123
    info = log.append_as_leader([(memoryview(b), header(b)["last_offset_delta"] + 1)
                                 for b in bufs], leader_epoch=1, now_ms=now,
                                log_append_time=True)
    assert info.log_append_time_ms == now and info.max_timestamp == now
    assert info.offset_of_max_timestamp == 1
    for b in bufs:
        h = header(b)
        assert h["attributes"] & 0x08 and h["max_timestamp"] == now and crc_ok(b)
    assert read_info(log.read(0, 1000)) == b"".join(bytes(b) for b in bufs)
    topic_lat = Log.open(log_dir.parent / "lat-0",
                         LogConfig(message_timestamp_type="LogAppendTime"))
    info, _ = append(topic_lat, (1, 1), now_ms=99)
    assert info.log_append_time_ms == 99


def test_size_limits(log_dir):
    log = Log.open(log_dir, LogConfig(segment_bytes=4096, max_message_bytes=1000))
    with pytest.raises(MessageTooLarge):
        append(log, (1, 1000))
    with pytest.raises(RecordListTooLarge):
        append(log, *[(1, 900)] * 5)
    with pytest.raises(CorruptMessage):
        log.append_as_leader([(memoryview(make_batch(1, 10))[:-1], 1)], leader_epoch=0,
                             now_ms=0)
    assert log.log_end_offset == 0 and log.size == 0


def test_roll_on_segment_ms(log_dir):
    log = Log.open(log_dir, LogConfig(segment_ms=1000))
    append(log, (1, 1), timestamp=TS)
    append(log, (1, 1), timestamp=TS + 1000)
    assert len(log.segments) == 1
    append(log, (1, 1), timestamp=TS + 1001)
    assert [s.base_offset for s in log.segments] == [0, 2]
    # batches without timestamps: time since creation (now_ms) counts instead
    log2 = Log.open(log_dir.parent / "nots-0", LogConfig(segment_ms=1000))
    append(log2, (1, 1), timestamp=-1, now_ms=0)
    append(log2, (1, 1), timestamp=-1, now_ms=1000)
    append(log2, (1, 1), timestamp=-1, now_ms=1001)
    assert [s.base_offset for s in log2.segments] == [0, 2]


def test_roll_when_index_full(log_dir):
    log = Log.open(log_dir, LogConfig(index_interval_bytes=0, segment_index_bytes=8 * 3))
    for _ in range(10):
        append(log, (1, 1))
    assert all(s.offset_index.entries <= 3 for s in log.segments)
    assert len(log.segments) > 2
    assert split_batches(read_info(log.read(0, 10**9)))[-1][1] == 9


def test_reopen_clean_keeps_everything(log_dir, config):
    log = Log.open(log_dir, config)
    appended = fill(log, n=150)
    end, bases = log.log_end_offset, [s.base_offset for s in log.segments]
    log.close()
    for path in log_dir.glob("*.index"):
        assert path.stat().st_size % 8 == 0
    for path in log_dir.glob("*.timeindex"):
        assert path.stat().st_size % 12 == 0 and path.stat().st_size > 0
    log = Log.open(log_dir, config)
    assert log.log_end_offset == end and [s.base_offset for s in log.segments] == bases
    assert read_info(log.read(0, 10**9)) == b"".join(appended)
    info, _ = append(log, (2, 10))
    assert info.first_offset == end


def test_index_files_are_kafka_layout(log_dir, config):
    log = Log.open(log_dir, config)
    fill(log, n=200)
    log.close()
    for path in sorted(log_dir.glob("*.log")):
        base = int(path.stem)
        data = path.read_bytes()
        batches, pos = {}, 0
        for b, last, raw in split_batches(data):
            batches[pos] = (b, last)
            pos += len(raw)
        index = (path.with_suffix(".index")).read_bytes()
        entries = list(struct.iter_unpack(">ii", index))
        assert entries, "512-byte interval in a 64 KiB segment gives entries"
        previous = 0
        for relative, position in entries:
            assert batches[position][1] == base + relative  # last offset of the batch there
            assert position - previous > 512
            previous = position
        times = list(struct.iter_unpack(">qi", (path.with_suffix(".timeindex")).read_bytes()))
        assert [t for t, _ in times] == sorted({t for t, _ in times})


def test_append_as_follower(tmp_path, config):
    leader = Log.open(tmp_path / "t-0", config)
    fill(leader, n=120)
    follower = Log.open(tmp_path / "f-0", config)
    data = read_info(leader.read(0, 10**9))
    chunk = len(split_batches(data)[0][2]) + len(split_batches(data)[1][2])
    info = follower.append_as_follower(memoryview(bytearray(data[:chunk])))
    assert info.first_offset == 0 and follower.log_end_offset == info.last_offset + 1
    with pytest.raises(UnexpectedAppendOffset):
        follower.append_as_follower(memoryview(bytearray(data[:chunk])))
    info = follower.append_as_follower(memoryview(bytearray(data[chunk:])))
    assert follower.log_end_offset == leader.log_end_offset
    assert read_info(follower.read(0, 10**9)) == data
    assert len(follower.segments) > 1
    assert all(s.size <= config.segment_bytes for s in follower.segments)


def test_append_as_follower_rejects_bad_data_and_allows_gaps(log_dir, config):
    log = Log.open(log_dir, config)
    torn = make_batch(1, 10) + make_batch(1, 10, base_offset=1)[:-3]
    info = log.append_as_follower(memoryview(torn))  # a fetch cut at its size limit
    assert (info.first_offset, info.last_offset, info.valid_bytes) == (0, 0, 71)
    log.truncate_to(0)
    bad = make_batch(1, 10)
    bad[-1] ^= 0xFF
    with pytest.raises(CorruptMessage):
        log.append_as_follower(memoryview(bad))
    assert log.log_end_offset == 0 and log.size == 0
    assert log.append_as_follower(memoryview(b"")).last_offset == -1
    log.append_as_follower(memoryview(make_batch(2, 10, base_offset=0)
                                      + make_batch(1, 10, base_offset=10)))
    assert log.log_end_offset == 11
    with pytest.raises(CorruptMessage):
        log.append_as_follower(memoryview(make_batch(1, 10, base_offset=20)
                                          + make_batch(1, 10, base_offset=20)))
    (b, last, _), = split_batches(read_info(log.read(5, 1)))
    assert (b, last) == (10, 10)  # an offset in a gap reads the next batch


def test_truncate_to(log_dir, config):
    log = Log.open(log_dir, config)
    appended = fill(log, n=200)
    batches = split_batches(b"".join(appended))
    segments_before = len(log.segments)
    target = batches[len(batches) // 3]  # a batch in an early segment
    mid = (target[0] + target[1]) // 2
    assert log.truncate_to(mid)
    assert log.log_end_offset == target[0]  # the batch containing `mid` goes whole
    assert len(log.segments) < segments_before
    kept = [raw for b, _, raw in batches if b < target[0]]
    assert read_info(log.read(0, 10**9)) == b"".join(kept)
    info, _ = append(log, (1, 10))
    assert info.first_offset == target[0]
    assert not log.truncate_to(log.log_end_offset)
    log.close()
    log = Log.open(log_dir, config, clean_shutdown=False)
    assert log.log_end_offset == target[0] + 1
    log.truncate_to(0)
    assert (log.log_start_offset, log.log_end_offset, len(log.segments)) == (0, 0, 1)
    log.truncate_fully_and_start_at(500)
    assert (log.log_start_offset, log.log_end_offset) == (500, 500)
    assert append(log, (1, 1))[0].first_offset == 500
    assert sorted(p.name for p in log_dir.glob("*.log")) == [f"{500:020d}.log"]


def test_regions_stay_readable_after_their_segment_is_deleted(log_dir, config):
    log = Log.open(log_dir, config)
    appended = fill(log, n=150)
    last = log.segments[-1]
    info = log.read(last.base_offset, 10**9)
    expected = read_info(info)
    log.truncate_to(log.segments[1].base_offset)
    assert not last.log_path.exists()
    assert read_info(info) == expected
    assert expected == b"".join(appended)[-len(expected):]


def test_fetch_offset_by_timestamp(log_dir, config):
    log = Log.open(log_dir, config)
    rng = random.Random(9)
    records = []  # (offset, timestamp) of every record
    for i in range(300):
        ts = TS + i * 10 + rng.choice([0, 0, 0, -25])  # mostly increasing, some late ones
        buf = bytearray(build_batch([(None, bytes(rng.randint(0, 600)), (), ts - 3),
                                     (None, b"v", (), ts)]))
        info = log.append_as_leader([(memoryview(buf), 2)], leader_epoch=0, now_ms=TS)
        records += [(info.first_offset, ts - 3), (info.first_offset + 1, ts)]

    def expected(target, start=0):
        return next(((o, ts) for o, ts in records if ts >= target and o >= start), None)

    def answer(target):
        found = log.fetch_offset_by_timestamp(target)
        return found and (found.offset, found.timestamp)

    for target in [TS - 100, TS, TS + 5, TS + 1234, TS + 2990, TS + 5000]:
        assert answer(target) == expected(target)
    log.maybe_increment_log_start_offset(101)
    assert answer(TS - 100) == expected(TS - 100, 101) == (101, records[101][1])
    log.close()
    log = Log.open(log_dir, config, log_start_offset=101)
    assert answer(TS + 1234) == expected(TS + 1234, 101)


def test_flush_and_recovery_point(log_dir):
    log = Log.open(log_dir, LogConfig(segment_bytes=4096, flush_interval_messages=10,
                                      flush_interval_ms=1000))
    assert log.recovery_point == 0 and log.flush_due(0) is None
    append(log, (3, 10))
    assert log.flush_due(1) is None
    assert log.flush_due(1000) == 3
    log.flush(now_ms=1000)
    assert log.recovery_point == 3
    append(log, (10, 10))
    assert log.flush_due(1001) == 13
    log.flush(8)
    assert log.recovery_point == 8
    log.flush()
    for _ in range(5):
        append(log, (1, 1500))
    assert len(log.segments) > 1
    log2 = Log.open(log_dir.parent / "b-0", LogConfig(segment_bytes=4096))
    for _ in range(5):
        append(log2, (1, 1500))
    assert log2.flush_due(0) == log2.active_segment.base_offset  # rolled segments: flush
    log2.flush(log2.flush_due(0))
    assert log2.flush_due(0) is None


def test_closed_log_refuses_work(log_dir, config):
    log = Log.open(log_dir, config)
    log.close()
    log.close()
    with pytest.raises(ValueError):
        append(log, (1, 1))
    with pytest.raises(ValueError):
        log.read(0, 1)


def test_delete(log_dir, config):
    log = Log.open(log_dir, config)
    fill(log, n=20)
    log.delete()
    assert not log_dir.exists()


def test_parse_topic_partition():
    assert parse_topic_partition("my-topic-3") == TopicPartition("my-topic", 3)
    assert parse_topic_partition("a.b_c-10") == TopicPartition("a.b_c", 10)
    for bad in ["topic", "topic-", "-3", "topic-x", "topic-3-delete"]:
        with pytest.raises(ValueError):
            parse_topic_partition(bad)


def test_memoryview_of_bytes_input_is_written_without_copy(log_dir, config, monkeypatch):
    log = Log.open(log_dir, config)
    seen = []
    real = os.pwritev

    def spy(fd, buffers, offset):
        seen.extend(type(b) for b in buffers)
        return real(fd, buffers, offset)

    monkeypatch.setattr(os, "pwritev", spy)
    append(log, (1, 10), (1, 20))
    assert seen == [memoryview, memoryview]


@pytest.mark.parametrize("log_append_time", [False, True])
def test_validated_append_uses_the_validators_headers(log_dir, config, log_append_time):
    """The produce path parses each header once (in validate_batches) and hands it to the log:
    the bytes written, the offsets and the producer state are those of append_as_leader."""
    from kafkalite.records.validate import validate_batches
    old = Log.open(log_dir, config)
    new = Log.open(log_dir.parent / "validated-0", config)
    batches = [make_batch(3, 20, timestamp=TS + 1), make_batch(1, 0, timestamp=TS),
               make_batch(2, 5, producer_id=9, producer_epoch=0, base_sequence=0),
               make_batch(2, 5, producer_id=9, producer_epoch=0, base_sequence=2)]
    for raw in batches:
        copy = bytearray(raw)
        expected = old.append_as_leader([(memoryview(copy), header(copy)["records_count"])],
                                        leader_epoch=4, now_ms=TS + 50,
                                        log_append_time=log_append_time)
        headers = []
        views = validate_batches(memoryview(raw), max_batch_bytes=config.max_message_bytes,
                                 require_single_batch=True, headers=headers)
        assert headers == [tuple(header(raw).values())]
        info = new.append_validated_as_leader([v.buffer for v in views], headers,
                                              leader_epoch=4, now_ms=TS + 50,
                                              log_append_time=log_append_time)
        assert info == expected and raw == copy
    assert read_info(new.read(0, 10**6)) == read_info(old.read(0, 10**6))
    assert new.log_end_offset == 8 and new.producer_state.map_end_offset == 8
    assert list(new.producer_state.producers) == [9]
    assert new.producer_state.get(9).last_seq == 3
    new.close()
    assert Log.open(log_dir.parent / "validated-0", config).producer_state.get(9).last_seq == 3


def test_appends_without_producer_ids_keep_the_snapshot_offset_moving(log_dir):
    """Batches without a producer id skip producer state, but the offset it reflects follows
    the log, so the snapshot written at a roll or on close is at the log end."""
    log = Log.open(log_dir, LogConfig(segment_bytes=600))
    for _ in range(6):
        append(log, (1, 100))
    assert len(log.segments) > 1
    assert log.producer_state.map_end_offset == log.log_end_offset == 6
    log.close()
    assert sorted(int(p.name.split(".")[0]) for p in log_dir.glob("*.snapshot"))[-1] == 6
