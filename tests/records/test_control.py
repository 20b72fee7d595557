import pytest

from kafkalite.errors import CorruptMessage
from kafkalite.records.control import (
    ControlRecord,
    ControlType,
    encode_control_key,
    encode_control_value,
    parse_control_record,
)
from kafkalite.records.record import Record


def test_marker_bytes():
    assert encode_control_key(ControlType.ABORT) == b"\x00\x00\x00\x00"
    assert encode_control_key(ControlType.COMMIT) == b"\x00\x00\x00\x01"
    assert encode_control_value(258) == b"\x00\x00\x00\x00\x01\x02"


def test_parse_commit():
    record = Record(5, 0, encode_control_key(1), encode_control_value(7))
    assert parse_control_record(record) == ControlRecord(0, ControlType.COMMIT, 7)


def test_parse_other_control_type_ignores_value():
    record = Record(5, 0, b"\x00\x00\x00\x03", None)
    assert parse_control_record(record) == ControlRecord(0, 3, None)


def test_parse_tolerates_longer_newer_versions():
    record = Record(5, 0, b"\x00\x01\x00\x00extra", b"\x00\x01\x00\x00\x00\x02more")
    assert parse_control_record(record) == ControlRecord(1, ControlType.ABORT, 2)


@pytest.mark.parametrize(("key", "value"), [
    (None, b"\x00" * 6),
    (b"\x00\x00\x00", b"\x00" * 6),
    (b"\x00\x00\x00\x01", None),
    (b"\x00\x00\x00\x01", b"\x00\x00\x00"),
])
def test_parse_malformed(key, value):
    with pytest.raises(CorruptMessage):
        parse_control_record(Record(0, 0, key, value))
