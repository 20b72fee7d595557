"""The legacy 0.8 high-level consumer: group membership and offsets in ZooKeeper.

Theory of operation
-------------------
Before Kafka 0.9 consumer groups had no coordinator: every member of a group kept the group
state in ZooKeeper itself (Kafka 0.8's ``ZookeeperConsumerConnector``; zookeeper-layout.md §4).
This module is that client, with ``offsets.storage=zookeeper`` (the 0.8 default; ``kafka``
commits through the group coordinator instead, ``dual.commit.enabled`` does both). Many
monitoring tools (Burrow's ZooKeeper mode, kafka-manager, ``kafka-consumer-groups
--zookeeper``) still read these paths.

* **Registration.** A member registers the ephemeral ``/consumers/<g>/ids/<consumer id>`` with
  Kafka's JSON (``{"version":1,"subscription":{"t":1},"pattern":"static","timestamp":"..."}``);
  the id is ``<group>_<hostname>-<ms>-<8 hex>``. Each subscribed topic gets ``streams``
  consumer *threads* named ``<consumer id>-<n>``.
* **Watches.** Children of ``/consumers/<g>/ids`` (members come and go), children of
  ``/brokers/ids`` and the data of ``/brokers/topics/<t>`` (partitions added, topic created).
  Any change, and a new ZooKeeper session (after re-registering), triggers a rebalance.
* **Rebalance.** Commit the current offsets, give up the partitions (delete our owner
  nodes), read every member's subscription, and range-assign each topic's sorted partitions to
  the sorted thread ids of all members subscribed to it (Kafka's 0.8 RangeAssignor — the same
  arithmetic as the new consumer's ``range``). Then claim each partition by creating the
  ephemeral ``/consumers/<g>/owners/<t>/<p>`` holding our thread id. A claim fails while the
  previous owner has not released it yet; then everything claimed in this attempt is released
  and the attempt is retried after ``rebalance.backoff.ms``, up to ``rebalance.max.retries``.
* **Offsets.** Start from ``/consumers/<g>/offsets/<t>/<p>`` (a plain decimal string: the next
  offset to read), else ``auto.offset.reset`` ("largest"/"smallest", or Kafka's newer
  "latest"/"earliest"). Commits write the same nodes (auto-commit every
  ``auto.commit.interval.ms``, on rebalance and on close).

Data itself is fetched from the partition leaders with a plain (group-less) :class:`Consumer`
over the brokers registered in ``/brokers/ids``. Watches and rebalances run in a background
task, so the consumer must be used as ``async with``; one lock keeps a rebalance and a fetch
from overlapping.
"""

from __future__ import annotations

import logging
import math
import re
import socket
import time
import uuid
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

import trio

from kafkalite.errors import (
    GroupIdNotFound,
    GroupSubscribedToTopic,
    KafkaError,
    NonEmptyGroup,
    UnknownTopicOrPartition,
)
from kafkalite.model import BrokerInfo, TopicPartition
from kafkalite.security.zk_client import zk_auth
from kafkalite.zk.errors import NodeExistsError, NoNodeError, ZkError
from kafkalite.zk.kafka_zk import KafkaZk
from kafkalite.zk.session import RECONNECTED_NEW_SESSION, ZkSession
from kafkalite.zk.znodes import (
    BrokerIdsZNode,
    ConsumerIdsZNode,
    ConsumerIdZNode,
    ConsumerOffsetZNode,
    ConsumerOwnerZNode,
    ConsumerRegistration,
    ConsumersZNode,
    TopicsZNode,
    TopicZNode,
)
from kafkalite.client.assignors import RangeAssignor, range_assign
from kafkalite.client.cluster import Cluster
from kafkalite.client.completed_fetch import ConsumerRecord
from kafkalite.client.consumer import Consumer, list_offsets
from kafkalite.client.errors import ClientError
from kafkalite.client.group import (
    ConsumerCoordinator,
    GroupDescription,
    MemberDescription,
    NoOffsetForPartition,
    OffsetAndMetadata,
)

