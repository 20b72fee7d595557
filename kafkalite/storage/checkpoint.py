"""Kafka's small text files of a log dir: offset checkpoints and ``meta.properties``.

Offset checkpoint format (``recovery-point-offset-checkpoint``, ``replication-offset-checkpoint``,
``log-start-offset-checkpoint``, ``cleaner-offset-checkpoint``; Kafka's CheckpointFile)::

    0                      <- format version
    2                      <- number of entries
    my-topic 0 1234        <- topic, partition, offset separated by single spaces
    my-topic 1 99

``meta.properties`` is a Java properties file (Kafka's BrokerMetadataCheckpoint, version 0)::

    #
    #Written by kafkalite
    version=0
    broker.id=1
    cluster.id=5K9xTlH2SjuR0UeQVhDOyA

Every write is atomic and durable: write ``<name>.tmp``, fsync it, rename over the target, fsync
the directory, so a crash leaves either the old or the new file, never a torn one.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

__all__ = ["write_checkpoint", "read_checkpoint", "atomic_write", "CorruptCheckpoint",
           "read_meta_properties", "write_meta_properties", "META_PROPERTIES",
           "RECOVERY_POINT_CHECKPOINT", "LOG_START_OFFSET_CHECKPOINT",
           "REPLICATION_OFFSET_CHECKPOINT", "CLEANER_OFFSET_CHECKPOINT", "CLEAN_SHUTDOWN_FILE"]

RECOVERY_POINT_CHECKPOINT = "recovery-point-offset-checkpoint"
LOG_START_OFFSET_CHECKPOINT = "log-start-offset-checkpoint"
REPLICATION_OFFSET_CHECKPOINT = "replication-offset-checkpoint"
CLEANER_OFFSET_CHECKPOINT = "cleaner-offset-checkpoint"
CLEAN_SHUTDOWN_FILE = ".kafka_cleanshutdown"
META_PROPERTIES = "meta.properties"
_VERSION = 0


class CorruptCheckpoint(ValueError):
    """A checkpoint or properties file does not have Kafka's format."""


def fsync_dir(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def read_small_file(path: Path | str) -> bytes:
    """The whole content of a small file with two syscalls and no file object (loading reads
    several small files per partition: with 10,000 partitions ``Path.read_bytes`` alone costs
    a second)."""
    fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    try:
        chunks = []
        while True:
            chunk = os.read(fd, 1 << 16)
            if not chunk:
                return b"".join(chunks)
            chunks.append(chunk)
    finally:
        os.close(fd)


def atomic_write(path: Path, data: bytes, *, durable: bool = True) -> None:
    """Replace ``path`` by ``data`` atomically and durably (tmp file, fsync, rename, fsync dir).

    ``durable=False`` skips both fsyncs: still atomic for readers and across a process crash
    (the page cache survives it), only a power loss may leave the old file or an empty one.
    For files that loading repairs from the data anyway."""
    path = Path(path)
    tmp = path.with_name(path.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, 0o644)
    try:
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view):]
        if durable:
            os.fsync(fd)
    finally:
        os.close(fd)
    os.replace(tmp, path)
    if durable:
        fsync_dir(path.parent)


def write_checkpoint(path: Path, offsets: Mapping[tuple[str, int], int]) -> None:
    """Write ``{(topic, partition): offset}`` in Kafka's checkpoint format (sorted entries)."""
    lines = [str(_VERSION), str(len(offsets))]
    lines += [f"{topic} {partition} {offset}"
              for (topic, partition), offset in sorted(offsets.items())]
    atomic_write(path, ("\n".join(lines) + "\n").encode())


