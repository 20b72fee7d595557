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

__all__ = ["FileRegion", "EncodeError", "Encoded", "encode", "encode_parts", "encode_frame",
           "decode", "encode_values", "value_layout", "slot_builder",
           "generated_decoder"]

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


def _clip(value: str | None) -> str | None:
    """Error messages are informational and often quote what a client sent (a topic name, a
    config value, up to 32767 bytes each): one too long for a STRING is cut short instead of
    making the whole response unencodable."""
    if value is not None and len(value) > _MAX_STRING_BYTES // 4:
        raw = value.encode("utf-8")
        if len(raw) > _MAX_STRING_BYTES:
            value = raw[:_MAX_STRING_BYTES - 3].decode("utf-8", "ignore") + "..."
    return value


def _clipping(enc: Encoder) -> Encoder:
    def clip(value: str | None, buf: _Buffer) -> None:
        enc(_clip(value), buf)

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


# --- generated fast paths ----------------------------------------------------------------------
# The plans above interpret: one closure call per field, a kwargs dict per struct. For the hot
# messages that overhead was most of a small request's codec time, so each (struct, version) is
# also compiled to straight-line Python source (with ``compile``/``exec``, from the same
# FieldSpecs, once): fixed runs are one ``unpack_from``/``pack``, strings, bytes, records and
# array counts are inlined, nested structs call their own generated functions, and the class is
# built with keyword arguments. Rare field kinds (UUIDs, tagged fields, records given as file
# regions) call the interpreted closures. The schemas stay the single source of truth and the
# two paths must agree byte for byte (tests/protocol/test_codegen.py checks every message and
# version). The generated functions only handle success: on any exception the public entry
# points rerun the interpreted plan, which raises the precise EncodeError / ProtocolViolation.


class _Source:
    """Lines of one generated function plus the names its body refers to."""

    def __init__(self, namespace: dict[str, Any]):
        self.lines: list[str] = []
        self.ns = namespace
        # The expression reading a field of ``obj``: an attribute, or an item of a tuple.
        self.get: Callable[[str], str] = lambda name: f"obj.{name}"

    def add(self, indent: int, line: str) -> None:
        self.lines.append("    " * indent + line)

    def name(self, prefix: str, value: Any) -> str:
        key = f"{prefix}{len(self.ns)}"
        self.ns[key] = value
        return key


_FAST: dict[tuple[type, int, bool, bool], tuple[Encoder, Decoder]] = {}
_FAST_COMMON = {
    "_u16": _I16.unpack_from, "_u32": _I32.unpack_from, "_p16": _I16.pack, "_p32": _I32.pack,
    "_read_uvarint": read_uvarint, "_write_uvarint": write_uvarint, "_memoryview": memoryview,
    "_truncated": _truncated, "_null_violation": _null_violation, "_EncodeError": EncodeError,
    "_unpack_from": struct.unpack_from, "_pack": struct.pack, "_clip": _clip,
    "_new": object.__new__,
}


def _slot_setters(cls: type) -> dict[str, tuple[Callable[[Any, Any], None], Any]] | None:
    """For each field of the attrs class ``cls``: its slot's setter and its default; None
    when objects of ``cls`` cannot be built without ``__init__``.

    A frozen attrs ``__init__`` sets each field through ``object.__setattr__``, more than half
    of the cost of a small decoded struct; ``object.__new__`` plus the slots' own setters
    builds the same object. Only for plain classes: slotted, no validators, converters or
    init hooks, no slots but the fields', and a default for every field."""
    if not attrs.has(cls) or "__slots__" not in cls.__dict__ or \
            hasattr(cls, "__attrs_post_init__") or hasattr(cls, "__attrs_pre_init__"):
        return None
    fields = attrs.fields(cls)
    slots = set()
    for klass in cls.__mro__:
        slots.update(klass.__dict__.get("__slots__", ()))
    if slots - {"__weakref__"} != {f.name for f in fields}:
        return None
    out = {}
    for f in fields:
        member = cls.__dict__.get(f.name)
        if f.validator is not None or f.converter is not None or not f.init or \
                type(member).__name__ != "member_descriptor" or \
                (isinstance(f.default, attrs.Factory) and f.default.takes_self):
            return None
        out[f.name] = (member.__set__, f.default)
    return out


