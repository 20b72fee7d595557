"""Replicas in a failed log dir (KIP-112): offline although their broker lives, never elected,
and reported offline in UpdateMetadata."""

from kafkalite.controller.election import offline_partition_leader
from kafkalite.controller.requests import update_metadata_requests

from .test_requests import T0, T1, context


def test_a_replica_in_a_failed_log_dir_is_offline_and_not_eligible():
    ctx = context()
    ctx.replicas_on_offline_dirs[0] = {T0}
    assert not ctx.replica_online(T0, 0) and ctx.replica_online(T1, 0)
    assert ctx.replica_online(T0, 1) and not ctx.replica_online(T0, 2)   # 2 is dead
    assert ctx.eligible_ids(T0) == {1} and ctx.eligible_ids(T1) == {0, 1}
    # leader 0 of t-0 lost its log dir: the clean election picks 1, the ISR drops 0
    assert offline_partition_leader(ctx.replicas(T0), ctx.leadership[T0].isr,
                                    ctx.eligible_ids(T0), unclean=False) == (1, (1,), False)


def test_update_metadata_lists_replicas_in_failed_log_dirs_as_offline():
    ctx = context()
    ctx.replicas_on_offline_dirs[1] = {T0}
    req = update_metadata_requests(ctx, [0], [T0, T1], controller_id=0)[0]
    by_p = {s.partition_index: s for s in req.topic_states[0].partition_states}
    assert by_p[0].offline_replicas == (1, 2)
    assert by_p[1].offline_replicas == (2,)
