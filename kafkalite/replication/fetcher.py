"""Replica fetchers: how a follower copies its leader's log (Kafka's ReplicaFetcherThread).

One fetcher task per source broker (the leader), sharing one connection for all partitions
this broker follows there, as Kafka does with ``num.replica.fetchers=1``. A partition joins a
fetcher when a LeaderAndIsr makes this broker its follower and leaves it on the next leadership
change or StopReplica.

Before fetching under a new leader epoch, a follower truncates (KIP-101/279): it asks the
leader with OffsetForLeaderEpoch where its own latest epoch ends in the leader's log and cuts
its log there (or at its own end of that epoch, whichever is lower), repeating until both
agree on the epoch. Only then does it fetch from its log end, with ``replica_id`` = its broker
id so the leader counts the fetch towards the ISR and the high watermark. Leaders without an
epoch for us (UNDEFINED) make the follower fall back to its high watermark, as old Kafka did.

Fetches run in a fetch session per connection (KIP-227, ``client/fetch_session.py``): after
one full fetch, a request lists only partitions whose fetch offset, log start offset or leader
epoch moved, and the leader answers only partitions with news, so following many quiet
partitions costs little per fetch. A new connection starts a new session; a leader that admits
none keeps getting full fetches.

The partitions a fetcher follows change inside its running session: a LeaderAndIsr adds or
removes them (one update per fetcher per request, :meth:`FetcherManager.update`), and the next
Fetch lists the new ones and names the departed ones as forgotten. A fetch already in flight is
left to finish (at most the leader's max wait): cancelling it would lose the connection with
the session, and a controller that sends thousands of partitions in several requests would make
every follower reconnect and start a new session at the leader each time. New partitions first
truncate (OffsetForLeaderEpoch) over the same connection.

Fetched batches are appended as they came (bytes, no per-record work); the follower's HW is the
leader's, capped by its own log end. A fetch that comes back after the partition moved on (new
epoch, new leader, stopped) is dropped: the check is a plain identity test because trio runs
one task at a time.

An I/O error writing a followed log (a full disk) takes its log dir offline through the
replica manager's ``log_dir_guard``, which also stops fetching those partitions; the other
partitions of the fetcher go on.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

import attrs
import trio

from kafkalite import errors
from kafkalite.client.connection import BrokerConnection
from kafkalite.client.errors import ConnectionFailed
from kafkalite.client.fetch_session import FetchSessionHandler, PartitionState
from kafkalite.errors import KafkaError
from kafkalite.model import TopicPartition
from kafkalite.protocol.api_keys import ApiKey
from kafkalite.protocol.messages.fetch import FetchRequest
from kafkalite.protocol.messages.list_offsets import (
    ListOffsetsPartition, ListOffsetsRequest, ListOffsetsTopic)
from kafkalite.protocol.messages.offset_for_leader_epoch import (
    OffsetForLeaderEpochRequest, OffsetForLeaderPartition, OffsetForLeaderTopic)
from kafkalite.replication.truncation import truncation_state

if TYPE_CHECKING:
    from kafkalite.replication.service import ReplicaManager

__all__ = ["FetcherManager", "FetchState"]

log = logging.getLogger(__name__)

FETCH_MAX_VERSION = 11  # v12 moves truncation into Fetch (diverging epochs); we use KIP-279
OFFSET_FOR_EPOCH_MAX_VERSION = 3
BACKOFF_S = 0.5
EARLIEST, LATEST = -2, -1


@attrs.define(eq=False)
class FetchState:
    """One followed partition; replaced (not mutated) on every leadership change."""

    tp: TopicPartition
    leader_id: int
    leader_epoch: int
    truncating: bool = True
    delayed_until: float = 0.0
    # What the last fetch asked (reused while the log does not move: a follower of
    # thousands of quiet partitions builds its fetch from them every time)
    asked: PartitionState | None = None


@attrs.frozen
class FetcherConfig:
    broker_id: int
    max_wait_ms: int = 500
    min_bytes: int = 1
    max_bytes: int = 10 * 1024 * 1024
    partition_max_bytes: int = 1024 * 1024
    socket_timeout_s: float = 30.0
    # ClientSecurity of the inter-broker listener (TLS/SASL), None for PLAINTEXT
    security: object = None


class _SourceFetcher:
    """All partitions this broker follows on one leader, fetched over one connection."""

    def __init__(self, manager: FetcherManager, leader_id: int):
        self.manager = manager
        self.leader_id = leader_id
        self.address: tuple[str, int] | None = None
        self.partitions: dict[TopicPartition, FetchState] = {}
        self.changed = trio.Event()
        self.cancel_scope = trio.CancelScope()
        self._conn: BrokerConnection | None = None
        # The fetch session with this leader (KIP-227); a new connection starts a new one
        # with a full fetch that also closes the old one. Kept by the manager: a fetcher that
        # stopped (it had no partitions left) and started again closes its old session too.
        self._session = manager.fetch_sessions.setdefault(
            leader_id, FetchSessionHandler(leader_id))

    @property
    def rm(self) -> ReplicaManager:
        return self.manager.replica_manager

    def wake(self) -> None:
        self.changed.set()

    async def run(self) -> None:
        cfg = self.manager.config
        with self.cancel_scope:
            try:
                while True:
                    ready = [s for s in self.partitions.values()
                             if s.delayed_until <= trio.current_time()]
                    if not ready:
                        await self._wait_for_work()
                        continue
                    try:
                        conn = await self._connection()
                        with trio.fail_after(cfg.socket_timeout_s + cfg.max_wait_ms / 1000):
                            truncating = [s for s in ready if s.truncating]
                            if truncating:
                                await self._truncate(conn, truncating)
                            fetching = [s for s in ready if not s.truncating
                                        and self.partitions.get(s.tp) is s]
                            if fetching:
                                await self._fetch(conn, fetching)
                    except (ConnectionFailed, OSError, trio.TooSlowError, KafkaError) as e:
                        log.warning("[ReplicaFetcher replicaId=%d, leaderId=%d, fetcherId=0] "
                                    "Error sending fetch request to node %d: %s; retrying",
                                    cfg.broker_id, self.leader_id, self.leader_id, e)
                        await self._drop_connection()
                        await trio.sleep(BACKOFF_S)
            finally:
                with trio.CancelScope(shield=True):
                    await self._drop_connection()

    async def _wait_for_work(self) -> None:
        delays = [s.delayed_until for s in self.partitions.values()]
        self.changed = trio.Event()
        with trio.move_on_at(min(delays) if delays else float("inf")):
            await self.changed.wait()

    async def _connection(self) -> BrokerConnection:
        address = self.manager.address_of(self.leader_id)
        if address is None:
            raise ConnectionFailed(f"no address known for broker {self.leader_id}")
        if self._conn is not None and (self._conn.closed or address != self.address):
            await self._drop_connection()
        if self._conn is None:
            self.address = address
            self._session.handle_error()
            self._conn = await BrokerConnection.open(
                *address, client_id=f"replica-fetcher-{self.manager.config.broker_id}",
                node_id=self.leader_id, timeout=self.manager.config.socket_timeout_s,
                security=self.manager.config.security)
        return self._conn

    async def _drop_connection(self) -> None:
        conn, self._conn = self._conn, None
        self._session.handle_error()
        if conn is not None:
            await conn.aclose()

    def _current(self, st: FetchState):
        """The follower Partition if ``st`` is still how we follow it, else None."""
        if self.partitions.get(st.tp) is not st:
            return None
        p = self.rm.get_partition(st.tp)
        if p is None or p.is_leader or p.leader_id != st.leader_id \
                or p.leader_epoch != st.leader_epoch:
            return None
        return p

    def _delay(self, st: FetchState) -> None:
        st.delayed_until = trio.current_time() + BACKOFF_S

    # -- truncation (KIP-101/279) ------------------------------------------------------

    async def _truncate(self, conn: BrokerConnection, states: list[FetchState]) -> None:
        try:
            version = conn.pick_version(ApiKey.OFFSET_FOR_LEADER_EPOCH,
                                        client_max=OFFSET_FOR_EPOCH_MAX_VERSION)
        except errors.UnsupportedVersion:
            # A leader without KIP-101: keep only what is committed, as Kafka did before it.
            for st in states:
                p = self._current(st)
                if p is not None:
                    self._truncation_done(st, p, p.high_watermark)
            return
        pending = list(states)
        for _round in range(10):
            asks: dict[TopicPartition, tuple[FetchState, int]] = {}
            for st in pending:
                p = self._current(st)
                if p is None:
                    continue
                epoch = p.log.latest_epoch
                if epoch is None:  # empty log or no epochs recorded: nothing can diverge
                    self._truncation_done(st, p, p.log.log_end_offset)
                    continue
                asks[st.tp] = (st, epoch)
            if not asks:
                return
            by_topic: dict[str, list[OffsetForLeaderPartition]] = {}
            for tp, (st, epoch) in asks.items():
                by_topic.setdefault(tp.topic, []).append(OffsetForLeaderPartition(
                    partition=tp.partition, current_leader_epoch=st.leader_epoch,
                    leader_epoch=epoch))
            resp = await conn.request(OffsetForLeaderEpochRequest(
                replica_id=self.manager.config.broker_id,
                topics=[OffsetForLeaderTopic(topic=t, partitions=ps)
                        for t, ps in by_topic.items()]), version)
            pending = []
            for topic in resp.topics:
                for r in topic.partitions:
                    tp = TopicPartition(topic.topic, r.partition)
                    st, _asked = asks.get(tp, (None, None))
                    p = self._current(st) if st is not None else None
                    if p is None:
                        continue
                    if r.error_code:
                        log.info("[ReplicaFetcher replicaId=%d, leaderId=%d, fetcherId=0] "
                                 "Retrying leaderEpoch request for partition %s as the leader "
                                 "reported an error: %s", self.manager.config.broker_id,
                                 self.leader_id, tp, errors.for_code(r.error_code).__name__)
                        self._delay(st)
                        continue
                    follower_epoch, follower_end = p.log.end_offset_for_epoch(r.leader_epoch)
                    target, complete = truncation_state(
                        leader_epoch=r.leader_epoch, leader_end_offset=r.end_offset,
                        follower_epoch=follower_epoch, follower_end_offset=follower_end,
                        log_end_offset=p.log.log_end_offset, high_watermark=p.high_watermark)
                    if complete:
                        self._truncation_done(st, p, target)
                    elif self._truncate_log(p, target):
                        pending.append(st)
        for st in pending:
            self._delay(st)

    def _truncate_log(self, p, offset: int) -> bool:
        """Cut ``p``'s log at ``offset``; False if that failed (its log dir is offline now).
        At or past the log end this still drops leader epochs that start at the log end
        (see ``Log.truncate_to``)."""
        if offset < p.log.log_end_offset:
            log.info("[ReplicaFetcher replicaId=%d, leaderId=%d, fetcherId=0] Truncating "
                     "partition %s with TruncationState(offset=%d, completed=true) due to leader "
                     "epoch %d (log end offset %d)", self.manager.config.broker_id, p.leader_id,
                     p.tp, offset, p.leader_epoch, p.log.log_end_offset)
        try:
            with self.rm.log_dir_guard(p.tp):
                p.log.truncate_to(offset)
        except errors.KafkaStorageError:
            return False
        p.high_watermark = min(p.high_watermark, p.log.log_end_offset)
        return True

    def _truncation_done(self, st: FetchState, p, offset: int) -> None:
        if self._truncate_log(p, offset):
            st.truncating = False

    # -- fetching ------------------------------------------------------------------------

    async def _fetch(self, conn: BrokerConnection, states: list[FetchState]) -> None:
        """One Fetch of ``states`` in the connection's fetch session: a full fetch first,
        then only partitions whose fetch offset, log start offset or leader epoch moved (and
        the ones that left). The leader answers only partitions with news, so a quiet
        partition costs neither side anything per fetch."""
        cfg = self.manager.config
        version = conn.pick_version(ApiKey.FETCH, client_max=FETCH_MAX_VERSION)
        session = self._session
        session.enabled = version >= 7
        requested: dict[TopicPartition, tuple[FetchState, int]] = {}
        wanted: dict[TopicPartition, PartitionState] = {}
        for st in states:
            p = self._current(st)
            if p is None:
                continue
            lg = p.log
            offset = lg.log_end_offset
            requested[st.tp] = (st, offset)
            asked = st.asked
            if asked is None or asked.fetch_offset != offset \
                    or asked.log_start_offset != lg.log_start_offset:
                asked = st.asked = PartitionState(
                    fetch_offset=offset, max_bytes=cfg.partition_max_bytes,
                    log_start_offset=lg.log_start_offset,
                    current_leader_epoch=st.leader_epoch)
            wanted[st.tp] = asked
        if not requested:
            return
        data = session.build(wanted)
        request = FetchRequest(
            replica_id=cfg.broker_id, max_wait_ms=cfg.max_wait_ms, min_bytes=cfg.min_bytes,
            max_bytes=cfg.max_bytes, isolation_level=0, session_id=data.session_id,
            session_epoch=data.session_epoch, topics=data.topics(),
            forgotten_topics_data=data.forgotten_topics_data(), rack_id="")
        try:
            resp = await conn.request(request, version)
        except BaseException:
            session.handle_error()
            raise
        named = [TopicPartition(topic.topic, r.partition_index)
                 for topic in resp.responses for r in topic.partitions]
        if not session.handle_response(data, resp.error_code, resp.session_id, named):
            if data.is_full:   # not a stale session: do not hammer the leader
                for st, _offset in requested.values():
                    self._delay(st)
            return
        for topic in resp.responses:
            for r in topic.partitions:
                tp = TopicPartition(topic.topic, r.partition_index)
                st, offset = requested.get(tp, (None, None))
                p = self._current(st) if st is not None else None
                if p is None or p.log.log_end_offset != offset:
                    continue
                await self._apply(conn, st, p, r)

    async def _apply(self, conn: BrokerConnection, st: FetchState, p, r) -> None:
        if r.error_code == 0:
            records = r.records
            try:
                with self.rm.log_dir_guard(p.tp):
                    if records is not None and len(records) > 0:
                        p.log.append_as_follower(memoryview(records))
                    p.update_follower_high_watermark(r.high_watermark)
                    if r.log_start_offset > p.log.log_start_offset:
                        p.log.maybe_increment_log_start_offset(
                            min(r.log_start_offset, p.high_watermark))
            except errors.KafkaStorageError:
                return   # the partition is offline now (and no longer followed)
            self.rm.follower_appended(p)
            return
        err = errors.for_code(r.error_code)
        if err is errors.OffsetOutOfRange:
            await self._handle_out_of_range(conn, st, p)
            return
        log.info("[ReplicaFetcher replicaId=%d, leaderId=%d, fetcherId=0] Error for partition "
                 "%s at offset %d: %s", self.manager.config.broker_id, self.leader_id, st.tp,
                 p.log.log_end_offset if p is not None else -1, err.__name__)
        self._delay(st)

    async def _handle_out_of_range(self, conn: BrokerConnection, st: FetchState, p) -> None:
        """Behind the leader's log start: start over there; ahead of its end: cut back."""
        leader_end = await self._list_offset(conn, st, LATEST)
        p = self._current(st)
        if p is None or leader_end is None:
            return
        if leader_end < p.log.log_end_offset:
            self._truncate_log(p, leader_end)
            return
        leader_start = await self._list_offset(conn, st, EARLIEST)
        p = self._current(st)
        if p is None or leader_start is None:
            return
        if leader_start > p.log.log_end_offset:
            log.info("[ReplicaFetcher replicaId=%d, leaderId=%d, fetcherId=0] Reset fetch "
                     "offset for partition %s from %d to current leader's start offset %d",
                     self.manager.config.broker_id, self.leader_id, st.tp, p.log.log_end_offset,
                     leader_start)
            try:
                with self.rm.log_dir_guard(p.tp):
                    p.log.truncate_fully_and_start_at(leader_start)
            except errors.KafkaStorageError:
                return
            p.high_watermark = leader_start

    async def _list_offset(self, conn: BrokerConnection, st: FetchState, which: int
                           ) -> int | None:
        version = conn.pick_version(ApiKey.LIST_OFFSETS, client_max=4, client_min=1)
        resp = await conn.request(ListOffsetsRequest(
            replica_id=self.manager.config.broker_id, isolation_level=0,
            topics=[ListOffsetsTopic(name=st.tp.topic, partitions=[ListOffsetsPartition(
                partition_index=st.tp.partition, current_leader_epoch=st.leader_epoch,
                timestamp=which)])]), version)
        for t in resp.topics:
            for r in t.partitions:
                if r.error_code == 0:
                    return r.offset
                self._delay(st)
        return None


