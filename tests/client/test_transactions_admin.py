"""The KIP-664 admin calls against an in-memory cluster of several brokers.

``TxnKafka`` extends the one-broker fake (fake_broker.py) to ``n`` brokers — node ``i`` answers
on port ``9092 + i`` — that host transaction coordinators and partition leaders, so the tests see
which broker each request reached and can inject the retriable errors of a moving cluster.
"""

from __future__ import annotations

import collections

import attrs
import pytest
import trio

from kafkalite.errors import (
    InvalidProducerEpoch,
    KafkaError,
    NotLeaderOrFollower,
    TransactionalIdNotFound,
    TransactionCoordinatorFenced,
    UnknownTopicOrPartition,
    UnsupportedVersion,
)
from kafkalite.model import TopicPartition
from kafkalite.protocol.api_keys import ApiKey
from kafkalite.protocol.framing import ServerConnection
from kafkalite.protocol.messages.describe_producers import (
    DescribeProducersResponse,
    PartitionResponse,
    ProducerState as WireProducerState,
    TopicResponse,
)
from kafkalite.protocol.messages.describe_transactions import (
    DescribeTransactionsResponse,
    TopicData,
    TransactionState,
)
from kafkalite.protocol.messages.find_coordinator import Coordinator, FindCoordinatorResponse
from kafkalite.protocol.messages.list_transactions import (
    ListedTransactionState,
    ListTransactionsResponse,
)
from kafkalite.protocol.messages.metadata import MetadataResponseBroker
from kafkalite.protocol.messages.write_txn_markers import (
    WritableTxnMarkerPartitionResult,
    WritableTxnMarkerResult,
    WritableTxnMarkerTopicResult,
    WriteTxnMarkersResponse,
)
from kafkalite.client.admin import Admin
from kafkalite.client.cluster import Cluster
from kafkalite.client.errors import KafkaTimeoutError
from kafkalite.client.transactions_admin import (
    ProducerState,
    TransactionDescription,
    TransactionListing,
)

from .fake_broker import FakeKafka

TS = 1_700_000_000_000
FOO0, FOO1 = TopicPartition("foo", 0), TopicPartition("foo", 1)


