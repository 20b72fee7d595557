"""The cluster as a client sees it: bootstrap, metadata, connection pool, bounded retries.

``Cluster`` owns one :class:`BrokerConnection` per broker id (plus one bootstrap connection until
broker ids are known), the latest :class:`ClusterMetadata` snapshot, and the retry policy that
producers, consumers and the admin client share:

* requests carry ``request_timeout_ms`` (a cancel scope around the wait); a timed-out
  connection is closed, as Kafka's NetworkClient does, because a late answer would otherwise
  arrive on a connection whose state we no longer trust;
* :meth:`call_with_retries` re-runs an operation on retriable errors (the ``retriable`` flag of
  the error registry, connection failures, timeouts) with exponential backoff, refreshing
  metadata when the error says it is stale, and gives up after ``retry_timeout_ms`` with a
  :class:`KafkaTimeoutError` naming the operation and the last error;
* :meth:`wait_for_topics` refreshes until every requested topic has a leader for every
  partition — the wait a producer does while a topic is being auto-created (LEADER_NOT_AVAILABLE
  then UNKNOWN_TOPIC_OR_PARTITION while the controller works).

The metadata snapshot is immutable and replaced by each refresh (see ``metadata.py``), so
concurrent tasks never see half an update. Connections are opened lazily, one at a time per
broker (a lock per key), and dropped from the pool as soon as they break.
"""

from __future__ import annotations

import math
import random
from collections.abc import Awaitable, Callable, Iterable, Sequence
from typing import Any, TypeVar

import trio

from kafkalite.errors import BrokerNotAvailable, KafkaError, NotController, UnknownTopicOrPartition
from kafkalite.protocol.api_keys import ApiKey
from kafkalite.protocol.messages.metadata import MetadataRequest, MetadataRequestTopic
from kafkalite.client.connection import BrokerConnection, ClientSecurity
from kafkalite.client.errors import ClientError, ConnectionFailed, KafkaTimeoutError
from kafkalite.client.metadata import (
    ClusterMetadata,
    TopicMetadata,
    backoff_ms,
    metadata_from_response,
    parse_bootstrap,
)

__all__ = ["Cluster", "is_retriable"]

T = TypeVar("T")


def is_retriable(exc: BaseException) -> bool:
    """Whether retrying the same operation later may succeed."""
    if isinstance(exc, KafkaError):
        return type(exc).retriable
    if isinstance(exc, KafkaTimeoutError):
        return exc.retriable
    return isinstance(exc, ConnectionFailed)


def _invalidates_metadata(exc: BaseException) -> bool:
    if isinstance(exc, KafkaError):
        return type(exc).invalid_metadata or isinstance(exc, NotController)
    return isinstance(exc, ConnectionFailed)


