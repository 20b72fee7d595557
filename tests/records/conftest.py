"""Fixtures shared by the record tests: kafka-python as an independent oracle.

kafka-python needs python-snappy, lz4 and zstandard for the non-gzip codecs (and xxhash for
pre-0.10 LZ4 framing). Where one is not installed, the ``kafka_python`` fixture plugs in a
cramjam-backed stand-in for just that codec's byte-level (de)compression (our ``xxh32`` for
xxhash), so kafka-python's own batch layout, xerial framing and record encoding remain the
oracle; with the real libraries installed nothing is patched.
"""

from __future__ import annotations

import importlib.util
import types
import warnings

import cramjam
import pytest

from kafkalite.compression import xxh32


def _missing(module: str) -> bool:
    return importlib.util.find_spec(module) is None


@pytest.fixture
def kafka_python(monkeypatch):
    with warnings.catch_warnings():
        # kafka-python 3.x loads its schemas with a deprecated importlib.resources call on import.
        warnings.simplefilter("ignore", DeprecationWarning)
        import kafka.codec as codec
        import kafka.record.default_records as default_records
        import kafka.record.legacy_records as legacy_records
        import kafka.record.memory_records as memory_records

    if not codec.has_snappy():
        monkeypatch.setattr(codec, "snappy", types.SimpleNamespace(
            compress=lambda data: bytes(cramjam.snappy.compress_raw(bytes(data))),
            decompress=lambda data: bytes(cramjam.snappy.decompress_raw(bytes(data))),
        ))
    if not codec.has_lz4():
        def lz4_encode(data, **_kw):
            return bytes(cramjam.lz4.compress(bytes(data)))

        def lz4_decode(data):
            return bytes(cramjam.lz4.decompress(bytes(data)))

        monkeypatch.setattr(codec, "lz4", types.SimpleNamespace())
        for module in (codec, default_records, legacy_records):
            monkeypatch.setattr(module, "lz4_encode", lz4_encode)
            monkeypatch.setattr(module, "lz4_decode", lz4_decode)
    if not codec.has_zstd():
        monkeypatch.setattr(codec, "zstd", types.SimpleNamespace())
        monkeypatch.setattr(default_records, "zstd_encode",
                            lambda data: bytes(cramjam.zstd.compress(bytes(data))))
        monkeypatch.setattr(default_records, "zstd_decode",
                            lambda data: bytes(cramjam.zstd.decompress(bytes(data))))
    if codec.xxhash is None:
        # Only the pre-0.10 LZ4 header checksum uses it; kafka-python still decides what to hash.
        monkeypatch.setattr(codec, "xxhash", types.SimpleNamespace(
            xxh32=lambda data: types.SimpleNamespace(
                digest=lambda: xxh32(bytes(data)).to_bytes(4, "big")),
        ))
    return types.SimpleNamespace(
        DefaultRecordBatchBuilder=default_records.DefaultRecordBatchBuilder,
        DefaultRecordBatch=default_records.DefaultRecordBatch,
        LegacyRecordBatchBuilder=legacy_records.LegacyRecordBatchBuilder,
        LegacyRecordBatch=legacy_records.LegacyRecordBatch,
        MemoryRecords=memory_records.MemoryRecords,
        codec=codec,
        real_libraries=not (_missing("snappy") or _missing("lz4") or _missing("zstandard")),
    )
