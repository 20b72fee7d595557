"""Declarative message schemas: one attrs class per message, versions on the fields.

A Kafka message is described once, for all of its versions, the way Kafka's JSON message specs
do it (style rule 2). Each attribute is declared with :func:`wire`, which records

* the wire type (:data:`INT32`, :data:`STRING`, ``Array(INT32)``, ``Array(SomeStruct)``, a struct
  class, ...),
* ``versions``: the versions in which the field is on the wire; in other versions it is neither
  written nor read and the attribute keeps its default,
* ``nullable``: the versions in which null (``None``) may be sent,
* ``tag``: in flexible versions the field lives in the struct's TAGGED_FIELDS section under that
  number and is written only when it differs from its default (what Kafka does; librdkafka < 2.2
  chokes on unexpected tagged bytes, wire-protocol.md §3).

:func:`message` marks a top-level request or response, names its API key and version ranges, and
registers it. Nested structs are plain ``@attrs.frozen(kw_only=True)`` classes whose attributes all
use :func:`wire`. The codec (``codec.py``) compiles these declarations into per-version plans;
nothing here runs per message on the hot path.

Version strings: ``"0+"``, ``"3-7"``, ``"4"``, ``"none"``.

Defaults: when ``default`` is omitted the field gets Kafka's implicit default for its type: 0,
False, "", empty tuple, the all-zero UUID, a default-constructed struct — or None when the field
is nullable from its first version on. So every message can be built with only the arguments
that matter, as with Kafka's generated Java classes.
"""

from __future__ import annotations

import uuid
from typing import Any

import attrs

from kafkalite.protocol.api_keys import ApiKey, register

__all__ = [
    "BOOLEAN",
    "INT8",
    "INT16",
    "INT32",
    "INT64",
    "UINT16",
    "UINT32",
    "FLOAT64",
    "UUID",
    "STRING",
    "BYTES",
    "RECORDS",
    "Array",
    "Primitive",
    "VersionRange",
    "FieldSpec",
    "wire",
    "message",
    "fields_of",
    "is_struct",
    "ZERO_UUID",
]

ZERO_UUID = uuid.UUID(int=0)


@attrs.frozen
class Primitive:
    """A scalar wire type. ``fmt`` is its ``struct`` code when it has a fixed width."""

    name: str
    fmt: str | None
    zero: Any
    nullable_ok: bool = False

    def __repr__(self) -> str:
        return self.name


BOOLEAN = Primitive("BOOLEAN", "?", False)
INT8 = Primitive("INT8", "b", 0)
INT16 = Primitive("INT16", "h", 0)
INT32 = Primitive("INT32", "i", 0)
INT64 = Primitive("INT64", "q", 0)
UINT16 = Primitive("UINT16", "H", 0)
UINT32 = Primitive("UINT32", "I", 0)
FLOAT64 = Primitive("FLOAT64", "d", 0.0)
UUID = Primitive("UUID", None, ZERO_UUID)
#: int16-length (compact in flexible versions) UTF-8 string.
STRING = Primitive("STRING", None, "", nullable_ok=True)
#: int32-length (compact in flexible versions) opaque bytes; decoded as ``bytes``.
BYTES = Primitive("BYTES", None, b"", nullable_ok=True)
#: Record batches / message sets: like BYTES on the wire, but decoded zero-copy as a memoryview
#: slice of the frame, and encoded from bytes-likes or file regions (see codec.FileRegion).
RECORDS = Primitive("RECORDS", None, None, nullable_ok=True)


@attrs.frozen
class Array:
    """Array of a primitive or of a struct class (compact in flexible versions)."""

    elem: Any

    def __repr__(self) -> str:
        return f"Array({getattr(self.elem, '__name__', self.elem)!r})"


@attrs.frozen
class VersionRange:
    """Inclusive range of versions; ``hi`` None means open-ended; ``lo > hi`` means empty."""

    lo: int
    hi: int | None

    @classmethod
    def parse(cls, text: str) -> VersionRange:
        """Parse ``"0+"``, ``"3-7"``, ``"4"`` or ``"none"``."""
        text = text.strip()
        if text == "none":
            return cls(1, 0)
        if text.endswith("+"):
            return cls(int(text[:-1]), None)
        if "-" in text:
            lo, hi = text.split("-")
            return cls(int(lo), int(hi))
        return cls(int(text), int(text))

    def __contains__(self, version: int) -> bool:
        return self.lo <= version and (self.hi is None or version <= self.hi)

    @property
    def empty(self) -> bool:
        return self.hi is not None and self.lo > self.hi

    def __str__(self) -> str:
        if self.empty:
            return "none"
        if self.hi is None:
            return f"{self.lo}+"
        return f"{self.lo}" if self.lo == self.hi else f"{self.lo}-{self.hi}"


_NEVER = VersionRange(1, 0)
_META_KEY = "kafkalite.wire"


