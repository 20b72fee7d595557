"""Body codec: registry-driven round trips, malformed input, nullable/compact/tagged forms."""

from __future__ import annotations

import os
import uuid

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from kafkalite.errors import ProtocolViolation
from kafkalite.protocol.codec import EncodeError, FileRegion, decode, encode, encode_parts
from kafkalite.protocol.messages.api_versions import ApiVersion, ApiVersionsResponse
from kafkalite.protocol.messages.fetch import (
    FetchableTopicResponse,
    FetchResponse,
    LeaderIdAndEpoch,
    PartitionData,
)
from kafkalite.protocol.messages.metadata import MetadataRequest, MetadataRequestTopic
from kafkalite.protocol.messages.produce import (
    PartitionProduceData,
    ProduceRequest,
    TopicProduceData,
)

from .values import PHASES, all_message_versions, full_instance, strategy_for

ALL = all_message_versions()
IDS = [f"{cls.__name__}-v{v}" for cls, v in ALL]


# --- round trips -------------------------------------------------------------------------------


@pytest.mark.parametrize(("cls", "version"), ALL, ids=IDS)
@settings(
    max_examples=6, deadline=None, phases=PHASES, suppress_health_check=[HealthCheck.too_slow]
)
@given(data=st.data())
def test_round_trip_generated(cls: type, version: int, data: st.DataObject) -> None:
    msg = data.draw(strategy_for(cls, version))
    raw = encode(msg, version)
    decoded = decode(cls, version, raw)
    assert decoded == msg
    assert encode(decoded, version) == raw


