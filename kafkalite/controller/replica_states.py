"""The controller's replica state machine (Kafka's ReplicaStateMachine), as a table.

A replica is one (partition, broker) pair. States and what moving into them means:

- NEW: the replica was just assigned (new partition, or added by a reassignment).
  action: it receives LeaderAndIsr as a follower (or leader of a new partition).
- ONLINE: the replica is part of the partition's assignment and its broker is alive.
  action: LeaderAndIsr with the current leadership to that broker.
- OFFLINE: the broker died, is shutting down, or the replica is being removed.
  action: StopReplica(delete=false) if the broker is alive; the controller removes the
  replica from the ISR (leader_epoch + 1) and tells the remaining replicas.
- DELETION_STARTED: StopReplica(delete=true) was sent (topic deletion or reassignment).
- DELETION_SUCCESSFUL: the broker answered that StopReplica without error.
- DELETION_INELIGIBLE: deletion failed or the broker is dead; retried when it returns.
- NON_EXISTENT: never assigned, or deleted for good.

An illegal move raises :class:`IllegalReplicaStateTransition`. The controller shell logs and
skips such a replica, as Kafka's ``logInvalidTransition`` does, so one inconsistent replica
cannot stop every other state change of the same event.
"""

from __future__ import annotations

import enum

from kafkalite.controller.partition_states import IllegalStateTransition

__all__ = ["ReplicaState", "VALID_PREVIOUS_REPLICA", "IllegalReplicaStateTransition",
           "check_replica_transition"]


class ReplicaState(enum.Enum):
    NEW = "NewReplica"
    ONLINE = "OnlineReplica"
    OFFLINE = "OfflineReplica"
    DELETION_STARTED = "ReplicaDeletionStarted"
    DELETION_SUCCESSFUL = "ReplicaDeletionSuccessful"
    DELETION_INELIGIBLE = "ReplicaDeletionIneligible"
    NON_EXISTENT = "NonExistentReplica"


_S = ReplicaState

VALID_PREVIOUS_REPLICA: dict[ReplicaState, frozenset[ReplicaState]] = {
    _S.NEW: frozenset({_S.NON_EXISTENT}),
    _S.ONLINE: frozenset({_S.NEW, _S.ONLINE, _S.OFFLINE, _S.DELETION_INELIGIBLE}),
    _S.OFFLINE: frozenset({_S.NEW, _S.ONLINE, _S.OFFLINE, _S.DELETION_INELIGIBLE}),
    _S.DELETION_STARTED: frozenset({_S.OFFLINE}),
    _S.DELETION_SUCCESSFUL: frozenset({_S.DELETION_STARTED}),
    _S.DELETION_INELIGIBLE: frozenset({_S.OFFLINE, _S.DELETION_STARTED}),
    _S.NON_EXISTENT: frozenset({_S.DELETION_SUCCESSFUL}),
}


class IllegalReplicaStateTransition(IllegalStateTransition):
    pass


def check_replica_transition(current: ReplicaState, target: ReplicaState) -> None:
    if current not in VALID_PREVIOUS_REPLICA[target]:
        raise IllegalReplicaStateTransition(f"{current.value} -> {target.value}")