class TxnKafka(FakeKafka):
    """``brokers`` brokers with transaction coordinators, leaders and producer state.

    Attributes:
        leaders / replicas: partition -> leader id / replica ids (default 0 / (leader,)).
        stale_leaders: partition -> leader ids the next Metadata responses report instead.
        stale_coordinators: id -> coordinator ids the next FindCoordinator answers report.
        transactions: transactional id -> (coordinator id, state entry for DescribeTransactions).
        producers: partition -> wire ProducerState entries.
        served: (node, api key, request) of every request, in order.
        *_errors: error codes to answer next, consumed one per request.
    """

    def __init__(self, brokers: int = 2, find_coordinator: tuple[int, int] = (0, 4)):
        super().__init__()
        self.brokers = brokers
        self.supported.update({ApiKey.FIND_COORDINATOR: find_coordinator,
                               ApiKey.DESCRIBE_PRODUCERS: (0, 0),
                               ApiKey.DESCRIBE_TRANSACTIONS: (0, 0),
                               ApiKey.LIST_TRANSACTIONS: (0, 0),
                               ApiKey.WRITE_TXN_MARKERS: (0, 1)})
        self.leaders: dict[TopicPartition, int] = {}
        self.replicas: dict[TopicPartition, tuple[int, ...]] = {}
        self.stale_leaders: dict[TopicPartition, collections.deque[int]] = {}
        self.stale_coordinators: dict[str, collections.deque[int]] = {}
        self.transactions: dict[str, tuple[int, TransactionState]] = {}
        self.producers: dict[TopicPartition, list[WireProducerState]] = {}
        self.served: list[tuple[int, int, object]] = []
        self.list_errors: dict[int, collections.deque[int]] = collections.defaultdict(
            collections.deque)
        self.describe_errors: dict[str, collections.deque[int]] = collections.defaultdict(
            collections.deque)
        self.find_errors: dict[str, collections.deque[int]] = collections.defaultdict(
            collections.deque)
        self.marker_errors: collections.deque[int] = collections.deque()
        self.aborted: list[tuple[int, object]] = []

    def add_transaction(self, tid: str, coordinator: int, *, producer_id: int,
                        state: str = "Ongoing", partitions: tuple[TopicPartition, ...] = (),
                        start_ms: int = TS) -> None:
        by_topic: dict[str, list[int]] = {}
        for tp in partitions:
            by_topic.setdefault(tp.topic, []).append(tp.partition)
        self.transactions[tid] = (coordinator, TransactionState(
            error_code=0, transactional_id=tid, transaction_state=state,
            transaction_timeout_ms=60000, transaction_start_time_ms=start_ms,
            producer_id=producer_id, producer_epoch=2,
            topics=tuple(TopicData(topic=t, partitions=tuple(ps)) for t, ps in by_topic.items())))

    def sent_to(self, api_key: int) -> list[tuple[int, object]]:
        return [(node, body) for node, key, body in self.served if key == api_key]

    # --- wiring: one server per node, chosen by port --------------------------------------------

    async def open_tcp_stream(self, host: str, port: int, **_kw):
        await trio.lowlevel.checkpoint()
        client, server = trio.testing.memory_stream_pair()
        trio.lowlevel.spawn_system_task(self._serve_node, server, port - 9092)
        return client

    async def _serve_node(self, stream, node: int) -> None:
        conn = ServerConnection(max_frame_bytes=1 << 20, supported=self.supported)
        try:
            while data := await stream.receive_some(65536):
                conn.receive_data(data)
                while (request := conn.next_request()) is not None:
                    response = self._handle_on(node, request)
                    for part in conn.response_parts(request, response):
                        await stream.send_all(part)
        except (trio.BrokenResourceError, trio.ClosedResourceError):
            return

    def _handle_on(self, node: int, request):
        key = request.header.api_key
        body = request.body
        self.served.append((node, key, body))
        handler = {ApiKey.FIND_COORDINATOR: self._find_coordinator,
                   ApiKey.LIST_TRANSACTIONS: self._list_transactions,
                   ApiKey.DESCRIBE_TRANSACTIONS: self._describe_transactions,
                   ApiKey.DESCRIBE_PRODUCERS: self._describe_producers,
                   ApiKey.WRITE_TXN_MARKERS: self._write_markers}.get(key)
        if handler is None:
            return self._handle(request)
        self.requests.append((key, request.header.api_version, body))
        return handler(node, request.header.api_version, body)

    # --- handlers ------------------------------------------------------------------------------

    def _metadata(self, body):
        response = super()._metadata(body)
        topics = []
        for t in response.topics:
            parts = []
            for p in t.partitions:
                tp = TopicPartition(t.name, p.partition_index)
                stale = self.stale_leaders.get(tp)
                leader = stale.popleft() if stale else self.leaders.get(tp, 0)
                parts.append(attrs.evolve(p, leader_id=leader,
                                          replica_nodes=self.replicas.get(tp, (leader,))))
            topics.append(attrs.evolve(t, partitions=tuple(parts)))
        return attrs.evolve(response, topics=tuple(topics), brokers=tuple(
            MetadataResponseBroker(node_id=i, host="fake", port=9092 + i)
            for i in range(self.brokers)))

    def _coordinator(self, tid: str) -> tuple[int, int]:
        queue = self.find_errors[tid]
        if queue:
            return queue.popleft(), -1
        stale = self.stale_coordinators.get(tid)
        if stale:
            return 0, stale.popleft()
        return 0, self.transactions.get(tid, (0, None))[0]

    def _find_coordinator(self, node, version, body):
        if version >= 4:
            found = [(k, *self._coordinator(k)) for k in body.coordinator_keys]
            return FindCoordinatorResponse(coordinators=tuple(
                Coordinator(key=k, node_id=n, host="fake", port=9092 + n, error_code=e)
                for k, e, n in found))
        error, n = self._coordinator(body.key)
        return FindCoordinatorResponse(error_code=error, node_id=n, host="fake", port=9092 + n)

    def _list_transactions(self, node, version, body):
        if self.list_errors[node]:
            return ListTransactionsResponse(error_code=self.list_errors[node].popleft())
        return ListTransactionsResponse(transaction_states=tuple(
            ListedTransactionState(transactional_id=tid, producer_id=s.producer_id,
                                   transaction_state=s.transaction_state)
            for tid, (coordinator, s) in self.transactions.items()
            if coordinator == node
            and (not body.state_filters or s.transaction_state in body.state_filters)
            and (not body.producer_id_filters or s.producer_id in body.producer_id_filters)))

    def _describe_transactions(self, node, version, body):
        states = []
        for tid in body.transactional_ids:
            coordinator, state = self.transactions.get(tid, (0, None))
            error = (self.describe_errors[tid].popleft() if self.describe_errors[tid]
                     else 16 if coordinator != node else 105 if state is None else 0)
            states.append(state if not error else TransactionState(
                error_code=error, transactional_id=tid, transaction_state="",
                transaction_timeout_ms=0, transaction_start_time_ms=-1, producer_id=-1,
                producer_epoch=-1))
        return DescribeTransactionsResponse(transaction_states=tuple(states))

    def _describe_producers(self, node, version, body):
        topics = []
        for t in body.topics:
            parts = []
            for p in t.partition_indexes:
                tp = TopicPartition(t.name, p)
                leader = self.leaders.get(tp, 0)
                error = 0 if node in self.replicas.get(tp, (leader,)) else 6
                if tp.partition not in self.topic_partitions(tp.topic):
                    error = 3
                parts.append(PartitionResponse(
                    partition_index=p, error_code=error,
                    active_producers=() if error else tuple(self.producers.get(tp, ()))))
            topics.append(TopicResponse(name=t.name, partitions=tuple(parts)))
        return DescribeProducersResponse(topics=tuple(topics))

    def _write_markers(self, node, version, body):
        [marker] = body.markers
        [topic] = marker.topics
        [p] = topic.partition_indexes
        tp = TopicPartition(topic.name, p)
        error = self.marker_errors.popleft() if self.marker_errors else (
            0 if self.leaders.get(tp, 0) == node else 6)
        if not error:
            self.aborted.append((node, marker))
        return WriteTxnMarkersResponse(markers=(WritableTxnMarkerResult(
            producer_id=marker.producer_id, topics=(WritableTxnMarkerTopicResult(
                name=tp.topic, partitions=(WritableTxnMarkerPartitionResult(
                    partition_index=p, error_code=error),)),)),))


