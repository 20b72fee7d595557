"""What the active controller knows, loaded from ZooKeeper at failover (Kafka's ControllerContext).

Pure data. The controller service fills it from ZooKeeper, then keeps it current from watches
and from its own (fenced) writes; it is thrown away on resignation.

``assignments`` holds the full replica set RS of every partition; for a partition being
reassigned ``adding``/``removing`` hold AR/RR (zookeeper-layout.md §6.11), exactly as stored
in ``/brokers/topics/<t>`` (whose znode version is kept in ``topic_versions`` so controller
rewrites compare-and-set against concurrent admin writes such as added partitions).
"""

from __future__ import annotations

import attrs

from kafkalite.controller.partition_states import PartitionState, check_transition
from kafkalite.controller.reassignment import ReplicaAssignment
from kafkalite.controller.replica_states import ReplicaState, check_replica_transition
from kafkalite.model import BrokerInfo, TopicPartition
from kafkalite.zk.znodes import LeaderIsrAndControllerEpoch, TopicAssignment

__all__ = ["PartitionLeadership", "ControllerContext"]


@attrs.frozen
class PartitionLeadership:
    """The content of a partition-state znode plus its zkVersion (= partition epoch)."""

    leader: int
    leader_epoch: int
    isr: tuple[int, ...]
    controller_epoch: int
    zk_version: int

    @classmethod
    def from_state(cls, st: LeaderIsrAndControllerEpoch, zk_version: int | None = None
                   ) -> PartitionLeadership:
        return cls(st.leader, st.leader_epoch, tuple(st.isr), st.controller_epoch,
                   st.zk_version if zk_version is None else zk_version)


@attrs.define
class ControllerContext:
    epoch: int = 0
    epoch_zk_version: int = 0
    live_brokers: dict[int, BrokerInfo] = attrs.field(factory=dict)
    shutting_down: set[int] = attrs.field(factory=set)
    assignments: dict[str, dict[int, tuple[int, ...]]] = attrs.field(factory=dict)
    adding: dict[TopicPartition, tuple[int, ...]] = attrs.field(factory=dict)
    removing: dict[TopicPartition, tuple[int, ...]] = attrs.field(factory=dict)
    topic_ids: dict[str, str | None] = attrs.field(factory=dict)
    topic_versions: dict[str, int] = attrs.field(factory=dict)
    leadership: dict[TopicPartition, PartitionLeadership] = attrs.field(factory=dict)
    states: dict[TopicPartition, PartitionState] = attrs.field(factory=dict)
    replica_states: dict[tuple[TopicPartition, int], ReplicaState] = attrs.field(factory=dict)
    topics_to_delete: set[str] = attrs.field(factory=set)
    # Partitions whose reassignment came from /admin/reassign_partitions: on completion the
    # controller removes them from that znode.
    zk_reassignments: set[TopicPartition] = attrs.field(factory=set)
    # Replicas of a live broker that sit in a failed log dir (its LeaderAndIsr answer said
    # KAFKA_STORAGE_ERROR): offline until that broker restarts (Kafka's replicasOnOfflineDirs).
    replicas_on_offline_dirs: dict[int, set[TopicPartition]] = attrs.field(factory=dict)

    @property
    def live_ids(self) -> set[int]:
        """Brokers that may lead or join an ISR (alive and not shutting down)."""
        return set(self.live_brokers) - self.shutting_down

    def replica_online(self, tp: TopicPartition, broker_id: int) -> bool:
        """The broker is live and its replica of ``tp`` is not in a failed log dir."""
        return broker_id in self.live_brokers and \
            tp not in self.replicas_on_offline_dirs.get(broker_id, ())

    def eligible_ids(self, tp: TopicPartition) -> set[int]:
        """Brokers whose replica of ``tp`` may lead or join its ISR: :attr:`live_ids` minus
        those whose replica is in a failed log dir."""
        return {b for b in self.live_ids
                if tp not in self.replicas_on_offline_dirs.get(b, ())}

    def partitions(self, topic: str | None = None) -> list[TopicPartition]:
        topics = [topic] if topic is not None else sorted(self.assignments)
        return [TopicPartition(t, p) for t in topics for p in sorted(self.assignments.get(t, {}))]

    def replicas(self, tp: TopicPartition) -> tuple[int, ...]:
        return self.assignments.get(tp.topic, {}).get(tp.partition, ())

    def full_assignment(self, tp: TopicPartition) -> ReplicaAssignment:
        return ReplicaAssignment(self.replicas(tp), self.adding.get(tp, ()),
                                 self.removing.get(tp, ()))

    def set_full_assignment(self, tp: TopicPartition, ra: ReplicaAssignment) -> None:
        self.assignments.setdefault(tp.topic, {})[tp.partition] = ra.replicas
        for field, value in ((self.adding, ra.adding), (self.removing, ra.removing)):
            if value:
                field[tp] = value
            else:
                field.pop(tp, None)

    def partitions_being_reassigned(self) -> list[TopicPartition]:
        return sorted(set(self.adding) | set(self.removing),
                      key=lambda tp: (tp.topic, tp.partition))

    def is_being_reassigned(self, tp: TopicPartition) -> bool:
        return tp in self.adding or tp in self.removing

    def topic_assignment(self, topic: str) -> TopicAssignment:
        """The ``/brokers/topics/<t>`` content this context holds for ``topic``."""
        parts = self.assignments.get(topic, {})
        return TopicAssignment(
            partitions=dict(parts),
            adding={p: self.adding[TopicPartition(topic, p)] for p in parts
                    if TopicPartition(topic, p) in self.adding},
            removing={p: self.removing[TopicPartition(topic, p)] for p in parts
                      if TopicPartition(topic, p) in self.removing},
            topic_id=self.topic_ids.get(topic),
            zk_version=self.topic_versions.get(topic, -1))

    def state(self, tp: TopicPartition) -> PartitionState:
        return self.states.get(tp, PartitionState.NON_EXISTENT)

    def move(self, tp: TopicPartition, target: PartitionState) -> None:
        check_transition(self.state(tp), target)
        self.states[tp] = target

    def replica_state(self, tp: TopicPartition, replica: int) -> ReplicaState:
        return self.replica_states.get((tp, replica), ReplicaState.NON_EXISTENT)

    def move_replica(self, tp: TopicPartition, replica: int, target: ReplicaState) -> None:
        check_replica_transition(self.replica_state(tp, replica), target)
        if target is ReplicaState.NON_EXISTENT:
            self.replica_states.pop((tp, replica), None)
        else:
            self.replica_states[(tp, replica)] = target

    def partitions_on_broker(self, broker_id: int) -> list[TopicPartition]:
        return [tp for tp in self.partitions() if broker_id in self.replicas(tp)]

    def remove_topic(self, topic: str) -> None:
        for tp in self.partitions(topic):
            self.leadership.pop(tp, None)
            self.states.pop(tp, None)
            self.adding.pop(tp, None)
            self.removing.pop(tp, None)
            self.zk_reassignments.discard(tp)
            for r in self.replicas(tp):
                self.replica_states.pop((tp, r), None)
        self.assignments.pop(topic, None)
        self.topic_ids.pop(topic, None)
        self.topic_versions.pop(topic, None)
        self.topics_to_delete.discard(topic)