@attrs.frozen
class FieldSpec:
    """Wire facts of one attribute, as given to :func:`wire`."""

    type: Any
    versions: VersionRange
    nullable: VersionRange
    tag: int | None
    default: Any


def is_struct(type_: Any) -> bool:
    """True for a struct class (an attrs class), False for type objects."""
    return isinstance(type_, type) and attrs.has(type_)


def _implicit_default(type_: Any, versions: VersionRange, nullable: VersionRange) -> Any:
    if not nullable.empty and versions.lo in nullable:
        return None
    if isinstance(type_, Array):
        return ()
    if isinstance(type_, Primitive):
        return type_.zero
    # A struct: its all-defaults instance (every struct field has a default).
    return type_()


def wire(
    type_: Any,
    *,
    versions: str = "0+",
    nullable: str | None = None,
    tag: int | None = None,
    default: Any = attrs.NOTHING,
) -> Any:
    """Declare one field of a message or struct.

    Args:
        type_: a type object (``INT32``, ``STRING``, ``Array(...)`` ...) or a struct class.
        versions: versions in which the field is on the wire.
        nullable: versions in which it may be null (strings, bytes, records, arrays only).
        tag: tagged-field number; the field then only travels in the TAGGED_FIELDS section of
            flexible versions, and only when it differs from ``default``.
        default: value in versions without the field; Kafka's implicit default if omitted.

    Returns:
        An ``attrs.field`` carrying a :class:`FieldSpec` in its metadata.
    """
    if not (isinstance(type_, (Primitive, Array)) or is_struct(type_)):
        raise TypeError(f"not a wire type: {type_!r}")
    if isinstance(type_, Array) and not (
        isinstance(type_.elem, Primitive) or is_struct(type_.elem)
    ):
        raise TypeError(f"bad array element type: {type_.elem!r}")
    version_range = VersionRange.parse(versions)
    nullable_range = VersionRange.parse(nullable) if nullable else _NEVER
    if not nullable_range.empty and not (
        isinstance(type_, Array) or (isinstance(type_, Primitive) and type_.nullable_ok)
    ):
        raise TypeError(f"{type_!r} cannot be nullable")
    if default is attrs.NOTHING:
        default = _implicit_default(type_, version_range, nullable_range)
    spec = FieldSpec(type_, version_range, nullable_range, tag, default)
    return attrs.field(default=default, metadata={_META_KEY: spec})


def fields_of(cls: type) -> list[tuple[str, FieldSpec]]:
    """``(attribute name, FieldSpec)`` of a struct or message class, in wire order."""
    cached = cls.__dict__.get("_kafkalite_fields")
    if cached is not None:
        return cached
    out = []
    for f in attrs.fields(cls):
        spec = f.metadata.get(_META_KEY)
        if spec is None:
            raise TypeError(f"{cls.__name__}.{f.name} is not declared with wire()")
        out.append((f.name, spec))
    tags = [s.tag for _, s in out if s.tag is not None]
    if len(tags) != len(set(tags)):
        raise TypeError(f"{cls.__name__}: duplicate tag numbers {tags}")
    # Cached on the class itself; slotted attrs classes still accept class attributes.
    type.__setattr__(cls, "_kafkalite_fields", out)
    return out


def _check_struct_tree(cls: type) -> None:
    for _, spec in fields_of(cls):
        inner = spec.type.elem if isinstance(spec.type, Array) else spec.type
        if is_struct(inner):
            _check_struct_tree(inner)


def message(*, api_key: int, kind: str, versions: str, flexible: str = "none"):
    """Class decorator (on top of ``@attrs.frozen(kw_only=True)``) for a request or response.

    Adds ``API_KEY``, ``KIND``, ``MIN_VERSION``, ``MAX_VERSION``, ``FLEXIBLE_VERSIONS`` and the
    ``is_flexible(version)`` classmethod, then registers the class (api_keys.register).

    Raises:
        TypeError: the class is not an attrs class or a field is not declared with wire().
    """
    if kind not in ("request", "response"):
        raise ValueError(f"kind must be 'request' or 'response', not {kind!r}")
    version_range = VersionRange.parse(versions)
    if version_range.hi is None or version_range.empty:
        raise ValueError(f"message versions must be a closed range, not {versions!r}")
    flexible_range = VersionRange.parse(flexible)

    def decorate(cls: type) -> type:
        if not attrs.has(cls):
            raise TypeError(f"@message goes on top of @attrs.frozen: {cls.__name__}")
        _check_struct_tree(cls)
        cls.API_KEY = ApiKey(api_key)
        cls.KIND = kind
        cls.MIN_VERSION = version_range.lo
        cls.MAX_VERSION = version_range.hi
        cls.FLEXIBLE_VERSIONS = flexible_range
        cls.is_flexible = classmethod(_is_flexible)
        register(cls)
        return cls

    return decorate


def _is_flexible(cls: type, version: int) -> bool:
    """Whether ``version`` uses compact encodings and tagged fields (KIP-482)."""
    return version in cls.FLEXIBLE_VERSIONS
