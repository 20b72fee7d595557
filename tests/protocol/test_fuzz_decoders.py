"""Fuzzing the request path a broker runs on every byte a client sends.

For every API and request version the broker serves (``dispatch.supported_versions()``):
valid frames, the same frames with each field set to an extreme value, byte-level mutations,
truncations, lying or absurd size prefixes and random bytes go through ServerConnection (framing,
header, body) in arbitrary chunks. It must either decode (a mutant that still encodes decodes
back to itself) or raise ProtocolViolation — never another exception — and never allocate more
than a small multiple of what it was sent. Compressed record batches that inflate hugely are
refused with CORRUPT_MESSAGE wherever the broker inflates them, within bounded memory.
"""

from __future__ import annotations

import random
import tracemalloc

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kafkalite.cli.fuzz_frames import CONTROLLER_APIS, FrameFactory, bomb_batch
from kafkalite.compression import GZIP, LZ4, SNAPPY, ZSTD, decompress, inflate_limit
from kafkalite.errors import CorruptMessage, ProtocolViolation
from kafkalite.protocol.api_keys import request_class
from kafkalite.protocol.framing import FrameTooLarge, ServerConnection
from kafkalite.protocol.schema import fields_of
from kafkalite.records.batch import RecordBatchView
from kafkalite.records.record import decode_records
from kafkalite.records.validate import validate_batches
from kafkalite.server.dispatch import supported_versions
from kafkalite.storage.cleaner_filter import validate_compacted_records

from .values import PHASES, full_instance

SUPPORTED = supported_versions()
PAIRS = [(key, v) for key, (lo, hi) in sorted(SUPPORTED.items()) for v in range(lo, hi + 1)]
MAX_FRAME = 104857600
# Decoding allocates objects for what it reads; never more than this beyond the input's size.
SLACK_BYTES = 512 << 10


def _connection() -> ServerConnection:
    return ServerConnection(max_frame_bytes=MAX_FRAME, supported=SUPPORTED)


def _feed(data: bytes, chunks: list[int] | None = None):
    """Feed ``data`` (in chunks of the given sizes) and drain requests; returns the decoded
    requests, or the ProtocolViolation raised."""
    conn = _connection()
    out = []
    pos = 0
    for size in (chunks or []) + [len(data)]:
        piece = data[pos:pos + size]
        pos += len(piece)
        try:
            conn.receive_data(piece)
            while (request := conn.next_request()) is not None:
                out.append(request)
        except ProtocolViolation as e:
            return e
        if pos >= len(data):
            break
    return out


def test_the_pairs_are_every_served_request_version():
    assert len(PAIRS) > 200
    assert all(request_class(k).MIN_VERSION <= v <= request_class(k).MAX_VERSION
               for k, v in PAIRS)


@pytest.mark.parametrize(("key", "version"), PAIRS, ids=[f"{k}-v{v}" for k, v in PAIRS])
def test_every_field_set_to_an_extreme_value_decodes_back_or_is_a_violation(key, version):
    factory = FrameFactory(SUPPORTED, random.Random(key * 100 + version), names=("t", "g"))
    base = full_instance(request_class(key), version)
    (request,) = _feed(factory.frame(base, key, version))
    assert request.body == base and request.header.api_version == version
    mutants = factory.field_mutants(key, version, base)
    present = [n for n, spec in fields_of(request_class(key)) if version in spec.versions]
    assert mutants or not present, "no field was mutated"
    for path, mutant in mutants:
        frame = factory.frame(mutant, key, version)
        result = _feed(frame, [7, 1, 60])
        if isinstance(result, ProtocolViolation):
            continue   # e.g. a 5000-element array past the frame limit would be; not expected
        (request,) = result
        assert request.body == mutant, path


@settings(max_examples=600, deadline=None, derandomize=True, phases=PHASES,
          suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 2**32 - 1),
       kind=st.sampled_from(("bytes", "truncated", "oversize", "random", "version")),
       chunks=st.lists(st.integers(1, 64), max_size=4))
