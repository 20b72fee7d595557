"""Fixtures shared by the record tests: kafka-python as an independent oracle.

kafka-python needs python-snappy, lz4 and zstandard for the non-gzip codecs. Where one is not
installed, the ``kafka_python`` fixture plugs in a cramjam-backed stand-in for just that codec's
byte-level (de)compression, so kafka-python's own batch layout, xerial framing and record
encoding remain the oracle; with the real libraries installed nothing is patched.
"""

from __future__ import annotations

import importlib.util
import types
import warnings

import cramjam
import pytest


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
        for module in (default_records, legacy_records):
            monkeypatch.setattr(module, "lz4_encode", lz4_encode)
            monkeypatch.setattr(module, "lz4_decode", lz4_decode)
    if not codec.has_zstd():
        monkeypatch.setattr(codec, "zstd", types.SimpleNamespace())
        monkeypatch.setattr(default_records, "zstd_encode",
                            lambda data: bytes(cramjam.zstd.compress(bytes(data))))
        monkeypatch.setattr(default_records, "zstd_decode",
                            lambda data: bytes(cramjam.zstd.decompress(bytes(data))))
    return types.SimpleNamespace(
        DefaultRecordBatchBuilder=default_records.DefaultRecordBatchBuilder,
        DefaultRecordBatch=default_records.DefaultRecordBatch,
        LegacyRecordBatchBuilder=legacy_records.LegacyRecordBatchBuilder,
        LegacyRecordBatch=legacy_records.LegacyRecordBatch,
        codec=codec,
        real_libraries=not (_missing("snappy") or _missing("lz4") or _missing("zstandard")),
    )
