from hypothesis import given
from hypothesis import strategies as st

from kafkalite.controller.election import (
    controlled_shutdown_leader, new_partition_leader, offline_partition_leader,
    preferred_replica_leader)


def test_new_partition_prefers_assignment_order():
    assert new_partition_leader([2, 0, 1], {0, 1, 2}) == (2, (2, 0, 1))
    assert new_partition_leader([2, 0, 1], {0, 1}) == (0, (0, 1))
    assert new_partition_leader([2], {0, 1}) is None


def test_offline_election_is_clean_unless_allowed():
    assert offline_partition_leader([1, 2, 3], [1, 3], {2, 3}, unclean=False) == (3, (3,), False)
    assert offline_partition_leader([1, 2, 3], [1], {2, 3}, unclean=False) is None
    assert offline_partition_leader([1, 2, 3], [1], {2, 3}, unclean=True) == (2, (2,), True)


def test_preferred_and_controlled_shutdown():
    assert preferred_replica_leader([1, 2], [2, 1], {1, 2}) == (1, (2, 1))
    assert preferred_replica_leader([1, 2], [2], {1, 2}) is None
    assert controlled_shutdown_leader([1, 2, 3], [1, 2, 3], {1, 2, 3}, {1}) == (2, (2, 3))


@given(st.lists(st.integers(0, 5), min_size=1, max_size=4, unique=True),
       st.sets(st.integers(0, 5)), st.sets(st.integers(0, 5)), st.booleans())
def test_clean_leader_is_always_a_live_isr_member(assignment, isr, live, unclean):
    r = offline_partition_leader(assignment, sorted(isr), live, unclean=unclean)
    if r is None:
        assert not (set(assignment) & isr & live) and (not unclean or not set(assignment) & live)
        return
    leader, new_isr, was_unclean = r
    assert leader in live and leader in assignment and leader in new_isr
    if not was_unclean:
        assert leader in isr and set(new_isr) <= live


def test_controller_isr_shrink_keeps_the_last_member():
    from kafkalite.controller.election import remove_replicas_from_isr
    assert remove_replicas_from_isr(1, (1, 2, 3), [3]) == (1, (1, 2))
    assert remove_replicas_from_isr(1, (1, 2), [1]) == (-1, (2,))
    assert remove_replicas_from_isr(1, (1,), [1]) == (-1, (1,))
    assert remove_replicas_from_isr(2, (1, 2), [1, 2]) == (-1, (2,))
    assert remove_replicas_from_isr(2, (2, 3), [4]) == (2, (2, 3))
