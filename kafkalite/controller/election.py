"""Leader election rules of the ZooKeeper-mode controller (zookeeper-layout.md §6.4).

Pure functions: each takes the assignment (replica order = preference order), the current ISR
and the set of live brokers, and returns the new (leader, isr) or None when no replica is
eligible. The first match in *assignment order* wins, as in Kafka.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence

__all__ = ["new_partition_leader", "offline_partition_leader", "preferred_replica_leader",
           "controlled_shutdown_leader", "remove_replicas_from_isr"]

LeaderAndIsr = tuple[int, tuple[int, ...]]


def new_partition_leader(assignment: Sequence[int], live: Collection[int]) -> LeaderAndIsr | None:
    """New partition: first live replica leads; ISR = all live replicas."""
    alive = tuple(r for r in assignment if r in live)
    return (alive[0], alive) if alive else None


def offline_partition_leader(assignment: Sequence[int], isr: Sequence[int], live: Collection[int],
                             *, unclean: bool) -> tuple[int, tuple[int, ...], bool] | None:
    """Leader lost: first live ISR member; else, if ``unclean``, the first live replica.

    Returns (leader, new_isr, was_unclean)."""
    live_isr = tuple(r for r in isr if r in live)
    for r in assignment:
        if r in live_isr:
            return r, live_isr, False
    if unclean:
        for r in assignment:
            if r in live:
                return r, (r,), True
    return None


def preferred_replica_leader(assignment: Sequence[int], isr: Sequence[int],
                             live: Collection[int]) -> LeaderAndIsr | None:
    """The preferred (first assigned) replica leads if it is alive and in the ISR."""
    if assignment and assignment[0] in live and assignment[0] in isr:
        return assignment[0], tuple(isr)
    return None


def controlled_shutdown_leader(assignment: Sequence[int], isr: Sequence[int],
                               live: Collection[int], shutting_down: Collection[int]
                               ) -> LeaderAndIsr | None:
    """Move leadership off shutting-down brokers; they also leave the ISR."""
    new_isr = tuple(r for r in isr if r not in shutting_down)
    for r in assignment:
        if r in live and r in new_isr:
            return r, new_isr
    return None


def remove_replicas_from_isr(leader: int, isr: Sequence[int], removed: Collection[int]
                             ) -> LeaderAndIsr:
    """The controller's ISR shrink for dead or stopped replicas (Kafka's removeReplicasFromIsr).

    Replicas leave one at a time and the last member is never removed, so the ISR keeps
    naming the replica that had the latest data (it is the one a clean election waits for).
    A removed leader leaves the partition leaderless (-1).
    """
    new_isr = list(isr)
    for r in removed:
        if r in new_isr and len(new_isr) > 1:
            new_isr.remove(r)
    return (-1 if leader in removed else leader), tuple(new_isr)
