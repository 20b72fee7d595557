"""What fault tests read from ZooKeeper, as an operator would, and how they report brokers.

Leaders, ISRs, the controller and broker registrations come from the znodes
(``/brokers/topics/<t>/partitions/<p>/state``, ``/controller``, ``/brokers/ids/<id>``), read
with the test's own kazoo client (passed in: only ``zk/session.py`` imports kazoo); waits are
bounded polls whose failure shows the state at the end.
"""

from __future__ import annotations

from collections.abc import Iterable

from kafkalite.testing.processes import wait_for
from kafkalite.zk.znodes import ControllerZNode, TopicPartitionStateZNode

__all__ = ["partition_state", "controller_id", "broker_registered", "wait_until", "states",
           "wait_isr_full", "first_error", "broker_logs"]


def _read(zk, path: str):
    """``(data, stat)`` of a znode, None if it does not exist (kazoo's NoNodeError is told
    apart by asking again, since its class may not be imported here). A znode created
    between the two questions (a new controller registering) is read again."""
    for attempt in range(3):
        try:
            return zk.get(path)
        except Exception:
            if zk.exists(path) is None:
                return None
            if attempt == 2:
                raise


def partition_state(zk, topic: str, partition: int):
    found = _read(zk, TopicPartitionStateZNode.path(topic, partition))
    return None if found is None else TopicPartitionStateZNode.decode(found[0], found[1].version)


def controller_id(zk) -> int | None:
    found = _read(zk, ControllerZNode.path())
    return None if found is None else ControllerZNode.decode(found[0])


def broker_registered(zk, broker_id: int) -> bool:
    return zk.exists(f"/brokers/ids/{broker_id}") is not None


def wait_until(predicate, timeout: float, what: str, now=None):
    """:func:`wait_for` whose failure also shows ``now()``, the state when it gave up."""
    try:
        return wait_for(predicate, timeout, what)
    except AssertionError as e:
        raise AssertionError(f"{e}; at the end: {now()}" if now else str(e)) from None


def states(zk, topic: str, partitions: Iterable[int]) -> list:
    return [partition_state(zk, topic, p) for p in partitions]


def wait_isr_full(zk, topic: str, partitions: Iterable[int], replicas: int = 3,
                  timeout: float = 60) -> None:
    partitions = list(partitions)
    wait_until(lambda: all(s is not None and s.leader >= 0 and len(s.isr) == replicas
                           for s in states(zk, topic, partitions)), timeout,
               f"{replicas} in-sync replicas on every partition of {topic}",
               lambda: states(zk, topic, partitions))


def first_error(broker) -> str:
    lines = broker.log_path.read_text(errors="replace").splitlines()
    return next((ln for ln in lines if " ERROR " in ln or "Traceback" in ln), "(none)")


def broker_logs(brokers) -> str:
    """Each broker's first ERROR/Traceback line and log tail, for failure messages."""
    return "\n".join(f"--- broker {b.broker_id}: first error: {first_error(b)}\n"
                     f"{b.log_tail(15)}" for b in brokers)