@pytest.fixture
def cluster3(monkeypatch) -> TxnKafka:
    return TxnKafka(brokers=3).install(monkeypatch)


def _admin_run(run, fn):
    async def main():
        async with Cluster("fake:9092", retry_timeout_ms=5_000) as cluster:
            return await fn(Admin(cluster))

    return run(main)


# --- ListTransactions ----------------------------------------------------------------------------


def test_list_transactions_asks_every_broker_and_merges(cluster3, run):
    cluster3.add_transaction("t1", 2, producer_id=11)
    cluster3.add_transaction("t2", 0, producer_id=12, state="PrepareCommit")
    cluster3.add_transaction("t3", 2, producer_id=13, state="CompleteAbort")
    cluster3.add_transaction("t4", 1, producer_id=14, state="Dead")
    cluster3.list_errors[1].append(14)  # COORDINATOR_LOAD_IN_PROGRESS once: retried

    result = _admin_run(run, lambda admin: admin.list_transactions())
    assert result == [
        TransactionListing(transactional_id="t2", producer_id=12, state="PrepareCommit",
                           coordinator_id=0),
        TransactionListing(transactional_id="t4", producer_id=14, state="Unknown",
                           coordinator_id=1),
        TransactionListing(transactional_id="t1", producer_id=11, state="Ongoing",
                           coordinator_id=2),
        TransactionListing(transactional_id="t3", producer_id=13, state="CompleteAbort",
                           coordinator_id=2),
    ]
    asked = [node for node, _ in cluster3.sent_to(ApiKey.LIST_TRANSACTIONS)]
    assert sorted(asked) == [0, 1, 1, 2]  # broker 1 twice, the others once


def test_list_transactions_filters_and_errors(cluster3, run):
    cluster3.add_transaction("t1", 0, producer_id=11)
    cluster3.add_transaction("t2", 1, producer_id=12)
    cluster3.add_transaction("t3", 1, producer_id=13, state="Empty")
    result = _admin_run(run, lambda admin: admin.list_transactions(
        state_filters=["Ongoing"], producer_id_filters=[12, 13]))
    assert [e.transactional_id for e in result] == ["t2"]
    [(_, request), *_] = cluster3.sent_to(ApiKey.LIST_TRANSACTIONS)
    assert request.state_filters == ("Ongoing",) and request.producer_id_filters == (12, 13)

    cluster3.list_errors[2].append(31)  # CLUSTER_AUTHORIZATION_FAILED: not retriable
    with pytest.raises(KafkaError, match="ListTransactions request sent to broker 2 failed"):
        _admin_run(run, lambda admin: admin.list_transactions())
    with pytest.raises(UnsupportedVersion, match="Duration filter"):
        _admin_run(run, lambda admin: admin.list_transactions(duration_filter_ms=0))


# --- DescribeTransactions ------------------------------------------------------------------------


