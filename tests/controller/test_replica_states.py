"""The replica state table: every (state, target) pair either is legal or raises."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kafkalite.controller.partition_states import IllegalStateTransition
from kafkalite.controller.replica_states import (
    VALID_PREVIOUS_REPLICA, IllegalReplicaStateTransition, ReplicaState,
    check_replica_transition)

S = ReplicaState


@given(st.sampled_from(ReplicaState), st.sampled_from(ReplicaState))
def test_every_pair_is_legal_or_raises(current, target):
    if current in VALID_PREVIOUS_REPLICA[target]:
        check_replica_transition(current, target)
    else:
        with pytest.raises(IllegalReplicaStateTransition):
            check_replica_transition(current, target)


def test_table_covers_every_state():
    assert set(VALID_PREVIOUS_REPLICA) == set(ReplicaState)


def test_kafka_table():
    # A replica is only ever created from nothing, and only deleted after a successful
    # StopReplica(delete=true).
    assert VALID_PREVIOUS_REPLICA[S.NEW] == {S.NON_EXISTENT}
    assert VALID_PREVIOUS_REPLICA[S.NON_EXISTENT] == {S.DELETION_SUCCESSFUL}
    assert VALID_PREVIOUS_REPLICA[S.DELETION_STARTED] == {S.OFFLINE}
    assert VALID_PREVIOUS_REPLICA[S.DELETION_SUCCESSFUL] == {S.DELETION_STARTED}
    # An ineligible replica (dead broker) comes back online and is retried from there.
    check_replica_transition(S.DELETION_INELIGIBLE, S.ONLINE)
    check_replica_transition(S.DELETION_INELIGIBLE, S.OFFLINE)
    check_replica_transition(S.DELETION_STARTED, S.DELETION_INELIGIBLE)
    for bad in [(S.ONLINE, S.DELETION_STARTED), (S.NEW, S.NEW), (S.ONLINE, S.NON_EXISTENT),
                (S.DELETION_SUCCESSFUL, S.ONLINE), (S.DELETION_STARTED, S.OFFLINE)]:
        with pytest.raises(IllegalStateTransition):
            check_replica_transition(*bad)


def test_full_deletion_path_is_legal():
    path = [S.NON_EXISTENT, S.NEW, S.ONLINE, S.OFFLINE, S.DELETION_STARTED,
            S.DELETION_INELIGIBLE, S.ONLINE, S.OFFLINE, S.DELETION_STARTED,
            S.DELETION_SUCCESSFUL, S.NON_EXISTENT]
    for a, b in zip(path, path[1:]):
        check_replica_transition(a, b)