def slot_builder(cls: type) -> Callable[..., Any]:
    """A function building a ``cls`` from its fields' values in declaration order, faster
    than ``cls(...)`` for a frozen attrs class (see :func:`_slot_setters`; the class itself
    when that does not apply). For the per-request objects of the socket server."""
    setters = _slot_setters(cls)
    if setters is None:
        return cls
    names = list(setters)
    ns: dict[str, Any] = {"_new": object.__new__, "_cls": cls}
    lines = [f"def build({', '.join(f'a{i}' for i in range(len(names)))}):", "    o = _new(_cls)"]
    for i, name in enumerate(names):
        ns[f"_s{i}"] = setters[name][0]
        lines.append(f"    _s{i}(o, a{i})")
    lines.append("    return o")
    exec(compile("\n".join(lines) + "\n", f"<kafkalite build {cls.__name__}>", "exec"), ns)
    return ns["build"]


def _fast_struct(cls: type, version: int, flexible: bool,
                 values: bool = False) -> tuple[Encoder, Decoder]:
    """The generated (encoder, decoder) of a struct version; with ``values`` the encoder takes
    the struct as a tuple of its fields' values instead (see :func:`encode_values`)."""
    key = (cls, version, flexible, values)
    fast = _FAST.get(key)
    if fast is None:
        fast = _FAST[key] = _generate(cls, version, flexible, values)
    return fast


def _emit_read_len(src: _Source, ind: int, flexible: bool, width: int) -> None:
    """``n`` = the length at ``pos`` (-1 for null), ``pos`` moved past it."""
    if flexible:
        # Lengths below 16384 (one or two varint bytes) inline; longer ones by the reader.
        src.add(ind, "n = data[pos]")
        src.add(ind, "if n < 0x80:")
        src.add(ind + 1, "pos += 1")
        src.add(ind, "elif data[pos + 1] < 0x80:")
        src.add(ind + 1, "n = (n & 0x7F) | (data[pos + 1] << 7)")
        src.add(ind + 1, "pos += 2")
        src.add(ind, "else:")
        src.add(ind + 1, "n, pos = _read_uvarint(data, pos)")
        src.add(ind, "n -= 1")
    elif width == 2:
        src.add(ind, "n = _u16(data, pos)[0]")
        src.add(ind, "pos += 2")
    else:
        src.add(ind, "n = _u32(data, pos)[0]")
        src.add(ind, "pos += 4")


def _emit_write_len(src: _Source, ind: int, flexible: bool, width: int, expr: str) -> None:
    if flexible:
        src.add(ind, f"n = {expr} + 1")
        src.add(ind, "if n < 0x80:")
        src.add(ind + 1, "buf.append(n)")
        src.add(ind, "else:")
        src.add(ind + 1, "_write_uvarint(buf, n)")
    else:
        src.add(ind, f"buf += _p{8 * width}({expr})")


def _emit_null(src: _Source, ind: int, flexible: bool, width: int, nullable: bool,
               what: str) -> None:
    """Encoder lines for a None value: -1 length, or the interpreted path's error."""
    if not nullable:
        src.add(ind, f"raise _EncodeError('None for {what}')")
    elif flexible:
        src.add(ind, "buf.append(0)")
    else:
        minus_one = b"\xff" * width
        src.add(ind, f"buf += {minus_one!r}")


