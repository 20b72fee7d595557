"""ElectLeaders (key 43), v0–2 (flexible from 2): preferred or unclean leader election.

v0 was ElectPreferredLeaders (no election type: always preferred); v1 adds the election type
and a top-level error code (KIP-460). The decision is the controller's
(``ControllerService.elect_leaders``, run in its event queue); this module translates the
request into that call and its per-partition outcomes back into the response, as Kafka's
KafkaApis/ReplicaManager.electLeaders do:

* a broker that is not the controller answers NOT_CONTROLLER for every partition (for a null
  partition list: every partition it knows), with top-level error NONE — the admin client
  sees the per-partition code, refreshes its metadata and retries on the controller;
* a null partition list means every partition, and then partitions that needed no election
  (ELECTION_NOT_NEEDED) are left out of the answer; partitions named explicitly always get an
  entry;
* a successful election is answered once this broker's metadata shows the new leader, or with
  REQUEST_TIMED_OUT after TimeoutMs (Kafka's DelayedElectLeader).

Authorization: Alter on the cluster, else CLUSTER_AUTHORIZATION_FAILED at the top level and
for every named partition (Kafka 2.8).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

import trio

from kafkalite import errors
from kafkalite.errors import KafkaError
from kafkalite.model import TopicPartition
from kafkalite.protocol.api_keys import ApiKey
from kafkalite.protocol.messages.elect_leaders import (
    ElectLeadersResponse, PartitionResult, ReplicaElectionResult)
from kafkalite.server import authorization as authz
from kafkalite.server.authorization import AclOperation
from kafkalite.server.dispatch import handler

__all__ = ["PREFERRED", "UNCLEAN", "ELECTION_TYPES"]

PREFERRED = 0
UNCLEAN = 1
ELECTION_TYPES = {PREFERRED: "PREFERRED", UNCLEAN: "UNCLEAN"}

Outcome = tuple[type[KafkaError] | None, str | None]


def _requested(req) -> list[TopicPartition] | None:
    if req.topic_partitions is None:
        return None
    # The request is a set in Kafka: a partition named twice is elected (and answered) once.
    return list(dict.fromkeys(TopicPartition(t.topic, p)
                              for t in req.topic_partitions for p in t.partitions))


def _leader_in_place(broker, tp: TopicPartition, election_type: int) -> bool:
    meta = broker.metadata.partition(tp)
    if meta is None or meta.leader < 0:
        return False
    if election_type == PREFERRED:
        return bool(meta.replicas) and meta.leader == meta.replicas[0]
    return broker.metadata.alive(meta.leader)


async def _wait_for_leaders(broker, tps: Iterable[TopicPartition], election_type: int,
                            timeout_ms: int) -> set[TopicPartition]:
    """Wait until the metadata shows the elected leaders; returns the partitions still late."""
    pending = set(tps)
    with trio.move_on_after(max(timeout_ms, 0) / 1000):
        while True:
            pending = {tp for tp in pending if not _leader_in_place(broker, tp, election_type)}
            if not pending:
                break
            await broker.wait_metadata_change()
    return pending


def _response(order: Iterable[TopicPartition], outcomes: Mapping[TopicPartition, Outcome],
              top_error: type[KafkaError] | None = None) -> ElectLeadersResponse:
    topics: dict[str, list[PartitionResult]] = {}
    for tp in order:
        error, message = outcomes[tp]
        topics.setdefault(tp.topic, []).append(PartitionResult(
            partition_id=tp.partition, error_code=error.code if error else 0,
            error_message=(message or error.default_message()) if error else None))
    return ElectLeadersResponse(
        throttle_time_ms=0, error_code=top_error.code if top_error else 0,
        replica_election_results=tuple(ReplicaElectionResult(topic=t, partition_result=tuple(ps))
                                       for t, ps in topics.items()))


def _error_response(req, _version: int, error: KafkaError) -> ElectLeadersResponse:
    """A request-level failure: the top-level code (v1+) and every named partition get it."""
    tps = _requested(req) or []
    outcome = (type(error), error.message)
    return _response(tps, dict.fromkeys(tps, outcome), type(error))


@handler(ApiKey.ELECT_LEADERS, versions=(0, 2), error_response=_error_response)
async def handle_elect_leaders(ctx, req):
    authz.require_cluster(ctx, AclOperation.ALTER)
    broker = ctx.broker
    election_type = req.election_type if ctx.api_version >= 1 else PREFERRED
    requested = _requested(req)
    controller = broker.controller
    if controller is None or election_type not in ELECTION_TYPES:
        tps = requested if requested is not None else \
            [TopicPartition(t, p) for t in sorted(broker.metadata.topics)
             for p in sorted(broker.metadata.topics[t])]
        if controller is None:
            return _response(tps, {tp: (errors.NotController, None) for tp in tps})
        message = f"Unknown election type {election_type}"
        return _response(tps, {tp: (errors.InvalidRequest, message) for tp in tps},
                         errors.InvalidRequest)
    decided: dict[TopicPartition, Outcome] = dict(
        await controller.elect_leaders(election_type, requested))
    if requested is None:
        order = sorted((tp for tp, (error, _) in decided.items()
                        if error is not errors.ElectionNotNeeded),
                       key=lambda tp: (tp.topic, tp.partition))
    else:
        order = requested
        for tp in requested:
            decided.setdefault(tp, (errors.UnknownTopicOrPartition,
                                    "The partition does not exist."))
    elected = [tp for tp in order if decided[tp][0] is None]
    if elected:
        for tp in await _wait_for_leaders(broker, elected, election_type, req.timeout_ms):
            decided[tp] = (errors.RequestTimedOut, None)
    return _response(order, decided)
