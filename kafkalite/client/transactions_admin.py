"""Admin calls for exactly-once tooling (KIP-664): list, describe, producers, abort.

Why a module of its own: these four calls talk to three different kinds of broker, each with its
own retry rule, and together they would push ``admin.py`` past its size budget. ``Admin``
delegates to :class:`TransactionsAdmin`.

Who is asked (the Java AdminClient's lookup strategies, by hand):

* ListTransactions goes to **every** live broker: each answers only for the transactional ids
  whose ``__transaction_state`` partition it leads, so the union is the cluster's list.
* DescribeTransactions goes to each id's **transaction coordinator**, found with
  FindCoordinator key_type 1 (batched in v4, one request per id in v1-3).
* DescribeProducers and WriteTxnMarkers go to each partition's **leader** (or, for
  DescribeProducers, to an explicitly chosen replica).

Retry shape. A call settles keys (ids, partitions, brokers) one by one: a key is done when it
has a result or a final error; keys that got a retriable answer (NOT_COORDINATOR,
COORDINATOR_LOAD_IN_PROGRESS, COORDINATOR_NOT_AVAILABLE, NOT_LEADER_OR_FOLLOWER, a broken
connection...) stay pending. One *attempt* sends for every pending key and raises the last
retriable error if any remain, so ``Cluster.call_with_retries`` backs off and tries again with
fresh leaders and coordinators, until the cluster's ``retry_timeout_ms`` runs out
(``KafkaTimeoutError``). Settled keys are never asked again.

Per-key errors are results, not exceptions, and carry the Java client's messages, which
``kafka-transactions.sh`` prints. Optional values the wire encodes as -1 (coordinator epoch,
transaction start offset, transaction start time) are None here, as Java's ``OptionalInt``.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import attrs

from kafkalite.errors import (
    ClusterAuthorizationFailed,
    CoordinatorLoadInProgress,
    CoordinatorNotAvailable,
    InvalidProducerEpoch,
    InvalidTopicException,
    KafkaError,
    LeaderNotAvailable,
    NotCoordinator,
    NotLeaderOrFollower,
    TopicAuthorizationFailed,
    TransactionalIdAuthorizationFailed,
    TransactionalIdNotFound,
    TransactionCoordinatorFenced,
    UnknownServerError,
    UnknownTopicOrPartition,
    UnsupportedVersion,
    for_code,
)
from kafkalite.model import TopicPartition
from kafkalite.protocol.api_keys import ApiKey
from kafkalite.protocol.messages.describe_producers import DescribeProducersRequest, TopicRequest
from kafkalite.protocol.messages.describe_transactions import DescribeTransactionsRequest
from kafkalite.protocol.messages.find_coordinator import FindCoordinatorRequest
from kafkalite.protocol.messages.list_transactions import ListTransactionsRequest
from kafkalite.protocol.messages.write_txn_markers import (
    WritableTxnMarker,
    WritableTxnMarkerTopic,
    WriteTxnMarkersRequest,
)
from kafkalite.client.cluster import Cluster, is_retriable
from kafkalite.client.concurrency import gather
from kafkalite.client.errors import ClientError

__all__ = ["TransactionsAdmin", "TransactionListing", "TransactionDescription",
           "ProducerState", "AbortTransactionSpec", "TRANSACTION_STATES", "parse_state"]

#: The names Java's ``TransactionState`` knows; anything else reads as "Unknown" (its parse()).
TRANSACTION_STATES = ("Ongoing", "PrepareAbort", "PrepareCommit", "CompleteAbort",
                      "CompleteCommit", "Empty", "PrepareEpochFence", "Unknown")

_TRANSACTION_KEY_TYPE = 1  # FindCoordinator key_type of a transactional id
_FIND_COORDINATOR_BATCHED = 4


def parse_state(name: str) -> str:
    """A broker's state name as the Java client reports it ("Dead" and typos -> "Unknown")."""
    return name if name in TRANSACTION_STATES else "Unknown"


