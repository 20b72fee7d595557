"""The transaction state machine of KIP-98 (Kafka's ``TransactionState``), as a table.

One transactional id is in exactly one of these states. The value of each member is the byte
Kafka writes in the ``TransactionStatus`` field of ``__transaction_state`` records, and
:attr:`TxnState.kafka_name` is the name DescribeTransactions / ListTransactions report.

A state change is always two steps (see ``metadata.py``): *prepare* (check the move against
:data:`VALID_PREVIOUS`, remember the target as the pending state, build the record) and
*complete* (after the record is committed to the log). Requests that arrive while a move is
pending get CONCURRENT_TRANSACTIONS, so the client backs off and retries.

EMPTY — the id has a producer id and epoch but no transaction open (or has just been created).
  action: InitProducerId -> bump the epoch (rotate the producer id when it is exhausted);
          AddPartitionsToTxn / AddOffsetsToTxn -> start a transaction;
          EndTxn -> INVALID_TXN_STATE.
  transition: first partition added -> ONGOING; InitProducerId -> EMPTY (new epoch);
              transactional.id.expiration.ms without activity -> DEAD (tombstone).

ONGOING — partitions were added; the producer is writing transactional batches.
  action: AddPartitionsToTxn -> add (NONE at once if already included);
          EndTxn commit/abort -> write PrepareCommit/PrepareAbort;
          InitProducerId from a new producer instance -> fence the old one and abort.
  transition: EndTxn -> PREPARE_COMMIT / PREPARE_ABORT;
              InitProducerId, transaction.timeout.ms passed -> PREPARE_EPOCH_FENCE (in memory
              only) -> PREPARE_ABORT with the bumped epoch.

PREPARE_COMMIT / PREPARE_ABORT — the decision is durable; markers are being written to every
partition of the transaction (WriteTxnMarkers to their leaders).
  action: EndTxn with the same decision -> CONCURRENT_TRANSACTIONS (retry later), with the
          other decision -> INVALID_TXN_STATE; InitProducerId, AddPartitions ->
          CONCURRENT_TRANSACTIONS.
  transition: every marker written -> COMPLETE_COMMIT / COMPLETE_ABORT.

COMPLETE_COMMIT / COMPLETE_ABORT — the transaction is over; the id may start the next one.
  action: as EMPTY, but EndTxn repeating the outcome -> NONE (a retried EndTxn).
  transition: AddPartitionsToTxn -> ONGOING; InitProducerId -> EMPTY;
              transactional.id.expiration.ms -> DEAD.

DEAD — the id is being expired (its tombstone is being written); never written as a state,
  never current: it only appears as a pending state, and the id is then forgotten.
  transition: none.

PREPARE_EPOCH_FENCE — the epoch is being bumped to fence a producer before an abort; never
  written to the log and never current (the abort record carries the bumped epoch).
  transition: -> PREPARE_ABORT.
"""

from __future__ import annotations

import enum

__all__ = ["TxnState", "VALID_PREVIOUS", "IllegalStateTransition", "check_transition"]


class TxnState(enum.Enum):
    """The value is the state's byte in ``__transaction_state`` records."""

    EMPTY = 0
    ONGOING = 1
    PREPARE_COMMIT = 2
    PREPARE_ABORT = 3
    COMPLETE_COMMIT = 4
    COMPLETE_ABORT = 5
    DEAD = 6
    PREPARE_EPOCH_FENCE = 7

    @property
    def kafka_name(self) -> str:
        """Kafka's name: ``PrepareCommit``, ``CompleteAbort``, ... (DescribeTransactions)."""
        return "".join(word.capitalize() for word in self.name.split("_"))

    @classmethod
    def from_name(cls, name: str) -> TxnState | None:
        """The state with this exact Kafka name (ListTransactions state filters), or None."""
        for state in cls:
            if state.kafka_name == name:
                return state
        return None

    @classmethod
    def from_byte(cls, value: int) -> TxnState:
        """The state of a ``TransactionStatus`` byte.

        Raises:
            ValueError: an unknown byte.
        """
        return cls(value)

    @property
    def is_prepare(self) -> bool:
        return self in (TxnState.PREPARE_COMMIT, TxnState.PREPARE_ABORT)

    @property
    def is_complete(self) -> bool:
        return self in (TxnState.COMPLETE_COMMIT, TxnState.COMPLETE_ABORT)


_S = TxnState

#: For each target state, the states it may be reached from (Kafka's ``validPreviousStates``).
VALID_PREVIOUS: dict[TxnState, frozenset[TxnState]] = {
    _S.EMPTY: frozenset({_S.EMPTY, _S.COMPLETE_COMMIT, _S.COMPLETE_ABORT}),
    _S.ONGOING: frozenset({_S.ONGOING, _S.EMPTY, _S.COMPLETE_COMMIT, _S.COMPLETE_ABORT}),
    _S.PREPARE_COMMIT: frozenset({_S.ONGOING}),
    _S.PREPARE_ABORT: frozenset({_S.ONGOING, _S.PREPARE_EPOCH_FENCE}),
    _S.COMPLETE_COMMIT: frozenset({_S.PREPARE_COMMIT}),
    _S.COMPLETE_ABORT: frozenset({_S.PREPARE_ABORT}),
    _S.DEAD: frozenset({_S.EMPTY, _S.COMPLETE_COMMIT, _S.COMPLETE_ABORT}),
    _S.PREPARE_EPOCH_FENCE: frozenset({_S.ONGOING}),
}

#: States whose transactional ids may expire (Kafka's ``isExpirationAllowed``).
EXPIRABLE = VALID_PREVIOUS[_S.DEAD]


class IllegalStateTransition(RuntimeError):
    """A transaction state change the rules forbid: always a coordinator bug, never a client
    error (clients get CONCURRENT_TRANSACTIONS / INVALID_TXN_STATE before we get here)."""


def check_transition(current: TxnState, target: TxnState) -> None:
    """Raise :class:`IllegalStateTransition` unless ``current -> target`` is in the table."""
    if current not in VALID_PREVIOUS[target]:
        raise IllegalStateTransition(f"{current.kafka_name} -> {target.kafka_name}")
