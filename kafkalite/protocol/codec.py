"""Schema-driven encoder/decoder for message bodies, compiled once per (class, version).

Theory of operation
-------------------
``schema.py`` describes each message for all versions. The first time a (class, version) pair
is used we compile a *plan*: a flat list of small closures, one per field or per run of
fixed-width fields, with the version decisions already taken (is the field present? nullable?
compact or classic lengths? tagged?). Consecutive fixed-width scalars (ints, bools, floats) are
merged into one precompiled ``struct.Struct`` so a partition header costs one ``pack`` or
``unpack_from`` call. Encoding and decoding then just run the closures; no metadata is looked at.

Encoding appends to a ``bytearray``. A RECORDS field may hold a :class:`FileRegion` (a slice of a
segment file); the encoder then cuts the output into parts around it, so ``encode_parts`` gives
``[bytes, FileRegion, bytes, ...]`` for the network layer to send with ``os.sendfile``. Record
bytes are never parsed here.

Decoding works on a memoryview of the frame. RECORDS fields become memoryview slices of it
(zero-copy; writable when the frame is a bytearray, so the broker patches offsets in place).
Arrays become tuples, BYTES become ``bytes``. Any malformed input — truncation, bad lengths,
invalid UTF-8, nulls where the version forbids them, over-long varints — raises
ProtocolViolation; no IndexError or struct.error escapes.

One encoding leniency: an ``error_message`` STRING longer than a STRING can hold (32767 bytes;
messages quote names and values clients sent) is cut short, so the response still goes out.
"""

from __future__ import annotations

import os
import struct
import uuid
from operator import attrgetter
from typing import Any, Callable

import attrs

from kafkalite.errors import ProtocolViolation
from kafkalite.protocol.primitives import read_uvarint, write_uvarint
from kafkalite.protocol.schema import (
    RECORDS,
    STRING,
    UUID,
    ZERO_UUID,
    Array,
    FieldSpec,
    Primitive,
    fields_of,
    is_struct,
)

__all__ = ["FileRegion", "EncodeError", "encode", "encode_parts", "decode"]

_I16 = struct.Struct(">h")
_I32 = struct.Struct(">i")
_ZERO16 = bytes(16)


@attrs.frozen
class FileRegion:
    """``size`` bytes at ``offset`` of the open file ``fd``, to be sent later with sendfile."""

    fd: int
    offset: int
    size: int


class EncodeError(ValueError):
    """A message could not be encoded: a value does not fit its field (a local bug)."""


class _Buffer(bytearray):
    """Output buffer; ``parts`` collects finished chunks when a FileRegion cuts the stream."""

    __slots__ = ("parts",)


Encoder = Callable[[Any, _Buffer], None]
Decoder = Callable[[memoryview, int], tuple[Any, int]]


def _truncated(what: str, pos: int) -> ProtocolViolation:
    return ProtocolViolation(f"truncated {what} at offset {pos}")


def _null_violation(pos: int) -> ProtocolViolation:
    return ProtocolViolation(f"null value for a non-nullable field at offset {pos}")


# --- lengths ---------------------------------------------------------------------------------
# Classic lengths are int16 (strings) or int32 (bytes, arrays) with -1 = null. Compact lengths
# (flexible versions) are UNSIGNED_VARINT N+1 with 0 = null. Readers return -1 for null.


def _read_len16(data: memoryview, pos: int) -> tuple[int, int]:
    return _I16.unpack_from(data, pos)[0], pos + 2


def _read_len32(data: memoryview, pos: int) -> tuple[int, int]:
    return _I32.unpack_from(data, pos)[0], pos + 4


def _read_compact_len(data: memoryview, pos: int) -> tuple[int, int]:
    n, pos = read_uvarint(data, pos)
    return n - 1, pos


def _writer_len16(buf: _Buffer, n: int) -> None:
    buf += _I16.pack(n)


def _writer_len32(buf: _Buffer, n: int) -> None:
    buf += _I32.pack(n)


def _writer_compact_len(buf: _Buffer, n: int) -> None:
    n += 1
    if n < 0x80:
        buf.append(n)
    else:
        write_uvarint(buf, n)


def _length_codec(flexible: bool, classic_reader, classic_writer):
    if flexible:
        return _read_compact_len, _writer_compact_len
    return classic_reader, classic_writer


# --- strings, bytes, records, uuid ----------------------------------------------------------


