"""Test-side record batch v2 builder and readers (independent of kafkalite.records).

Records are opaque filler bytes: storage never looks past the 61-byte header.
"""

from __future__ import annotations

import os
import struct

import crc32c

HEADER = struct.Struct(">qiibIhiqqqhii")
TS = 1_700_000_000_000


def make_batch(records: int = 1, payload: int | bytes = 8, *, base_offset: int = 0,
               timestamp: int = TS, max_timestamp: int | None = None, producer_id: int = -1,
               producer_epoch: int = -1, base_sequence: int = -1, attributes: int = 0,
               leader_epoch: int = -1) -> bytearray:
    body = payload if isinstance(payload, bytes) else bytes(i % 251 for i in range(payload))
    total = HEADER.size + len(body)
    buf = bytearray(total)
    HEADER.pack_into(buf, 0, base_offset, total - 12, leader_epoch, 2, 0, attributes,
                     records - 1, timestamp,
                     timestamp if max_timestamp is None else max_timestamp,
                     producer_id, producer_epoch, base_sequence, records)
    buf[HEADER.size:] = body
    refresh_crc(buf)
    return buf


def refresh_crc(buf: bytearray) -> None:
    struct.pack_into(">I", buf, 17, crc32c.crc32c(bytes(buf[21:])))


def crc_ok(buf) -> bool:
    return struct.unpack_from(">I", buf, 17)[0] == crc32c.crc32c(bytes(buf[21:]))


def header(buf, pos: int = 0) -> dict:
    names = ("base_offset", "batch_length", "leader_epoch", "magic", "crc", "attributes",
             "last_offset_delta", "base_timestamp", "max_timestamp", "producer_id",
             "producer_epoch", "base_sequence", "records_count")
    return dict(zip(names, HEADER.unpack_from(buf, pos)))


def split_batches(data: bytes) -> list[tuple[int, int, bytes]]:
    """[(base_offset, last_offset, batch bytes)] of whole batches (asserts no partial tail)."""
    out, pos = [], 0
    while pos < len(data):
        h = header(data, pos)
        size = h["batch_length"] + 12
        assert pos + size <= len(data), "partial batch"
        out.append((h["base_offset"], h["base_offset"] + h["last_offset_delta"],
                    bytes(data[pos:pos + size])))
        pos += size
    return out


def read_info(info) -> bytes:
    """The bytes a FetchDataInfo designates, read with os.pread like sendfile would send."""
    out = b"".join(os.pread(fd, size, pos) for fd, pos, size in info.regions)
    assert len(out) == info.size
    return out


def append(log, *specs, leader_epoch: int = 0, now_ms: int = TS, **kw):
    """Append batches built from (records, payload) specs in one call; returns (info, bufs)."""
    bufs = [make_batch(r, p, **kw) for r, p in specs]
    info = log.append_as_leader([(memoryview(b), r) for b, (r, _) in zip(bufs, specs)],
                                leader_epoch=leader_epoch, now_ms=now_ms)
    return info, bufs
