"""One partition replica as this broker sees it: role, leader epoch, ISR and high watermark.

Pure (L3): no trio, no clock, no sockets. Time comes in as ``now_ms``. The replica manager
(``replication/service.py``) owns Partition objects and carries out what they decide.

Invariants (Kafka's ``Partition``/``Replica``):
- The high watermark is the smallest log end offset among in-sync replicas, and never moves
  backwards while this broker stays leader.
- Followers' log end offsets are learned from their Fetch requests (``replica_id`` >= 0).
- A leader-epoch change (LeaderAndIsr) resets the follower tracking: every follower is
  considered to have caught up as of the moment this broker became leader, so the ISR shrink
  rule (``replica.lag.time.max.ms``) measures from then.
"""

from __future__ import annotations

import enum

import attrs

from kafkalite.model import TopicPartition
from kafkalite.storage.log import Log

__all__ = ["Role", "ReplicaState", "Partition"]


class Role(enum.Enum):
    LEADER = "leader"
    FOLLOWER = "follower"
    NONE = "none"  # known but neither leading nor following (e.g. being deleted)


@attrs.define
class ReplicaState:
    """What the leader knows of one follower."""

    broker_id: int
    log_end_offset: int = -1
    last_caught_up_ms: int = 0
    last_fetch_ms: int = 0
    # The leader's log end at this follower's previous fetch: reaching it counts as caught up
    # as of that fetch, so a follower that trails a busy leader by one round stays in sync.
    last_fetch_leader_leo: int = -1


