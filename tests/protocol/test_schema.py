"""Schema declarations, the registry, and (optionally) agreement with Kafka's JSON specs."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import attrs
import pytest

from kafkalite.protocol.api_keys import (
    ApiKey,
    registered_api_keys,
    request_class,
    response_class,
)
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
    VersionRange,
    fields_of,
    is_struct,
    message,
    wire,
)

# The ranges other packages rely on (brief + wire-protocol.md §8).
EXPECTED_RANGES = {
    ApiKey.PRODUCE: (0, 9, 9),
    ApiKey.FETCH: (0, 12, 12),
    ApiKey.LIST_OFFSETS: (0, 7, 6),
    ApiKey.METADATA: (0, 12, 9),
    ApiKey.LEADER_AND_ISR: (0, 5, 4),
    ApiKey.STOP_REPLICA: (0, 3, 2),
    ApiKey.UPDATE_METADATA: (0, 7, 6),
    ApiKey.CONTROLLED_SHUTDOWN: (0, 3, 3),
    ApiKey.OFFSET_COMMIT: (0, 8, 8),
    ApiKey.OFFSET_FETCH: (0, 8, 6),
    ApiKey.FIND_COORDINATOR: (0, 4, 3),
    ApiKey.JOIN_GROUP: (0, 7, 6),
    ApiKey.HEARTBEAT: (0, 4, 4),
    ApiKey.LEAVE_GROUP: (0, 4, 4),
    ApiKey.SYNC_GROUP: (0, 5, 4),
    ApiKey.DESCRIBE_GROUPS: (0, 5, 5),
    ApiKey.LIST_GROUPS: (0, 4, 3),
    ApiKey.SASL_HANDSHAKE: (0, 1, None),
    ApiKey.API_VERSIONS: (0, 3, 3),
    ApiKey.CREATE_TOPICS: (0, 7, 5),
    ApiKey.DELETE_TOPICS: (0, 6, 4),
    ApiKey.DELETE_RECORDS: (0, 2, 2),
    ApiKey.INIT_PRODUCER_ID: (0, 4, 2),
    ApiKey.OFFSET_FOR_LEADER_EPOCH: (0, 4, 4),
    ApiKey.ADD_PARTITIONS_TO_TXN: (0, 3, 3),
    ApiKey.ADD_OFFSETS_TO_TXN: (0, 3, 3),
    ApiKey.END_TXN: (0, 3, 3),
    ApiKey.WRITE_TXN_MARKERS: (0, 1, 1),
    ApiKey.TXN_OFFSET_COMMIT: (0, 3, 3),
    ApiKey.DESCRIBE_ACLS: (0, 2, 2),
    ApiKey.CREATE_ACLS: (0, 2, 2),
    ApiKey.DELETE_ACLS: (0, 2, 2),
    ApiKey.DESCRIBE_CONFIGS: (0, 4, 4),
    ApiKey.ALTER_CONFIGS: (0, 2, 2),
    ApiKey.DESCRIBE_LOG_DIRS: (0, 2, 2),
    ApiKey.SASL_AUTHENTICATE: (0, 2, 2),
    ApiKey.CREATE_PARTITIONS: (0, 3, 2),
    ApiKey.DELETE_GROUPS: (0, 2, 2),
    ApiKey.ELECT_LEADERS: (0, 2, 2),
    ApiKey.INCREMENTAL_ALTER_CONFIGS: (0, 1, 1),
    ApiKey.ALTER_PARTITION_REASSIGNMENTS: (0, 0, 0),
    ApiKey.LIST_PARTITION_REASSIGNMENTS: (0, 0, 0),
    ApiKey.OFFSET_DELETE: (0, 0, None),
    ApiKey.DESCRIBE_CLUSTER: (0, 1, 0),
    ApiKey.DESCRIBE_PRODUCERS: (0, 0, 0),
    ApiKey.DESCRIBE_TRANSACTIONS: (0, 0, 0),
    ApiKey.LIST_TRANSACTIONS: (0, 0, 0),
    ApiKey.DESCRIBE_USER_SCRAM_CREDENTIALS: (0, 0, 0),
    ApiKey.ALTER_USER_SCRAM_CREDENTIALS: (0, 0, 0),
}


def test_api_key_numbers() -> None:
    assert ApiKey.PRODUCE == 0 and ApiKey.OFFSET_FOR_LEADER_EPOCH == 23
    assert ApiKey.DESCRIBE_CONFIGS == 32 and ApiKey.DESCRIBE_LOG_DIRS == 35
    assert ApiKey.DELETE_GROUPS == 42 and ApiKey.OFFSET_DELETE == 47
    assert ApiKey.DESCRIBE_CLUSTER == 60
    assert list(ApiKey) == sorted(ApiKey) and len(set(ApiKey)) == len(ApiKey)


def test_registry_covers_expected_ranges() -> None:
    assert set(registered_api_keys()) == set(EXPECTED_RANGES)
    for key, (lo, hi, first_flexible) in EXPECTED_RANGES.items():
        for cls, kind in ((request_class(key), "request"), (response_class(key), "response")):
            assert cls.API_KEY == key and cls.KIND == kind
            assert (cls.MIN_VERSION, cls.MAX_VERSION) == (lo, hi), cls.__name__
            flexible = [v for v in range(lo, hi + 1) if cls.is_flexible(v)]
            expected = [] if first_flexible is None else list(range(first_flexible, hi + 1))
            assert flexible == expected, cls.__name__
            expected_name = (
                "".join(w.capitalize() for w in key.name.split("_")) + kind.capitalize()
            )
            assert cls.__name__.lower() == expected_name.lower()


def test_unknown_keys_raise_key_error() -> None:
    with pytest.raises(KeyError):
        request_class(ApiKey.CREATE_DELEGATION_TOKEN)
    with pytest.raises(KeyError):
        response_class(999)


def _structs(cls: type, seen: set) -> None:
    if cls in seen:
        return
    seen.add(cls)
    for _, spec in fields_of(cls):
        inner = spec.type.elem if isinstance(spec.type, Array) else spec.type
        if is_struct(inner):
            _structs(inner, seen)


def test_every_class_builds_with_defaults_and_is_frozen() -> None:
    seen: set = set()
    for key in registered_api_keys():
        _structs(request_class(key), seen)
        _structs(response_class(key), seen)
    for cls in seen:
        instance = cls()
        with pytest.raises(attrs.exceptions.FrozenInstanceError):
            (
                setattr(instance, attrs.fields(cls)[0].name, 1)
                if attrs.fields(cls)
                else (_ for _ in ()).throw(attrs.exceptions.FrozenInstanceError())
            )


def test_version_ranges() -> None:
    assert 5 in VersionRange.parse("3+") and 2 not in VersionRange.parse("3+")
    assert 7 in VersionRange.parse("3-7") and 8 not in VersionRange.parse("3-7")
    assert 4 in VersionRange.parse("4") and 5 not in VersionRange.parse("4")
    assert VersionRange.parse("none").empty and 0 not in VersionRange.parse("none")
    assert [str(VersionRange.parse(s)) for s in ("0+", "3-7", "4", "none")] == [
        "0+",
        "3-7",
        "4",
        "none",
    ]


def test_implicit_defaults() -> None:
    @attrs.frozen(kw_only=True)
    class Sample:
        a: int = wire(INT32)
        b: str = wire(STRING)
        c: str | None = wire(STRING, versions="2+", nullable="2+")
        d: str = wire(STRING, nullable="3+")
        e: tuple = wire(Array(INT32))
        f: bool = wire(BOOLEAN, default=True)
        g: object = wire(UUID)

    s = Sample()
    assert (s.a, s.b, s.c, s.d, s.e, s.f) == (0, "", None, "", (), True)
    assert s.g.int == 0


def test_bad_declarations() -> None:
    with pytest.raises(TypeError):
        wire(INT32, nullable="0+")
    with pytest.raises(TypeError):
        wire(int)
    with pytest.raises(TypeError):
        wire(Array(str))
    with pytest.raises(ValueError):
        message(api_key=12, kind="request", versions="0+")
    with pytest.raises(ValueError):
        message(api_key=12, kind="neither", versions="0-1")


def test_duplicate_registration_is_refused() -> None:
    with pytest.raises(RuntimeError):

        @message(api_key=ApiKey.HEARTBEAT, kind="request", versions="0-4", flexible="4+")
        @attrs.frozen(kw_only=True)
        class AnotherHeartbeatRequest:
            group_id: str = wire(STRING)

    assert request_class(ApiKey.HEARTBEAT).__name__ == "HeartbeatRequest"


# --- agreement with Kafka's JSON message specs (style rule 2) ----------------------------------
#
# Set KAFKA_SPEC_DIR to an apache/kafka checkout (or its common/message directory) to check every
# field name, type, version range, nullability, tag and explicit default against upstream.

_SPEC_ENV = os.environ.get("KAFKA_SPEC_DIR")
_TYPES = {
    "int8": INT8,
    "int16": INT16,
    "int32": INT32,
    "int64": INT64,
    "uint16": UINT16,
    "uint32": UINT32,
    "float64": FLOAT64,
    "bool": BOOLEAN,
    "string": STRING,
    "bytes": BYTES,
    "records": RECORDS,
    "uuid": UUID,
}


def _spec_dir() -> Path:
    root = Path(_SPEC_ENV)
    nested = root / "clients/src/main/resources/common/message"
    return nested if nested.is_dir() else root


def _load(name: str) -> dict:
    text = (_spec_dir() / f"{name}.json").read_text()
    return json.loads(re.sub(r"^\s*//.*$", "", text, flags=re.M))


def _snake(name: str) -> str:
    name = name.replace("KRaft", "Kraft")
    return re.sub(r"(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])", "_", name).lower()


def _versions(text: str | None, top: int) -> set[int]:
    if not text:
        return set()
    r = VersionRange.parse(text)
    return {v for v in range(top + 1) if v in r}


def _json_default(kind: str, raw):
    if raw == "null":
        return None
    if kind == "bool":
        return raw in ("true", True)
    if kind.startswith(("int", "uint")):
        return int(raw, 0) if isinstance(raw, str) else int(raw)
    return raw


def _compare(cls: type, fields: list, top: int, common: dict, path: str, problems: list) -> None:
    ours = dict(fields_of(cls))
    for f in fields:
        present = _versions(f["versions"], top)
        name = _snake(f["name"])
        where = f"{path}.{name}"
        if not present:
            if name in ours and _versions(str(ours[name].versions), top):
                problems.append(f"{where}: declared but upstream has no version <= {top}")
            ours.pop(name, None)
            continue
        spec = ours.pop(name, None)
        if spec is None:
            problems.append(f"{where}: missing")
            continue
        if {v for v in range(top + 1) if v in spec.versions} != present:
            problems.append(f"{where}: versions {spec.versions} != {f['versions']}")
        nullable = present & _versions(f.get("nullableVersions"), top)
        if {v for v in present if v in spec.nullable} != nullable:
            problems.append(f"{where}: nullable {spec.nullable} != {f.get('nullableVersions')}")
        tagged = present & _versions(f.get("taggedVersions"), top)
        if (spec.tag if tagged else None) != (f.get("tag") if tagged else None):
            problems.append(f"{where}: tag {spec.tag} != {f.get('tag')}")
        kind = f["type"]
        is_array = kind.startswith("[]")
        base = kind[2:] if is_array else kind
        if base in _TYPES:
            expected = Array(_TYPES[base]) if is_array else _TYPES[base]
            if spec.type != expected:
                problems.append(f"{where}: type {spec.type!r} != {kind}")
            if (
                "default" in f
                and not is_array
                and spec.default != _json_default(base, f["default"])
            ):
                problems.append(f"{where}: default {spec.default!r} != {f['default']!r}")
        else:
            inner = spec.type.elem if isinstance(spec.type, Array) else spec.type
            if isinstance(spec.type, Array) != is_array or not is_struct(inner):
                problems.append(f"{where}: type {spec.type!r} != {kind}")
                continue
            _compare(inner, f.get("fields") or common[base], top, common, where, problems)
    for name in ours:
        problems.append(f"{path}.{name}: not in upstream spec")


@pytest.mark.skipif(not _SPEC_ENV, reason="KAFKA_SPEC_DIR not set")
@pytest.mark.parametrize("key", sorted(EXPECTED_RANGES), ids=lambda k: k.name)
def test_schemas_match_kafka_json_specs(key: ApiKey) -> None:
    problems: list[str] = []
    for cls in (request_class(key), response_class(key)):
        spec = _load(cls.__name__)
        assert spec["apiKey"] == key
        top = cls.MAX_VERSION
        assert top in VersionRange.parse(spec["validVersions"])
        assert {v for v in range(top + 1) if cls.is_flexible(v)} == _versions(
            spec["flexibleVersions"], top
        )
        common = {c["name"]: c["fields"] for c in spec.get("commonStructs", [])}
        _compare(cls, spec["fields"], top, common, cls.__name__, problems)
    assert not problems, "\n".join(problems)
