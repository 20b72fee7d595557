"""Kafka's rack-unaware replica assignment (layout doc §6.10)."""

from __future__ import annotations

import random
from collections import Counter

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kafkalite.errors import InvalidPartitions, InvalidReplicationFactor
from kafkalite.zk.assignment import assign_replicas


def test_known_example_fixed_start_and_shift() -> None:
    # Worked by hand from the rule: the follower shift grows by one after each full round.
    assert assign_replicas([0, 1, 2, 3, 4], 10, 3, start_index=0, shift=0) == {
        0: [0, 1, 2], 1: [1, 2, 3], 2: [2, 3, 4], 3: [3, 4, 0], 4: [4, 0, 1],
        5: [0, 2, 3], 6: [1, 3, 4], 7: [2, 4, 0], 8: [3, 0, 1], 9: [4, 1, 2]}


def test_brokers_are_sorted_and_ids_used() -> None:
    assert assign_replicas([30, 10, 20], 3, 2, start_index=1, shift=1) == {
        0: [20, 10], 1: [30, 20], 2: [10, 30]}


def test_start_partition_id_continues_the_pattern() -> None:
    full = assign_replicas([0, 1, 2], 6, 2, start_index=2, shift=0)
    tail = assign_replicas([0, 1, 2], 3, 2, start_index=2, shift=0, start_partition_id=3)
    assert tail == {p: full[p] for p in (3, 4, 5)}


def test_randomness_comes_from_rng() -> None:
    a = assign_replicas(range(5), 8, 3, rng=random.Random(7))
    b = assign_replicas(range(5), 8, 3, rng=random.Random(7))
    assert a == b


@given(n=st.integers(1, 8), rounds=st.integers(1, 5), data=st.data())
def test_properties(n: int, rounds: int, data: st.DataObject) -> None:
    rf = data.draw(st.integers(1, n))
    start = data.draw(st.integers(0, n - 1))
    shift = data.draw(st.integers(0, n - 1))
    brokers = list(range(100, 100 + n))
    out = assign_replicas(brokers, rounds * n, rf, start_index=start, shift=shift)
    assert sorted(out) == list(range(rounds * n))
    for replicas in out.values():
        assert len(replicas) == rf and len(set(replicas)) == rf
        assert set(replicas) <= set(brokers)
    # leaders spread evenly; over whole rounds every broker holds the same number of replicas
    assert Counter(r[0] for r in out.values()) == {b: rounds for b in brokers}
    assert Counter(b for r in out.values() for b in r) == {b: rounds * rf for b in brokers}


@given(n=st.integers(1, 6), partitions=st.integers(1, 40), seed=st.integers(0, 1000))
def test_leaders_balanced_for_any_count(n: int, partitions: int, seed: int) -> None:
    out = assign_replicas(range(n), partitions, 1, rng=random.Random(seed))
    counts = Counter(r[0] for r in out.values())
    assert max(counts.values()) - min(counts.get(b, 0) for b in range(n)) <= 1


def test_errors() -> None:
    with pytest.raises(InvalidReplicationFactor, match="larger than available brokers: 2"):
        assign_replicas([0, 1], 1, 3, rng=random.Random(0))
    with pytest.raises(InvalidReplicationFactor):
        assign_replicas([], 1, 1, rng=random.Random(0))
    with pytest.raises(InvalidReplicationFactor):
        assign_replicas([0], 1, 0, rng=random.Random(0))
    with pytest.raises(InvalidPartitions):
        assign_replicas([0], 0, 1, rng=random.Random(0))
    with pytest.raises(ValueError):
        assign_replicas([0], 1, 1)


def test_an_assignment_too_big_for_a_znode_is_refused_without_building_it() -> None:
    import json

    from kafkalite.zk.assignment import MAX_ASSIGNMENT_BYTES, check_assignment_size

    with pytest.raises(InvalidPartitions, match="too large"):
        assign_replicas([0, 1, 2], 2**31 - 1, 3, rng=random.Random(1))   # would never finish
    with pytest.raises(InvalidPartitions, match="too large"):
        assign_replicas([0], 1, 1, rng=random.Random(1), start_partition_id=2**31 - 2)
    # the bound is an upper bound of the real JSON: what passes fits
    for count, rf in ((20_000, 3), (60_000, 1), (5_000, 20)):
        brokers = list(range(1000, 1000 + max(rf, 3)))
        try:
            check_assignment_size(count, rf, brokers[-1])
        except InvalidPartitions:
            continue
        parts = assign_replicas(brokers, count, rf, rng=random.Random(2))
        text = json.dumps({"version": 2, "partitions": {str(p): r for p, r in parts.items()}},
                          separators=(",", ":"))
        assert len(text) <= MAX_ASSIGNMENT_BYTES
    check_assignment_size(10_000, 3, 2)
