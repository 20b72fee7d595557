"""L2 storage: Kafka's on-disk log layout (segments, indexes, checkpoints, log manager).

Synchronous file I/O only; time comes in as ``now_ms`` arguments. See ``log.py`` for the
partition log, ``segment.py``/``index.py`` for file formats, ``manager.py`` for log dirs.
"""

from kafkalite.storage.checkpoint import (
    CorruptCheckpoint, read_checkpoint, read_meta_properties, write_checkpoint,
    write_meta_properties,
)
from kafkalite.storage.config import LogConfig
from kafkalite.storage.index import CorruptIndex, OffsetIndex, TimeIndex
from kafkalite.storage.log import (
    AppendInfo, FetchDataInfo, Log, UnexpectedAppendOffset, parse_topic_partition,
)
from kafkalite.storage.manager import LogManager
from kafkalite.storage.producer_state import Duplicate, ProducerStateManager
from kafkalite.storage.segment import LogSegment

__all__ = [
    "AppendInfo", "CorruptCheckpoint", "CorruptIndex", "Duplicate", "FetchDataInfo", "Log",
    "LogConfig", "LogManager", "LogSegment", "OffsetIndex", "ProducerStateManager", "TimeIndex",
    "UnexpectedAppendOffset", "parse_topic_partition", "read_checkpoint", "read_meta_properties",
    "write_checkpoint", "write_meta_properties",
]
