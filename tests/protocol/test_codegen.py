"""The generated codec fast paths agree with the interpreted plans, for every message and version.

``codec.py`` compiles each (struct, version) to Python source for speed; the interpreted
closures remain the reference. Encoding must give identical bytes; decoding must give equal
objects, and fail exactly where the interpreted decoder fails.
"""

from __future__ import annotations

import os

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kafkalite.errors import ProtocolViolation
from kafkalite.protocol import codec
from kafkalite.protocol.codec import EncodeError, FileRegion, encode_frame, encode_parts
from kafkalite.protocol.messages.fetch import FetchableTopicResponse, FetchResponse, PartitionData
from kafkalite.protocol.messages.heartbeat import HeartbeatResponse
from kafkalite.protocol.messages.produce import (
    PartitionProduceResponse,
    ProduceResponse,
    TopicProduceResponse,
)

from .values import PHASES, all_message_versions, full_instance, strategy_for

ALL = all_message_versions()
IDS = [f"{cls.__name__}-v{v}" for cls, v in ALL]


def _fast_decode(cls: type, version: int, data: bytes):
    """The generated decoder alone (no fallback): (ok, value or exception)."""
    try:
        return True, codec._message_fast(cls, version)[1](memoryview(data), 0)[0]
    except Exception as exc:  # noqa: BLE001 - any failure is compared below
        return False, exc


def _interpreted_decode(cls: type, version: int, data: bytes):
    try:
        return True, codec._decode_interpreted(cls, version, memoryview(data), 0)
    except ProtocolViolation as exc:
        return False, exc


def _assert_same_decoding(cls: type, version: int, data: bytes) -> None:
    fast_ok, fast = _fast_decode(cls, version, data)
    slow_ok, slow = _interpreted_decode(cls, version, data)
    assert fast_ok == slow_ok, (fast, slow)
    if fast_ok:
        assert fast == slow
        assert type(fast) is type(slow)
    else:
        # The public entry point falls back to the interpreted decoder's precise error.
        with pytest.raises(ProtocolViolation) as info:
            codec.decode(cls, version, data)
        assert str(info.value) == str(slow)


def _assert_same_encoding(msg, version: int) -> bytes:
    generated = encode_parts(msg, version)
    interpreted = codec._encode_interpreted(msg, version)
    assert generated == interpreted
    return b"".join(generated)


