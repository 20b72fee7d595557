"""Transaction markers: the key and value of the single record in a control batch (KIP-98).

A control batch has attribute bits 4 (transactional) and 5 (control) set and exactly one record::

    key   = int16 version (0) | int16 type     0 = ABORT, 1 = COMMIT (2-6: KRaft-internal)
    value = int16 version (0) | int32 coordinatorEpoch          (for ABORT / COMMIT)

The transaction coordinator has the partition leaders write them; consumers never see them
(``iter_records(skip_control=True)``) but use them to drop aborted data under read_committed.
"""

from __future__ import annotations

import enum
import struct

import attrs

from kafkalite.errors import CorruptMessage
from kafkalite.records.record import Record

__all__ = ["ControlType", "ControlRecord", "encode_control_key", "encode_control_value",
           "parse_control_record"]

_KEY = struct.Struct(">hh")
_MARKER_VALUE = struct.Struct(">hi")
_CURRENT_VERSION = 0


class ControlType(enum.IntEnum):
    ABORT = 0
    COMMIT = 1


@attrs.frozen
class ControlRecord:
    """A decoded control record; ``coordinator_epoch`` is None for non-marker types."""

    version: int
    type: int
    coordinator_epoch: int | None


def encode_control_key(control_type: int) -> bytes:
    return _KEY.pack(_CURRENT_VERSION, control_type)


def encode_control_value(coordinator_epoch: int) -> bytes:
    return _MARKER_VALUE.pack(_CURRENT_VERSION, coordinator_epoch)


def parse_control_record(record: Record) -> ControlRecord:
    """Read the marker out of a control batch's record.

    Raises:
        CorruptMessage: key shorter than 4 bytes, or a COMMIT/ABORT value shorter than 6.
    """
    if record.key is None or len(record.key) < _KEY.size:
        raise CorruptMessage("control record key is missing or shorter than 4 bytes")
    version, control_type = _KEY.unpack_from(record.key, 0)
    epoch = None
    if control_type in (ControlType.ABORT, ControlType.COMMIT):
        if record.value is None or len(record.value) < _MARKER_VALUE.size:
            raise CorruptMessage("transaction marker value is missing or shorter than 6 bytes")
        epoch = _MARKER_VALUE.unpack_from(record.value, 0)[1]
    return ControlRecord(version, control_type, epoch)
