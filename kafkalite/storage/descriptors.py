"""A bound on the file descriptors the logs keep open (least recently used ones are closed).

A broker with 10,000 partitions has at least 10,000 segments, each a ``.log`` plus two index
files. Kafka keeps every segment's channel open and tells operators to raise ``ulimit -n``;
here descriptors are opened on first use and at most :data:`DESCRIPTORS`' ``capacity`` of them
stay open, so an idle partition costs none and a busy broker stays far from the limit (sockets
need descriptors too). The owners are :class:`~kafkalite.storage.segment.LogSegment` (its
``.log``) and the index writers (:mod:`kafkalite.storage.index`); evicting one calls its
``_release_descriptor()``, and its next use opens the file again. A ``.log`` descriptor that a
fetch result still holds (for ``sendfile``) is closed only when that result is gone
(:class:`~kafkalite.storage.segment.FileHandle`), so eviction never pulls a descriptor from
under a reader.

Only the thread that runs the logs (the event loop) opens, uses or releases through the cache;
worker threads (fsync) use descriptors pinned beforehand.
"""

from __future__ import annotations

import resource
from collections import OrderedDict
from typing import Protocol

__all__ = ["DescriptorCache", "DESCRIPTORS", "default_capacity"]


class _Owner(Protocol):
    def _release_descriptor(self) -> None: ...


def default_capacity() -> int:
    """An eighth of the soft ``RLIMIT_NOFILE`` (2,500 at ulimit 20,000), between 64 and 8,192:
    the rest is left to sockets, checkpoints, snapshots and descriptors pinned by fetches."""
    soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft == resource.RLIM_INFINITY:
        soft = 65536
    return max(64, min(8192, soft // 8))


class DescriptorCache:
    """LRU of the owners of open descriptors (see the module docstring)."""

    def __init__(self, capacity: int):
        self.capacity = capacity
        self._lru: OrderedDict[_Owner, None] = OrderedDict()

    def __len__(self) -> int:
        return len(self._lru)

    def opened(self, owner: _Owner) -> None:
        """``owner`` just opened a descriptor: the least recently used ones beyond the
        capacity are released."""
        lru = self._lru
        lru[owner] = None
        lru.move_to_end(owner)
        while len(lru) > self.capacity:
            victim, _ = lru.popitem(last=False)
            victim._release_descriptor()

    def used(self, owner: _Owner) -> None:
        try:
            self._lru.move_to_end(owner)
        except KeyError:
            pass

    def closed(self, owner: _Owner) -> None:
        self._lru.pop(owner, None)


DESCRIPTORS = DescriptorCache(default_capacity())
