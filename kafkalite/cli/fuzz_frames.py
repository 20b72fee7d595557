"""Structure-aware request frames for fuzzing a broker (``kafkalite.cli.fuzz`` and tests).

Frames are built from the protocol schemas (``kafkalite.protocol.messages``), so every API and
version the broker serves is covered without per-API code:

``valid``      a random valid request: every field present at that version gets a random value
               of its type, biased towards the values that break code (0, -1, extremes, empty);
``field``      a valid request with one field, anywhere in the message tree, set to an extreme
               value (huge or negative numbers, null where allowed, long strings, many
               elements): malformed-but-decodable input that reaches the handlers;
``bytes``      an encoded request with a few bytes overwritten, often with length-like
               patterns (-1, 0x7fffffff, an over-long varint), the size prefix kept right;
``truncated``  a frame cut short, announced either with its real size (the body ends early) or
               with the full size (the rest never comes);
``oversize``   a size prefix of 2 GB, a negative one, or one just above
               ``socket.request.max.bytes``;
``random``     random bytes after a correct size prefix;
``version``    an unknown API key or a version the broker does not serve;
``bomb``       a Produce request whose record batch inflates hugely (zstd, gzip, lz4, snappy).

Requests never name the protected topic and group given to :class:`FrameFactory` (a healthy
client uses them beside the fuzzer), and controller-to-broker requests (LeaderAndIsr,
UpdateMetadata, StopReplica, ControlledShutdown) only travel in forms that cannot decode: a
broker without authentication trusts them, as Kafka does, so a decodable one could
legitimately rewrite its view of the cluster.
"""

from __future__ import annotations

import random
import struct
import uuid
from collections.abc import Mapping, Sequence
from typing import Any

import attrs
import cramjam

from kafkalite.compression import GZIP, LZ4, SNAPPY, ZSTD, compress, lz4_frame_encode
from kafkalite.protocol.api_keys import ApiKey, request_class
from kafkalite.protocol.codec import EncodeError, encode
from kafkalite.protocol.header import RequestHeader, encode_request_header
from kafkalite.protocol.messages.produce import (
    PartitionProduceData, ProduceRequest, TopicProduceData)
from kafkalite.protocol.schema import (
    BOOLEAN, BYTES, FLOAT64, INT8, INT16, INT32, INT64, RECORDS, STRING, UINT16, UINT32, UUID,
    Array, fields_of, is_struct)
from kafkalite.records.batch import RECORD_BATCH_OVERHEAD, RecordBatchView
from kafkalite.records.builder import build_batch
from kafkalite.records.varint import encode_varint

__all__ = ["KINDS", "Case", "FrameFactory", "CONTROLLER_APIS", "random_instance",
           "bomb_batch"]

KINDS = ("valid", "field", "bytes", "truncated", "oversize", "random", "version", "bomb")

#: Requests only a controller sends; fuzzed only in forms that cannot decode (module doc).
CONTROLLER_APIS = frozenset({ApiKey.LEADER_AND_ISR, ApiKey.STOP_REPLICA,
                             ApiKey.UPDATE_METADATA, ApiKey.CONTROLLED_SHUTDOWN})

_SIZE = struct.Struct(">i")
_INT_RANGES = {INT8: (-(2**7), 2**7 - 1), INT16: (-(2**15), 2**15 - 1),
               INT32: (-(2**31), 2**31 - 1), INT64: (-(2**63), 2**63 - 1),
               UINT16: (0, 2**16 - 1), UINT32: (0, 2**32 - 1)}
# Byte patterns that look like lengths, counts and varints to a decoder.
_PATTERNS = (b"\xff", b"\x00", b"\x7f", b"\x80", b"\xff\xff", b"\x7f\xff", b"\x80\x00",
             b"\xff\xff\xff\xff", b"\x7f\xff\xff\xff", b"\x80\x00\x00\x00", b"\x00\x00\x00\x00",
             b"\xff\xff\xff\xff\x0f", b"\x80\x80\x80\x80\x80", b"\xfe\xff\xff\xff\x07")


