"""Where a follower cuts its log under a new leader epoch (KIP-101/279), pure.

Kafka's ``AbstractFetcherThread.getOffsetTruncationState``. The follower asked the leader for
the end of its own latest epoch; the leader answered with the largest epoch it knows that is
not above it, and where that epoch ends in the leader's log. The follower then looks that
answered epoch up in its own cache:

- it knows it (same epoch): both logs agree up to the smaller of the two ends; cut there,
  truncation is complete;
- it knows only an older one: cut to where that older epoch ends here, and ask again (the
  follower's latest epoch is now lower);
- it has no epoch that old: keep at most what the leader has.

The comparison is with the epoch the leader *answered*, not the one asked: a follower whose
latest epoch has no data (it became leader of that epoch and wrote nothing, so the epoch
starts at its log end) would otherwise ask for that epoch forever without ever cutting
anything, and never fetch again (found by ``make chaos``).
"""

from __future__ import annotations

__all__ = ["truncation_state", "UNDEFINED_EPOCH"]

UNDEFINED_EPOCH = -1


def truncation_state(*, leader_epoch: int, leader_end_offset: int,
                     follower_epoch: int, follower_end_offset: int, log_end_offset: int,
                     high_watermark: int) -> tuple[int, bool]:
    """``(offset to truncate to, truncation complete)``.

    Args:
        leader_epoch, leader_end_offset: the leader's OffsetForLeaderEpoch answer.
        follower_epoch, follower_end_offset: the follower's own ``end_offset_for_epoch`` of
            ``leader_epoch`` (``(-1, -1)`` when it has no epoch that old).
        log_end_offset, high_watermark: the follower's.
    """
    if leader_epoch == UNDEFINED_EPOCH or leader_end_offset < 0:
        # The leader knows no epoch <= ours: keep what is committed, as before KIP-101.
        return min(high_watermark, log_end_offset), True
    if follower_epoch == UNDEFINED_EPOCH or follower_end_offset < 0:
        return min(leader_end_offset, log_end_offset), True
    if follower_epoch != leader_epoch:
        return min(follower_end_offset, log_end_offset), False
    return min(follower_end_offset, leader_end_offset, log_end_offset), True
