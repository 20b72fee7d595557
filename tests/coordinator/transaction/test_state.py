"""The transaction state table: every (state, target) pair is either legal or raises."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kafkalite.coordinator.transaction.state import (
    EXPIRABLE, VALID_PREVIOUS, IllegalStateTransition, TxnState, check_transition)

S = TxnState


@given(st.sampled_from(TxnState), st.sampled_from(TxnState))
def test_every_pair_is_legal_or_raises(current, target):
    if current in VALID_PREVIOUS[target]:
        check_transition(current, target)
    else:
        with pytest.raises(IllegalStateTransition):
            check_transition(current, target)


def test_kafka_table():
    assert VALID_PREVIOUS == {
        S.EMPTY: {S.EMPTY, S.COMPLETE_COMMIT, S.COMPLETE_ABORT},
        S.ONGOING: {S.ONGOING, S.EMPTY, S.COMPLETE_COMMIT, S.COMPLETE_ABORT},
        S.PREPARE_COMMIT: {S.ONGOING},
        S.PREPARE_ABORT: {S.ONGOING, S.PREPARE_EPOCH_FENCE},
        S.COMPLETE_COMMIT: {S.PREPARE_COMMIT},
        S.COMPLETE_ABORT: {S.PREPARE_ABORT},
        S.DEAD: {S.EMPTY, S.COMPLETE_ABORT, S.COMPLETE_COMMIT},
        S.PREPARE_EPOCH_FENCE: {S.ONGOING},
    }
    assert EXPIRABLE == {S.EMPTY, S.COMPLETE_COMMIT, S.COMPLETE_ABORT}
    # Nothing leaves DEAD, and a commit can never turn into an abort.
    assert all(S.DEAD not in prev for prev in VALID_PREVIOUS.values())
    with pytest.raises(IllegalStateTransition, match="PrepareCommit -> CompleteAbort"):
        check_transition(S.PREPARE_COMMIT, S.COMPLETE_ABORT)


def test_bytes_and_names_are_kafkas():
    assert [(s.value, s.kafka_name) for s in TxnState] == [
        (0, "Empty"), (1, "Ongoing"), (2, "PrepareCommit"), (3, "PrepareAbort"),
        (4, "CompleteCommit"), (5, "CompleteAbort"), (6, "Dead"), (7, "PrepareEpochFence")]
    assert TxnState.from_name("PrepareEpochFence") is S.PREPARE_EPOCH_FENCE
    assert TxnState.from_name("ongoing") is None  # ListTransactions filters are exact
    assert TxnState.from_byte(4) is S.COMPLETE_COMMIT
    with pytest.raises(ValueError):
        TxnState.from_byte(8)