@attrs.frozen
class Case:
    """One fuzz input: ``data`` is what goes on the wire (size prefix included);
    ``complete`` False when the frame announces more bytes than it carries."""

    kind: str
    api_key: int
    version: int
    data: bytes
    complete: bool = True


def _pick_int(rng: random.Random, lo: int, hi: int) -> int:
    r = rng.random()
    if r < 0.35:
        return rng.choice([v for v in (0, 1, -1, 2, lo, hi, lo + 1, hi - 1) if lo <= v <= hi])
    if r < 0.75:
        return max(lo, min(hi, rng.randint(-3, 100)))
    return rng.randint(lo, hi)


def random_instance(cls: type, version: int, rng: random.Random, *,
                    names: Sequence[str] = ("fuzz",), depth: int = 0) -> Any:
    """An instance of ``cls`` with random values in the fields present at ``version``.

    ``names`` are the strings used for most STRING fields (so requests hit existing topics
    and groups); arrays hold 0-3 elements.
    """
    kwargs = {}
    for name, spec in fields_of(cls):
        if version not in spec.versions:
            continue
        if version in spec.nullable and rng.random() < 0.1:
            kwargs[name] = None
            continue
        kwargs[name] = _random_value(spec.type, version, rng, names, depth)
    return cls(**kwargs)


def _random_value(type_: Any, version: int, rng: random.Random, names: Sequence[str],
                  depth: int) -> Any:
    if isinstance(type_, Array):
        n = rng.choice((0, 1, 1, 2, 3)) if depth < 4 else 0
        return tuple(_random_value(type_.elem, version, rng, names, depth + 1) for _ in range(n))
    if is_struct(type_):
        return random_instance(type_, version, rng, names=names, depth=depth + 1)
    if type_ in _INT_RANGES:
        return _pick_int(rng, *_INT_RANGES[type_])
    if type_ is BOOLEAN:
        return rng.random() < 0.5
    if type_ is FLOAT64:
        return rng.choice((0.0, -1.0, 0.5, 1e308, float(rng.randint(-10, 10))))
    if type_ is UUID:
        return uuid.UUID(int=rng.getrandbits(128)) if rng.random() < 0.5 else uuid.UUID(int=0)
    if type_ is STRING:
        r = rng.random()
        if r < 0.6:
            return rng.choice(names)
        if r < 0.8:
            return ""
        return "".join(rng.choice("abcé.-_/\x00 ") for _ in range(rng.randint(1, 12)))
    if type_ is BYTES:
        return bytes(rng.getrandbits(8) for _ in range(rng.randint(0, 16)))
    if type_ is RECORDS:
        return _random_records(rng)
    raise AssertionError(type_)   # a new wire type without a generator


def _random_records(rng: random.Random) -> bytes:
    r = rng.random()
    if r < 0.5:   # a valid batch, maybe compressed
        records = [(b"k", bytes(rng.randint(0, 64)), (), 1_700_000_000_000 + i)
                   for i in range(rng.randint(1, 3))]
        return build_batch(records, compression=rng.choice((0, 0, GZIP, SNAPPY, LZ4, ZSTD)))
    if r < 0.8:
        return bytes(rng.getrandbits(8) for _ in range(rng.randint(0, 80)))
    return b""


def _extreme_value(type_: Any, nullable: bool, version: int, rng: random.Random,
                   names: Sequence[str]) -> Any:
    if nullable and rng.random() < 0.25:
        return None
    if isinstance(type_, Array):
        if rng.random() < 0.5:
            return ()
        elem = _random_value(type_.elem, version, rng, names, 3)
        return (elem,) * rng.choice((50, 1000, 5000))
    if is_struct(type_):
        return type_()
    if type_ in _INT_RANGES:
        lo, hi = _INT_RANGES[type_]
        return rng.choice((lo, hi, -1, 0, lo + 1, hi - 1, -2))
    if type_ is STRING:
        return rng.choice(("", "x" * rng.choice((249, 250, 256, 5000, 32767)),
                           "..", ".", "\x00\x01", "é" * 300))
    if type_ in (BYTES, RECORDS):
        return rng.choice((b"", bytes(rng.getrandbits(8) for _ in range(200)),
                           b"\x00" * rng.choice((61, 4096, 100_000))))
    if type_ is BOOLEAN:
        return True
    if type_ is FLOAT64:
        return rng.choice((float("inf"), float("-inf"), 1e308, -1e308))
    if type_ is UUID:
        return uuid.UUID(int=2**128 - 1)
    raise AssertionError(type_)


