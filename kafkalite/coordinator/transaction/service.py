"""The transaction coordinator's trio shell: runs :class:`TransactionCoordinator` and carries out
its effects (the way ``coordinator/service.py`` runs the group coordinator).

- **Requests.** Each public coroutine calls the machine with ``now_ms`` and applies the
  returned effects; a request waiting for its ``__transaction_state`` record waits on a slot
  that a later :class:`~kafkalite.coordinator.results.Reply` fills. InitProducerId always gets
  a fresh producer id from the broker's ZooKeeper-reserved block first (the machine uses it
  only for a new transactional id or when the epochs of the old id ran out).
- **Appends.** Transaction states go to ``__transaction_state`` through the ordinary log path
  (acks=-1, so ``transaction.state.log.min.isr`` applies), one record per append. An append
  that the machine re-issues after a failure (a CompleteCommit/CompleteAbort record) is
  written after a short backoff.
- **Markers.** :class:`SendMarkers` becomes one WriteTxnMarkers request per partition leader
  (leaders from the metadata cache, the inter-broker channel, ourselves without a socket);
  results go back to the machine, which asks again for what must be retried (after
  ``retry_after_ms``) and writes the completion record when every partition has its marker.
- **Timers.** Timed-out transactions are aborted every
  ``transaction.abort.timed.out.transaction.cleanup.interval.ms``; expired transactional ids
  are removed every ``transaction.remove.expired.transaction.cleanup.interval.ms``.
- **Leadership.** Gaining leadership of a ``__transaction_state`` partition replays it into
  the machine with the partition's leader epoch as coordinator epoch (requests for its ids get
  COORDINATOR_LOAD_IN_PROGRESS meanwhile); losing it unloads them.

Public API (for handlers and tools): :meth:`partition_for`, :meth:`coordinator_error`,
:meth:`ensure_topic`, :meth:`init_producer_id`, :meth:`add_partitions`, :meth:`add_offsets`,
:meth:`end_txn`, :meth:`describe`, :meth:`list_transactions`, :meth:`wait_loaded`.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any

import attrs
import trio

from kafkalite import errors
from kafkalite.coordinator.results import Append, ErrorType, Reply, Result
from kafkalite.coordinator.shell import (
    ParkedRequests, PartitionLoads, existing_partition_count, replay_log)
from kafkalite.coordinator.transaction.machine import TransactionCoordinator, TxnConfig
from kafkalite.coordinator.transaction.results import (
    InitPidResult, ListTxnsResult, SendMarkers, TxnDescription)
from kafkalite.errors import KafkaError, TopicAlreadyExists
from kafkalite.model import OFFSETS_TOPIC, TRANSACTION_TOPIC, TopicPartition
from kafkalite.protocol.api_keys import ApiKey
from kafkalite.protocol.header import RequestHeader
from kafkalite.protocol.messages.write_txn_markers import (
    WritableTxnMarker, WritableTxnMarkerTopic, WriteTxnMarkersRequest)
from kafkalite.records.batch import MAGIC_V2, RecordBatchView, iter_log_entries
from kafkalite.records.builder import build_batch
from kafkalite.records.record import decode_records
from kafkalite.replication.service import now_ms
from kafkalite.storage.producer_state import AppendOrigin

if TYPE_CHECKING:
    from kafkalite.server.broker import Broker

__all__ = ["TransactionCoordinatorService", "txn_config"]

log = logging.getLogger(__name__)

_APPEND_RETRY_BACKOFF_S = 0.1
_CONCURRENT_WAIT_S = 0.1
_MARKERS_API_VERSION = 1


def txn_config(cfg) -> TxnConfig:
    """The coordinator's settings from ``server.properties`` (Kafka's keys and defaults)."""
    return TxnConfig(
        num_partitions=cfg["transaction.state.log.num.partitions"],
        max_timeout_ms=cfg["transaction.max.timeout.ms"],
        transactional_id_expiration_ms=cfg["transactional.id.expiration.ms"])


class TransactionCoordinatorService:
    """Runs the transaction coordinator of one broker; ``await nursery.start(svc.run)``.

    Args:
        broker: the :class:`~kafkalite.server.broker.Broker` (replica manager, metadata
            cache, producer ids, inter-broker channels, group coordinator).
        clock: wall-clock milliseconds.
    """

    def __init__(self, broker: "Broker", *, clock: Callable[[], int] = now_ms):
        self.broker = broker
        self.clock = clock
        self.machine = TransactionCoordinator(txn_config(broker.config))
        cfg = broker.config
        self.abort_interval_s = \
            cfg["transaction.abort.timed.out.transaction.cleanup.interval.ms"] / 1000
        self.expire_interval_s = \
            cfg["transaction.remove.expired.transaction.cleanup.interval.ms"] / 1000
        self.request_timeout_s = cfg["request.timeout.ms"] / 1000
        self._nursery: trio.Nursery | None = None
        self._parked = ParkedRequests()
        self._state_changed = trio.Event()
        self._creating_topic = False
        # A new leader epoch is a new coordinator epoch: reload, as Kafka's onElection.
        self._loads = PartitionLoads(
            TRANSACTION_TOPIC, epoch_sensitive=True,
            begin=lambda partition, _term, epoch: self._apply(
                self.machine.begin_load(partition, epoch)),
            unload=self._unload, load=self._load)

    # -- lifecycle -----------------------------------------------------------------------

    async def run(self, *, task_status=trio.TASK_STATUS_IGNORED) -> None:
        rm = self.broker.replica_manager
        count = await existing_partition_count(self.broker.zk, TRANSACTION_TOPIC)
        if count is not None:
            self.machine.config = attrs.evolve(self.machine.config, num_partitions=count)
        rm.leadership_listeners.append(self._loads.on_leadership_change)
        try:
            async with trio.open_nursery() as nursery:
                self._nursery = nursery
                nursery.start_soon(self._loads.run, nursery)
                nursery.start_soon(self._every, self.abort_interval_s,
                                   lambda: self.machine.abort_timed_out(self.clock()))
                nursery.start_soon(self._every, self.expire_interval_s,
                                   lambda: self.machine.expire_transactional_ids(self.clock()))
                for p in rm.leader_partitions():
                    self._loads.on_leadership_change(p.tp, True, p.leader_epoch)
                task_status.started(self)
        finally:
            rm.leadership_listeners.remove(self._loads.on_leadership_change)
            self._nursery = None

    async def _every(self, interval_s: float, call: Callable[[], Result]) -> None:
        while True:
            await trio.sleep(interval_s)
            self._apply(call())

    # -- lookups -------------------------------------------------------------------------

    @property
    def num_partitions(self) -> int:
        return self.machine.config.num_partitions

    def partition_for(self, transactional_id: str) -> int:
        return self.machine.partition_for(transactional_id)

    def coordinator_error(self, transactional_id: str) -> ErrorType:
        return self.machine.coordinator_error(transactional_id)

    async def ensure_topic(self) -> None:
        """Create ``__transaction_state`` on the first transactional FindCoordinator, as Kafka.

        ``transaction.state.log.num.partitions`` partitions, replication factor
        ``transaction.state.log.replication.factor`` (not created while fewer brokers are
        alive), compacted, uncompressed, ``min.insync.replicas`` =
        ``transaction.state.log.min.isr``, unclean election off.
        """
        from kafkalite.server.topic_admin import create_topic

        if self._creating_topic:
            return
        broker = self.broker
        cfg = broker.config
        self._creating_topic = True
        try:
            rf = cfg["transaction.state.log.replication.factor"]
            live = len(broker.metadata.brokers) or len(await broker.zk.get_all_brokers())
            if live < rf:
                log.warning("cannot create %s yet: %d live broker(s), "
                            "transaction.state.log.replication.factor is %d",
                            TRANSACTION_TOPIC, live, rf)
                return
            configs = {"cleanup.policy": "compact", "compression.type": "uncompressed",
                       "min.insync.replicas": str(cfg["transaction.state.log.min.isr"]),
                       "segment.bytes": str(cfg["transaction.state.log.segment.bytes"]),
                       "unclean.leader.election.enable": "false"}
            try:
                await create_topic(broker, TRANSACTION_TOPIC,
                                   num_partitions=self.num_partitions,
                                   replication_factor=rf, configs=configs)
                log.info("created %s with %d partitions (replication factor %d)",
                         TRANSACTION_TOPIC, self.num_partitions, rf)
            except KafkaError as e:
                if not isinstance(e, TopicAlreadyExists):
                    log.warning("creating %s failed: %s", TRANSACTION_TOPIC, e)
        finally:
            self._creating_topic = False

    async def wait_loaded(self, partition: int) -> None:
        """Wait until this broker coordinates the ids of ``partition`` (tests, tools)."""
        while partition not in self.machine.owned:
            await self._loads.loaded_changed.wait()

    # -- requests ------------------------------------------------------------------------

    async def init_producer_id(self, transactional_id: str, timeout_ms: int, *,
                               producer_id: int = -1, producer_epoch: int = -1
                               ) -> InitPidResult:
        if self.machine.coordinator_error(transactional_id) is not None:
            return InitPidResult(error=self.machine.coordinator_error(transactional_id))
        fresh = await self.broker.producer_ids.next_producer_id()
        return await self._while_concurrent(
            lambda: self.machine.init_producer_id(
                transactional_id, timeout_ms, producer_id=producer_id,
                producer_epoch=producer_epoch, fresh_producer_id=fresh, now_ms=self.clock()),
            lambda r: r.error)

    async def add_partitions(self, transactional_id: str, producer_id: int, producer_epoch: int,
                             partitions: Iterable[TopicPartition]) -> ErrorType:
        partitions = list(partitions)
        return await self._while_concurrent(
            lambda: self.machine.add_partitions(transactional_id, producer_id, producer_epoch,
                                                partitions, now_ms=self.clock()),
            lambda error: error)

    async def _while_concurrent(self, call: Callable[[], Result],
                                error_of: Callable[[Any], ErrorType]) -> Any:
        """Run ``call`` again while it answers CONCURRENT_TRANSACTIONS, for up to
        ``_CONCURRENT_WAIT_S``, each time the coordinator's state may have changed.

        Why: right after EndTxn the transaction is still writing its markers, so the producer's
        next AddPartitionsToTxn (and an InitProducerId that had to abort an open transaction)
        would get CONCURRENT_TRANSACTIONS, and clients back off 20 ms before retrying (Kafka's
        answer; librdkafka's and Java's backoff). Completion usually takes a few
        milliseconds, so waiting for it here answers the same request a little later instead
        of failing it, and a transaction costs one backoff less. Past the wait the client gets
        Kafka's answer and retries as usual.
        """
        deadline = trio.current_time() + _CONCURRENT_WAIT_S
        while True:
            response = await self._complete(call())
            # Taken after our own call's effects (which set the previous event): only a
            # later change wakes us.
            changed = self._state_changed
            if error_of(response) is not errors.ConcurrentTransactions \
                    or trio.current_time() >= deadline:
                return response
            with trio.move_on_at(deadline):
                await changed.wait()

    async def add_offsets(self, transactional_id: str, producer_id: int, producer_epoch: int,
                          group_id: str) -> ErrorType:
        """AddOffsetsToTxn: the group's ``__consumer_offsets`` partition joins the
        transaction, so its markers reach the group coordinator."""
        groups = self.broker.coordinator
        if groups is None:
            return errors.CoordinatorNotAvailable
        tp = TopicPartition(OFFSETS_TOPIC, groups.partition_for(group_id))
        return await self.add_partitions(transactional_id, producer_id, producer_epoch, [tp])

    async def end_txn(self, transactional_id: str, producer_id: int, producer_epoch: int,
                      commit: bool) -> ErrorType:
        return await self._complete(self.machine.end_txn(
            transactional_id, producer_id, producer_epoch, commit, now_ms=self.clock()))

    def describe(self, transactional_ids: Iterable[str]) -> list[TxnDescription]:
        return self.machine.describe(transactional_ids)

    def list_transactions(self, state_filters: Iterable[str] = (),
                          producer_id_filters: Iterable[int] = ()) -> ListTxnsResult:
        return self.machine.list_transactions(state_filters, producer_id_filters)

    # -- effects -------------------------------------------------------------------------

    async def _complete(self, result: Result) -> Any:
        return await self._parked.complete(result, self._apply)

    def _apply(self, result: Result, *, retry: bool = False, moved: bool = False) -> None:
        """Carry out effects; ``retry``: appends in ``result`` re-issue a failed one.
        ``moved``: the call behind ``result`` completed a write or a marker round, so a
        transaction's state may have changed even without effects."""
        if moved or result.effects:  # wake requests waiting for a state change
            self._state_changed.set()
            self._state_changed = trio.Event()
        for effect in result.effects:
            if isinstance(effect, Reply):
                self._parked.reply(effect.token, effect.response)
            elif isinstance(effect, Append):
                self._start(self._append, effect, _APPEND_RETRY_BACKOFF_S if retry else 0)
            elif isinstance(effect, SendMarkers):
                self._start(self._send_markers, effect)

    def _start(self, fn, *args) -> None:
        if self._nursery is None:
            raise RuntimeError("transaction coordinator is not running")
        self._nursery.start_soon(fn, *args)

    async def _append(self, append: Append, delay_s: float) -> None:
        if delay_s:
            await trio.sleep(delay_s)
        tp = TopicPartition(TRANSACTION_TOPIC, append.partition)
        ts = self.clock()
        batch = build_batch([(k, v, (), ts) for k, v in append.records])
        try:
            results = await self.broker.replica_manager.append_records(
                [(tp, memoryview(bytearray(batch)))], acks=-1,
                timeout_ms=int(self.request_timeout_s * 1000), origin=AppendOrigin.COORDINATOR)
            error = results[tp].error
        except KafkaError as e:
            error = type(e)
        if error is not None:
            log.warning("append to %s failed: %s", tp, error.__name__)
        self._apply(self.machine.append_completed(append, error, now_ms=self.clock()),
                    retry=error is not None, moved=True)

    async def _send_markers(self, send: SendMarkers) -> None:
        """WriteTxnMarkers to the leader of every partition of ``send``, concurrently."""
        if send.retry_after_ms:
            await trio.sleep(send.retry_after_ms / 1000)
        if send.coordinator_epoch != self.machine.owned.get(
                self.machine.partition_for(send.transactional_id)):
            return  # the partition was unloaded or reloaded: the new load decides
        metadata = self.broker.metadata
        by_leader: dict[int, list[TopicPartition]] = {}
        results: dict[TopicPartition, ErrorType] = {}
        deleted = []
        for tp in send.partitions:
            if tp.topic not in metadata.topics:
                results[tp] = errors.UnknownTopicOrPartition
                deleted.append(tp)
                continue
            meta = metadata.partition(tp)
            if meta is None or meta.leader < 0 or not metadata.alive(meta.leader):
                results[tp] = errors.NotLeaderOrFollower
                continue
            by_leader.setdefault(meta.leader, []).append(tp)
        if results:
            self._apply(self.machine.markers_written(send, results, deleted=deleted,
                                                     now_ms=self.clock()), moved=True)
        async with trio.open_nursery() as nursery:
            for leader, tps in by_leader.items():
                nursery.start_soon(self._send_markers_to, leader, send, tps)

    async def _send_markers_to(self, leader: int, send: SendMarkers,
                               tps: list[TopicPartition]) -> None:
        by_topic: dict[str, list[int]] = {}
        for tp in tps:
            by_topic.setdefault(tp.topic, []).append(tp.partition)
        request = WriteTxnMarkersRequest(markers=[WritableTxnMarker(
            producer_id=send.producer_id, producer_epoch=send.producer_epoch,
            transaction_result=send.commit, coordinator_epoch=send.coordinator_epoch,
            topics=[WritableTxnMarkerTopic(name=t, partition_indexes=ps)
                    for t, ps in by_topic.items()])])
        header = RequestHeader(int(ApiKey.WRITE_TXN_MARKERS), _MARKERS_API_VERSION, 0,
                               f"broker-{self.broker.broker_id}-txn-coordinator")
        results: dict[TopicPartition, ErrorType] = {tp: errors.NetworkException for tp in tps}
        try:
            with trio.fail_after(self.request_timeout_s + 5):
                response = await self.broker.send_to_broker(leader, header, request)
        except (trio.TooSlowError, trio.BrokenResourceError, trio.ClosedResourceError, OSError,
                KafkaError) as e:
            log.info("WriteTxnMarkers to broker %d for %s failed (%r); retrying", leader,
                     send.transactional_id, e)
        else:
            for marker in response.markers:
                for topic in marker.topics:
                    for p in topic.partitions:
                        tp = TopicPartition(topic.name, p.partition_index)
                        if tp in results:
                            results[tp] = errors.for_code(p.error_code)
        self._apply(self.machine.markers_written(send, results, now_ms=self.clock()),
                    moved=True)

    # -- leadership ----------------------------------------------------------------------

    def _unload(self, partition: int) -> None:
        self._apply(self.machine.unload(partition))
        log.info("[TransactionCoordinator id=%d] unloaded %s-%d", self.broker.broker_id,
                 TRANSACTION_TOPIC, partition)

    async def _load(self, partition: int, _term: int, coordinator_epoch: int,
                    scope: trio.CancelScope) -> None:
        """Replay ``__transaction_state-<partition>`` from its log start to its log end."""
        tp = TopicPartition(TRANSACTION_TOPIC, partition)
        with scope:
            start = trio.current_time()

            def consume(buf: bytes) -> int:
                records, next_offset = _parse_chunk(buf)
                self.machine.load_records(partition, coordinator_epoch, records)
                return next_offset

            stopped = await replay_log(self.broker.replica_manager, tp, consume)
            if stopped == "not leader":
                return  # the leadership change that follows unloads it
            if stopped is not None:
                log.error("%s: %s; loading what was read", tp, stopped)
            stats = self.machine.load_stats(partition)
            self._apply(self.machine.complete_load(partition, coordinator_epoch,
                                                   now_ms=self.clock()))
            self._loads.loaded(partition, scope)
            log.info("[Transaction State Manager %d]: Finished loading %d transaction metadata "
                     "from %s in %d milliseconds (coordinator epoch %d)",
                     self.broker.broker_id, stats[0] if stats else 0, tp,
                     (trio.current_time() - start) * 1000, coordinator_epoch)


def _parse_chunk(buf: bytes) -> tuple[list[tuple[int, bytes | None, bytes | None]], int]:
    """Records of the whole batches in ``buf`` and the offset after the last one (the
    transaction log holds no control batches and no legacy message sets)."""
    records: list[tuple[int, bytes | None, bytes | None]] = []
    next_offset = -1
    for _pos, magic, entry in iter_log_entries(memoryview(buf)):
        if magic != MAGIC_V2:
            continue
        view = RecordBatchView(entry)
        next_offset = view.last_offset + 1
        if not view.is_control:
            records.extend((r.offset, r.key, r.value) for r in decode_records(view))
    return records, next_offset
