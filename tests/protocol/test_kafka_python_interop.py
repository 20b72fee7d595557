"""Cross-check our encodings against kafka-python 3.x's own codec (an independent oracle).

kafka-python 3 bundles Kafka 4.x JSON specs and its own schema-driven codec. For every message
class both sides know, at every version both sides support, our bytes must decode with
kafka-python and re-encode to exactly the same bytes — field order, widths, compact forms,
nullability and tagged sections all have to agree for that to hold.
"""

from __future__ import annotations

import importlib
import pkgutil

import attrs
import pytest

from kafkalite.protocol.codec import encode
from kafkalite.protocol.schema import VersionRange

from .values import all_message_versions, full_instance

api_message = pytest.importorskip("kafka.protocol.api_message")


def _kafka_python_classes() -> dict[str, type]:
    import kafka.protocol

    for mod in pkgutil.walk_packages(kafka.protocol.__path__, "kafka.protocol."):
        if any(part in mod.name for part in (".old", ".schemas", "generate")):
            continue
        importlib.import_module(mod.name)

    def subclasses(cls):
        for sub in cls.__subclasses__():
            yield sub
            yield from subclasses(sub)

    return {
        c.__name__: c
        for c in subclasses(api_message.ApiMessage)
        if c.__dict__.get("_class_version") is None and not c.__name__.endswith("_v0")
    }


THEIRS = _kafka_python_classes()
CASES = [
    (cls, v)
    for cls, v in all_message_versions()
    if cls.__name__ in THEIRS
    and v in VersionRange.parse(THEIRS[cls.__name__].json["validVersions"])
]


def _instance(cls: type, version: int, full: bool):
    msg = full_instance(cls, version) if full else cls()
    if cls.__name__ == "ApiVersionsResponse":
        # kafka-python reads any non-zero error as a v0 fallback body (KIP-511), so keep it 0.
        msg = attrs.evolve(msg, error_code=0)
    return msg


def test_only_inter_broker_apis_escape_the_cross_check() -> None:
    # kafka-python (a client) has no schemas for the ZooKeeper-era controller APIs.
    covered = {cls.__name__ for cls, _ in CASES}
    uncovered = {cls.__name__ for cls, _ in all_message_versions()} - covered
    prefixes = ("LeaderAndIsr", "UpdateMetadata", "StopReplica", "ControlledShutdown")
    assert all(name.startswith(prefixes) for name in uncovered), uncovered
    assert len(CASES) >= 300


@pytest.mark.parametrize("full", [True, False], ids=["full", "defaults"])
@pytest.mark.parametrize(("cls", "version"), CASES, ids=[f"{c.__name__}-v{v}" for c, v in CASES])
def test_kafka_python_reencodes_our_bytes_identically(cls: type, version: int, full: bool) -> None:
    raw = encode(_instance(cls, version, full), version)
    theirs = THEIRS[cls.__name__].decode(raw, version=version)
    # Decoded kafka-python objects skip __init__; give them the attributes encode() expects.
    theirs._header = None
    theirs._min_version = theirs._max_version = None
    assert bytes(theirs.encode(version=version)) == raw