def _field_paths(cls: type, version: int, prefix: tuple = ()) -> list[tuple]:
    """Paths to every field present at ``version``: a path is a tuple of attribute names,
    with the index 0 to step into the first element of an array of structs."""
    out = []
    for name, spec in fields_of(cls):
        if version not in spec.versions:
            continue
        path = prefix + (name,)
        out.append(path)
        inner = spec.type.elem if isinstance(spec.type, Array) else spec.type
        if is_struct(inner):
            out += _field_paths(inner, version, path + ((0,) if inner is not spec.type else ()))
    return out


def _spec_at(cls: type, path: tuple):
    spec = None
    current = cls
    for step in path:
        if step == 0:
            continue
        spec = dict(fields_of(current))[step]
        inner = spec.type.elem if isinstance(spec.type, Array) else spec.type
        current = inner if is_struct(inner) else None
    return spec


def _replace(obj: Any, path: tuple, value: Any) -> Any:
    """``obj`` with the field at ``path`` replaced; None when the path does not exist in this
    instance (an empty array on the way)."""
    name, rest = path[0], path[1:]
    if not rest:
        return attrs.evolve(obj, **{name: value})
    child = getattr(obj, name)
    if rest[0] == 0:
        if not child:
            return None
        inner = _replace(child[0], rest[1:], value)
        return None if inner is None else attrs.evolve(obj, **{name: (inner, *child[1:])})
    inner = _replace(child, rest, value)
    return None if inner is None else attrs.evolve(obj, **{name: inner})