class FetcherManager:
    """Assigns followed partitions to per-leader fetchers (Kafka's ReplicaFetcherManager)."""

    def __init__(self, replica_manager: ReplicaManager, config: FetcherConfig, address_of):
        """``address_of(broker_id) -> (host, port) | None`` resolves the inter-broker listener."""
        self.replica_manager = replica_manager
        self.config = config
        self.address_of = address_of
        self.fetchers: dict[int, _SourceFetcher] = {}
        self.fetch_sessions: dict[int, FetchSessionHandler] = {}   # by leader id
        self._nursery: trio.Nursery | None = None

    async def run(self, *, task_status=trio.TASK_STATUS_IGNORED) -> None:
        async with trio.open_nursery() as nursery:
            self._nursery = nursery
            task_status.started(self)
            await trio.sleep_forever()

    def follow(self, tp: TopicPartition, leader_id: int, leader_epoch: int) -> None:
        """Fetch ``tp`` from ``leader_id`` from now on, truncating first."""
        self.update({tp: (leader_id, leader_epoch)})

    def unfollow(self, tps) -> None:
        self.update({}, tps)

    def update(self, follow: dict[TopicPartition, tuple[int, int]], unfollow=()) -> None:
        """Apply a batch of changes: ``follow`` maps partitions to (leader id, leader epoch)
        to fetch from now on (truncating first), ``unfollow`` lists partitions to stop
        fetching. Each fetcher concerned is woken once; one left without partitions stops
        (closing its connection), the others keep theirs and their fetch session."""
        touched: dict[int, _SourceFetcher] = {}
        fetchers = list(self.fetchers.values())
        for tps in (unfollow, follow):
            for tp in tps:
                for fetcher in fetchers:
                    if fetcher.partitions.pop(tp, None) is not None:
                        touched[id(fetcher)] = fetcher
        for tp, (leader_id, leader_epoch) in follow.items():
            fetcher = self.fetchers.get(leader_id)
            if fetcher is None:
                fetcher = self.fetchers[leader_id] = _SourceFetcher(self, leader_id)
                if self._nursery is not None:
                    self._nursery.start_soon(fetcher.run)
            fetcher.partitions[tp] = FetchState(tp, leader_id, leader_epoch)
            touched[id(fetcher)] = fetcher
        for fetcher in touched.values():
            if fetcher.partitions:
                fetcher.wake()
            else:
                fetcher.cancel_scope.cancel()
                if self.fetchers.get(fetcher.leader_id) is fetcher:
                    del self.fetchers[fetcher.leader_id]

    def follows(self, tp: TopicPartition) -> bool:
        return any(tp in f.partitions for f in self.fetchers.values())