__all__ = ["ZookeeperConsumer", "ZkGroupAdmin", "ConsumerRebalanceFailed", "consumer_id_for",
           "thread_ids", "assign_threads", "broker_addresses"]

log = logging.getLogger(__name__)

_RESETS = {"largest": "latest", "smallest": "earliest", "latest": "latest",
           "earliest": "earliest", "none": "none"}
_POLL_SLICE_MS = 500


class ConsumerRebalanceFailed(ClientError):
    """The member could not claim its partitions within ``rebalance.max.retries``."""


def consumer_id_for(group_id: str, *, hostname: str, now_ms: int, token: str) -> str:
    """Kafka 0.8's consumer id: ``<group>_<hostname>-<ms>-<first 8 hex of a uuid>``."""
    return f"{group_id}_{hostname}-{now_ms}-{token[:8]}"


def thread_ids(consumer_id: str, subscription: Mapping[str, int]) -> dict[str, list[str]]:
    """Topic -> this consumer's thread ids (``<consumer id>-<n>``)."""
    return {t: [f"{consumer_id}-{i}" for i in range(n)] for t, n in subscription.items()}


def broker_addresses(brokers: Iterable[BrokerInfo]) -> list[str]:
    """``host:port`` of each registered broker's PLAINTEXT (else first) listener."""
    out = []
    for b in brokers:
        ep = b.endpoint("PLAINTEXT") or b.endpoint()
        if ep is not None:
            out.append(f"{ep.host or 'localhost'}:{ep.port}")
    return out


def assign_threads(partitions_per_topic: Mapping[str, int],
                   threads_per_topic: Mapping[str, Sequence[str]]) -> dict[str, list[TopicPartition]]:
    """0.8's range assignment: thread id -> partitions (thread ids sorted as strings)."""
    subscriptions: dict[str, list[str]] = {}
    for topic, threads in threads_per_topic.items():
        for thread in threads:
            subscriptions.setdefault(thread, []).append(topic)
    return range_assign(partitions_per_topic, subscriptions)