@attrs.frozen(kw_only=True)
class TransactionListing:
    """One ListTransactions entry and the broker (its coordinator) that reported it."""

    transactional_id: str
    producer_id: int
    state: str
    coordinator_id: int


@attrs.frozen(kw_only=True)
class TransactionDescription:
    """A coordinator's view of one transactional id (DescribeTransactions).

    ``start_time_ms`` is None when no transaction is open; ``partitions`` are those added to the
    open transaction, or still awaiting markers in PrepareCommit/PrepareAbort (response order).
    """

    transactional_id: str
    coordinator_id: int
    state: str
    producer_id: int
    producer_epoch: int
    timeout_ms: int
    start_time_ms: int | None
    partitions: tuple[TopicPartition, ...] = ()


@attrs.frozen(kw_only=True)
class ProducerState:
    """One active producer of a partition (DescribeProducers).

    ``coordinator_epoch`` is None until a marker was written for it; ``current_txn_start_offset``
    is the first offset of its open transaction, None when none is open.
    """

    producer_id: int
    producer_epoch: int
    last_sequence: int
    last_timestamp: int
    coordinator_epoch: int | None
    current_txn_start_offset: int | None


@attrs.frozen
class AbortTransactionSpec:
    """What :meth:`TransactionsAdmin.abort_transaction` writes; ``str()`` is Java's toString,
    which the tool prints when an abort fails."""

    topic_partition: TopicPartition
    producer_id: int
    producer_epoch: int
    coordinator_epoch: int

    def __str__(self) -> str:
        return (f"AbortTransactionSpec(topicPartition={self.topic_partition}, "
                f"producerId={self.producer_id}, producerEpoch={self.producer_epoch}, "
                f"coordinatorEpoch={self.coordinator_epoch})")


def _optional(value: int) -> int | None:
    return None if value < 0 else value


def _by_topic(partitions: Iterable[TopicPartition]) -> dict[str, list[int]]:
    out: dict[str, list[int]] = {}
    for tp in partitions:
        out.setdefault(tp.topic, []).append(tp.partition)
    return out


class _Settle:
    """Results of a multi-key call and the keys still pending (see the module docstring)."""

    def __init__(self, keys: Iterable[Any]):
        self.keys = list(dict.fromkeys(keys))
        self.pending = set(self.keys)
        self.results: dict[Any, Any] = {}
        self.last_error: KafkaError | ClientError | None = None

    def done(self, key: Any, result: Any) -> None:
        self.results[key] = result
        self.pending.discard(key)

    def retry(self, error: KafkaError | ClientError) -> None:
        self.last_error = error

    def raise_if_pending(self) -> None:
        if self.pending:
            error = self.last_error
            self.last_error = None
            if error is None:  # a bug in the step: nothing to retry on, but not done either
                raise RuntimeError(f"keys left pending without an error: {self.pending}")
            raise error


async def _settle(cluster: Cluster, keys: Iterable[Any], step, what: str) -> dict[Any, Any]:
    """Run ``await step(state, pending_keys)`` until every key is settled; key -> result."""
    state = _Settle(keys)

    async def attempt() -> None:
        await step(state, [k for k in state.keys if k in state.pending])
        state.raise_if_pending()

    if state.keys:
        await cluster.call_with_retries(attempt, what=what)
    return {k: state.results[k] for k in state.keys}


async def _request(cluster: Cluster, state: _Settle, node: Any, msg: Any,
                   version: int | None = None) -> Any | None:
    """Send ``msg``; a retriable failure (broken connection, timeout) is noted and gives None."""
    try:
        return await cluster.request(node, msg, version)
    except (KafkaError, ClientError) as exc:
        if not is_retriable(exc):
            raise
        state.retry(exc)
        return None