class FrameFactory:
    """Makes :class:`Case` s for the request versions a broker serves.

    Args:
        supported: api key -> (min, max) versions served (``dispatch.supported_versions()``).
        rng: the randomness (seeded by the caller for reproducible runs).
        names: strings most STRING fields take (existing topics, groups, ids to hit).
        bomb_topics: topics the ``bomb`` Produce requests go to.
        max_frame_bytes: the broker's ``socket.request.max.bytes``.
    """

    def __init__(self, supported: Mapping[int, tuple[int, int]], rng: random.Random, *,
                 names: Sequence[str] = ("fuzz",), bomb_topics: Sequence[str] = ("fuzz",),
                 max_frame_bytes: int = 104857600):
        self.rng = rng
        self.names = tuple(names)
        self.bomb_topics = tuple(bomb_topics)
        self.max_frame_bytes = max_frame_bytes
        self.pairs = [(key, v) for key, (lo, hi) in sorted(supported.items())
                      for v in range(lo, hi + 1)]
        self.decodable_pairs = [(k, v) for k, v in self.pairs if k not in CONTROLLER_APIS]
        self._correlation = 0
        self._bombs: dict[int, bytes] = {}

    # -- building blocks ------------------------------------------------------------------

    def frame(self, obj: Any, api_key: int, version: int) -> bytes:
        """A whole request frame: size, header (v0-v2 as the version calls for), body."""
        self._correlation = (self._correlation + 1) & 0x7FFFFFFF
        header = encode_request_header(RequestHeader(api_key, version, self._correlation,
                                                     "fuzz"))
        payload = header + encode(obj, version)
        return _SIZE.pack(len(payload)) + payload

    def valid_request(self, api_key: int, version: int) -> Any:
        return random_instance(request_class(api_key), version, self.rng, names=self.names)

    def field_mutants(self, api_key: int, version: int, obj: Any | None = None
                      ) -> list[tuple[tuple, Any]]:
        """``(path, mutant)`` for one extreme value in each field of ``obj`` (every field
        present at ``version``); mutants the encoder refuses (a value that cannot be written
        in that version) are left out."""
        cls = request_class(api_key)
        if obj is None:
            obj = self.valid_request(api_key, version)
        out = []
        for path in _field_paths(cls, version):
            spec = _spec_at(cls, path)
            value = _extreme_value(spec.type, version in spec.nullable, version, self.rng,
                                   self.names)
            mutant = _replace(obj, path, value)
            if mutant is None:
                continue
            try:
                encode(mutant, version)
            except EncodeError:
                continue
            out.append((path, mutant))
        return out

    # -- cases ----------------------------------------------------------------------------

    def case(self, kind: str | None = None) -> Case:
        """One random case of ``kind`` (a random kind if None)."""
        rng = self.rng
        kind = kind or rng.choice(KINDS)
        if kind in ("valid", "field", "bytes", "random"):
            key, version = rng.choice(self.decodable_pairs)
        else:
            key, version = rng.choice(self.pairs)
        maker = getattr(self, "_" + kind)
        return maker(key, version)

    def _valid(self, key: int, version: int) -> Case:
        for _ in range(10):
            try:
                data = self.frame(self.valid_request(key, version), key, version)
            except EncodeError:
                continue
            if len(data) <= self.max_frame_bytes:
                return Case("valid", key, version, data)
        return self._random(key, version)

    def _field(self, key: int, version: int) -> Case:
        mutants = self.field_mutants(key, version)
        if not mutants:
            return self._valid(key, version)
        _, mutant = self.rng.choice(mutants)
        data = self.frame(mutant, key, version)
        if len(data) > self.max_frame_bytes:
            return self._valid(key, version)
        return Case("field", key, version, data)

    def _encoded(self, key: int, version: int) -> bytearray:
        while True:
            try:
                return bytearray(self.frame(self.valid_request(key, version), key, version))
            except EncodeError:
                continue

    def _bytes(self, key: int, version: int) -> Case:
        rng = self.rng
        data = self._encoded(key, version)
        for _ in range(rng.randint(1, 3)):
            pos = rng.randint(4, max(4, len(data) - 1))
            pattern = rng.choice(_PATTERNS) if rng.random() < 0.7 else \
                bytes([rng.getrandbits(8)])
            data[pos:pos + len(pattern)] = pattern
        _SIZE.pack_into(data, 0, len(data) - 4)
        return Case("bytes", key, version, bytes(data))

    def _truncated(self, key: int, version: int) -> Case:
        # A cut body never decodes, so controller requests are safe here too.
        rng = self.rng
        data = self._encoded(key, version)
        cut = rng.randint(4, max(4, len(data) - 1))
        if rng.random() < 0.5:   # the size says where it ends: the body is short
            out = bytearray(data[:cut])
            _SIZE.pack_into(out, 0, cut - 4)
            return Case("truncated", key, version, bytes(out))
        return Case("truncated", key, version, bytes(data[:cut]), complete=False)

    def _oversize(self, key: int, version: int) -> Case:
        rng = self.rng
        size = rng.choice((2**31 - 1, 2**31 - 1024, -1, -(2**31), self.max_frame_bytes + 1,
                           1195725856))   # "GET " read as a size, as Kafka's log shows
        header = encode_request_header(RequestHeader(key, version, 1, "fuzz"))
        return Case("oversize", key, version, _SIZE.pack(size) + header, complete=False)

    def _random(self, key: int, version: int) -> Case:
        rng = self.rng
        body = bytes(rng.getrandbits(8) for _ in range(rng.randint(0, 200)))
        if rng.random() < 0.5:   # a plausible header first, so the body decoder runs
            body = struct.pack(">hhi", key, version, 1) + body
        return Case("random", key, version, _SIZE.pack(len(body)) + body)

    def _version(self, key: int, version: int) -> Case:
        rng = self.rng
        if rng.random() < 0.5:
            key = rng.choice((-1, 1000, 32767, 67, 99))
        else:
            version = rng.choice((-1, 99, 32767, self._max_version(key) + 1))
        payload = struct.pack(">hhih", key, version, 1, 4) + b"fuzz" + \
            bytes(rng.getrandbits(8) for _ in range(rng.randint(0, 20)))
        return Case("version", key, version, _SIZE.pack(len(payload)) + payload)

    def _max_version(self, key: int) -> int:
        return max(v for k, v in self.pairs if k == key)

    def _bomb(self, key: int, version: int) -> Case:
        rng = self.rng
        codec = rng.choice((ZSTD, GZIP, LZ4, SNAPPY))
        batch = self._bombs.get(codec)
        if batch is None:
            batch = self._bombs[codec] = bomb_batch(codec)
        produce = [(k, v) for k, v in self.pairs if k == ApiKey.PRODUCE and v >= 3]
        _, version = rng.choice(produce)
        if codec == ZSTD and version < 7:
            version = max(v for _, v in produce)
        request = ProduceRequest(acks=rng.choice((1, -1, 0)), timeout_ms=5000, topic_data=(
            TopicProduceData(name=rng.choice(self.bomb_topics), partition_data=(
                PartitionProduceData(index=0, records=batch),)),))
        return Case("bomb", ApiKey.PRODUCE, version,
                    self.frame(request, ApiKey.PRODUCE, version))


