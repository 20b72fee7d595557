"""What the transaction coordinator answers and asks for: answers, effects, and their collector.

Plain frozen values, independent of wire versions; the handlers translate them (for example
PRODUCER_FENCED becomes INVALID_PRODUCER_EPOCH for InitProducerId < v4 and EndTxn < v2).

Every call of :class:`~kafkalite.coordinator.transaction.machine.TransactionCoordinator`
returns a :class:`~kafkalite.coordinator.results.Result` (shared with the group coordinator):
an answer (``response``) or the token of a parked request (``park``), plus effects that the
shell carries out in order:

- :class:`~kafkalite.coordinator.results.Reply` — answer the parked request ``token``;
- :class:`~kafkalite.coordinator.results.Append` — append the records (one transaction state,
  or the tombstones of expired ids of one partition) to ``__transaction_state-<partition>``
  with acks=all, then call ``append_completed(append, error, now_ms=...)`` with None or the
  append's error class. An Append coming out of an ``append_completed`` that reported an error
  is a retry (of a CompleteCommit/CompleteAbort record): back off before carrying it out.
- :class:`SendMarkers` — write the transaction markers, then call ``markers_written``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import attrs

from kafkalite import errors
from kafkalite.coordinator.results import Append, ErrorType, Reply, Result
from kafkalite.model import TopicPartition

if TYPE_CHECKING:
    from kafkalite.coordinator.transaction.machine import TransactionCoordinator

__all__ = ["InitPidResult", "TxnDescription", "ListedTxn", "ListTxnsResult", "SendMarkers",
           "map_append_error"]


# -- answers -------------------------------------------------------------------------------


@attrs.frozen(kw_only=True)
class InitPidResult:
    """InitProducerId's answer; producer id and epoch are -1 with an error."""

    error: ErrorType = None
    producer_id: int = -1
    producer_epoch: int = -1


@attrs.frozen(kw_only=True)
class TxnDescription:
    """One entry of DescribeTransactions. With an error only ``transactional_id`` is
    meaningful (the other fields keep the wire defaults)."""

    transactional_id: str
    error: ErrorType = None
    state: str = ""                  # the Kafka name: "Ongoing", "PrepareCommit", ...
    timeout_ms: int = 0
    start_ms: int = -1
    producer_id: int = -1
    producer_epoch: int = -1
    # Partitions of the transaction (while markers are written: those still without one).
    partitions: tuple[TopicPartition, ...] = ()

    @property
    def topics(self) -> tuple[tuple[str, tuple[int, ...]], ...]:
        """``partitions`` grouped by topic, as the response lists them."""
        groups: dict[str, list[int]] = {}
        for tp in self.partitions:
            groups.setdefault(tp.topic, []).append(tp.partition)
        return tuple((topic, tuple(ids)) for topic, ids in groups.items())


@attrs.frozen(kw_only=True)
class ListedTxn:
    transactional_id: str
    producer_id: int
    state: str


@attrs.frozen(kw_only=True)
class ListTxnsResult:
    """ListTransactions' answer: COORDINATOR_LOAD_IN_PROGRESS while any partition loads."""

    error: ErrorType = None
    unknown_state_filters: tuple[str, ...] = ()
    transactions: tuple[ListedTxn, ...] = ()


# -- effects -------------------------------------------------------------------------------


@attrs.frozen(kw_only=True)
class SendMarkers:
    """Write COMMIT (``commit``) or ABORT markers of one transaction to ``partitions``.

    The shell sends WriteTxnMarkers (one marker entry: producer id, epoch, result,
    ``coordinator_epoch``, partitions) to each partition's leader, waiting ``retry_after_ms``
    first. It then calls ``markers_written(send, results, deleted=..., now_ms=...)`` — once
    with every partition, or once per leader with that leader's partitions; each partition of
    ``send`` must be reported exactly once. Results: the partition's error class or None.
    A partition whose topic no longer exists: ``errors.UnknownTopicOrPartition`` and listed in
    ``deleted``. A partition without a known leader, or a broker that could not be reached:
    a retriable error (``errors.NotLeaderOrFollower``, ``errors.NetworkException``).
    """

    transactional_id: str
    producer_id: int
    producer_epoch: int
    commit: bool
    coordinator_epoch: int
    partitions: frozenset[TopicPartition]
    retry_after_ms: int = 0


def map_append_error(error: ErrorType) -> ErrorType:
    """Kafka's translation of ``__transaction_state`` append errors (appendTransactionToLog)."""
    if error in (errors.UnknownTopicOrPartition, errors.NotEnoughReplicas,
                 errors.NotEnoughReplicasAfterAppend, errors.RequestTimedOut):
        return errors.CoordinatorNotAvailable
    if error in (errors.NotLeaderOrFollower, errors.KafkaStorageError):
        return errors.NotCoordinator
    if error in (errors.MessageTooLarge, errors.RecordListTooLarge):
        return errors.UnknownServerError
    return error


def response_for(kind: str, error: ErrorType) -> Any:
    """The error answer of a request of ``kind`` ("init", "add", "end")."""
    return InitPidResult(error=error) if kind == "init" else error


class Out:
    """Collects the answer, parked token and effects of one call (internal to the package).

    Parked tokens live in the machine (``_parked``: token -> (partition, kind)) so that
    unloading a partition can answer them.
    """

    def __init__(self, machine: TransactionCoordinator):
        self.machine = machine
        self.effects: list = []
        self.response: Any = None
        self.park: int | None = None

    def respond(self, response: Any) -> None:
        self.response = response

    def park_token(self, partition: int, kind: str) -> int:
        token = self.machine._new_token(partition, kind)
        self.park = token
        return token

    def reply(self, token: int | None, response: Any) -> None:
        """Answer a parked request, unless it was answered already (e.g. by an unload)."""
        if token is not None and self.machine._parked.pop(token, None) is not None:
            self.effects.append(Reply(token, response))

    def append(self, partition: int, records, continuation: Any) -> None:
        self.effects.append(Append(partition, tuple(records), continuation))

    def send_markers(self, send: SendMarkers) -> None:
        self.effects.append(send)

    def result(self) -> Result:
        return Result(self.response, self.park, tuple(self.effects))


# -- continuations of appends (opaque to the shell, handed back by append_completed) ------


@attrs.frozen(eq=False)
class TxnWrite:
    """One transaction state record in flight.

    ``kind`` says what to do once it is written: "init", "add", "end" (then send markers) or
    "complete" (the transaction is over). ``reply_kind`` is the kind of the parked request
    to answer ("init", "add", "end"; None for a timeout abort or a completion).
    """

    kind: str
    txn: Any                      # the TransactionMetadata object the transit belongs to
    coordinator_epoch: int
    transit: Any                  # TxnTransitMetadata
    token: int | None = None
    reply_kind: str | None = None
    commit: bool = False
    epoch_fence: bool = False


@attrs.frozen(eq=False)
class TombstoneWrite:
    """Tombstones of expired transactional ids of one partition, with the producer epoch each
    had when it was chosen."""

    partition: int
    coordinator_epoch: int
    entries: tuple[tuple[Any, int], ...]   # (TransactionMetadata, producer_epoch)
