"""Records of __consumer_offsets, byte for byte (Kafka's GroupMetadataManager schemas)."""

import struct

from hypothesis import given
from hypothesis import strategies as st

import pytest

from kafkalite.coordinator.offsets_topic import (
    GroupMetadataKey, GroupMetadataValue, MemberMetadataValue, OffsetKey, OffsetValue,
    SchemaError, decode_group_value, decode_key, decode_offset_value, encode_group_value,
    encode_key, encode_offset_value, java_string_hash, partition_for)


def s16(text: str) -> bytes:
    data = text.encode()
    return struct.pack(">h", len(data)) + data


def test_offset_key_v1_bytes():
    assert encode_key(OffsetKey("g", "t", 3)) == b"\x00\x01" + s16("g") + s16("t") + \
        b"\x00\x00\x00\x03"
    assert decode_key(b"\x00\x00" + s16("g") + s16("t") + b"\x00\x00\x00\x03") == \
        OffsetKey("g", "t", 3)  # key v0 shares the schema


def test_group_key_v2_bytes():
    assert encode_key(GroupMetadataKey("my-group")) == b"\x00\x02" + s16("my-group")
    assert decode_key(b"\x00\x02" + s16("my-group")) == GroupMetadataKey("my-group")


def test_offset_value_v3_bytes():
    v = OffsetValue(offset=42, leader_epoch=5, metadata="m", commit_timestamp=1000)
    assert encode_offset_value(v) == (b"\x00\x03" + struct.pack(">qi", 42, 5) + s16("m")
                                      + struct.pack(">q", 1000))
    assert decode_offset_value(encode_offset_value(v)) == v
    assert decode_offset_value(None) is None  # tombstone


def test_offset_value_old_versions():
    v0 = b"\x00\x00" + struct.pack(">q", 7) + s16("x") + struct.pack(">q", 9)
    assert decode_offset_value(v0) == OffsetValue(offset=7, metadata="x", commit_timestamp=9)
    v1 = b"\x00\x01" + struct.pack(">q", 7) + s16("") + struct.pack(">qq", 9, 99)
    assert decode_offset_value(v1).expire_timestamp == 99
    explicit = OffsetValue(offset=1, commit_timestamp=2, expire_timestamp=3)
    assert encode_offset_value(explicit)[:2] == b"\x00\x01"
    assert decode_offset_value(encode_offset_value(explicit)) == explicit


def test_group_value_v3_bytes():
    member = MemberMetadataValue(member_id="c-1", group_instance_id=None, client_id="c",
                                 client_host="/127.0.0.1", rebalance_timeout=300000,
                                 session_timeout=10000, subscription=b"sub", assignment=b"as")
    v = GroupMetadataValue(protocol_type="consumer", generation=3, protocol="range",
                           leader="c-1", current_state_timestamp=123, members=(member,))
    expected = (b"\x00\x03" + s16("consumer") + struct.pack(">i", 3) + s16("range") + s16("c-1")
                + struct.pack(">q", 123) + struct.pack(">i", 1) + s16("c-1") + b"\xff\xff"
                + s16("c") + s16("/127.0.0.1") + struct.pack(">ii", 300000, 10000)
                + struct.pack(">i", 3) + b"sub" + struct.pack(">i", 2) + b"as")
    assert encode_group_value(v) == expected
    assert decode_group_value(expected) == v


def test_empty_group_value_and_v0():
    empty = GroupMetadataValue(protocol_type="consumer", generation=4, protocol=None,
                               leader=None, current_state_timestamp=5)
    assert decode_group_value(encode_group_value(empty)) == empty
    v0 = (b"\x00\x00" + s16("consumer") + struct.pack(">i", 1) + s16("range") + s16("m")
          + struct.pack(">i", 1) + s16("m") + s16("c") + s16("h") + struct.pack(">i", 6000)
          + struct.pack(">i", 0) + struct.pack(">i", 0))
    (m,) = decode_group_value(v0).members
    assert m.rebalance_timeout == m.session_timeout == 6000


def test_garbage_raises_schema_error():
    for bad in (b"\x00\x09" + s16("g"), b"\x00", b"\x00\x01" + s16("g")):
        with pytest.raises(SchemaError):
            decode_key(bad)
    with pytest.raises(SchemaError):
        decode_offset_value(b"\x00\x07")


members = st.builds(MemberMetadataValue, member_id=st.text(max_size=20),
                    group_instance_id=st.none() | st.text(max_size=10),
                    client_id=st.text(max_size=10), client_host=st.text(max_size=10),
                    rebalance_timeout=st.integers(-2**31, 2**31 - 1),
                    session_timeout=st.integers(-2**31, 2**31 - 1),
                    subscription=st.binary(max_size=30), assignment=st.binary(max_size=30))


@given(st.builds(GroupMetadataValue, protocol_type=st.text(max_size=10),
                 generation=st.integers(-2**31, 2**31 - 1), protocol=st.none() | st.text(),
                 leader=st.none() | st.text(), current_state_timestamp=st.integers(-1, 2**62),
                 members=st.lists(members, max_size=4).map(tuple)))
def test_group_value_round_trip(v):
    assert decode_group_value(encode_group_value(v)) == v


@given(st.text(max_size=30), st.text(max_size=30), st.integers(0, 2**31 - 1),
       st.integers(-2**63, 2**63 - 1), st.text(max_size=30))
def test_offset_round_trip(group, topic, partition, offset, metadata):
    assert decode_key(encode_key(OffsetKey(group, topic, partition))) == \
        OffsetKey(group, topic, partition)
    v = OffsetValue(offset=offset, metadata=metadata, commit_timestamp=1, leader_epoch=-1)
    assert decode_offset_value(encode_offset_value(v)) == v


def test_java_string_hash_code():
    # values of java.lang.String.hashCode()
    assert java_string_hash("") == 0
    assert java_string_hash("a") == 97
    assert java_string_hash("hello") == 99162322
    assert java_string_hash("Aa") == java_string_hash("BB") == 2112
    assert java_string_hash("polygenelubricants") == -2**31
    assert java_string_hash("\U0001F600") == 0xD83D * 31 + 0xDE00  # two UTF-16 units


def test_partition_for_masks_the_sign_bit():
    assert partition_for("polygenelubricants", 50) == 0
    assert partition_for("hello", 50) == 99162322 % 50
    assert partition_for("\u00ff" * 5, 50) == (java_string_hash("\u00ff" * 5) & 0x7FFFFFFF) % 50
    assert all(0 <= partition_for(f"g{i}", 7) < 7 for i in range(100))
