"""The produce-consume-validate checker and the replica-log comparison, on hand-made inputs."""

from __future__ import annotations

from kafkalite.records.builder import build_batch
from kafkalite.testing.verifying import (Ack, check_delivery, compare_replica_logs, replica_log,
                                         replica_log_ends)


def test_all_acknowledged_at_their_offsets_is_ok():
    final = {(0, 0): b"a", (0, 1): b"b", (1, 0): b"c"}
    report = check_delivery([Ack(0, 0, b"a"), Ack(1, 0, b"c")], final, consumed=final)
    assert report.ok and report.acked == 2 and report.duplicates == 0, report


def test_an_acknowledged_write_replaced_or_missing_is_lost():
    final = {(0, 0): b"a", (0, 1): b"x"}
    report = check_delivery([Ack(0, 0, b"a"), Ack(0, 1, b"b"), Ack(0, 2, b"c")], final)
    assert not report.ok
    assert report.lost == [Ack(0, 1, b"b"), Ack(0, 2, b"c")]


def test_an_offset_seen_with_two_values_is_a_conflict_however_noticed():
    final = {(0, 0): b"a", (0, 1): b"b"}
    by_consumer = check_delivery([], final, consumer_conflicts=[(0, 1, b"old", b"b")])
    by_acks = check_delivery([Ack(0, 1, b"b"), Ack(0, 1, b"z")], final)
    by_final_read = check_delivery([], final, consumed={(0, 1): b"old"})
    for report in (by_consumer, by_acks, by_final_read):
        assert not report.ok and len(report.conflicts) == 1, report


def test_gaps_fail_and_retried_duplicates_do_not():
    report = check_delivery([], {(0, 0): b"a", (0, 2): b"a", (0, 3): b"b"})
    assert report.gaps == [(0, 1)] and report.duplicates == 1 and not report.ok
    report = check_delivery([], {(0, 0): b"a", (0, 1): b"a"})
    assert report.ok and report.duplicates == 1


def batch(base_offset: int, n: int, epoch: int = 0) -> bytes:
    return build_batch([(None, b"v%d" % (base_offset + i), (), 1000) for i in range(n)],
                       base_offset=base_offset, partition_leader_epoch=epoch)


def write_replica(log_dir, segments: dict[int, list[bytes]]) -> None:
    pdir = log_dir / "t-0"
    pdir.mkdir(parents=True)
    for base, batches in segments.items():
        (pdir / f"{base:020d}.log").write_bytes(b"".join(batches))


def test_replicas_with_the_same_batches_match_across_segment_boundaries(tmp_path):
    write_replica(tmp_path / "a", {0: [batch(0, 3), batch(3, 2)], 5: [batch(5, 4)]})
    write_replica(tmp_path / "b", {0: [batch(0, 3)], 3: [batch(3, 2), batch(5, 4)]})
    dirs = {0: tmp_path / "a", 1: tmp_path / "b"}
    assert compare_replica_logs(dirs, "t", [0]) == []
    assert replica_log_ends(dirs, "t", 0) == {0: 9, 1: 9}
    assert [(base, last) for base, last, _ in replica_log(dirs[0], "t", 0)] == [
        (0, 2), (3, 4), (5, 8)]


def test_replicas_differing_in_bytes_or_length_are_reported(tmp_path):
    write_replica(tmp_path / "a", {0: [batch(0, 3), batch(3, 2)]})
    write_replica(tmp_path / "b", {0: [batch(0, 3), batch(3, 2, epoch=1)]})
    write_replica(tmp_path / "c", {0: [batch(0, 3)]})
    problems = compare_replica_logs({0: tmp_path / "a", 1: tmp_path / "b"}, "t", [0])
    assert problems == ["t-0: broker 1 differs from broker 0 at batch 1: offsets (3, 4) vs "
                        "(3, 4), same offsets but different bytes"]
    problems = compare_replica_logs({0: tmp_path / "a", 2: tmp_path / "c"}, "t", [0])
    assert problems == ["t-0: replicas end at different offsets {0: 5, 2: 3}"]


def test_a_partly_written_last_batch_is_not_read(tmp_path):
    whole = batch(0, 2)
    write_replica(tmp_path / "a", {0: [whole, batch(2, 2)[:30]]})
    assert replica_log_ends({0: tmp_path / "a"}, "t", 0) == {0: 2}
