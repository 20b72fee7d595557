"""The producer: partition, batch, send to leaders, retry, resolve delivery handles.

Shape (style rule 6): a :class:`Producer` has a sender task, :meth:`Producer.run`, started with
``await nursery.start(producer.run)`` — or simply ``async with Producer(cluster) as producer:``,
which starts it in a nursery of its own and flushes on the way out. Callers append records;
the sender drains whatever :class:`RecordAccumulator` says is ready (full, lingered, or being
flushed), groups batches by partition leader, and sends one Produce request per leader
concurrently. Each record's :class:`DeliveryHandle` resolves with its :class:`RecordMetadata`
or the error that ended its batch.

Retries: retriable errors (NOT_LEADER_OR_FOLLOWER, connection loss, request timeouts, ...) put
the batch back at the front of its partition's queue after a backoff, refreshing metadata when
the error says leadership moved, until ``retries`` or ``delivery_timeout_ms`` runs out. With at
most one batch in flight per partition, order is kept.

Idempotence (KIP-98): ``enable_idempotence=True`` (requires ``acks=-1``, as in Kafka) obtains a
producer id with InitProducerId and numbers each partition's records from 0; a retried batch is
resent byte for byte, so the broker can drop duplicates. DUPLICATE_SEQUENCE_NUMBER therefore
counts as success. After a batch fails for good the sequence is broken, so the producer asks for
a fresh producer id (what Kafka 2.5+ does with an epoch bump) before the next batch.
"""

from __future__ import annotations

import math
import random
import time
from collections.abc import Callable, Sequence

import attrs
import trio

from kafkalite.compression import CODEC_NAMES, ZSTD
from kafkalite.errors import (
    ConfigError,
    DuplicateSequenceNumber,
    KafkaError,
    MessageTooLarge,
    UnknownServerError,
    UnknownTopicOrPartition,
)
from kafkalite.model import TopicPartition
from kafkalite.protocol.api_keys import ApiKey
from kafkalite.protocol.messages.init_producer_id import InitProducerIdRequest
from kafkalite.protocol.messages.produce import (
    PartitionProduceData,
    ProduceRequest,
    TopicProduceData,
)
from kafkalite.records.batch import RECORD_BATCH_OVERHEAD
from kafkalite.records.builder import build_batch
from kafkalite.client.accumulator import ProducerBatch, RecordAccumulator, estimate_record_size
from kafkalite.client.cluster import Cluster, _invalidates_metadata, is_retriable
from kafkalite.client.errors import ClientError, error_for, raise_for_code
from kafkalite.client.partitioners import StickyPartitioner, murmur2, to_positive

__all__ = ["Producer", "RecordMetadata", "DeliveryHandle", "parse_acks"]

_MAX_SEQUENCE = 0x7FFFFFFF


@attrs.frozen(kw_only=True)
class RecordMetadata:
    """Where a record was written. ``offset`` is -1 with acks=0 (no answer is sent)."""

    topic: str
    partition: int
    offset: int
    timestamp: int = -1


class DeliveryHandle:
    """The outcome of one record, resolved by the sender task."""

    __slots__ = ("topic", "partition", "key", "value_size", "_event", "_result", "_error")

    def __init__(self, topic: str, partition: int, key: bytes | None, value_size: int):
        self.topic = topic
        self.partition = partition
        self.key = key
        self.value_size = value_size
        self._event = trio.Event()
        self._result: RecordMetadata | None = None
        self._error: BaseException | None = None

    def done(self) -> bool:
        return self._event.is_set()

    @property
    def error(self) -> BaseException | None:
        """The failure, once done (None on success)."""
        return self._error

    @property
    def result(self) -> RecordMetadata | None:
        return self._result

    def set_result(self, metadata: RecordMetadata) -> None:
        self._result = metadata
        self._event.set()

    def set_error(self, error: BaseException) -> None:
        self._error = error
        self._event.set()

    async def wait(self) -> RecordMetadata:
        """Wait for the acknowledgement.

        Raises:
            KafkaError, ClientError: why the record could not be delivered.
        """
        await self._event.wait()
        if self._error is not None:
            raise self._error
        assert self._result is not None
        return self._result


