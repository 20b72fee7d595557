"""One broker process: ``Broker.run`` wires storage, ZooKeeper, the controller and the network.

Startup order (Kafka's KafkaServer.startup, zookeeper-layout.md §6.9):
1. connect to ZooKeeper (creating the chroot), create the persistent paths, get or create the
   cluster id, resolve the broker id (``broker.id`` or ``/brokers/seqid``);
2. open the log dirs (recovering after an unclean stop), check and write ``meta.properties``;
3. bind the listeners, register ``/brokers/ids/<id>`` with the bound endpoints;
4. race for ``/controller``; the winner runs :class:`ControllerService` until it loses the
   seat (its session expires or another broker's epoch fences it).
After a ZooKeeper session expiry the broker re-registers and rejoins the election.
Shutdown (SIGTERM/SIGINT) stops serving, closes the logs cleanly (``.kafka_cleanshutdown``)
and closes the session, which removes the ephemeral znodes.
"""

from __future__ import annotations

import base64
import enum
import logging
import os
import random
import signal
import uuid
from pathlib import Path
from typing import Any

import trio

from kafkalite.config import ServerConfig, TOPIC_CONFIGS, http_listener_address
from kafkalite.controller.service import ControllerMovedError, ControllerService
from kafkalite.coordinator.service import GroupCoordinatorService
from kafkalite.coordinator.transaction.service import TransactionCoordinatorService
from kafkalite.model import BrokerEndpoint, BrokerInfo
from kafkalite.protocol.header import RequestHeader
from kafkalite.replication.fetcher import FetcherConfig, FetcherManager
from kafkalite.replication.service import ReplicaManager, ReplicationConfig, now_ms
from kafkalite.security.credentials import CredentialCache
from kafkalite.security.zk_client import zk_auth
from kafkalite.security.service import authorizer_from_config
from kafkalite.server.cleaner_service import LogCleanerService
from kafkalite.server.config_manager import ConfigManager
from kafkalite.server.dispatch import Dispatcher, supported_versions
from kafkalite.server.fetch_session import FetchSessionCache
from kafkalite.server.inter_broker import InterBrokerChannels
from kafkalite.server.listeners import (
    connection_limits, inter_broker_security, listener_security)
from kafkalite.server.log_service import LogService
from kafkalite.server.metadata_cache import MetadataCache
from kafkalite.server.network import SocketServer
from kafkalite.server.producer_ids import ProducerIdManager
from kafkalite.storage.config import LogConfig
from kafkalite.web.broker_metrics import BrokerMetrics
from kafkalite.storage.manager import LogManager
from kafkalite.zk.errors import BrokerIdInUse, ZkError
from kafkalite.zk.kafka_zk import KafkaZk
from kafkalite.zk.session import ZkSession
from kafkalite.zk.znodes import ControllerZNode

__all__ = ["Broker"]

log = logging.getLogger(__name__)
controller_log = logging.getLogger("kafkalite.controller")  # controller.log, as Kafka's


class BrokerState(enum.IntEnum):
    """Kafka's BrokerState values (the ``kafka.server:type=KafkaServer,name=BrokerState``
    gauge dashboards colour by)."""

    NOT_RUNNING = 0
    STARTING = 1
    RECOVERING_FROM_UNCLEAN_SHUTDOWN = 2
    RUNNING = 3
    PENDING_CONTROLLED_SHUTDOWN = 6
    SHUTTING_DOWN = 7


def new_cluster_id() -> str:
    return base64.urlsafe_b64encode(uuid.uuid4().bytes).rstrip(b"=").decode()