@pytest.mark.parametrize(("cls", "version"), ALL, ids=IDS)
@settings(max_examples=5, deadline=None, phases=PHASES,
          suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_generated_matches_interpreted(cls: type, version: int, data: st.DataObject) -> None:
    msg = data.draw(strategy_for(cls, version))
    raw = _assert_same_encoding(msg, version)
    _assert_same_decoding(cls, version, raw)


@pytest.mark.parametrize(("cls", "version"), ALL, ids=IDS)
def test_full_instances_and_their_prefixes(cls: type, version: int) -> None:
    raw = _assert_same_encoding(full_instance(cls, version), version)
    _assert_same_decoding(cls, version, raw)
    step = max(1, len(raw) // 32)
    for cut in range(0, len(raw), step):
        _assert_same_decoding(cls, version, raw[:cut])


@settings(max_examples=500, deadline=None, phases=PHASES)
@given(st.sampled_from(ALL), st.data())
def test_mutated_and_garbage_input_fails_alike(pair: tuple[type, int],
                                               data: st.DataObject) -> None:
    cls, version = pair
    raw = bytearray(codec.encode(full_instance(cls, version, seed=2), version))
    if raw and data.draw(st.booleans()):
        for _ in range(data.draw(st.integers(1, 4))):
            raw[data.draw(st.integers(0, len(raw) - 1))] = data.draw(st.integers(0, 255))
    else:
        raw = bytearray(data.draw(st.binary(max_size=80)))
    _assert_same_decoding(cls, version, bytes(raw))


def _values(obj):
    """A struct as the nested tuples encode_values takes (every field, declaration order)."""
    from kafkalite.protocol.schema import fields_of, is_struct

    if is_struct(type(obj)):
        return tuple(_values(getattr(obj, name)) for name, _ in fields_of(type(obj)))
    if isinstance(obj, (list, tuple)) and obj and is_struct(type(obj[0])):
        return [_values(item) for item in obj]
    return obj


def _has_file_region(obj) -> bool:
    return "FileRegion(" in repr(obj)


@pytest.mark.parametrize(("cls", "version"), ALL, ids=IDS)
@settings(max_examples=5, deadline=None, phases=PHASES,
          suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_values_encoder_matches_the_object_encoder(cls: type, version: int,
                                                   data: st.DataObject) -> None:
    """encode_values (tuples instead of objects) gives the object encoder's bytes, and the
    Encoded it returns reads as the equal message."""
    msg = data.draw(strategy_for(cls, version))
    if _has_file_region(msg):
        return
    try:
        expected = encode_parts(msg, version)
    except EncodeError as e:
        with pytest.raises(EncodeError) as info:
            codec.encode_values(cls, version, _values(msg))
        assert str(info.value) == str(e)
        return
    encoded = codec.encode_values(cls, version, _values(msg))
    assert [encoded.body] == expected
    assert encoded.KIND == cls.KIND and encoded.API_KEY == cls.API_KEY
    assert encoded == codec.decode(cls, version, expected[0])


@pytest.mark.parametrize(("cls", "version"), ALL, ids=IDS)
def test_values_encoder_on_full_instances(cls: type, version: int) -> None:
    msg = full_instance(cls, version)
    if not _has_file_region(msg):
        assert [codec.encode_values(cls, version, _values(msg)).body] == \
            encode_parts(msg, version)


def test_values_encode_errors_name_the_field() -> None:
    bad = ([("t", [(2**40, 0, 0, -1, -1, (), None)])], 0)
    with pytest.raises(EncodeError, match="index"):
        codec.encode_values(ProduceResponse, 8, bad)


def test_value_layout_checks_the_field_order() -> None:
    codec.value_layout(TopicProduceResponse, "name", "partition_responses")
    with pytest.raises(TypeError):
        codec.value_layout(TopicProduceResponse, "partition_responses", "name")


def _produce_response(partition: PartitionProduceResponse) -> ProduceResponse:
    return ProduceResponse(responses=[TopicProduceResponse(name="t",
                                                           partition_responses=[partition])])


def test_encode_errors_are_the_interpreted_ones() -> None:
    bad = _produce_response(PartitionProduceResponse(index=2**40, error_code=0, base_offset=0))
    with pytest.raises(EncodeError) as generated:
        encode_parts(bad, 8)
    with pytest.raises(EncodeError) as interpreted:
        codec._encode_interpreted(bad, 8)
    assert str(generated.value) == str(interpreted.value)
    assert "index" in str(generated.value)


def test_error_message_is_clipped_alike() -> None:
    msg = HeartbeatResponse(error_code=1)
    long = _produce_response(PartitionProduceResponse(index=0, error_code=1, base_offset=-1,
                                                      error_message="é" * 40000))
    for m, v in ((msg, 4), (long, 8)):
        assert encode_parts(m, v) == codec._encode_interpreted(m, v)


@pytest.mark.parametrize("version", [4, 11, 12])
def test_frames_with_file_regions(tmp_path, version: int) -> None:
    path = tmp_path / "segment"
    path.write_bytes(b"0123456789" * 10)
    with open(path, "rb") as f:
        region = FileRegion(f.fileno(), 5, 40)
        msg = FetchResponse(responses=[FetchableTopicResponse(topic="t", partitions=[
            PartitionData(partition_index=0, high_watermark=9, records=[b"ab", region, b"cd"])])])
        header = b"\x00\x00\x00\x07" + (b"\x00" if version >= 12 else b"")
        body = encode_parts(msg, version)
        frame = encode_frame(msg, version, header)
        size = len(header) + sum(p.size if isinstance(p, FileRegion) else len(p) for p in body)
        assert frame[0][:4] == size.to_bytes(4, "big")
        assert [frame[0][4:], *frame[1:]] == [header + body[0], *body[1:]]
        assert region in frame
        assert os.pread(f.fileno(), 40, 5) == b"5678901234" * 4


def test_frame_of_a_small_response_is_one_bytes() -> None:
    msg = HeartbeatResponse(throttle_time_ms=3, error_code=27)
    frame = encode_frame(msg, 4, b"\x00\x00\x00\x01\x00")
    body = encode_parts(msg, 4)[0]
    assert frame == [(5 + len(body)).to_bytes(4, "big") + b"\x00\x00\x00\x01\x00" + body]


@pytest.mark.parametrize("size", [126, 127, 128, 200, 16382, 16383, 16384, 70000])
def test_compact_lengths_of_one_two_and_more_varint_bytes(size: int) -> None:
    from kafkalite.protocol.messages.metadata import MetadataRequest, MetadataRequestTopic
    from kafkalite.protocol.messages.produce import (PartitionProduceData, ProduceRequest,
                                                     TopicProduceData)

    records = memoryview(bytes(range(256)) * (size // 256) + b"x" * (size % 256))
    produce = ProduceRequest(acks=1, timeout_ms=5, topic_data=[TopicProduceData(
        name="t" * min(size, 300), partition_data=[PartitionProduceData(index=0,
                                                                        records=records)])])
    metadata = MetadataRequest(topics=[MetadataRequestTopic(name=str(i))
                                       for i in range(min(size, 20000))])
    for msg, version in ((produce, 9), (metadata, 9)):
        raw = _assert_same_encoding(msg, version)
        _assert_same_decoding(type(msg), version, raw)
        for cut in (1, 2, 3, 4, 5, 6, len(raw) - 1):
            _assert_same_decoding(type(msg), version, raw[:cut])


def test_slot_builder_builds_what_init_builds() -> None:
    import attrs

    from kafkalite.protocol.header import RequestHeader

    build = codec.slot_builder(RequestHeader)
    assert build is not RequestHeader
    built = build(0, 9, 7, "c")
    assert built == RequestHeader(0, 9, 7, "c") and type(built) is RequestHeader
    assert hash(built) == hash(RequestHeader(0, 9, 7, "c"))
    with pytest.raises(attrs.exceptions.FrozenInstanceError):
        built.api_key = 1

    @attrs.frozen
    class Checked:
        value: int = attrs.field(validator=attrs.validators.instance_of(int))

    @attrs.frozen
    class Hooked:
        value: int

        def __attrs_post_init__(self) -> None:
            pass

    # classes whose __init__ does more than set the slots keep it
    assert codec.slot_builder(Checked) is Checked
    assert codec.slot_builder(Hooked) is Hooked
