"""The controller in-process against a real ZooKeeper, with brokers played by ZooKeeper sessions.

Each "broker" is a session that registers ``/brokers/ids/<id>`` (closing it is a broker
death, a new session a restart with a new broker epoch). The controller runs the real
:class:`ControllerService` on broker 0's session; what it would send to brokers is recorded
by :class:`RecordingBroker` and answered with success. The test itself plays the partition
leaders where needed: it changes ISRs with the leader's compare-and-set on the state znode,
exactly as a leader does. This pins the ZooKeeper side of every controller algorithm without
broker processes; ``test_controller.py`` runs the same scenarios with three real brokers.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import attrs
import pytest
import trio
from trio.testing import trio_test

from kafkalite import errors
from kafkalite.config import parse_server_config
from kafkalite.controller.service import ControllerService
from kafkalite.controller.service import deletion as deletion_module
from kafkalite.model import BrokerEndpoint, BrokerInfo, TopicPartition
from kafkalite.protocol.api_keys import ApiKey
from kafkalite.protocol.messages.leader_and_isr import LeaderAndIsrResponse
from kafkalite.protocol.messages.stop_replica import StopReplicaPartitionError, StopReplicaResponse
from kafkalite.protocol.messages.update_metadata import UpdateMetadataResponse
from kafkalite.server.metadata_cache import MetadataCache, PartitionMetadata
from kafkalite.zk.kafka_zk import KafkaZk
from kafkalite.zk.session import ZkSession
from kafkalite.zk.znodes import LeaderIsrAndControllerEpoch
from kafkalite.web.broker_metrics import BrokerMetrics

pytestmark = pytest.mark.zk

TIMEOUT = 60
SESSION_MS = 4000


def _tp(topic: str, p: int) -> TopicPartition:
    return TopicPartition(topic, p)


@attrs.define
class RecordingBroker:
    """What ControllerService needs of its broker: id, config, and a way to send requests."""

    broker_id: int
    config: Any
    inter_broker_listener: str = "PLAINTEXT"
    sent: list[tuple[int, int, Any]] = attrs.field(factory=list)
    fail_stop_replica: set[int] = attrs.field(factory=set)   # brokers whose deletes fail once
    metrics: BrokerMetrics = attrs.field(factory=BrokerMetrics)  # elections are counted
    # what the previous controller told this broker (failover elects dead leaders' first)
    metadata: MetadataCache = attrs.field(factory=MetadataCache)

    async def send_to_broker(self, broker_id: int, header, request, *,
                             controller: bool = False) -> object:
        # the controller's requests travel on connections of their own (ControllerChannelManager)
        assert controller, f"controller request {header.api_key} sent on the shared channels"
        self.sent.append((broker_id, header.api_key, request))
        if header.api_key == ApiKey.STOP_REPLICA:
            code = 0
            if broker_id in self.fail_stop_replica and any(
                    s.delete_partition for t in request.topic_states
                    for s in t.partition_states):
                self.fail_stop_replica.discard(broker_id)
                code = errors.KafkaStorageError.code
            return StopReplicaResponse(error_code=0, partition_errors=tuple(
                StopReplicaPartitionError(topic_name=t.topic_name,
                                          partition_index=s.partition_index, error_code=code)
                for t in request.topic_states for s in t.partition_states))
        if header.api_key == ApiKey.LEADER_AND_ISR:
            return LeaderAndIsrResponse(error_code=0, partition_errors=())
        return UpdateMetadataResponse(error_code=0)

    def requests(self, api_key: ApiKey, broker_id: int | None = None) -> list[Any]:
        return [r for b, k, r in self.sent
                if k == api_key and (broker_id is None or b == broker_id)]

    def partition_states(self, api_key: ApiKey, tp: TopicPartition,
                         broker_id: int | None = None) -> list[Any]:
        out = []
        for r in self.requests(api_key, broker_id):
            for t in r.topic_states:
                if t.topic_name == tp.topic:
                    out += [s for s in t.partition_states if s.partition_index == tp.partition]
        return out


@attrs.define
class Cluster:
    connect: str
    nursery: trio.Nursery
    admin: KafkaZk
    sessions: dict[int, ZkSession] = attrs.field(factory=dict)
    epochs: dict[int, int] = attrs.field(factory=dict)
    controller: ControllerService | None = None
    broker: RecordingBroker | None = None
    _controller_scope: trio.CancelScope | None = None

    async def start_broker(self, broker_id: int) -> int:
        s = ZkSession(self.connect, session_timeout_ms=SESSION_MS, connection_timeout_ms=10000)
        await s.start()
        self.sessions[broker_id] = s
        info = BrokerInfo(broker_id, (BrokerEndpoint("PLAINTEXT", "127.0.0.1",
                                                     20000 + broker_id),))
        self.epochs[broker_id] = await KafkaZk(s).register_broker(info)
        return self.epochs[broker_id]

    async def stop_broker(self, broker_id: int) -> None:
        await self.sessions.pop(broker_id).close()

    async def start_controller(self, broker_id: int = 0, *,
                               metadata: MetadataCache | None = None,
                               **props: Any) -> ControllerService:
        zk = KafkaZk(self.sessions[broker_id])
        election = None
        with trio.fail_after(10):
            while election is None:
                election = await zk.try_elect_controller(broker_id, 0)
                if election is None:
                    await trio.sleep(0.1)
        config = parse_server_config({"zookeeper.connect": self.connect,
                                      "broker.id": str(broker_id),
                                      "auto.leader.rebalance.enable": "false",
                                      **{k: str(v) for k, v in props.items()}})
        self.broker = RecordingBroker(broker_id, config)
        if metadata is not None:
            self.broker.metadata = metadata
        self.controller = ControllerService(self.broker, zk, epoch=election.epoch,
                                            epoch_zk_version=election.epoch_zk_version)
        self._controller_scope = trio.CancelScope()

        async def run(task_status=trio.TASK_STATUS_IGNORED) -> None:
            with self._controller_scope:
                await self.controller.run(task_status=task_status)

        await self.nursery.start(run)
        return self.controller

    async def stop_controller(self) -> None:
        self._controller_scope.cancel()
        await self.controller.zk.delete_controller(self.controller.ctx.epoch_zk_version)

    async def state(self, tp: TopicPartition) -> LeaderIsrAndControllerEpoch | None:
        return await self.admin.get_partition_state(tp.topic, tp.partition)

    async def leader_writes_isr(self, tp: TopicPartition, isr: tuple[int, ...], *,
                                notify: bool = True) -> int:
        """Do what a partition leader does: CAS the ISR, then post a notification."""
        st = await self.state(tp)
        new = attrs.evolve(st, isr=isr, zk_version=-1)
        version = await self.admin.conditional_update_partition_state(
            tp.topic, tp.partition, new, st.zk_version)
        assert version == st.zk_version + 1
        if notify:
            await self.admin.post_isr_change_notification([tp])
        return version


async def until(predicate: Callable[[], Awaitable[Any]], what: str, timeout: float = 15
                ) -> Any:
    with trio.move_on_after(timeout):
        while True:
            value = await predicate()
            if value:
                return value
            await trio.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


@contextlib.asynccontextmanager
async def cluster(connect: str, brokers=(0, 1, 2)) -> AsyncIterator[Cluster]:
    with trio.fail_after(TIMEOUT):
        async with trio.open_nursery() as nursery:
            admin_session = ZkSession(connect, session_timeout_ms=SESSION_MS,
                                      connection_timeout_ms=10000)
            await admin_session.start()
            admin = KafkaZk(admin_session)
            await admin.create_persistent_paths()
            c = Cluster(connect, nursery, admin)
            try:
                for b in brokers:
                    await c.start_broker(b)
                yield c
            finally:
                nursery.cancel_scope.cancel()
                with trio.CancelScope(shield=True):
                    for s in [*c.sessions.values(), admin_session]:
                        await s.close()


async def created(c: Cluster, topic: str, assignment: dict[int, list[int]]) -> None:
    await c.admin.create_topic(topic, assignment)

    async def all_states():
        return all([await c.state(_tp(topic, p)) for p in assignment])

    await until(all_states, f"partition states of {topic}")


# -- 1. BADVERSION: re-read and decide again ---------------------------------------------------


@trio_test
async def test_state_write_conflict_is_decided_again_from_the_fresh_state(zk_connect):
    async with cluster(zk_connect) as c:
        await c.start_controller()
        await created(c, "t", {0: [0, 1, 2], 1: [1, 2, 0]})
        t0, t1 = _tp("t", 0), _tp("t", 1)
        # The leaders shrink ISRs themselves; the controller's copies are now stale.
        await c.leader_writes_isr(t0, (0, 1), notify=False)
        await c.leader_writes_isr(t1, (1, 0), notify=False)
        await c.stop_broker(1)

        async def settled():
            s0, s1 = await c.state(t0), await c.state(t1)
            return s0.isr == (0,) and s1.leader != 1 and (s0, s1)

        s0, s1 = await until(settled, "ISR shrink and election after broker 1 died")
        # Follower death: removed from the fresh ISR (0, 1), not from the stale (0, 1, 2).
        assert (s0.leader, s0.leader_epoch, s0.zk_version) == (0, 1, 2)
        # Leader death: broker 2 left the ISR meanwhile, so 0 is the only clean choice.
        assert (s1.leader, s1.isr, s1.leader_epoch) == (0, (0,), 1)
        assert s1.controller_epoch == c.controller.ctx.epoch
        lisr = c.broker.partition_states(ApiKey.LEADER_AND_ISR, t1, broker_id=2)
        assert lisr[-1].leader == 0 and lisr[-1].partition_epoch == s1.zk_version


# -- 2. ISR change notifications ---------------------------------------------------------------


@trio_test
async def test_isr_change_notification_reaches_every_broker(zk_connect):
    async with cluster(zk_connect) as c:
        await c.start_controller()
        await created(c, "t", {0: [0, 1]})
        t0 = _tp("t", 0)
        c.broker.sent.clear()
        version = await c.leader_writes_isr(t0, (0,))

        async def processed():
            return not await c.admin.get_all_isr_change_notifications() and \
                all(any(s.isr == (0,) and s.zk_version == version for s in
                        c.broker.partition_states(ApiKey.UPDATE_METADATA, t0, b))
                    for b in (0, 1, 2))

        await until(processed, "UpdateMetadata with the new ISR and the notification gone")
        assert c.controller.ctx.leadership[t0].isr == (0,)
        assert c.controller.ctx.leadership[t0].zk_version == version


# -- 3. partitions added through ZooKeeper, failover ---------------------------------------


@trio_test
async def test_partitions_added_after_failover_come_online(zk_connect):
    async with cluster(zk_connect) as c:
        await c.start_controller(0)
        await created(c, "t", {0: [0, 1]})
        await c.stop_controller()
        # Left by a leader while no controller ran: the next one drops it at failover.
        await c.admin.post_isr_change_notification([_tp("t", 0)])
        ctl = await c.start_controller(1)
        assert ctl.ctx.epoch == 2
        assert await c.admin.get_all_isr_change_notifications() == []

        await c.admin.add_partitions("t", {1: [1, 2], 2: [2, 0]})

        async def new_states():
            return all([await c.state(_tp("t", p)) for p in (1, 2)])

        await until(new_states, "state znodes of the added partitions")
        s1, s2 = await c.state(_tp("t", 1)), await c.state(_tp("t", 2))
        assert (s1.leader, s1.isr, s1.leader_epoch, s1.controller_epoch) == (1, (1, 2), 0, 2)
        assert (s2.leader, s2.isr) == (2, (2, 0))
        (lisr,) = c.broker.partition_states(ApiKey.LEADER_AND_ISR, _tp("t", 1), broker_id=2)
        assert lisr.is_new and lisr.leader == 1 and lisr.replicas == (1, 2)
        assert c.broker.partition_states(ApiKey.UPDATE_METADATA, _tp("t", 2), broker_id=0)


@trio_test
async def test_failover_elects_the_partitions_of_a_dead_leader_first(zk_connect):
    """The new controller's metadata cache says which partitions the dead broker led: those
    are read, elected and sent first; the rest follow, and a partition the (stale) cache
    did not flag is still elected. No partition gets two LeaderAndIsr."""
    async with cluster(zk_connect) as c:
        await c.start_controller(0)
        await created(c, "t", {0: [1, 0, 2], 1: [2, 0, 1], 2: [1, 2, 0]})
        await c.stop_controller()
        await c.stop_broker(1)   # it led t-0 and t-2

        def meta(leader: int, replicas: tuple[int, ...]) -> PartitionMetadata:
            return PartitionMetadata(leader=leader, leader_epoch=0, isr=replicas,
                                     replicas=replicas)

        # Stale: t-2 is shown led by broker 2.
        cache = MetadataCache(topics={"t": {0: meta(1, (1, 0, 2)), 1: meta(2, (2, 0, 1)),
                                            2: meta(2, (1, 2, 0))}})
        await c.start_controller(2, metadata=cache)
        s0, s2 = await c.state(_tp("t", 0)), await c.state(_tp("t", 2))
        assert (s0.leader, s0.leader_epoch, s0.isr) == (0, 1, (0, 2))
        assert (s2.leader, s2.leader_epoch, s2.isr) == (2, 1, (2, 0))

        sent = [(k, r) for b, k, r in c.broker.sent
                if b == 0 and k in (ApiKey.LEADER_AND_ISR, ApiKey.UPDATE_METADATA)]
        kinds = [k for k, _ in sent]
        # UpdateMetadata (live brokers) before any LeaderAndIsr
        assert kinds[0] == ApiKey.UPDATE_METADATA and ApiKey.LEADER_AND_ISR in kinds
        lisrs = [r for k, r in sent if k == ApiKey.LEADER_AND_ISR]
        named = [[s.partition_index for t in r.topic_states for s in t.partition_states]
                 for r in lisrs]
        assert named[0] == [0], named
        assert sorted(p for ps in named for p in ps) == [0, 1, 2], named


# -- 4. controlled shutdown ---------------------------------------------------------------------


@trio_test
async def test_controlled_shutdown_moves_leaders_and_shrinks_isrs(zk_connect):
    async with cluster(zk_connect) as c:
        ctl = await c.start_controller()
        await created(c, "t", {0: [1, 0, 2], 1: [0, 1, 2]})
        await created(c, "r", {0: [1, 2]})
        await created(c, "s", {0: [1]})
        t0, t1, t2, t3 = _tp("t", 0), _tp("t", 1), _tp("r", 0), _tp("s", 0)
        await c.leader_writes_isr(t2, (1,))          # broker 2 fell behind on r-0
        await until(lambda: _isr_is(c, t2, (1,)), "ISR change seen by the controller")

        with pytest.raises(errors.StaleBrokerEpoch):
            await ctl.controlled_shutdown(1, c.epochs[1] - 1)
        with pytest.raises(errors.BrokerNotAvailable):
            await ctl.controlled_shutdown(7, -1)
        c.broker.sent.clear()
        remaining = await ctl.controlled_shutdown(1, c.epochs[1])

        # r-0 has no other in-sync replica; s-0 has a single replica (nothing to try).
        assert remaining == {t2}
        s0, s1 = await c.state(t0), await c.state(t1)
        assert (s0.leader, s0.isr, s0.leader_epoch) == (0, (0, 2), 1)
        assert (s1.leader, s1.isr, s1.leader_epoch) == (0, (0, 2), 1)
        assert (await c.state(t3)).leader == 1
        # The old leader hears it follows now; as a follower it stops fetching.
        assert c.broker.partition_states(ApiKey.LEADER_AND_ISR, t0, broker_id=1)[-1].leader == 0
        (stop,) = c.broker.partition_states(ApiKey.STOP_REPLICA, t1, broker_id=1)
        assert not stop.delete_partition
        assert not c.broker.partition_states(ApiKey.LEADER_AND_ISR, t1, broker_id=1)
        assert c.broker.partition_states(ApiKey.LEADER_AND_ISR, t1, broker_id=2)[-1].isr == (0, 2)
        # A shutting-down broker leads no new partition.
        await created(c, "u", {0: [1, 2]})
        assert (await c.state(_tp("u", 0))).leader == 2
        # A broker may call again (retries); the answer is the same.
        assert await ctl.controlled_shutdown(1, c.epochs[1]) == {t2}


async def _isr_is(c: Cluster, tp: TopicPartition, isr: tuple[int, ...]) -> bool:
    l = c.controller.ctx.leadership.get(tp)
    return l is not None and l.isr == isr


# -- 5. preferred and unclean elections ---------------------------------------------------------


@trio_test
async def test_preferred_election_by_api_and_by_znode(zk_connect, kazoo_client):
    async with cluster(zk_connect) as c:
        ctl = await c.start_controller()
        await created(c, "t", {0: [0, 1], 1: [1, 0], 2: [2, 0]})
        t0, t1, t2 = (_tp("t", p) for p in range(3))
        await c.stop_broker(1)
        await c.stop_broker(2)
        await until(lambda: _leader_is(c, t1, 0), "t-1 led by 0")
        await until(lambda: _leader_is(c, t2, 0), "t-2 led by 0")
        await c.start_broker(1)
        await c.start_broker(2)
        await until(lambda: _live(c, {0, 1, 2}), "brokers back")

        results = await ctl.elect_leaders(0, [t1])
        assert results[t1][0] is errors.PreferredLeaderNotAvailable   # 1 is not in sync yet
        await c.leader_writes_isr(t1, (0, 1))
        await until(lambda: _isr_is(c, t1, (0, 1)), "ISR of t-1 back to (0, 1)")
        missing = _tp("nope", 0)
        results = await ctl.elect_leaders(0, [t0, t1, missing])
        assert results == {t0: (errors.ElectionNotNeeded, results[t0][1]),
                           t1: (None, None),
                           missing: (errors.UnknownTopicOrPartition, results[missing][1])}
        s1 = await c.state(t1)
        assert (s1.leader, s1.isr) == (1, (0, 1))
        # All partitions: those that need nothing are left out.
        results = await ctl.elect_leaders(0, None)
        assert set(results) == {t2} and results[t2][0] is errors.PreferredLeaderNotAvailable

        await c.leader_writes_isr(t2, (0, 2))
        kazoo_client.create("/admin/preferred_replica_election", json.dumps(
            {"version": 1, "partitions": [{"topic": "t", "partition": 2}]}).encode())
        await until(lambda: _leader_is(c, t2, 2), "preferred leader 2 of t-2")

        async def node_gone():
            return kazoo_client.exists("/admin/preferred_replica_election") is None

        await until(node_gone, "/admin/preferred_replica_election deleted")


@trio_test
async def test_unclean_election_by_api(zk_connect):
    async with cluster(zk_connect) as c:
        ctl = await c.start_controller()
        await created(c, "u", {0: [2, 1]})
        u0 = _tp("u", 0)
        await c.leader_writes_isr(u0, (2,))
        await until(lambda: _isr_is(c, u0, (2,)), "ISR (2,)")
        await c.stop_broker(2)
        await until(lambda: _leader_is(c, u0, -1), "u-0 offline (no clean leader)")
        assert (await ctl.elect_leaders(0, [u0]))[u0][0] is errors.PreferredLeaderNotAvailable
        assert c.broker.metrics.unclean_elections == 0
        assert await ctl.elect_leaders(1, [u0]) == {u0: (None, None)}
        s = await c.state(u0)
        assert (s.leader, s.isr) == (1, (1,))
        assert c.broker.metrics.unclean_elections == 1  # UncleanLeaderElectionsPerSec
        assert (await ctl.elect_leaders(1, [u0]))[u0][0] is errors.ElectionNotNeeded


@trio_test
async def test_auto_leader_rebalance(zk_connect):
    async with cluster(zk_connect) as c:
        await c.start_controller(**{"auto.leader.rebalance.enable": "true",
                                    "leader.imbalance.check.interval.seconds": "1"})
        await created(c, "t", {0: [1, 0], 1: [0, 1]})
        t0 = _tp("t", 0)
        await c.stop_broker(1)
        await until(lambda: _leader_is(c, t0, 0), "t-0 led by 0")
        await c.start_broker(1)
        await until(lambda: _live(c, {0, 1, 2}), "broker 1 back")
        await trio.sleep(1.5)
        assert (await c.state(t0)).leader == 0   # 1 is not in sync: nothing to do
        await c.leader_writes_isr(t0, (0, 1))
        await until(lambda: _leader_is(c, t0, 1), "leadership back on the preferred replica")


async def _leader_is(c: Cluster, tp: TopicPartition, leader: int) -> bool:
    st = await c.state(tp)
    return st is not None and st.leader == leader


async def _live(c: Cluster, ids: set[int]) -> bool:
    return set(c.controller.ctx.live_brokers) == ids


# -- 6. reassignment ---------------------------------------------------------------------------


@trio_test
async def test_reassignment_by_znode_goes_through_both_phases(zk_connect, kazoo_client):
    async with cluster(zk_connect) as c:
        ctl = await c.start_controller()
        await created(c, "t", {0: [0, 1]})
        t0 = _tp("t", 0)
        kazoo_client.create("/admin/reassign_partitions", json.dumps(
            {"version": 1, "partitions": [{"topic": "t", "partition": 0,
                                           "replicas": [2, 1]}]}).encode())

        async def phase_a():
            a = await c.admin.get_topic_assignment("t")
            return a.adding and a

        a = await until(phase_a, "RS/AR/RR stored in the topic znode")
        assert (a.partitions, a.adding, a.removing) == ({0: (2, 1, 0)}, {0: (2,)}, {0: (0,)})
        assert ctl.list_reassignments(None) == {t0: ((2, 1, 0), (2,), (0,))}
        assert ctl.list_reassignments([_tp("t", 5)]) == {}
        await until(lambda: _epoch_is(c, t0, 1), "leader epoch bumped")
        lisr = c.broker.partition_states(ApiKey.LEADER_AND_ISR, t0, broker_id=2)[-1]
        assert (lisr.replicas, lisr.adding_replicas, lisr.removing_replicas) == \
            ((2, 1, 0), (2,), (0,))
        assert kazoo_client.exists("/admin/reassign_partitions")

        await c.leader_writes_isr(t0, (0, 1, 2), notify=False)   # the new replica caught up

        async def phase_b():
            return not kazoo_client.exists("/admin/reassign_partitions") and \
                not (await c.admin.get_topic_assignment("t")).adding

        await until(phase_b, "reassignment completed")
        a = await c.admin.get_topic_assignment("t")
        assert (a.partitions, a.adding, a.removing) == ({0: (2, 1)}, {}, {})
        s = await c.state(t0)
        assert (s.leader, s.isr, s.leader_epoch) == (2, (1, 2), 2)
        stops = c.broker.partition_states(ApiKey.STOP_REPLICA, t0, broker_id=0)
        assert [x.delete_partition for x in stops] == [False, True]
        assert ctl.list_reassignments(None) == {}
        await until(lambda: _metadata_replicas(c, t0, (2, 1)), "UpdateMetadata with RS = TRS")


async def _epoch_is(c: Cluster, tp: TopicPartition, epoch: int) -> bool:
    return (await c.state(tp)).leader_epoch == epoch


async def _metadata_replicas(c: Cluster, tp: TopicPartition, replicas) -> bool:
    states = c.broker.partition_states(ApiKey.UPDATE_METADATA, tp, broker_id=1)
    return bool(states) and states[-1].replicas == replicas


@trio_test
async def test_reassignment_api_validation_cancel_and_failover(zk_connect):
    async with cluster(zk_connect) as c:
        ctl = await c.start_controller()
        await created(c, "t", {0: [0, 1], 1: [1, 2]})
        t0, t1 = _tp("t", 0), _tp("t", 1)
        results = await ctl.alter_reassignments({
            t0: (0, 2), t1: (1, 5), _tp("t", 9): (1,)})
        assert results[t0] == (None, None)
        assert results[t1][0] is errors.InvalidReplicaAssignment
        assert results[_tp("t", 9)][0] is errors.UnknownTopicOrPartition
        assert (await ctl.alter_reassignments({t1: None}))[t1][0] is \
            errors.NoReassignmentInProgress
        assert ctl.list_reassignments(None) == {t0: ((0, 2, 1), (2,), (1,))}

        # Cancel: back to the original replicas; the adding replica is stopped and deleted.
        c.broker.sent.clear()
        assert await ctl.alter_reassignments({t0: None}) == {t0: (None, None)}
        a = await c.admin.get_topic_assignment("t")
        assert (a.partitions[0], a.adding, a.removing) == ((0, 1), {}, {})
        stops = c.broker.partition_states(ApiKey.STOP_REPLICA, t0, broker_id=2)
        assert [x.delete_partition for x in stops] == [False, True]

        # A move in progress survives a controller change and completes under the new one.
        assert (await ctl.alter_reassignments({t1: (2, 0)}))[t1] == (None, None)
        await c.stop_controller()
        ctl = await c.start_controller(2)
        assert ctl.list_reassignments(None) == {t1: ((2, 0, 1), (0,), (1,))}
        await until(lambda: _epoch_is(c, t1, 2), "phase A again under the new controller")
        await c.leader_writes_isr(t1, (1, 2, 0), notify=False)

        async def done():
            return (await c.admin.get_topic_assignment("t")).partitions[1] == (2, 0)

        await until(done, "reassignment completed by the new controller")
        s = await c.state(t1)
        assert (s.leader, s.isr) == (2, (2, 0))


# -- 7. topic deletion ---------------------------------------------------------------------------


@trio_test
async def test_deletion_waits_for_dead_replicas_then_the_name_is_free(zk_connect, monkeypatch):
    monkeypatch.setattr(deletion_module, "DELETION_RETRY_S", 0.5)
    async with cluster(zk_connect) as c:
        await c.start_controller()
        await created(c, "t", {0: [0, 1], 1: [1, 2]})
        await c.stop_broker(2)
        await until(lambda: _live(c, {0, 1}), "broker 2 dead")
        c.broker.fail_stop_replica.add(1)   # broker 1's first delete fails: retried
        await c.admin.mark_topic_for_deletion("t")

        async def deleted_on(b: int, tp: TopicPartition) -> bool:
            return any(s.delete_partition
                       for s in c.broker.partition_states(ApiKey.STOP_REPLICA, tp, broker_id=b))

        await until(lambda: deleted_on(0, _tp("t", 0)), "StopReplica(delete) to broker 0")
        await until(lambda: _deletes_at_least(c, 1, _tp("t", 1), 2), "retried delete on 1")
        um = c.broker.partition_states(ApiKey.UPDATE_METADATA, _tp("t", 0), broker_id=1)
        assert um[-1].leader == -2
        await trio.sleep(1)
        assert await c.admin.topic_exists("t"), "deleted although broker 2 still has a replica"

        await c.start_broker(2)
        await until(lambda: deleted_on(2, _tp("t", 1)), "StopReplica(delete) to returning 2")

        async def gone():
            return not await c.admin.topic_exists("t") and \
                not await c.admin.get_topics_marked_for_deletion()

        await until(gone, "topic znodes and marker removed")
        assert "t" not in c.controller.ctx.assignments

        await created(c, "t", {0: [2]})
        s = await c.state(_tp("t", 0))
        assert (s.leader, s.leader_epoch, s.zk_version) == (2, 0, 0)


async def _deletes_at_least(c: Cluster, b: int, tp: TopicPartition, n: int) -> bool:
    return sum(s.delete_partition for s in
               c.broker.partition_states(ApiKey.STOP_REPLICA, tp, broker_id=b)) >= n


# -- batching: one request per broker per controller event ------------------------------------


def _lisr_topics(c: Cluster, broker_id: int) -> list[set[str]]:
    """Per LeaderAndIsr sent to ``broker_id``, the topics it names (in sending order)."""
    return [{t.topic_name for t in r.topic_states}
            for r in c.broker.requests(ApiKey.LEADER_AND_ISR, broker_id)]


async def _barrier(c: Cluster, name: str, brokers=(0, 1, 2)) -> None:
    """Every request of the events before this one has been sent: a new topic's LeaderAndIsr
    reached each broker, and each broker's queue is first in, first out."""
    await c.admin.create_topic(name, {0: list(brokers)})
    await until(lambda: _async(all(any(name in ts for ts in _lisr_topics(c, b))
                                   for b in brokers)), f"LeaderAndIsr of {name}")