def _generate(cls: type, version: int, flexible: bool,
              values: bool = False) -> tuple[Encoder, Decoder]:
    every = fields_of(cls)
    present = [(n, s) for n, s in every if version in s.versions]
    regular = [(n, s) for n, s in present if s.tag is None]
    tagged = sorted(((n, s) for n, s in present if s.tag is not None and flexible),
                    key=lambda item: item[1].tag)
    ns: dict[str, Any] = dict(_FAST_COMMON)
    enc = _Source(ns)
    dec = _Source(ns)
    enc.add(0, "def enc(obj, buf):")
    enc.add(1, "pass")
    delegated = False
    if values:
        position = {n: i for i, (n, _) in enumerate(every)}
        enc.get = lambda name: f"obj[{position[name]}]"
        if tagged:
            delegated = True
            # Rare (no hot response has tagged fields): the object encoder, on the object.
            obj_enc = _fast_struct(cls, version, flexible)[0]
            enc.add(1, f"{enc.name('_oe', obj_enc)}({enc.name('_obj', _from_values)}"
                       f"({enc.name('_cls', cls)}, obj), buf)")
            regular = tagged = []

    dec.add(0, "def dec(data, pos):")
    args: list[str] = []

    groups: list[list[tuple[str, FieldSpec]]] = []
    for name, spec in regular:
        fixed = isinstance(spec.type, Primitive) and spec.type.fmt is not None
        if fixed and groups and _is_fixed(groups[-1]):
            groups[-1].append((name, spec))
        else:
            groups.append([(name, spec)])

    for group in groups:
        if _is_fixed(group):
            s = struct.Struct(">" + "".join(sp.type.fmt for _, sp in group))
            locals_ = [f"f{len(args) + i}" for i in range(len(group))]
            pack, unpack = enc.name("_pk", s.pack), dec.name("_up", s.unpack_from)
            enc.add(1, f"buf += {pack}({', '.join(enc.get(n) for n, _ in group)})")
            if len(group) == 1:
                dec.add(1, f"{locals_[0]} = {unpack}(data, pos)[0]")
            else:
                dec.add(1, f"{', '.join(locals_)} = {unpack}(data, pos)")
            dec.add(1, f"pos += {s.size}")
            args += [f"{n}={v}" for (n, _), v in zip(group, locals_)]
            continue
        ((name, spec),) = group
        var = f"f{len(args)}"
        args.append(f"{name}={var}")
        _emit_field(enc, dec, name, spec, var, version, flexible, values)

    if flexible:
        if delegated:
            pass   # the object encoder above wrote the whole struct
        elif tagged:
            step = dec.name("_tagdec", _tagged_decoder(tagged, version))
            dec.add(1, "tkw = {}")
            dec.add(1, "if data[pos] == 0:")
            dec.add(2, "pos += 1")
            dec.add(1, "else:")
            dec.add(2, f"pos = {step}(data, pos, tkw)")
            args.append("**tkw")
            enc.add(1, f"{enc.name('_tagenc', _tagged_encoder(tagged, version))}(obj, buf)")
        else:
            step = dec.name("_tagskip", _tagged_decoder([], version))
            dec.add(1, "if data[pos] == 0:")
            dec.add(2, "pos += 1")
            dec.add(1, "else:")
            dec.add(2, f"pos = {step}(data, pos, {{}})")
            enc.add(1, "buf.append(0)")
    setters = None if flexible and tagged else _slot_setters(cls)
    given = dict(arg.split("=") for arg in args if "=" in arg)
    if setters is not None and any(d is attrs.NOTHING for n, (_, d) in setters.items()
                                   if n not in given):
        setters = None
    if setters is None:
        dec.add(1, f"return {dec.name('_cls', cls)}({', '.join(args)}), pos")
    else:
        # The object built without its __init__ (see _slot_setters); absent fields get
        # their defaults, as __init__ would give them.
        dec.add(1, f"o = _new({dec.name('_cls', cls)})")
        for name, (setter, default) in setters.items():
            if name in given:
                value = given[name]
            elif isinstance(default, attrs.Factory):
                value = f"{dec.name('_fac', default.factory)}()"
            else:
                value = dec.name("_def", default)
            dec.add(1, f"{dec.name('_set', setter)}(o, {value})")
        dec.add(1, "return o, pos")

    source = "\n".join(enc.lines + dec.lines) + "\n"
    code = compile(source, f"<kafkalite codec {cls.__name__} v{version}>", "exec")
    exec(code, ns)  # noqa: S102 - our own source, generated from the schemas above
    return ns["enc"], ns["dec"]


