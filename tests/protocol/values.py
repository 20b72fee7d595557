"""Value generators for registry-driven protocol tests.

Two flavours, both driven by the schema metadata (so every registered message gets coverage
without per-message test code):

* :func:`strategy_for` — a hypothesis strategy of instances valid at one version: only fields
  present at that version get generated values, the rest keep their defaults;
* :func:`full_instance` — a deterministic instance where every present field has a non-default
  value and every array has two elements (exercises every field encoder at once).
"""

from __future__ import annotations

import uuid
from typing import Any

from hypothesis import Phase
from hypothesis import strategies as st

from kafkalite.protocol.api_keys import registered_api_keys, request_class, response_class
from kafkalite.protocol.schema import (
    BOOLEAN,
    BYTES,
    FLOAT64,
    INT8,
    INT16,
    INT32,
    INT64,
    RECORDS,
    STRING,
    UINT16,
    UINT32,
    UUID,
    Array,
    fields_of,
    is_struct,
)

#: Hypothesis phases without "explain": on a failure it imports libcst, whose DeprecationWarning
#: is turned into an error by our filterwarnings=error and hides the real failure.
PHASES = tuple(p for p in Phase if p is not Phase.explain)

_INT_RANGES = {
    INT8: (-(2**7), 2**7 - 1),
    INT16: (-(2**15), 2**15 - 1),
    INT32: (-(2**31), 2**31 - 1),
    INT64: (-(2**63), 2**63 - 1),
    UINT16: (0, 2**16 - 1),
    UINT32: (0, 2**32 - 1),
}

_text = st.text(st.characters(blacklist_categories=("Cs",)), max_size=12)


def all_message_versions() -> list[tuple[type, int]]:
    """Every (message class, version) pair in the registry."""
    out = []
    for key in registered_api_keys():
        for cls in (request_class(key), response_class(key)):
            out.extend((cls, v) for v in range(cls.MIN_VERSION, cls.MAX_VERSION + 1))
    return out


def _value_strategy(type_: Any, version: int, nullable: bool) -> st.SearchStrategy:
    if isinstance(type_, Array):
        inner = st.lists(_value_strategy(type_.elem, version, False), max_size=2).map(tuple)
    elif is_struct(type_):
        inner = strategy_for(type_, version)
    elif type_ in _INT_RANGES:
        lo, hi = _INT_RANGES[type_]
        inner = st.integers(lo, hi)
    elif type_ is BOOLEAN:
        inner = st.booleans()
    elif type_ is FLOAT64:
        inner = st.floats(allow_nan=False)
    elif type_ is UUID:
        inner = st.uuids(version=4) | st.just(uuid.UUID(int=0))
    elif type_ is STRING:
        inner = _text
    elif type_ in (BYTES, RECORDS):
        inner = st.binary(max_size=24)
    else:  # pragma: no cover - a new type object without a strategy
        raise AssertionError(type_)
    return st.none() | inner if nullable else inner


def strategy_for(cls: type, version: int) -> st.SearchStrategy:
    """Instances of ``cls`` whose present-at-``version`` fields hold arbitrary valid values."""
    kwargs = {
        name: _value_strategy(spec.type, version, version in spec.nullable)
        for name, spec in fields_of(cls)
        if version in spec.versions
    }
    return st.builds(cls, **kwargs)


def _full_value(type_: Any, version: int, seed: int) -> Any:
    if isinstance(type_, Array):
        return tuple(_full_value(type_.elem, version, seed + i) for i in range(2))
    if is_struct(type_):
        return full_instance(type_, version, seed)
    if type_ in _INT_RANGES:
        lo, hi = _INT_RANGES[type_]
        return lo + (seed * 7919 + 3) % (hi - lo)
    if type_ is BOOLEAN:
        return True
    if type_ is FLOAT64:
        return seed + 0.5
    if type_ is UUID:
        return uuid.UUID(int=seed * 0x1_0000_0001 + 1)
    if type_ is STRING:
        return f"s{seed}-é"
    return bytes(range(seed % 200, seed % 200 + 5))


def full_instance(cls: type, version: int, seed: int = 1) -> Any:
    """An instance of ``cls`` with a non-default value in every field present at ``version``."""
    kwargs = {}
    for i, (name, spec) in enumerate(fields_of(cls)):
        if version in spec.versions:
            kwargs[name] = _full_value(spec.type, version, seed * 31 + i)
    return cls(**kwargs)