def test_malformed_frames_only_ever_raise_protocol_violations(seed, kind, chunks):
    factory = FrameFactory(SUPPORTED, random.Random(seed), names=("t", "g"))
    case = factory.case(kind)
    tracemalloc.start()
    try:
        result = _feed(case.data, chunks)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < SLACK_BYTES + 8 * len(case.data), (case.kind, peak)
    if isinstance(result, ProtocolViolation):
        return
    if not case.complete:   # the frame announced more than it carried: nothing to decode
        assert result == []
        return
    # a mutated frame may still be a valid request; never a controller's (module doc)
    assert all(r.header.api_key not in CONTROLLER_APIS or r.unsupported_version
               for r in result), result


@pytest.mark.parametrize("prefix", [b"\x7f\xff\xff\xff", b"\x80\x00\x00\x00", b"\xff\xff\xff\xff",
                                    b"GET / HTTP/1.1\r\n", b"\x16\x03\x01\x02\x00\x01\x00"])
def test_absurd_size_prefixes_are_refused_before_anything_is_allocated(prefix):
    conn = _connection()
    tracemalloc.start()
    try:
        conn.receive_data(prefix)
        with pytest.raises(FrameTooLarge, match="Invalid receive"):
            conn.next_request()
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 64 << 10
    with pytest.raises(FrameTooLarge):   # the connection stays broken
        conn.receive_data(b"more")


def test_a_large_announced_frame_costs_only_what_arrived():
    conn = _connection()
    tracemalloc.start()
    try:
        conn.receive_data((MAX_FRAME - 1).to_bytes(4, "big") + b"\x00\x12\x00\x03")
        assert conn.next_request() is None
        assert conn.needed() == MAX_FRAME - 1 - 4
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 64 << 10


# -- compressed-batch bombs ---------------------------------------------------------------------

BOMB_SIZE = 100 << 20   # inflated; the batches themselves are kilobytes


@pytest.fixture(scope="module", params=[ZSTD, GZIP, LZ4], ids=["zstd", "gzip", "lz4"])
def bomb(request):
    return request.param, bomb_batch(request.param, BOMB_SIZE)


def _peak(fn):
    tracemalloc.start()
    try:
        fn()
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def test_a_bomb_passes_the_header_only_validator_without_inflating(bomb):
    codec, batch = bomb
    assert len(batch) < 2 << 20
    views = []
    peak = _peak(lambda: views.extend(validate_batches(memoryview(bytearray(batch)),
                                                       max_batch_bytes=1048588)))
    assert len(views) == 1 and views[0].compression == codec
    assert peak < 1 << 20


def test_a_bomb_is_corrupt_wherever_the_broker_inflates_it(bomb):
    codec, batch = bomb
    view = RecordBatchView(memoryview(bytearray(batch)))
    limit = inflate_limit(len(view.records_data))
    assert limit < BOMB_SIZE

    def refused(fn):
        with pytest.raises(CorruptMessage, match="inflates beyond"):
            fn()

    for fn in (lambda: decompress(codec, view.records_data),   # every inflation goes here
               lambda: decode_records(view),                    # lookups, coordinators, tools
               lambda: validate_compacted_records([view], "t-0")):   # produce to compacted
        assert _peak(lambda fn=fn: refused(fn)) < 2 * limit + (4 << 20)


def test_legitimate_batches_still_inflate():
    data = bytes(range(256)) * 20000   # 5 MB, compresses well
    for codec in (GZIP, SNAPPY, LZ4, ZSTD):
        batch = bomb_batch(codec, 1 << 20)
        (record,) = decode_records(RecordBatchView(memoryview(bytearray(batch))))
        assert record.value == bytes(1 << 20)
        from kafkalite.compression import compress
        assert decompress(codec, compress(codec, data)) == data


def test_an_error_message_quoting_a_huge_client_string_still_encodes():
    from kafkalite.protocol.codec import decode, encode
    from kafkalite.protocol.messages.create_partitions import (
        CreatePartitionsResponse, CreatePartitionsTopicResult)

    name = "é" * 16380   # a 32760-byte topic name still fits a request STRING
    response = CreatePartitionsResponse(throttle_time_ms=0, results=(CreatePartitionsTopicResult(
        name=name, error_code=3, error_message=f"The topic '{name}' does not exist."),))
    for version in (0, 2):
        (result,) = decode(CreatePartitionsResponse, version, encode(response, version)).results
        assert result.name == name
        assert len(result.error_message.encode()) <= 32767
        assert result.error_message.startswith("The topic 'éé") and \
            result.error_message.endswith("...")
