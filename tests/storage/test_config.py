import pytest

from kafkalite.errors import ConfigError
from kafkalite.storage import LogConfig
from kafkalite.storage._batch_header import HEADER_SIZE, last_sequence, parse_header

from .batches import make_batch


def test_kafka_defaults():
    config = LogConfig()
    assert config.segment_bytes == 1073741824 and config.segment_ms == 604800000
    assert config.index_interval_bytes == 4096 and config.segment_index_bytes == 10485760
    assert config.max_message_bytes == 1048588 and config.flush_interval_messages == 2**63 - 1
    assert config.flush_interval_ms is None and config.cleanup_policy == "delete"
    assert config.message_timestamp_type == "CreateTime" and not config.log_append_time


def test_overrides_use_kafka_names():
    config = LogConfig().with_overrides({"segment.bytes": "1048576", "flush.ms": 1000,
                                         "message.timestamp.type": "LogAppendTime",
                                         "cleanup.policy": "compact, delete",
                                         "unclean.leader.election.enable": "true"})
    assert config.segment_bytes == 1048576 and config.flush_interval_ms == 1000
    assert config.log_append_time and config.cleanup_policy == "compact,delete"
    assert config.unclean_leader_election_enable
    assert LogConfig().with_overrides({"flush.ms": str(2**63 - 1)}).flush_interval_ms is None
    for bad in [{"no.such.config": "1"}, {"segment.bytes": "big"}, {"segment.bytes": "10"},
                {"cleanup.policy": "keep"}, {"unclean.leader.election.enable": "yes"}]:
        with pytest.raises(ConfigError):
            LogConfig().with_overrides(bad)
    with pytest.raises(ConfigError):
        LogConfig(message_timestamp_type="Now")


def test_batch_header_parsing():
    buf = make_batch(4, 3, base_offset=7, producer_id=5, producer_epoch=1, base_sequence=9)
    header = parse_header(buf)
    assert HEADER_SIZE == 61 and header.size == len(buf) == 64
    assert (header.base_offset, header.last_offset, header.next_offset) == (7, 10, 11)
    assert (header.producer_id, header.producer_epoch, header.base_sequence,
            header.last_sequence) == (5, 1, 9, 12)
    assert last_sequence(2**31 - 2, 3) == 1 and last_sequence(-1, 3) == -1