class Broker:
    def __init__(self, config: ServerConfig):
        self.config = config
        self.broker_id: int = config.broker_id
        self.metadata = MetadataCache()
        self.session: ZkSession | None = None
        self.zk: KafkaZk | None = None
        self.log_manager: LogManager | None = None
        self.replica_manager: ReplicaManager | None = None
        self.log_service: LogService | None = None   # retention, flushes, file deletion
        self.controller: ControllerService | None = None
        self.coordinator: GroupCoordinatorService | None = None
        self.txn_coordinator: TransactionCoordinatorService | None = None
        self.server: SocketServer | None = None
        self.dispatcher = Dispatcher(self)
        self.producer_ids: ProducerIdManager | None = None
        self.endpoints: tuple[BrokerEndpoint, ...] = ()
        self.broker_epoch = -1
        self.topic_overrides: dict[str, dict[str, str]] = {}
        self.credentials = CredentialCache()  # SCRAM users, kept by the ConfigManager
        self.started = trio.Event()
        self._metadata_changed = trio.Event()
        self.ready = trio.Event()  # set by the first UpdateMetadata that lists this broker
        self.channels: InterBrokerChannels | None = None
        self.controller_channels: InterBrokerChannels | None = None
        self.inter_broker_security = None  # ClientSecurity of the inter-broker listener
        # Leader addresses from LeaderAndIsr (LiveLeaders), for fetchers of brokers that the
        # metadata cache does not list yet.
        self.leader_addresses: dict[int, tuple[str, int]] = {}
        self.fetchers: FetcherManager | None = None
        # kafkalite.security.service; None: no authorization (authorizer.class.name empty)
        self.authorizer = authorizer_from_config(config)
        self.web_servers: dict[str, object] = {}  # config key -> kafkalite.web.http.HttpServer
        self.metrics = BrokerMetrics()
        # Incremental fetch sessions (KIP-227), one cache for all listeners as in Kafka.
        self.fetch_sessions = FetchSessionCache(
            config["max.incremental.fetch.session.cache.slots"], random.randint)
        self.state = BrokerState.NOT_RUNNING

    def notify_metadata_changed(self) -> None:
        if self.broker_id in self.metadata.brokers:
            self.ready.set()
        self._metadata_changed.set()
        self._metadata_changed = trio.Event()

    async def wait_metadata_change(self) -> None:
        await self._metadata_changed.wait()

    # -- configuration -----------------------------------------------------------------

    @property
    def inter_broker_listener(self) -> str:
        """``inter.broker.listener.name``, else the listener named after
        ``security.inter.broker.protocol`` (Kafka's rule), else the first listener."""
        name = self.config["inter.broker.listener.name"]
        if name:
            return name.upper()
        names = [e.listener for e in self.config.listeners]
        protocol = self.config["security.inter.broker.protocol"].upper()
        return protocol if protocol in names else names[0]

    def topic_config_values(self, topic: str) -> dict[str, Any]:
        values = self.config.topic_defaults()
        for k, v in self.topic_overrides.get(topic, {}).items():
            spec = TOPIC_CONFIGS.get(k)
            if spec is not None:
                try:
                    values[k] = spec[1](v)
                except ValueError:
                    log.warning("ignoring invalid config %s=%r of topic %s", k, v, topic)
        return values

    def log_config(self, topic: str) -> LogConfig:
        v = self.topic_config_values(topic)
        return LogConfig(
            segment_bytes=v["segment.bytes"], segment_ms=v["segment.ms"],
            index_interval_bytes=v["index.interval.bytes"],
            segment_index_bytes=v["segment.index.bytes"],
            max_message_bytes=v["max.message.bytes"],
            flush_interval_messages=v["flush.messages"],
            flush_interval_ms=v["flush.ms"], retention_ms=v["retention.ms"],
            retention_bytes=v["retention.bytes"], cleanup_policy=",".join(v["cleanup.policy"]),
            message_timestamp_type=v["message.timestamp.type"],
            min_insync_replicas=v["min.insync.replicas"],
            file_delete_delay_ms=v["file.delete.delay.ms"])

    def _stored_broker_id(self) -> int | None:
        for props in self.log_manager.read_meta_properties().values():
            if props and "broker.id" in props:
                return int(props["broker.id"])
        return None

    # -- lifecycle ---------------------------------------------------------------------

    async def run(self, *, task_status=trio.TASK_STATUS_IGNORED) -> None:
        """Run until SIGTERM/SIGINT, which are honoured at any point, start-up included."""
        trio.lowlevel.add_instrument(self.metrics.idle)
        self.state = BrokerState.STARTING
        with trio.open_signal_receiver(signal.SIGTERM, signal.SIGINT) as signals:
            async with trio.open_nursery() as nursery:
                nursery.start_soon(self._stop_on_signal, signals, nursery.cancel_scope)
                await self._run(task_status)

    async def _stop_on_signal(self, signals, scope: trio.CancelScope) -> None:
        async for signum in signals:
            log.info("Terminating process due to signal %s", signal.Signals(signum).name)
            log.info("[KafkaServer id=%d] shutting down", self.broker_id)
            self.state = BrokerState.SHUTTING_DOWN
            if self.started.is_set() and self.config["controlled.shutdown.enable"]:
                self.state = BrokerState.PENDING_CONTROLLED_SHUTDOWN
                # A second signal stops at once.
                async with trio.open_nursery() as nursery:
                    nursery.start_soon(self._cancel_on_next_signal, signals, nursery.cancel_scope)
                    await self._controlled_shutdown()
                    nursery.cancel_scope.cancel()
                self.state = BrokerState.SHUTTING_DOWN
            scope.cancel()
            return

    @staticmethod
    async def _cancel_on_next_signal(signals, scope: trio.CancelScope) -> None:
        async for _ in signals:
            log.info("second signal: skipping controlled shutdown")
            scope.cancel()
            return

    async def _controlled_shutdown(self) -> bool:
        """Ask the controller to move leadership away before we go (zookeeper-layout.md §6.9).

        Retried ``controlled.shutdown.max.retries`` times while partitions remain led here;
        afterwards the session close makes the controller handle us as a failed broker."""
        from kafkalite.protocol.api_keys import ApiKey
        from kafkalite.protocol.messages.controlled_shutdown import ControlledShutdownRequest

        cfg = self.config
        log.info("Starting controlled shutdown")
        for attempt in range(cfg["controlled.shutdown.max.retries"]):
            if attempt:
                await trio.sleep(cfg["controlled.shutdown.retry.backoff.ms"] / 1000)
            try:
                controller_id = await self.zk.get_controller_id()
                if controller_id is None:
                    log.info("controlled shutdown: no controller; retrying")
                    continue
                header = RequestHeader(int(ApiKey.CONTROLLED_SHUTDOWN), 3, attempt,
                                       f"broker-{self.broker_id}")
                with trio.fail_after(cfg["controller.socket.timeout.ms"] / 1000):
                    resp = await self.send_to_broker(controller_id, header,
                                                     ControlledShutdownRequest(
                                                         broker_id=self.broker_id,
                                                         broker_epoch=self.broker_epoch))
            except Exception as e:  # noqa: BLE001 - whatever failed, we are still stopping
                log.warning("Controlled shutdown attempt %d failed: %r", attempt + 1, e)
                continue
            if resp.error_code == 0 and not resp.remaining_partitions:
                log.info("Controlled shutdown succeeded")
                return True
            log.info("Remaining partitions to move: %d; error from controller: %d (attempt %d)",
                     len(resp.remaining_partitions), resp.error_code, attempt + 1)
        log.warning("Proceeding to do an unclean shutdown as all the controlled shutdown "
                    "attempts failed")
        return False

    async def _run(self, task_status) -> None:
        cfg = self.config
        self.session = ZkSession(cfg["zookeeper.connect"],
                                 session_timeout_ms=cfg.session_timeout_ms,
                                 connection_timeout_ms=cfg.connection_timeout_ms,
                                 auth=zk_auth(set_acl=cfg["zookeeper.set.acl"],
                                              config=cfg.originals))
        await self.session.start()
        try:
            self.zk = KafkaZk(self.session)
            await self.zk.create_persistent_paths()
            cluster_id = await self.zk.get_or_create_cluster_id(new_cluster_id())
            self.metadata.cluster_id = cluster_id
            self.log_manager = LogManager([Path(d) for d in cfg.log_dirs], self.log_config(""),
                                          config_for_topic=self.log_config)
            stored_id = self._stored_broker_id()
            if self.broker_id < 0:
                self.broker_id = stored_id if stored_id is not None else \
                    await self.zk.generate_broker_sequence_id()
            self.log_manager.write_meta_properties(self.broker_id, cluster_id)
            self.replica_manager = ReplicaManager(
                broker_id=self.broker_id, log_manager=self.log_manager,
                topic_config=self.log_config, zk=self.zk,
                config=ReplicationConfig(
                    replica_lag_time_max_ms=cfg["replica.lag.time.max.ms"]))
            self.replica_manager.on_all_log_dirs_offline = self._halt_without_log_dirs
            self.replica_manager.known_partition = \
                lambda tp: self.metadata.partition(tp) is not None
            self.inter_broker_security = inter_broker_security(cfg, self.inter_broker_listener)
            self.channels = InterBrokerChannels(
                f"broker-{self.broker_id}", self.broker_address,
                request_timeout_s=cfg["controller.socket.timeout.ms"] / 1000,
                security=self.inter_broker_security)
            # The controller's requests get connections of their own (Kafka's
            # ControllerChannelManager): behind a WriteTxnMarkers that waits for acks=all on a
            # stale leader, the LeaderAndIsr that tells it so would wait too.
            self.controller_channels = InterBrokerChannels(
                f"controller-{self.broker_id}", self.broker_address,
                request_timeout_s=cfg["controller.socket.timeout.ms"] / 1000,
                security=self.inter_broker_security)
            self.producer_ids = ProducerIdManager(self.zk, self.broker_id)
            await self._serve(task_status)
        finally:
            # Shielded: this runs while the broker is being cancelled (a signal or an error).
            with trio.CancelScope(shield=True):
                if self.log_manager is not None:
                    self.log_manager.shutdown()
                with trio.move_on_after(10):
                    await self.session.close()
            log.info("[KafkaServer id=%d] shut down completed", self.broker_id)

    async def _serve(self, task_status) -> None:
        cfg = self.config
        if cfg["connections.max.reauth.ms"] > 0:
            log.warning("connections.max.reauth.ms=%d is not enforced: SASL sessions do not "
                        "expire and SaslAuthenticate reports a session lifetime of 0",
                        cfg["connections.max.reauth.ms"])
        self.server = SocketServer(handler=self.dispatcher, supported=supported_versions(),
                                   max_frame_bytes=cfg["socket.request.max.bytes"],
                                   limits=connection_limits(cfg), metrics=self.metrics)
        await self.server.bind([(e.listener, e.host, e.port) for e in cfg.listeners],
                               {e.listener: listener_security(cfg, e,
                                                              self.credentials)
                                for e in cfg.listeners})
        self.endpoints = self._advertised_endpoints()
        async with trio.open_nursery() as nursery:
            if self.authorizer is not None:   # ACLs loaded before any client is served
                await nursery.start(self.authorizer.run, self.zk)
            await nursery.start(self.server.run)
            await self._start_web(nursery)
            self.fetchers = await nursery.start(FetcherManager(
                self.replica_manager, FetcherConfig(
                    broker_id=self.broker_id, max_wait_ms=cfg["replica.fetch.wait.max.ms"],
                    min_bytes=cfg["replica.fetch.min.bytes"],
                    max_bytes=cfg["replica.fetch.response.max.bytes"],
                    partition_max_bytes=cfg["replica.fetch.max.bytes"],
                    socket_timeout_s=cfg["replica.socket.timeout.ms"] / 1000,
                    security=self.inter_broker_security),
                self.broker_address).run)
            self.replica_manager.fetchers = self.fetchers
            await nursery.start(self.replica_manager.run_isr_maintenance)
            await nursery.start(self.replica_manager.run_log_dir_notifier)
            await self._load_topic_configs()
            await nursery.start(ConfigManager(self).run)
            self.coordinator = await nursery.start(GroupCoordinatorService(self).run)
            self.txn_coordinator = await nursery.start(TransactionCoordinatorService(self).run)
            await self._register()
            nursery.start_soon(self._session_watcher)
            nursery.start_soon(self._controller_election)
            nursery.start_soon(self._flush_checkpoints)
            self.log_service = await nursery.start(LogService(self).run)
            await nursery.start(LogCleanerService.from_broker(self).run)
            log.info("[KafkaServer id=%d] started", self.broker_id)
            self.started.set()
            self.state = BrokerState.RUNNING
            task_status.started(self)

    async def _start_web(self, nursery: trio.Nursery) -> None:
        """The HTTP endpoints beside the Kafka listeners: ``metrics.listener`` (Prometheus)
        and ``console.listener`` (the web console); each is off when its key is unset."""
        from kafkalite.web.console.app import ConsoleApp
        from kafkalite.web.http import HttpServer
        from kafkalite.web.metrics_app import MetricsApp

        for key, name, make in (("metrics.listener", "metrics endpoint", MetricsApp),
                                ("console.listener", "web console", ConsoleApp)):
            if not self.config[key]:
                continue
            host, port = http_listener_address(self.config[key], key)
            server = HttpServer(make(self), name=name)
            await server.bind(host, port)
            await nursery.start(server.run)
            self.web_servers[key] = server
            log.info("[KafkaServer id=%d] %s at http://%s:%d/", self.broker_id, name,
                     host or "0.0.0.0", server.bound[1])

    def _advertised_endpoints(self) -> tuple[BrokerEndpoint, ...]:
        """Advertised listeners with the real bound port (listeners may ask for port 0)."""
        out = []
        for ep in self.config.advertised_listeners:
            host, port = self.server.bound.get(ep.listener, (ep.host, ep.port))
            adv_host = ep.host or host or "localhost"
            if adv_host in ("0.0.0.0", "::"):
                adv_host = "localhost"
            adv_port = ep.port or port
            if self.config["advertised.listeners"] is None:
                adv_port = port
            out.append(BrokerEndpoint(ep.listener, adv_host, adv_port, ep.security_protocol))
        return tuple(out)

    async def _register(self) -> None:
        """Register /brokers/ids/<id>; after a crash, outwait the previous session.

        A broker restarted right after a kill finds its old ephemeral still owned by the dead
        session until ZooKeeper expires it. A live broker with the same id keeps its node, so
        after one session timeout (plus a margin) the clash is reported as fatal.
        """
        info = BrokerInfo(self.broker_id, self.endpoints, self.config["broker.rack"])
        deadline = trio.current_time() + self.config.session_timeout_ms * 1.5 / 1000 + 2
        while True:
            try:
                self.broker_epoch = await self.zk.register_broker(info)
                break
            except BrokerIdInUse:
                if trio.current_time() > deadline:
                    raise
                log.info("/brokers/ids/%d is held by another session; waiting for it to "
                         "expire", self.broker_id)
                await trio.sleep(0.5)
        log.info("Registered broker %d at path /brokers/ids/%d with addresses: %s, czxid (broker "
                 "epoch): %d", self.broker_id, self.broker_id, ", ".join(
                     f"{e.listener}://{e.host}:{e.port}" for e in self.endpoints),
                 self.broker_epoch)

    async def _load_topic_configs(self) -> None:
        """Every topic's overrides, in one pipelined round (not a round trip per topic)."""
        for topic, cfg in (await self.zk.get_topic_configs(await self.zk.get_all_topics())).items():
            if cfg:
                self.topic_overrides[topic] = cfg

    async def _session_watcher(self) -> None:
        async for event in self.session.state_events():
            if event.kind == "SUSPENDED":
                self.metrics.zk_disconnects += 1
            elif event.kind == "LOST":
                self.metrics.zk_expires += 1
            if event.kind == "RECONNECTED_NEW_SESSION":
                log.warning("ZooKeeper session expired; re-registering broker %d", self.broker_id)
                while True:
                    try:
                        await self._register()
                        break
                    except ZkError as e:
                        log.warning("re-registration failed (%s); retrying", e)
                        await trio.sleep(1)

    async def _controller_election(self) -> None:
        """Race for /controller whenever it is vacant; run the controller while we hold it."""
        changes = await self.session.watch_data("/controller")
        async for data, _stat in changes:
            if data is not None:
                continue
            try:
                election = await self.zk.try_elect_controller(self.broker_id, now_ms())
            except ZkError as e:
                controller_log.warning("Controller election failed (%s); will retry when "
                                       "/controller changes", e)
                continue
            if election is None:
                continue
            controller_log.info("%d successfully elected as the controller. Epoch incremented "
                                "to %d and epoch zk version is now %d", self.broker_id,
                                election.epoch, election.epoch_zk_version)
            self.controller = ControllerService(self, self.zk, epoch=election.epoch,
                                                epoch_zk_version=election.epoch_zk_version)
            try:
                async with trio.open_nursery() as nursery:
                    nursery.start_soon(self._run_controller, nursery.cancel_scope)
                    nursery.start_soon(self._watch_controller_seat, nursery.cancel_scope)
            finally:
                self.controller = None
                controller_log.info("Resigned as the controller")

    async def _run_controller(self, scope: trio.CancelScope) -> None:
        try:
            await self.controller.run()
        except* ControllerMovedError as group:
            controller_log.warning("Controller moved to another broker: %s", group.exceptions[0])
        except* ZkError as group:
            # Connection loss past the retries, or session expiry: give the seat up; the
            # election loop runs again once /controller is vacant.
            controller_log.warning("Controller lost ZooKeeper (%s); resigning",
                                   group.exceptions[0])
        scope.cancel()

    async def _watch_controller_seat(self, scope: trio.CancelScope) -> None:
        changes = await self.session.watch_data("/controller")
        async for data, _stat in changes:
            if data is None or ControllerZNode.decode(data) != self.broker_id:
                scope.cancel()
                return

    def _halt_without_log_dirs(self) -> None:
        """Every log dir failed: nothing can be served. Kafka halts the JVM here (no controlled
        shutdown, no clean-shutdown marker); so does this process, and the controller moves
        leadership when its ZooKeeper session expires."""
        log.critical("Shutdown broker because all log dirs in %s have failed",
                     ", ".join(map(str, self.log_manager.log_dirs)))
        logging.shutdown()   # flush every log file first
        os._exit(1)

    async def _flush_checkpoints(self) -> None:
        while True:
            await trio.sleep(self.config["replica.high.watermark.checkpoint.interval.ms"] / 1000)
            # Written (and fsynced) in a worker thread: behind seconds of writeback an fsync
            # took tens of milliseconds, during which no request was served.
            lm = self.log_manager
            failed = await trio.to_thread.run_sync(lm.write_checkpoints, lm.plan_checkpoints())
            for log_dir, exc in failed:
                lm.fail_log_dir(log_dir, exc)

    # -- inter-broker ------------------------------------------------------------------

    def is_stale_broker_epoch(self, epoch: int) -> bool:
        """KIP-380: only an *older* epoch is stale. The controller may learn our new
        registration (its watch fires) before our own create call has returned, so a request
        naming a newer epoch than we have stored is ours."""
        return epoch != -1 and epoch < self.broker_epoch

    def broker_address(self, broker_id: int) -> tuple[str, int] | None:
        """Where to reach ``broker_id`` on the inter-broker listener."""
        listener = self.inter_broker_listener
        if self.controller is not None:
            info = self.controller.ctx.live_brokers.get(broker_id)
            ep = info.endpoint(listener) if info else None
            if ep is not None:
                return ep.host, ep.port
        ep = self.metadata.endpoint(broker_id, listener)
        if ep is not None:
            return ep.host, ep.port
        return self.leader_addresses.get(broker_id)

    async def send_to_broker(self, broker_id: int, header: RequestHeader, request, *,
                             controller: bool = False) -> object:
        """One inter-broker request, answered (or TooSlowError), in order per target broker;
        to ourselves it goes straight to the dispatcher. ``controller`` requests travel on
        connections of their own, never queued behind other brokers' business."""
        if broker_id == self.broker_id:
            return await self.dispatcher.call_local(header, request)
        channels = self.controller_channels if controller else self.channels
        return await channels.send(broker_id, request, header.api_version)
