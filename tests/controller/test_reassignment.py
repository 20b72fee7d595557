"""Reassignment phase decisions (KIP-455): RS/AR/RR, validation, completion."""

from hypothesis import given
from hypothesis import strategies as st

from kafkalite import errors
from kafkalite.controller.reassignment import (ReplicaAssignment, completion_leadership,
                                               validate_target)


def test_reassign_to_orders_target_first_then_origin():
    ra = ReplicaAssignment((1, 2, 3)).reassign_to((4, 5, 1))
    assert ra == ReplicaAssignment((4, 5, 1, 2, 3), adding=(4, 5), removing=(2, 3))
    assert ra.target_replicas == (4, 5, 1)
    assert ra.origin_replicas == (1, 2, 3)
    assert ra.is_being_reassigned


def test_second_reassignment_is_relative_to_the_origin():
    moving = ReplicaAssignment((1, 2)).reassign_to((3, 4))
    again = moving.reassign_to((2, 5))
    assert again == ReplicaAssignment((2, 5, 1), adding=(5,), removing=(1,))


def test_cancel_moves_back_to_the_origin():
    moving = ReplicaAssignment((1, 2)).reassign_to((2, 3))
    cancelled = moving.reassign_to(moving.origin_replicas)
    # RS = (2, 3, 1) no longer records the original order; Kafka's originReplicas is the
    # same difference of lists. The adding replica 3 is simply not part of the result: the
    # controller stops the replicas that leave RS ("unneeded replicas").
    assert cancelled == ReplicaAssignment((2, 1))
    assert not cancelled.is_being_reassigned


def test_reordering_only_is_not_a_move():
    ra = ReplicaAssignment((1, 2, 3)).reassign_to((3, 1, 2))
    assert not ra.is_being_reassigned and ra.replicas == (3, 1, 2)


def test_phase_b_needs_every_target_replica_in_the_isr():
    ra = ReplicaAssignment((1, 2)).reassign_to((2, 3))
    assert not ra.is_complete([1, 2])
    assert ra.is_complete([1, 2, 3])
    assert ra.is_complete([3, 2])


def test_validation():
    cur = ReplicaAssignment((1, 2))
    live = {1, 2, 3}
    assert validate_target((), cur, live)[0] is errors.InvalidReplicaAssignment
    assert validate_target((1, 1), cur, live)[0] is errors.InvalidReplicaAssignment
    assert validate_target((-1, 2), cur, live)[0] is errors.InvalidReplicaAssignment
    err = validate_target((1, 4), cur, live)
    assert err[0] is errors.InvalidReplicaAssignment and "not alive" in err[1]
    assert validate_target((2, 3), cur, live) is None
    # Dead *original* replicas do not block a move away from them.
    assert validate_target((2, 3), ReplicaAssignment((1, 2)), {2, 3}) is None


def test_completion_keeps_a_live_target_leader_and_shrinks_the_isr():
    assert completion_leadership((2, 3), 2, (1, 2, 3), {1, 2, 3}) == (2, (2, 3))


def test_completion_elects_from_the_target_when_the_leader_leaves():
    assert completion_leadership((3, 2), 1, (1, 2, 3), {1, 2, 3}) == (3, (2, 3))
    assert completion_leadership((3, 2), 1, (1, 2, 3), {1, 2}) == (2, (2, 3))
    assert completion_leadership((3,), 1, (1, 3), {1}) is None


@given(st.lists(st.integers(0, 6), min_size=1, max_size=4, unique=True),
       st.lists(st.integers(0, 6), min_size=1, max_size=4, unique=True))
def test_reassignment_sets_are_consistent(origin, target):
    ra = ReplicaAssignment(tuple(origin)).reassign_to(tuple(target))
    assert set(ra.replicas) == set(origin) | set(target)
    assert set(ra.adding) == set(target) - set(origin)
    assert set(ra.removing) == set(origin) - set(target)
    assert ra.target_replicas == tuple(target)
    assert ra.replicas[:len(target)] == tuple(target)
    assert ra.origin_replicas == tuple(r for r in ra.replicas if r in origin)
    # Applying the same move again changes nothing (a resumed reassignment is idempotent).
    assert ra.reassign_to(ra.target_replicas) == ra or not ra.is_being_reassigned