class TransactionsAdmin:
    """The KIP-664 admin calls over ``cluster`` (not closed here)."""

    def __init__(self, cluster: Cluster):
        self.cluster = cluster

    # --- ListTransactions ---------------------------------------------------------------------

    async def list_transactions(self, state_filters: Iterable[str] = (),
                                producer_id_filters: Iterable[int] = (), *,
                                duration_filter_ms: int = -1) -> list[TransactionListing]:
        """Every transaction the live brokers' coordinators know, filtered by state names
        (``"Ongoing"``, ...) and producer ids (empty = no filter).

        Returns:
            Listings sorted by coordinator id, each broker's in its response order.

        Raises:
            UnsupportedVersion: ``duration_filter_ms`` >= 0 (needs ListTransactions v1, KIP-994,
                which this client does not speak).
            KafkaError: a broker answered a non-retriable error.
            KafkaTimeoutError: some broker kept failing for the retry budget.
        """
        if duration_filter_ms >= 0:
            raise UnsupportedVersion(
                "Duration filter can be set only when using API version 1 or higher. This "
                "client speaks ListTransactions v0 only: do not specify duration filter or set "
                "duration filter to -1.")
        request = ListTransactionsRequest(state_filters=tuple(state_filters),
                                          producer_id_filters=tuple(producer_id_filters))
        brokers = sorted((await self.cluster.refresh_metadata([])).brokers)

        async def ask(state: _Settle, node: int) -> None:
            response = await _request(self.cluster, state, node, request)
            if response is None:
                return
            error = for_code(response.error_code)
            if error is None:
                state.done(node, [TransactionListing(
                    transactional_id=t.transactional_id, producer_id=t.producer_id,
                    state=parse_state(t.transaction_state), coordinator_id=node)
                    for t in response.transaction_states])
            elif error.retriable:  # COORDINATOR_LOAD_IN_PROGRESS, COORDINATOR_NOT_AVAILABLE
                state.retry(error(f"ListTransactions request sent to broker {node} failed: "
                                  f"{error.default_message()}"))
            else:
                raise error(f"ListTransactions request sent to broker {node} failed with an "
                            "unexpected exception")

        async def step(state: _Settle, pending: list[int]) -> None:
            await gather([lambda n=n: ask(state, n) for n in pending])

        results = await _settle(self.cluster, brokers, step, "list transactions")
        return [listing for node in brokers for listing in results[node]]

    # --- DescribeTransactions -----------------------------------------------------------------

    async def describe_transactions(self, transactional_ids: Iterable[str]
                                    ) -> dict[str, TransactionDescription | KafkaError]:
        """Ask each id's transaction coordinator how its transaction stands.

        Returns:
            Id -> its description, or the error for that id: TransactionalIdNotFound,
            TransactionalIdAuthorizationFailed, or what the broker answered.

        Raises:
            KafkaTimeoutError: some coordinator stayed unavailable/loading for the retry budget.
        """
        coordinators: dict[str, int] = {}

        async def step(state: _Settle, pending: list[str]) -> None:
            unmapped = [i for i in pending if i not in coordinators]
            if unmapped:
                coordinators.update(await self._find_coordinators(state, unmapped))
            groups: dict[int, list[str]] = {}
            for tid in pending:
                if tid in coordinators and tid in state.pending:
                    groups.setdefault(coordinators[tid], []).append(tid)
            for node, tids in groups.items():
                request = DescribeTransactionsRequest(transactional_ids=tuple(tids))
                response = await _request(self.cluster, state, node, request)
                if response is None:
                    for tid in tids:
                        coordinators.pop(tid, None)  # find the coordinator again
                    continue
                answered = set()
                for entry in response.transaction_states:
                    if entry.transactional_id in tids:
                        answered.add(entry.transactional_id)
                        self._described(state, coordinators, node, entry)
                for tid in tids:
                    if tid not in answered:
                        state.done(tid, UnknownServerError(
                            f"DescribeTransactions response from broker {node} has no entry "
                            f"for transactionalId `{tid}`"))

        return await _settle(self.cluster, transactional_ids, step, "describe transactions")

    @staticmethod
    def _described(state: _Settle, coordinators: dict[str, int], node: int, entry: Any) -> None:
        """Settle (or leave for retry) one DescribeTransactions entry; Java's messages."""
        tid = entry.transactional_id
        error = for_code(entry.error_code)
        what = f"DescribeTransactions request for transactionalId `{tid}`"
        if error is None:
            state.done(tid, TransactionDescription(
                transactional_id=tid, coordinator_id=node,
                state=parse_state(entry.transaction_state), producer_id=entry.producer_id,
                producer_epoch=entry.producer_epoch, timeout_ms=entry.transaction_timeout_ms,
                start_time_ms=_optional(entry.transaction_start_time_ms),
                partitions=tuple(TopicPartition(t.topic, p)
                                 for t in entry.topics for p in t.partitions)))
        elif error is TransactionalIdAuthorizationFailed:
            state.done(tid, error(f"{what} failed due to authorization failure"))
        elif error is TransactionalIdNotFound:
            state.done(tid, error(f"{what} failed because the ID could not be found"))
        elif error is CoordinatorLoadInProgress:
            state.retry(error(f"{what}: the coordinator is still loading"))
        elif error in (NotCoordinator, CoordinatorNotAvailable):
            coordinators.pop(tid, None)
            state.retry(error(f"{what}: {error.default_message()}"))
        else:
            state.done(tid, error(f"{what} failed due to unexpected error"))

    async def _find_coordinators(self, state: _Settle, tids: Sequence[str]) -> dict[str, int]:
        """FindCoordinator(key_type 1) for ``tids``: id -> broker id of those found. Ids with a
        final error are settled in ``state``; retriable ones are noted for a retry."""
        connection = await self.cluster.any_connection()
        version = connection.pick_version(ApiKey.FIND_COORDINATOR, client_min=1,
                                          client_max=_FIND_COORDINATOR_BATCHED)
        answers: list[tuple[str, int, int]] = []  # (id, error code, node id)
        if version >= _FIND_COORDINATOR_BATCHED:
            request = FindCoordinatorRequest(key_type=_TRANSACTION_KEY_TYPE,
                                             coordinator_keys=tuple(tids))
            response = await _request(self.cluster, state, connection, request, version)
            if response is not None:
                answers = [(c.key, c.error_code, c.node_id) for c in response.coordinators]
        else:
            for tid in tids:
                request = FindCoordinatorRequest(key=tid, key_type=_TRANSACTION_KEY_TYPE)
                response = await _request(self.cluster, state, connection, request, version)
                if response is not None:
                    answers.append((tid, response.error_code, response.node_id))
        found: dict[str, int] = {}
        answered = {tid for tid, _, _ in answers}
        for tid in tids:
            if tid not in answered and tid in state.pending and state.last_error is None:
                state.retry(CoordinatorNotAvailable(
                    f"FindCoordinator response has no entry for transactionalId `{tid}`"))
        for tid, code, node in answers:
            if tid not in tids:
                continue
            error = for_code(code)
            if error is None:
                found[tid] = node
            elif error.retriable:  # COORDINATOR_NOT_AVAILABLE, COORDINATOR_LOAD_IN_PROGRESS
                state.retry(error(f"FindCoordinator request for transactionalId `{tid}`: "
                                  f"{error.default_message()}"))
            elif error is TransactionalIdAuthorizationFailed:
                state.done(tid, error(f"FindCoordinator request for transactionalId `{tid}` "
                                      "failed due to authorization failure"))
            else:
                state.done(tid, error(f"FindCoordinator request for key `{tid}` failed due to "
                                      "an unexpected error"))
        return found

    # --- DescribeProducers --------------------------------------------------------------------

    async def describe_producers(self, partitions: Iterable[TopicPartition], *,
                                 broker_id: int | None = None
                                 ) -> dict[TopicPartition, tuple[ProducerState, ...] | KafkaError]:
        """The active producers of each partition, as its leader (or ``broker_id``) sees them.

        Args:
            partitions: the partitions.
            broker_id: ask this replica instead of the leader; then NOT_LEADER_OR_FOLLOWER is
                final for a partition (the broker does not host it) instead of retried.

        Returns:
            Partition -> its producers (broker order), or the error for that partition, e.g.
            UnknownTopicOrPartition when the topic does not exist.

        Raises:
            KafkaTimeoutError: a partition kept failing retriably for the retry budget.
        """
        async def step(state: _Settle, pending: list[TopicPartition]) -> None:
            if broker_id is None:
                leaders = await self._leaders(state, pending)
            else:
                leaders = {tp: broker_id for tp in pending}
            groups: dict[int, list[TopicPartition]] = {}
            for tp, node in leaders.items():
                groups.setdefault(node, []).append(tp)
            for node, tps in groups.items():
                request = DescribeProducersRequest(topics=tuple(
                    TopicRequest(name=t, partition_indexes=tuple(ps))
                    for t, ps in _by_topic(tps).items()))
                response = await _request(self.cluster, state, node, request)
                if response is None:
                    continue
                answered = set()
                for topic in response.topics:
                    for p in topic.partitions:
                        tp = TopicPartition(topic.name, p.partition_index)
                        if tp in tps and tp not in answered:
                            answered.add(tp)
                            self._producers(state, tp, p, broker_id)
                for tp in tps:
                    if tp not in answered:
                        state.done(tp, UnknownServerError(
                            f"DescribeProducers response from broker {node} has no entry for "
                            f"partition {tp}"))

        return await _settle(self.cluster, partitions, step, "describe producers")

    @staticmethod
    def _producers(state: _Settle, tp: TopicPartition, p: Any, broker_id: int | None) -> None:
        """Settle (or leave for retry) one DescribeProducers partition; Java's messages."""
        error = for_code(p.error_code)
        if error is None:
            state.done(tp, tuple(ProducerState(
                producer_id=s.producer_id, producer_epoch=s.producer_epoch,
                last_sequence=s.last_sequence, last_timestamp=s.last_timestamp,
                coordinator_epoch=_optional(s.coordinator_epoch),
                current_txn_start_offset=_optional(s.current_txn_start_offset))
                for s in p.active_producers))
        elif error is NotLeaderOrFollower and broker_id is not None:
            state.done(tp, error(f"Failed to describe active producers for partition {tp} on "
                                 f"brokerId {broker_id}"))
        elif error in (NotLeaderOrFollower, UnknownTopicOrPartition):
            state.retry(error(f"DescribeProducers for partition {tp}: "
                              f"{p.error_message or error.default_message()}"))
        elif error is InvalidTopicException:
            state.done(tp, error(f"Failed to fetch metadata for partition {tp} due to invalid "
                                 f"topic error: {p.error_message or error.default_message()}"))
        elif error is TopicAuthorizationFailed:
            state.done(tp, error(f"Failed to describe active producers for partition {tp} due "
                                 f"to authorization failure on topic `{tp.topic}`"))
        else:
            state.done(tp, error(f"Failed to describe active producers for partition {tp} due "
                                 "to unexpected error"))

    async def _leaders(self, state: _Settle, partitions: Sequence[TopicPartition]
                       ) -> dict[TopicPartition, int]:
        """Leaders of ``partitions`` from a fresh Metadata response (never auto-creating).

        A topic or partition the cluster does not have is settled with UnknownTopicOrPartition
        at once (retrying cannot help a tool); a partition without a leader waits for a retry.
        """
        topics = list(dict.fromkeys(tp.topic for tp in partitions))
        metadata = await self.cluster.refresh_metadata(topics, allow_auto_create=False)
        leaders: dict[TopicPartition, int] = {}
        for tp in partitions:
            topic = metadata.topics.get(tp.topic)
            part = None if topic is None else topic.partitions.get(tp.partition)
            if topic is None or topic.error is UnknownTopicOrPartition:
                state.done(tp, UnknownTopicOrPartition(
                    f"Failed to fetch metadata for partition {tp} because metadata for topic "
                    f"`{tp.topic}` could not be found"))
            elif topic.error is not None and not topic.error.retriable:
                state.done(tp, topic.error(f"Failed to fetch metadata for partition {tp} due to "
                                           f"unexpected error for topic `{tp.topic}`"))
            elif topic.error is None and part is None:
                state.done(tp, UnknownTopicOrPartition(
                    f"Failed to fetch metadata for partition {tp}: topic `{tp.topic}` has no "
                    f"partition {tp.partition}"))
            elif topic.error is not None or part.leader < 0:
                state.retry(LeaderNotAvailable(f"partition {tp} has no leader"))
            else:
                leaders[tp] = part.leader
        return leaders

    # --- WriteTxnMarkers (abort) --------------------------------------------------------------

    async def abort_transaction(self, topic_partition: TopicPartition, producer_id: int,
                                producer_epoch: int, coordinator_epoch: int) -> None:
        """Write an ABORT marker for ``producer_id``'s open transaction on one partition.

        This is Kafka's ``Admin.abortTransaction``: a WriteTxnMarkers request, as a transaction
        coordinator would send, straight to the partition's leader. It ends a *hanging*
        transaction whose coordinator forgot it; ``coordinator_epoch`` must be at least the
        epoch of the last marker the partition saw (0 is safe when it never saw one).

        Raises:
            InvalidProducerEpoch: ``producer_epoch`` is older than the producer's.
            TransactionCoordinatorFenced: ``coordinator_epoch`` is older than the last marker's.
            ClusterAuthorizationFailed, UnknownTopicOrPartition, ...: the partition's error.
            KafkaTimeoutError: the leader stayed unavailable for the retry budget.
        """
        tp = topic_partition
        spec = AbortTransactionSpec(tp, producer_id, producer_epoch, coordinator_epoch)
        request = WriteTxnMarkersRequest(markers=(WritableTxnMarker(
            producer_id=producer_id, producer_epoch=producer_epoch, transaction_result=False,
            topics=(WritableTxnMarkerTopic(name=tp.topic, partition_indexes=(tp.partition,)),),
            coordinator_epoch=coordinator_epoch),))

        async def step(state: _Settle, pending: list[TopicPartition]) -> None:
            leaders = await self._leaders(state, pending)
            if tp not in leaders:
                return
            response = await _request(self.cluster, state, leaders[tp], request)
            if response is not None:
                error = _marker_error(response, spec)
                if error is not None and error.retriable:
                    state.retry(error)
                else:
                    state.done(tp, error)

        results = await _settle(self.cluster, [tp], step, "abort transaction")
        if results[tp] is not None:
            raise results[tp]