@pytest.mark.parametrize("find_versions", [(0, 4), (0, 3)])
def test_describe_transactions_goes_to_each_coordinator(monkeypatch, run, find_versions):
    kafka = TxnKafka(brokers=3, find_coordinator=find_versions).install(monkeypatch)
    kafka.add_transaction("a", 1, producer_id=21, partitions=(FOO1, FOO0))
    kafka.add_transaction("b", 2, producer_id=22, state="Empty", start_ms=-1)
    kafka.stale_coordinators["a"] = collections.deque([0])  # FindCoordinator is stale once
    kafka.describe_errors["a"].append(14)          # COORDINATOR_LOAD_IN_PROGRESS once
    kafka.find_errors["b"].append(15)              # COORDINATOR_NOT_AVAILABLE once

    result = _admin_run(run, lambda admin: admin.describe_transactions(["a", "b", "nope"]))
    assert result["a"] == TransactionDescription(
        transactional_id="a", coordinator_id=1, state="Ongoing", producer_id=21,
        producer_epoch=2, timeout_ms=60000, start_time_ms=TS, partitions=(FOO1, FOO0))
    assert result["b"].start_time_ms is None and result["b"].coordinator_id == 2
    assert isinstance(result["nope"], TransactionalIdNotFound)
    assert str(result["nope"]) == ("DescribeTransactions request for transactionalId `nope` "
                                   "failed because the ID could not be found")
    finds = kafka.sent_to(ApiKey.FIND_COORDINATOR)
    assert all(body.key_type == 1 for _, body in finds)
    if find_versions[1] >= 4:
        assert finds[0][1].coordinator_keys == ("a", "b", "nope")
    described = [(node, body.transactional_ids)
                 for node, body in kafka.sent_to(ApiKey.DESCRIBE_TRANSACTIONS)]
    assert described[0] == (0, ("a", "nope"))
    assert (2, ("b",)) in described
    # loading: same coordinator again; NOT_COORDINATOR from 0: find it again, then ask 1
    assert [node for node, ids in described if "a" in ids] == [0, 0, 1]
    assert len(finds) == (3 if find_versions[1] >= 4 else 5)  # ids found once more each


def test_describe_transactions_times_out_while_loading(cluster3, run):
    cluster3.add_transaction("a", 1, producer_id=21)
    cluster3.describe_errors["a"].extend([14] * 1000)
    with pytest.raises(KafkaTimeoutError, match="COORDINATOR_LOAD_IN_PROGRESS"):
        _admin_run(run, lambda admin: admin.describe_transactions(["a"]))


# --- DescribeProducers ---------------------------------------------------------------------------


def _producer(pid, *, start=-1, coordinator_epoch=-1):
    return WireProducerState(producer_id=pid, producer_epoch=1, last_sequence=9,
                             last_timestamp=TS, coordinator_epoch=coordinator_epoch,
                             current_txn_start_offset=start)


def test_describe_producers_asks_leaders_and_follows_moves(cluster3, run):
    cluster3.create_topic("foo", 2)
    cluster3.leaders.update({FOO0: 1, FOO1: 2})
    cluster3.stale_leaders[FOO1] = collections.deque([0])  # metadata is stale once
    cluster3.producers[FOO0] = [_producer(5, start=42, coordinator_epoch=3)]
    cluster3.producers[FOO1] = [_producer(6), _producer(7)]

    result = _admin_run(run, lambda admin: admin.describe_producers(
        [FOO0, FOO1, TopicPartition("foo", 9), TopicPartition("nope", 0)]))
    assert result[FOO0] == (ProducerState(producer_id=5, producer_epoch=1, last_sequence=9,
                                          last_timestamp=TS, coordinator_epoch=3,
                                          current_txn_start_offset=42),)
    assert [p.producer_id for p in result[FOO1]] == [6, 7]
    assert result[FOO1][0].coordinator_epoch is None
    assert result[FOO1][0].current_txn_start_offset is None
    assert isinstance(result[TopicPartition("foo", 9)], UnknownTopicOrPartition)
    assert str(result[TopicPartition("nope", 0)]) == (
        "Failed to fetch metadata for partition nope-0 because metadata for topic `nope` could "
        "not be found")
    asked = [(node, [(t.name, t.partition_indexes) for t in body.topics])
             for node, body in cluster3.sent_to(ApiKey.DESCRIBE_PRODUCERS)]
    assert asked[:2] == [(1, [("foo", (0,))]), (0, [("foo", (1,))])]
    assert asked[2:] == [(2, [("foo", (1,))])]