@attrs.define(eq=False)
class Partition:
    tp: TopicPartition
    log: Log
    local_broker_id: int
    role: Role = Role.NONE
    leader_id: int = -1
    leader_epoch: int = -1
    partition_epoch: int = -1  # the state znode's zkVersion
    controller_epoch: int = -1
    replicas: tuple[int, ...] = ()
    isr: tuple[int, ...] = ()
    _high_watermark: int = attrs.field(default=0, alias="high_watermark")
    followers: dict[int, ReplicaState] = attrs.field(factory=dict)
    # The log end when this broker became leader: a follower joins the ISR only once it has
    # reached it (and the HW), so it holds everything earlier leaders committed.
    leader_epoch_start_offset: int = 0
    # An ISR write to ZooKeeper is in flight; no second one until it is answered.
    isr_update_pending: bool = False

    @property
    def high_watermark(self) -> int:
        return self._high_watermark

    @high_watermark.setter
    def high_watermark(self, value: int) -> None:
        # Transactions whose markers fall below the HW become stable (the LSO may move).
        self._high_watermark = value
        self.log.on_high_watermark_updated(value)

    @property
    def last_stable_offset(self) -> int:
        """What read_committed consumers may read up to (KIP-98)."""
        return self.log.last_stable_offset(self._high_watermark)

    @property
    def is_leader(self) -> bool:
        return self.role is Role.LEADER

    @property
    def log_end_offset(self) -> int:
        return self.log.log_end_offset

    @property
    def log_start_offset(self) -> int:
        return self.log.log_start_offset

    def make_leader(self, *, leader_epoch: int, isr: tuple[int, ...], replicas: tuple[int, ...],
                    partition_epoch: int, controller_epoch: int, now_ms: int) -> bool:
        """Apply a LeaderAndIsr naming this broker leader; returns True when the role changed."""
        changed = self.role is not Role.LEADER or self.leader_epoch != leader_epoch
        self.role = Role.LEADER
        self.leader_id = self.local_broker_id
        self.leader_epoch = leader_epoch
        self.isr = tuple(isr)
        self.replicas = tuple(replicas)
        self.partition_epoch = partition_epoch
        self.controller_epoch = controller_epoch
        if changed:
            # Kafka's maybeAssignEpochStartOffset: the epoch is on record before its first
            # append, so OffsetForLeaderEpoch answers followers correctly at once.
            self.log.assign_epoch_start_offset(leader_epoch, self.log.log_end_offset)
            self.leader_epoch_start_offset = self.log.log_end_offset
            self.isr_update_pending = False
            self.followers = {
                r: ReplicaState(r, -1, now_ms, now_ms)
                for r in replicas if r != self.local_broker_id
            }
        else:
            for r in replicas:
                if r != self.local_broker_id and r not in self.followers:
                    self.followers[r] = ReplicaState(r, -1, now_ms, now_ms)
        self.maybe_increment_high_watermark()
        return changed

    def make_follower(self, *, leader_id: int, leader_epoch: int, isr: tuple[int, ...],
                      replicas: tuple[int, ...], partition_epoch: int,
                      controller_epoch: int) -> bool:
        changed = self.role is not Role.FOLLOWER or self.leader_id != leader_id \
            or self.leader_epoch != leader_epoch
        self.role = Role.FOLLOWER
        self.leader_id = leader_id
        self.leader_epoch = leader_epoch
        self.isr = tuple(isr)
        self.replicas = tuple(replicas)
        self.partition_epoch = partition_epoch
        self.controller_epoch = controller_epoch
        self.followers = {}
        return changed

    def in_sync_log_end_offsets(self) -> list[int]:
        ends = [self.log.log_end_offset]
        for r in self.isr:
            if r != self.local_broker_id:
                st = self.followers.get(r)
                ends.append(st.log_end_offset if st else -1)
        return ends

    def maybe_increment_high_watermark(self) -> bool:
        """HW = min LEO over the ISR; returns True when it moved forward."""
        if not self.is_leader:
            return False
        candidate = min(self.in_sync_log_end_offsets())
        if candidate > self.high_watermark:
            self.high_watermark = candidate
            return True
        return False

    def update_follower(self, broker_id: int, log_end_offset: int, now_ms: int) -> bool:
        """Record a follower's fetch position; returns True when the HW moved.

        Kafka's rule for "caught up": the fetch reached the leader's current log end, or the
        log end the leader had at this follower's previous fetch (then it was caught up as of
        that previous fetch)."""
        st = self.followers.get(broker_id)
        if st is None:
            st = self.followers[broker_id] = ReplicaState(broker_id)
        leo = self.log.log_end_offset
        if log_end_offset >= leo:
            st.last_caught_up_ms = now_ms
        elif log_end_offset >= st.last_fetch_leader_leo >= 0:
            st.last_caught_up_ms = max(st.last_caught_up_ms, st.last_fetch_ms)
        st.log_end_offset = log_end_offset
        st.last_fetch_leader_leo = leo
        st.last_fetch_ms = now_ms
        return self.maybe_increment_high_watermark()

    def isr_to_shrink(self, now_ms: int, max_lag_ms: int) -> tuple[int, ...] | None:
        """The ISR without followers that have not caught up for ``max_lag_ms``, or None."""
        if not self.is_leader or self.isr_update_pending:
            return None
        out_of_sync = {r for r in self.isr if r != self.local_broker_id
                       and now_ms - self._caught_up_ms(r) > max_lag_ms}
        if not out_of_sync:
            return None
        return tuple(r for r in self.isr if r not in out_of_sync)

    def _caught_up_ms(self, broker_id: int) -> int:
        st = self.followers.get(broker_id)
        return st.last_caught_up_ms if st else 0

    def isr_to_expand(self, broker_id: int) -> tuple[int, ...] | None:
        """The ISR plus ``broker_id`` if that follower has caught up, or None."""
        if not self.is_leader or self.isr_update_pending or broker_id in self.isr \
                or broker_id not in self.replicas:
            return None
        st = self.followers.get(broker_id)
        if st is None or st.log_end_offset < max(self.high_watermark,
                                                 self.leader_epoch_start_offset):
            return None
        return tuple(self.isr) + (broker_id,)

    def apply_isr(self, isr: tuple[int, ...], partition_epoch: int) -> bool:
        """The ISR write succeeded; returns True when the HW moved (a shrink can free it)."""
        self.isr = tuple(isr)
        self.partition_epoch = partition_epoch
        return self.maybe_increment_high_watermark()

    def update_follower_high_watermark(self, leader_high_watermark: int) -> None:
        """A follower's HW is the leader's, capped by what it holds itself."""
        self.high_watermark = max(self.high_watermark,
                                  min(leader_high_watermark, self.log.log_end_offset))

    def on_local_append(self) -> bool:
        """After the leader appended: with an ISR of one the HW follows the log end at once."""
        return self.maybe_increment_high_watermark()