def _marker_error(response: Any, spec: AbortTransactionSpec) -> KafkaError | None:
    """The error of the one partition of a WriteTxnMarkers response (Java's checks and
    messages); retriable ones (leader moved) are retried by the caller."""
    tp = spec.topic_partition
    markers = response.markers
    if len(markers) != 1 or markers[0].producer_id != spec.producer_id:
        return UnknownServerError(f"WriteTxnMarkers response included unexpected marker entries "
                                  f"(expected to find exactly one entry with producerId "
                                  f"{spec.producer_id})")
    topics = markers[0].topics
    if len(topics) != 1 or topics[0].name != tp.topic:
        return UnknownServerError(f"WriteTxnMarkers response included unexpected topic entries "
                                  f"(expected to find exactly one entry with topic partition "
                                  f"{tp})")
    parts = topics[0].partitions
    if len(parts) != 1 or parts[0].partition_index != tp.partition:
        return UnknownServerError(f"WriteTxnMarkers response included unexpected partition "
                                  f"entries for topic {tp.topic} (expected to find exactly one "
                                  f"entry with partition {tp.partition})")
    error = for_code(parts[0].error_code)
    if error is None:
        return None
    if error is ClusterAuthorizationFailed:
        return error(f"WriteTxnMarkers request with {spec} failed due to cluster authorization "
                     "error")
    if error is InvalidProducerEpoch:
        return error(f"WriteTxnMarkers request with {spec} failed due an invalid producer epoch")
    if error is TransactionCoordinatorFenced:
        return error(f"WriteTxnMarkers request with {spec} failed since the provided coordinator "
                     f"epoch {spec.coordinator_epoch} has been fenced by the active coordinator")
    if error.retriable:
        return error(f"WriteTxnMarkers request with {spec} failed due to "
                     f"{error.kafka_name()}; will retry")
    return error(f"WriteTxnMarkers request with {spec} failed due to unexpected error: "
                 f"{error.default_message()}")
