"""What the active controller knows, loaded from ZooKeeper at failover (Kafka's ControllerContext).

Pure data. The controller service fills it from ZooKeeper, then keeps it current from watches
and from its own (fenced) writes; it is thrown away on resignation.
"""

from __future__ import annotations

import attrs

from kafkalite.controller.partition_states import PartitionState, check_transition
from kafkalite.model import BrokerInfo, TopicPartition

__all__ = ["PartitionLeadership", "ControllerContext"]


@attrs.frozen
class PartitionLeadership:
    """The content of a partition-state znode plus its zkVersion (= partition epoch)."""

    leader: int
    leader_epoch: int
    isr: tuple[int, ...]
    controller_epoch: int
    zk_version: int


@attrs.define
class ControllerContext:
    epoch: int = 0
    epoch_zk_version: int = 0
    live_brokers: dict[int, BrokerInfo] = attrs.field(factory=dict)
    shutting_down: set[int] = attrs.field(factory=set)
    assignments: dict[str, dict[int, tuple[int, ...]]] = attrs.field(factory=dict)
    topic_ids: dict[str, str | None] = attrs.field(factory=dict)
    leadership: dict[TopicPartition, PartitionLeadership] = attrs.field(factory=dict)
    states: dict[TopicPartition, PartitionState] = attrs.field(factory=dict)
    topics_to_delete: set[str] = attrs.field(factory=set)

    @property
    def live_ids(self) -> set[int]:
        return set(self.live_brokers) - self.shutting_down

    def partitions(self, topic: str | None = None) -> list[TopicPartition]:
        topics = [topic] if topic is not None else sorted(self.assignments)
        return [TopicPartition(t, p) for t in topics for p in sorted(self.assignments.get(t, {}))]

    def replicas(self, tp: TopicPartition) -> tuple[int, ...]:
        return self.assignments.get(tp.topic, {}).get(tp.partition, ())

    def state(self, tp: TopicPartition) -> PartitionState:
        return self.states.get(tp, PartitionState.NON_EXISTENT)

    def move(self, tp: TopicPartition, target: PartitionState) -> None:
        check_transition(self.state(tp), target)
        self.states[tp] = target

    def remove_topic(self, topic: str) -> None:
        for tp in self.partitions(topic):
            self.leadership.pop(tp, None)
            self.states.pop(tp, None)
        self.assignments.pop(topic, None)
        self.topic_ids.pop(topic, None)
        self.topics_to_delete.discard(topic)
