"""An in-memory Kafka broker for client tests: no sockets, no ZooKeeper, no sleeps.

``FakeKafka.install(monkeypatch)`` replaces ``trio.open_tcp_stream`` with a function that
returns one end of ``trio.testing.memory_stream_pair()`` and serves the other end in a trio
*system task* speaking the real wire protocol (``protocol.framing.ServerConnection``). So the
client's whole stack — framing, version negotiation, pipelining, metadata, retries — runs
unchanged, and tests can inject faults (``produce_errors``, ``fetch_errors``, ...) and inspect
every request the client sent (``requests``).

It implements just enough of each API for the client: one log per partition holding the
batches with broker-assigned offsets (patched in place, as the real broker does), a high
watermark equal to the log end, auto-creation, one controller.
"""

from __future__ import annotations

import collections
from typing import Any

import attrs
import trio
import trio.testing

from kafkalite.protocol.api_keys import ApiKey
from kafkalite.protocol.framing import ServerConnection
from kafkalite.protocol.messages.api_versions import ApiVersion, ApiVersionsResponse
from kafkalite.protocol.messages.create_topics import CreatableTopicResult, CreateTopicsResponse
from kafkalite.protocol.messages.delete_topics import DeletableTopicResult, DeleteTopicsResponse
from kafkalite.protocol.messages.fetch import (
    FetchableTopicResponse,
    FetchResponse,
    PartitionData,
)
from kafkalite.protocol.messages.init_producer_id import InitProducerIdResponse
from kafkalite.protocol.messages.list_offsets import (
    ListOffsetsPartitionResponse,
    ListOffsetsResponse,
    ListOffsetsTopicResponse,
)
from kafkalite.protocol.messages.metadata import (
    MetadataResponse,
    MetadataResponseBroker,
    MetadataResponsePartition,
    MetadataResponseTopic,
)
from kafkalite.protocol.messages.produce import (
    PartitionProduceResponse,
    ProduceResponse,
    TopicProduceResponse,
)
from kafkalite.records.batch import RecordBatchView, iter_batches

SUPPORTED = {
    ApiKey.API_VERSIONS: (0, 3),
    ApiKey.METADATA: (0, 9),
    ApiKey.PRODUCE: (3, 9),
    ApiKey.FETCH: (4, 12),
    ApiKey.LIST_OFFSETS: (1, 7),
    ApiKey.CREATE_TOPICS: (0, 5),
    ApiKey.DELETE_TOPICS: (0, 5),
    ApiKey.INIT_PRODUCER_ID: (0, 4),
}


@attrs.define
class PartitionLog:
    batches: list[bytes] = attrs.field(factory=list)
    log_start_offset: int = 0
    log_end_offset: int = 0

    def append(self, data: bytes) -> int:
        base = self.log_end_offset
        for _, view in iter_batches(memoryview(data)):
            patched = bytearray(view.buffer)
            RecordBatchView(memoryview(patched)).set_base_offset(self.log_end_offset)
            self.batches.append(bytes(patched))
            self.log_end_offset += view.last_offset_delta + 1
        return base