def parse_acks(acks: int | str) -> int:
    """Kafka's ``acks`` values: 0, 1, -1 or "all".

    Raises:
        ConfigError: anything else.
    """
    text = str(acks).strip().lower()
    if text == "all":
        return -1
    if text in ("0", "1", "-1"):
        return int(text)
    raise ConfigError(f"Invalid value {acks} for configuration acks: String must be one of: "
                      "all, -1, 0, 1")


def _to_bytes(data: bytes | bytearray | memoryview | str | None) -> bytes | None:
    if data is None or isinstance(data, bytes):
        return data
    if isinstance(data, str):
        return data.encode("utf-8")
    return bytes(data)


class Producer:
    """An asynchronous, batching Kafka producer.

    Args:
        cluster: metadata and connections.
        acks: 0, 1, -1/"all".
        compression: "none", "gzip", "snappy", "lz4", "zstd" (or the codec id).
        linger_ms: how long a batch waits for more records.
        batch_size: target batch size in bytes.
        enable_idempotence: KIP-98 idempotent producer (needs acks=-1).
        delivery_timeout_ms: upper bound from append to final outcome, retries included.
        retries: retry attempts per batch.
        retry_backoff_ms: base of the exponential backoff between attempts.
        max_request_size: largest record (and request) accepted, in bytes.
        buffer_memory: appends wait while this many bytes are unacknowledged.
        partitioner: ``f(key, num_partitions) -> partition`` for keyed records; default murmur2.
        rng: randomness for the sticky null-key partitioner (tests pass a seeded one).

    Raises:
        ConfigError: invalid acks / compression, or idempotence without acks=-1.
    """

    def __init__(self, cluster: Cluster, *, acks: int | str = 1, compression: str | int = "none",
                 linger_ms: float = 5, batch_size: int = 16_384, enable_idempotence: bool = False,
                 delivery_timeout_ms: int = 120_000, retries: int = 2_147_483_647,
                 retry_backoff_ms: int = 100, max_request_size: int = 1_048_576,
                 buffer_memory: int = 33_554_432,
                 partitioner: Callable[[bytes, int], int] | None = None,
                 rng: random.Random | None = None):
        self.cluster = cluster
        self.acks = parse_acks(acks)
        if isinstance(compression, str):
            if compression.lower() not in CODEC_NAMES:
                raise ConfigError(f"Invalid value {compression} for configuration compression.type:"
                                  f" String must be one of: {', '.join(CODEC_NAMES)}")
            self.compression = CODEC_NAMES[compression.lower()]
        else:
            self.compression = int(compression)
        if enable_idempotence and self.acks != -1:
            raise ConfigError("Must set acks to all in order to use the idempotent producer. "
                              "Otherwise we cannot guarantee idempotence.")
        self.enable_idempotence = enable_idempotence
        self.delivery_timeout_ms = delivery_timeout_ms
        self.retries = retries
        self.retry_backoff_ms = retry_backoff_ms
        self.max_request_size = max_request_size
        self.buffer_memory = buffer_memory
        self._partitioner = partitioner
        self._rng = rng or random.Random()
        self._sticky = StickyPartitioner(self._rng)
        self._accumulator = RecordAccumulator(batch_size=batch_size, linger_ms=linger_ms)
        self._wakeup = trio.Event()
        self._changed = trio.Event()
        self._flushing = 0
        self._running = False
        self._closed = False
        self._run_scope: trio.CancelScope | None = None
        self._metadata_refresh_pending = False
        self._producer_id = -1
        self._producer_epoch = -1
        self._producer_id_stale = False
        self._sequences: dict[TopicPartition, int] = {}

    # --- lifecycle -----------------------------------------------------------------------------

    async def __aenter__(self) -> Producer:
        nursery_manager = trio.open_nursery()
        nursery = await nursery_manager.__aenter__()
        # The nursery is exited by hand (not through the stack) so an exception from the body of
        # `async with Producer(...)` propagates as itself rather than inside an ExceptionGroup.
        self._nursery_manager = nursery_manager
        self._nursery = nursery
        try:
            await nursery.start(self.run)
        except BaseException:
            nursery.cancel_scope.cancel()
            await nursery_manager.__aexit__(None, None, None)
            raise
        return self

    async def __aexit__(self, exc_type, exc, tb) -> bool:
        try:
            if exc_type is None:
                await self.flush()
        finally:
            self._closed = True
            self._nursery.cancel_scope.cancel()
            await self._nursery_manager.__aexit__(None, None, None)
        return False

    async def run(self, *, task_status=trio.TASK_STATUS_IGNORED) -> None:
        """The sender task: drain ready batches and send them until cancelled or closed."""
        with trio.CancelScope() as scope:
            self._run_scope = scope
            async with trio.open_nursery() as nursery:
                self._running = True
                task_status.started()
                try:
                    while True:
                        await self._wait_for_work()
                        if self._metadata_refresh_pending:
                            self._metadata_refresh_pending = False
                            nursery.start_soon(self._refresh_metadata)
                        batches = self._accumulator.ready(self._now_ms(),
                                                          flush=self._flushing > 0)
                        if batches:
                            await self._dispatch(nursery, batches)
                finally:
                    self._running = False

    async def flush(self) -> None:
        """Send everything appended so far and wait until every record has an outcome."""
        self._flushing += 1
        try:
            while not self._accumulator.is_empty():
                self._check_running()
                changed = self._changed
                self._wakeup.set()
                await changed.wait()
        finally:
            self._flushing -= 1

    async def aclose(self) -> None:
        """Flush, then stop the sender task. Later appends raise."""
        if self._closed:
            return
        if self._running:
            await self.flush()
        self._closed = True
        if self._run_scope is not None:
            self._run_scope.cancel()

    # --- appending -----------------------------------------------------------------------------

    async def enqueue(self, topic: str, value: bytes | str | None, key: bytes | str | None = None,
                      headers: Sequence[tuple[str, bytes | str | None]] = (),
                      partition: int | None = None,
                      timestamp_ms: int | None = None) -> DeliveryHandle:
        """Append a record and return its handle without waiting for the acknowledgement.

        Waits only while ``buffer_memory`` is exhausted, and for topic metadata the first time
        a topic is used (auto-creating it when the cluster allows).

        Raises:
            MessageTooLarge: the record exceeds ``max_request_size``.
            UnknownTopicOrPartition: ``partition`` does not exist.
            KafkaTimeoutError, ConnectionFailed, KafkaError: topic metadata unavailable.
            ClientError: the producer is not running or was closed.
        """
        self._check_running()
        key_bytes = _to_bytes(key)
        value_bytes = _to_bytes(value)
        header_list = tuple((str(k), _to_bytes(v)) for k, v in headers)
        size = estimate_record_size(key_bytes, value_bytes, header_list)
        if size + RECORD_BATCH_OVERHEAD > self.max_request_size:
            raise MessageTooLarge(f"The message is {size} bytes when serialized which is larger "
                                  f"than {self.max_request_size}, which is the value of the "
                                  "max.request.size configuration.")
        topic_md = (await self.cluster.wait_for_topics([topic]))[topic]
        num_partitions = len(topic_md.partitions)
        if partition is not None:
            if partition not in topic_md.partitions:
                raise UnknownTopicOrPartition(
                    f"Invalid partition given with record: {partition} is not in the range "
                    f"[0...{num_partitions}).")
        elif key_bytes is not None:
            if self._partitioner is not None:
                partition = self._partitioner(key_bytes, num_partitions)
            else:
                partition = to_positive(murmur2(key_bytes)) % num_partitions
        else:
            available = topic_md.available_partitions()
            partition = self._sticky.partition(topic, num_partitions, available)
            if self._accumulator.would_create_batch(TopicPartition(topic, partition), size):
                self._sticky.on_new_batch(topic, num_partitions, partition, available)
                partition = self._sticky.partition(topic, num_partitions, available)
        while (self._accumulator.pending_records
               and self._accumulator.pending_bytes + size > self.buffer_memory):
            self._check_running()
            await self._changed.wait()
        self._check_running()
        handle = DeliveryHandle(topic, partition, key_bytes,
                                len(value_bytes) if value_bytes is not None else -1)
        timestamp = int(time.time() * 1000) if timestamp_ms is None else timestamp_ms
        self._accumulator.append(TopicPartition(topic, partition),
                                 (key_bytes, value_bytes, header_list, timestamp), handle,
                                 now_ms=self._now_ms(), size=size)
        self._wakeup.set()
        return handle

    async def send(self, topic: str, value: bytes | str | None, key: bytes | str | None = None,
                   headers: Sequence[tuple[str, bytes | str | None]] = (),
                   partition: int | None = None,
                   timestamp_ms: int | None = None) -> RecordMetadata:
        """Append a record and wait until it is acknowledged (see :meth:`enqueue`)."""
        handle = await self.enqueue(topic, value, key=key, headers=headers, partition=partition,
                                    timestamp_ms=timestamp_ms)
        return await handle.wait()

    def _check_running(self) -> None:
        if self._closed:
            raise ClientError("the producer is closed")
        if not self._running:
            raise ClientError("the producer is not running: use `async with Producer(...)` "
                              "or start `producer.run` in a nursery")

    # --- sender --------------------------------------------------------------------------------

    @staticmethod
    def _now_ms() -> float:
        return trio.current_time() * 1000

    def _notify(self) -> None:
        self._changed.set()
        self._changed = trio.Event()

    async def _wait_for_work(self) -> None:
        if self._wakeup.is_set():
            self._wakeup = trio.Event()
        wait = self._accumulator.next_ready_ms(self._now_ms(), flush=self._flushing > 0)
        if wait == 0:
            await trio.lowlevel.checkpoint()
            return
        timeout = math.inf if wait is None else wait / 1000
        with trio.move_on_after(timeout):
            await self._wakeup.wait()

    async def _dispatch(self, nursery: trio.Nursery, batches: list[ProducerBatch]) -> None:
        if self.enable_idempotence:
            try:
                await self._ensure_producer_id()
            except (KafkaError, ClientError) as exc:
                for batch in batches:
                    self._fail(batch, exc)
                return
        by_leader: dict[int, list[ProducerBatch]] = {}
        for batch in batches:
            leader = self.cluster.leader_for(batch.tp.topic, batch.tp.partition)
            if leader is None:
                self._retry_or_fail(batch, UnknownTopicOrPartition(
                    f"no leader known for {batch.tp}"), force_refresh=True)
                continue
            self._build(batch)
            by_leader.setdefault(leader, []).append(batch)
        for leader, group in by_leader.items():
            for chunk in self._split_by_size(group):
                nursery.start_soon(self._send_to, leader, chunk)

    def _split_by_size(self, group: list[ProducerBatch]) -> list[list[ProducerBatch]]:
        chunks: list[list[ProducerBatch]] = [[]]
        size = 0
        for batch in group:
            batch_bytes = len(batch.payload or b"")
            if chunks[-1] and size + batch_bytes > self.max_request_size:
                chunks.append([])
                size = 0
            chunks[-1].append(batch)
            size += batch_bytes
        return chunks

    def _build(self, batch: ProducerBatch) -> None:
        if batch.payload is not None and (not self.enable_idempotence
                                          or batch.producer_id == self._producer_id):
            return
        if self.enable_idempotence:
            sequence = self._sequences.get(batch.tp, 0)
            batch.producer_id, batch.producer_epoch = self._producer_id, self._producer_epoch
            batch.base_sequence = sequence
            self._sequences[batch.tp] = (sequence + batch.record_count) % (_MAX_SEQUENCE + 1)
        batch.payload = build_batch(batch.records, compression=self.compression,
                                    producer_id=batch.producer_id,
                                    producer_epoch=batch.producer_epoch,
                                    base_sequence=batch.base_sequence)

    async def _ensure_producer_id(self) -> None:
        if self._producer_id >= 0 and not self._producer_id_stale:
            return

        async def init_once():
            response = await self.cluster.request(
                None, InitProducerIdRequest(transactional_id=None,
                                            transaction_timeout_ms=2_147_483_647))
            raise_for_code(response.error_code, "InitProducerId")
            return response

        response = await self.cluster.call_with_retries(init_once, what="InitProducerId")
        self._producer_id = response.producer_id
        self._producer_epoch = response.producer_epoch
        self._producer_id_stale = False
        self._sequences.clear()

    async def _send_to(self, leader: int, batches: list[ProducerBatch]) -> None:
        topic_data: dict[str, list[PartitionProduceData]] = {}
        for batch in batches:
            topic_data.setdefault(batch.tp.topic, []).append(
                PartitionProduceData(index=batch.tp.partition, records=batch.payload))
        request = ProduceRequest(
            transactional_id=None, acks=self.acks, timeout_ms=self.cluster.request_timeout_ms,
            topic_data=tuple(TopicProduceData(name=t, partition_data=tuple(parts))
                             for t, parts in topic_data.items()))
        try:
            connection = await self.cluster.connection(leader)
            version = connection.pick_version(
                ApiKey.PRODUCE, client_min=7 if self.compression == ZSTD else None)
            response = await self.cluster.request(connection, request, version)
        except (KafkaError, ClientError) as exc:
            for batch in batches:
                self._retry_or_fail(batch, exc)
            return
        if response is None:  # acks=0
            for batch in batches:
                self._succeed(batch, -1, -1)
            return
        results = {(t.name, p.index): p for t in response.responses
                   for p in t.partition_responses}
        for batch in batches:
            result = results.get((batch.tp.topic, batch.tp.partition))
            if result is None:
                self._retry_or_fail(batch, UnknownServerError(
                    f"no produce result for {batch.tp} in the broker's response"))
            elif result.error_code == DuplicateSequenceNumber.code:
                self._succeed(batch, -1, -1)
            elif result.error_code:
                message = result.error_message or None
                self._retry_or_fail(batch, error_for(
                    result.error_code, f"topic {batch.tp.topic} partition {batch.tp.partition}",
                    message))
            else:
                self._succeed(batch, result.base_offset, result.log_append_time_ms)

    def _succeed(self, batch: ProducerBatch, base_offset: int, log_append_time: int) -> None:
        self._accumulator.complete(batch)
        for i, (handle, record) in enumerate(zip(batch.handles, batch.records)):
            offset = base_offset + i if base_offset >= 0 else -1
            timestamp = log_append_time if log_append_time >= 0 else record[3]
            handle.set_result(RecordMetadata(topic=batch.tp.topic, partition=batch.tp.partition,
                                             offset=offset, timestamp=timestamp))
        self._notify()

    def _fail(self, batch: ProducerBatch, error: BaseException) -> None:
        self._accumulator.complete(batch)
        for handle in batch.handles:
            handle.set_error(error)
        if self.enable_idempotence:
            self._producer_id_stale = True
        self._notify()

    def _retry_or_fail(self, batch: ProducerBatch, error: BaseException, *,
                       force_refresh: bool = False) -> None:
        now = self._now_ms()
        expired = now - batch.created_ms >= self.delivery_timeout_ms
        if not is_retriable(error) or batch.attempts >= self.retries or expired:
            self._fail(batch, error)
            return
        if force_refresh or _invalidates_metadata(error):
            self._metadata_refresh_pending = True
        delay = min(self.retry_backoff_ms * 2 ** min(batch.attempts, 10), 1_000)
        self._accumulator.reenqueue(batch, retry_at_ms=now + delay)
        self._wakeup.set()
        self._notify()

    async def _refresh_metadata(self) -> None:
        try:
            await self.cluster.try_refresh_metadata()
        except (KafkaError, ClientError):
            pass  # a non-retriable metadata error resurfaces on the batch's next attempt
        self._wakeup.set()
