"""The classic consumer group state machine (Kafka's ``GroupState``), as a table.

Five states. For each: how requests are answered ("action") and what moves the group on
("transition"). ``machine.py`` implements the actions; every state change goes through
:func:`check_transition`, so a move that is not in :data:`VALID_PREVIOUS` is a coordinator bug
and raises :class:`IllegalStateTransition` instead of being silently coerced.

EMPTY — no members; the group may still have committed offsets (or have just been created).
  action: JoinGroup from a new member -> add it (v4+: MEMBER_ID_REQUIRED first) and rebalance;
          SyncGroup / Heartbeat / LeaveGroup -> UNKNOWN_MEMBER_ID;
          OffsetCommit -> accepted only as a "simple" commit (generation -1, no member id);
          OffsetFetch, DescribeGroups, DeleteGroups, OffsetDelete -> served.
  transition: first JoinGroup -> PREPARING_REBALANCE (after group.initial.rebalance.delay.ms);
              last offsets expired or removed, DeleteGroups -> DEAD;
              offsets partition emigrates (leadership lost) -> DEAD.

PREPARING_REBALANCE — a new generation is being formed; JoinGroups are parked until every
known member has rejoined or the rebalance timeout (largest of the members') passes.
  action: JoinGroup -> parked; Heartbeat -> REBALANCE_IN_PROGRESS (still refreshes the session);
          SyncGroup -> REBALANCE_IN_PROGRESS; LeaveGroup -> remove the member;
          OffsetCommit of the current generation -> accepted (lets members commit before
          rejoining, which keeps duplicates after a rebalance down).
  transition: all members rejoined or rebalance timeout, some members left -> COMPLETING_REBALANCE
              (generation + 1, protocol chosen, leader answered with the member list);
              ... and no member left -> EMPTY (generation + 1, group metadata written);
              offsets partition emigrates -> DEAD.

COMPLETING_REBALANCE — join responses were sent; waiting for the leader's assignment.
  action: SyncGroup from followers -> parked; SyncGroup from the leader -> write the group
          metadata record, then answer every member with its assignment;
          Heartbeat -> NONE (Kafka 2.x: consumers heartbeat between join and sync);
          JoinGroup with unchanged protocols -> the current generation's join response again;
          OffsetCommit -> REBALANCE_IN_PROGRESS.
  transition: leader's assignment persisted -> STABLE;
              JoinGroup with changed protocols or a new member, LeaveGroup, session expiry
              -> PREPARING_REBALANCE (parked syncs get REBALANCE_IN_PROGRESS);
              offsets partition emigrates -> DEAD.

STABLE — every member has its assignment.
  action: Heartbeat -> NONE; SyncGroup -> the member's current assignment;
          JoinGroup from a follower with unchanged protocols -> current generation info;
          OffsetCommit of the current generation -> accepted.
  transition: JoinGroup from the leader, from a new member or with changed protocols,
              LeaveGroup, session expiry -> PREPARING_REBALANCE;
              offsets partition emigrates -> DEAD.

DEAD — the group is being removed (deleted, expired, or its partition moved away); the object
lingers only until callers drop it.
  action: every request -> COORDINATOR_NOT_AVAILABLE (JoinGroup/Heartbeat/SyncGroup/commits;
          the client re-discovers the coordinator), DescribeGroups shows "Dead".
  transition: none (DEAD -> DEAD is allowed so removal is idempotent).
"""

from __future__ import annotations

import enum

__all__ = ["GroupState", "VALID_PREVIOUS", "IllegalStateTransition", "check_transition",
           "parse_state"]


class GroupState(enum.Enum):
    """The value is Kafka's state name, as DescribeGroups and ListGroups v4 report it."""

    EMPTY = "Empty"
    PREPARING_REBALANCE = "PreparingRebalance"
    COMPLETING_REBALANCE = "CompletingRebalance"
    STABLE = "Stable"
    DEAD = "Dead"


_S = GroupState

VALID_PREVIOUS: dict[GroupState, frozenset[GroupState]] = {
    _S.EMPTY: frozenset({_S.PREPARING_REBALANCE}),
    _S.PREPARING_REBALANCE: frozenset({_S.EMPTY, _S.STABLE, _S.COMPLETING_REBALANCE}),
    _S.COMPLETING_REBALANCE: frozenset({_S.PREPARING_REBALANCE}),
    _S.STABLE: frozenset({_S.COMPLETING_REBALANCE}),
    _S.DEAD: frozenset({_S.EMPTY, _S.PREPARING_REBALANCE, _S.COMPLETING_REBALANCE, _S.STABLE,
                        _S.DEAD}),
}

#: States from which a rebalance may start (Kafka's ``canRebalance``).
CAN_REBALANCE = frozenset(VALID_PREVIOUS[_S.PREPARING_REBALANCE])


class IllegalStateTransition(RuntimeError):
    """A state change that the table forbids: always a coordinator bug."""


def check_transition(current: GroupState, target: GroupState) -> None:
    """Raise :class:`IllegalStateTransition` unless ``current -> target`` is in the table."""
    if current not in VALID_PREVIOUS[target]:
        raise IllegalStateTransition(f"{current.value} -> {target.value}")


def parse_state(name: str) -> GroupState | None:
    """A state from its Kafka name, case-insensitively (ListGroups v4 states filter)."""
    for s in GroupState:
        if s.value.lower() == name.strip().lower():
            return s
    return None
