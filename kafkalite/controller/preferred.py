"""Auto leader rebalance (``auto.leader.rebalance.enable``), pure.

The preferred replica of a partition is the first of its assignment. Every
``leader.imbalance.check.interval.seconds`` the controller looks, per broker, at the partitions
that prefer it: the *imbalance ratio* is the share of them led by another broker. A broker
whose ratio exceeds ``leader.imbalance.per.broker.percentage`` / 100 gets its leaderships back
by preferred replica election, but only for partitions where that can succeed (preferred
replica alive and in the ISR) and that are not being reassigned or deleted.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence

from kafkalite.model import TopicPartition

__all__ = ["leader_imbalance", "partitions_to_rebalance"]


def leader_imbalance(assignments: Mapping[TopicPartition, Sequence[int]],
                     leaders: Mapping[TopicPartition, int]) -> dict[int, tuple[int, int]]:
    """Per preferred broker: (partitions it prefers but does not lead, partitions it prefers).

    Partitions without known leadership count in the total only, as in Kafka.
    """
    out: dict[int, list[int]] = {}
    for tp, replicas in assignments.items():
        if not replicas:
            continue
        counts = out.setdefault(replicas[0], [0, 0])
        counts[1] += 1
        leader = leaders.get(tp)
        if leader is not None and leader != replicas[0]:
            counts[0] += 1
    return {b: (c[0], c[1]) for b, c in out.items()}


def partitions_to_rebalance(assignments: Mapping[TopicPartition, Sequence[int]],
                            leadership: Mapping[TopicPartition, tuple[int, Sequence[int]]],
                            live: Collection[int], excluded: Collection[TopicPartition],
                            percentage: float) -> list[TopicPartition]:
    """Partitions to give back to their preferred replica, in topic-partition order.

    Args:
        assignments: replicas per partition (partitions of topics being deleted left out).
        leadership: (leader, isr) per partition.
        live: brokers that may lead (alive and not shutting down).
        excluded: partitions being reassigned.
        percentage: ``leader.imbalance.per.broker.percentage``.
    """
    ratios = leader_imbalance(assignments, {tp: l[0] for tp, l in leadership.items()})
    over = {b for b, (off, total) in ratios.items() if total and off / total > percentage / 100}
    out = []
    for tp in sorted(assignments, key=lambda t: (t.topic, t.partition)):
        replicas = assignments[tp]
        if not replicas or replicas[0] not in over or tp in excluded or tp not in leadership:
            continue
        leader, isr = leadership[tp]
        preferred = replicas[0]
        if leader != preferred and preferred in live and preferred in isr:
            out.append(tp)
    return out
