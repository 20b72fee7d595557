import datetime

import pytest
from click.testing import CliRunner

from kafkalite.cli.replica_verification import (
    ReplicaData, Verifier, batch_infos, compile_pattern, replica_verification,
    timestamp)
from kafkalite.model import TopicPartition
from kafkalite.records.batch import RecordBatchView
from kafkalite.records.builder import build_batch
from kafkalite.records.legacy import build_legacy_message_set

TP = TopicPartition("t", 0)
NOW = "2024-01-02 03:04:05,006"


def _batch(base_offset, values, ts=1700000000000):
    return build_batch([(None, v, [], ts) for v in values], base_offset=base_offset)


def _log(*batches):
    return b"".join(batches)


def test_timestamp_is_kafkas_format():
    assert timestamp(datetime.datetime(2024, 1, 2, 3, 4, 5, 6789)) == NOW


def test_batch_infos_walk_v2_batches_and_drop_a_trailing_partial_one():
    a, b = _batch(0, [b"x", b"y"]), _batch(2, [b"z"])
    infos = batch_infos(_log(a, b, b[:20]))
    assert [(i.last_offset, i.next_offset, i.checksum) for i in infos] == [
        (1, 2, RecordBatchView(memoryview(a)).crc),
        (2, 3, RecordBatchView(memoryview(b)).crc),
    ]
    assert infos[0].content != infos[1].content
    assert batch_infos(None) == [] and batch_infos(b"") == []


def test_batch_infos_read_legacy_entries():
    ts = 1700000000000
    data = build_legacy_message_set([(None, b"a", [], ts), (None, b"b", [], ts)], magic=1)
    infos = batch_infos(data)
    assert [(i.last_offset, i.next_offset) for i in infos] == [(0, 1), (1, 2)]
    assert infos[0].checksum != infos[1].checksum


def _data(hw, *batches):
    return ReplicaData(high_watermark=hw, batches=tuple(batch_infos(_log(*batches))))


def test_identical_replicas_advance_to_the_lowest_high_watermark():
    log = [_batch(0, [b"a", b"b"]), _batch(2, [b"c"]), _batch(3, [b"d"])]
    v = Verifier({TP: (0, 1)}, {TP: 0})
    # Replica 1 is one batch behind in high watermark: only what both have is verified.
    result = v.verify_round({TP: {0: _data(4, *log), 1: _data(3, *log)}}, NOW)
    assert result.lines == () and not result.diverged and result.checksum_mismatches == 0
    assert v.offsets[TP] == 3
    assert result.caught_up  # up to the lowest high watermark
    assert v.report_line(NOW) == \
        f"{NOW}: max lag is 1 for partition t-0 at offset 3 among 1 partitions"
    result = v.verify_round({TP: {0: _data(4, log[2]), 1: _data(4, log[2])}}, NOW)
    assert v.offsets[TP] == 4 and result.caught_up
    assert v.max_lag == (0, TP, 4)


def test_different_offsets_stop_the_verification():
    v = Verifier({TP: (0, 1)}, {TP: 0})
    result = v.verify_round({TP: {0: _data(3, _batch(0, [b"a", b"b"]), _batch(2, [b"c"])),
                                  1: _data(3, _batch(0, [b"a"]), _batch(1, [b"b", b"c"]))}}, NOW)
    assert result.diverged
    assert result.lines == (
        f"{NOW}: partition t-0: replica 0's offset 1 doesn't match replica 1's offset 0",)


def test_different_checksums_are_reported_and_counted():
    v = Verifier({TP: (0, 1, 2)}, {TP: 0})
    same, other = _batch(0, [b"a"]), _batch(0, [b"A"])
    crc = RecordBatchView(memoryview(same)).crc
    crc_other = RecordBatchView(memoryview(other)).crc
    result = v.verify_round({TP: {0: _data(1, same), 1: _data(1, same), 2: _data(1, other)}}, NOW)
    assert not result.diverged and result.checksum_mismatches == 1 and v.mismatches == 1
    assert result.lines == (f"{NOW}: partition t-0 has unmatched checksum at offset 0; "
                            f"replica 0's checksum {crc}; replica 2's checksum {crc_other}",)
    assert v.offsets[TP] == 1