@pytest.mark.parametrize(("cls", "version"), ALL, ids=IDS)
def test_round_trip_full_and_every_prefix_is_truncated(cls: type, version: int) -> None:
    msg = full_instance(cls, version)
    raw = encode(msg, version)
    assert decode(cls, version, raw) == msg
    assert decode(cls, version, raw + b"trailing bytes are ignored") == msg
    # Decoding is deterministic and consumes exactly len(raw) bytes, so every proper prefix
    # must be reported as a violation (never IndexError/struct.error, never a bogus success).
    step = max(1, len(raw) // 64)
    for cut in range(0, len(raw), step):
        with pytest.raises(ProtocolViolation):
            decode(cls, version, raw[:cut])


def test_absent_fields_decode_to_defaults() -> None:
    # Fetch v3 carries no isolation level, sessions, leader epochs or rack.
    from kafkalite.protocol.messages.fetch import FetchPartition, FetchRequest, FetchTopic

    full = full_instance(FetchRequest, 12)
    decoded = decode(FetchRequest, 3, encode(full, 3))
    assert decoded.max_bytes == full.max_bytes
    assert decoded.isolation_level == 0
    assert decoded.session_epoch == -1
    assert decoded.rack_id == ""
    assert decoded.cluster_id is None
    partition = decoded.topics[0].partitions[0]
    assert isinstance(partition, FetchPartition)
    assert partition.current_leader_epoch == -1
    assert partition.log_start_offset == -1
    assert isinstance(decoded.topics, tuple) and isinstance(decoded.topics[0], FetchTopic)


# --- malformed input ---------------------------------------------------------------------------


@settings(max_examples=400, deadline=None, phases=PHASES)
@given(st.sampled_from(ALL), st.binary(max_size=120))
@example((MetadataRequest, 1), b"\x7f\xff\xff\xff")  # huge array count
@example((MetadataRequest, 9), b"\xff\xff\xff\xff\x0f")  # huge compact count
@example((ProduceRequest, 9), b"\x00" * 3 + b"\xff" * 8)
def test_garbage_never_raises_anything_but_protocol_violation(
    pair: tuple[type, int], data: bytes
) -> None:
    cls, version = pair
    try:
        decode(cls, version, data)
    except ProtocolViolation:
        pass


@settings(max_examples=300, deadline=None, phases=PHASES)
@given(st.sampled_from(ALL), st.data())
def test_mutated_encodings_never_raise_anything_but_protocol_violation(
    pair: tuple[type, int], data: st.DataObject
) -> None:
    cls, version = pair
    raw = bytearray(encode(full_instance(cls, version), version))
    if not raw:  # e.g. ListGroupsRequest v0 has no fields
        return
    for _ in range(data.draw(st.integers(1, 4))):
        raw[data.draw(st.integers(0, len(raw) - 1))] = data.draw(st.integers(0, 255))
    try:
        decode(cls, version, raw)
    except ProtocolViolation:
        pass


def test_null_where_version_forbids_it_is_a_violation() -> None:
    # Metadata v0 topics are not nullable (null = "all topics" only from v1).
    with pytest.raises(ProtocolViolation):
        decode(MetadataRequest, 0, b"\xff\xff\xff\xff")
    assert decode(MetadataRequest, 1, b"\xff\xff\xff\xff").topics is None


def test_invalid_utf8_is_a_violation() -> None:
    raw = encode(MetadataRequest(topics=(MetadataRequestTopic(name="ab"),)), 1)
    with pytest.raises(ProtocolViolation):
        decode(MetadataRequest, 1, raw.replace(b"ab", b"\xff\xfe"))


def test_version_outside_schema_is_a_local_error() -> None:
    with pytest.raises(ValueError):
        decode(MetadataRequest, 13, b"")
    with pytest.raises(ValueError):
        encode(MetadataRequest(), 13)


# --- nullable, compact and tagged forms --------------------------------------------------------


def test_classic_and_compact_null_forms() -> None:
    assert encode(MetadataRequest(topics=None), 1) == b"\xff\xff\xff\xff"
    # null topics, allow_auto_topic_creation, two include_* flags, empty tag section
    assert encode(MetadataRequest(topics=None), 9) == b"\x00\x01\x00\x00\x00"
    assert encode(MetadataRequest(topics=()), 1) == b"\x00\x00\x00\x00"
    assert encode(MetadataRequest(topics=(), allow_auto_topic_creation=False), 9)[:1] == b"\x01"
    produce = ProduceRequest(transactional_id=None, acks=1, timeout_ms=0)
    assert encode(produce, 3)[:2] == b"\xff\xff"
    assert encode(produce, 9)[:1] == b"\x00"
    assert encode(ProduceRequest(transactional_id="", acks=1), 9)[:1] == b"\x01"
    assert encode(ProduceRequest(transactional_id="t", acks=1), 3)[:3] == b"\x00\x01t"


def test_struct_ends_with_tag_section_only_in_flexible_versions() -> None:
    entry = ApiVersion(api_key=3, min_version=0, max_version=9)
    assert encode(ApiVersionsResponse(api_keys=(entry,)), 2) == bytes.fromhex(
        "0000 00000001 0003 0000 0009 00000000"
    )
    assert encode(ApiVersionsResponse(api_keys=(entry,)), 3) == bytes.fromhex(
        "0000 02 0003 0000 0009 00 00000000 00"
    )


def test_tagged_fields_written_only_when_not_default() -> None:
    plain = encode(ApiVersionsResponse(), 3)
    assert plain.endswith(b"\x00\x00\x00\x00\x00")  # throttle 0 + empty tag section
    tagged = encode(ApiVersionsResponse(finalized_features_epoch=7, zk_migration_ready=True), 3)
    # 2 tags: tag 1 (int64 = 7), tag 3 (bool true), ascending.
    assert tagged.endswith(bytes.fromhex("02 01 08 0000000000000007 03 01 01"))
    assert decode(ApiVersionsResponse, 3, tagged).finalized_features_epoch == 7


def test_unknown_tags_are_skipped_at_every_level() -> None:
    entry = ApiVersion(api_key=18, min_version=0, max_version=3)
    msg = ApiVersionsResponse(api_keys=(entry,))
    raw = encode(msg, 3)
    # Body tags: replace the final empty section with one unknown tag 9 of 3 bytes.
    with_body_tag = raw[:-1] + bytes.fromhex("01 09 03 aabbcc")
    assert decode(ApiVersionsResponse, 3, with_body_tag) == msg
    # Element tags: the ApiVersion entry's section is the byte after its 6 bytes.
    i = raw.index(bytes.fromhex("0012 0000 0003")) + 6
    with_elem_tag = raw[:i] + bytes.fromhex("02 05 00 07 01 ff") + raw[i + 1 :]
    assert decode(ApiVersionsResponse, 3, with_elem_tag) == msg


def test_tagged_struct_field_in_fetch_response() -> None:
    partition = PartitionData(
        partition_index=0,
        high_watermark=10,
        current_leader=LeaderIdAndEpoch(leader_id=2, leader_epoch=5),
    )
    msg = FetchResponse(responses=(FetchableTopicResponse(topic="t", partitions=(partition,)),))
    decoded = decode(FetchResponse, 12, encode(msg, 12))
    assert decoded.responses[0].partitions[0].current_leader == LeaderIdAndEpoch(
        leader_id=2, leader_epoch=5
    )
    assert decoded.responses[0].partitions[0].diverging_epoch.epoch == -1


# --- records: zero-copy decode, file regions on encode -----------------------------------------


def _produce(records) -> ProduceRequest:
    return ProduceRequest(
        acks=-1,
        timeout_ms=1000,
        topic_data=(
            TopicProduceData(
                name="t", partition_data=(PartitionProduceData(index=0, records=records),)
            ),
        ),
    )


@pytest.mark.parametrize("version", [3, 9])
def test_records_decode_as_writable_view_of_the_frame(version: int) -> None:
    frame = bytearray(encode(_produce(b"BATCH-BYTES"), version))
    records = decode(ProduceRequest, version, frame).topic_data[0].partition_data[0].records
    assert isinstance(records, memoryview) and not records.readonly
    assert records == b"BATCH-BYTES"
    records[0:5] = b"PATCH"  # the broker patches offsets in place: it lands in the frame
    assert b"PATCH-BYTES" in frame
    assert (
        decode(ProduceRequest, version, bytes(frame))
        .topic_data[0]
        .partition_data[0]
        .records.readonly
    )


def test_records_accept_bytes_likes_and_lists() -> None:
    whole = encode(_produce(b"abcdef"), 9)
    assert encode(_produce(bytearray(b"abcdef")), 9) == whole
    assert encode(_produce(memoryview(b"abcdef")), 9) == whole
    assert encode(_produce([b"ab", memoryview(b"cd"), bytearray(b"ef")]), 9) == whole
    assert (
        decode(ProduceRequest, 9, encode(_produce(None), 9))
        .topic_data[0]
        .partition_data[0]
        .records
        is None
    )


@pytest.mark.parametrize("version", [4, 12])
def test_file_regions_become_separate_parts(tmp_path, version: int) -> None:
    path = tmp_path / "segment.log"
    path.write_bytes(b"0123456789" * 10)
    fd = os.open(path, os.O_RDONLY)
    try:
        region = FileRegion(fd=fd, offset=20, size=30)

        def response(records):
            parts = (
                PartitionData(partition_index=0, high_watermark=5, records=records),
                PartitionData(partition_index=1, high_watermark=6, records=b"tail"),
            )
            return FetchResponse(responses=(FetchableTopicResponse(topic="t", partitions=parts),))

        parts = encode_parts(response([b"head", region]), version)
        assert [type(p) for p in parts] == [bytes, FileRegion, bytes]
        assert parts[1] == region
        inline = encode(response(b"head" + (b"0123456789" * 10)[20:50]), version)
        assert (
            b"".join(
                os.pread(fd, p.size, p.offset) if isinstance(p, FileRegion) else p for p in parts
            )
            == inline
        )
        assert encode(response([b"head", region]), version) == inline
        assert len(encode_parts(response(b"x"), version)) == 1
    finally:
        os.close(fd)


# --- encoding mistakes are local errors ---------------------------------------------------------


def test_encode_errors_name_the_field() -> None:
    with pytest.raises(EncodeError, match="TopicProduceData.name"):
        encode(ProduceRequest(topic_data=(TopicProduceData(name=None),)), 3)
    with pytest.raises(EncodeError, match="acks"):
        encode(ProduceRequest(acks=2**20), 3)
    with pytest.raises(EncodeError):
        encode(MetadataRequest(topics=None), 0)
    with pytest.raises(EncodeError):
        encode(MetadataRequest(topics=(MetadataRequestTopic(topic_id=b"x" * 16, name="a"),)), 10)


def test_uuid_fields() -> None:
    topic_id = uuid.uuid4()
    msg = MetadataRequest(topics=(MetadataRequestTopic(topic_id=topic_id, name=None),))
    assert decode(MetadataRequest, 12, encode(msg, 12)).topics[0].topic_id == topic_id
