"""The active controller's trio shell (Kafka's KafkaController + ControllerEventManager).

The pure decisions live one level up (``controller/election.py``, ``reassignment.py``,
``preferred.py``, the state tables, ``requests.py``); this package carries them out against
ZooKeeper and the brokers, in parts:

- ``core``: event queue, watches, failover, partition state machine, fenced state writes
  with the BADVERSION retry, ISR-change notifications, partition additions;
- ``brokers``: broker startup/failure and controlled shutdown;
- ``elections``: ElectLeaders, the preferred-election znode, auto leader rebalance;
- ``reassignments``: AlterPartitionReassignments / ListPartitionReassignments and the
  legacy ``/admin/reassign_partitions`` znode;
- ``deletion``: topic deletion;
- ``log_dirs``: replicas in a broker's failed log dir (``/log_dir_event_notification``);
- ``channel``: per-broker request queues.

Public surface used by the broker and the request handlers (all run inside the controller's
event queue, serialized with watch events): :meth:`~ControllerService.run`,
``controlled_shutdown``, ``elect_leaders``, ``alter_reassignments``, ``list_reassignments``,
and ``ctx`` (read-only for handlers).
"""

from __future__ import annotations

from kafkalite.controller.service.brokers import BrokerChanges
from kafkalite.controller.service.deletion import TopicDeletion
from kafkalite.controller.service.elections import Elections
from kafkalite.controller.service.log_dirs import LogDirFailures
from kafkalite.controller.service.reassignments import Reassignments
from kafkalite.zk.kafka_zk import ControllerMovedError

__all__ = ["ControllerService", "ControllerMovedError"]


class ControllerService(Reassignments, Elections, TopicDeletion, LogDirFailures, BrokerChanges):
    """The controller of one epoch; thrown away when it resigns."""