def _emit_field(enc: _Source, dec: _Source, name: str, spec: FieldSpec, var: str,
                version: int, flexible: bool, values: bool = False) -> None:
    type_ = spec.type
    get = enc.get(name)
    nullable = version in spec.nullable
    if type_ is STRING or (isinstance(type_, Primitive) and type_.name == "BYTES"):
        is_string = type_ is STRING
        width = 2 if is_string else 4
        enc.add(1, f"v = {get}")
        if is_string and name == "error_message":
            enc.add(1, "v = _clip(v)")
        enc.add(1, "if v is None:")
        _emit_null(enc, 2, flexible, width, nullable,
                   "a non-nullable string" if is_string else "non-nullable bytes")
        enc.add(1, "else:")
        if is_string:
            enc.add(2, "v = v.encode('utf-8')")
            _emit_write_len(enc, 2, flexible, width, "len(v)")
        else:
            enc.add(2, "if v.__class__ is _memoryview:")
            _emit_write_len(enc, 3, flexible, width, "v.nbytes")
            enc.add(2, "else:")
            _emit_write_len(enc, 3, flexible, width, "len(v)")
        enc.add(2, "buf += v")
        _emit_read_len(dec, 1, flexible, width)
        _emit_null_read(dec, nullable, var)
        dec.add(1, "else:")
        dec.add(2, "end = pos + n")
        dec.add(2, "if end > len(data):")
        dec.add(3, f"raise _truncated({'string' if is_string else 'bytes'!r}, pos)")
        dec.add(2, f"{var} = " + ("str(data[pos:end], 'utf-8')" if is_string
                                   else "bytes(data[pos:end])"))
        dec.add(2, "pos = end")
        return
    if type_ is RECORDS:
        genc, _, _ = _bytes_codec(flexible, nullable, records=True)
        enc.add(1, f"{enc.name('_rec', genc)}({get}, buf)")
        _emit_read_len(dec, 1, flexible, 4)
        _emit_null_read(dec, nullable, var)
        dec.add(1, "else:")
        dec.add(2, "end = pos + n")
        dec.add(2, "if end > len(data):")
        dec.add(3, "raise _truncated('bytes', pos)")
        dec.add(2, f"{var} = data[pos:end]")
        dec.add(2, "pos = end")
        return
    if is_struct(type_):
        fenc, fdec = _fast_struct(type_, version, flexible)
        if values:
            fenc = _fast_struct(type_, version, flexible, values)[0]
        enc.add(1, f"{enc.name('_se', fenc)}({get}, buf)")
        dec.add(1, f"{var}, pos = {dec.name('_sd', fdec)}(data, pos)")
        return
    if isinstance(type_, Array):
        _emit_array(enc, dec, name, type_.elem, var, version, flexible, nullable, values)
        return
    # UUID and anything else rare: the interpreted codec.
    genc, gdec, _ = _value_codec(type_, version, flexible, nullable)
    enc.add(1, f"{enc.name('_ge', genc)}({get}, buf)")
    dec.add(1, f"{var}, pos = {dec.name('_gd', gdec)}(data, pos)")


def _emit_null_read(dec: _Source, nullable: bool, var: str) -> None:
    if nullable:
        dec.add(1, "if n == -1:")
        dec.add(2, f"{var} = None")
        dec.add(1, "elif n < 0:")
    else:
        dec.add(1, "if n < 0:")
    dec.add(2, "raise _null_violation(pos)")


def _emit_array(enc: _Source, dec: _Source, name: str, elem: Any, var: str, version: int,
                flexible: bool, nullable: bool, values: bool = False) -> None:
    enc.add(1, f"v = {enc.get(name)}")
    enc.add(1, "if v is None:")
    _emit_null(enc, 2, flexible, 4, nullable, "a non-nullable array")
    enc.add(1, "else:")
    _emit_write_len(enc, 2, flexible, 4, "len(v)")
    _emit_read_len(dec, 1, flexible, 4)
    _emit_null_read(dec, nullable, var)
    dec.add(1, "else:")
    if isinstance(elem, Primitive) and elem.fmt is not None:
        code = elem.fmt
        width = struct.calcsize(">" + code)
        enc.add(2, "if v:")
        enc.add(3, f"buf += _pack(f'>{{len(v)}}{code}', *v)")
        dec.add(2, f"if n * {max(width, 1)} > len(data) - pos:")
        dec.add(3, "raise _truncated('array', pos)")
        dec.add(2, f"{var} = _unpack_from(f'>{{n}}{code}', data, pos)")
        dec.add(2, f"pos += n * {width}")
        return
    if is_struct(elem):
        eenc, edec = _fast_struct(elem, version, flexible)
        if values:
            eenc = _fast_struct(elem, version, flexible, values)[0]
        elem_min = _struct_plan(elem, version, flexible).min_size
    else:
        eenc, edec, elem_min = _value_codec(elem, version, flexible, nullable=False)
    e, d = enc.name("_ae", eenc), dec.name("_ad", edec)
    enc.add(2, "for item in v:")
    enc.add(3, f"{e}(item, buf)")
    dec.add(2, f"if n * {max(elem_min, 1)} > len(data) - pos:")
    dec.add(3, "raise _truncated('array', pos)")
    dec.add(2, "items = []")
    dec.add(2, "append = items.append")
    dec.add(2, "for _ in range(n):")
    dec.add(3, f"item, pos = {d}(data, pos)")
    dec.add(3, "append(item)")
    dec.add(2, f"{var} = tuple(items)")


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


