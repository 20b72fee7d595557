import struct

import crc32c
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kafkalite.errors import (
    CorruptMessage,
    InvalidRecord,
    KafkaError,
    MessageTooLarge,
    UnsupportedCompressionType,
)
from kafkalite.records.batch import RecordBatchView
from kafkalite.records.builder import build_batch, build_control_batch
from kafkalite.records.legacy import build_legacy_message_set
from kafkalite.records.validate import validate_batches

TS = 1700000000000
LIMIT = 1_048_588


def batch(n=2, **kw) -> bytes:
    return build_batch([(b"k%d" % i, b"value %d" % i, (), TS + i) for i in range(n)], **kw)


def patched(data: bytes, offset: int, fmt: str, value) -> bytes:
    """Overwrite a header field and fix the CRC so only the intended check can fail."""
    buf = bytearray(data)
    struct.pack_into(fmt, buf, offset, value)
    buf[17:21] = crc32c.crc32c(bytes(buf[21:])).to_bytes(4, "big")
    return bytes(buf)


def test_single_batch_returns_views_over_the_buffer():
    buf = bytearray(batch())
    views = validate_batches(memoryview(buf), max_batch_bytes=LIMIT, require_single_batch=True)
    assert len(views) == 1
    view = views[0]
    assert isinstance(view, RecordBatchView)
    view.set_base_offset(77)  # writes through: no copy was made
    assert struct.unpack_from(">q", buf, 0)[0] == 77


def test_accepts_bytes_and_several_batches():
    data = batch(1) + batch(3, compression=1) + batch(2, compression=4)
    views = validate_batches(data, max_batch_bytes=LIMIT)
    assert [v.records_count for v in views] == [1, 3, 2]


def test_empty_buffer():
    assert validate_batches(memoryview(b""), max_batch_bytes=LIMIT) == []
    with pytest.raises(InvalidRecord):
        validate_batches(memoryview(b""), max_batch_bytes=LIMIT, require_single_batch=True)


def test_require_single_batch():
    with pytest.raises(InvalidRecord, match="exactly one"):
        validate_batches(batch() + batch(), max_batch_bytes=LIMIT, require_single_batch=True)


@pytest.mark.parametrize("cut", [1, 11, 12, 30, 61])
def test_trailing_partial_batch_is_corrupt(cut):
    data = batch() + batch()[:cut]
    with pytest.raises(CorruptMessage):
        validate_batches(data, max_batch_bytes=LIMIT)


def test_truncated_only_batch_is_corrupt():
    with pytest.raises(CorruptMessage):
        validate_batches(batch()[:-1], max_batch_bytes=LIMIT)


@pytest.mark.parametrize("length", [-5, 0, 13, 48])
def test_impossible_batch_length_is_corrupt(length):
    data = bytearray(batch())
    struct.pack_into(">i", data, 8, length)
    with pytest.raises(CorruptMessage):
        validate_batches(bytes(data), max_batch_bytes=LIMIT)


@pytest.mark.parametrize("magic", [0, 1])
def test_legacy_message_set_is_invalid_record(magic):
    data = build_legacy_message_set([(None, b"hi", (), TS)], magic=magic)
    with pytest.raises(InvalidRecord, match="magic"):
        validate_batches(data, max_batch_bytes=LIMIT)


def test_unknown_magic_is_invalid_record():
    data = bytearray(batch())
    data[16] = 3
    with pytest.raises(InvalidRecord):
        validate_batches(bytes(data), max_batch_bytes=LIMIT)


def test_bad_crc_is_corrupt_message():
    data = bytearray(batch())
    data[-1] ^= 0xFF
    with pytest.raises(CorruptMessage, match="crc"):
        validate_batches(bytes(data), max_batch_bytes=LIMIT)


def test_too_large():
    data = batch(10)
    assert validate_batches(data, max_batch_bytes=len(data))
    with pytest.raises(MessageTooLarge):
        validate_batches(data, max_batch_bytes=len(data) - 1)


