"""Shared sample data for the record tests: the verified wire examples and record generators."""

from kafkalite.records.record import Header, Record

TS = 1700000000000
CODECS = [0, 1, 2, 3, 4]

# wire-protocol.md §4: one record, key null, value "hi", timestamp 1700000000000, 70 bytes.
VERIFIED_V2 = bytes.fromhex(
    "0000000000000000 0000003a 00000000 02 bbcc4115 0000 00000000"
    "0000018bcfe56800 0000018bcfe56800 ffffffffffffffff ffff ffffffff"
    "00000001 10000000010468 6900"
)
# wire-protocol.md §5: offset 0, key null, value "hi" (magic 1 with timestamp TS).
VERIFIED_V0 = bytes.fromhex("0000000000000000 00000010 fd6ebddb 00 00 ffffffff 00000002 6869")
VERIFIED_V1 = bytes.fromhex(
    "0000000000000000 00000018 dba4e6e2 01 00 0000018bcfe56800 ffffffff 00000002 6869"
)


def sample_records(n=50):
    """Compressible ``(key, value, headers, ts)`` tuples with nulls, headers and a late timestamp."""
    return [
        (b"key-%d" % i if i % 3 else None,
         (b"value %d " % i) * 20 if i % 5 else None,
         [("trace", b"abc%d" % i), ("empty", b""), ("null", None)] if i % 2 else [],
         TS + i * 7 - (50 if i == 3 else 0))
        for i in range(n)
    ]


def expected(records, base_offset=0):
    return [
        Record(base_offset + i, ts, key, value, tuple(Header(k, v) for k, v in headers), 0)
        for i, (key, value, headers, ts) in enumerate(records)
    ]


def kafka_python_batch(kp, codec, records, *, producer=(-1, -1, -1), transactional=False):
    """A v2 batch built by kafka-python (``kp`` is the ``kafka_python`` fixture)."""
    builder = kp.DefaultRecordBatchBuilder(
        magic=2, compression_type=codec, is_transactional=transactional,
        producer_id=producer[0], producer_epoch=producer[1], base_sequence=producer[2],
        batch_size=1 << 24)
    for offset, (key, value, headers, ts) in enumerate(records):
        builder.append(offset, ts, key, value, list(headers))
    return bytes(builder.build())