class Cluster:
    """Metadata and connections for a set of brokers reached through ``bootstrap``.

    Use as ``async with Cluster("localhost:9092") as cluster:`` or call :meth:`aclose`.

    Args:
        bootstrap: ``"h1:9092,h2:9092"`` or a list of ``host:port`` strings.
        client_id: sent in every request header.
        request_timeout_ms: how long one request may wait for its answer.
        connect_timeout_ms: connect + ApiVersions budget per connection.
        retry_backoff_ms, retry_backoff_max_ms: exponential backoff between retries.
        retry_timeout_ms: total budget of one retried operation (Kafka's default.api.timeout.ms,
            and max.block.ms for topic metadata).
        allow_auto_topic_creation: default for Metadata requests made to find topics.
        metadata_max_age_ms: cached topic metadata older than this is refreshed by the next
            :meth:`wait_for_topics` (new partitions, moved leaders nobody complained about).
        security: TLS and/or SASL for every connection (None: PLAINTEXT); see
            :func:`kafkalite.client.security.client_security`.

    Raises:
        ConfigError: ``bootstrap`` cannot be parsed.
    """

    def __init__(self, bootstrap: str | Sequence[str], *, client_id: str = "kafkalite",
                 request_timeout_ms: int = 30_000, connect_timeout_ms: int = 10_000,
                 retry_backoff_ms: int = 100, retry_backoff_max_ms: int = 1_000,
                 retry_timeout_ms: int = 60_000, allow_auto_topic_creation: bool = True,
                 metadata_max_age_ms: int = 300_000, security: ClientSecurity | None = None):
        self.bootstrap_servers = parse_bootstrap(bootstrap)
        self.security = security
        self.client_id = client_id
        self.request_timeout_ms = request_timeout_ms
        self.connect_timeout_ms = connect_timeout_ms
        self.retry_backoff_ms = retry_backoff_ms
        self.retry_backoff_max_ms = retry_backoff_max_ms
        self.retry_timeout_ms = retry_timeout_ms
        self.allow_auto_topic_creation = allow_auto_topic_creation
        self.metadata_max_age_ms = metadata_max_age_ms
        self._metadata = ClusterMetadata()
        self._refreshed_at = -math.inf
        self._connections: dict[Any, BrokerConnection] = {}
        self._connect_locks: dict[Any, trio.Lock] = {}
        self._rng = random.Random()
        self._closed = False

    # --- lifecycle -----------------------------------------------------------------------------

    async def __aenter__(self) -> Cluster:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Close every connection. The cluster cannot be used afterwards."""
        self._closed = True
        connections = list(self._connections.values())
        self._connections.clear()
        for connection in connections:
            await connection.aclose()

    # --- metadata ------------------------------------------------------------------------------

    @property
    def metadata(self) -> ClusterMetadata:
        """The latest snapshot (empty until the first refresh)."""
        return self._metadata

    def leader_for(self, topic: str, partition: int) -> int | None:
        """Leader broker id of a partition from the cached metadata; None if unknown."""
        return self._metadata.leader_for(topic, partition)

    def partitions_for(self, topic: str) -> list[int]:
        """Sorted partition ids of a topic from the cached metadata.

        Raises:
            UnknownTopicOrPartition: the topic is not in the cache (call wait_for_topics first).
        """
        t = self._metadata.topics.get(topic)
        if t is None or not t.partitions:
            raise UnknownTopicOrPartition(f"Topic {topic} not present in metadata")
        return t.partition_ids()

    async def refresh_metadata(self, topics: Iterable[str] | None = None, *,
                               allow_auto_create: bool | None = None) -> ClusterMetadata:
        """Ask any broker for metadata of ``topics`` (None = all topics, [] = brokers only).

        Raises:
            ConnectionFailed: no broker could be reached.
            KafkaTimeoutError: the request timed out.
        """
        requested = None if topics is None else list(dict.fromkeys(topics))
        auto = self.allow_auto_topic_creation if allow_auto_create is None else allow_auto_create
        request = MetadataRequest(
            topics=None if requested is None else tuple(MetadataRequestTopic(name=t)
                                                         for t in requested),
            allow_auto_topic_creation=auto,
        )
        response = await self.request(None, request)
        return self.apply_metadata(metadata_from_response(response), requested=requested)

    def apply_metadata(self, fresh: ClusterMetadata, *,
                       requested: Iterable[str] | None) -> ClusterMetadata:
        """Merge a snapshot built from a Metadata response that asked for ``requested``
        (None = all topics) into the cache; returns the new cache."""
        self._metadata = self._metadata.merge(fresh, requested=requested)
        self._refreshed_at = trio.current_time()
        return self._metadata

    def forget_topic(self, topic: str) -> None:
        """Drop a topic from the cache (after deleting it)."""
        self._metadata = self._metadata.without_topic(topic)

    async def wait_for_topics(self, topics: Iterable[str], *,
                              allow_auto_create: bool | None = None) -> dict[str, TopicMetadata]:
        """Refresh until every topic is known and every partition has a leader.

        Raises:
            KafkaError: a non-retriable topic error (e.g. INVALID_TOPIC_EXCEPTION), or
                UNKNOWN_TOPIC_OR_PARTITION when topic auto-creation is off.
            KafkaTimeoutError: not ready within ``retry_timeout_ms``.
            ConnectionFailed: no broker reachable (first attempt only; later ones retry).
        """
        wanted = list(dict.fromkeys(topics))
        auto = self.allow_auto_topic_creation if allow_auto_create is None else allow_auto_create
        deadline = trio.current_time() + self.retry_timeout_ms / 1000
        attempt = 0
        last_error: BaseException | None = None
        if (self._refreshed_at > -math.inf
                and trio.current_time() - self._refreshed_at > self.metadata_max_age_ms / 1000):
            await self.try_refresh_metadata(list(self._metadata.topics) + wanted,
                                            allow_auto_create=auto)
        while True:
            current = self._metadata
            missing = [t for t in wanted
                       if not (t in current.topics and current.topics[t].is_ready())]
            if not missing:
                return {t: current.topics[t] for t in wanted}
            if attempt > 0:
                delay = self._backoff(attempt)
                if trio.current_time() + delay > deadline:
                    names = ", ".join(missing)
                    raise KafkaTimeoutError(
                        f"Topic {names} not present in metadata after {self.retry_timeout_ms} ms",
                        last_error=last_error, retriable=False)
                await trio.sleep(delay)
            attempt += 1
            try:
                current = await self.refresh_metadata(missing, allow_auto_create=auto)
            except (ConnectionFailed, KafkaTimeoutError) as exc:
                if attempt == 1 and not self._connections:
                    raise
                last_error = exc
                continue
            for name in missing:
                t = current.topics.get(name)
                error = t.error if t is not None else UnknownTopicOrPartition
                if error is None:
                    bad = [p for p in (t.partitions.values() if t else ()) if p.leader < 0]
                    if bad:
                        error = bad[0].error or BrokerNotAvailable
                        last_error = error(
                            f"topic {name} partition {bad[0].partition} has no leader")
                    continue
                if error is UnknownTopicOrPartition and not auto:
                    raise UnknownTopicOrPartition(f"Topic {name} does not exist")
                if not error.retriable:
                    raise error(f"topic {name}: {error.default_message()}")
                last_error = error(f"topic {name}: {error.default_message()}")

    # --- connections ---------------------------------------------------------------------------

    async def connection(self, node_id: int) -> BrokerConnection:
        """The pooled connection to broker ``node_id``, opening it if needed.

        Raises:
            BrokerNotAvailable: the broker is not in the metadata (even after a refresh).
            ConnectionFailed: it cannot be reached.
        """
        existing = self._connections.get(node_id)
        if existing is not None and not existing.closed:
            return existing
        broker = self._metadata.brokers.get(node_id)
        if broker is None:
            await self.refresh_metadata([])
            broker = self._metadata.brokers.get(node_id)
            if broker is None:
                raise BrokerNotAvailable(f"broker {node_id} is not in the cluster metadata")
        return await self._open(node_id, broker.host, broker.port, node_id)

    async def any_connection(self) -> BrokerConnection:
        """Any usable connection: a pooled one, else a known broker, else a bootstrap server.

        Raises:
            ConnectionFailed: none could be reached; the message lists each address's reason.
        """
        for connection in list(self._connections.values()):
            if not connection.closed:
                return connection
        candidates: list[tuple[Any, str, int, int | None]] = []
        brokers = list(self._metadata.brokers.values())
        self._rng.shuffle(brokers)
        candidates += [(b.node_id, b.host, b.port, b.node_id) for b in brokers]
        candidates += [(("bootstrap", h, p), h, p, None) for h, p in self.bootstrap_servers]
        failures: list[ConnectionFailed] = []
        for key, host, port, node_id in candidates:
            try:
                return await self._open(key, host, port, node_id)
            except ConnectionFailed as exc:
                failures.append(exc)
        if len(failures) == 1:
            raise failures[0]
        reasons = "; ".join(f.message.removeprefix("could not connect to ") for f in failures)
        raise ConnectionFailed(f"could not connect to any broker ({reasons})")

    async def controller(self) -> BrokerConnection:
        """A connection to the current controller (refreshing metadata to find it).

        Raises:
            NotController: no controller is known yet (retriable).
        """
        if self._metadata.controller_id < 0:
            await self.refresh_metadata([])
        controller_id = self._metadata.controller_id
        if controller_id < 0:
            raise NotController("no controller is known yet")
        return await self.connection(controller_id)

    async def _open(self, key: Any, host: str, port: int, node_id: int | None) -> BrokerConnection:
        if self._closed:
            raise ClientError("the cluster client is closed")
        lock = self._connect_locks.setdefault(key, trio.Lock())
        async with lock:
            existing = self._connections.get(key)
            if existing is not None and not existing.closed:
                return existing
            connection = await BrokerConnection.open(
                host, port, client_id=self.client_id, timeout=self.connect_timeout_ms / 1000,
                node_id=node_id, security=self.security)
            self._connections[key] = connection
            return connection

    def _forget(self, connection: BrokerConnection) -> None:
        for key, value in list(self._connections.items()):
            if value is connection:
                del self._connections[key]

    # --- requests ------------------------------------------------------------------------------

    async def request(self, node_id: int | BrokerConnection | None, msg: Any,
                      version: int | None = None) -> Any:
        """Send ``msg`` to broker ``node_id`` (None = any broker, or a connection) and wait.

        Raises:
            ConnectionFailed: the broker cannot be reached or the connection broke.
            KafkaTimeoutError: no answer within ``request_timeout_ms`` (connection closed).
            UnsupportedVersion: no version in common.
        """
        if isinstance(node_id, BrokerConnection):
            connection = node_id
        elif node_id is None:
            connection = await self.any_connection()
        else:
            connection = await self.connection(node_id)
        with trio.move_on_after(self.request_timeout_ms / 1000):
            try:
                return await connection.request(msg, version)
            except ConnectionFailed:
                self._forget(connection)
                raise
        self._forget(connection)
        await connection.aclose()
        name = ApiKey(type(msg).API_KEY).name
        who = f"broker {connection.node_id}" if connection.node_id is not None else "broker"
        raise KafkaTimeoutError(f"{name} request to {who} at {connection.host}:{connection.port} "
                                f"timed out after {self.request_timeout_ms} ms")

    async def call_with_retries(self, op: Callable[[], Awaitable[T]], *, what: str) -> T:
        """Run ``op()`` until it succeeds, retrying retriable failures with backoff.

        Metadata is refreshed (best effort) before a retry when the error says it is stale.

        Args:
            op: the operation; it should look up leaders/controller afresh on each call.
            what: a short description for the timeout message ("create topics").

        Raises:
            KafkaTimeoutError: still failing after ``retry_timeout_ms``.
            Exception: any non-retriable error from ``op``, unchanged.
        """
        deadline = trio.current_time() + self.retry_timeout_ms / 1000
        attempt = 0
        while True:
            try:
                return await op()
            except (KafkaError, ClientError) as exc:
                if not is_retriable(exc):
                    raise
                attempt += 1
                delay = self._backoff(attempt)
                if trio.current_time() + delay > deadline:
                    raise KafkaTimeoutError(
                        f"{what} did not succeed within {self.retry_timeout_ms} ms",
                        last_error=exc, retriable=False) from exc
                await trio.sleep(delay)
                if _invalidates_metadata(exc):
                    await self.try_refresh_metadata()

    async def try_refresh_metadata(self, topics: Iterable[str] | None = None, *,
                                   allow_auto_create: bool = False) -> bool:
        """Refresh the known topics (or ``topics``), swallowing retriable failures — the
        caller is about to retry anyway. Never auto-creates unless asked."""
        if topics is None:
            topics = list(self._metadata.topics)
        try:
            await self.refresh_metadata(topics, allow_auto_create=allow_auto_create)
        except (KafkaError, ClientError) as exc:
            if not is_retriable(exc):
                raise
            return False
        return True

    def _backoff(self, attempt: int) -> float:
        """Seconds to wait before retry ``attempt``, with ±20 % jitter (KIP-580)."""
        jitter = self._rng.uniform(-0.2, 0.2)
        return backoff_ms(attempt, base_ms=self.retry_backoff_ms,
                          max_ms=self.retry_backoff_max_ms, jitter=jitter) / 1000