def read_checkpoint_entries(path: Path, fields: int, *, empty_ok: bool = False
                            ) -> list[list[str]]:
    """The entry lines of a Kafka checkpoint file (``version``, ``count``, then one entry per
    line), each split into ``fields`` words; a missing file (or, with ``empty_ok``, an empty
    one) has none. Shared by every checkpoint kind so they agree on what is corrupt.

    Raises:
        CorruptCheckpoint: unknown version, malformed line or wrong entry count.
    """
    try:
        text = read_small_file(path).decode("utf-8")
    except FileNotFoundError:
        return []
    lines = text.splitlines()
    if not lines and empty_ok:
        return []
    try:
        version = int(lines[0])
        expected = int(lines[1])
    except (IndexError, ValueError):
        raise CorruptCheckpoint(f"Malformed header in checkpoint file {path}") from None
    if version != _VERSION:
        raise CorruptCheckpoint(f"Unrecognized version of the checkpoint file {path}: {version}")
    entries = [line.split() for line in lines[2:] if line.split()]
    for parts in entries:
        if len(parts) != fields:
            raise CorruptCheckpoint(f"Malformed line in checkpoint file {path}: "
                                    f"{' '.join(parts)!r}")
    if len(entries) != expected:
        raise CorruptCheckpoint(f"Expected {expected} entries in checkpoint file {path} but "
                                f"found {len(entries)}")
    return entries


def read_checkpoint(path: Path) -> dict[tuple[str, int], int]:
    """Read a ``{(topic, partition): offset}`` checkpoint file; a missing file is empty.

    Raises:
        CorruptCheckpoint: unknown version, malformed line or wrong entry count.
    """
    offsets: dict[tuple[str, int], int] = {}
    entries = read_checkpoint_entries(path, 3)
    for parts in entries:
        try:
            offsets[(parts[0], int(parts[1]))] = int(parts[2])
        except ValueError:
            raise CorruptCheckpoint(f"Malformed line in checkpoint file {path}: "
                                    f"{' '.join(parts)!r}") from None
    if len(offsets) != len(entries):
        raise CorruptCheckpoint(f"Expected {len(entries)} entries in checkpoint file {path} "
                                f"but found {len(offsets)} distinct ones")
    return offsets


# -- meta.properties ----------------------------------------------------------------------------

_ESCAPES = {"\\": "\\\\", "=": "\\=", ":": "\\:", "#": "\\#", "!": "\\!", "\n": "\\n",
            "\r": "\\r", "\t": "\\t"}
_UNESCAPES = {"n": "\n", "r": "\r", "t": "\t", "f": "\f"}


def _escape(value: str) -> str:
    return "".join(_ESCAPES.get(ch, ch) for ch in value)


def _unescape(value: str) -> str:
    out, chars = [], iter(value)
    for ch in chars:
        if ch == "\\":
            nxt = next(chars, "")
            out.append(_UNESCAPES.get(nxt, nxt))
        else:
            out.append(ch)
    return "".join(out)


def _split_property(line: str) -> tuple[str, str]:
    """Split at the first unescaped '=' or ':' (or whitespace), as java.util.Properties does."""
    i = 0
    while i < len(line):
        ch = line[i]
        if ch == "\\":
            i += 2
            continue
        if ch in "=: \t":
            rest = line[i:].lstrip(" \t")
            if rest[:1] in ("=", ":"):
                rest = rest[1:].lstrip(" \t")
            return _unescape(line[:i]), _unescape(rest)
        i += 1
    return _unescape(line), ""


def read_meta_properties(log_dir: Path) -> dict[str, str] | None:
    """The properties of ``<log_dir>/meta.properties``, or None if the file does not exist."""
    try:
        text = (Path(log_dir) / META_PROPERTIES).read_text(encoding="latin-1")
    except FileNotFoundError:
        return None
    props: dict[str, str] = {}
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line[0] in "#!":
            continue
        key, value = _split_property(line)
        props[key] = value
    return props


def write_meta_properties(log_dir: Path, props: Mapping[str, str]) -> None:
    """Atomically write ``meta.properties`` (comment header, then ``key=value`` lines)."""
    lines = ["#", "#Written by kafkalite"]
    lines += [f"{_escape(k)}={_escape(str(v))}" for k, v in props.items()]
    atomic_write(Path(log_dir) / META_PROPERTIES, ("\n".join(lines) + "\n").encode("latin-1"))
