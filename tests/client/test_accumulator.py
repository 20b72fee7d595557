"""Producer batching rules, driven by explicit times (no trio, no sleeps)."""

from __future__ import annotations

import pytest

from kafkalite.model import TopicPartition
from kafkalite.client.accumulator import RecordAccumulator, estimate_record_size

A0 = TopicPartition("a", 0)
A1 = TopicPartition("a", 1)


def rec(value=b"v" * 10, key=None):
    return (key, value, (), 0)


def test_linger_holds_a_batch_until_it_expires():
    acc = RecordAccumulator(batch_size=16384, linger_ms=5)
    assert acc.append(A0, rec(), "h1", now_ms=100)
    assert not acc.append(A0, rec(), "h2", now_ms=101)
    assert acc.ready(now_ms=104) == []
    assert acc.next_ready_ms(104) == pytest.approx(1)
    [batch] = acc.ready(now_ms=105)
    assert batch.tp == A0 and batch.handles == ["h1", "h2"] and batch.record_count == 2


def test_flush_ignores_linger():
    acc = RecordAccumulator(batch_size=16384, linger_ms=10_000)
    acc.append(A0, rec(), "h", now_ms=0)
    assert acc.next_ready_ms(0, flush=True) == 0
    assert len(acc.ready(now_ms=0, flush=True)) == 1


def test_full_batch_is_sealed_and_ready_immediately():
    size = estimate_record_size(None, b"v" * 10)
    acc = RecordAccumulator(batch_size=61 + 3 * size, linger_ms=10_000)
    for i in range(4):
        acc.append(A0, rec(), i, now_ms=0)
    assert acc.next_ready_ms(0) == 0
    [first] = acc.ready(now_ms=0)
    assert first.handles == [0, 1, 2]
    # The second batch waits: its partition has a batch in flight.
    assert acc.ready(now_ms=10_000) == []
    acc.complete(first)
    [second] = acc.ready(now_ms=10_000)
    assert second.handles == [3]


def test_oversized_record_gets_a_batch_of_its_own():
    acc = RecordAccumulator(batch_size=100, linger_ms=0)
    acc.append(A0, rec(b"x" * 10), "small", now_ms=0)
    assert acc.would_create_batch(A0, 500)
    acc.append(A0, rec(b"x" * 500), "big", now_ms=0)
    batches = acc.ready(now_ms=0)
    assert [b.handles for b in batches] == [["small"]]
    acc.complete(batches[0])
    assert [b.handles for b in acc.ready(now_ms=0)] == [["big"]]


def test_one_batch_in_flight_per_partition_but_partitions_are_independent():
    acc = RecordAccumulator(batch_size=16384, linger_ms=0)
    acc.append(A0, rec(), "a0", now_ms=0)
    acc.append(A1, rec(), "a1", now_ms=0)
    batches = acc.ready(now_ms=0)
    assert {b.tp for b in batches} == {A0, A1}
    acc.append(A0, rec(), "a0-2", now_ms=1)
    assert acc.ready(now_ms=1) == []
    assert acc.next_ready_ms(1) is None  # only in-flight partitions have data
    assert acc.in_flight == {A0, A1}


def test_retry_goes_to_the_front_after_its_backoff():
    acc = RecordAccumulator(batch_size=16384, linger_ms=0)
    acc.append(A0, rec(), "first", now_ms=0)
    [batch] = acc.ready(now_ms=0)
    batch.payload = b"built"
    acc.append(A0, rec(), "second", now_ms=1)
    acc.reenqueue(batch, retry_at_ms=100)
    assert batch.attempts == 1
    assert acc.ready(now_ms=50) == []
    assert acc.next_ready_ms(50) == pytest.approx(50)
    [again] = acc.ready(now_ms=100)
    assert again is batch and again.payload == b"built"
    # A record appended now must not join the retried (already built) batch.
    assert acc.would_create_batch(A0, 10) is False  # the open "second" batch takes it


def test_pending_accounting_and_empty():
    acc = RecordAccumulator(batch_size=16384, linger_ms=0)
    assert acc.is_empty()
    acc.append(A0, rec(), 1, now_ms=0)
    acc.append(A0, rec(), 2, now_ms=0)
    assert acc.pending_records == 2
    assert acc.pending_bytes == 2 * estimate_record_size(None, b"v" * 10)
    [batch] = acc.ready(now_ms=0)
    assert not acc.is_empty()
    acc.complete(batch)
    assert acc.is_empty() and acc.pending_bytes == 0


def test_estimate_counts_headers():
    base = estimate_record_size(b"k", b"v")
    assert estimate_record_size(b"k", b"v", [("h", b"123")]) == base + 10 + 1 + 3
    assert estimate_record_size(None, None, [("h", None)]) == estimate_record_size(None, None) + 11


def test_batch_size_must_be_positive():
    with pytest.raises(ValueError):
        RecordAccumulator(batch_size=0, linger_ms=0)
