"""Where a follower cuts its log under a new leader (KIP-279, Kafka's
getOffsetTruncationState)."""

from kafkalite.replication.truncation import truncation_state


def state(leader, follower, leo=100, hw=90):
    return truncation_state(leader_epoch=leader[0], leader_end_offset=leader[1],
                            follower_epoch=follower[0], follower_end_offset=follower[1],
                            log_end_offset=leo, high_watermark=hw)


def test_same_epoch_cuts_at_the_smaller_end_and_completes():
    assert state((5, 80), (5, 100)) == (80, True)
    assert state((5, 120), (5, 100)) == (100, True)


def test_the_follower_knows_the_answered_epoch_though_it_asked_a_later_one():
    # It asked about epoch 6, which it started as a leader without writing anything (its
    # start is the log end); the leader never had 6 and answers 5. The follower has 5:
    # complete, nothing to cut. (Comparing with the epoch asked looped forever.)
    assert state((5, 130), (5, 100)) == (100, True)


def test_an_epoch_the_follower_never_had_means_another_round():
    assert state((5, 130), (4, 70)) == (70, False)


def test_no_epoch_that_old_here_keeps_at_most_the_leaders_end():
    assert state((2, 50), (-1, -1)) == (50, True)


def test_a_leader_without_an_epoch_for_us_leaves_the_high_watermark():
    assert state((-1, -1), (5, 100)) == (90, True)
