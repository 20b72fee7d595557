"""CreatePartitions (key 37), v0–3 (flexible from 2): add partitions to existing topics.

v1 is v0 again; v3 may answer THROTTLING_QUOTA_EXCEEDED (KIP-599), which we never do.

Only the controller adds partitions (NOT_CONTROLLER elsewhere, as ZooKeeper-mode Kafka). The
new replicas are decided here (Kafka's AdminZkClient rule, ``zk/assignment.py``) and written
into ``/brokers/topics/<t>`` with a CAS; the controller's data watch on that znode creates the
partitions, elects their leaders and sends the metadata. Like CreateTopics, the answer waits
(up to TimeoutMs) until this broker's metadata shows a leader for every new partition, so a
client can produce to them as soon as the call returns.

Per-topic checks and messages are Kafka's (``ZkAdminManager.createPartitions``): unknown topic,
topic queued for deletion (INVALID_TOPIC_EXCEPTION), reassignment in progress, a count that
is not an increase (INVALID_PARTITIONS), explicit assignments naming unknown brokers, of the
wrong number, with duplicates or another replication factor (INVALID_REPLICA_ASSIGNMENT).

Authorization: Alter on each topic, else TOPIC_AUTHORIZATION_FAILED (Kafka 2.8).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Collection, Sequence

from kafkalite import errors
from kafkalite.errors import KafkaError
from kafkalite.model import validate_topic_name
from kafkalite.protocol.api_keys import ApiKey
from kafkalite.protocol.messages.create_partitions import (
    CreatePartitionsResponse, CreatePartitionsTopicResult)
from kafkalite.server import authorization as authz
from kafkalite.server.authorization import AclOperation, ResourceType
from kafkalite.server.dispatch import handler
from kafkalite.server.topic_admin import wait_for_metadata
from kafkalite.zk.assignment import assign_new_partitions
from kafkalite.zk.errors import BadVersionError
from kafkalite.zk.znodes import TopicAssignment

__all__ = ["plan_new_partitions"]

# The assignment znode changed between our read and our CAS (another admin, a reassignment):
# read it again and decide afresh, a few times.
_CAS_ATTEMPTS = 5


def plan_new_partitions(topic: str, current: TopicAssignment | None, brokers: Collection[int],
                        count: int, assignments: Sequence[Sequence[int]] | None
                        ) -> dict[int, list[int]]:
    """Replicas of the partitions that growing ``topic`` to ``count`` adds.

    Args:
        current: the topic's assignment znode, None if the topic does not exist.
        brokers: registered broker ids.
        count: the requested total number of partitions.
        assignments: the request's explicit replica lists for the new partitions, in order.

    Raises:
        UnknownTopicOrPartition, ReassignmentInProgress, InvalidPartitions,
        InvalidReplicaAssignment, InvalidReplicationFactor: with Kafka's messages.
    """
    if current is None or not current.partitions:
        raise errors.UnknownTopicOrPartition(f"The topic '{topic}' does not exist.")
    if current.adding or current.removing:
        raise errors.ReassignmentInProgress(
            f"A partition reassignment is in progress for the topic '{topic}'.")
    existing = len(current.partitions)
    increment = count - existing
    if increment < 0:
        raise errors.InvalidPartitions(f"Topic currently has {existing} partitions, which is "
                                       f"higher than the requested {count}.")
    if increment == 0:
        raise errors.InvalidPartitions(f"Topic already has {existing} partitions.")
    proposed = None
    if assignments is not None:
        unknown = {b for replicas in assignments for b in replicas} - set(brokers)
        if unknown:
            raise errors.InvalidReplicaAssignment(
                f"Unknown broker(s) in replica assignment: "
                f"{', '.join(map(str, sorted(unknown)))}.")
        if len(assignments) != increment:
            raise errors.InvalidReplicaAssignment(
                f"Increasing the number of partitions by {increment} but {len(assignments)} "
                f"assignments provided.")
        proposed = {existing + i: list(replicas) for i, replicas in enumerate(assignments)}
    return assign_new_partitions(topic, current.partitions, sorted(brokers), count, proposed)


def _result(name: str, error: type[KafkaError] | None = None,
            message: str | None = None) -> CreatePartitionsTopicResult:
    return CreatePartitionsTopicResult(
        name=name, error_code=error.code if error else 0,
        error_message=(message or error.default_message()) if error else None)


async def _add_partitions(broker, name: str, count: int,
                          assignments: Sequence[Sequence[int]] | None,
                          validate_only: bool) -> dict[int, list[int]]:
    for attempt in range(_CAS_ATTEMPTS):
        current = await broker.zk.get_topic_assignment(name)
        brokers = [b.broker_id for b in await broker.zk.get_all_brokers()]
        added = plan_new_partitions(name, current, brokers, count, assignments)
        if validate_only:
            return added
        try:
            await broker.zk.add_partitions(name, added, expected_version=current.zk_version)
            return added
        except BadVersionError:
            if attempt == _CAS_ATTEMPTS - 1:
                raise errors.UnknownServerError(
                    f"The assignment of topic '{name}' kept changing while partitions were "
                    "being added; try again.") from None
    raise AssertionError("unreachable")


def _error_response(req, _version: int, error: KafkaError) -> CreatePartitionsResponse:
    """A request-level failure (e.g. the controller resigned meanwhile): every topic gets it."""
    names = dict.fromkeys(t.name for t in req.topics)
    return CreatePartitionsResponse(throttle_time_ms=0, results=tuple(
        _result(name, type(error), error.message) for name in names))


@handler(ApiKey.CREATE_PARTITIONS, versions=(0, 3), error_response=_error_response)
async def handle_create_partitions(ctx, req):
    broker = ctx.broker
    results: dict[str, CreatePartitionsTopicResult] = {}
    waiting: dict[str, int] = {}
    times_named = Counter(t.name for t in req.topics)
    deleting: set[str] | None = None
    for t in req.topics:
        if t.name in results:
            continue
        if times_named[t.name] > 1:
            results[t.name] = _result(t.name, errors.InvalidRequest, "Duplicate topic in request.")
            continue
        if broker.controller is None:
            results[t.name] = _result(t.name, errors.NotController)
            continue
        if not authz.authorize(ctx, AclOperation.ALTER, ResourceType.TOPIC, t.name):
            results[t.name] = _result(t.name, errors.TopicAuthorizationFailed,
                                      "The topic authorization is failed.")
            continue
        if validate_topic_name(t.name):   # no such topic can exist (nor a ZooKeeper path)
            results[t.name] = _result(t.name, errors.UnknownTopicOrPartition,
                                      f"The topic '{t.name}' does not exist.")
            continue
        if deleting is None:
            deleting = set(await broker.zk.get_topics_marked_for_deletion())
        if t.name in deleting:
            results[t.name] = _result(t.name, errors.InvalidTopicException,
                                      "The topic is queued for deletion.")
            continue
        assignments = None if t.assignments is None else \
            [tuple(a.broker_ids) for a in t.assignments]
        try:
            await _add_partitions(broker, t.name, t.count, assignments, bool(req.validate_only))
        except KafkaError as e:
            results[t.name] = _result(t.name, type(e), str(e))
            continue
        results[t.name] = _result(t.name)
        if not req.validate_only:
            waiting[t.name] = t.count
    if waiting:
        for name in await wait_for_metadata(broker, waiting, req.timeout_ms):
            results[name] = _result(name, errors.RequestTimedOut,
                                    "Timed out waiting for the new partitions to get leaders")
    return CreatePartitionsResponse(throttle_time_ms=0, results=tuple(results.values()))
