"""The controller context: reassignment sets, the topic znode it would write, replica states."""

import pytest

from kafkalite.controller.context import ControllerContext
from kafkalite.controller.partition_states import IllegalStateTransition
from kafkalite.controller.reassignment import ReplicaAssignment
from kafkalite.controller.replica_states import ReplicaState
from kafkalite.model import TopicPartition
from kafkalite.zk.znodes import TopicZNode

T0 = TopicPartition("t", 0)


def test_full_assignment_round_trips_through_the_topic_znode():
    ctx = ControllerContext()
    ctx.assignments["t"] = {0: (1, 2), 1: (2, 3)}
    ctx.topic_ids["t"] = "AAAAAAAAAAAAAAAAAAAAAA"
    ctx.topic_versions["t"] = 4
    ctx.set_full_assignment(T0, ReplicaAssignment((1, 2)).reassign_to((3, 2)))
    assert ctx.is_being_reassigned(T0)
    assert ctx.partitions_being_reassigned() == [T0]
    a = ctx.topic_assignment("t")
    assert a.partitions == {0: (3, 2, 1), 1: (2, 3)}
    assert a.adding == {0: (3,)} and a.removing == {0: (1,)} and a.zk_version == 4
    assert TopicZNode.decode(TopicZNode.encode_assignment(a)) == a
    ctx.set_full_assignment(T0, ReplicaAssignment((3, 2)))
    assert not ctx.is_being_reassigned(T0)
    assert ctx.topic_assignment("t").adding == {}


def test_replica_moves_follow_the_table():
    ctx = ControllerContext()
    ctx.move_replica(T0, 1, ReplicaState.NEW)
    ctx.move_replica(T0, 1, ReplicaState.ONLINE)
    with pytest.raises(IllegalStateTransition):
        ctx.move_replica(T0, 1, ReplicaState.DELETION_STARTED)
    for s in (ReplicaState.OFFLINE, ReplicaState.DELETION_STARTED,
              ReplicaState.DELETION_SUCCESSFUL, ReplicaState.NON_EXISTENT):
        ctx.move_replica(T0, 1, s)
    assert (T0, 1) not in ctx.replica_states


def test_remove_topic_forgets_everything():
    ctx = ControllerContext()
    ctx.assignments["t"] = {0: (1,)}
    ctx.adding[T0] = (1,)
    ctx.move_replica(T0, 1, ReplicaState.NEW)
    ctx.topics_to_delete.add("t")
    ctx.zk_reassignments.add(T0)
    ctx.remove_topic("t")
    assert not (ctx.assignments or ctx.adding or ctx.replica_states or ctx.topics_to_delete
                or ctx.zk_reassignments)