def test_describe_producers_on_a_chosen_replica(cluster3, run):
    cluster3.create_topic("foo", 2)
    cluster3.replicas.update({FOO0: (0, 1), FOO1: (0, 2)})
    cluster3.producers[FOO0] = [_producer(5)]

    result = _admin_run(run, lambda admin: admin.describe_producers([FOO0, FOO1], broker_id=1))
    assert [p.producer_id for p in result[FOO0]] == [5]
    assert isinstance(result[FOO1], NotLeaderOrFollower)  # final: the broker was chosen
    assert str(result[FOO1]) == ("Failed to describe active producers for partition foo-1 on "
                                 "brokerId 1")
    assert {node for node, _ in cluster3.sent_to(ApiKey.DESCRIBE_PRODUCERS)} == {1}


# --- WriteTxnMarkers -----------------------------------------------------------------------------


def test_abort_transaction_writes_an_abort_marker_to_the_leader(cluster3, run):
    cluster3.create_topic("foo", 2)
    cluster3.leaders[FOO1] = 2
    cluster3.stale_leaders[FOO1] = collections.deque([1])

    _admin_run(run, lambda admin: admin.abort_transaction(FOO1, 31, 4, 7))
    [(node, marker)] = cluster3.aborted
    assert node == 2
    assert (marker.producer_id, marker.producer_epoch, marker.coordinator_epoch) == (31, 4, 7)
    assert marker.transaction_result is False
    assert [(t.name, t.partition_indexes) for t in marker.topics] == [("foo", (1,))]
    assert [node for node, _ in cluster3.sent_to(ApiKey.WRITE_TXN_MARKERS)] == [1, 2]


def test_abort_transaction_raises_the_partition_error(cluster3, run):
    cluster3.create_topic("foo", 1)
    cluster3.marker_errors.append(47)
    with pytest.raises(InvalidProducerEpoch) as info:
        _admin_run(run, lambda admin: admin.abort_transaction(FOO0, 31, 4, 7))
    assert str(info.value) == (
        "WriteTxnMarkers request with AbortTransactionSpec(topicPartition=foo-0, producerId=31, "
        "producerEpoch=4, coordinatorEpoch=7) failed due an invalid producer epoch")
    cluster3.marker_errors.append(52)
    with pytest.raises(TransactionCoordinatorFenced, match="coordinator epoch 7 has been fenced"):
        _admin_run(run, lambda admin: admin.abort_transaction(FOO0, 31, 4, 7))
    with pytest.raises(UnknownTopicOrPartition):
        _admin_run(run, lambda admin: admin.abort_transaction(TopicPartition("nope", 0), 1, 0, 0))
    assert cluster3.aborted == []


# --- kafka-transactions.sh end to end (real Admin, fake cluster) --------------------------------


def test_cli_end_to_end(cluster3):
    from click.testing import CliRunner

    from kafkalite.cli.transactions import kafka_transactions

    cluster3.create_topic("foo", 2)
    cluster3.leaders[FOO1] = 2
    cluster3.add_transaction("app", 1, producer_id=21, partitions=(FOO0,), start_ms=TS - 500)
    cluster3.producers[FOO1] = [WireProducerState(
        producer_id=99, producer_epoch=3, last_sequence=4, last_timestamp=TS - 3_600_000,
        coordinator_epoch=-1, current_txn_start_offset=17)]

    def tool(*args):
        result = CliRunner().invoke(kafka_transactions, ["--bootstrap-server", "fake:9092",
                                                         *args], obj={"now_ms": lambda: TS})
        return result.exit_code, result.stdout, result.stderr

    assert tool("list") == (0, "TransactionalId\tCoordinator\tProducerId\tTransactionState\t\n"
                               "app            \t1          \t21        \tOngoing         \t\n",
                            "")
    code, out, _ = tool("describe", "--transactional-id", "app")
    assert code == 0 and out.splitlines()[1].split() == [
        "1", "app", "21", "2", "Ongoing", "60000", str(TS - 500), "500", "foo-0"]
    code, out, _ = tool("find-hanging", "--topic", "foo")
    assert code == 0 and [line.split() for line in out.splitlines()][1:] == [
        ["foo", "1", "99", "3", "-1", "17", str(TS - 3_600_000), "60"]]
    assert tool("abort", "--topic", "foo", "--partition", "1", "--start-offset", "17") == \
        (0, "", "")
    [(node, marker)] = cluster3.aborted
    assert (node, marker.producer_id, marker.producer_epoch, marker.coordinator_epoch) == \
        (2, 99, 3, 0)
    code, _, err = tool("describe", "--transactional-id", "nope")
    assert code == 1 and err.startswith("Failed to describe transaction state of "
                                        "transactional-id `nope`: DescribeTransactions request")
