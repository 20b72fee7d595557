"""Records of ``__consumer_offsets``: Kafka's binary key/value schemas, byte for byte.

Every record of the offsets topic has a non-null key whose first int16 is the *key version*,
which says what the record is about (so compaction never merges two kinds of record that
happen to share field values); the value starts with its own int16 *value version*. A null
value is a tombstone: the offset or the group was deleted. Strings are int16-length UTF-8,
bytes int32-length, big-endian throughout (Kafka's classic, non-flexible ``Struct`` encoding).

Key version 0 or 1 — an offset commit (both versions share the schema; Kafka 2.x writes 1)::

    int16 version | string group | string topic | int32 partition

  value (OffsetCommitValue; we write v3, read v0–v3)::

    v0: int16 0 | int64 offset | string metadata | int64 commit_timestamp
    v1: int16 1 | int64 offset | string metadata | int64 commit_timestamp | int64 expire_timestamp
    v2: int16 2 | int64 offset | string metadata | int64 commit_timestamp
    v3: int16 3 | int64 offset | int32 leader_epoch | string metadata | int64 commit_timestamp

Key version 2 — group metadata::

    int16 2 | string group

  value (GroupMetadataValue; we write v3, read v0–v3)::

    int16 version | string protocol_type | int32 generation | nullable string protocol
    | nullable string leader | int64 current_state_timestamp (v2+)
    | int32 n, then n members:
        string member_id | nullable string group_instance_id (v3+) | string client_id
        | string client_host | int32 rebalance_timeout (v1+) | int32 session_timeout
        | bytes subscription | bytes assignment

Which partition holds a group: :func:`partition_for` — Java's ``String.hashCode`` of the group
id, masked positive, modulo ``offsets.topic.num.partitions``.
"""

from __future__ import annotations

import struct

import attrs

__all__ = ["OffsetKey", "GroupMetadataKey", "OffsetValue", "GroupMetadataValue",
           "MemberMetadataValue", "encode_key", "decode_key", "encode_offset_value",
           "encode_offset_commit", "decode_offset_value", "encode_group_value",
           "decode_group_value", "java_string_hash", "partition_for", "SchemaError"]

_I16 = struct.Struct(">h")
_I32 = struct.Struct(">i")
_I64 = struct.Struct(">q")

OFFSET_KEY_VERSION = 1
GROUP_KEY_VERSION = 2
OFFSET_VALUE_VERSION = 3
GROUP_VALUE_VERSION = 3


class SchemaError(ValueError):
    """A record of the offsets topic that does not parse (unknown version, truncated)."""


# -- values --------------------------------------------------------------------------------


@attrs.frozen
class OffsetKey:
    group: str
    topic: str
    partition: int


@attrs.frozen
class GroupMetadataKey:
    group: str


@attrs.frozen(kw_only=True)
class OffsetValue:
    offset: int
    metadata: str = ""
    commit_timestamp: int = -1
    leader_epoch: int = -1
    expire_timestamp: int | None = None  # only in v1 records (explicit retention, pre-2.1)


@attrs.frozen(kw_only=True)
class MemberMetadataValue:
    member_id: str
    group_instance_id: str | None = None
    client_id: str = ""
    client_host: str = ""
    rebalance_timeout: int = -1
    session_timeout: int = -1
    subscription: bytes = b""
    assignment: bytes = b""


@attrs.frozen(kw_only=True)
class GroupMetadataValue:
    protocol_type: str
    generation: int
    protocol: str | None
    leader: str | None
    current_state_timestamp: int = -1
    members: tuple[MemberMetadataValue, ...] = ()


# -- primitive writers / reader ------------------------------------------------------------


def _str(s: str) -> bytes:
    data = s.encode("utf-8")
    return _I16.pack(len(data)) + data


def _nstr(s: str | None) -> bytes:
    return _I16.pack(-1) if s is None else _str(s)


def _bytes(b: bytes) -> bytes:
    return _I32.pack(len(b)) + bytes(b)


class _Reader:
    def __init__(self, data):
        self.data = bytes(data)
        self.pos = 0

    def _take(self, n: int) -> bytes:
        if n < 0 or self.pos + n > len(self.data):
            raise SchemaError(f"record truncated at byte {self.pos} (wanted {n} more)")
        out = self.data[self.pos:self.pos + n]
        self.pos += n
        return out

    def i16(self) -> int:
        return _I16.unpack(self._take(2))[0]

    def i32(self) -> int:
        return _I32.unpack(self._take(4))[0]

    def i64(self) -> int:
        return _I64.unpack(self._take(8))[0]

    def nstr(self) -> str | None:
        n = self.i16()
        if n < 0:
            return None
        try:
            return self._take(n).decode("utf-8")
        except UnicodeDecodeError as e:
            raise SchemaError(f"invalid UTF-8 string: {e}") from None

    def str(self) -> str:
        s = self.nstr()
        if s is None:
            raise SchemaError("null where a string is required")
        return s

    def bytes(self) -> bytes:
        n = self.i32()
        return b"" if n < 0 else self._take(n)


# -- keys ----------------------------------------------------------------------------------


def encode_key(key: OffsetKey | GroupMetadataKey) -> bytes:
    """Key bytes: offset keys as version 1, group keys as version 2."""
    if isinstance(key, OffsetKey):
        return (_I16.pack(OFFSET_KEY_VERSION) + _str(key.group) + _str(key.topic)
                + _I32.pack(key.partition))
    return _I16.pack(GROUP_KEY_VERSION) + _str(key.group)