def _string_codec(flexible: bool, nullable: bool) -> tuple[Encoder, Decoder, int]:
    read_len, write_len = _length_codec(flexible, _read_len16, _writer_len16)

    def enc(value: str | None, buf: _Buffer) -> None:
        if value is None:
            if not nullable:
                raise EncodeError("None for a non-nullable string")
            write_len(buf, -1)
            return
        raw = value.encode("utf-8")
        write_len(buf, len(raw))
        buf += raw

    def dec(data: memoryview, pos: int) -> tuple[str | None, int]:
        n, pos = read_len(data, pos)
        if n < 0:
            if n == -1 and nullable:
                return None, pos
            raise _null_violation(pos)
        end = pos + n
        if end > len(data):
            raise _truncated("string", pos)
        return str(data[pos:end], "utf-8"), end

    return enc, dec, 1 if flexible else 2


_MAX_STRING_BYTES = 0x7FFF


def _clipping(enc: Encoder) -> Encoder:
    """Error messages are informational and often quote what a client sent (a topic name, a
    config value, up to 32767 bytes each): one too long for a STRING is cut short instead of
    making the whole response unencodable."""

    def clip(value: str | None, buf: _Buffer) -> None:
        if value is not None and len(value) > _MAX_STRING_BYTES // 4:
            raw = value.encode("utf-8")
            if len(raw) > _MAX_STRING_BYTES:
                value = raw[:_MAX_STRING_BYTES - 3].decode("utf-8", "ignore") + "..."
        enc(value, buf)

    return clip


def _bytes_codec(flexible: bool, nullable: bool, records: bool) -> tuple[Encoder, Decoder, int]:
    read_len, write_len = _length_codec(flexible, _read_len32, _writer_len32)

    def enc(value: Any, buf: _Buffer) -> None:
        if value is None:
            if not nullable:
                raise EncodeError("None for non-nullable bytes")
            write_len(buf, -1)
            return
        if isinstance(value, memoryview):
            write_len(buf, value.nbytes)
            buf += value
        else:
            write_len(buf, len(value))
            buf += value

    def enc_records(value: Any, buf: _Buffer) -> None:
        if value is None or isinstance(value, (bytes, bytearray, memoryview)):
            enc(value, buf)
            return
        pieces = (value,) if isinstance(value, FileRegion) else value
        write_len(buf, sum(_piece_size(p) for p in pieces))
        for piece in pieces:
            if isinstance(piece, FileRegion):
                if buf:
                    buf.parts.append(bytes(buf))
                    buf.clear()
                buf.parts.append(piece)
            else:
                buf += piece

    def dec(data: memoryview, pos: int) -> tuple[Any, int]:
        n, pos = read_len(data, pos)
        if n < 0:
            if n == -1 and nullable:
                return None, pos
            raise _null_violation(pos)
        end = pos + n
        if end > len(data):
            raise _truncated("bytes", pos)
        if records:
            return data[pos:end], end
        return bytes(data[pos:end]), end

    return (enc_records if records else enc), dec, 1 if flexible else 4


def _piece_size(piece: Any) -> int:
    if isinstance(piece, FileRegion):
        return piece.size
    if isinstance(piece, memoryview):
        return piece.nbytes
    if isinstance(piece, (bytes, bytearray)):
        return len(piece)
    raise EncodeError(
        f"records piece must be bytes-like or FileRegion, not {type(piece).__name__}"
    )


def _uuid_enc(value: uuid.UUID, buf: _Buffer) -> None:
    buf += value.bytes


def _uuid_dec(data: memoryview, pos: int) -> tuple[uuid.UUID, int]:
    end = pos + 16
    if end > len(data):
        raise _truncated("uuid", pos)
    raw = bytes(data[pos:end])
    return (ZERO_UUID if raw == _ZERO16 else uuid.UUID(bytes=raw)), end


def _fixed_codec(prim: Primitive) -> tuple[Encoder, Decoder, int]:
    s = struct.Struct(">" + prim.fmt)
    pack, unpack, size = s.pack, s.unpack_from, s.size

    def enc(value: Any, buf: _Buffer) -> None:
        buf += pack(value)

    def dec(data: memoryview, pos: int) -> tuple[Any, int]:
        return unpack(data, pos)[0], pos + size

    return enc, dec, size


# --- arrays ----------------------------------------------------------------------------------


