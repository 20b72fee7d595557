"""The group state table: every (state, target) pair is either legal or raises."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kafkalite.coordinator.group_state import (
    CAN_REBALANCE, VALID_PREVIOUS, GroupState, IllegalStateTransition, check_transition,
    parse_state)

S = GroupState


@given(st.sampled_from(GroupState), st.sampled_from(GroupState))
def test_every_pair_is_legal_or_raises(current, target):
    if current in VALID_PREVIOUS[target]:
        check_transition(current, target)
    else:
        with pytest.raises(IllegalStateTransition):
            check_transition(current, target)


def test_kafka_table():
    assert VALID_PREVIOUS[S.PREPARING_REBALANCE] == {S.STABLE, S.COMPLETING_REBALANCE, S.EMPTY}
    assert VALID_PREVIOUS[S.COMPLETING_REBALANCE] == {S.PREPARING_REBALANCE}
    assert VALID_PREVIOUS[S.STABLE] == {S.COMPLETING_REBALANCE}
    assert VALID_PREVIOUS[S.EMPTY] == {S.PREPARING_REBALANCE}
    assert VALID_PREVIOUS[S.DEAD] == set(GroupState)
    assert CAN_REBALANCE == {S.STABLE, S.COMPLETING_REBALANCE, S.EMPTY}
    with pytest.raises(IllegalStateTransition):
        check_transition(S.STABLE, S.EMPTY)  # a rebalance always comes in between


def test_state_names_are_kafkas():
    assert [s.value for s in GroupState] == [
        "Empty", "PreparingRebalance", "CompletingRebalance", "Stable", "Dead"]
    assert parse_state("stable") is S.STABLE and parse_state("AwaitingSync") is None