def decode_key(data) -> OffsetKey | GroupMetadataKey:
    """Parse a record key.

    Raises:
        SchemaError: an unknown key version or a malformed key.
    """
    r = _Reader(data)
    version = r.i16()
    if version in (0, 1):
        return OffsetKey(r.str(), r.str(), r.i32())
    if version == 2:
        return GroupMetadataKey(r.str())
    raise SchemaError(f"unknown key version {version} in the offsets topic")


# -- offset values -------------------------------------------------------------------------


def encode_offset_value(v: OffsetValue) -> bytes:
    """Value v3, or v1 when the commit carried an explicit expire timestamp."""
    return encode_offset_commit(v.offset, v.leader_epoch, v.metadata, v.commit_timestamp,
                                v.expire_timestamp)


_V3_HEAD = struct.Struct(">hqih")   # version, offset, leader epoch, metadata length
_V3_EMPTY = struct.Struct(">hqihq")  # ... with empty metadata, then the commit timestamp


def encode_offset_commit(offset: int, leader_epoch: int, metadata: str, commit_timestamp: int,
                         expire_timestamp: int | None = None) -> bytes:
    """:func:`encode_offset_value` without building an :class:`OffsetValue` (every commit
    encodes one value per partition; empty metadata, the usual case, is one ``pack``)."""
    if expire_timestamp is not None:
        return (_I16.pack(1) + _I64.pack(offset) + _str(metadata)
                + _I64.pack(commit_timestamp) + _I64.pack(expire_timestamp))
    if not metadata:
        return _V3_EMPTY.pack(OFFSET_VALUE_VERSION, offset, leader_epoch, 0, commit_timestamp)
    data = metadata.encode("utf-8")
    return (_V3_HEAD.pack(OFFSET_VALUE_VERSION, offset, leader_epoch, len(data)) + data
            + _I64.pack(commit_timestamp))


def decode_offset_value(data) -> OffsetValue | None:
    """Parse an offset commit value; None for a tombstone (``data`` None)."""
    if data is None:
        return None
    r = _Reader(data)
    version = r.i16()
    if version in (0, 2):
        return OffsetValue(offset=r.i64(), metadata=r.str(), commit_timestamp=r.i64())
    if version == 1:
        return OffsetValue(offset=r.i64(), metadata=r.str(), commit_timestamp=r.i64(),
                           expire_timestamp=r.i64())
    if version == 3:
        offset = r.i64()
        epoch = r.i32()
        return OffsetValue(offset=offset, leader_epoch=epoch, metadata=r.str(),
                           commit_timestamp=r.i64())
    raise SchemaError(f"unknown offset commit value version {version}")


# -- group values --------------------------------------------------------------------------


def encode_group_value(v: GroupMetadataValue) -> bytes:
    """Value v3 (static membership: members carry their group instance id)."""
    parts = [_I16.pack(GROUP_VALUE_VERSION), _str(v.protocol_type), _I32.pack(v.generation),
             _nstr(v.protocol), _nstr(v.leader), _I64.pack(v.current_state_timestamp),
             _I32.pack(len(v.members))]
    for m in v.members:
        parts += [_str(m.member_id), _nstr(m.group_instance_id), _str(m.client_id),
                  _str(m.client_host), _I32.pack(m.rebalance_timeout),
                  _I32.pack(m.session_timeout), _bytes(m.subscription), _bytes(m.assignment)]
    return b"".join(parts)


def decode_group_value(data) -> GroupMetadataValue | None:
    """Parse a group metadata value (v0–v3); None for a tombstone."""
    if data is None:
        return None
    r = _Reader(data)
    version = r.i16()
    if not 0 <= version <= 3:
        raise SchemaError(f"unknown group metadata value version {version}")
    protocol_type = r.str()
    generation = r.i32()
    protocol = r.nstr()
    leader = r.nstr()
    state_ts = r.i64() if version >= 2 else -1
    members = []
    for _ in range(r.i32()):
        member_id = r.str()
        instance_id = r.nstr() if version >= 3 else None
        client_id = r.str()
        client_host = r.str()
        rebalance_timeout = r.i32() if version >= 1 else -1
        session_timeout = r.i32()
        if version == 0:
            rebalance_timeout = session_timeout
        members.append(MemberMetadataValue(
            member_id=member_id, group_instance_id=instance_id, client_id=client_id,
            client_host=client_host, rebalance_timeout=rebalance_timeout,
            session_timeout=session_timeout, subscription=r.bytes(), assignment=r.bytes()))
    return GroupMetadataValue(protocol_type=protocol_type, generation=generation,
                              protocol=protocol, leader=leader,
                              current_state_timestamp=state_ts, members=tuple(members))


# -- placement -----------------------------------------------------------------------------


def java_string_hash(s: str) -> int:
    """Java's ``String.hashCode``: ``s[0]*31^(n-1) + ... + s[n-1]`` over UTF-16 code units,
    as a signed 32-bit int."""
    h = 0
    data = s.encode("utf-16-be")
    for i in range(0, len(data), 2):
        h = (31 * h + ((data[i] << 8) | data[i + 1])) & 0xFFFFFFFF
    return h - (1 << 32) if h & 0x80000000 else h


def partition_for(group_id: str, num_partitions: int) -> int:
    """The ``__consumer_offsets`` partition (and so the coordinator) of a group."""
    return (java_string_hash(group_id) & 0x7FFFFFFF) % num_partitions