def _array_codec(
    elem: Any, version: int, flexible: bool, nullable: bool
) -> tuple[Encoder, Decoder, int]:
    read_len, write_len = _length_codec(flexible, _read_len32, _writer_len32)
    min_size = 1 if flexible else 4

    def null_or_empty(value: Any, buf: _Buffer) -> bool:
        if value is None:
            if not nullable:
                raise EncodeError("None for a non-nullable array")
            write_len(buf, -1)
            return True
        return False

    def read_count(data: memoryview, pos: int, elem_min: int) -> tuple[int, int]:
        n, pos = read_len(data, pos)
        if n < 0:
            if n == -1 and nullable:
                return -1, pos
            raise _null_violation(pos)
        # Every element takes at least elem_min bytes: reject absurd counts before looping.
        # (Elements that encode to nothing are still counted as one byte, so a garbage count
        # can never make us build billions of empty structs.)
        if n * max(elem_min, 1) > len(data) - pos:
            raise _truncated("array", pos)
        return n, pos

    if isinstance(elem, Primitive) and elem.fmt is not None:
        code = elem.fmt
        width = struct.calcsize(">" + code)

        def enc_fixed(value: Any, buf: _Buffer) -> None:
            if null_or_empty(value, buf):
                return
            n = len(value)
            write_len(buf, n)
            if n:
                buf += struct.pack(f">{n}{code}", *value)

        def dec_fixed(data: memoryview, pos: int) -> tuple[Any, int]:
            n, pos = read_count(data, pos, width)
            if n < 0:
                return None, pos
            return struct.unpack_from(f">{n}{code}", data, pos), pos + n * width

        return enc_fixed, dec_fixed, min_size

    elem_enc, elem_dec, elem_min = _value_codec(elem, version, flexible, nullable=False)

    def enc(value: Any, buf: _Buffer) -> None:
        if null_or_empty(value, buf):
            return
        write_len(buf, len(value))
        for item in value:
            elem_enc(item, buf)

    def dec(data: memoryview, pos: int) -> tuple[Any, int]:
        n, pos = read_count(data, pos, elem_min)
        if n < 0:
            return None, pos
        items = []
        append = items.append
        for _ in range(n):
            item, pos = elem_dec(data, pos)
            append(item)
        return tuple(items), pos

    return enc, dec, min_size


def _value_codec(
    type_: Any, version: int, flexible: bool, nullable: bool
) -> tuple[Encoder, Decoder, int]:
    """(encoder, decoder, minimum encoded size) of one value of ``type_`` at ``version``."""
    if isinstance(type_, Array):
        return _array_codec(type_.elem, version, flexible, nullable)
    if is_struct(type_):
        plan = _struct_plan(type_, version, flexible)
        return plan.encode, plan.decode, plan.min_size
    if type_ is STRING:
        return _string_codec(flexible, nullable)
    if type_.name in ("BYTES", "RECORDS"):
        return _bytes_codec(flexible, nullable, records=type_ is RECORDS)
    if type_ is UUID:
        return _uuid_enc, _uuid_dec, 16
    return _fixed_codec(type_)


# --- structs ---------------------------------------------------------------------------------


@attrs.frozen
class _Plan:
    encode: Encoder
    decode: Decoder
    min_size: int


_PLANS: dict[tuple[type, int, bool], _Plan] = {}


def _is_default_check(spec: FieldSpec) -> Callable[[Any], bool]:
    default = spec.default
    if isinstance(spec.type, Array) and default == ():
        return lambda v: v is not None and len(v) == 0
    if default is None:
        return lambda v: v is None
    # Identity first: untouched fields share the declared default object (cheap for structs).
    return lambda v: v is default or v == default


def _struct_plan(cls: type, version: int, flexible: bool) -> _Plan:
    key = (cls, version, flexible)
    plan = _PLANS.get(key)
    if plan is None:
        plan = _PLANS[key] = _compile_struct(cls, version, flexible)
    return plan


