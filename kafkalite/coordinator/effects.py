"""Collecting the effects of one coordinator call, and the keys of the coordinator's timers.

Internal to ``kafkalite.coordinator``: the machine and its parts (``offsets.py``,
``loading.py``) build a :class:`~kafkalite.coordinator.results.Result` through
:class:`Effects`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from kafkalite import errors
from kafkalite.coordinator.results import Append, CancelTimer, ErrorType, Reply, Result, SetTimer

if TYPE_CHECKING:
    from kafkalite.coordinator.machine import GroupCoordinator

__all__ = ["Effects", "heartbeat_key", "pending_member_key", "join_key", "EXPIRE_KEY",
           "map_append_error"]

EXPIRE_KEY = ("expire-offsets",)


class Effects:
    """Collects the answer, parked token and effects of one call."""

    def __init__(self, machine: GroupCoordinator):
        self.machine = machine
        self.effects: list = []
        self.response: Any = None
        self.park: int | None = None

    def respond(self, response: Any) -> None:
        self.response = response

    def park_token(self, kind: str, group_id: str) -> int:
        token = self.machine._new_token(kind, group_id)
        self.park = token
        return token

    def reply(self, token: int | None, response: Any) -> None:
        if token is not None and self.machine._parked.pop(token, None) is not None:
            self.effects.append(Reply(token, response))

    def timer(self, key: tuple, at_ms: int) -> None:
        self.effects.append(SetTimer(key, at_ms))

    def cancel(self, key: tuple) -> None:
        self.effects.append(CancelTimer(key))

    def append(self, partition: int, records, continuation=None, producer=None) -> None:
        self.effects.append(Append(partition, tuple(records), continuation, producer))

    def result(self) -> Result:
        return Result(self.response, self.park, tuple(self.effects))


def heartbeat_key(group_id: str, member_id: str) -> tuple:
    return ("heartbeat", group_id, member_id)


def pending_member_key(group_id: str, member_id: str) -> tuple:
    return ("pending-member", group_id, member_id)


def join_key(group_id: str) -> tuple:
    return ("join", group_id)


def map_append_error(error: ErrorType, *, for_group: bool) -> ErrorType:
    """Kafka's translation of log-append errors into coordinator errors."""
    if error is None:
        return None
    if error in (errors.UnknownTopicOrPartition, errors.NotEnoughReplicas,
                 errors.NotEnoughReplicasAfterAppend):
        return errors.CoordinatorNotAvailable
    if error in (errors.NotLeaderOrFollower, errors.KafkaStorageError):
        return errors.NotCoordinator
    if error is errors.RequestTimedOut and for_group:
        return errors.RebalanceInProgress
    if error in (errors.MessageTooLarge, errors.RecordListTooLarge, errors.InvalidFetchSize):
        return errors.UnknownServerError if for_group else errors.InvalidCommitOffsetSize
    return error
