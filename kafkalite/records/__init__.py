"""Record batches v2 (sans-IO): zero-copy header views, validation, decoding and building.

Modules: ``batch`` (header view, walker), ``validate`` (produce-path checks on headers only),
``record`` (decoded records), ``builder`` (encoding), ``control`` (transaction markers),
``legacy`` (magic 0/1 message sets), ``varint`` (zig-zag varints).
"""

from kafkalite.records.batch import (
    LOG_OVERHEAD,
    MAGIC_V2,
    RECORD_BATCH_OVERHEAD,
    RecordBatchView,
    iter_batches,
)
from kafkalite.records.builder import build_batch, build_control_batch
from kafkalite.records.record import Header, Record, decode_records, iter_records
from kafkalite.records.validate import validate_batches

__all__ = [
    "LOG_OVERHEAD",
    "MAGIC_V2",
    "RECORD_BATCH_OVERHEAD",
    "RecordBatchView",
    "iter_batches",
    "build_batch",
    "build_control_batch",
    "Header",
    "Record",
    "decode_records",
    "iter_records",
    "validate_batches",
]