_MESSAGE_FAST: dict[tuple[type, int], tuple[Encoder, Decoder]] = {}


def _message_fast(cls: type, version: int) -> tuple[Encoder, Decoder]:
    """The generated (encoder, decoder) of a message version; validates the version once."""
    fast = _MESSAGE_FAST.get((cls, version))
    if fast is None:
        _message_plan(cls, version)
        fast = _MESSAGE_FAST[(cls, version)] = _fast_struct(cls, version,
                                                             cls.is_flexible(version))
    return fast


def _encode_into(msg: Any, version: int, prefix: bytes) -> _Buffer:
    if type(msg) is Encoded:
        msg = msg.message
    fast = _MESSAGE_FAST.get((type(msg), version)) or _message_fast(type(msg), version)
    buf = _Buffer(prefix)
    buf.parts = []
    try:
        fast[0](msg, buf)
    except Exception:
        # Let the interpreted plan say what is wrong (it raises EncodeError naming the field).
        buf = _Buffer(prefix)
        buf.parts = []
        _message_plan(type(msg), version).encode(msg, buf)
    return buf


def encode_parts(msg: Any, version: int) -> list[bytes | FileRegion]:
    """Encode a message body as bytes chunks and file regions, in wire order.

    Adjacent bytes are merged, so the result is ``[bytes]`` unless a RECORDS field holds a
    :class:`FileRegion`.

    Raises:
        ValueError: ``version`` is outside the message's range.
        EncodeError: a field value does not fit its wire type.
    """
    buf = _encode_into(msg, version, b"")
    parts = buf.parts
    if buf or not parts:
        parts.append(bytes(buf))
    return parts


class Encoded:
    """A message together with its body encoded once for one version.

    A handler returns one to answer many requests with the same bytes (a cached Metadata
    response), or one built by :func:`encode_values` (no message objects at all):
    :func:`encode_frame` then only prepends the size and header. Reading an attribute reads
    the message's (decoded from the body when there is no message object yet), so code and
    tests that look at responses see no difference. The message must not hold file regions.
    """

    __slots__ = ("_message", "cls", "version", "body")

    def __init__(self, message: Any, version: int):
        parts = encode_parts(message, version)
        if len(parts) != 1 or isinstance(parts[0], FileRegion):
            raise EncodeError("only messages without file regions can be pre-encoded")
        self._message = message
        self.cls = type(message)
        self.version = version
        self.body = parts[0]

    @classmethod
    def _of_body(cls, message_cls: type, version: int, body: bytes) -> "Encoded":
        self = object.__new__(cls)
        self._message = None
        self.cls = message_cls
        self.version = version
        self.body = body
        return self

    @property
    def message(self) -> Any:
        if self._message is None:
            self._message = decode(self.cls, self.version, self.body)
        return self._message

    # what the socket server asks of every response, without decoding it
    @property
    def KIND(self) -> str:  # noqa: N802 - the message classes' attribute
        return self.cls.KIND

    @property
    def API_KEY(self) -> int:  # noqa: N802
        return self.cls.API_KEY

    def __getattr__(self, name: str) -> Any:
        return getattr(self.message, name)

    def __eq__(self, other: Any) -> bool:
        return self.message == (other.message if isinstance(other, Encoded) else other)

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"Encoded({self.message!r}, v{self.version})"


def encode_values(cls: type, version: int, values: tuple) -> Encoded:
    """A message of class ``cls`` given as plain values, encoded by the generated encoder.

    ``values`` holds the message's fields in declaration order (every field, also those not
    on the wire in ``version``); a struct field is such a tuple of its own fields, an array of
    structs a sequence of them. The hot path builds tuples instead of attrs objects (one
    response object per partition was a visible share of a one-record produce); the bytes are
    the same as :func:`encode_parts` gives for the equal object (tests/protocol/test_codegen.py).
    Check the layout once with :func:`value_layout`.

    Raises:
        ValueError: ``version`` is outside the message's range.
        EncodeError: a value does not fit its wire type.
    """
    fast = _MESSAGE_VALUES.get((cls, version))
    if fast is None:
        _message_plan(cls, version)
        fast = _MESSAGE_VALUES[(cls, version)] = _fast_struct(
            cls, version, cls.is_flexible(version), values=True)[0]
    buf = _Buffer()
    buf.parts = []
    try:
        fast(values, buf)
    except Exception:
        # the object path names the field that does not fit (EncodeError)
        return Encoded(_from_values(cls, values), version)
    if buf.parts:
        raise EncodeError("only messages without file regions can be pre-encoded")
    return Encoded._of_body(cls, version, bytes(buf))


