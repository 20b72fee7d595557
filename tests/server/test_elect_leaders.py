"""The ElectLeaders handler's translation between the wire and the controller's contract.

The controller is a small stand-in here (what it decides is the controller's own business and
is exercised against real brokers in integration/test_admin_partitions.py); the metadata cache
is the real one, updated the way UpdateMetadata does, and trio's autojump clock makes the
waits instant.
"""

from __future__ import annotations

import pytest
import trio
import trio.testing

from kafkalite import errors
from kafkalite.model import BrokerEndpoint, BrokerInfo, TopicPartition
from kafkalite.protocol.api_keys import ApiKey
from kafkalite.protocol.codec import decode, encode
from kafkalite.protocol.header import RequestHeader
from kafkalite.protocol.messages.elect_leaders import (
    ElectLeadersRequest, ElectLeadersResponse, TopicPartitions)
from kafkalite.server.dispatch import RequestContext
from kafkalite.server.handlers.elect_leaders import handle_elect_leaders
from kafkalite.server.metadata_cache import MetadataCache, PartitionMetadata

T0, T1, T2 = (TopicPartition("t", p) for p in range(3))


class StandInController:
    """Answers elect_leaders from a table; an elected partition's new leader reaches the
    metadata cache ``publish_after`` seconds later (None: never)."""

    def __init__(self, broker, outcomes, publish_after: float | None = 0.0):
        self.broker = broker
        self.outcomes = outcomes
        self.publish_after = publish_after
        self.calls = []

    async def elect_leaders(self, election_type, partitions):
        self.calls.append((election_type, None if partitions is None else list(partitions)))
        wanted = partitions if partitions is not None else list(self.outcomes)
        result = {tp: self.outcomes[tp] for tp in wanted if tp in self.outcomes}
        elected = [tp for tp, (error, _) in result.items() if error is None]
        if elected and self.publish_after is not None:
            self.broker.nursery.start_soon(self._publish, elected)
        return result

    async def _publish(self, tps):
        await trio.sleep(self.publish_after)
        self.broker.set_leaders({tp: self.broker.metadata.partition(tp).replicas[0]
                                 for tp in tps})


class Broker:
    """What the handler uses of a broker: controller, metadata cache and its change event."""

    def __init__(self, nursery):
        self.nursery = nursery
        self.controller = None
        self.metadata = MetadataCache()
        self._changed = trio.Event()
        self.metadata.brokers = {
            b: BrokerInfo(b, (BrokerEndpoint("PLAINTEXT", "127.0.0.1", 9092 + b),))
            for b in (0, 1, 2)}
        # t-0, t-1: led by their second replica; t-2: by its preferred one.
        for tp, leader in ((T0, 1), (T1, 2), (T2, 2)):
            replicas = tuple((tp.partition + i) % 3 for i in range(3))
            self.metadata.topics.setdefault("t", {})[tp.partition] = PartitionMetadata(
                leader=leader, leader_epoch=1, isr=replicas, replicas=replicas)

    def set_leaders(self, leaders):
        for tp, leader in leaders.items():
            old = self.metadata.partition(tp)
            self.metadata.topics[tp.topic][tp.partition] = PartitionMetadata(
                leader=leader, leader_epoch=old.leader_epoch + 1, isr=old.isr,
                replicas=old.replicas)
        self._changed.set()
        self._changed = trio.Event()

    async def wait_metadata_change(self):
        await self._changed.wait()


def run(test, *, version=2, outcomes=None, controller=True, publish_after=0.0):
    """Run ``test(broker, call)`` where ``call(request)`` goes through the handler."""

    async def main():
        async with trio.open_nursery() as nursery:
            broker = Broker(nursery)
            if controller:
                broker.controller = StandInController(broker, outcomes or {}, publish_after)

            async def call(request):
                ctx = RequestContext(broker, RequestHeader(ApiKey.ELECT_LEADERS, version, 1, "c"),
                                     None)
                response = await handle_elect_leaders(ctx, request)
                # what the client sees: the response survives the wire at this version
                return decode(ElectLeadersResponse, version, encode(response, version))

            await test(broker, call)
            nursery.cancel_scope.cancel()

    trio.run(main, clock=trio.testing.MockClock(autojump_threshold=0))


def request(partitions, election_type=0, timeout_ms=30_000):
    topics = None
    if partitions is not None:
        by_topic = {}
        for tp in partitions:
            by_topic.setdefault(tp.topic, []).append(tp.partition)
        topics = tuple(TopicPartitions(topic=t, partitions=tuple(ps))
                       for t, ps in by_topic.items())
    return ElectLeadersRequest(election_type=election_type, topic_partitions=topics,
                               timeout_ms=timeout_ms)