def test_changed_bytes_under_the_same_stored_checksum_are_a_difference():
    good = _batch(0, [b"hello"])
    bad = bytearray(good)
    bad[-3] ^= 0xFF  # corrupt a value byte, leave the stored CRC alone
    crc = RecordBatchView(memoryview(good)).crc
    v = Verifier({TP: (0, 1)}, {TP: 0})
    result = v.verify_round({TP: {0: _data(1, good), 1: _data(1, bytes(bad))}}, NOW)
    assert result.checksum_mismatches == 1 and not result.diverged
    assert result.lines == (f"{NOW}: partition t-0 has unmatched bytes at offset 0; replica 0 "
                            f"and replica 1 both store checksum {crc} but their contents "
                            "differ",)
    # The partition leader epoch is not part of the comparison.
    other_epoch = bytearray(good)
    RecordBatchView(memoryview(other_epoch)).set_partition_leader_epoch(7)
    v = Verifier({TP: (0, 1)}, {TP: 0})
    assert v.verify_round({TP: {0: _data(1, good), 1: _data(1, bytes(other_epoch))}},
                          NOW).lines == ()


def test_a_missing_or_failed_replica_holds_the_partition_back():
    log = _batch(0, [b"a"])
    v = Verifier({TP: (0, 1)}, {TP: 0})
    result = v.verify_round({TP: {0: _data(1, log)}}, NOW)
    assert not result.caught_up and v.offsets[TP] == 0
    result = v.verify_round({TP: {0: _data(1, log), 1: ReplicaData(error_code=6)}}, NOW)
    assert not result.caught_up and v.offsets[TP] == 0
    result = v.verify_round({TP: {0: _data(1, log), 1: _data(1, log)}}, NOW)
    assert result.caught_up and v.offsets[TP] == 1


def test_data_above_a_replicas_high_watermark_is_not_compared():
    # Replica 1 has an unreplicated, different tail above its high watermark: not a difference.
    v = Verifier({TP: (0, 1)}, {TP: 0})
    a = _batch(0, [b"a"])
    result = v.verify_round({TP: {0: _data(1, a, _batch(1, [b"x"])),
                                  1: _data(1, a, _batch(1, [b"y", b"z"]))}}, NOW)
    assert not result.diverged and result.lines == () and v.offsets[TP] == 1


def test_topic_pattern_is_kafkas_include_list():
    p = compile_pattern('"t.*,other"')
    assert p.fullmatch("topic") and p.fullmatch("other") and not p.fullmatch("xt")


@pytest.mark.parametrize("args, message", [
    ([], "Missing option '--broker-list'"),
    (["--broker-list", "nohost"], "Please provide valid host:port"),
    (["--broker-list", "h:1", "--topic-white-list", "("], "is an invalid regex"),
    (["--broker-list", "h:1", "--max-rounds", "0"], "--max-rounds"),
])
def test_usage_errors(args, message):
    result = CliRunner().invoke(replica_verification, args)
    assert result.exit_code != 0
    assert message in result.output


def test_verdicts_and_exit_codes(capsys):
    from kafkalite.cli.replica_verification import _verdict

    v = Verifier({TP: (0, 1)}, {TP: 0})
    assert _verdict(v, 4, incomplete=False) == 0
    assert _verdict(v, 4, incomplete=True) == 3
    v.mismatches = 2
    assert _verdict(v, 4, incomplete=True) == 1
    out = capsys.readouterr().out.splitlines()
    assert out[0].endswith("verification finished after 4 rounds: all replicas agree.")
    assert "stopped after 4 rounds before catching up" in out[1]
    assert out[2].endswith("2 batch(es) differ between replicas.")