def _compile_struct(cls: type, version: int, flexible: bool) -> _Plan:
    present = [(n, s) for n, s in fields_of(cls) if version in s.versions]
    regular = [(n, s) for n, s in present if s.tag is None]
    # Tagged fields exist only in flexible versions; Kafka's specs never tag a field in a
    # non-flexible version, so outside them such a field is simply absent.
    tagged = sorted(
        ((n, s) for n, s in present if s.tag is not None and flexible),
        key=lambda item: item[1].tag,
    )

    enc_steps: list[Callable[[Any, _Buffer], None]] = []
    dec_steps: list[Callable[[memoryview, int, dict], int]] = []
    step_names: list[str] = []
    min_size = 1 if flexible else 0

    # Group runs of fixed-width scalars into one struct.Struct.
    groups: list[list[tuple[str, FieldSpec]]] = []
    for name, spec in regular:
        fixed = isinstance(spec.type, Primitive) and spec.type.fmt is not None
        if fixed and groups and _is_fixed(groups[-1]):
            groups[-1].append((name, spec))
        else:
            groups.append([(name, spec)])

    for group in groups:
        if _is_fixed(group):
            names = tuple(n for n, _ in group)
            s = struct.Struct(">" + "".join(sp.type.fmt for _, sp in group))
            enc_steps.append(_fixed_group_encoder(names, s))
            dec_steps.append(_fixed_group_decoder(names, s))
            step_names.append(",".join(names))
            min_size += s.size
        else:
            ((name, spec),) = group
            nullable = version in spec.nullable
            enc, dec, size = _value_codec(spec.type, version, flexible, nullable)
            if name == "error_message" and spec.type is STRING:
                enc = _clipping(enc)
            enc_steps.append(_field_encoder(name, enc))
            dec_steps.append(_field_decoder(name, dec))
            step_names.append(name)
            min_size += size

    if flexible:
        enc_steps.append(_tagged_encoder(tagged, version))
        dec_steps.append(_tagged_decoder(tagged, version))
        step_names.append("<tagged fields>")

    def encode(obj: Any, buf: _Buffer) -> None:
        try:
            for step in enc_steps:
                step(obj, buf)
        except (AttributeError, TypeError, ValueError, OverflowError, struct.error) as exc:
            where = _first_failing_step(enc_steps, step_names, obj)
            raise EncodeError(f"{cls.__name__}.{where} (v{version}): {exc}") from exc

    def decode(data: memoryview, pos: int) -> tuple[Any, int]:
        kw: dict[str, Any] = {}
        for step in dec_steps:
            pos = step(data, pos, kw)
        return cls(**kw), pos

    return _Plan(encode, decode, min_size)


def _is_fixed(group: list[tuple[str, FieldSpec]]) -> bool:
    return all(isinstance(s.type, Primitive) and s.type.fmt is not None for _, s in group)


def _first_failing_step(steps: list, names: list[str], obj: Any) -> str:
    # Error path only: rerun the steps one by one on a scratch buffer to name the culprit.
    for step, name in zip(steps, names):
        scratch = _Buffer()
        scratch.parts = []
        try:
            step(obj, scratch)
        except Exception:
            return name
    return "?"


def _fixed_group_encoder(names: tuple[str, ...], s: struct.Struct):
    pack = s.pack
    if len(names) == 1:
        get_one = attrgetter(names[0])

        def enc_one(obj: Any, buf: _Buffer) -> None:
            buf += pack(get_one(obj))

        return enc_one
    get_many = attrgetter(*names)

    def enc_many(obj: Any, buf: _Buffer) -> None:
        buf += pack(*get_many(obj))

    return enc_many


def _fixed_group_decoder(names: tuple[str, ...], s: struct.Struct):
    unpack, size = s.unpack_from, s.size
    if len(names) == 1:
        (name,) = names

        def dec_one(data: memoryview, pos: int, kw: dict) -> int:
            kw[name] = unpack(data, pos)[0]
            return pos + size

        return dec_one

    def dec_many(data: memoryview, pos: int, kw: dict) -> int:
        kw.update(zip(names, unpack(data, pos)))
        return pos + size

    return dec_many


def _field_encoder(name: str, enc: Encoder):
    get = attrgetter(name)

    def step(obj: Any, buf: _Buffer) -> None:
        enc(get(obj), buf)

    return step


def _field_decoder(name: str, dec: Decoder):
    def step(data: memoryview, pos: int, kw: dict) -> int:
        kw[name], pos = dec(data, pos)
        return pos

    return step


