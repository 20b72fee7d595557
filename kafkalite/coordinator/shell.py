"""What the trio shells of the group and transaction coordinators share.

Both run a pure machine that parks requests until their records are written, and both own the
partitions of an internal topic (``__consumer_offsets``, ``__transaction_state``) that this
broker leads: gaining one means replaying its log into the machine, losing it means dropping
what was loaded. The pieces:

- :class:`ParkedRequests` — a request parked under a token waits here until the machine's
  ``Reply`` effect for that token arrives.
- :class:`PartitionLoads` — a replica-manager leadership listener plus the task that turns
  leadership changes into loads and unloads, one at a time per partition, with a cancel scope
  per load so losing leadership mid-replay stops it.
- :func:`replay_log` — a partition's log from its start to the end it had when the load
  began, in chunks of whole batches, for as long as this broker stays its leader.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

import trio

from kafkalite.coordinator.results import Result
from kafkalite.model import TopicPartition
from kafkalite.web.broker_metrics import remote_wait

__all__ = ["ParkedRequests", "PartitionLoads", "replay_log", "existing_partition_count"]

_LOAD_CHUNK_BYTES = 1 << 20


class _Slot:
    __slots__ = ("value", "done", "event")

    def __init__(self) -> None:
        self.value: Any = None
        self.done = False
        self.event: trio.Event | None = None   # made only when the request has to wait


class ParkedRequests:
    """Requests waiting for the machine to answer their token."""

    def __init__(self) -> None:
        self._slots: dict[int, _Slot] = {}

    async def complete(self, result: Result, apply: Callable[[Result], None]) -> Any:
        """The answer of ``result``: at once, or once a Reply fills its parked token. ``apply``
        carries out the result's effects (after the slot exists, as a Reply may be among
        them, or may come while they are applied: then the request does not wait at all)."""
        if result.park is None:
            if result.effects:
                apply(result)
            return result.response
        slot = self._slots[result.park] = _Slot()
        try:
            apply(result)
            if not slot.done:
                slot.event = trio.Event()
                with remote_wait():  # Kafka's purgatory (DelayedJoin, DelayedHeartbeat, appends)
                    await slot.event.wait()
        finally:
            self._slots.pop(result.park, None)
        return slot.value

    def reply(self, token: int, response: Any) -> None:
        slot = self._slots.get(token)
        if slot is not None:
            slot.value = response
            slot.done = True
            if slot.event is not None:
                slot.event.set()


class PartitionLoads:
    """Leadership of one internal topic's partitions, turned into loads and unloads.

    A *term* is a stretch of leadership. With ``epoch_sensitive`` every new leader epoch starts
    a new term (the transaction coordinator's epoch is the leader epoch, so it must reload);
    otherwise only losing leadership ends one (the group coordinator keeps its groups across
    epoch bumps). For each partition whose wanted term changed, :meth:`run` calls
    ``unload(partition)`` for the old term, then ``begin(partition, term, leader_epoch)`` and
    starts ``load(partition, term, leader_epoch, scope)`` in the given nursery; the load
    calls :meth:`loaded` when it is done (its scope is cancelled if the term ends first).
    """

    def __init__(self, topic: str, *, epoch_sensitive: bool,
                 begin: Callable[[int, int, int], None], unload: Callable[[int], None],
                 load: Callable[..., Any]):
        self.topic = topic
        self.epoch_sensitive = epoch_sensitive
        self._begin, self._unload, self._load = begin, unload, load
        self._wanted: dict[int, tuple[int, int]] = {}   # partition -> (term, leader epoch)
        self._current: dict[int, tuple[int, int]] = {}
        self._scopes: dict[int, trio.CancelScope] = {}
        self._terms = 0
        self._changed = trio.Event()
        self.loaded_changed = trio.Event()

    def on_leadership_change(self, tp: TopicPartition, is_leader: bool,
                             leader_epoch: int) -> None:
        """A replica-manager leadership listener (called synchronously)."""
        if tp.topic != self.topic:
            return
        current = self._wanted.get(tp.partition)
        if is_leader:
            if current is not None and (not self.epoch_sensitive or current[1] == leader_epoch):
                return
            self._terms += 1
            self._wanted[tp.partition] = (self._terms, leader_epoch)
        elif self._wanted.pop(tp.partition, None) is None:
            return
        self._changed.set()

    async def run(self, nursery: trio.Nursery) -> None:
        while True:
            self._changed = trio.Event()
            for partition, term in list(self._current.items()):
                if self._wanted.get(partition) != term:
                    scope = self._scopes.pop(partition, None)
                    if scope is not None:
                        scope.cancel()
                    del self._current[partition]
                    self._unload(partition)
            for partition, (term, epoch) in self._wanted.items():
                if partition not in self._current:
                    self._current[partition] = (term, epoch)
                    self._begin(partition, term, epoch)
                    scope = self._scopes[partition] = trio.CancelScope()
                    nursery.start_soon(self._load, partition, term, epoch, scope)
            self.loaded()
            await self._changed.wait()

    def loaded(self, partition: int | None = None, scope: trio.CancelScope | None = None
               ) -> None:
        """Wake :meth:`wait_loaded` callers; a finished load passes its partition and scope."""
        if partition is not None and self._scopes.get(partition) is scope:
            del self._scopes[partition]
        self.loaded_changed.set()
        self.loaded_changed = trio.Event()


async def existing_partition_count(zk, topic: str) -> int | None:
    """How many partitions ``topic`` already has in ZooKeeper (None if it does not exist):
    as in Kafka, the topic's real size wins over the ``*.num.partitions`` setting."""
    if zk is None:
        return None
    assignment = await zk.get_topic_assignment(topic)
    return len(assignment.partitions) if assignment is not None and assignment.partitions \
        else None


async def replay_log(replica_manager, tp: TopicPartition,
                     consume: Callable[[bytes], int]) -> str | None:
    """Feed ``tp``'s log, from its start to its end as of now, to ``consume`` in chunks of
    whole batches (about a megabyte); ``consume`` returns the offset after the last batch of
    its chunk. Stops when this broker stops leading ``tp``.

    Returns None when the end was reached, else why it stopped ("not leader", or a
    description of a chunk that did not advance, which the caller logs).
    """
    p = replica_manager.get_partition(tp)
    if p is None:
        return "not leader"
    offset, end = p.log_start_offset, p.log_end_offset
    while offset < end:
        if replica_manager.get_partition(tp) is not p or not p.is_leader:
            return "not leader"
        data = p.log.read(offset, _LOAD_CHUNK_BYTES, max_offset=end)
        if data.size == 0:
            break
        buf = b"".join(os.pread(fd, size, pos) for fd, pos, size in data.regions)
        del data
        next_offset = consume(buf)
        if next_offset <= offset:
            return f"cannot replay past offset {offset}"
        offset = next_offset
        await trio.sleep(0)
    return None
