"""AlterPartitionReassignments / ListPartitionReassignments handlers: request-shape checks,
NOT_CONTROLLER, and how the controller's answers become the response (encoded on the wire).

The controller here is a small recording stand-in with the contract's two methods; the real
controller's decisions are covered by the integration tests.
"""

from types import SimpleNamespace

import trio

from kafkalite import errors
from kafkalite.model import TopicPartition
from kafkalite.protocol.api_keys import ApiKey
from kafkalite.protocol.codec import decode, encode
from kafkalite.protocol.header import RequestHeader
from kafkalite.protocol.messages.alter_partition_reassignments import (
    AlterPartitionReassignmentsRequest, AlterPartitionReassignmentsResponse,
    ReassignablePartition, ReassignableTopic)
from kafkalite.protocol.messages.list_partition_reassignments import (
    ListPartitionReassignmentsRequest, ListPartitionReassignmentsResponse,
    ListPartitionReassignmentsTopics)
from kafkalite.server.dispatch import RequestContext
from kafkalite.server.handlers.alter_partition_reassignments import (
    handle_alter_partition_reassignments)
from kafkalite.server.handlers.list_partition_reassignments import (
    handle_list_partition_reassignments)


class RecordingController:
    def __init__(self, decisions=None, ongoing=None):
        self.decisions = decisions or {}
        self.ongoing = ongoing or {}
        self.altered = []
        self.listed = []

    async def alter_reassignments(self, changes):
        self.altered.append(dict(changes))
        return {tp: self.decisions.get(tp, (None, None)) for tp in changes}

    def list_reassignments(self, partitions):
        self.listed.append(partitions)
        return {tp: v for tp, v in self.ongoing.items()
                if partitions is None or tp in partitions}


def _ctx(controller, api_key):
    return RequestContext(SimpleNamespace(controller=controller),
                          RequestHeader(api_key, 0, 1, "test"), None)


def _wire(response):
    return decode(type(response), 0, encode(response, 0))


def _alter(controller, topics):
    req = AlterPartitionReassignmentsRequest(timeout_ms=1000, topics=tuple(
        ReassignableTopic(name=name, partitions=tuple(
            ReassignablePartition(partition_index=p, replicas=r) for p, r in parts))
        for name, parts in topics))
    response = trio.run(handle_alter_partition_reassignments,
                        _ctx(controller, ApiKey.ALTER_PARTITION_REASSIGNMENTS), req)
    assert isinstance(response, AlterPartitionReassignmentsResponse)
    return _wire(response)


def _results(response):
    return {(t.name, p.partition_index): (p.error_code, p.error_message)
            for t in response.responses for p in t.partitions}


def test_alter_on_a_broker_that_is_not_the_controller():
    response = _alter(None, [("t", [(0, (1, 2))])])
    assert response.error_code == errors.NotController.code
    assert response.error_message == errors.NotController.default_message()
    assert response.responses == ()


def test_alter_passes_valid_changes_and_cancellations_to_the_controller():
    controller = RecordingController(decisions={
        TopicPartition("t", 1): (errors.UnknownTopicOrPartition, None),
        TopicPartition("u", 0): (errors.NoReassignmentInProgress, "nothing to cancel"),
    })
    response = _alter(controller, [("t", [(0, (2, 1)), (1, (1,))]), ("u", [(0, None)])])
    assert controller.altered == [{TopicPartition("t", 0): (2, 1), TopicPartition("t", 1): (1,),
                                   TopicPartition("u", 0): None}]
    assert response.error_code == 0
    assert _results(response) == {
        ("t", 0): (0, None),
        ("t", 1): (errors.UnknownTopicOrPartition.code,
                   errors.UnknownTopicOrPartition.default_message()),
        ("u", 0): (errors.NoReassignmentInProgress.code, "nothing to cancel"),
    }


def test_alter_rejects_bad_shapes_per_partition_and_runs_the_rest():
    controller = RecordingController()
    response = _alter(controller, [
        ("t", [(0, ()), (1, (1, 1)), (2, (1, -3)), (3, (0, 1)), (4, (1,)), (4, (2,))]),
    ])
    assert controller.altered == [{TopicPartition("t", 3): (0, 1)}]
    results = _results(response)
    invalid = errors.InvalidReplicaAssignment.code
    assert results[("t", 0)] == (invalid, "Empty replica list specified in partition "
                                          "reassignment.")
    assert results[("t", 1)][0] == invalid and "Duplicate replica ids" in results[("t", 1)][1]
    assert results[("t", 2)][0] == invalid and "Invalid broker id" in results[("t", 2)][1]
    assert results[("t", 3)] == (0, None)
    assert results[("t", 4)][0] == invalid and "more than once" in results[("t", 4)][1]
    # A partition named twice is answered once.
    assert [p.partition_index for p in response.responses[0].partitions] == [0, 1, 2, 3, 4]


def test_alter_with_only_bad_partitions_does_not_call_the_controller():
    controller = RecordingController()
    response = _alter(controller, [("t", [(0, ())])])
    assert controller.altered == []
    assert _results(response) == {("t", 0): (errors.InvalidReplicaAssignment.code,
                                             "Empty replica list specified in partition "
                                             "reassignment.")}


def _list(controller, topics):
    req = ListPartitionReassignmentsRequest(timeout_ms=1000, topics=None if topics is None else
                                            tuple(ListPartitionReassignmentsTopics(
                                                name=n, partition_indexes=tuple(ps))
                                                for n, ps in topics))
    response = trio.run(handle_list_partition_reassignments,
                        _ctx(controller, ApiKey.LIST_PARTITION_REASSIGNMENTS), req)
    assert isinstance(response, ListPartitionReassignmentsResponse)
    return _wire(response)


def test_list_on_a_broker_that_is_not_the_controller():
    response = _list(None, None)
    assert response.error_code == errors.NotController.code and response.topics == ()


def test_list_returns_ongoing_reassignments_grouped_by_topic():
    ongoing = {TopicPartition("t", 1): ((1, 2, 0), (2,), (0,)),
               TopicPartition("t", 0): ((2, 0), (2,), (0,)),
               TopicPartition("a", 3): ((5, 6), (), ())}
    controller = RecordingController(ongoing=ongoing)
    response = _list(controller, None)
    assert controller.listed == [None]
    assert response.error_code == 0
    assert [(t.name, [(p.partition_index, p.replicas, p.adding_replicas, p.removing_replicas)
                      for p in t.partitions]) for t in response.topics] == [
        ("a", [(3, (5, 6), (), ())]),
        ("t", [(0, (2, 0), (2,), (0,)), (1, (1, 2, 0), (2,), (0,))]),
    ]
    response = _list(controller, [("t", [1, 1, 7])])
    assert controller.listed[-1] == [TopicPartition("t", 1), TopicPartition("t", 7)]
    assert [(t.name, [p.partition_index for p in t.partitions]) for t in response.topics] == [
        ("t", [1])]