def bomb_batch(codec: int, size: int | None = None) -> bytes:
    """A record batch holding one record whose value is ``size`` zero bytes (default
    ``_BOMB_SIZES[codec]``), compressed (streamed: the zeros are never all in memory):
    kilobytes on the wire."""
    size = _BOMB_SIZES[codec] if size is None else size
    head = (b"\x00" + encode_varint(0) + encode_varint(0) + encode_varint(1) + b"k"
            + encode_varint(size))
    tail = encode_varint(0)
    record_head = encode_varint(len(head) + size + len(tail)) + head
    blob = _compressed_zeros(codec, record_head, size, tail)
    out = bytearray(build_batch([(b"k", b"", (), 1_700_000_000_000)]))[:RECORD_BATCH_OVERHEAD]
    out += blob
    struct.pack_into(">i", out, 8, len(out) - 12)           # batchLength
    struct.pack_into(">h", out, 21, codec)                  # attributes: the codec
    RecordBatchView(memoryview(out)).refresh_crc()
    return bytes(out)


#: Inflated size of each codec's bomb: far beyond ``compression.inflate_limit`` for zstd, gzip
#: and lz4; snappy cannot compress better than about 21:1, so its bomb is just above the floor.
_BOMB_SIZES = {ZSTD: 1 << 30, GZIP: 256 << 20, LZ4: 256 << 20, SNAPPY: 17 << 20}
_CHUNK = 1 << 20


def _compressed_zeros(codec: int, head: bytes, size: int, tail: bytes) -> bytes:
    if codec in (ZSTD, GZIP):
        c = (cramjam.zstd if codec == ZSTD else cramjam.gzip).Compressor()
        c.compress(head)
        zeros = bytes(_CHUNK)
        for _ in range(size // _CHUNK):
            c.compress(zeros)
        c.compress(bytes(size % _CHUNK) + tail)
        return bytes(c.finish())
    if codec == LZ4:   # Kafka's lz4 frame of independent 64 KiB blocks: repeat one block
        whole = head + bytes(size) if size <= _CHUNK else None
        if whole is not None:
            return compress(LZ4, whole + tail)
        frame = lz4_frame_encode(bytes(64 << 10))
        header, block = frame[:7], frame[7:-4]
        first = lz4_frame_encode(head + bytes((64 << 10) - len(head)))[7:-4]
        rest = size + len(head) - (64 << 10)
        last = lz4_frame_encode(bytes(rest % (64 << 10)) + tail)[7:-4]
        return header + first + block * (rest // (64 << 10)) + last + b"\x00\x00\x00\x00"
    return compress(SNAPPY, head + bytes(size) + tail)