def test_zstd_when_not_allowed():
    data = batch(compression=4)
    assert validate_batches(data, max_batch_bytes=LIMIT, allow_zstd=True)
    with pytest.raises(UnsupportedCompressionType):
        validate_batches(data, max_batch_bytes=LIMIT, allow_zstd=False)
    assert validate_batches(batch(compression=2), max_batch_bytes=LIMIT, allow_zstd=False)


def test_control_batch_from_client_is_invalid_record():
    data = build_control_batch(1, producer_id=5, producer_epoch=0, coordinator_epoch=3, timestamp_ms=TS)
    with pytest.raises(InvalidRecord, match="control"):
        validate_batches(data, max_batch_bytes=LIMIT)


@pytest.mark.parametrize(("count", "delta"), [(0, -1), (-1, -2), (2, 0), (2, 5)])
def test_count_and_last_offset_delta_must_agree(count, delta):
    data = patched(patched(batch(2), 57, ">i", count), 23, ">i", delta)
    with pytest.raises(InvalidRecord):
        validate_batches(data, max_batch_bytes=LIMIT)


def test_count_check_applies_to_compressed_batches_too():
    data = patched(batch(3, compression=1), 23, ">i", 1)
    with pytest.raises(InvalidRecord):
        validate_batches(data, max_batch_bytes=LIMIT)


def test_idempotent_batch_needs_a_sequence():
    good = batch(producer_id=9, producer_epoch=0, base_sequence=0)
    assert validate_batches(good, max_batch_bytes=LIMIT)
    bad = batch(producer_id=9, producer_epoch=0, base_sequence=-1)
    with pytest.raises(InvalidRecord, match="sequence"):
        validate_batches(bad, max_batch_bytes=LIMIT)


def test_transactional_batch_is_accepted():
    data = batch(producer_id=9, producer_epoch=0, base_sequence=0, is_transactional=True)
    assert validate_batches(data, max_batch_bytes=LIMIT, require_single_batch=True)[0].is_transactional


@settings(max_examples=200, deadline=None)
@given(data=st.data())
def test_flipped_bytes_in_crc_range_are_corrupt_message(data):
    original = batch(3, compression=data.draw(st.sampled_from([0, 1, 2, 3, 4])))
    pos = data.draw(st.integers(17, len(original) - 1))
    flip = data.draw(st.integers(1, 255))
    mutated = bytearray(original)
    mutated[pos] ^= flip
    with pytest.raises(CorruptMessage):
        validate_batches(bytes(mutated), max_batch_bytes=LIMIT)


@settings(max_examples=300, deadline=None)
@given(data=st.data())
def test_any_mutation_raises_only_kafka_errors(data):
    original = batch(2, compression=data.draw(st.sampled_from([0, 1, 2, 3, 4]))) + batch(1)
    mutated = bytearray(original)
    for _ in range(data.draw(st.integers(1, 4))):
        pos = data.draw(st.integers(0, len(mutated) - 1))
        mutated[pos] = data.draw(st.integers(0, 255))
    if data.draw(st.booleans()):
        mutated = mutated[: data.draw(st.integers(0, len(mutated)))]
    try:
        views = validate_batches(bytes(mutated), max_batch_bytes=LIMIT,
                                 allow_zstd=data.draw(st.booleans()),
                                 require_single_batch=data.draw(st.booleans()))
    except KafkaError:
        return
    for view in views:
        assert view.is_valid()


def test_headers_are_handed_out_as_parsed():
    """``headers`` collects each batch's 61-byte header, so the log need not parse it again."""
    data = batch(1) + batch(3, producer_id=5, producer_epoch=1, base_sequence=7)
    headers = []
    views = validate_batches(data, max_batch_bytes=LIMIT, headers=headers)
    assert headers == [struct.unpack_from(">qiibIhiqqqhii", bytes(v.buffer)) for v in views]
    assert [(h[9], h[11], h[12]) for h in headers] == [(-1, -1, 1), (5, 7, 3)]
    with pytest.raises(InvalidRecord):
        validate_batches(data, max_batch_bytes=LIMIT, require_single_batch=True, headers=[])