async def _async(value: Any) -> Any:
    return value


@trio_test
async def test_one_leader_and_isr_per_broker_per_event(zk_connect):
    from kafkalite.zk.ops import CreateOp
    from kafkalite.zk.znodes import TopicZNode

    async with cluster(zk_connect) as c:
        # Failover: 20 topics written before any controller ran are loaded in bulk and
        # brought online with one LeaderAndIsr per broker.
        def spread(n: int) -> dict[int, list[int]]:
            return {p: [p % 3, (p + 1) % 3] for p in range(n)}

        for i in range(20):
            await c.admin.create_topic(f"pre-{i}", spread(5))
        await c.start_controller()
        await _barrier(c, "barrier-1")
        for b in (0, 1, 2):
            first, *rest = _lisr_topics(c, b)
            assert first == {f"pre-{i}" for i in range(20)}
            assert rest == [{"barrier-1"}]
        assert all(len(c.broker.partition_states(ApiKey.LEADER_AND_ISR, _tp(f"pre-{i}", p)))
                   == 2 for i in range(20) for p in range(5))

        # Ten topics appearing at once (one multi, one watch firing): one event.
        c.broker.sent.clear()
        await c.admin.session.multi([CreateOp(TopicZNode.path(f"new-{i}"),
                                              TopicZNode.encode(spread(4)))
                                     for i in range(10)])
        await _barrier(c, "barrier-2")
        for b in (0, 1, 2):
            assert _lisr_topics(c, b) == [{f"new-{i}" for i in range(10)}, {"barrier-2"}]
            updates = c.broker.requests(ApiKey.UPDATE_METADATA, b)
            assert [{t.topic_name for t in r.topic_states} for r in updates] == [
                {f"new-{i}" for i in range(10)}, {"barrier-2"}]

        # A broker death: every partition it led gets a new leader, one request per survivor.
        led = [tp for tp, l in c.controller.ctx.leadership.items() if l.leader == 1]
        assert len(led) > 10
        c.broker.sent.clear()
        await c.stop_broker(1)

        async def elected():
            return all(s.leader != 1 for s in (await c.admin.get_partition_states_many(led))
                       .values())

        await until(elected, "new leaders for broker 1's partitions")
        await _barrier(c, "barrier-3", brokers=(0, 2))
        for b in (0, 2):
            death, barrier = c.broker.requests(ApiKey.LEADER_AND_ISR, b)
            assert {t.topic_name for t in barrier.topic_states} == {"barrier-3"}
            moved = {_tp(t.topic_name, s.partition_index)
                     for t in death.topic_states for s in t.partition_states}
            assert {tp for tp in led if b in c.controller.ctx.replicas(tp)} <= moved
        assert not c.broker.requests(ApiKey.LEADER_AND_ISR, 1)
