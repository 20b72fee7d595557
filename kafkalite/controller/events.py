"""Events of the controller's single queue (Kafka's ControllerEvent subclasses), pure values.

ZooKeeper watch firings, timers and broker responses become one of these; the controller
processes them one at a time, so no two decisions interleave. Watch events carry what the
watch delivered (children, or data + version) so most of them need no extra read.
"""

from __future__ import annotations

import attrs

from kafkalite.model import TopicPartition

__all__ = ["BrokersChanged", "TopicsChanged", "DeletionsChanged", "IsrChangesNotified",
           "TopicAssignmentChanged", "PartitionStateChanged", "ReassignZNodeChanged",
           "PreferredElectionZNodeChanged", "AutoLeaderRebalanceTick", "ResumeDeletions",
           "StopReplicaDeleteResult", "LogDirEventsNotified", "LeaderAndIsrResponseReceived"]


@attrs.frozen
class BrokersChanged:
    """Children of ``/brokers/ids`` changed."""

    ids: tuple[str, ...]


@attrs.frozen
class TopicsChanged:
    """Children of ``/brokers/topics`` changed."""

    topics: tuple[str, ...]


@attrs.frozen
class DeletionsChanged:
    """Children of ``/admin/delete_topics`` changed."""

    topics: tuple[str, ...]


@attrs.frozen
class IsrChangesNotified:
    """Children of ``/isr_change_notification`` changed (leaders changed ISRs)."""

    names: tuple[str, ...]


@attrs.frozen
class TopicAssignmentChanged:
    """``/brokers/topics/<t>`` data (None: deleted); partitions may have been added."""

    topic: str
    data: bytes | None
    version: int


@attrs.frozen
class PartitionStateChanged:
    """A watched partition-state znode changed (only partitions being reassigned)."""

    tp: TopicPartition
    data: bytes | None
    version: int


@attrs.frozen
class ReassignZNodeChanged:
    """``/admin/reassign_partitions`` data (None: absent); czxid tells a new node apart."""

    data: bytes | None
    czxid: int


@attrs.frozen
class PreferredElectionZNodeChanged:
    """``/admin/preferred_replica_election`` data (None: absent)."""

    data: bytes | None
    czxid: int


@attrs.frozen
class AutoLeaderRebalanceTick:
    """``leader.imbalance.check.interval.seconds`` elapsed."""


@attrs.frozen
class ResumeDeletions:
    """Retry topic deletions that failed on a live broker."""


@attrs.frozen
class StopReplicaDeleteResult:
    """A broker answered StopReplica(delete=true); ``failed`` lists partitions it could not
    delete (all of them if the request itself failed)."""

    broker_id: int
    broker_epoch: int
    partitions: tuple[TopicPartition, ...]
    failed: tuple[TopicPartition, ...]


@attrs.frozen
class LogDirEventsNotified:
    """Children of ``/log_dir_event_notification`` changed (a broker's log dir failed)."""

    names: tuple[str, ...]


@attrs.frozen
class LeaderAndIsrResponseReceived:
    """A broker answered LeaderAndIsr: the partitions it reported KAFKA_STORAGE_ERROR for
    (their replica is in a failed log dir) and those it took without error."""

    broker_id: int
    broker_epoch: int
    offline: tuple[TopicPartition, ...]
    online: tuple[TopicPartition, ...]