class ZookeeperConsumer:
    """A member of a legacy ZooKeeper-based consumer group.

    Args:
        zookeeper_connect: ``host:port[/chroot]`` of the cluster's ZooKeeper.
        group_id: the group.
        consumer_id: fixed consumer id (Kafka's ``consumer.id``); generated by default.
        auto_offset_reset: "largest" (default) / "smallest" (0.8 names) or "latest" /
            "earliest" / "none".
        auto_commit_enable, auto_commit_interval_ms: periodic commits (0.8 defaults: on, 60 s).
        offsets_storage: "zookeeper" (default) or "kafka" (the group coordinator).
        dual_commit_enabled: with "kafka" storage, also write the ZooKeeper nodes.
        zookeeper_session_timeout_ms: the ZooKeeper session (0.8 default 6000).
        rebalance_max_retries, rebalance_backoff_ms: claiming partitions (0.8: 4, 2000).
        client_id: for broker requests (default: the group id).
        remove_group_on_close: delete ``/consumers/<g>`` on close when no member is left (the
            old console consumer does this for the group it made up).
        consumer_options: more keyword arguments for the fetching :class:`Consumer`.
    """

    def __init__(self, zookeeper_connect: str, group_id: str, *,
                 consumer_id: str | None = None, auto_offset_reset: str = "largest",
                 auto_commit_enable: bool = True, auto_commit_interval_ms: int = 60_000,
                 offsets_storage: str = "zookeeper", dual_commit_enabled: bool = False,
                 zookeeper_session_timeout_ms: int = 6000, rebalance_max_retries: int = 4,
                 rebalance_backoff_ms: int = 2000, client_id: str | None = None,
                 remove_group_on_close: bool = False, **consumer_options: Any):
        if auto_offset_reset not in _RESETS:
            raise ValueError(f"auto_offset_reset must be one of {', '.join(_RESETS)}, not "
                             f"{auto_offset_reset!r}")
        if offsets_storage not in ("zookeeper", "kafka"):
            raise ValueError("offsets_storage must be 'zookeeper' or 'kafka'")
        self.zookeeper_connect = zookeeper_connect
        self.group_id = group_id
        self.consumer_id = consumer_id or consumer_id_for(
            group_id, hostname=socket.gethostname(), now_ms=int(time.time() * 1000),
            token=uuid.uuid4().hex)
        self.auto_offset_reset = _RESETS[auto_offset_reset]
        self.auto_commit_enable = auto_commit_enable
        self.auto_commit_interval_ms = auto_commit_interval_ms
        self.offsets_storage = offsets_storage
        self.dual_commit_enabled = dual_commit_enabled
        self.rebalance_max_retries = rebalance_max_retries
        self.rebalance_backoff_ms = rebalance_backoff_ms
        self.client_id = client_id or group_id
        self.remove_group_on_close = remove_group_on_close
        self._consumer_options = consumer_options
        self._session = ZkSession(zookeeper_connect,
                                  session_timeout_ms=zookeeper_session_timeout_ms,
                                  connection_timeout_ms=max(zookeeper_session_timeout_ms, 10_000),
                                  auth=zk_auth())
        self._zk = KafkaZk(self._session)
        self._subscription: dict[str, int] = {}
        self._pattern: tuple[str, re.Pattern[str], int] | None = None
        self._owned: dict[TopicPartition, str] = {}  # partition -> our thread id
        self._committed: dict[TopicPartition, int] = {}
        self._cluster: Cluster | None = None
        self._consumer: Consumer | None = None
        self._coordinator: ConsumerCoordinator | None = None
        self._lock = trio.Lock()
        self._rebalance_wanted = trio.Event()
        self._rebalanced = trio.Event()
        self._watched_topics: set[str] = set()
        self._nursery: trio.Nursery | None = None
        self._nursery_manager: Any = None
        self._fatal: BaseException | None = None
        self._rebalancing = False
        self._next_commit = math.inf
        self._closed = False

    # --- subscription ------------------------------------------------------------------------

    def subscribe(self, topics: Iterable[str] | Mapping[str, int] | None = None, *,
                  whitelist: str | None = None, streams: int = 1) -> None:
        """Subscribe to topics (``{topic: streams}`` or names, one stream each) or to every
        topic matching ``whitelist`` (0.8's ``createMessageStreamsByFilter``). Call before
        entering the ``async with`` block."""
        if (topics is None) == (whitelist is None):
            raise ValueError("subscribe() takes either topics or whitelist")
        if self._nursery is not None:
            raise ClientError("subscribe before starting the consumer")
        if whitelist is not None:
            self._pattern = (whitelist, re.compile(whitelist), streams)
            self._subscription = {}
        elif isinstance(topics, Mapping):
            self._subscription = {t: int(n) for t, n in topics.items()}
        else:
            self._subscription = {t: streams for t in topics}

    def assignment(self) -> list[TopicPartition]:
        """Partitions this member owns now."""
        return sorted(self._owned)

    def position(self, topic: str, partition: int) -> int | None:
        return None if self._consumer is None else self._consumer.position(topic, partition)

    def seek(self, topic: str, partition: int, offset: int | str) -> None:
        """Set the next offset of an owned partition (it is committed from there on)."""
        if TopicPartition(topic, partition) not in self._owned or self._consumer is None:
            raise ClientError(f"partition {topic}-{partition} is not owned by this consumer")
        self._consumer.seek(topic, partition, offset)

    # --- lifecycle -----------------------------------------------------------------------------

    async def __aenter__(self) -> ZookeeperConsumer:
        if not self._subscription and self._pattern is None:
            raise ClientError("subscribe() before starting the consumer")
        states = self._session.state_events()
        await self._session.start()
        self._nursery_manager = trio.open_nursery()
        self._nursery = await self._nursery_manager.__aenter__()
        try:
            await self._register()
            self._nursery.start_soon(self._watch_session, states)
            await self._nursery.start(self._watch_children, ConsumerIdsZNode.path(self.group_id))
            await self._nursery.start(self._watch_children, BrokerIdsZNode.path())
            if self._pattern is not None:
                await self._nursery.start(self._watch_children, TopicsZNode.path())
            for topic in self._subscription:
                await self._watch_topic(topic)
            await self._nursery.start(self._rebalancer)
            if self.auto_commit_enable:
                self._next_commit = trio.current_time() + self.auto_commit_interval_ms / 1000
        except BaseException:
            await self.__aexit__(None, None, None)
            raise
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        try:
            with trio.CancelScope(shield=True):
                await self.aclose()
        finally:
            if self._nursery is not None:
                nursery, manager = self._nursery, self._nursery_manager
                self._nursery = self._nursery_manager = None
                nursery.cancel_scope.cancel()
                await manager.__aexit__(None, None, None)

    async def aclose(self) -> None:
        """Commit (auto-commit), give up the partitions, deregister, close everything."""
        if self._closed:
            return
        self._closed = True
        try:
            with trio.move_on_after(30):
                async with self._lock:
                    if self.auto_commit_enable:
                        await self._commit_quietly()
                    await self._release()
                    try:
                        await self._session.delete(
                            ConsumerIdZNode.path(self.group_id, self.consumer_id))
                        if self.remove_group_on_close and not await self._session.get_children(
                                ConsumerIdsZNode.path(self.group_id)):
                            await self._session.delete(f"/consumers/{self.group_id}",
                                                       recursive=True)
                    except ZkError:
                        pass
        finally:
            if self._consumer is not None:
                await self._consumer.aclose()
            if self._coordinator is not None:
                await self._coordinator.aclose()
            if self._cluster is not None:
                await self._cluster.aclose()
            await self._session.close()

    async def wait_for_assignment(self) -> list[TopicPartition]:
        """Wait until no rebalance is pending or running (and at least one has finished)."""
        while (self._rebalance_wanted.is_set() or self._rebalancing
               or not self._rebalanced.is_set()):
            self._raise_fatal()
            await trio.sleep(0.05)
        self._raise_fatal()
        return self.assignment()

    # --- consuming -------------------------------------------------------------------------

    async def poll(self, timeout_ms: float | None = None) -> list[ConsumerRecord]:
        """Records of the owned partitions ([] after ``timeout_ms`` without any).

        Raises:
            ConsumerRebalanceFailed: partitions could not be claimed.
            ClientError, KafkaError: from fetching, as :meth:`Consumer.poll`.
        """
        if self._nursery is None:
            raise ClientError("use the ZooKeeper consumer as 'async with consumer:'")
        deadline = math.inf if timeout_ms is None else trio.current_time() + timeout_ms / 1000
        while True:
            self._raise_fatal()
            await self._maybe_auto_commit()
            remaining = max(0.0, (deadline - trio.current_time()) * 1000)
            records: list[ConsumerRecord] = []
            async with self._lock:
                consumer = self._consumer
                if consumer is not None and consumer.assignment():
                    records = await consumer.poll(min(_POLL_SLICE_MS, remaining))
            if consumer is None or not consumer.assignment():
                await trio.sleep(min(_POLL_SLICE_MS, remaining) / 1000)
            if records or trio.current_time() >= deadline:
                return records

    async def commit(self) -> None:
        """Write the positions of the owned partitions (only those that changed)."""
        async with self._lock:
            await self._commit()

    def _raise_fatal(self) -> None:
        if self._fatal is not None:
            raise self._fatal

    async def _maybe_auto_commit(self) -> None:
        if not self.auto_commit_enable or trio.current_time() < self._next_commit:
            return
        self._next_commit = trio.current_time() + self.auto_commit_interval_ms / 1000
        async with self._lock:
            await self._commit_quietly()

    async def _commit_quietly(self) -> None:
        try:
            await self._commit()
        except (ZkError, ClientError, KafkaError) as exc:
            log.warning("group %s: committing offsets failed: %s", self.group_id, exc)

    async def _commit(self) -> None:
        if self._consumer is None:
            return
        changed = {}
        for tp in self._owned:
            position = self._consumer.position(tp.topic, tp.partition)
            if position is not None and self._committed.get(tp) != position:
                changed[tp] = position
        if not changed:
            return
        if self.offsets_storage == "kafka":
            coordinator = await self._group_coordinator()
            await coordinator.commit_sync({tp: OffsetAndMetadata(o) for tp, o in changed.items()},
                                          group_managed=False)
        if self.offsets_storage == "zookeeper" or self.dual_commit_enabled:
            for tp, offset in sorted(changed.items()):
                await self._zk.set_consumer_offset(self.group_id, tp.topic, tp.partition, offset)
        self._committed.update(changed)

    # --- ZooKeeper -------------------------------------------------------------------------

    async def _register(self) -> None:
        """Create our ids node; a leftover of our own previous session is replaced."""
        now_ms = int(time.time() * 1000)
        if self._pattern is not None:
            regex, _, streams = self._pattern
            reg = ConsumerRegistration(subscription={regex: streams}, pattern="white_list",
                                       timestamp_ms=now_ms)
        else:
            reg = ConsumerRegistration(subscription=dict(self._subscription), pattern="static",
                                       timestamp_ms=now_ms)
        path = ConsumerIdZNode.path(self.group_id, self.consumer_id)
        data = ConsumerIdZNode.encode(reg)
        for _ in range(10):
            try:
                await self._session.create(path, data, ephemeral=True, makepath=True)
                return
            except NodeExistsError:
                try:
                    await self._session.delete(path)
                except NoNodeError:
                    pass
        raise ClientError(f"could not register {path}")

    async def _watch_children(self, path: str, *, task_status=trio.TASK_STATUS_IGNORED) -> None:
        changes = await self._session.watch_children(path)
        task_status.started()
        async with changes:
            async for _ in changes:
                self._rebalance_wanted.set()

    async def _watch_topic(self, topic: str) -> None:
        if topic in self._watched_topics:
            return
        self._watched_topics.add(topic)
        changes = await self._session.watch_data(TopicZNode.path(topic))

        async def follow() -> None:
            async with changes:
                async for _ in changes:
                    self._rebalance_wanted.set()

        self._nursery.start_soon(follow)

    async def _watch_session(self, states: trio.MemoryReceiveChannel) -> None:
        async with states:
            async for event in states:
                if event.kind == RECONNECTED_NEW_SESSION and not self._closed:
                    log.info("group %s: new ZooKeeper session; registering %s again",
                             self.group_id, self.consumer_id)
                    try:
                        await self._register()
                    except (ZkError, ClientError) as exc:
                        self._fatal = exc
                    self._owned.clear()  # our owner nodes died with the old session
                    self._rebalance_wanted.set()

    # --- rebalancing -----------------------------------------------------------------------

    async def _rebalancer(self, *, task_status=trio.TASK_STATUS_IGNORED) -> None:
        self._rebalance_wanted.set()
        task_status.started()
        while not self._closed:
            await self._rebalance_wanted.wait()
            await trio.sleep(0.05)  # let a burst of watch events settle into one rebalance
            self._rebalance_wanted = trio.Event()
            self._rebalancing = True
            try:
                await self._synced_rebalance()
            except (ConsumerRebalanceFailed, NoOffsetForPartition) as exc:
                self._fatal = exc
                log.error("%s", exc)
            except (ZkError, ClientError, KafkaError) as exc:
                if self._closed:
                    return
                log.warning("group %s: rebalance failed (%s); retrying", self.group_id, exc)
                self._rebalance_wanted.set()
                await trio.sleep(self.rebalance_backoff_ms / 1000)
            finally:
                self._rebalancing = False
            self._rebalanced.set()

    async def _synced_rebalance(self) -> None:
        for attempt in range(self.rebalance_max_retries):
            async with self._lock:
                if self._closed:
                    return
                if self.auto_commit_enable:
                    await self._commit_quietly()
                await self._release()
                if await self._rebalance_once():
                    return
                await self._release()
            log.info("group %s: %s could not claim all its partitions (attempt %d of %d); "
                     "backing off %d ms", self.group_id, self.consumer_id, attempt + 1,
                     self.rebalance_max_retries, self.rebalance_backoff_ms)
            await trio.sleep(self.rebalance_backoff_ms / 1000)
            if self._rebalance_wanted.is_set():
                self._rebalance_wanted = trio.Event()
        raise ConsumerRebalanceFailed(f"{self.consumer_id} can't rebalance after "
                                      f"{self.rebalance_max_retries} retries")

    async def _group_subscriptions(self) -> dict[str, list[str]]:
        """Topic -> sorted thread ids of every registered member subscribed to it."""
        ids = sorted(await self._session.get_children(ConsumerIdsZNode.path(self.group_id)))
        found = await self._session.get_many([ConsumerIdZNode.path(self.group_id, c)
                                              for c in ids])
        all_topics: list[str] | None = None
        threads: dict[str, list[str]] = {}
        for consumer, r in zip(ids, found):
            if r is None or not r[0]:
                continue
            try:
                reg = ConsumerIdZNode.decode(r[0])
            except (ValueError, KeyError, TypeError):
                log.warning("group %s: unreadable registration of %s", self.group_id, consumer)
                continue
            if reg.pattern == "static":
                subscription = reg.subscription
            else:
                if all_topics is None:
                    all_topics = await self._zk.get_all_topics()
                subscription = {}
                for regex, n in reg.subscription.items():
                    try:
                        matcher = re.compile(regex)
                    except re.error:
                        continue
                    for t in all_topics:
                        if t.startswith("__"):
                            continue
                        hit = matcher.fullmatch(t) is not None
                        if hit == (reg.pattern == "white_list"):
                            subscription[t] = n
            for topic, ts in thread_ids(consumer, subscription).items():
                threads.setdefault(topic, []).extend(ts)
        return {t: sorted(ts) for t, ts in threads.items()}

    async def _rebalance_once(self) -> bool:
        brokers = await self._zk.get_all_brokers()
        if not brokers:
            log.info("group %s: no brokers registered; waiting", self.group_id)
            return True
        threads_per_topic = await self._group_subscriptions()
        mine = {t: ts for t, ts in thread_ids(self.consumer_id,
                                              await self._my_subscription()).items()}
        counts: dict[str, int] = {}
        for topic in mine:
            await self._watch_topic(topic)
            assignment = await self._zk.get_topic_assignment(topic)
            if assignment is not None and assignment.partitions:
                counts[topic] = len(assignment.partitions)
        assigned = assign_threads(counts, {t: threads_per_topic.get(t, []) for t in mine})
        wanted: dict[TopicPartition, str] = {}
        for topic, threads in mine.items():
            for thread in threads:
                for tp in assigned.get(thread, []):
                    wanted[tp] = thread
        if not await self._claim(wanted):
            return False
        await self._start_fetching(wanted)
        log.info("group %s: %s owns %s", self.group_id, self.consumer_id,
                 ", ".join(str(tp) for tp in sorted(wanted)) or "nothing")
        return True

    async def _my_subscription(self) -> dict[str, int]:
        if self._pattern is None:
            return dict(self._subscription)
        _, matcher, streams = self._pattern
        return {t: streams for t in await self._zk.get_all_topics()
                if not t.startswith("__") and matcher.fullmatch(t)}

    async def _claim(self, wanted: Mapping[TopicPartition, str]) -> bool:
        """Create our owner nodes; on any conflict, undo this attempt's claims."""
        claimed: dict[TopicPartition, str] = {}
        for tp, thread in sorted(wanted.items()):
            path = ConsumerOwnerZNode.path(self.group_id, tp.topic, tp.partition)
            data = ConsumerOwnerZNode.encode(thread)
            try:
                await self._session.create(path, data, ephemeral=True, makepath=True)
            except NodeExistsError:
                current = await self._session.get_or_none(path)
                if current is None or current[0] != data:
                    log.info("group %s: %s is still owned by %s", self.group_id, tp,
                             ConsumerOwnerZNode.decode(current[0]) if current and current[0]
                             else "someone")
                    self._owned = claimed
                    return False
            claimed[tp] = thread
        self._owned = claimed
        return True

    async def _release(self) -> None:
        owned, self._owned = self._owned, {}
        for tp, thread in sorted(owned.items()):
            path = ConsumerOwnerZNode.path(self.group_id, tp.topic, tp.partition)
            current = await self._session.get_or_none(path)
            if current is not None and current[0] == ConsumerOwnerZNode.encode(thread):
                try:
                    await self._session.delete(path)
                except NoNodeError:
                    pass
        if self._consumer is not None:
            self._consumer.assign([])

    async def _fetch_offsets(self, partitions: Sequence[TopicPartition]
                             ) -> dict[TopicPartition, int | None]:
        out: dict[TopicPartition, int | None] = {tp: None for tp in partitions}
        if self.offsets_storage == "zookeeper" or self.dual_commit_enabled:
            for tp in partitions:
                out[tp] = await self._zk.get_consumer_offset(self.group_id, tp.topic,
                                                             tp.partition)
        if self.offsets_storage == "kafka" and partitions:
            coordinator = await self._group_coordinator()
            for tp, om in (await coordinator.fetch_committed(partitions)).items():
                if om is not None and (out[tp] is None or om.offset > out[tp]):
                    out[tp] = om.offset
        return out

    async def _start_fetching(self, owned: Mapping[TopicPartition, str]) -> None:
        consumer = await self._fetcher()
        offsets = await self._fetch_offsets(sorted(owned))
        self._committed = {tp: o for tp, o in offsets.items() if o is not None}
        missing = [tp for tp in sorted(owned) if offsets[tp] is None]
        if missing and self.auto_offset_reset == "none":
            names = ", ".join(str(tp) for tp in missing)
            raise NoOffsetForPartition(
                f"Undefined offset with no reset policy for partitions: [{names}]")
        consumer.assign([(tp.topic, tp.partition, offsets[tp] if offsets[tp] is not None
                          else self.auto_offset_reset) for tp in sorted(owned)])

    async def _fetcher(self) -> Consumer:
        if self._consumer is None:
            addresses = broker_addresses(await self._zk.get_all_brokers())
            self._cluster = Cluster(addresses, client_id=self.client_id)
            options = {"auto_offset_reset": "latest" if self.auto_offset_reset == "none"
                       else self.auto_offset_reset, "allow_auto_create_topics": False}
            options.update(self._consumer_options)
            self._consumer = Consumer(self._cluster, **options)
        return self._consumer

    async def _group_coordinator(self) -> ConsumerCoordinator:
        if self._coordinator is None:
            await self._fetcher()
            self._coordinator = ConsumerCoordinator(self._cluster, self.group_id,
                                                    assignors=[RangeAssignor()])
        return self._coordinator