def _tagged_encoder(tagged: list[tuple[str, FieldSpec]], version: int):
    if not tagged:

        def no_tags(obj: Any, buf: _Buffer) -> None:
            buf.append(0)

        return no_tags

    fields = []
    for name, spec in tagged:
        enc, _, _ = _value_codec(spec.type, version, True, version in spec.nullable)
        fields.append((spec.tag, attrgetter(name), enc, _is_default_check(spec)))

    def with_tags(obj: Any, buf: _Buffer) -> None:
        out = []
        for tag, get, enc, is_default in fields:
            value = get(obj)
            if not is_default(value):  # Kafka writes a tagged field only when non-default
                tmp = _Buffer()
                tmp.parts = []
                enc(value, tmp)
                out.append((tag, tmp))
        write_uvarint(buf, len(out))
        for tag, tmp in out:
            write_uvarint(buf, tag)
            write_uvarint(buf, len(tmp))
            buf += tmp

    return with_tags


def _tagged_decoder(tagged: list[tuple[str, FieldSpec]], version: int):
    known: dict[int, tuple[str, Decoder]] = {}
    for name, spec in tagged:
        _, dec, _ = _value_codec(spec.type, version, True, version in spec.nullable)
        known[spec.tag] = (name, dec)

    def step(data: memoryview, pos: int, kw: dict) -> int:
        if data[pos] == 0:  # empty section: the usual case
            return pos + 1
        count, pos = read_uvarint(data, pos)
        for _ in range(count):
            tag, pos = read_uvarint(data, pos)
            size, pos = read_uvarint(data, pos)
            end = pos + size
            if end > len(data):
                raise _truncated("tagged field", pos)
            field = known.get(tag)
            if field is not None:
                value, value_end = field[1](data, pos)
                if value_end > end:
                    raise ProtocolViolation(f"tagged field {tag} overruns its size at {pos}")
                kw[field[0]] = value
            pos = end  # unknown tags are skipped by size (KIP-482)
        return pos

    return step


# --- public entry points -----------------------------------------------------------------------


def _message_plan(cls: type, version: int) -> _Plan:
    plan = _PLANS.get((cls, version, None))
    if plan is None:
        if not cls.MIN_VERSION <= version <= cls.MAX_VERSION:
            raise ValueError(
                f"{cls.__name__} has versions {cls.MIN_VERSION}-{cls.MAX_VERSION}, not {version}"
            )
        plan = _PLANS[(cls, version, None)] = _struct_plan(cls, version, cls.is_flexible(version))
    return plan


def encode_parts(msg: Any, version: int) -> list[bytes | FileRegion]:
    """Encode a message body as bytes chunks and file regions, in wire order.

    Adjacent bytes are merged, so the result is ``[bytes]`` unless a RECORDS field holds a
    :class:`FileRegion`.

    Raises:
        ValueError: ``version`` is outside the message's range.
        EncodeError: a field value does not fit its wire type.
    """
    plan = _message_plan(type(msg), version)
    buf = _Buffer()
    parts: list[bytes | FileRegion] = []
    buf.parts = parts
    plan.encode(msg, buf)
    if buf or not parts:
        parts.append(bytes(buf))
    return parts


def encode(msg: Any, version: int) -> bytes:
    """Encode a message body to bytes; file regions are read in with ``os.pread``.

    Meant for tests and clients; the broker sends :func:`encode_parts` output instead.
    """
    parts = encode_parts(msg, version)
    if len(parts) == 1 and isinstance(parts[0], bytes):
        return parts[0]
    out = bytearray()
    for part in parts:
        if isinstance(part, FileRegion):
            chunk = os.pread(part.fd, part.size, part.offset)
            if len(chunk) != part.size:
                raise EncodeError(f"short read from {part}: got {len(chunk)} bytes")
            out += chunk
        else:
            out += part
    return bytes(out)


def decode(cls: type, version: int, data: bytes | bytearray | memoryview, offset: int = 0) -> Any:
    """Decode a ``cls`` body of ``version`` from ``data[offset:]``; trailing bytes are ignored.

    RECORDS fields come back as memoryview slices of ``data`` (writable if ``data`` is).

    Raises:
        ProtocolViolation: the bytes are not a valid body of that version.
        ValueError: ``version`` is outside the message's range (a local bug).
    """
    plan = _message_plan(cls, version)
    view = data if isinstance(data, memoryview) else memoryview(data)
    if view.ndim != 1 or view.format != "B":
        view = view.cast("B")
    try:
        return plan.decode(view, offset)[0]
    except ProtocolViolation:
        raise
    except (IndexError, struct.error, ValueError, OverflowError) as exc:
        # IndexError: a varint ran off the end; struct.error: a fixed field did;
        # ValueError: UnicodeDecodeError on a string.
        raise ProtocolViolation(f"cannot decode {cls.__name__} v{version}: {exc}") from exc
