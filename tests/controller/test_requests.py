"""Controller requests built from the context: recipients, epochs, reassignment sets."""

from kafkalite.controller.context import ControllerContext, PartitionLeadership
from kafkalite.controller.requests import (leader_and_isr_requests, stop_replica_requests,
                                           update_metadata_requests)
from kafkalite.model import BrokerEndpoint, BrokerInfo, TopicPartition

T0 = TopicPartition("t", 0)
T1 = TopicPartition("t", 1)


def broker(i: int, epoch: int) -> BrokerInfo:
    return BrokerInfo(i, (BrokerEndpoint("PLAINTEXT", "127.0.0.1", 9000 + i),),
                      broker_epoch=epoch)


def context() -> ControllerContext:
    ctx = ControllerContext(epoch=7, epoch_zk_version=6)
    ctx.live_brokers = {0: broker(0, 100), 1: broker(1, 101)}   # broker 2 is dead
    ctx.assignments = {"t": {0: (0, 1, 2), 1: (2, 1)}}
    ctx.leadership = {T0: PartitionLeadership(0, 3, (0, 1), 5, 12),
                      T1: PartitionLeadership(1, 1, (1,), 7, 4)}
    return ctx


def test_leader_and_isr_goes_to_live_replicas_with_their_epoch():
    ctx = context()
    ctx.adding[T0] = (2,)
    reqs = leader_and_isr_requests(ctx, [T0, T1], controller_id=0, listener="PLAINTEXT",
                                   is_new=[T1])
    assert sorted(reqs) == [0, 1]
    r1 = reqs[1]
    assert r1.broker_epoch == 101 and r1.controller_epoch == 7
    (topic,) = r1.topic_states
    by_p = {s.partition_index: s for s in topic.partition_states}
    assert by_p[0].leader == 0 and by_p[0].leader_epoch == 3 and by_p[0].partition_epoch == 12
    assert by_p[0].adding_replicas == (2,) and by_p[0].removing_replicas == ()
    assert by_p[0].controller_epoch == 5 and not by_p[0].is_new
    assert by_p[1].is_new
    assert {l.broker_id for l in r1.live_leaders} == {0, 1}
    assert [s.partition_index for s in reqs[0].topic_states[0].partition_states] == [0]


def test_leader_and_isr_recipients_and_exclusions():
    ctx = context()
    assert sorted(leader_and_isr_requests(ctx, [T0], controller_id=0, listener="PLAINTEXT",
                                          recipients={1})) == [1]
    assert sorted(leader_and_isr_requests(ctx, [T0], controller_id=0, listener="PLAINTEXT",
                                          exclude={1})) == [0]


def test_update_metadata_marks_offline_replicas_and_deleting_topics():
    ctx = context()
    reqs = update_metadata_requests(ctx, [0, 1, 2], [T0], controller_id=0)
    assert sorted(reqs) == [0, 1]   # not to the dead broker
    (state,) = reqs[0].topic_states[0].partition_states
    assert state.leader == 0 and state.zk_version == 12 and state.offline_replicas == (2,)
    assert [b.id for b in reqs[0].live_brokers] == [0, 1]
    ctx.topics_to_delete.add("t")
    (state,) = update_metadata_requests(ctx, [0], [T0], controller_id=0)[0] \
        .topic_states[0].partition_states
    assert state.leader == -2


def test_stop_replica_skips_dead_brokers_and_marks_deletion():
    ctx = context()
    reqs = stop_replica_requests(ctx, [(T0, 0), (T0, 2), (T1, 1)], controller_id=0,
                                 delete=True)
    assert sorted(reqs) == [0, 1]
    (st,) = reqs[1].topic_states[0].partition_states
    assert st.delete_partition and st.leader_epoch == -2 and st.partition_index == 1
    (st,) = stop_replica_requests(ctx, [(T0, 0)], controller_id=0, delete=False)[0] \
        .topic_states[0].partition_states
    assert not st.delete_partition and st.leader_epoch == 3
