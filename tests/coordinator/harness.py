"""A driver for the pure coordinator: carries out its effects in memory, with a fake clock."""

from __future__ import annotations

import itertools

from kafkalite.coordinator.machine import GroupConfig, GroupCoordinator
from kafkalite.coordinator.results import (
    Append, CancelTimer, JoinGroupArgs, OffsetCommitEntry, Reply, Result, SetTimer)
from kafkalite.model import TopicPartition

TP = TopicPartition("t", 0)
PENDING = object()


class Harness:
    """One coordinator owning every partition of a 1-partition offsets topic.

    Appends complete at once (``auto_append``) or wait in ``pending`` until
    :meth:`finish_append`; the log is a list of ``(offset, key, value)``.
    """

    def __init__(self, **config):
        config = {"num_partitions": 1, "initial_rebalance_delay_ms": 0, **config}
        ids = itertools.count(1)
        self.m = GroupCoordinator(GroupConfig(**config), new_uuid=lambda: str(next(ids)))
        self.now = 0
        self.timers: dict[tuple, int] = {}
        self.replies: dict[int, object] = {}
        self.parked: set[int] = set()
        self.log: list[tuple[int, bytes, bytes | None]] = []
        self.pending: list[Append] = []
        self.auto_append = True
        self.m.begin_load(0, 1)
        self.apply(self.m.complete_load(0, 1, now_ms=0))
        self.apply(self.m.start(now_ms=0))

    # -- effects -------------------------------------------------------------------------

    def apply(self, result: Result):
        if result.park is not None:
            self.parked.add(result.park)
        for e in result.effects:
            if isinstance(e, Reply):
                assert e.token not in self.replies, "a request answered twice"
                self.replies[e.token] = e.response
            elif isinstance(e, SetTimer):
                self.timers[e.key] = e.at_ms
            elif isinstance(e, CancelTimer):
                self.timers.pop(e.key, None)
            elif isinstance(e, Append):
                if self.auto_append:
                    self.finish_append(e)
                else:
                    self.pending.append(e)
        return result

    def finish_append(self, append: Append, error=None) -> None:
        if append in self.pending:
            self.pending.remove(append)
        base = len(self.log)
        if error is None:
            self.log.extend((base + i, k, v) for i, (k, v) in enumerate(append.records))
        self.apply(self.m.append_completed(append, error, base, now_ms=self.now))

    def answer(self, result: Result):
        """The response now, or the reply to the parked request if it came in the same call,
        else PENDING."""
        self.apply(result)
        if result.park is None:
            return result.response
        return self.replies.get(result.park, PENDING)

    def reply(self, token: int):
        return self.replies.get(token, PENDING)

    def advance(self, ms: int) -> None:
        """Move the clock, firing due timers in deadline order."""
        target = self.now + ms
        while True:
            due = sorted((at, key) for key, at in self.timers.items() if at <= target)
            if not due:
                break
            at, key = due[0]
            del self.timers[key]
            self.now = max(self.now, at)
            self.apply(self.m.on_timer(key, now_ms=self.now))
        self.now = target

    # -- requests ------------------------------------------------------------------------

    def join(self, group="g", member_id="", *, instance=None, protocols=(("range", b"sub"),),
             session=10000, rebalance=30000, v4=True, client_id="c", protocol_type="consumer"):
        result = self.m.join_group(JoinGroupArgs(
            group_id=group, member_id=member_id, group_instance_id=instance, client_id=client_id,
            client_host="/127.0.0.1", session_timeout_ms=session, rebalance_timeout_ms=rebalance,
            protocol_type=protocol_type, protocols=tuple(protocols),
            require_known_member_id=v4), now_ms=self.now)
        return self.answer(result), result.park

    def sync(self, group, generation, member_id, assignments=None, instance=None):
        result = self.m.sync_group(group, generation, member_id, group_instance_id=instance,
                                   assignments=assignments, now_ms=self.now)
        return self.answer(result), result.park

    def heartbeat(self, group, generation, member_id, instance=None):
        return self.answer(self.m.heartbeat(group, generation, member_id,
                                            group_instance_id=instance, now_ms=self.now))

    def leave(self, group, *members):
        return self.answer(self.m.leave_group(group, members, now_ms=self.now))

    def commit(self, group, generation, member_id, offsets, metadata=""):
        entries = {tp: OffsetCommitEntry(offset=o, metadata=metadata)
                   for tp, o in offsets.items()}
        result = self.m.commit_offsets(group, generation, member_id, entries, now_ms=self.now)
        return self.answer(result), result.park

    def committed(self, group, tp=TP) -> int:
        return self.m.fetch_offsets(group, [tp]).offsets[tp].offset

    def state(self, group="g") -> str:
        return self.m.describe_group(group).state