class FakeKafka:
    """One broker (node 0, also the controller) holding topics in memory.

    Attributes:
        logs: (topic, partition) -> PartitionLog.
        requests: every (api_key, version, request) received, in order.
        produce_errors / fetch_errors / list_offsets_errors: error codes to answer next, per
            (topic, partition), consumed one per request.
        create_errors: error codes CreateTopics answers next (consumed one per request).
        refuse: addresses ("host", port) whose connections are refused.
    """

    def __init__(self, *, supported: dict[int, tuple[int, int]] | None = None,
                 auto_create: bool = True, num_partitions: int = 1,
                 max_partition_bytes_override: int | None = None):
        self.supported = dict(SUPPORTED if supported is None else supported)
        self.auto_create = auto_create
        self.num_partitions = num_partitions
        self.logs: dict[tuple[str, int], PartitionLog] = {}
        self.requests: list[tuple[int, int, Any]] = []
        self.produce_errors: dict[tuple[str, int], collections.deque[int]] = {}
        self.fetch_errors: dict[tuple[str, int], collections.deque[int]] = {}
        self.list_offsets_errors: dict[tuple[str, int], collections.deque[int]] = {}
        self.create_errors: collections.deque[int] = collections.deque()
        self.leaderless_rounds: dict[str, int] = {}
        self.refuse: set[tuple[str, int]] = set()
        self.connections = 0
        self.next_producer_id = 1000

    # --- wiring ------------------------------------------------------------------------------

    def install(self, monkeypatch) -> FakeKafka:
        monkeypatch.setattr(trio, "open_tcp_stream", self.open_tcp_stream)
        return self

    async def open_tcp_stream(self, host: str, port: int, **_kw):
        await trio.lowlevel.checkpoint()
        if (host, port) in self.refuse:
            raise OSError(111, "Connection refused")
        client, server = trio.testing.memory_stream_pair()
        self.connections += 1
        trio.lowlevel.spawn_system_task(self._serve, server)
        return client

    def create_topic(self, name: str, partitions: int | None = None) -> None:
        for p in range(partitions or self.num_partitions):
            self.logs.setdefault((name, p), PartitionLog())

    def topic_partitions(self, name: str) -> list[int]:
        return sorted(p for (t, p) in self.logs if t == name)

    def sent(self, api_key: int) -> list[Any]:
        return [r for k, _, r in self.requests if k == api_key]

    async def _serve(self, stream) -> None:
        conn = ServerConnection(max_frame_bytes=100 * 1024 * 1024, supported=self.supported)
        try:
            while True:
                data = await stream.receive_some(65536)
                if not data:
                    return
                conn.receive_data(data)
                while (request := conn.next_request()) is not None:
                    response = self._handle(request)
                    if isinstance(response, FetchResponse) and not any(
                            p.records for t in response.responses for p in t.partitions):
                        await trio.sleep(request.body.max_wait_ms / 1000)  # fetch.max.wait
                    if response is not None:
                        for part in conn.response_parts(request, response):
                            await stream.send_all(part)
        except (trio.BrokenResourceError, trio.ClosedResourceError):
            return

    # --- handlers ------------------------------------------------------------------------------

    def _handle(self, request) -> Any:
        key = request.header.api_key
        self.requests.append((key, request.header.api_version, request.body))
        if key == ApiKey.API_VERSIONS:
            return ApiVersionsResponse(
                error_code=35 if request.unsupported_version else 0,
                api_keys=tuple(ApiVersion(api_key=k, min_version=lo, max_version=hi)
                               for k, (lo, hi) in sorted(self.supported.items())))
        handler = {
            ApiKey.METADATA: self._metadata,
            ApiKey.PRODUCE: self._produce,
            ApiKey.FETCH: self._fetch,
            ApiKey.LIST_OFFSETS: self._list_offsets,
            ApiKey.CREATE_TOPICS: self._create_topics,
            ApiKey.DELETE_TOPICS: self._delete_topics,
            ApiKey.INIT_PRODUCER_ID: self._init_producer_id,
        }[key]
        return handler(request.body)

    def _metadata(self, body) -> MetadataResponse:
        names = sorted({t for t, _ in self.logs}) if body.topics is None else [
            t.name for t in body.topics]
        topics = []
        for name in names:
            partitions = self.topic_partitions(name)
            if not partitions:
                if self.auto_create and body.allow_auto_topic_creation:
                    self.create_topic(name)
                    topics.append(MetadataResponseTopic(error_code=5, name=name))
                else:
                    topics.append(MetadataResponseTopic(error_code=3, name=name))
                continue
            leaderless = self.leaderless_rounds.get(name, 0)
            if leaderless:
                self.leaderless_rounds[name] = leaderless - 1
            topics.append(MetadataResponseTopic(error_code=0, name=name, partitions=tuple(
                MetadataResponsePartition(error_code=5 if leaderless else 0, partition_index=p,
                                          leader_id=-1 if leaderless else 0,
                                          replica_nodes=(0,), isr_nodes=(0,))
                for p in partitions)))
        return MetadataResponse(
            brokers=(MetadataResponseBroker(node_id=0, host="fake", port=9092),),
            cluster_id="fake-cluster", controller_id=0, topics=tuple(topics))

    @staticmethod
    def _next_error(table, tp) -> int:
        queue = table.get(tp)
        return queue.popleft() if queue else 0

    def _produce(self, body) -> ProduceResponse | None:
        responses = []
        for topic in body.topic_data:
            parts = []
            for p in topic.partition_data:
                tp = (topic.name, p.index)
                error = self._next_error(self.produce_errors, tp)
                if not error and tp not in self.logs:
                    error = 3
                base = -1
                if not error:
                    base = self.logs[tp].append(bytes(p.records))
                parts.append(PartitionProduceResponse(index=p.index, error_code=error,
                                                      base_offset=base))
            responses.append(TopicProduceResponse(name=topic.name,
                                                  partition_responses=tuple(parts)))
        if body.acks == 0:
            return None
        return ProduceResponse(responses=tuple(responses))

    def _fetch(self, body) -> FetchResponse:
        responses = []
        for topic in body.topics:
            parts = []
            for p in topic.partitions:
                tp = (topic.topic, p.partition)
                log = self.logs.get(tp)
                error = self._next_error(self.fetch_errors, tp)
                if not error and log is None:
                    error = 3
                if not error and not log.log_start_offset <= p.fetch_offset <= log.log_end_offset:
                    error = 1
                records = b""
                if not error:
                    chosen = []
                    size = 0
                    for data in log.batches:
                        view = RecordBatchView(memoryview(data))
                        if view.last_offset < p.fetch_offset:
                            continue
                        chosen.append(data)
                        size += len(data)
                        if size >= p.partition_max_bytes:
                            break
                    records = b"".join(chosen)
                    if size > p.partition_max_bytes and len(chosen) > 1:
                        records = records[:p.partition_max_bytes]  # trailing partial batch
                parts.append(PartitionData(
                    partition_index=p.partition, error_code=error,
                    high_watermark=log.log_end_offset if log else -1,
                    last_stable_offset=log.log_end_offset if log else -1,
                    records=records))
            responses.append(FetchableTopicResponse(topic=topic.topic, partitions=tuple(parts)))
        return FetchResponse(responses=tuple(responses))

    def _list_offsets(self, body) -> ListOffsetsResponse:
        topics = []
        for topic in body.topics:
            parts = []
            for p in topic.partitions:
                tp = (topic.name, p.partition_index)
                log = self.logs.get(tp)
                error = self._next_error(self.list_offsets_errors, tp) or (3 if log is None else 0)
                offset = -1
                if not error:
                    offset = log.log_start_offset if p.timestamp == -2 else log.log_end_offset
                parts.append(ListOffsetsPartitionResponse(partition_index=p.partition_index,
                                                          error_code=error, offset=offset))
            topics.append(ListOffsetsTopicResponse(name=topic.name, partitions=tuple(parts)))
        return ListOffsetsResponse(topics=tuple(topics))

    def _create_topics(self, body) -> CreateTopicsResponse:
        results = []
        forced = self.create_errors.popleft() if self.create_errors else 0
        for t in body.topics:
            if forced:
                results.append(CreatableTopicResult(name=t.name, error_code=forced))
            elif self.topic_partitions(t.name):
                results.append(CreatableTopicResult(
                    name=t.name, error_code=36, error_message=f"Topic '{t.name}' already exists."))
            else:
                if not body.validate_only:
                    count = len(t.assignments) or (t.num_partitions if t.num_partitions > 0
                                                   else self.num_partitions)
                    self.create_topic(t.name, count)
                results.append(CreatableTopicResult(name=t.name, error_code=0))
        return CreateTopicsResponse(topics=tuple(results))

    def _delete_topics(self, body) -> DeleteTopicsResponse:
        results = []
        for name in body.topic_names:
            if self.topic_partitions(name):
                for p in self.topic_partitions(name):
                    del self.logs[(name, p)]
                results.append(DeletableTopicResult(name=name, error_code=0))
            else:
                results.append(DeletableTopicResult(name=name, error_code=3))
        return DeleteTopicsResponse(responses=tuple(results))

    def _init_producer_id(self, body) -> InitProducerIdResponse:
        self.next_producer_id += 1
        return InitProducerIdResponse(error_code=0, producer_id=self.next_producer_id,
                                      producer_epoch=0)
