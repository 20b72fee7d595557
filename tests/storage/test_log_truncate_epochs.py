"""Truncating at the log end still drops leader epochs that start there (Kafka's
Log.truncateTo): a broker that became leader and wrote nothing must not keep that epoch as its
latest once it follows, or OffsetForLeaderEpoch asks about it forever (found by make chaos)."""

from kafkalite.storage import LogConfig
from kafkalite.storage.log import Log

from .batches import append

CONFIG = LogConfig(segment_bytes=64 * 1024, index_interval_bytes=512)


def test_truncate_at_the_log_end_forgets_an_epoch_without_data(tmp_path):
    log = Log.open(tmp_path / "t-0", CONFIG)
    append(log, (3, 10), leader_epoch=4)
    end = log.log_end_offset
    assert log.assign_epoch_start_offset(6, end)    # became leader of epoch 6, wrote nothing
    assert log.latest_epoch == 6
    assert log.truncate_to(end) is False            # no data goes ...
    assert log.log_end_offset == end
    assert log.latest_epoch == 4                    # ... but the empty epoch does
    assert log.end_offset_for_epoch(4) == (4, end)
    log.close()
    assert Log.open(tmp_path / "t-0", CONFIG).latest_epoch == 4   # checkpointed
