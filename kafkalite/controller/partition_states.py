"""The controller's partition state machine (Kafka's PartitionStateMachine), as a table.

States:
- NON_EXISTENT: never created, or deleted.
- NEW: replicas assigned in ``/brokers/topics/<t>``, no state znode, no leader yet.
  action: create the state znode with the first live replica as leader (leader_epoch 0).
- ONLINE: a leader is elected and alive. action: LeaderAndIsr to the replicas,
  UpdateMetadata to every broker.
- OFFLINE: the leader died and no eligible replica could take over (leader -1).
  transition: ONLINE again when an ISR member (or, with unclean election, any replica) returns.

An illegal move raises :class:`IllegalStateTransition`: it means a controller bug, never a
cluster condition.
"""

from __future__ import annotations

import enum

__all__ = ["PartitionState", "VALID_PREVIOUS", "IllegalStateTransition", "check_transition"]


class PartitionState(enum.Enum):
    NON_EXISTENT = "NonExistentPartition"
    NEW = "NewPartition"
    ONLINE = "OnlinePartition"
    OFFLINE = "OfflinePartition"


VALID_PREVIOUS: dict[PartitionState, frozenset[PartitionState]] = {
    PartitionState.NEW: frozenset({PartitionState.NON_EXISTENT}),
    PartitionState.ONLINE: frozenset({PartitionState.NEW, PartitionState.ONLINE,
                                      PartitionState.OFFLINE}),
    PartitionState.OFFLINE: frozenset({PartitionState.NEW, PartitionState.ONLINE,
                                       PartitionState.OFFLINE}),
    PartitionState.NON_EXISTENT: frozenset({PartitionState.OFFLINE}),
}


class IllegalStateTransition(RuntimeError):
    pass


def check_transition(current: PartitionState, target: PartitionState) -> None:
    if current not in VALID_PREVIOUS[target]:
        raise IllegalStateTransition(f"{current.value} -> {target.value}")