class ZkGroupAdmin:
    """Legacy 0.8 consumer groups, read from and written to ``/consumers`` directly (what
    ``kafka-consumer-groups --zookeeper`` does). A group is "Stable" while it has ids, "Empty"
    without, "Dead" when ``/consumers/<g>`` does not exist; members' assignments come from the
    owner nodes (thread ``<consumer id>-<n>`` -> consumer id). Log offsets come from the brokers
    registered in ``/brokers/ids`` (a :class:`Cluster` made by ``cluster_factory(addresses)``).
    """

    def __init__(self, zk: KafkaZk, cluster_factory: Callable[[list[str]], Cluster]):
        self.zk = zk
        self.session = zk.session
        self._cluster_factory = cluster_factory
        self._cluster: Cluster | None = None

    async def cluster(self) -> Cluster:
        if self._cluster is None:
            addresses = broker_addresses(await self.zk.get_all_brokers())
            if not addresses:
                raise ClientError("No brokers are registered in ZooKeeper (/brokers/ids is "
                                  "empty): log end offsets are unavailable")
            self._cluster = self._cluster_factory(addresses)
        return self._cluster

    async def close(self) -> None:
        if self._cluster is not None:
            await self._cluster.aclose()

    async def _children(self, path: str) -> list[str]:
        try:
            return sorted(await self.session.get_children(path))
        except NoNodeError:
            return []

    async def list_groups(self) -> list[tuple[str, str | None]]:
        groups = await self._children("/consumers")
        out = []
        for g in groups:
            out.append((g, "Stable" if await self._children(f"/consumers/{g}/ids") else "Empty"))
        return out

    async def describe(self, group_id: str) -> GroupDescription:
        if await self.session.exists(f"{ConsumersZNode.path()}/{group_id}") is None:
            return GroupDescription(group_id=group_id, state="Dead")
        ids = await self._children(f"/consumers/{group_id}/ids")
        owned: dict[str, list[TopicPartition]] = {c: [] for c in ids}
        for topic in await self._children(f"/consumers/{group_id}/owners"):
            for p in await self._children(f"/consumers/{group_id}/owners/{topic}"):
                found = await self.session.get_or_none(
                    ConsumerOwnerZNode.path(group_id, topic, int(p)))
                if found is None or not found[0]:
                    continue
                thread = ConsumerOwnerZNode.decode(found[0])
                consumer = thread.rsplit("-", 1)[0] if "-" in thread else thread
                owned.setdefault(consumer, []).append(TopicPartition(topic, int(p)))
        members = tuple(MemberDescription(member_id=c, assignment=tuple(sorted(tps)))
                        for c, tps in owned.items())
        return GroupDescription(group_id=group_id, state="Stable" if ids else "Empty",
                                protocol_type="consumer", protocol="range", members=members)

    async def committed(self, group_id: str) -> dict[TopicPartition, int]:
        out = {}
        for topic in await self._children(f"/consumers/{group_id}/offsets"):
            for p in await self._children(f"/consumers/{group_id}/offsets/{topic}"):
                if not p.isdigit():
                    continue
                offset = await self.zk.get_consumer_offset(group_id, topic, int(p))
                if offset is not None:
                    out[TopicPartition(topic, int(p))] = offset
        return out

    async def alter_offsets(self, group_id: str, offsets: dict[TopicPartition, int]) -> None:
        for tp, offset in sorted(offsets.items()):
            await self.zk.set_consumer_offset(group_id, tp.topic, tp.partition, offset)

    async def delete_groups(self, group_ids: Sequence[str]) -> dict[str, KafkaError | None]:
        out: dict[str, KafkaError | None] = {}
        for group_id in group_ids:
            if await self.session.exists(f"/consumers/{group_id}") is None:
                out[group_id] = GroupIdNotFound("The group id does not exist.")
            elif await self._children(f"/consumers/{group_id}/ids"):
                out[group_id] = NonEmptyGroup("The group is not empty.")
            else:
                await self.session.delete(f"/consumers/{group_id}", recursive=True)
                out[group_id] = None
        return out

    async def delete_offsets(self, group_id: str, partitions: Sequence[TopicPartition]
                             ) -> tuple[KafkaError | None,
                                        dict[TopicPartition, KafkaError | None]]:
        if await self.session.exists(f"/consumers/{group_id}") is None:
            return GroupIdNotFound(), {}
        subscribed: set[str] = set()
        for c in await self._children(f"/consumers/{group_id}/ids"):
            found = await self.session.get_or_none(ConsumerIdZNode.path(group_id, c))
            if found is not None and found[0]:
                subscribed.update(ConsumerIdZNode.decode(found[0]).subscription)
        results: dict[TopicPartition, KafkaError | None] = {}
        for tp in partitions:
            if tp.topic in subscribed:
                results[tp] = GroupSubscribedToTopic(
                    "The consumer group is actively subscribed to the topic")
                continue
            await self.session.delete(ConsumerOffsetZNode.path(group_id, tp.topic,
                                                               tp.partition), recursive=True)
            results[tp] = None
        top = next((e for e in results.values() if e is not None), None)
        return top, results

    async def topic_partitions(self, topic: str) -> list[TopicPartition]:
        assignment = await self.zk.get_topic_assignment(topic)
        if assignment is None:
            raise UnknownTopicOrPartition(f"Topic {topic} does not exist")
        return [TopicPartition(topic, p) for p in sorted(assignment.partitions)]

    async def offsets_for(self, partitions: Iterable[TopicPartition], timestamp: int
                          ) -> dict[TopicPartition, int | None]:
        return await list_offsets(await self.cluster(), partitions, timestamp)
