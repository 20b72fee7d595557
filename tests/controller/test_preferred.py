"""Auto leader rebalance: per-broker imbalance ratio and the partitions to give back."""

from kafkalite.controller.preferred import leader_imbalance, partitions_to_rebalance
from kafkalite.model import TopicPartition


def tps(n, topic="t"):
    return [TopicPartition(topic, p) for p in range(n)]


def test_imbalance_counts_partitions_led_by_another_broker():
    a = dict(zip(tps(4), [(0, 1), (0, 1), (1, 0), (1, 0)]))
    leaders = dict(zip(tps(4), [0, 1, 1, 1]))
    assert leader_imbalance(a, leaders) == {0: (1, 2), 1: (0, 2)}


def test_partitions_without_leadership_count_only_in_the_total():
    a = {TopicPartition("t", 0): (0, 1), TopicPartition("t", 1): (0, 1)}
    assert leader_imbalance(a, {TopicPartition("t", 0): 1}) == {0: (1, 2)}


def test_rebalance_only_above_the_percentage():
    parts = tps(10)
    a = {tp: (0, 1) for tp in parts}
    leadership = {tp: (0, (0, 1)) for tp in parts}
    leadership[parts[3]] = (1, (0, 1))             # 1 of 10 = 10 %: not above 10 %
    assert partitions_to_rebalance(a, leadership, {0, 1}, set(), 10) == []
    leadership[parts[5]] = (1, (0, 1))             # 20 %
    assert partitions_to_rebalance(a, leadership, {0, 1}, set(), 10) == [parts[3], parts[5]]
    assert partitions_to_rebalance(a, leadership, {0, 1}, set(), 25) == []


def test_rebalance_skips_what_cannot_or_must_not_move():
    parts = tps(4)
    a = {tp: (0, 1) for tp in parts}
    leadership = {parts[0]: (1, (1,)),            # preferred not in ISR
                  parts[1]: (1, (0, 1)),          # being reassigned
                  parts[2]: (1, (0, 1)),          # movable
                  parts[3]: (0, (0, 1))}
    assert partitions_to_rebalance(a, leadership, {0, 1}, {parts[1]}, 10) == [parts[2]]
    # Preferred broker not live (dead or shutting down): nothing to do.
    assert partitions_to_rebalance(a, leadership, {1}, set(), 10) == []