_MESSAGE_VALUES: dict[tuple[type, int], Encoder] = {}


def value_layout(cls: type, *names: str) -> None:
    """Check that ``names`` are ``cls``'s fields in declaration order (the tuple layout
    :func:`encode_values` reads); a module building such tuples calls this at import, so a
    schema change cannot silently shift values into other fields.

    Raises:
        TypeError: the fields differ.
    """
    actual = tuple(n for n, _ in fields_of(cls))
    if actual != names:
        raise TypeError(f"{cls.__name__} fields are {actual}, not {names}")


def _from_values(cls: type, values: tuple) -> Any:
    """The attrs object of a struct given as values (see :func:`encode_values`)."""
    kwargs = {}
    for (name, spec), value in zip(fields_of(cls), values, strict=True):
        type_ = spec.type
        if value is not None and is_struct(type_):
            value = _from_values(type_, value)
        elif value is not None and isinstance(type_, Array) and is_struct(type_.elem):
            value = tuple(_from_values(type_.elem, v) for v in value)
        kwargs[name] = value
    return cls(**kwargs)


def encode_frame(msg: Any, version: int, header: bytes) -> list[bytes | FileRegion]:
    """A whole frame: ``int32 size`` + ``header`` + the encoded body, as parts to send.

    The size is patched in after encoding, so a small response is one ``bytes`` built in one
    buffer (no second copy to prepend the header).

    Raises:
        ValueError, EncodeError: as :func:`encode_parts`.
    """
    if type(msg) is Encoded:
        if msg.version == version:
            body = msg.body
            return [_I32.pack(len(header) + len(body)) + header + body]
        msg = msg.message
    buf = _encode_into(msg, version, bytes(4) + header)
    parts = buf.parts
    if not parts:
        buf[0:4] = _I32.pack(len(buf) - 4)
        return [bytes(buf)]
    if buf:
        parts.append(bytes(buf))
    size = sum(p.size if isinstance(p, FileRegion) else len(p) for p in parts) - 4
    first = parts[0]
    if isinstance(first, FileRegion):   # cannot happen: the prefix is bytes before any region
        raise AssertionError("frame starts with a file region")
    parts[0] = _I32.pack(size) + first[4:]
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
    fast = _MESSAGE_FAST.get((cls, version)) or _message_fast(cls, version)
    view = data if isinstance(data, memoryview) else memoryview(data)
    if view.ndim != 1 or view.format != "B":
        view = view.cast("B")
    try:
        return fast[1](view, offset)[0]
    except Exception:
        pass  # malformed: the interpreted plan below raises the precise ProtocolViolation
    return _decode_interpreted(cls, version, view, offset)


def generated_decoder(cls: type, version: int) -> Callable[[memoryview, int], tuple[Any, int]]:
    """The generated decoder of a message version alone, for a caller that decodes many
    bodies of one kind: ``(body, end) = dec(view, offset)`` for a byte memoryview. It only
    handles valid input: on any exception, :func:`decode` the same bytes for the precise
    ProtocolViolation.

    Raises:
        ValueError: ``version`` is outside the message's range.
    """
    return _message_fast(cls, version)[1]


def _decode_interpreted(cls: type, version: int, view: memoryview, offset: int) -> Any:
    plan = _message_plan(cls, version)
    try:
        return plan.decode(view, offset)[0]
    except ProtocolViolation:
        raise
    except (IndexError, struct.error, ValueError, OverflowError) as exc:
        # IndexError: a varint ran off the end; struct.error: a fixed field did;
        # ValueError: UnicodeDecodeError on a string.
        raise ProtocolViolation(f"cannot decode {cls.__name__} v{version}: {exc}") from exc


def _encode_interpreted(msg: Any, version: int) -> bytes:
    """The interpreted plan's bytes (no generated code): the reference the tests compare to."""
    buf = _Buffer()
    buf.parts = []
    _message_plan(type(msg), version).encode(msg, buf)
    if buf or not buf.parts:
        buf.parts.append(bytes(buf))
    return buf.parts