def results(response):
    return {TopicPartition(r.topic, p.partition_id): (p.error_code, p.error_message)
            for r in response.replica_election_results for p in r.partition_result}


OUTCOMES = {
    T0: (None, None),
    T1: (errors.PreferredLeaderNotAvailable, "Failed to elect leader for partition t-1"),
    T2: (errors.ElectionNotNeeded, None),
}


def test_explicit_partitions_all_answered_and_elected_leader_awaited():
    async def test(broker, call):
        start = trio.current_time()
        response = await call(request([T0, T1, T2, T0]))
        assert broker.controller.calls == [(0, [T0, T1, T2])]   # deduplicated
        assert response.error_code == 0
        assert results(response) == {
            T0: (0, None),
            T1: (80, "Failed to elect leader for partition t-1"),
            T2: (84, "Leader election not needed for topic partition."),
        }
        # answered only once the metadata showed broker 0 leading t-0
        assert trio.current_time() - start == pytest.approx(2.0)
        assert broker.metadata.partition(T0).leader == 0

    run(test, outcomes=OUTCOMES, publish_after=2.0)


def test_all_partitions_leave_out_election_not_needed():
    async def test(broker, call):
        response = await call(request(None))
        assert broker.controller.calls == [(0, None)]
        assert set(results(response)) == {T0, T1}

    run(test, outcomes=OUTCOMES)


def test_timeout_waiting_for_the_new_leader():
    async def test(broker, call):
        response = await call(request([T0], timeout_ms=5000))
        assert results(response) == {T0: (errors.RequestTimedOut.code, "The request timed out.")}

    run(test, outcomes={T0: (None, None)}, publish_after=None)


def test_partition_missing_from_the_controllers_answer():
    async def test(broker, call):
        response = await call(request([TopicPartition("nope", 0)]))
        assert results(response) == {TopicPartition("nope", 0): (3,
                                                                  "The partition does not exist.")}

    run(test, outcomes={})


def test_unclean_election_type_is_passed_and_v0_means_preferred():
    async def unclean(broker, call):
        await call(request([T2], election_type=1))
        assert broker.controller.calls == [(1, [T2])]

    run(unclean, outcomes={T2: (errors.ElectionNotNeeded, None)})

    async def v0(broker, call):
        response = await call(request([T2], election_type=1))
        assert broker.controller.calls == [(0, [T2])]
        assert results(response) == {T2: (84, "Leader election not needed for topic partition.")}

    run(v0, version=0, outcomes={T2: (errors.ElectionNotNeeded, None)})


@pytest.mark.parametrize("version", [0, 1, 2])
def test_not_controller_per_partition(version):
    async def test(broker, call):
        explicit = await call(request([T1]))
        assert results(explicit) == {T1: (41, "This is not the correct controller for this "
                                              "cluster.")}
        everything = await call(request(None))
        assert set(results(everything)) == {T0, T1, T2}
        assert {code for code, _ in results(everything).values()} == {41}
        assert everything.error_code == 0

    run(test, version=version, controller=False)


def test_unknown_election_type_is_an_invalid_request():
    async def test(broker, call):
        response = await call(request([T0], election_type=7))
        assert response.error_code == errors.InvalidRequest.code
        assert results(response) == {T0: (42, "Unknown election type 7")}
        assert broker.controller.calls == []

    run(test, outcomes=OUTCOMES)


def test_unclean_wait_needs_a_live_leader():
    async def test(broker, call):
        broker.set_leaders({T0: 7})   # a leader that is not a live broker
        start = trio.current_time()

        async def publish():
            await trio.sleep(1)
            broker.set_leaders({T0: 2})
        broker.nursery.start_soon(publish)
        response = await call(request([T0], election_type=1))
        assert results(response) == {T0: (0, None)}
        assert trio.current_time() - start == pytest.approx(1.0)

    run(test, outcomes={T0: (None, None)}, publish_after=None)



@pytest.mark.parametrize("version", [0, 1, 2])
def test_request_level_error_response(version):
    from kafkalite.server.handlers.elect_leaders import _error_response

    response = _error_response(request([T0, T1]), version,
                               errors.NotController("controller moved"))
    wire = decode(ElectLeadersResponse, version, encode(response, version))
    assert results(wire) == {T0: (41, "controller moved"), T1: (41, "controller moved")}
    assert wire.error_code == (41 if version >= 1 else 0)
    assert results(_error_response(request(None), version, errors.NotController())) == {}
