"""Partition reassignment decisions (KIP-455, zookeeper-layout.md §6.11), pure.

Vocabulary (Kafka's): ORS = original replicas, TRS = target replicas, RS = the full replica
set during the move = TRS followed by the ORS members not in TRS, AR = adding = TRS - ORS,
RR = removing = ORS - TRS. RS/AR/RR are stored in ``/brokers/topics/<t>`` first, so a new
controller resumes a move it finds there.

Phase A (TRS not yet in the ISR): the replicas of RS follow the leader; the AR replicas catch
up and the leader adds them to the ISR itself. Phase B (TRS within the ISR): leader from TRS,
ISR shrunk to TRS, RR replicas stopped and deleted, RS = TRS stored with empty AR/RR.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence

import attrs

from kafkalite import errors

__all__ = ["ReplicaAssignment", "validate_target", "completion_leadership"]


def _ordered_unique(replicas: Sequence[int]) -> tuple[int, ...]:
    return tuple(dict.fromkeys(replicas))


@attrs.frozen
class ReplicaAssignment:
    """One partition's replicas with the reassignment sets (Kafka's ReplicaAssignment)."""

    replicas: tuple[int, ...] = attrs.field(converter=tuple)
    adding: tuple[int, ...] = attrs.field(default=(), converter=tuple)
    removing: tuple[int, ...] = attrs.field(default=(), converter=tuple)

    @property
    def target_replicas(self) -> tuple[int, ...]:
        return tuple(r for r in self.replicas if r not in self.removing)

    @property
    def origin_replicas(self) -> tuple[int, ...]:
        return tuple(r for r in self.replicas if r not in self.adding)

    @property
    def is_being_reassigned(self) -> bool:
        return bool(self.adding or self.removing)

    def reassign_to(self, target: Sequence[int]) -> ReplicaAssignment:
        """The assignment while moving to ``target``, always relative to the *original*
        replicas: a second reassignment of a moving partition replaces the first."""
        origin = self.origin_replicas
        full = _ordered_unique([*target, *origin])
        return ReplicaAssignment(full, tuple(r for r in full if r not in origin),
                                 tuple(r for r in full if r not in target))

    def is_complete(self, isr: Collection[int]) -> bool:
        """Phase B may start: every target replica is in the ISR."""
        return set(self.target_replicas) <= set(isr)


def validate_target(target: Sequence[int], current: ReplicaAssignment,
                    live: Collection[int]) -> tuple[type[errors.KafkaError], str] | None:
    """Kafka's checks on a requested target replica list; (error, message) or None."""
    if not target:
        return errors.InvalidReplicaAssignment, \
            "Empty replica list specified in partition reassignment."
    if len(set(target)) != len(target):
        return errors.InvalidReplicaAssignment, \
            f"Duplicate replica ids in partition reassignment replica list: {list(target)}"
    if any(r < 0 for r in target):
        return errors.InvalidReplicaAssignment, \
            f"Invalid broker id in replica list: {list(target)}"
    adding = current.reassign_to(target).adding
    if not set(adding) <= set(live):
        return errors.InvalidReplicaAssignment, (
            f"Replica assignment has brokers that are not alive. Replica list: {list(adding)}, "
            f"live broker list: {sorted(live)}")
    return None


def completion_leadership(target: Sequence[int], leader: int, isr: Sequence[int],
                          live: Collection[int]) -> tuple[int, tuple[int, ...]] | None:
    """Leader and ISR once the partition moves to ``target`` (phase B).

    The leader stays if it is a live target replica; otherwise the reassignment election rule
    picks the first target replica that is alive and in the ISR. The ISR loses the removed
    replicas. None: no target replica can lead yet (the move waits).
    """
    new_isr = tuple(r for r in isr if r in target)
    if leader in target and leader in live and leader in new_isr:
        return leader, new_isr
    for r in target:
        if r in live and r in new_isr:
            return r, new_isr
    return None
