"""The partition state table: every (state, target) pair either is legal or raises."""

from hypothesis import given
from hypothesis import strategies as st

from kafkalite.controller.partition_states import (
    VALID_PREVIOUS, IllegalStateTransition, PartitionState, check_transition)

import pytest


@given(st.sampled_from(PartitionState), st.sampled_from(PartitionState))
def test_every_pair_is_legal_or_raises(current, target):
    if current in VALID_PREVIOUS[target]:
        check_transition(current, target)
    else:
        with pytest.raises(IllegalStateTransition):
            check_transition(current, target)


def test_kafka_table():
    assert VALID_PREVIOUS[PartitionState.NEW] == {PartitionState.NON_EXISTENT}
    with pytest.raises(IllegalStateTransition):
        check_transition(PartitionState.ONLINE, PartitionState.NON_EXISTENT)
    check_transition(PartitionState.OFFLINE, PartitionState.NON_EXISTENT)
